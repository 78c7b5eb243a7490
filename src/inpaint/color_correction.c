#include "inpaint/color_correction.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- RGB -> LAB, OpenCV's 8-bit fixed point (color_lab.cpp RGB2Lab_b) ---- */

enum {
    GAMMA_SHIFT = 3,                 /* gamma table: linear light on 0..255*8 */
    LAB_SHIFT = 12,                  /* XYZ coefficients */
    LAB_SHIFT2 = LAB_SHIFT + GAMMA_SHIFT,
    CBRT_TAB_SIZE = 256 * 3 / 2 * (1 << GAMMA_SHIFT),
};

static const double SRGB_TO_XYZ[9] = {0.412453, 0.357580, 0.180423, 0.212671, 0.715160,
                                      0.072169, 0.019334, 0.119193, 0.950227};
static const double XYZ_TO_SRGB[9] = {3.240479, -1.53715, -0.498535, -0.969256, 1.875991,
                                      0.041556, 0.055648, -0.204043, 1.057311};
static const double D65[3] = {0.950456, 1.0, 1.088754};

typedef struct lab_tables {
    int gamma[256];
    int cbrt[CBRT_TAB_SIZE];
    int coeffs[9];
} lab_tables;

static int round_half_away(double v)
{
    return (int)lround(v); /* cvRound of these positive table values */
}

static double srgb_to_linear(double v)
{
    return v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4);
}

static double linear_to_srgb(double v)
{
    return v <= 0.0031308 ? v * 12.92 : 1.055 * pow(v, 1.0 / 2.4) - 0.055;
}

static void build_lab_tables(lab_tables *t)
{
    for (int i = 0; i < 256; i++)
        t->gamma[i] = round_half_away(255.0 * (1 << GAMMA_SHIFT) * srgb_to_linear(i / 255.0));
    /* the index is XYZ/white on 0..2040; CIE's f with its exact constants */
    const double knee = 216.0 / 24389.0, slope = 841.0 / 108.0, offset = 16.0 / 116.0;
    for (int i = 0; i < CBRT_TAB_SIZE; i++) {
        double x = (double)((float)i / (float)(255 * (1 << GAMMA_SHIFT))); /* OpenCV: single precision */
        double f = x < knee ? x * slope + offset : cbrt(x);
        t->cbrt[i] = round_half_away((1 << LAB_SHIFT2) * f);
    }
    for (int i = 0; i < 9; i++)
        t->coeffs[i] = round_half_away((1 << LAB_SHIFT) * SRGB_TO_XYZ[i] / D65[i / 3]);
}

static lab_tables g_tables;
static pthread_once_t g_tables_once = PTHREAD_ONCE_INIT;

static void init_tables(void)
{
    build_lab_tables(&g_tables);
}

static const lab_tables *get_lab_tables(void)
{
    pthread_once(&g_tables_once, init_tables);
    return &g_tables;
}

static int descale(int v, int bits)
{
    return (v + (1 << (bits - 1))) >> bits; /* arithmetic shift: floors negatives, as OpenCV */
}

static uint8_t sat_u8(int v)
{
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

void mend_rgb_to_lab8(const uint8_t *rgb, uint8_t *lab, int64_t n)
{
    const lab_tables *t = get_lab_tables();
    const int *c = t->coeffs;
    const int l_scale = (116 * 255 + 50) / 100;
    const int l_shift = -((16 * 255 * (1 << LAB_SHIFT2) + 50) / 100);
    for (int64_t i = 0; i < n; i++) {
        int r = t->gamma[rgb[3 * i]], g = t->gamma[rgb[3 * i + 1]], b = t->gamma[rgb[3 * i + 2]];
        int f[3];
        for (int k = 0; k < 3; k++) {
            int idx = descale(r * c[3 * k] + g * c[3 * k + 1] + b * c[3 * k + 2], LAB_SHIFT);
            f[k] = t->cbrt[idx < 0 ? 0 : idx >= CBRT_TAB_SIZE ? CBRT_TAB_SIZE - 1 : idx];
        }
        lab[3 * i] = sat_u8(descale(l_scale * f[1] + l_shift, LAB_SHIFT2));
        lab[3 * i + 1] = sat_u8(descale(500 * (f[0] - f[1]) + 128 * (1 << LAB_SHIFT2), LAB_SHIFT2));
        lab[3 * i + 2] = sat_u8(descale(200 * (f[1] - f[2]) + 128 * (1 << LAB_SHIFT2), LAB_SHIFT2));
    }
}

/* ---- LAB -> RGB, OpenCV's floating-point formula (Lab2RGB_f) ---- */

static double lab_f_inverse(double f)
{
    const double f_thresh = 7.787 * 0.008856 + 16.0 / 116.0;
    return f <= f_thresh ? (f - 16.0 / 116.0) / 7.787 : f * f * f;
}

void mend_lab8_to_rgb(const uint8_t *lab, uint8_t *rgb, int64_t n)
{
    const double l_thresh = 0.008856 * 903.3;
    for (int64_t i = 0; i < n; i++) {
        double L = lab[3 * i] * (100.0 / 255.0), a = lab[3 * i + 1] - 128.0, b = lab[3 * i + 2] - 128.0;
        double y, fy;
        if (L <= l_thresh) {
            y = L / 903.3;
            fy = 7.787 * y + 16.0 / 116.0;
        } else {
            fy = (L + 16.0) / 116.0;
            y = fy * fy * fy;
        }
        double xyz[3] = {lab_f_inverse(a / 500.0 + fy) * D65[0], y, lab_f_inverse(fy - b / 200.0) * D65[2]};
        for (int k = 0; k < 3; k++) {
            double v = XYZ_TO_SRGB[3 * k] * xyz[0] + XYZ_TO_SRGB[3 * k + 1] * xyz[1] + XYZ_TO_SRGB[3 * k + 2] * xyz[2];
            v = v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v;
            rgb[3 * i + k] = sat_u8((int)lrint(255.0 * linear_to_srgb(v)));
        }
    }
}

/* ---- histogram matching (skimage.exposure._match_cumulative_cdf, uint8) ---- */

/* np.interp(x, xp, fp) for increasing xp: clamps outside, exact at a knot. */
static double interp(double x, const double *xp, const double *fp, int n)
{
    if (x < xp[0])
        return fp[0];
    if (x >= xp[n - 1])
        return fp[n - 1];
    int lo = 0, hi = n - 1; /* xp[lo] <= x < xp[hi] */
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (xp[mid] <= x)
            lo = mid;
        else
            hi = mid;
    }
    if (xp[lo] == x)
        return fp[lo];
    double slope = (fp[lo + 1] - fp[lo]) / (xp[lo + 1] - xp[lo]);
    return slope * (x - xp[lo]) + fp[lo];
}

static void match_channel(const uint8_t *src, int64_t n_src, const uint8_t *ref, int64_t n_ref, int stride,
                          uint8_t *out)
{
    int64_t src_count[256] = {0}, ref_count[256] = {0};
    for (int64_t i = 0; i < n_src; i++)
        src_count[src[i * stride]]++;
    for (int64_t i = 0; i < n_ref; i++)
        ref_count[ref[i * stride]]++;
    double ref_q[256], ref_v[256];
    int n_vals = 0;
    int64_t cum = 0;
    for (int v = 0; v < 256; v++) {
        if (!ref_count[v])
            continue; /* skimage omits values the reference lacks */
        cum += ref_count[v];
        ref_q[n_vals] = (double)cum / (double)n_ref;
        ref_v[n_vals++] = v;
    }
    uint8_t lut[256];
    cum = 0;
    for (int v = 0; v < 256; v++) {
        cum += src_count[v];
        double m = interp((double)cum / (double)n_src, ref_q, ref_v, n_vals);
        lut[v] = (uint8_t)m; /* stored into a uint8 array: truncation */
    }
    for (int64_t i = 0; i < n_src; i++)
        out[i * stride] = lut[src[i * stride]];
}

void mend_match_histograms(const uint8_t *src, int64_t n_src, const uint8_t *ref, int64_t n_ref, int channels,
                           uint8_t *out)
{
    if (n_src <= 0 || n_ref <= 0)
        return;
    for (int c = 0; c < channels; c++)
        match_channel(src + c, n_src, ref + c, n_ref, channels, out + c);
}

/* ---- luminosity blend (blendmodes 2022: luminosity = _setLum(bg, _lum(fg))) ---- */

static double lum(const double c[3])
{
    return c[0] * 0.299 + c[1] * 0.587 + c[2] * 0.114;
}

static void blend_pixel(const uint8_t *bg, const uint8_t *fg, uint8_t *out)
{
    double b[3], f[3];
    for (int k = 0; k < 3; k++) {
        b[k] = bg[k] / 255.0;
        f[k] = fg[k] / 255.0;
    }
    double d = lum(f) - lum(b);
    double c[3] = {b[0] + d, b[1] + d, b[2] + d};
    double l = lum(c);
    double lo = fmin(c[0], fmin(c[1], c[2])), hi = fmax(c[0], fmax(c[1], c[2]));
    /* ClipColor; blendmodes tests the max taken before the min clip */
    if (lo < 0)
        for (int k = 0; k < 3; k++)
            c[k] = l + ((c[k] - l) * l) / (l - lo);
    if (hi > 1)
        for (int k = 0; k < 3; k++)
            c[k] = l + ((c[k] - l) * (1 - l)) / (hi - l);
    for (int k = 0; k < 3; k++) {
        double v = rint(c[k] * 255.0); /* numpy round: half to even */
        out[k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

void mend_blend_luminosity(const uint8_t *background, const uint8_t *foreground, int64_t n, uint8_t *out)
{
    for (int64_t i = 0; i < n; i++)
        blend_pixel(background + 3 * i, foreground + 3 * i, out + 3 * i);
}

/* ---- the A1111 steps ---- */

mend_status mend_color_correction_target(const mend_image *rgb, mend_image *lab, mend_err *err)
{
    if (rgb->channels != 3)
        return mend_fail(err, MEND_E_ARG, "colour correction target: %d channels, expected RGB", rgb->channels);
    MEND_TRY(mend_image_alloc(lab, rgb->width, rgb->height, 3, err));
    mend_rgb_to_lab8(rgb->data, lab->data, (int64_t)rgb->width * rgb->height);
    return MEND_OK;
}

mend_status mend_apply_color_correction(const mend_image *target, mend_image *img, mend_err *err)
{
    if (img->channels != 3 || target->channels != 3)
        return mend_fail(err, MEND_E_ARG, "colour correction: image has %d channels, target %d; both must be 3",
                         img->channels, target->channels);
    int64_t n = (int64_t)img->width * img->height;
    uint8_t *work = malloc((size_t)n * 3);
    if (!work)
        return mend_fail(err, MEND_E_NOMEM, "colour correction: out of memory for %lldx%lld pixels",
                         (long long)img->width, (long long)img->height);
    mend_rgb_to_lab8(img->data, work, n);
    mend_match_histograms(work, n, target->data, (int64_t)target->width * target->height, 3, work);
    mend_lab8_to_rgb(work, work, n);
    mend_blend_luminosity(work, img->data, n, img->data);
    free(work);
    return MEND_OK;
}
