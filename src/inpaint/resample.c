/* Pillow's ImagingResample (Resample.c) for 8-bit images, and A1111's
 * images.resize_image built on it. Coefficients are computed in double
 * exactly as Pillow does, then converted to signed Q22 integers; each pass
 * rounds to 8 bits (horizontal first, then vertical). */
#include "inpaint/imageops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PIL_PRECISION_BITS (32 - 8 - 2)

static double bicubic_filter(double x)
{
    const double a = -0.5;
    if (x < 0.0)
        x = -x;
    if (x < 1.0)
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0)
        return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

static double sinc_filter(double x)
{
    if (x == 0.0)
        return 1.0;
    x = x * M_PI;
    return sin(x) / x;
}

static double lanczos_filter(double x)
{
    if (-3.0 <= x && x < 3.0)
        return sinc_filter(x) * sinc_filter(x / 3);
    return 0.0;
}

/* Per output pixel: first source index, tap count and Q22 taps. */
typedef struct pil_coeffs {
    int ksize;
    int *bounds; /* 2 per output: xmin, count */
    int32_t *k;  /* ksize per output */
} pil_coeffs;

static void pil_coeffs_free(pil_coeffs *c)
{
    free(c->bounds);
    free(c->k);
}

/* precompute_coeffs + normalize_coeffs_8bpc. */
static mend_status pil_precompute(int in_size, float in0, float in1, int out_size, mend_pil_filter filter,
                                  pil_coeffs *c, mend_err *err)
{
    double (*fn)(double) = filter == MEND_PIL_LANCZOS ? lanczos_filter : bicubic_filter;
    double support = filter == MEND_PIL_LANCZOS ? 3.0 : 2.0;
    double scale = (double)(in1 - in0) / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    support *= filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    c->ksize = ksize;
    c->bounds = malloc(sizeof *c->bounds * 2 * (size_t)out_size);
    c->k = calloc((size_t)out_size * (size_t)ksize, sizeof *c->k);
    double *w = malloc(sizeof *w * (size_t)ksize);
    if (!c->bounds || !c->k || !w) {
        free(w);
        pil_coeffs_free(c);
        return mend_fail(err, MEND_E_NOMEM, "out of memory for resampling coefficients");
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = in0 + (xx + 0.5) * scale;
        double ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0)
            xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size)
            xmax = in_size;
        xmax -= xmin;
        double total = 0.0;
        for (int x = 0; x < xmax; x++) {
            w[x] = fn((x + xmin - center + 0.5) * ss);
            total += w[x];
        }
        int32_t *k = c->k + (size_t)xx * ksize;
        for (int x = 0; x < xmax; x++) {
            double v = total != 0.0 ? w[x] / total : w[x];
            k[x] = v < 0 ? (int32_t)(-0.5 + v * (1 << PIL_PRECISION_BITS))
                         : (int32_t)(0.5 + v * (1 << PIL_PRECISION_BITS));
        }
        c->bounds[2 * xx] = xmin;
        c->bounds[2 * xx + 1] = xmax < 0 ? 0 : xmax;
    }
    free(w);
    return MEND_OK;
}

static uint8_t clip8(int32_t v)
{
    v >>= PIL_PRECISION_BITS;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Horizontal pass over rows [row0, row0 + out->height) of src. */
static void pil_pass_horizontal(const mend_image *src, int row0, const pil_coeffs *c, mend_image *out)
{
    int ch = src->channels;
    for (int y = 0; y < out->height; y++) {
        const uint8_t *in = src->data + (size_t)(y + row0) * src->width * ch;
        uint8_t *o = out->data + (size_t)y * out->width * ch;
        for (int xx = 0; xx < out->width; xx++) {
            const int32_t *k = c->k + (size_t)xx * c->ksize;
            int xmin = c->bounds[2 * xx], n = c->bounds[2 * xx + 1];
            for (int b = 0; b < ch; b++) {
                int32_t ss = 1 << (PIL_PRECISION_BITS - 1);
                for (int x = 0; x < n; x++)
                    ss += in[(size_t)(x + xmin) * ch + b] * k[x];
                o[(size_t)xx * ch + b] = clip8(ss);
            }
        }
    }
}

/* Vertical pass; bounds are relative to src row `row0`. */
static void pil_pass_vertical(const mend_image *src, int row0, const pil_coeffs *c, mend_image *out)
{
    size_t stride = (size_t)src->width * src->channels;
    for (int yy = 0; yy < out->height; yy++) {
        const int32_t *k = c->k + (size_t)yy * c->ksize;
        int ymin = c->bounds[2 * yy] - row0, n = c->bounds[2 * yy + 1];
        uint8_t *o = out->data + (size_t)yy * stride;
        for (size_t i = 0; i < stride; i++) {
            int32_t ss = 1 << (PIL_PRECISION_BITS - 1);
            for (int y = 0; y < n; y++)
                ss += src->data[(size_t)(y + ymin) * stride + i] * k[y];
            o[i] = clip8(ss);
        }
    }
}

mend_status mend_pil_resize(const mend_image *src, int w, int h, mend_pil_filter filter, const float box_in[4],
                            mend_image *out, mend_err *err)
{
    float box[4] = {0, 0, (float)src->width, (float)src->height};
    if (box_in)
        memcpy(box, box_in, sizeof box);
    if (w < 1 || h < 1 || w > MEND_IMAGE_MAX_SIDE || h > MEND_IMAGE_MAX_SIDE)
        return mend_fail(err, MEND_E_ARG, "resize to %dx%d: size out of range", w, h);
    if (box[0] < 0 || box[1] < 0 || box[2] > src->width || box[3] > src->height || box[2] - box[0] < 0 ||
        box[3] - box[1] < 0)
        return mend_fail(err, MEND_E_ARG, "resize box (%g,%g,%g,%g) outside the %dx%d image", (double)box[0],
                         (double)box[1], (double)box[2], (double)box[3], src->width, src->height);
    /* Integer box of exactly the output size: Pillow crops. */
    if (box[0] == (int)box[0] && box[1] == (int)box[1] && box[2] - box[0] == w && box[3] - box[1] == h) {
        int ib[4] = {(int)box[0], (int)box[1], (int)box[2], (int)box[3]};
        return mend_pil_crop(src, ib, out, err);
    }
    int need_h = w != src->width || box[0] != 0 || box[2] != w;
    int need_v = h != src->height || box[1] != 0 || box[3] != h;
    pil_coeffs ch = {0}, cv = {0};
    MEND_TRY(pil_precompute(src->width, box[0], box[2], w, filter, &ch, err));
    mend_status s = pil_precompute(src->height, box[1], box[3], h, filter, &cv, err);
    if (s != MEND_OK) {
        pil_coeffs_free(&ch);
        return s;
    }
    /* Rows the vertical pass reads: only those go through the horizontal one. */
    int first = cv.bounds[0];
    int last = cv.bounds[2 * h - 2] + cv.bounds[2 * h - 1];
    mend_image tmp = {0};
    const mend_image *cur = src;
    int row0 = 0;
    if (need_h) {
        if (last - first < 1) { /* degenerate: Pillow would allocate an empty image */
            first = 0;
            last = 1;
        }
        s = mend_image_alloc(&tmp, w, last - first, src->channels, err);
        if (s == MEND_OK)
            pil_pass_horizontal(src, first, &ch, &tmp);
        cur = &tmp;
        row0 = first;
    }
    if (s == MEND_OK) {
        if (need_v) {
            s = mend_image_alloc(out, cur->width, h, cur->channels, err);
            if (s == MEND_OK)
                pil_pass_vertical(cur, row0, &cv, out);
        } else {
            s = mend_image_copy(cur, out, err);
        }
    }
    mend_image_free(&tmp);
    pil_coeffs_free(&ch);
    pil_coeffs_free(&cv);
    return s;
}

/* Pastes a resize of `src` (box, size) at (x, y) on dst, BICUBIC (the
 * default filter of Image.resize) — A1111's edge-band stretch. */
static mend_status paste_band(mend_image *dst, const mend_image *src, int w, int h, const float box[4], int x, int y,
                              mend_err *err)
{
    mend_image band;
    MEND_TRY(mend_pil_resize(src, w, h, MEND_PIL_BICUBIC, box, &band, err));
    mend_pil_paste(dst, &band, x, y);
    mend_image_free(&band);
    return MEND_OK;
}

/* resize_image mode 2 without the fill: sizes and the fill bands. */
static mend_status resize_and_fill(const mend_image *src, int width, int height, mend_image *res, mend_err *err)
{
    double ratio = (double)width / height, src_ratio = (double)src->width / src->height;
    int src_w = ratio < src_ratio ? width : src->width * height / src->height;
    int src_h = ratio >= src_ratio ? height : src->height * width / src->width;
    mend_image resized;
    MEND_TRY(mend_pil_resize(src, src_w, src_h, MEND_PIL_LANCZOS, NULL, &resized, err));
    mend_status s = mend_image_alloc(res, width, height, 3, err);
    if (s != MEND_OK) {
        mend_image_free(&resized);
        return s;
    }
    mend_pil_paste(res, &resized, width / 2 - src_w / 2, height / 2 - src_h / 2);
    float rw = (float)resized.width, rh = (float)resized.height;
    if (ratio < src_ratio) {
        int fill = height / 2 - src_h / 2;
        if (fill > 0) {
            s = paste_band(res, &resized, width, fill, (float[]){0, 0, (float)width, 0}, 0, 0, err);
            if (s == MEND_OK)
                s = paste_band(res, &resized, width, fill, (float[]){0, rh, (float)width, rh}, 0, fill + src_h, err);
        }
    } else if (ratio > src_ratio) {
        int fill = width / 2 - src_w / 2;
        if (fill > 0) {
            s = paste_band(res, &resized, fill, height, (float[]){0, 0, 0, (float)height}, 0, 0, err);
            if (s == MEND_OK)
                s = paste_band(res, &resized, fill, height, (float[]){rw, 0, rw, (float)height}, fill + src_w, 0, err);
        }
    }
    mend_image_free(&resized);
    if (s != MEND_OK)
        mend_image_free(res);
    return s;
}

mend_status mend_resize_image(int mode, const mend_image *src, int width, int height, mend_image *out, mend_err *err)
{
    if (mode < 0 || mode > 3)
        return mend_fail(err, MEND_E_ARG, "resize mode %d not supported (0..3)", mode);
    if (width < 1 || height < 1 || width > MEND_IMAGE_MAX_SIDE || height > MEND_IMAGE_MAX_SIDE)
        return mend_fail(err, MEND_E_ARG, "resize to %dx%d: size out of range", width, height);
    if (mode == 0)
        return mend_pil_resize(src, width, height, MEND_PIL_LANCZOS, NULL, out, err);
    if (mode != 1)
        return resize_and_fill(src, width, height, out, err);
    double ratio = (double)width / height, src_ratio = (double)src->width / src->height;
    int src_w = ratio > src_ratio ? width : src->width * height / src->height;
    int src_h = ratio <= src_ratio ? height : src->height * width / src->width;
    mend_image resized;
    MEND_TRY(mend_pil_resize(src, src_w, src_h, MEND_PIL_LANCZOS, NULL, &resized, err));
    mend_status s = mend_image_alloc(out, width, height, 3, err);
    if (s == MEND_OK)
        mend_pil_paste(out, &resized, width / 2 - src_w / 2, height / 2 - src_h / 2);
    mend_image_free(&resized);
    return s;
}
