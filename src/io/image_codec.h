/* Internal: the codecs behind io/image.h. */
#ifndef MEND_IO_IMAGE_CODEC_H
#define MEND_IO_IMAGE_CODEC_H

#include "io/image.h"

mend_status mend_png_decode(const uint8_t *buf, size_t len, const char *name, mend_image *out, mend_err *err);
mend_status mend_jpeg_decode(const uint8_t *buf, size_t len, const char *name, mend_image *out, mend_err *err);

/* Writes buf to path via a temporary file in the same directory + rename(). */
mend_status mend_write_file_atomic(const char *path, const uint8_t *buf, size_t len, mend_err *err);

#endif
