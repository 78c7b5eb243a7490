/* The two Gaussian blurs A1111 uses, reproduced bit-exactly:
 *  - OpenCV 4.x cv2.GaussianBlur on uint8 (mask blur): taps quantised to
 *    Q8 with error diffusion, integer sums, rounding after each 1-D call;
 *  - Pillow's GaussianBlur: three extended box blurs per axis in 24-bit
 *    fixed point (BoxBlur.c), edges extended. */
#include "inpaint/imageops.h"

#include "core/threads.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------- OpenCV ---------------- */

static double gauss_term(int x, double scale2x)
{
    double arg = (double)(x * x) * scale2x;
    return exp(arg);
}

void mend_cv2_gaussian_kernel_q8(int n, double sigma, int *taps)
{
    /* getGaussianKernelBitExact: IEEE double arithmetic in this order (the
     * statements are split so no compiler may fuse a multiply-add). x runs
     * over odd numbers 1-n, 3-n, ... and scale2X = -1/(8 sigma^2) so that
     * x^2 * scale2X = -(i - c)^2 / (2 sigma^2). */
    double sigma_x = sigma > 0 ? sigma : fma((double)n, 0.15, 0.35);
    double sigma_sq = sigma_x * sigma_x;
    double scale2x = -0.125 / sigma_sq;
    int half = (n - 1) / 2;
    double sum = 0.0;
    for (int i = 0, x = 1 - n; i < half; i++, x += 2)
        sum += gauss_term(x, scale2x);
    sum *= 2.0;
    sum += 1.0;
    if ((n & 1) == 0)
        sum += 1.0;
    double mul = 1.0 / sum;
    /* getGaussianKernelFixedPoint_ED: round each outer tap (half to even)
     * carrying the rounding error inwards; the centre takes the rest. The
     * terms are recomputed (same expression, same value) instead of stored. */
    double carry = 0.0;
    int total = 0;
    for (int i = 0, x = 1 - n; i < half; i++, x += 2) {
        double scaled = gauss_term(x, scale2x) * mul;
        double adj = scaled * 256.0;
        adj += carry;
        double v = nearbyint(adj);
        carry = adj - v;
        taps[i] = taps[n - 1 - i] = (int)v;
        total += (int)v;
    }
    taps[half] = 256 - 2 * total;
}

/* cv::borderInterpolate for BORDER_REFLECT_101 (gfedcb|abcdefgh|gfedcba),
 * repeated for offsets beyond one image length. */
static int reflect101(int p, int len)
{
    if (len == 1)
        return 0;
    while ((unsigned)p >= (unsigned)len)
        p = p < 0 ? -p : 2 * (len - 1) - p;
    return p;
}

typedef struct cv_pass {
    const mend_image *src;
    mend_image *dst;
    const int *taps;
    int ntaps;
    int horizontal;
} cv_pass;

/* One 1-D cv2.GaussianBlur call: sum of Q8 taps, (sum + 128) >> 8. (The
 * orthogonal size-1 kernel of OpenCV is exactly 256, so its Q16 rounding
 * reduces to this.) */
static void cv_pass_rows(void *ctx, int64_t y0, int64_t y1, int thread)
{
    const cv_pass *p = ctx;
    const mend_image *s = p->src;
    int w = s->width, h = s->height, ch = s->channels, half = p->ntaps / 2;
    int len = p->horizontal ? w : h;
    for (int64_t y = y0; y < y1; y++) {
        for (int x = 0; x < w; x++) {
            for (int c = 0; c < ch; c++) {
                uint32_t acc = 0;
                for (int t = 0; t < p->ntaps; t++) {
                    if (!p->taps[t])
                        continue;
                    int pos = (p->horizontal ? x : (int)y) + t - half;
                    pos = reflect101(pos, len);
                    size_t idx = p->horizontal ? ((size_t)y * w + pos) : ((size_t)pos * w + x);
                    acc += (uint32_t)p->taps[t] * s->data[idx * ch + c];
                }
                p->dst->data[((size_t)y * w + x) * ch + c] = (uint8_t)((acc + 128) >> 8);
            }
        }
    }
}

static mend_status cv_blur_axis(const mend_image *src, int blur, int horizontal, mend_image *out, mend_err *err)
{
    int n = 2 * (int)(2.5 * blur + 0.5) + 1;
    MEND_TRY(mend_image_alloc(out, src->width, src->height, src->channels, err));
    /* OpenCV shrinks the kernel to 1 along an axis of length 1 (identity). */
    if ((horizontal ? src->width : src->height) == 1) {
        memcpy(out->data, src->data, mend_image_size(src));
        return MEND_OK;
    }
    int *taps = malloc(sizeof *taps * (size_t)n);
    if (!taps) {
        mend_image_free(out);
        return mend_fail(err, MEND_E_NOMEM, "out of memory for a %d-tap blur kernel", n);
    }
    mend_cv2_gaussian_kernel_q8(n, (double)blur, taps);
    cv_pass pass = {src, out, taps, n, horizontal};
    mend_parallel_for(src->height, cv_pass_rows, &pass);
    free(taps);
    return MEND_OK;
}

mend_status mend_cv2_mask_blur(const mend_image *src, int blur_x, int blur_y, mend_image *out, mend_err *err)
{
    if (blur_x < 0 || blur_y < 0 || blur_x > 1000 || blur_y > 1000)
        return mend_fail(err, MEND_E_ARG, "mask blur %d,%d out of range (0..1000)", blur_x, blur_y);
    if (blur_x == 0 && blur_y == 0)
        return mend_image_copy(src, out, err);
    if (blur_x == 0)
        return cv_blur_axis(src, blur_y, 0, out, err);
    if (blur_y == 0)
        return cv_blur_axis(src, blur_x, 1, out, err);
    mend_image tmp;
    MEND_TRY(cv_blur_axis(src, blur_x, 1, &tmp, err));
    mend_status s = cv_blur_axis(&tmp, blur_y, 0, out, err);
    mend_image_free(&tmp);
    return s;
}

/* ---------------- Pillow ---------------- */

/* _gaussian_blur_radius: box radius l + a whose 3-pass extended box blur
 * has the variance of the Gaussian, in float as Pillow computes it. */
static float pil_box_radius(float radius, int passes)
{
    float sigma2 = radius * radius / (float)passes;
    float big_l = (float)sqrt(12.0 * sigma2 + 1.0);
    float l = (float)floor((big_l - 1.0) / 2.0);
    float a = (2 * l + 1) * (l * (l + 1) - 3 * sigma2);
    a /= 6 * (sigma2 - (l + 1) * (l + 1));
    return l + a;
}

/* One extended box blur of a line of n samples `stride` apart (in place
 * through the scratch copy `line`): window of 2r+1 full weights plus the
 * two next samples with the fractional weight fw, edges extended. */
static void pil_box_line(uint8_t *data, size_t stride, int n, uint8_t *line, int r, uint32_t ww, uint32_t fw)
{
    for (int i = 0; i < n; i++)
        line[i] = data[(size_t)i * stride];
    int last = n - 1;
#define AT(i) line[(i) < 0 ? 0 : (i) > last ? last : (i)]
    uint32_t acc = 0;
    for (int i = -r - 1; i <= r - 1; i++)
        acc += AT(i);
    for (int x = 0; x < n; x++) {
        acc += (uint32_t)AT(x + r) - AT(x - r - 1);
        uint32_t bulk = acc * ww + ((uint32_t)AT(x - r - 1) + AT(x + r + 1)) * fw;
        data[(size_t)x * stride] = (uint8_t)((bulk + (1u << 23)) >> 24);
    }
#undef AT
}

/* ImagingHorizontalBoxBlur weights for a fractional radius. */
static void pil_box_weights(float radius, int *r, uint32_t *ww, uint32_t *fw)
{
    *r = (int)radius;
    *ww = (uint32_t)((float)(1u << 24) / (radius * 2 + 1));
    *fw = ((1u << 24) - (uint32_t)(*r * 2 + 1) * *ww) / 2;
}

mend_status mend_pil_gaussian_blur(const mend_image *src, float radius, mend_image *out, mend_err *err)
{
    if (!(radius >= 0))
        return mend_fail(err, MEND_E_ARG, "Gaussian blur radius %g must be >= 0", (double)radius);
    MEND_TRY(mend_image_copy(src, out, err));
    float box = pil_box_radius(radius, 3);
    if (box == 0)
        return MEND_OK;
    int r;
    uint32_t ww, fw;
    pil_box_weights(box, &r, &ww, &fw);
    int w = src->width, h = src->height, ch = src->channels;
    uint8_t *line = malloc((size_t)(w > h ? w : h));
    if (!line) {
        mend_image_free(out);
        return mend_fail(err, MEND_E_NOMEM, "out of memory for a box blur line");
    }
    for (int pass = 0; pass < 3; pass++)
        for (int y = 0; y < h; y++)
            for (int c = 0; c < ch; c++)
                pil_box_line(out->data + (size_t)y * w * ch + c, (size_t)ch, w, line, r, ww, fw);
    for (int pass = 0; pass < 3; pass++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < ch; c++)
                pil_box_line(out->data + (size_t)x * ch + c, (size_t)w * ch, h, line, r, ww, fw);
    free(line);
    return MEND_OK;
}
