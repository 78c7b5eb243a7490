/* Reading the text chunks of a PNG (A1111 keeps its infotext under the key
 * "parameters"), without decoding the image.
 *
 * Chunk types, as Pillow reads them into image.info:
 *   tEXt  keyword NUL text                           Latin-1, converted to UTF-8
 *   zTXt  keyword NUL method(0) zlib-data            Latin-1 after inflating
 *   iTXt  keyword NUL flag method lang NUL tkey NUL text   UTF-8, inflated if flag = 1
 * Like Pillow: a tEXt/zTXt without its NUL separator is a keyword with an
 * empty text; chunks with an empty keyword, and iTXt chunks that are cut
 * short, have an unknown compression method or text that is not valid
 * UTF-8, are skipped; a zTXt with an unknown method is an error. Structural
 * problems are errors: no PNG signature, a chunk running past the end of
 * the data, no IEND, a zlib stream that does not inflate (or inflates past
 * MEND_PNG_TEXT_MAX_INFLATED), more text in all than MEND_PNG_TEXT_MAX_TOTAL,
 * and (when asked) a bad CRC. Reading is linear in the file's size; from a
 * file, non-text chunks are skipped without being read (unless CRCs are
 * checked, when they are streamed through the CRC), so pixels are never
 * decoded nor held. */
#ifndef MEND_IO_PNG_TEXT_H
#define MEND_IO_PNG_TEXT_H

#include <stddef.h>

#include "core/err.h"

/* Largest inflated text accepted from one zTXt/iTXt chunk (a zip bomb
 * guard; Pillow's limit is 1 MB, mend is more generous). */
#define MEND_PNG_TEXT_MAX_INFLATED ((size_t)16 << 20)

/* Largest total of keys and texts kept from one PNG (a chunk-flood guard). */
#define MEND_PNG_TEXT_MAX_TOTAL ((size_t)32 << 20)

/* The chunk list types, the CRC modes and the reading functions are public:
 * include/mend/png_text.h. */
#include "mend/png_text.h"

/* Appends one item, taking key and text (malloc'd; NULL = out of memory);
 * the list's total is capped at MEND_PNG_TEXT_MAX_TOTAL. */
mend_status mend_png_text_push(mend_png_text_list *l, const char *where, const char *type, char *key, char *text,
                               mend_err *err);

#endif
