/* Pillow's mode conversions, crop, paste and alpha_composite on 8-bit
 * images, with Pillow's integer rounding (Convert.c, Paste.c,
 * AlphaComposite.c). */
#include "inpaint/imageops.h"

#include <string.h>

/* (a + 128 + ((a + 128) >> 8)) >> 8: Pillow's rounded a / 255. */
static inline uint8_t div255(uint32_t a)
{
    uint32_t t = a + 128;
    return (uint8_t)(((t >> 8) + t) >> 8);
}

static inline uint8_t luma601(const uint8_t *p)
{
    return (uint8_t)((19595u * p[0] + 38470u * p[1] + 7471u * p[2] + 0x8000u) >> 16);
}

mend_status mend_pil_to_gray(const mend_image *src, mend_image *out, mend_err *err)
{
    if (src->channels == 1)
        return mend_image_copy(src, out, err);
    MEND_TRY(mend_image_alloc(out, src->width, src->height, 1, err));
    size_t n = (size_t)src->width * src->height;
    for (size_t i = 0; i < n; i++)
        out->data[i] = luma601(src->data + i * src->channels);
    return MEND_OK;
}

/* Copies to `channels` channels: grey replicates, missing alpha is 255,
 * extra channels are dropped. */
static mend_status convert_channels(const mend_image *src, int channels, mend_image *out, mend_err *err)
{
    MEND_TRY(mend_image_alloc(out, src->width, src->height, channels, err));
    size_t n = (size_t)src->width * src->height;
    int sc = src->channels;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *s = src->data + i * sc;
        uint8_t *d = out->data + i * channels;
        for (int c = 0; c < channels; c++) {
            if (c == 3)
                d[c] = sc == 4 ? s[3] : 255;
            else
                d[c] = sc == 1 ? s[0] : s[c];
        }
    }
    return MEND_OK;
}

mend_status mend_pil_to_rgb(const mend_image *src, mend_image *out, mend_err *err)
{
    return convert_channels(src, 3, out, err);
}

mend_status mend_pil_to_rgba(const mend_image *src, mend_image *out, mend_err *err)
{
    return convert_channels(src, 4, out, err);
}

mend_status mend_pil_crop(const mend_image *src, const int box[4], mend_image *out, mend_err *err)
{
    if (box[0] < 0 || box[1] < 0 || box[2] > src->width || box[3] > src->height || box[2] <= box[0] ||
        box[3] <= box[1])
        return mend_fail(err, MEND_E_ARG, "crop box (%d,%d,%d,%d) not inside the %dx%d image", box[0], box[1], box[2],
                         box[3], src->width, src->height);
    int w = box[2] - box[0], h = box[3] - box[1], ch = src->channels;
    MEND_TRY(mend_image_alloc(out, w, h, ch, err));
    for (int y = 0; y < h; y++)
        memcpy(out->data + (size_t)y * w * ch, src->data + ((size_t)(y + box[1]) * src->width + box[0]) * ch,
               (size_t)w * ch);
    return MEND_OK;
}

mend_status mend_pil_crop_any(const mend_image *src, const int box[4], mend_image *out, mend_err *err)
{
    if (box[0] >= 0 && box[1] >= 0 && box[2] <= src->width && box[3] <= src->height)
        return mend_pil_crop(src, box, out, err);
    int w = box[2] - box[0], h = box[3] - box[1], ch = src->channels;
    if (w < 1 || h < 1 || w > MEND_IMAGE_MAX_SIDE || h > MEND_IMAGE_MAX_SIDE)
        return mend_fail(err, MEND_E_ARG, "crop box (%d,%d,%d,%d): empty or too large", box[0], box[1], box[2],
                         box[3]);
    MEND_TRY(mend_image_alloc(out, w, h, ch, err));
    memset(out->data, 0, mend_image_size(out));
    for (int y = 0; y < h; y++) {
        int sy = y + box[1];
        if (sy < 0 || sy >= src->height)
            continue;
        int x0 = box[0] < 0 ? -box[0] : 0, x1 = box[2] > src->width ? src->width - box[0] : w;
        if (x1 > x0)
            memcpy(out->data + ((size_t)y * w + x0) * ch, src->data + ((size_t)sy * src->width + box[0] + x0) * ch,
                   (size_t)(x1 - x0) * ch);
    }
    return MEND_OK;
}

void mend_pil_paste(mend_image *dst, const mend_image *src, int x, int y)
{
    int sx = 0, sy = 0, w = src->width, h = src->height;
    if (x < 0) {
        sx = -x;
        w += x;
        x = 0;
    }
    if (y < 0) {
        sy = -y;
        h += y;
        y = 0;
    }
    if (x + w > dst->width)
        w = dst->width - x;
    if (y + h > dst->height)
        h = dst->height - y;
    int dc = dst->channels, sc = src->channels;
    for (int j = 0; j < h; j++) {
        const uint8_t *s = src->data + ((size_t)(j + sy) * src->width + sx) * sc;
        uint8_t *d = dst->data + ((size_t)(j + y) * dst->width + x) * dc;
        for (int i = 0; i < w; i++, s += sc, d += dc) {
            for (int c = 0; c < dc; c++) {
                if (c == 3)
                    d[c] = sc == 4 ? s[3] : 255;
                else if (dc == 1)
                    d[c] = sc == 1 ? s[0] : luma601(s);
                else
                    d[c] = sc == 1 ? s[0] : s[c];
            }
        }
    }
}

mend_status mend_pil_alpha_composite(mend_image *dst, const mend_image *src, mend_err *err)
{
    if (dst->channels != 4 || src->channels != 4 || dst->width != src->width || dst->height != src->height)
        return mend_fail(err, MEND_E_ARG, "alpha_composite needs two RGBA images of one size (got %dx%dx%d, %dx%dx%d)",
                         dst->width, dst->height, dst->channels, src->width, src->height, src->channels);
    enum { PREC = 7 };
    size_t n = (size_t)dst->width * dst->height;
    for (size_t i = 0; i < n; i++) {
        uint8_t *d = dst->data + 4 * i;
        const uint8_t *s = src->data + 4 * i;
        if (s[3] == 0)
            continue;
        uint32_t blend = (uint32_t)d[3] * (255u - s[3]);
        uint32_t outa255 = (uint32_t)s[3] * 255u + blend;
        uint32_t coef1 = (uint32_t)s[3] * 255u * 255u * (1u << PREC) / outa255;
        uint32_t coef2 = 255u * (1u << PREC) - coef1;
        for (int c = 0; c < 3; c++) {
            uint32_t t = s[c] * coef1 + d[c] * coef2 + (0x80u << PREC);
            d[c] = (uint8_t)((((t >> 8) + t) >> 8) >> PREC);
        }
        uint32_t a = outa255 + 0x80;
        d[3] = (uint8_t)(((a >> 8) + a) >> 8);
    }
    return MEND_OK;
}

void mend_image_invert(mend_image *img)
{
    size_t n = mend_image_size(img);
    for (size_t i = 0; i < n; i++)
        img->data[i] = (uint8_t)(255 - img->data[i]);
}

mend_status mend_pil_premultiplied_paste(const mend_image *image, const mend_image *alpha, mend_image *out,
                                        mend_err *err)
{
    if (alpha->channels != 1 || alpha->width != image->width || alpha->height != image->height)
        return mend_fail(err, MEND_E_ARG, "masked paste: mask %dx%dx%d does not match image %dx%d", alpha->width,
                         alpha->height, alpha->channels, image->width, image->height);
    MEND_TRY(mend_image_alloc(out, image->width, image->height, 4, err));
    size_t n = (size_t)image->width * image->height;
    int ic = image->channels;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *s = image->data + i * ic;
        uint8_t *d = out->data + 4 * i;
        uint8_t src_a = ic == 4 ? s[3] : 255;
        uint32_t a = alpha->data[i];
        for (int c = 0; c < 4; c++) {
            uint8_t v = c == 3 ? src_a : ic == 1 ? s[0] : s[c];
            uint8_t pm = c == 3 ? v : div255((uint32_t)v * src_a); /* RGBA -> RGBa */
            d[c] = div255((uint32_t)pm * a);                        /* BLEND over zeros */
        }
    }
    return MEND_OK;
}

void mend_pil_unpremultiply(mend_image *img)
{
    size_t n = (size_t)img->width * img->height;
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = img->data + 4 * i;
        unsigned a = p[3];
        if (a == 0 || a == 255)
            continue;
        for (int c = 0; c < 3; c++) {
            unsigned v = 255u * p[c] / a;
            p[c] = (uint8_t)(v > 255 ? 255 : v);
        }
    }
}

mend_status mend_premultiplied_cutout(const mend_image *image, const mend_image *alpha, mend_image *out,
                                      mend_err *err)
{
    MEND_TRY(mend_pil_premultiplied_paste(image, alpha, out, err));
    mend_pil_unpremultiply(out);
    return MEND_OK;
}

mend_status mend_flatten(const mend_image *img, const uint8_t bg_rgb[3], mend_image *out, mend_err *err)
{
    if (img->channels != 4)
        return mend_pil_to_rgb(img, out, err);
    mend_image canvas;
    MEND_TRY(mend_image_alloc(&canvas, img->width, img->height, 4, err));
    size_t n = (size_t)img->width * img->height;
    for (size_t i = 0; i < n; i++) {
        memcpy(canvas.data + 4 * i, bg_rgb, 3);
        canvas.data[4 * i + 3] = 255;
    }
    mend_status s = mend_pil_alpha_composite(&canvas, img, err);
    if (s == MEND_OK)
        s = mend_pil_to_rgb(&canvas, out, err);
    mend_image_free(&canvas);
    return s;
}
