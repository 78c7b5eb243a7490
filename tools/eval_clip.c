/* mend eval tokenize / text-encoder: the CLIP tokenizer and text encoder on
 * the inputs of a reference file (or a prompts text file), outputs under the
 * reference's tensor names. */
#include "cli/cli.h"
#include "eval.h"
#include "model/sd_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct prompt_list {
    char **text;
    int count;
    const char *source; /* for messages */
    int from_lines;     /* a text file: prompt i is line i + 1 */
    char *storage; /* owns the strings */
} prompt_list;

static void prompts_free(prompt_list *p)
{
    free(p->text);
    free(p->storage);
    memset(p, 0, sizeof *p);
}

static int prompts_alloc(prompt_list *p, int count, size_t bytes)
{
    p->text = calloc((size_t)(count > 0 ? count : 1), sizeof *p->text);
    p->storage = malloc(bytes + 1);
    p->count = count;
    return p->text && p->storage ? 1 : (cli_errorf("out of memory reading prompts"), 0);
}

/* One prompt per line; a final line break does not start another prompt. */
static int prompts_from_text(const char *path, prompt_list *p)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return cli_errorf("%s: cannot open prompts file", path), 0;
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n + 4096 > cap) {
            char *nb = realloc(buf, cap = 2 * cap + 8192);
            if (!nb) {
                free(buf);
                fclose(f);
                return cli_errorf("out of memory reading %s", path), 0;
            }
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
    } while (got > 0);
    int read_error = ferror(f);
    fclose(f);
    if (read_error) {
        free(buf);
        return cli_errorf("%s: read error", path), 0;
    }
    buf[n] = '\0';
    if (memchr(buf, '\0', n)) {
        free(buf);
        return cli_errorf("%s: prompts file contains NUL bytes", path), 0;
    }
    int lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += buf[i] == '\n';
    lines += n > 0 && buf[n - 1] != '\n';
    p->storage = buf;
    p->count = lines;
    p->source = path;
    p->from_lines = 1;
    if (!(p->text = calloc((size_t)(lines > 0 ? lines : 1), sizeof *p->text)))
        return cli_errorf("out of memory reading %s", path), 0;
    char *s = buf;
    for (int i = 0; i < lines; i++) {
        char *eol = strchr(s, '\n');
        if (eol)
            *eol = '\0';
        p->text[i] = s;
        s = eol ? eol + 1 : s + strlen(s);
    }
    return 1;
}

/* prompts_utf8 (U8 bytes) split by prompts_offsets (N+1 ints). */
static int prompts_from_tensors(const mend_tf *in, prompt_list *p)
{
    const mend_tf_tensor *bytes = mend_tf_find(in, "prompts_utf8");
    const mend_tf_tensor *offs_t = mend_tf_find(in, "prompts_offsets");
    if (!bytes || !offs_t || bytes->ndim != 1 || offs_t->ndim != 1 || offs_t->shape[0] < 1 ||
        (bytes->dtype != MEND_DT_U8 && bytes->dtype != MEND_DT_I8))
        return cli_errorf("%s: needs prompts_utf8 (uint8 [bytes]) and prompts_offsets (int [N+1])", in->path), 0;
    int32_t *offs = NULL;
    mend_err err = {0};
    if (mend_tf_load_i32(in, "prompts_offsets", offs_t->shape[0], &offs, &err) != MEND_OK)
        return cli_error(&err), 0;
    int count = (int)offs_t->shape[0] - 1;
    int ok = prompts_alloc(p, count, bytes->nbytes + (size_t)count);
    p->source = in->path;
    char *dst = p->storage;
    for (int i = 0; ok && i < count; i++) {
        if (offs[i] < 0 || offs[i + 1] < offs[i] || (size_t)offs[i + 1] > bytes->nbytes) {
            ok = !cli_errorf("%s: prompts_offsets[%d..%d] = %d..%d is outside prompts_utf8", in->path, i, i + 1,
                             offs[i], offs[i + 1]);
            break;
        }
        size_t len = (size_t)(offs[i + 1] - offs[i]);
        memcpy(dst, bytes->data + offs[i], len);
        dst[len] = '\0';
        if (strlen(dst) != len)
            ok = !cli_errorf("%s: prompt %d contains a NUL byte", in->path, i);
        p->text[i] = dst;
        dst += len + 1;
    }
    free(offs);
    if (!ok)
        prompts_free(p);
    return ok;
}

static int load_tokenizer(const eval_args *a, mend_tokenizer **tok, mend_sd_model **model)
{
    mend_err err = {0};
    if (a->vocab)
        return mend_tokenizer_load(a->vocab, tok, &err) == MEND_OK ? 1 : (cli_error(&err), 0);
    if (!a->model)
        return cli_errorf("eval tokenize: give --vocab PATH, or --model PATH with a tokenizer/ folder"), 0;
    if (mend_sd_load(a->model, NULL, MEND_COMP_TOKENIZER, model, &err) != MEND_OK)
        return cli_error(&err), 0;
    *tok = (*model)->tokenizer;
    return 1;
}

/* Hands the three outputs to the writer (which owns them from here, also
 * when adding fails). */
static int add_token_outputs(mend_st_writer *w, int count, int32_t *ids77, int32_t *offs, int32_t *flat,
                             size_t nflat)
{
    mend_err err = {0};
    mend_status s[3];
    s[0] = mend_st_writer_add(w, "ids77", MEND_DT_I32, 2, (int64_t[]){count, MEND_CLIP_CTX}, ids77, 1, &err);
    s[1] = mend_st_writer_add(w, "ids_hf_offsets", MEND_DT_I32, 1, (int64_t[]){count + 1}, offs, 1, &err);
    s[2] = mend_st_writer_add(w, "ids_hf_flat", MEND_DT_I32, 1, (int64_t[]){(int64_t)nflat}, flat, 1, &err);
    if (s[0] != MEND_OK || s[1] != MEND_OK || s[2] != MEND_OK) {
        cli_error(&err);
        return 0;
    }
    return 1;
}

/* Tokenizes every prompt into ids77 [N,77] and the unframed ids as a flat
 * list with offsets (the reference's layout). */
static int tokenize_all(const mend_tokenizer *tok, const prompt_list *p, mend_st_writer *w)
{
    int32_t *ids77 = malloc((size_t)(p->count > 0 ? p->count : 1) * MEND_CLIP_CTX * sizeof *ids77);
    int32_t *offs = malloc((size_t)(p->count + 1) * sizeof *offs);
    int32_t *flat = NULL;
    size_t nflat = 0;
    mend_err err = {0};
    mend_status s = ids77 && offs ? MEND_OK : mend_fail(&err, MEND_E_NOMEM, "out of memory");
    for (int i = 0; s == MEND_OK && i < p->count; i++) {
        int32_t *ids = NULL;
        int n = 0;
        s = mend_tokenize(tok, p->text[i], &ids, &n, &err);
        if (s == MEND_OK)
            s = mend_tokenize77(tok, p->text[i], ids77 + (size_t)i * MEND_CLIP_CTX, &err);
        int32_t *grown = s == MEND_OK ? realloc(flat, (nflat + (size_t)n + 1) * sizeof *flat) : NULL;
        if (s == MEND_OK && !grown)
            s = mend_fail(&err, MEND_E_NOMEM, "out of memory");
        if (s != MEND_OK) {
            mend_err_wrap(&err, "%s: %s %d", p->source, p->from_lines ? "line" : "prompt", p->from_lines ? i + 1 : i);
            free(ids);
            break;
        }
        flat = grown;
        offs[i] = (int32_t)nflat;
        memcpy(flat + nflat, ids, (size_t)n * sizeof *ids);
        nflat += (size_t)n;
        free(ids);
    }
    if (s != MEND_OK) {
        free(ids77);
        free(offs);
        free(flat);
        cli_error(&err);
        return 0;
    }
    offs[p->count] = (int32_t)nflat;
    return add_token_outputs(w, p->count, ids77, offs, flat, nflat);
}

int eval_tokenize(const eval_args *a)
{
    prompt_list prompts = {0};
    mend_tokenizer *tok = NULL;
    mend_sd_model *model = NULL;
    mend_tf *in = NULL;
    mend_err err = {0};
    int ok;
    if (a->prompts) {
        ok = prompts_from_text(a->prompts, &prompts);
    } else {
        ok = mend_tf_open(a->in, &in, &err) == MEND_OK ? prompts_from_tensors(in, &prompts) : (cli_error(&err), 0);
    }
    ok = ok && load_tokenizer(a, &tok, &model);
    mend_st_writer *w = ok ? mend_st_writer_new() : NULL;
    if (ok && !w)
        ok = !cli_errorf("out of memory");
    ok = ok && tokenize_all(tok, &prompts, w);
    int rc = ok ? eval_finish(a, w) : (mend_st_writer_free(w), 1);
    if (model)
        mend_sd_free(model);
    else
        mend_tokenizer_free(tok);
    mend_tf_close(in);
    prompts_free(&prompts);
    return rc;
}

/* ---- text encoder ---- */

static int32_t *read_input_ids(const mend_tf *in, int *n, int *T)
{
    const mend_tf_tensor *t = mend_tf_find(in, "input_ids");
    if (!t || t->ndim != 2 || (t->dtype != MEND_DT_I32 && t->dtype != MEND_DT_I64) || t->shape[0] < 1 ||
        t->shape[1] < 1 || t->shape[0] > (1 << 16) || t->shape[1] > (1 << 16)) {
        cli_errorf("%s: needs input_ids, an int32 or int64 tensor [N, T]", in->path);
        return NULL;
    }
    int32_t *ids = NULL;
    mend_err err = {0};
    if (mend_tf_load_i32(in, "input_ids", mend_tf_numel(t), &ids, &err) != MEND_OK) {
        cli_error(&err);
        return NULL;
    }
    *n = (int)t->shape[0];
    *T = (int)t->shape[1];
    return ids;
}

/* Adds final_layer_norm(hidden) as `name`. */
static mend_status add_normed(const mend_clip *c, mend_st_writer *w, const char *name, const float *hidden,
                              const int64_t shape[3], mend_err *err)
{
    int64_t rows = shape[0] * shape[1];
    float *y = malloc((size_t)(rows * shape[2]) * sizeof *y);
    if (!y)
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    mend_clip_final_norm(c, hidden, rows, y);
    return mend_st_writer_add(w, name, MEND_DT_F32, 3, shape, y, 1, err);
}

static mend_status encode_all(const mend_clip *c, const int32_t *ids, int n, int T, int clip_skip,
                              mend_st_writer *w, mend_err *err)
{
    const mend_clip_arch *arch = mend_clip_get_arch(c);
    const int L = arch->layers;
    const int64_t shape[3] = {n, T, arch->width};
    float **hidden = calloc((size_t)L + 1, sizeof *hidden);
    mend_status s = hidden ? MEND_OK : mend_fail(err, MEND_E_NOMEM, "out of memory");
    for (int i = 0; i <= L && s == MEND_OK; i++)
        if (!(hidden[i] = malloc((size_t)n * T * arch->width * sizeof(float))))
            s = mend_fail(err, MEND_E_NOMEM, "out of memory");
    if (s == MEND_OK)
        s = mend_clip_hidden_states(c, ids, n, T, hidden, err);
    if (s == MEND_OK)
        s = add_normed(c, w, "last_hidden_state", hidden[L], shape, err);
    if (s == MEND_OK && L >= 1)
        s = add_normed(c, w, "clip_skip2", hidden[L - 1], shape, err);
    if (s == MEND_OK && clip_skip != 2) {
        char name[32];
        snprintf(name, sizeof name, "clip_skip%d", clip_skip);
        s = clip_skip <= L + 1 ? add_normed(c, w, name, hidden[L - clip_skip + 1], shape, err)
                               : mend_fail(err, MEND_E_ARG, "--clip-skip %d: the model has only %d layers",
                                           clip_skip, L);
    }
    for (int i = 0; i <= L && s == MEND_OK; i++) {
        char name[32];
        snprintf(name, sizeof name, "hidden_states.%d", i);
        s = mend_st_writer_add(w, name, MEND_DT_F32, 3, shape, hidden[i], 1, err);
        hidden[i] = NULL; /* the writer's now, also when adding failed */
    }
    for (int i = 0; hidden && i <= L; i++)
        free(hidden[i]);
    free(hidden);
    return s;
}

int eval_text_encoder(const eval_args *a)
{
    mend_tf *in = NULL;
    mend_sd_model *model = NULL;
    mend_err err = {0};
    int32_t *ids = NULL;
    int n = 0, T = 0;
    if (mend_tf_open(a->in, &in, &err) != MEND_OK)
        return cli_error(&err);
    int rc = 1;
    mend_st_writer *w = NULL;
    if (!(ids = read_input_ids(in, &n, &T)))
        goto done;
    if (mend_sd_load(a->model, NULL, MEND_COMP_CLIP, &model, &err) != MEND_OK) {
        cli_error(&err);
        goto done;
    }
    if (!(w = mend_st_writer_new())) {
        cli_errorf("out of memory");
        goto done;
    }
    if (encode_all(model->clip, ids, n, T, a->clip_skip, w, &err) != MEND_OK) {
        mend_err_wrap(&err, "%s", a->in);
        cli_error(&err);
        goto done;
    }
    rc = eval_finish(a, w);
    w = NULL;
done:
    mend_st_writer_free(w);
    mend_sd_free(model);
    free(ids);
    mend_tf_close(in);
    return rc;
}
