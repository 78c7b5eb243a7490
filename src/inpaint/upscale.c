/* A1111's model-free upscalers (modules/upscaler.py: UpscalerNone,
 * UpscalerLanczos, UpscalerNearest) and the two pixel helpers its extras
 * tab uses after them (crop to fit, blend with a second upscaler). */
#include "mend/upscale.h"

#include "core/err.h"
#include "inpaint/imageops.h"
#include "mend/image.h"

#include <math.h>
#include <string.h>
#include <strings.h>

static const char *const upscalers[] = {"None", "Lanczos", "Nearest"};
enum { UP_NONE, UP_LANCZOS, UP_NEAREST, UP_COUNT };

int mend_upscalers_count(void)
{
    return UP_COUNT;
}

const char *mend_upscaler_name(int i)
{
    return i >= 0 && i < UP_COUNT ? upscalers[i] : NULL;
}

int mend_upscaler_find(const char *name)
{
    for (int i = 0; name && i < UP_COUNT; i++)
        if (!strcasecmp(name, upscalers[i]))
            return i;
    return -1;
}

/* PIL's NEAREST resize: the source pixel under each target pixel's center. */
static mend_status resize_nearest(const mend_image *src, int w, int h, mend_image *out, mend_err *err)
{
    MEND_TRY(mend_image_alloc(out, w, h, src->channels, err));
    double sx = (double)src->width / w, sy = (double)src->height / h;
    int c = src->channels;
    for (int y = 0; y < h; y++) {
        int yy = (int)((y + 0.5) * sy);
        yy = yy < src->height ? yy : src->height - 1;
        for (int x = 0; x < w; x++) {
            int xx = (int)((x + 0.5) * sx);
            xx = xx < src->width ? xx : src->width - 1;
            memcpy(out->data + ((size_t)y * w + x) * c, src->data + ((size_t)yy * src->width + xx) * c, (size_t)c);
        }
    }
    return MEND_OK;
}

mend_status mend_upscale(const mend_image *src, const char *upscaler, double scale, mend_image *out, mend_err *err)
{
    int kind = mend_upscaler_find(upscaler);
    if (kind < 0)
        return mend_fail(err, MEND_E_ARG, "upscaler '%s' not found (mend has None, Lanczos and Nearest)",
                         upscaler ? upscaler : "(null)");
    if (!(scale > 0 && scale <= 16))
        return mend_fail(err, MEND_E_ARG, "upscale factor %g is out of range (0, 16]", scale);
    /* A1111 computes the target as int((width * scale) // 8 * 8) */
    int dest_w = (int)(floor(src->width * scale / 8) * 8), dest_h = (int)(floor(src->height * scale / 8) * 8);
    if (dest_w < 8 || dest_h < 8 || (double)dest_w * dest_h > 16384.0 * 16384.0)
        return mend_fail(err, MEND_E_ARG, "upscaling %dx%d by %g gives %dx%d: not a usable size", src->width,
                         src->height, scale, dest_w, dest_h);
    mend_image step = {0};
    int w1 = (int)(src->width * scale), h1 = (int)(src->height * scale);
    if (kind == UP_LANCZOS)
        MEND_TRY(mend_pil_resize(src, w1, h1, MEND_PIL_LANCZOS, NULL, &step, err));
    else if (kind == UP_NEAREST)
        MEND_TRY(resize_nearest(src, w1, h1, &step, err));
    else
        MEND_TRY(mend_image_copy(src, &step, err));
    if (step.width == dest_w && step.height == dest_h) {
        *out = step;
        return MEND_OK;
    }
    mend_status st = mend_pil_resize(&step, dest_w, dest_h, MEND_PIL_LANCZOS, NULL, out, err);
    mend_image_free(&step);
    return st;
}

mend_status mend_image_to_rgb(const mend_image *src, mend_image *out, mend_err *err)
{
    return mend_pil_to_rgb(src, out, err);
}

mend_status mend_image_center_crop(const mend_image *src, int w, int h, mend_image *out, mend_err *err)
{
    if (w < 1 || h < 1 || w > 16384 || h > 16384)
        return mend_fail(err, MEND_E_ARG, "crop size %dx%d is out of range 1..16384", w, h);
    mend_image rgb = {0};
    MEND_TRY(mend_pil_to_rgb(src, &rgb, err));
    mend_status st = mend_image_alloc(out, w, h, 3, err);
    /* Image.paste at (w // 2 - width // 2, h // 2 - height // 2) */
    int ox = w / 2 - rgb.width / 2, oy = h / 2 - rgb.height / 2;
    for (int y = 0; st == MEND_OK && y < h; y++) {
        int sy = y - oy;
        if (sy < 0 || sy >= rgb.height)
            continue;
        int x0 = ox > 0 ? ox : 0, x1 = ox + rgb.width < w ? ox + rgb.width : w;
        if (x1 > x0)
            memcpy(out->data + ((size_t)y * w + x0) * 3, rgb.data + ((size_t)sy * rgb.width + (x0 - ox)) * 3,
                   (size_t)(x1 - x0) * 3);
    }
    mend_image_free(&rgb);
    return st;
}

mend_status mend_image_blend(const mend_image *a, const mend_image *b, float alpha, mend_image *out, mend_err *err)
{
    if (a->width != b->width || a->height != b->height || a->channels != b->channels)
        return mend_fail(err, MEND_E_ARG, "blend: images of %dx%dx%d and %dx%dx%d differ", a->width, a->height,
                         a->channels, b->width, b->height, b->channels);
    MEND_TRY(mend_image_alloc(out, a->width, a->height, a->channels, err));
    size_t n = (size_t)a->width * a->height * a->channels;
    for (size_t i = 0; i < n; i++) {
        /* Pillow's ImagingBlend: in1 + alpha * (in2 - in1), truncated, clipped */
        int v = (int)(a->data[i] + alpha * ((int)b->data[i] - (int)a->data[i]));
        out->data[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    return MEND_OK;
}
