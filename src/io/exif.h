/* A1111's infotext in JPEG and WebP files: an EXIF block holding only the
 * UserComment tag, as piexif.dump({"Exif": {UserComment: ...}}) builds it
 * and A1111's save_image_with_geninfo inserts it (in a JPEG as the APP1
 * segment right after SOI, in place of the JFIF APP0; in a WebP as the
 * EXIF chunk after the image data). The comment is
 * piexif.helper.UserComment.dump(text, encoding="unicode"): the 8 bytes
 * "UNICODE\0" then the text in UTF-16 big-endian. */
#ifndef MEND_IO_EXIF_H
#define MEND_IO_EXIF_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "mend/png_text.h"

/* piexif.dump's bytes: "Exif\0\0" then a big-endian TIFF block with IFD0
 * (one entry: the Exif IFD pointer) and the Exif IFD (one entry:
 * UserComment). Invalid UTF-8 in `text` becomes U+FFFD. */
mend_status mend_exif_user_comment(const char *text, uint8_t **out, size_t *len, mend_err *err);

/* The UserComment of a TIFF/EXIF block ("Exif\0\0" prefix optional, either
 * byte order) as UTF-8 (malloc'd) in *text, or NULL when the block has
 * none. Decoded as A1111 reads it: "UNICODE\0" UTF-16BE, "ASCII\0\0\0",
 * else the whole value as UTF-8 with invalid bytes dropped. A block that
 * is cut short or points outside itself is an error naming `where`. */
mend_status mend_exif_read_user_comment(const uint8_t *exif, size_t len, const char *where, char **text,
                                        mend_err *err);

/* The EXIF block of a JPEG (an APP1 "Exif\0\0" segment before the first
 * scan) or a WebP (its EXIF chunk); *exif points into buf, NULL when there
 * is none. */
mend_status mend_exif_find_jpeg(const uint8_t *buf, size_t len, const char *where, const uint8_t **exif,
                                size_t *exif_len, mend_err *err);
mend_status mend_exif_find_webp(const uint8_t *buf, size_t len, const char *where, const uint8_t **exif,
                                size_t *exif_len, mend_err *err);

/* JPEG or WebP data -> a text list with one "parameters" item (type "EXIF")
 * when its EXIF has a UserComment, else empty: what png-info shows. */
mend_status mend_exif_text_read_buffer(const uint8_t *buf, size_t len, const char *where, mend_png_text_list *out,
                                       mend_err *err);

#endif
