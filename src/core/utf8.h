/* UTF-8 code points, strict as Python's "utf-8" codec: used by the
 * tokenizer (model/) and by PNG text chunks (io/). */
#ifndef MEND_CORE_UTF8_H
#define MEND_CORE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decodes one UTF-8 sequence at s (n bytes left). Returns its length and
 * sets *cp, or 0 for an invalid/overlong/surrogate/truncated sequence. */
int mend_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* Encodes cp into out (4 bytes room); returns the length. */
int mend_utf8_encode(uint32_t cp, char *out);

#endif
