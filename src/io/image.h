/* 8-bit images: the one pixel container of mend, and PNG/JPEG load/save.
 *
 * Pixels are row-major and interleaved: pixel (x, y) channel c is
 * data[(y * width + x) * channels + c]. channels is 1 (grey, PIL "L"),
 * 3 (RGB) or 4 (RGBA, straight alpha).
 *
 * Loading follows what Pillow 9.x gives A1111 after Image.open() and the
 * conversion A1111 applies next (convert("L") for masks, convert("RGB") /
 * flatten for init images):
 *   - grey, RGB, RGBA load as 1, 3, 4 channels;
 *   - palette images expand to RGB (PIL converts "P" through the palette);
 *     tRNS transparency is ignored, as PIL's convert("L"/"RGB") ignores it;
 *   - grey+alpha loads as grey: A1111 never reads the alpha of an "LA"
 *     image (create_binary_mask only looks at alpha for "RGBA", flatten
 *     only composites "RGBA"), so dropping it gives identical results;
 *   - 1/2/4-bit grey scales to 0..255 (PIL "1", "L;2", "L;4");
 *   - 16-bit RGB/RGBA/grey+alpha keep the high byte (PIL's ";16B" raw
 *     modes); 16-bit grey opens in PIL as mode "I" whose conversion to
 *     "L" clips to 0..255 instead of scaling, and mend does the same;
 *   - JPEG: grey → 1 channel, YCbCr/RGB → 3 channels (libjpeg-turbo with
 *     its default islow DCT and fancy upsampling, as PIL uses it).
 * Images larger than MEND_IMAGE_MAX_SIDE on a side are refused. */
#ifndef MEND_IO_IMAGE_H
#define MEND_IO_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "mend/image.h" /* the public half: probe, pixel limit, encoders */

#define MEND_IMAGE_MAX_SIDE 16384

/* mend_image and mend_png_text are defined in include/mend/mend.h. */

/* Allocates an all-zero image (freeing nothing: *img is overwritten). */
mend_status mend_image_alloc(mend_image *img, int width, int height, int channels, mend_err *err);
void mend_image_free(mend_image *img);
/* Deep copy of src into *dst. */
mend_status mend_image_copy(const mend_image *src, mend_image *dst, mend_err *err);

static inline size_t mend_image_size(const mend_image *img)
{
    return (size_t)img->width * (size_t)img->height * (size_t)img->channels;
}

/* Decodes a PNG or JPEG (detected from the first bytes). `name` is used in
 * error messages ("init_images[0]", a path, ...). */
mend_status mend_image_decode(const void *buf, size_t len, const char *name, mend_image *out, mend_err *err);

/* Width and height from the PNG IHDR or JPEG SOF header, no decoding. */
mend_status mend_image_probe(const void *buf, size_t len, const char *name, int *width, int *height,
                             mend_err *err);

/* Reads and decodes a file. */
mend_status mend_image_load(const char *path, mend_image *out, mend_err *err);

/* Encodes a PNG (8-bit grey, RGB or RGBA) into a malloc'ed buffer, with the
 * given tEXt chunks (A1111 puts the infotext under the key "parameters"). */
mend_status mend_image_encode_png(const mend_image *img, const mend_png_text *texts, int ntexts, uint8_t **out,
                                  size_t *out_len, mend_err *err);

/* Writes a PNG atomically: to "<path>.tmp-<pid>" first, then rename(), so a
 * failed or interrupted write never leaves a partial file at `path`. */
mend_status mend_image_save_png(const char *path, const mend_image *img, const mend_png_text *texts, int ntexts,
                                mend_err *err);

#endif
