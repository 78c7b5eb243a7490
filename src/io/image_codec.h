/* Internal: the codecs behind io/image.h. */
#ifndef MEND_IO_IMAGE_CODEC_H
#define MEND_IO_IMAGE_CODEC_H

#include "io/image.h"

#include <stdio.h>

mend_status mend_png_decode(const uint8_t *buf, size_t len, const char *name, mend_image *out, mend_err *err);
mend_status mend_jpeg_decode(const uint8_t *buf, size_t len, const char *name, mend_image *out, mend_err *err);
mend_status mend_webp_decode(const uint8_t *buf, size_t len, const char *name, mend_image *out, mend_err *err);

/* "RIFF" size "WEBP" */
int mend_webp_signature(const uint8_t *p, size_t len);
mend_status mend_webp_probe(const uint8_t *buf, size_t len, const char *name, int *w, int *h, mend_err *err);

/* exif: the "Exif\0\0" block of io/exif.h, or NULL. JPEG: grey stays grey,
 * RGBA drops alpha; WebP: always RGB. */
mend_status mend_jpeg_encode(const mend_image *img, const uint8_t *exif, size_t exif_len, int quality,
                             uint8_t **out, size_t *out_len, mend_err *err);
mend_status mend_webp_encode(const mend_image *img, const uint8_t *exif, size_t exif_len, int quality, int lossless,
                             uint8_t **out, size_t *out_len, mend_err *err);

/* Reads a whole file (malloc'd); refuses anything larger than a sane image file (1 GiB). */
/* fopen(path, "rb") of a regular file; its size in *size. */
mend_status mend_open_regular_file(const char *path, FILE **out, int64_t *size, mend_err *err);
mend_status mend_read_whole_file(const char *path, uint8_t **out, size_t *out_len, mend_err *err);

/* Writes buf to path via a temporary file in the same directory + rename(). */
mend_status mend_write_file_atomic(const char *path, const uint8_t *buf, size_t len, mend_err *err);

#endif
