/* mend eval taesd-encode / taesd-decode: TAESD on a reference file.
 *   taesd-encode: every "PREFIX/image01" [N,3,H,W] in [0,1] -> "PREFIX/latent"
 *   taesd-decode: every "PREFIX/latent" [N,4,h,w] -> "PREFIX/decoded01"
 *                 (raw decoder output, not clamped, as the reference)
 * --model is the weights file for that direction, or a folder holding
 * taesd_encoder*.safetensors / taesd_decoder*.safetensors (or .pth). */
#include "cli/cli.h"
#include "eval.h"
#include "mend/preview.h"
#include "model/taesd.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* Runs one direction over every input tensor named PREFIX/<from>. */
static int run_all(const eval_args *a, const mend_taesd *t, const mend_tf *in, int encode)
{
    const char *from = encode ? "/image01" : "/latent", *to = encode ? "/latent" : "/decoded01";
    mend_st_writer *w = mend_st_writer_new();
    mend_err err = {0};
    if (!w)
        return cli_errorf("out of memory");
    int done = 0;
    for (int i = 0; i < in->count; i++) {
        const char *name = in->tensors[i].name;
        if (!has_suffix(name, from))
            continue;
        int64_t s[4];
        float *x = eval_input_f32(in, name, 4, s);
        if (!x) {
            mend_st_writer_free(w);
            return 1;
        }
        int N = (int)s[0], h = (int)s[2], wd = (int)s[3];
        int64_t os[4] = {N, encode ? 4 : 3, encode ? h / 8 : h * 8, encode ? wd / 8 : wd * 8};
        float *y = malloc((size_t)(os[0] * os[1] * os[2] * os[3]) * sizeof *y);
        mend_status st = y ? MEND_OK : mend_fail(&err, MEND_E_NOMEM, "out of memory");
        if (st == MEND_OK && s[1] != (encode ? 3 : 4))
            st = mend_fail(&err, MEND_E_ARG, "%s: '%s' has %lld channels, expected %d", in->path, name,
                           (long long)s[1], encode ? 3 : 4);
        if (st == MEND_OK)
            st = encode ? mend_taesd_encode(t, x, N, h, wd, y, &err) : mend_taesd_decode(t, x, N, h, wd, y, &err);
        char out_name[512];
        snprintf(out_name, sizeof out_name, "%.*s%s", (int)(strlen(name) - strlen(from)), name, to);
        if (st == MEND_OK)
            st = mend_st_writer_add(w, out_name, MEND_DT_F32, 4, os, y, 1, &err);
        else
            free(y);
        free(x);
        if (st != MEND_OK) {
            mend_st_writer_free(w);
            return cli_error(&err);
        }
        done++;
    }
    if (!done) {
        mend_st_writer_free(w);
        return cli_errorf("%s: no input tensor named '*%s'", in->path, from);
    }
    return eval_finish(a, w);
}

static int eval_taesd(const eval_args *a, int encode)
{
    char path[4096];
    mend_err err = {0};
    if (mend_taesd_weights_path(a->model, encode ? "taesd_encoder" : "taesd_decoder", path, sizeof path, &err))
        return cli_error(&err);
    mend_tf *weights = NULL, *in = NULL;
    mend_taesd *t = NULL;
    int rc = 1;
    if (mend_tf_open(path, &weights, &err) != MEND_OK ||
        mend_taesd_load(encode ? weights : NULL, encode ? NULL : weights, &t, &err) != MEND_OK ||
        mend_tf_open(a->in, &in, &err) != MEND_OK)
        rc = cli_error(&err);
    else
        rc = run_all(a, t, in, encode);
    mend_tf_close(in);
    mend_taesd_free(t);
    mend_tf_close(weights);
    return rc;
}

int eval_taesd_encode(const eval_args *a) { return eval_taesd(a, 1); }
int eval_taesd_decode(const eval_args *a) { return eval_taesd(a, 0); }
