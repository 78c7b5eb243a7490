/* A1111 v1.10.1 mask handling: create_binary_mask, masking.py (crop
 * regions, fill), the latent / conditioning masks and apply_overlay. */
#include "inpaint/imageops.h"

#include <math.h>
#include <string.h>

mend_status mend_create_binary_mask(const mend_image *mask, int round, mend_image *out, mend_err *err)
{
    int use_alpha = 0;
    size_t n = (size_t)mask->width * mask->height;
    if (mask->channels == 4)
        for (size_t i = 0; i < n && !use_alpha; i++)
            use_alpha = mask->data[4 * i + 3] != 255;
    if (!use_alpha)
        return mend_pil_to_gray(mask, out, err);
    MEND_TRY(mend_image_alloc(out, mask->width, mask->height, 1, err));
    for (size_t i = 0; i < n; i++) {
        uint8_t a = mask->data[4 * i + 3];
        out->data[i] = round ? (a > 128 ? 255 : 0) : a;
    }
    return MEND_OK;
}

/* PIL getbbox() of the non-zero pixels (any channel); 0 if none. */
static int nonzero_bbox(const mend_image *mask, int box[4])
{
    int x1 = mask->width, y1 = mask->height, x2 = 0, y2 = 0, ch = mask->channels;
    for (int y = 0; y < mask->height; y++) {
        const uint8_t *row = mask->data + (size_t)y * mask->width * ch;
        for (int x = 0; x < mask->width; x++) {
            int set = 0;
            for (int c = 0; c < ch; c++)
                set |= row[(size_t)x * ch + c];
            if (set) {
                if (x < x1)
                    x1 = x;
                if (x >= x2)
                    x2 = x + 1;
                if (y < y1)
                    y1 = y;
                y2 = y + 1;
            }
        }
    }
    if (x2 == 0)
        return 0;
    box[0] = x1;
    box[1] = y1;
    box[2] = x2;
    box[3] = y2;
    return 1;
}

static int imax(int a, int b)
{
    return a > b ? a : b;
}

static int imin(int a, int b)
{
    return a < b ? a : b;
}

int mend_get_crop_region_v2(const mend_image *mask, int pad, int box[4])
{
    int b[4];
    if (!nonzero_bbox(mask, b))
        return 0;
    if (pad) {
        b[0] = imax(b[0] - pad, 0);
        b[1] = imax(b[1] - pad, 0);
        b[2] = imin(b[2] + pad, mask->width);
        b[3] = imin(b[3] + pad, mask->height);
    }
    memcpy(box, b, sizeof b);
    return 1;
}

void mend_get_crop_region(const mend_image *mask, int pad, int box[4])
{
    if (mend_get_crop_region_v2(mask, pad, box))
        return;
    box[0] = imax(mask->width - pad, 0);
    box[1] = imax(mask->height - pad, 0);
    box[2] = imin(pad, mask->width);
    box[3] = imin(pad, mask->height);
}

/* Python floor division for the (possibly negative) grow amounts. */
static int floordiv2(int v)
{
    return v >= 0 ? v / 2 : -((-v + 1) / 2);
}

/* Grows [*lo, *hi) by `grow` (extra pixel after), then shifts / clamps into
 * [0, limit] exactly as expand_crop_region does for one axis. */
static void grow_axis(int *lo, int *hi, int grow, int limit)
{
    *lo -= floordiv2(grow);
    *hi += grow - floordiv2(grow);
    if (*hi >= limit) {
        int diff = *hi - limit;
        *hi -= diff;
        *lo -= diff;
    }
    if (*lo < 0) {
        *hi -= *lo;
        *lo = 0;
    }
    if (*hi >= limit)
        *hi = limit;
}

void mend_expand_crop_region(const int box[4], int width, int height, int image_w, int image_h, int out[4])
{
    int x1 = box[0], y1 = box[1], x2 = box[2], y2 = box[3];
    double ratio_crop = (double)(x2 - x1) / (y2 - y1);
    double ratio_proc = (double)width / height;
    if (ratio_crop > ratio_proc) {
        double desired_h = (x2 - x1) / ratio_proc;
        grow_axis(&y1, &y2, (int)(desired_h - (y2 - y1)), image_h);
    } else {
        double desired_w = (y2 - y1) * ratio_proc;
        grow_axis(&x1, &x2, (int)(desired_w - (x2 - x1)), image_w);
    }
    out[0] = x1;
    out[1] = y1;
    out[2] = x2;
    out[3] = y2;
}

/* One level of the fill: blur the known pixels, un-premultiply, composite
 * `repeats` times over the accumulator. */
static mend_status fill_level(const mend_image *known, float radius, int repeats, mend_image *acc, mend_err *err)
{
    mend_image blurred;
    MEND_TRY(mend_pil_gaussian_blur(known, radius, &blurred, err));
    mend_pil_unpremultiply(&blurred);
    mend_status s = MEND_OK;
    for (int r = 0; r < repeats && s == MEND_OK; r++)
        s = mend_pil_alpha_composite(acc, &blurred, err);
    mend_image_free(&blurred);
    return s;
}

mend_status mend_masking_fill(const mend_image *image, const mend_image *mask, mend_image *out, mend_err *err)
{
    static const struct {
        float radius;
        int repeats;
    } levels[] = {{256, 1}, {64, 1}, {16, 2}, {4, 4}, {2, 2}, {0, 1}};
    if (mask->width != image->width || mask->height != image->height)
        return mend_fail(err, MEND_E_ARG, "fill: mask %dx%d does not match image %dx%d", mask->width, mask->height,
                         image->width, image->height);
    mend_image keep, known = {0}, acc = {0};
    MEND_TRY(mend_pil_to_gray(mask, &keep, err));
    mend_image_invert(&keep);
    mend_status s = mend_pil_premultiplied_paste(image, &keep, &known, err);
    if (s == MEND_OK)
        s = mend_image_alloc(&acc, image->width, image->height, 4, err);
    for (size_t i = 0; s == MEND_OK && i < sizeof levels / sizeof levels[0]; i++)
        s = fill_level(&known, levels[i].radius, levels[i].repeats, &acc, err);
    if (s == MEND_OK)
        s = mend_pil_to_rgb(&acc, out, err);
    mend_image_free(&keep);
    mend_image_free(&known);
    mend_image_free(&acc);
    return s;
}

/* Channel 0 of a mask as a 1-channel image (A1111's RGB masks have three
 * equal channels; convert("L") of equal channels is that channel). */
static mend_status mask_channel0(const mend_image *mask, mend_image *out, mend_err *err)
{
    MEND_TRY(mend_image_alloc(out, mask->width, mask->height, 1, err));
    size_t n = (size_t)mask->width * mask->height;
    for (size_t i = 0; i < n; i++)
        out->data[i] = mask->data[i * mask->channels];
    return MEND_OK;
}

mend_status mend_latent_mask(const mend_image *image_mask, int lw, int lh, int round, float *out, mend_err *err)
{
    mend_image m, small;
    MEND_TRY(mask_channel0(image_mask, &m, err));
    mend_status s = mend_pil_resize(&m, lw, lh, MEND_PIL_BICUBIC, NULL, &small, err);
    mend_image_free(&m);
    if (s != MEND_OK)
        return s;
    for (size_t i = 0; i < (size_t)lw * lh; i++) {
        float v = (float)small.data[i] / 255.0f;
        out[i] = round ? nearbyintf(v) : v;
    }
    mend_image_free(&small);
    return MEND_OK;
}

mend_status mend_inpaint_cond_mask(const mend_image *image_mask, float *fullres, int lw, int lh, float *latent,
                                   mend_err *err)
{
    mend_image m;
    MEND_TRY(mend_pil_to_gray(image_mask, &m, err));
    int w = m.width, h = m.height;
    if (fullres)
        for (size_t i = 0; i < (size_t)w * h; i++)
            fullres[i] = nearbyintf((float)m.data[i] / 255.0f);
    if (latent) {
        /* torch.nn.functional.interpolate(mode="nearest"):
         * src = min(floor(dst * (in / out)), in - 1) in float. */
        float sy = (float)h / (float)lh, sx = (float)w / (float)lw;
        for (int y = 0; y < lh; y++) {
            int iy = imin((int)floorf((float)y * sy), h - 1);
            for (int x = 0; x < lw; x++) {
                int ix = imin((int)floorf((float)x * sx), w - 1);
                latent[(size_t)y * lw + x] = nearbyintf((float)m.data[(size_t)iy * w + ix] / 255.0f);
            }
        }
    }
    mend_image_free(&m);
    return MEND_OK;
}

/* processing.uncrop: the generated image crop-and-resized into its paste
 * rectangle on a transparent canvas. */
static mend_status uncrop(const mend_image *generated, const int paste_to[4], int canvas_w, int canvas_h,
                          mend_image *canvas, mend_err *err)
{
    mend_image fitted;
    MEND_TRY(mend_resize_image(1, generated, paste_to[2], paste_to[3], &fitted, err));
    mend_status s = mend_image_alloc(canvas, canvas_w, canvas_h, 4, err);
    if (s == MEND_OK)
        mend_pil_paste(canvas, &fitted, paste_to[0], paste_to[1]);
    mend_image_free(&fitted);
    return s;
}

mend_status mend_apply_overlay(const mend_image *generated, const int *paste_to, const mend_image *overlay,
                               mend_image *out, mend_err *err)
{
    if (overlay->channels != 4)
        return mend_fail(err, MEND_E_ARG, "apply_overlay: overlay must be RGBA (has %d channels)", overlay->channels);
    mend_image base;
    if (paste_to)
        MEND_TRY(uncrop(generated, paste_to, overlay->width, overlay->height, &base, err));
    else
        MEND_TRY(mend_pil_to_rgba(generated, &base, err));
    mend_status s = mend_pil_alpha_composite(&base, overlay, err);
    if (s == MEND_OK)
        s = mend_pil_to_rgb(&base, out, err);
    mend_image_free(&base);
    return s;
}
