/* mend — images in memory: allocation, copies, and PNG/JPEG/WebP from and
 * to buffers (mend.h has the PNG file versions, this file the others). */
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
/* Decodes a PNG, JPEG or WebP held in memory; `name` is used in error messages. */
mend_status mend_image_decode(const void *buf, size_t len, const char *name, mend_image *out, mend_err *err);
/* Width and height of a PNG, JPEG or WebP from its header, without decoding:
 * for refusing oversized images before their pixels are decoded. */
mend_status mend_image_probe(const void *buf, size_t len, const char *name, int *width, int *height,
                             mend_err *err);
/* The largest image (width x height) mend_image_decode and mend_image_load
 * accept, checked from the header before any pixel is decoded (MEND_E_LIMIT
 * above it, naming both numbers). Default MEND_DEFAULT_MAX_PIXELS
 * (8192 x 8192); 0 restores the default. `mend --max-pixels` sets it. */
#define MEND_DEFAULT_MAX_PIXELS ((int64_t)8192 * 8192)
void mend_set_max_pixels(int64_t pixels);
int64_t mend_max_pixels(void);
/* "4194304", "64M" (binary K/M suffixes) or "2048x2048" -> a pixel count;
 * 0 when the text is none of these or the count is 0. */
int mend_parse_pixels(const char *text, int64_t *pixels);
/* Encodes a PNG (grey, RGB or RGBA) with text chunks into a malloc'd buffer. */
mend_status mend_image_encode_png(const mend_image *img, const mend_png_text *texts, int ntexts, uint8_t **out,
                                  size_t *out_len, mend_err *err);

/* Output formats, as A1111's samples_format: PNG keeps the infotext in a
 * "parameters" tEXt chunk, JPEG and WebP in EXIF UserComment (piexif's
 * "UNICODE\0" + UTF-16BE, as A1111 writes it; `mend png-info` and the
 * API's png-info read all three). JPEG quality MEND_JPEG_QUALITY (A1111's
 * jpeg_quality); WebP lossy at that quality (A1111's webp_lossless off).
 * RGBA is saved as RGB in JPEG and WebP, as A1111 converts it. */
typedef enum mend_image_format { MEND_FORMAT_PNG = 0, MEND_FORMAT_JPEG, MEND_FORMAT_WEBP } mend_image_format;
#define MEND_JPEG_QUALITY 80
/* "png", "jpg", "jpeg", "webp" in any case -> format; 0 when unknown. */
int mend_image_format_from_name(const char *name, mend_image_format *format);
/* The format of a path's extension (.png .jpg .jpeg .webp); 0 when it has
 * none of these. */
int mend_image_format_from_path(const char *path, mend_image_format *format);
/* "png", "jpg", "webp": A1111's samples_format names and file extensions. */
const char *mend_image_format_name(mend_image_format format);
/* Encodes into a malloc'd buffer with `infotext` (NULL: none). */
mend_status mend_image_encode(const mend_image *img, mend_image_format format, const char *infotext, uint8_t **out,
                              size_t *out_len, mend_err *err);
/* Writes atomically (a temporary file, then rename) in `format`. */
mend_status mend_image_save(const char *path, const mend_image *img, mend_image_format format, const char *infotext,
                            mend_err *err);

#ifdef __cplusplus
}
#endif
#endif
