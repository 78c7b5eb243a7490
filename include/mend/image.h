/* mend — images in memory: allocation, copies, and PNG/JPEG from and to
 * buffers (mend.h has the file versions). */
#ifndef MEND_IMAGE_H
#define MEND_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "mend/mend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Allocates an all-zero image (*img is overwritten, nothing is freed). */
mend_status mend_image_alloc(mend_image *img, int width, int height, int channels, mend_err *err);
/* Deep copy of src into *dst. */
mend_status mend_image_copy(const mend_image *src, mend_image *dst, mend_err *err);
/* Decodes a PNG or JPEG held in memory; `name` is used in error messages. */
mend_status mend_image_decode(const void *buf, size_t len, const char *name, mend_image *out, mend_err *err);
/* Width and height of a PNG or JPEG from its header, without decoding:
 * for refusing oversized images before their pixels are decoded. */
mend_status mend_image_probe(const void *buf, size_t len, const char *name, int *width, int *height,
                             mend_err *err);
/* Encodes a PNG (grey, RGB or RGBA) with text chunks into a malloc'd buffer. */
mend_status mend_image_encode_png(const mend_image *img, const mend_png_text *texts, int ntexts, uint8_t **out,
                                  size_t *out_len, mend_err *err);

#ifdef __cplusplus
}
#endif
#endif
