/* TAESD (madebyollin/taesd, taesd.py Encoder/Decoder) as two fixed
 * nn.Sequential layer lists. Weight names are the Sequential indices, so
 * the tables below give each index its layer kind:
 *   encoder: conv(3,64), Block, conv s2, Block x3, conv s2, Block x3,
 *            conv s2, Block x3, conv(64,4)          (stride-2 convs: no bias)
 *   decoder: Clamp, conv(4,64), ReLU, Block x3, Upsample, conv, Block x3,
 *            Upsample, conv, Block x3, Upsample, conv, Block, conv(64,3)
 * Block(n_in, n_out) = relu(conv.4(relu(conv.2(relu(conv.0(x))))) + skip(x)),
 * skip being a bias-free 1x1 conv when n_in != n_out, else identity.
 * Clamp is tanh(x / 3) * 3; Upsample is nearest 2x.
 *
 * The encoder takes images in [0, 1] and gives latents in the UNet's
 * (scaled) latent space; the decoder's output is not clamped (callers clamp
 * to [0, 1] when they make pixels), as in the reference. */
#include "model/taesd.h"

#include "kernels/kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum layer_kind {
    L_CONV,        /* 3x3, padding 1, bias */
    L_CONV_S2,     /* 3x3, stride 2, padding 1, no bias */
    L_CONV_NOBIAS, /* 3x3, padding 1, no bias */
    L_BLOCK,
    L_RELU,
    L_UPSAMPLE,
    L_CLAMP,
} layer_kind;

static const layer_kind encoder_layers[] = {L_CONV,  L_BLOCK,   L_CONV_S2, L_BLOCK, L_BLOCK,
                                            L_BLOCK, L_CONV_S2, L_BLOCK,   L_BLOCK, L_BLOCK,
                                            L_CONV_S2, L_BLOCK, L_BLOCK,   L_BLOCK, L_CONV};
static const layer_kind decoder_layers[] = {L_CLAMP, L_CONV,     L_RELU,        L_BLOCK,    L_BLOCK,
                                            L_BLOCK, L_UPSAMPLE, L_CONV_NOBIAS, L_BLOCK,    L_BLOCK,
                                            L_BLOCK, L_UPSAMPLE, L_CONV_NOBIAS, L_BLOCK,    L_BLOCK,
                                            L_BLOCK, L_UPSAMPLE, L_CONV_NOBIAS, L_BLOCK,    L_CONV};
#define N_ENC_LAYERS ((int)(sizeof encoder_layers / sizeof *encoder_layers))
#define N_DEC_LAYERS ((int)(sizeof decoder_layers / sizeof *decoder_layers))
#define TAESD_IMAGE_CHANNELS 3
#define TAESD_LATENT_CHANNELS 4
#define TAESD_FACTOR 8

typedef struct taesd_conv {
    mend_wmat *w;
    const float *b;
    mend_conv2d_desc d;
} taesd_conv;

typedef struct taesd_layer {
    layer_kind kind;
    taesd_conv conv[3]; /* conv: [0]; block: conv.0, conv.2, conv.4 */
    taesd_conv skip;    /* block with n_in != n_out */
    int has_skip;
} taesd_layer;

typedef struct taesd_net {
    taesd_layer *layers;
    int count;
} taesd_net;

struct mend_taesd {
    mend_wstore store;
    taesd_net enc, dec;
};

/* ---------------------------------------------------------------- loading */

static void load_conv(mend_wload *l, taesd_conv *c, int cin, int cout, int k, int stride, int bias, const char *name)
{
    int p = k / 2;
    c->d = (mend_conv2d_desc){cin, cout, k, k, stride, p, p, p, p};
    c->w = mend_wl_mat(l, MEND_SHAPE(cout, cin, k, k), "%s.weight", name);
    c->b = bias ? mend_wl_get(l, MEND_SHAPE(cout), "%s.bias", name) : NULL;
}

/* Output channels of a conv layer, from its weight shape (-1 if absent). */
static int conv_cout(const mend_wload *l, const char *name)
{
    const mend_tf_tensor *t = mend_wl_find(l, "%s.weight", name);
    return t && t->ndim == 4 && t->shape[0] > 0 && t->shape[0] < 65536 ? (int)t->shape[0] : -1;
}

static void load_block(mend_wload *l, taesd_layer *ly, int cin, int cout, int index)
{
    char name[64];
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "%d.conv.%d", index, 2 * i);
        load_conv(l, &ly->conv[i], i == 0 ? cin : cout, cout, 3, 1, 1, name);
    }
    ly->has_skip = cin != cout;
    if (ly->has_skip) {
        snprintf(name, sizeof name, "%d.skip", index);
        load_conv(l, &ly->skip, cin, cout, 1, 1, 0, name);
    }
}

/* Loads one Sequential; in/out are its input and output channel counts. The
 * inner width is read off the first conv so a different TAESD width loads. */
static mend_status load_net(mend_wload *l, const layer_kind *kinds, int count, int in, int out, taesd_net *net,
                            mend_err *err)
{
    net->layers = calloc((size_t)count, sizeof *net->layers);
    if (!net->layers)
        return mend_fail(err, MEND_E_NOMEM, "out of memory loading TAESD");
    net->count = count;
    int first_conv = kinds[0] == L_CONV ? 0 : 1;
    char name[64];
    snprintf(name, sizeof name, "%d", first_conv);
    int width = conv_cout(l, name);
    if (width < 1)
        width = 64; /* missing: mend_wl_get below reports the tensor */
    int c = in;
    for (int i = 0; i < count; i++) {
        taesd_layer *ly = &net->layers[i];
        ly->kind = kinds[i];
        snprintf(name, sizeof name, "%d", i);
        int cout = i == count - 1 ? out : width;
        switch (kinds[i]) {
        case L_CONV:
            load_conv(l, &ly->conv[0], c, cout, 3, 1, 1, name);
            c = cout;
            break;
        case L_CONV_S2:
        case L_CONV_NOBIAS:
            load_conv(l, &ly->conv[0], c, cout, 3, kinds[i] == L_CONV_S2 ? 2 : 1, 0, name);
            c = cout;
            break;
        case L_BLOCK:
            load_block(l, ly, c, cout, i);
            c = cout;
            break;
        default:
            break;
        }
    }
    return l->status;
}

mend_status mend_taesd_load(const mend_tf *encoder, const mend_tf *decoder, mend_taesd **out, mend_err *err)
{
    *out = NULL;
    if (!encoder && !decoder)
        return mend_fail(err, MEND_E_ARG, "TAESD: neither encoder nor decoder weights given");
    mend_taesd *t = calloc(1, sizeof *t);
    if (!t)
        return mend_fail(err, MEND_E_NOMEM, "out of memory loading TAESD");
    mend_status s = MEND_OK;
    if (encoder) {
        mend_wload l = {.file = encoder, .prefix = "", .store = &t->store, .err = err};
        s = load_net(&l, encoder_layers, N_ENC_LAYERS, TAESD_IMAGE_CHANNELS, TAESD_LATENT_CHANNELS, &t->enc, err);
    }
    if (s == MEND_OK && decoder) {
        mend_wload l = {.file = decoder, .prefix = "", .store = &t->store, .err = err};
        s = load_net(&l, decoder_layers, N_DEC_LAYERS, TAESD_LATENT_CHANNELS, TAESD_IMAGE_CHANNELS, &t->dec, err);
    }
    return MEND_HAND_OVER(s, t, out, mend_taesd_free);
}

void mend_taesd_free(mend_taesd *t)
{
    if (!t)
        return;
    mend_wstore_free(&t->store);
    free(t->enc.layers);
    free(t->dec.layers);
    free(t);
}

int64_t mend_taesd_params(const mend_taesd *t) { return t ? t->store.params : 0; }

/* ---------------------------------------------------------------- forward */

/* One image's activation, replaced layer by layer. */
typedef struct act {
    float *d;
    int c, h, w;
} act;

static int64_t act_numel(const act *a) { return (int64_t)a->c * a->h * a->w; }

static mend_status oom(mend_err *err) { return mend_fail(err, MEND_E_NOMEM, "TAESD: out of memory"); }

/* y = conv(x) into a new buffer. */
static mend_status conv_into(const taesd_conv *cv, const act *x, act *y, mend_err *err)
{
    int oh, ow;
    mend_conv2d_out_size(&cv->d, x->h, x->w, &oh, &ow);
    y->d = malloc((size_t)cv->d.cout * oh * ow * sizeof(float));
    if (!y->d)
        return oom(err);
    *y = (act){y->d, cv->d.cout, oh, ow};
    if (mend_conv2d(&cv->d, x->d, 1, x->h, x->w, cv->w, cv->b, y->d) != MEND_OK) {
        free(y->d);
        y->d = NULL;
        return oom(err);
    }
    return MEND_OK;
}

/* a = conv(a); the old buffer is freed. On failure a is unchanged. */
static mend_status conv_step(const taesd_conv *cv, act *a, mend_err *err)
{
    act y;
    MEND_TRY(conv_into(cv, a, &y, err));
    free(a->d);
    *a = y;
    return MEND_OK;
}

static mend_status block_step(const taesd_layer *ly, act *a, mend_err *err)
{
    act h;
    MEND_TRY(conv_into(&ly->conv[0], a, &h, err));
    mend_relu(h.d, act_numel(&h));
    mend_status s = conv_step(&ly->conv[1], &h, err);
    if (s == MEND_OK) {
        mend_relu(h.d, act_numel(&h));
        s = conv_step(&ly->conv[2], &h, err);
    }
    if (s == MEND_OK && ly->has_skip)
        s = conv_step(&ly->skip, a, err);
    if (s != MEND_OK) {
        free(h.d);
        return s;
    }
    mend_add(h.d, a->d, h.d, act_numel(&h));
    mend_relu(h.d, act_numel(&h));
    free(a->d);
    *a = h;
    return MEND_OK;
}

static mend_status upsample_step(act *a, mend_err *err)
{
    act y = {malloc((size_t)act_numel(a) * 4 * sizeof(float)), a->c, a->h * 2, a->w * 2};
    if (!y.d)
        return oom(err);
    mend_resize_nearest(a->d, 1, a->c, a->h, a->w, y.h, y.w, y.d);
    free(a->d);
    *a = y;
    return MEND_OK;
}

/* tanh(x / 3) * 3: keeps decoder inputs in (-3, 3). */
static void soft_clamp(act *a)
{
    int64_t n = act_numel(a);
    mend_scale(a->d, 1.0f / 3.0f, n);
    mend_tanh_inplace(a->d, n);
    mend_scale(a->d, 3.0f, n);
}

static mend_status run_layer(const taesd_layer *ly, act *a, mend_err *err)
{
    switch (ly->kind) {
    case L_CONV:
    case L_CONV_S2:
    case L_CONV_NOBIAS:
        return conv_step(&ly->conv[0], a, err);
    case L_BLOCK:
        return block_step(ly, a, err);
    case L_RELU:
        mend_relu(a->d, act_numel(a));
        return MEND_OK;
    case L_UPSAMPLE:
        return upsample_step(a, err);
    case L_CLAMP:
        soft_clamp(a);
        return MEND_OK;
    }
    return MEND_OK;
}

/* Runs a net over N images of in_c x h x w; writes N x out_c x oh x ow. */
static mend_status run_net(const taesd_net *net, const float *x, int N, int in_c, int h, int w, int out_c, int oh,
                           int ow, float *y, mend_err *err)
{
    int64_t in_n = (int64_t)in_c * h * w, out_n = (int64_t)out_c * oh * ow;
    for (int i = 0; i < N; i++) {
        act a = {malloc((size_t)in_n * sizeof(float)), in_c, h, w};
        if (!a.d)
            return oom(err);
        memcpy(a.d, x + i * in_n, (size_t)in_n * sizeof(float));
        mend_status s = MEND_OK;
        for (int l = 0; l < net->count && s == MEND_OK; l++)
            s = run_layer(&net->layers[l], &a, err);
        if (s == MEND_OK && act_numel(&a) != out_n)
            s = mend_fail(err, MEND_E_ARG, "TAESD: output is %dx%dx%d, expected %dx%dx%d", a.c, a.h, a.w, out_c, oh,
                          ow);
        if (s == MEND_OK)
            memcpy(y + i * out_n, a.d, (size_t)out_n * sizeof(float));
        free(a.d);
        MEND_TRY(s);
    }
    return MEND_OK;
}

mend_status mend_taesd_encode(const mend_taesd *t, const float *img, int N, int H, int W, float *latent,
                              mend_err *err)
{
    if (!t->enc.layers)
        return mend_fail(err, MEND_E_ARG, "TAESD: no encoder weights loaded");
    if (N < 1 || H < TAESD_FACTOR || W < TAESD_FACTOR || H % TAESD_FACTOR || W % TAESD_FACTOR)
        return mend_fail(err, MEND_E_ARG, "TAESD encode: image %dx%d (batch %d) must be a positive multiple of %d",
                         W, H, N, TAESD_FACTOR);
    return run_net(&t->enc, img, N, TAESD_IMAGE_CHANNELS, H, W, TAESD_LATENT_CHANNELS, H / TAESD_FACTOR,
                   W / TAESD_FACTOR, latent, err);
}

mend_status mend_taesd_decode(const mend_taesd *t, const float *latent, int N, int h, int w, float *img,
                              mend_err *err)
{
    if (!t->dec.layers)
        return mend_fail(err, MEND_E_ARG, "TAESD: no decoder weights loaded");
    if (N < 1 || h < 1 || w < 1)
        return mend_fail(err, MEND_E_ARG, "TAESD decode: latent %dx%d (batch %d) is empty", w, h, N);
    return run_net(&t->dec, latent, N, TAESD_LATENT_CHANNELS, h, w, TAESD_IMAGE_CHANNELS, h * TAESD_FACTOR,
                   w * TAESD_FACTOR, img, err);
}
