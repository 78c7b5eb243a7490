/* CLIP text encoder (HF CLIPTextModel weights under prefix + "text_model.").
 * Pre-LN transformer: x += attn(ln1(x)) with a causal mask; x += mlp(ln2(x))
 * with quick-GELU; LayerNorm eps 1e-5 everywhere. The architecture is read
 * from the tensor shapes; the head count is not stored in the weights (see
 * mend_clip_arch). */
#include "model/clip.h"

#include "kernels/kernels.h"

#include <stdlib.h>
#include <string.h>

#define CLIP_LN_EPS 1e-5f

typedef struct clip_layer {
    const float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
    mend_wmat *q_w, *k_w, *v_w, *o_w, *fc1_w, *fc2_w;
    const float *q_b, *k_b, *v_b, *o_b, *fc1_b, *fc2_b;
} clip_layer;

struct mend_clip {
    mend_clip_arch arch;
    mend_wstore store;
    const float *tok_emb, *pos_emb, *final_w, *final_b;
    clip_layer *layers;
};

/* ---- loading ---- */

static int heads_for_width(int width) { return width % 64 == 0 ? width / 64 : width / 8; }

static mend_status detect_arch(const mend_wload *l, mend_clip_arch *a, mend_err *err)
{
    char name[600];
    const mend_tf_tensor *tok = mend_wl_find(l, "text_model.embeddings.token_embedding.weight");
    const mend_tf_tensor *pos = mend_wl_find(l, "text_model.embeddings.position_embedding.weight");
    const mend_tf_tensor *fc1 = mend_wl_find(l, "text_model.encoder.layers.0.mlp.fc1.weight");
    const char *missing = !tok ? "text_model.embeddings.token_embedding.weight"
                          : !pos ? "text_model.embeddings.position_embedding.weight"
                          : !fc1 ? "text_model.encoder.layers.0.mlp.fc1.weight"
                                 : NULL;
    if (missing) {
        mend_wl_name(l, missing, name, sizeof name);
        return mend_fail(err, MEND_E_ARCH, "%s: not a CLIP text encoder: tensor '%s' is missing", l->file->path, name);
    }
    if (tok->ndim != 2 || pos->ndim != 2 || fc1->ndim != 2)
        return mend_fail(err, MEND_E_ARCH, "%s: CLIP embedding/MLP tensors must be 2-dimensional", l->file->path);
    a->vocab = (int)tok->shape[0];
    a->width = (int)tok->shape[1];
    a->max_pos = (int)pos->shape[0];
    a->mlp = (int)fc1->shape[0];
    a->layers = 0;
    while (mend_wl_find(l, "text_model.encoder.layers.%d.layer_norm1.weight", a->layers))
        a->layers++;
    a->heads = heads_for_width(a->width);
    if (a->width < 8 || a->heads < 1 || a->width % a->heads != 0 || a->vocab < 1 || a->max_pos < 1 || a->mlp < 1)
        return mend_fail(err, MEND_E_ARCH, "%s: CLIP text encoder width %d cannot be split into attention heads",
                         l->file->path, a->width);
    return MEND_OK;
}

#define CLIP_LAYER "text_model.encoder.layers.%d.%s"

/* A LayerNorm's weight and bias (width W) of layer i. */
static void load_norm(mend_wload *l, int i, const char *name, int64_t W, const float **w, const float **b)
{
    *w = mend_wl_get(l, MEND_SHAPE(W), CLIP_LAYER ".weight", i, name);
    *b = mend_wl_get(l, MEND_SHAPE(W), CLIP_LAYER ".bias", i, name);
}

/* A Linear's weight [out, in] and bias [out] of layer i. */
static void load_linear(mend_wload *l, int i, const char *name, int64_t out, int64_t in, mend_wmat **w,
                        const float **b)
{
    *w = mend_wl_mat(l, MEND_SHAPE(out, in), CLIP_LAYER ".weight", i, name);
    *b = mend_wl_get(l, MEND_SHAPE(out), CLIP_LAYER ".bias", i, name);
}

static void load_layer(mend_wload *l, const mend_clip_arch *a, int i, clip_layer *y)
{
    const int64_t W = a->width, M = a->mlp;
    load_norm(l, i, "layer_norm1", W, &y->ln1_w, &y->ln1_b);
    load_linear(l, i, "self_attn.q_proj", W, W, &y->q_w, &y->q_b);
    load_linear(l, i, "self_attn.k_proj", W, W, &y->k_w, &y->k_b);
    load_linear(l, i, "self_attn.v_proj", W, W, &y->v_w, &y->v_b);
    load_linear(l, i, "self_attn.out_proj", W, W, &y->o_w, &y->o_b);
    load_norm(l, i, "layer_norm2", W, &y->ln2_w, &y->ln2_b);
    load_linear(l, i, "mlp.fc1", M, W, &y->fc1_w, &y->fc1_b);
    load_linear(l, i, "mlp.fc2", W, M, &y->fc2_w, &y->fc2_b);
}

static mend_status load_weights(mend_clip *c, const mend_wload *src, mend_err *err)
{
    mend_wload l = mend_wl_into(src, &c->store, err);
    const mend_clip_arch *a = &c->arch;
    c->tok_emb = mend_wl_get(&l, MEND_SHAPE(a->vocab, a->width), "text_model.embeddings.token_embedding.weight");
    c->pos_emb = mend_wl_get(&l, MEND_SHAPE(a->max_pos, a->width), "text_model.embeddings.position_embedding.weight");
    for (int i = 0; i < a->layers; i++)
        load_layer(&l, a, i, &c->layers[i]);
    c->final_w = mend_wl_get(&l, MEND_SHAPE(a->width), "text_model.final_layer_norm.weight");
    c->final_b = mend_wl_get(&l, MEND_SHAPE(a->width), "text_model.final_layer_norm.bias");
    return l.status;
}

mend_status mend_clip_load(const mend_wload *l, mend_clip **out, mend_err *err)
{
    *out = NULL;
    mend_clip *c = calloc(1, sizeof *c);
    if (!c)
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    mend_status s = detect_arch(l, &c->arch, err);
    if (s == MEND_OK && !(c->layers = calloc((size_t)c->arch.layers + 1, sizeof *c->layers)))
        s = mend_fail(err, MEND_E_NOMEM, "out of memory");
    if (s == MEND_OK)
        s = load_weights(c, l, err);
    return MEND_HAND_OVER(s, c, out, mend_clip_free);
}

void mend_clip_free(mend_clip *c)
{
    if (!c)
        return;
    mend_wstore_free(&c->store);
    free(c->layers);
    free(c);
}

const mend_clip_arch *mend_clip_get_arch(const mend_clip *c) { return &c->arch; }

int64_t mend_clip_params(const mend_clip *c) { return c->store.params; }

/* ---- forward ---- */

typedef struct clip_scratch {
    float *h, *q, *k, *v, *attn, *mlp;
    float *block; /* all of the above, one allocation */
} clip_scratch;

static int scratch_alloc(clip_scratch *s, int64_t rows, const mend_clip_arch *a)
{
    const int64_t rw = rows * a->width;
    const int64_t counts[] = {rw, rw, rw, rw, rw, rows * a->mlp};
    float **const fields[] = {&s->h, &s->q, &s->k, &s->v, &s->attn, &s->mlp};
    s->block = mend_f32_parts(6, counts, fields);
    return s->block != NULL;
}

static mend_status check_input(const mend_clip *c, const int32_t *ids, int n, int T, mend_err *err)
{
    const mend_clip_arch *a = &c->arch;
    if (n < 1 || T < 1 || T > a->max_pos)
        return mend_fail(err, MEND_E_ARG, "CLIP text encoder: %d sequences of %d tokens; need at least 1 of 1..%d",
                         n, T, a->max_pos);
    for (int64_t i = 0; i < (int64_t)n * T; i++)
        if (ids[i] < 0 || ids[i] >= a->vocab)
            return mend_fail(err, MEND_E_ARG, "CLIP text encoder: token id %d (sequence %d, position %d) is outside "
                             "the vocabulary [0, %d)", ids[i], (int)(i / T), (int)(i % T), a->vocab);
    return MEND_OK;
}

/* rows (NULL, or [n*T] entries each NULL or a width vector): token
 * embeddings to use instead of the table's (textual inversion). */
static void embed(const mend_clip *c, const int32_t *ids, int n, int T, const float *const *rows, float *x)
{
    const int W = c->arch.width;
    for (int b = 0; b < n; b++)
        for (int t = 0; t < T; t++) {
            float *row = x + ((size_t)b * T + t) * W;
            const float *tok = rows && rows[(size_t)b * T + t] ? rows[(size_t)b * T + t]
                                                              : c->tok_emb + (size_t)ids[(size_t)b * T + t] * W;
            const float *pos = c->pos_emb + (size_t)t * W;
            for (int j = 0; j < W; j++)
                row[j] = tok[j] + pos[j];
        }
}

/* A failed linear (scratch) fails the layer. */
#define LIN(call)                                                                                               \
    do {                                                                                                        \
        if ((call) != MEND_OK)                                                                                  \
            return MEND_E_NOMEM;                                                                                \
    } while (0)

static mend_status run_layer(const mend_clip *c, const clip_layer *y, int n, int T, float *x, clip_scratch *s)
{
    const mend_clip_arch *a = &c->arch;
    const int64_t rows = (int64_t)n * T, W = a->width;
    mend_layer_norm(x, rows, a->width, CLIP_LN_EPS, y->ln1_w, y->ln1_b, s->h);
    LIN(mend_linear(s->h, rows, W, y->q_w, y->q_b, W, s->q));
    LIN(mend_linear(s->h, rows, W, y->k_w, y->k_b, W, s->k));
    LIN(mend_linear(s->h, rows, W, y->v_w, y->v_b, W, s->v));
    if (mend_attention(s->q, W, s->k, W, s->v, W, s->attn, n, a->heads, T, T, a->width / a->heads, 1) != MEND_OK)
        return MEND_E_NOMEM;
    LIN(mend_linear(s->attn, rows, W, y->o_w, y->o_b, W, s->h));
    mend_add(x, s->h, x, rows * W);
    mend_layer_norm(x, rows, a->width, CLIP_LN_EPS, y->ln2_w, y->ln2_b, s->h);
    LIN(mend_linear(s->h, rows, W, y->fc1_w, y->fc1_b, a->mlp, s->mlp));
    mend_quick_gelu(s->mlp, rows * a->mlp);
    LIN(mend_linear(s->mlp, rows, a->mlp, y->fc2_w, y->fc2_b, W, s->h));
    mend_add(x, s->h, x, rows * W);
    return MEND_OK;
}

/* Runs embeddings and layers 1..last into x ([n*T, width]), copying hidden
 * state i into hidden[i] where that is non-NULL (hidden may be NULL). */
static mend_status run_stack(const mend_clip *c, const int32_t *ids, int n, int T, const float *const *rows, int last,
                             float *x, float *const *hidden, mend_err *err)
{
    const size_t bytes = (size_t)n * T * c->arch.width * sizeof(float);
    embed(c, ids, n, T, rows, x);
    if (hidden && hidden[0])
        memcpy(hidden[0], x, bytes);
    if (last == 0)
        return MEND_OK;
    clip_scratch s = {0};
    mend_status st = scratch_alloc(&s, (int64_t)n * T, &c->arch) ? MEND_OK : MEND_E_NOMEM;
    for (int i = 1; i <= last && st == MEND_OK; i++) {
        st = run_layer(c, &c->layers[i - 1], n, T, x, &s);
        if (st == MEND_OK && hidden && hidden[i])
            memcpy(hidden[i], x, bytes);
    }
    mend_big_free(s.block);
    return st == MEND_OK ? MEND_OK : mend_fail(err, st, "CLIP text encoder: out of memory for %d x %d tokens", n, T);
}

void mend_clip_final_norm(const mend_clip *c, const float *x, int64_t rows, float *y)
{
    mend_layer_norm(x, rows, c->arch.width, CLIP_LN_EPS, c->final_w, c->final_b, y);
}

mend_status mend_clip_hidden_states(const mend_clip *c, const int32_t *ids, int n, int T, float *const *hidden,
                                    mend_err *err)
{
    MEND_TRY(check_input(c, ids, n, T, err));
    int last = -1;
    for (int i = 0; i <= c->arch.layers; i++)
        if (hidden[i])
            last = i;
    if (last < 0)
        return MEND_OK;
    float *x = malloc((size_t)n * T * c->arch.width * sizeof *x);
    if (!x)
        return mend_fail(err, MEND_E_NOMEM, "CLIP text encoder: out of memory for %d x %d tokens", n, T);
    mend_status s = run_stack(c, ids, n, T, NULL, last, x, hidden, err);
    free(x);
    return s;
}

mend_status mend_clip_encode(const mend_clip *c, const int32_t *ids, int n, int T, int clip_skip, float *out,
                             mend_err *err)
{
    return mend_clip_encode_rows(c, ids, n, T, NULL, clip_skip, out, err);
}

mend_status mend_clip_encode_rows(const mend_clip *c, const int32_t *ids, int n, int T, const float *const *rows,
                                  int clip_skip, float *out, mend_err *err)
{
    if (clip_skip < 1 || clip_skip > c->arch.layers + 1)
        return mend_fail(err, MEND_E_ARG, "CLIP text encoder: clip skip %d is outside 1..%d for a %d-layer model",
                         clip_skip, c->arch.layers + 1, c->arch.layers);
    MEND_TRY(check_input(c, ids, n, T, err));
    /* A1111: hidden_states[-clip_skip], i.e. layer (layers - clip_skip + 1) */
    MEND_TRY(run_stack(c, ids, n, T, rows, c->arch.layers - clip_skip + 1, out, NULL, err));
    mend_clip_final_norm(c, out, (int64_t)n * T, out);
    return MEND_OK;
}

mend_status mend_clip_set_prec(mend_clip *m, mend_kprec p, mend_err *err)
{
    return mend_wstore_set_prec(&m->store, p, err);
}

mend_wstore *mend_clip_weights(mend_clip *m)
{
    return &m->store;
}
