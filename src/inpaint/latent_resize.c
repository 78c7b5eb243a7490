/* torch.nn.functional.interpolate(x, size=..., mode, antialias) with
 * align_corners=False on float planes, as A1111's hires fix resizes latents
 * ("Latent", "Latent (antialiased)", "Latent (bicubic)", ...). Each output
 * coordinate of an axis gets a list of (input index, weight) taps worked
 * out the way torch's CPU kernels do (float arithmetic, UpSampleKernel.cpp);
 * the planes are then resized along the width and along the height. */
#include "inpaint/latent_resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CUBIC_A (-0.75f)   /* torch's bicubic */
#define CUBIC_AA_A (-0.5f) /* torch's antialiased bicubic (PIL's) */

typedef struct axis_taps {
    int *first;   /* [out]: index of the first tap in idx/wt */
    int *count;   /* [out] */
    int *idx;     /* [out * max_taps] */
    float *wt;
    int max_taps;
} axis_taps;

static void taps_free(axis_taps *t)
{
    free(t->first);
    free(t->count);
    free(t->idx);
    free(t->wt);
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static float cubic1(float x, float a)
{
    return ((a + 2) * x - (a + 3)) * x * x + 1;
}

static float cubic2(float x, float a)
{
    return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
}

static float aa_filter(mend_interp_mode mode, float x)
{
    if (x < 0)
        x = -x;
    if (mode == MEND_INTERP_BILINEAR)
        return x < 1 ? 1 - x : 0;
    if (x < 1)
        return cubic1(x, CUBIC_AA_A);
    return x < 2 ? cubic2(x, CUBIC_AA_A) : 0;
}

static void add_tap(axis_taps *t, int o, int index, float w)
{
    int k = t->first[o] + t->count[o]++;
    t->idx[k] = index;
    t->wt[k] = w;
}

/* torch's separable antialiased weights (_compute_index_ranges_weights). */
static void taps_antialiased(axis_taps *t, int in, int o, float scale, mend_interp_mode mode)
{
    float support = (mode == MEND_INTERP_BILINEAR ? 1.0f : 2.0f) * (scale >= 1.0f ? scale : 1.0f);
    float center = scale * ((float)o + 0.5f), invscale = scale >= 1.0f ? 1.0f / scale : 1.0f;
    int xmin = (int)(center - support + 0.5f);
    xmin = xmin < 0 ? 0 : xmin;
    int xmax = (int)(center + support + 0.5f);
    xmax = xmax > in ? in : xmax;
    float total = 0;
    for (int j = xmin; j < xmax; j++)
        total += aa_filter(mode, ((float)j - center + 0.5f) * invscale);
    for (int j = xmin; j < xmax; j++) {
        float w = aa_filter(mode, ((float)j - center + 0.5f) * invscale);
        add_tap(t, o, j, total != 0 ? w / total : w);
    }
}

static void taps_plain(axis_taps *t, int in, int o, float scale, mend_interp_mode mode)
{
    if (mode == MEND_INTERP_NEAREST || mode == MEND_INTERP_NEAREST_EXACT) {
        float pos = mode == MEND_INTERP_NEAREST ? (float)o * scale : ((float)o + 0.5f) * scale;
        add_tap(t, o, clampi((int)floorf(pos), 0, in - 1), 1.0f);
        return;
    }
    float real = scale * ((float)o + 0.5f) - 0.5f;
    if (mode == MEND_INTERP_BILINEAR) {
        if (real < 0)
            real = 0;
        int i0 = (int)real, i1 = i0 < in - 1 ? i0 + 1 : i0;
        float l1 = real - (float)i0;
        l1 = l1 < 0 ? 0 : l1 > 1 ? 1 : l1;
        add_tap(t, o, i0, 1.0f - l1);
        add_tap(t, o, i1, l1);
        return;
    }
    int i0 = (int)floorf(real);
    float x = real - (float)i0;
    float w[4] = {cubic2(x + 1.0f, CUBIC_A), cubic1(x, CUBIC_A), cubic1(1.0f - x, CUBIC_A),
                  cubic2(2.0f - x, CUBIC_A)};
    for (int k = 0; k < 4; k++) /* taps outside the plane read its edge */
        add_tap(t, o, clampi(i0 - 1 + k, 0, in - 1), w[k]);
}

static mend_status taps_make(axis_taps *t, int in, int out, mend_interp_mode mode, int antialias, mend_err *err)
{
    float scale = (float)in / (float)out;
    int aa = antialias && (mode == MEND_INTERP_BILINEAR || mode == MEND_INTERP_BICUBIC);
    float support = (mode == MEND_INTERP_BILINEAR ? 1.0f : 2.0f) * (scale >= 1.0f ? scale : 1.0f);
    t->max_taps = aa ? (int)ceilf(support) * 2 + 2 : 4;
    t->first = malloc((size_t)out * sizeof *t->first);
    t->count = calloc((size_t)out, sizeof *t->count);
    t->idx = malloc((size_t)out * (size_t)t->max_taps * sizeof *t->idx);
    t->wt = malloc((size_t)out * (size_t)t->max_taps * sizeof *t->wt);
    if (!t->first || !t->count || !t->idx || !t->wt) {
        taps_free(t);
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    }
    for (int o = 0; o < out; o++) {
        t->first[o] = o * t->max_taps;
        if (aa)
            taps_antialiased(t, in, o, scale, mode);
        else
            taps_plain(t, in, o, scale, mode);
    }
    return MEND_OK;
}

/* Along the width: [rows, iw] -> [rows, ow]. */
static void resize_rows(const float *x, int rows, int iw, const axis_taps *t, int ow, float *y)
{
    for (int r = 0; r < rows; r++)
        for (int o = 0; o < ow; o++) {
            const int *idx = t->idx + t->first[o];
            const float *wt = t->wt + t->first[o];
            float acc = x[(int64_t)r * iw + idx[0]] * wt[0];
            for (int k = 1; k < t->count[o]; k++)
                acc += x[(int64_t)r * iw + idx[k]] * wt[k];
            y[(int64_t)r * ow + o] = acc;
        }
}

/* Along the height of one plane: [ih, w] -> [oh, w]. */
static void resize_cols(const float *x, int w, const axis_taps *t, int oh, float *y)
{
    for (int o = 0; o < oh; o++) {
        const int *idx = t->idx + t->first[o];
        const float *wt = t->wt + t->first[o];
        float *dst = y + (int64_t)o * w;
        for (int c = 0; c < w; c++)
            dst[c] = x[(int64_t)idx[0] * w + c] * wt[0];
        for (int k = 1; k < t->count[o]; k++)
            for (int c = 0; c < w; c++)
                dst[c] += x[(int64_t)idx[k] * w + c] * wt[k];
    }
}

mend_status mend_interpolate(const float *x, int planes, int ih, int iw, float *y, int oh, int ow,
                             mend_interp_mode mode, int antialias, mend_err *err)
{
    if (planes < 1 || ih < 1 || iw < 1 || oh < 1 || ow < 1)
        return mend_fail(err, MEND_E_ARG, "interpolate: sizes %dx%d -> %dx%d (%d planes) must be positive", iw, ih,
                         ow, oh, planes);
    axis_taps tw = {0}, th = {0};
    MEND_TRY(taps_make(&tw, iw, ow, mode, antialias, err));
    mend_status s = taps_make(&th, ih, oh, mode, antialias, err);
    float *tmp = s == MEND_OK ? malloc((size_t)ih * (size_t)ow * sizeof *tmp) : NULL;
    if (s == MEND_OK && !tmp)
        s = mend_fail(err, MEND_E_NOMEM, "out of memory");
    for (int p = 0; s == MEND_OK && p < planes; p++) {
        resize_rows(x + (int64_t)p * ih * iw, ih, iw, &tw, ow, tmp);
        resize_cols(tmp, ow, &th, oh, y + (int64_t)p * oh * ow);
    }
    free(tmp);
    taps_free(&tw);
    taps_free(&th);
    return s;
}

static const struct {
    const char *name;
    mend_interp_mode mode;
    int antialias;
} latent_modes[] = {
    {"Latent", MEND_INTERP_BILINEAR, 0},
    {"Latent (antialiased)", MEND_INTERP_BILINEAR, 1},
    {"Latent (bicubic)", MEND_INTERP_BICUBIC, 0},
    {"Latent (bicubic antialiased)", MEND_INTERP_BICUBIC, 1},
    {"Latent (nearest)", MEND_INTERP_NEAREST, 0},
    {"Latent (nearest-exact)", MEND_INTERP_NEAREST_EXACT, 0},
};

int mend_latent_modes_count(void)
{
    return (int)(sizeof latent_modes / sizeof *latent_modes);
}

const char *mend_latent_mode_name(int i)
{
    return i >= 0 && i < mend_latent_modes_count() ? latent_modes[i].name : NULL;
}

int mend_latent_mode_find(const char *name, mend_interp_mode *mode, int *antialias)
{
    for (int i = 0; name && i < mend_latent_modes_count(); i++)
        if (!strcmp(latent_modes[i].name, name)) {
            *mode = latent_modes[i].mode;
            *antialias = latent_modes[i].antialias;
            return i;
        }
    return -1;
}
