/* mend — the text chunks of a PNG (A1111 keeps its infotext under the key
 * "parameters"), read without decoding the image. tEXt and zTXt are Latin-1
 * (converted to UTF-8), iTXt UTF-8; structural problems (no signature, a
 * chunk past the end, no IEND, a bad zlib stream, a bad CRC when checked)
 * are errors. */
#ifndef MEND_PNG_TEXT_H
#define MEND_PNG_TEXT_H

#include <stddef.h>

#include "mend/mend.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mend_png_text_chunk {
    char type[5]; /* "tEXt", "zTXt" or "iTXt" */
    char *key;    /* UTF-8 */
    char *text;   /* UTF-8, NUL-terminated */
} mend_png_text_chunk;

typedef struct mend_png_text_list {
    int count;
    mend_png_text_chunk *items; /* in file order */
    int capacity;               /* the reader's bookkeeping: allocated items, */
    size_t total_bytes;         /* and keys + texts kept (capped) */
} mend_png_text_list;

enum {
    MEND_PNG_CRC_IGNORE = 0, /* read chunks whatever their CRC */
    MEND_PNG_CRC_CHECK = 1,  /* a CRC mismatch in any chunk is an error */
};

/* `name` is used in error messages (a path, "buffer", ...). */
mend_status mend_png_text_read_buffer(const void *buf, size_t len, const char *name, int crc_mode,
                                      mend_png_text_list *out, mend_err *err);
mend_status mend_png_text_read_file(const char *path, int crc_mode, mend_png_text_list *out, mend_err *err);

/* Text of the last chunk with this key (as Pillow's info dict), or NULL. */
const char *mend_png_text_get(const mend_png_text_list *l, const char *key);

void mend_png_text_list_free(mend_png_text_list *l);

#ifdef __cplusplus
}
#endif
#endif
