/* mend eval: argument parsing and dispatch to the per-component runners. */
#include "cli/cli.h"
#include "dev.h"
#include "eval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

float *eval_input_f32(const mend_tf *in, const char *name, int ndim, int64_t *shape)
{
    const mend_tf_tensor *t = mend_tf_find(in, name);
    if (!t) {
        cli_errorf("%s: input tensor '%s' is missing", in->path, name);
        return NULL;
    }
    if (t->ndim != ndim || !mend_dtype_is_float(t->dtype)) {
        cli_errorf("%s: input tensor '%s' must be a %d-dimensional float tensor", in->path, name, ndim);
        return NULL;
    }
    for (int i = 0; i < ndim; i++) {
        if (t->shape[i] <= 0 || t->shape[i] > (1 << 20)) {
            cli_errorf("%s: input tensor '%s' has an unusable shape", in->path, name);
            return NULL;
        }
        shape[i] = t->shape[i];
    }
    mend_err err = {0};
    float *buf = malloc((size_t)mend_tf_numel(t) * sizeof *buf);
    if (!buf) {
        cli_errorf("out of memory reading '%s'", name);
        return NULL;
    }
    if (mend_tf_read_f32(in, t, buf, &err) != MEND_OK) {
        free(buf);
        cli_error(&err);
        return NULL;
    }
    return buf;
}

int eval_finish(const eval_args *a, mend_st_writer *w)
{
    mend_err err = {0};
    mend_status s = mend_st_writer_write(w, a->out, &err);
    mend_st_writer_free(w);
    return s == MEND_OK ? 0 : cli_error(&err);
}

int eval_finish_after(const eval_args *a, mend_st_writer *w, mend_status s, const mend_err *err)
{
    if (s == MEND_OK)
        return eval_finish(a, w);
    mend_st_writer_free(w);
    return cli_error(err);
}

static const struct {
    const char *name;
    int (*run)(const eval_args *);
} components[] = {
    {"tokenize", eval_tokenize},         {"text-encoder", eval_text_encoder}, {"unet", eval_unet},
    {"vae-encode", eval_vae_encode},     {"vae-decode", eval_vae_decode},     {"taesd-encode", eval_taesd_encode},
    {"taesd-decode", eval_taesd_decode},
};

int cmd_eval(int argc, char **argv)
{
    cli_opt opts[] = {{"model", 1, NULL}, {"vocab", 1, NULL}, {"in", 1, NULL},       {"out", 1, NULL},
                      {"prompts", 1, NULL}, {"threads", 1, NULL}, {"clip-skip", 1, NULL}};
    const int nopts = (int)(sizeof opts / sizeof *opts);
    const char *pos[1];
    int npos, threads, clip_skip;
    if (cli_parse(argc, argv, opts, nopts, pos, 1, &npos))
        return 2;
    if (npos != 1)
        return cli_errorf("eval: name a component (tokenize, text-encoder, unet, vae-encode, vae-decode, "
                          "taesd-encode, taesd-decode)"),
               2;
    if (!cli_get_int(opts, nopts, "threads", 0, 0, 256, &threads) ||
        !cli_get_int(opts, nopts, "clip-skip", 2, 1, 12, &clip_skip))
        return 2;
    eval_args a = {pos[0],
                   cli_get(opts, nopts, "model"),
                   cli_get(opts, nopts, "vocab"),
                   cli_get(opts, nopts, "in"),
                   cli_get(opts, nopts, "out"),
                   cli_get(opts, nopts, "prompts"),
                   clip_skip};
    mend_set_threads(threads);
    for (size_t i = 0; i < sizeof components / sizeof *components; i++) {
        if (strcmp(a.component, components[i].name) != 0)
            continue;
        if (!a.out)
            return cli_errorf("eval %s: --out OUT.safetensors is required", a.component), 2;
        if (!a.in && !(a.prompts && !strcmp(a.component, "tokenize")))
            return cli_errorf("eval %s: --in IN.safetensors is required", a.component), 2;
        if (!a.model && strcmp(a.component, "tokenize") != 0)
            return cli_errorf("eval %s: --model PATH is required", a.component), 2;
        return components[i].run(&a);
    }
    return cli_errorf("eval: unknown component '%s'", a.component), 2;
}
