/* WebP with libwebp: decoding (a still image; RGB, or RGBA when it has
 * alpha, as PIL opens it), the header probe, and encoding as A1111 saves
 * (RGB, quality 80 lossy unless lossless; its infotext in an EXIF chunk,
 * which libwebpmux places after the image data with the VP8X flag set). */
#include "io/image_codec.h"

#include <stdlib.h>
#include <string.h>

#include <webp/decode.h>
#include <webp/encode.h>
#include <webp/mux.h>

int mend_webp_signature(const uint8_t *p, size_t len)
{
    return len >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBP", 4);
}

mend_status mend_webp_probe(const uint8_t *buf, size_t len, const char *name, int *w, int *h, mend_err *err)
{
    WebPBitstreamFeatures f;
    if (WebPGetFeatures(buf, len, &f) != VP8_STATUS_OK || f.width <= 0 || f.height <= 0)
        return mend_fail(err, MEND_E_FORMAT, "%s: WebP without a readable header", name);
    *w = f.width, *h = f.height;
    return MEND_OK;
}

mend_status mend_webp_decode(const uint8_t *buf, size_t len, const char *name, mend_image *out, mend_err *err)
{
    WebPBitstreamFeatures f;
    if (WebPGetFeatures(buf, len, &f) != VP8_STATUS_OK)
        return mend_fail(err, MEND_E_FORMAT, "%s: invalid WebP (unreadable header)", name);
    if (f.has_animation)
        return mend_fail(err, MEND_E_FORMAT, "%s: animated WebP is not supported (give a still image)", name);
    if (f.width < 1 || f.height < 1 || f.width > MEND_IMAGE_MAX_SIDE || f.height > MEND_IMAGE_MAX_SIDE)
        return mend_fail(err, MEND_E_FORMAT, "%s: WebP declares %dx%d pixels (allowed 1..%d per side)", name, f.width,
                         f.height, MEND_IMAGE_MAX_SIDE);
    int channels = f.has_alpha ? 4 : 3;
    MEND_TRY(mend_image_alloc(out, f.width, f.height, channels, err));
    size_t stride = (size_t)f.width * channels, size = stride * (size_t)f.height;
    uint8_t *got = channels == 4 ? WebPDecodeRGBAInto(buf, len, out->data, size, (int)stride)
                                 : WebPDecodeRGBInto(buf, len, out->data, size, (int)stride);
    if (!got) {
        mend_image_free(out);
        return mend_fail(err, MEND_E_FORMAT, "%s: invalid WebP (the image data does not decode)", name);
    }
    return MEND_OK;
}

/* img as packed RGB (grey expanded, alpha dropped: A1111 saves RGB). */
static uint8_t *rgb_of(const mend_image *img)
{
    size_t n = (size_t)img->width * img->height;
    uint8_t *rgb = malloc(n * 3);
    if (!rgb)
        return NULL;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++)
            rgb[3 * i + c] = img->data[i * img->channels + (img->channels == 1 ? 0 : c)];
    return rgb;
}

/* bitstream + EXIF chunk -> one file in a malloc'd buffer. */
static mend_status add_exif(const uint8_t *webp, size_t len, const uint8_t *exif, size_t exif_len, uint8_t **out,
                            size_t *out_len, mend_err *err)
{
    WebPMux *mux = WebPMuxNew();
    WebPData image = {webp, len}, meta = {exif, exif_len}, all = {NULL, 0};
    int ok = mux && WebPMuxSetImage(mux, &image, 0) == WEBP_MUX_OK &&
             WebPMuxSetChunk(mux, "EXIF", &meta, 0) == WEBP_MUX_OK && WebPMuxAssemble(mux, &all) == WEBP_MUX_OK;
    WebPMuxDelete(mux);
    *out = ok ? malloc(all.size) : NULL;
    if (*out) {
        memcpy(*out, all.bytes, all.size);
        *out_len = all.size;
    }
    WebPDataClear(&all);
    return *out ? MEND_OK : mend_fail(err, ok ? MEND_E_NOMEM : MEND_E_FORMAT, "WebP: cannot add the EXIF chunk");
}

mend_status mend_webp_encode(const mend_image *img, const uint8_t *exif, size_t exif_len, int quality, int lossless,
                             uint8_t **out, size_t *out_len, mend_err *err)
{
    *out = NULL;
    *out_len = 0;
    uint8_t *rgb = rgb_of(img), *webp = NULL;
    if (!rgb)
        return mend_fail(err, MEND_E_NOMEM, "out of memory encoding a WebP");
    int stride = img->width * 3;
    size_t len = lossless ? WebPEncodeLosslessRGB(rgb, img->width, img->height, stride, &webp)
                          : WebPEncodeRGB(rgb, img->width, img->height, stride, (float)quality, &webp);
    free(rgb);
    if (len == 0) {
        WebPFree(webp);
        return mend_fail(err, MEND_E_FORMAT, "WebP encoding of a %dx%d image failed", img->width, img->height);
    }
    mend_status s = MEND_OK;
    if (exif) {
        /* the EXIF chunk holds the TIFF block itself, without JPEG's "Exif\0\0" */
        s = add_exif(webp, len, exif + 6, exif_len - 6, out, out_len, err);
    } else if ((*out = malloc(len)) != NULL) {
        memcpy(*out, webp, len);
        *out_len = len;
    } else {
        s = mend_fail(err, MEND_E_NOMEM, "out of memory encoding a WebP");
    }
    WebPFree(webp);
    return s;
}
