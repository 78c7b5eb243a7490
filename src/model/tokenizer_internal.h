/* Text side of the CLIP tokenizer (tokenizer_text.c) and vocabulary file
 * reading (tokenizer_file.c), shared with the BPE side (tokenizer.c). */
#ifndef MEND_MODEL_TOKENIZER_INTERNAL_H
#define MEND_MODEL_TOKENIZER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* HF CLIPTokenizer's cleaning with ftfy present: a subset of ftfy.fix_text
 * (HTML entities, Latin ligatures, full/half-width forms, curly quotes,
 * control characters), whitespace collapsed and stripped, lower-cased.
 * *cps is malloc'd (caller frees). Invalid UTF-8 is an error. */
mend_status mend_tok_clean(const char *text, uint32_t **cps, size_t *n, mend_err *err);

enum { MEND_PRETOK_TEXT, MEND_PRETOK_BOS, MEND_PRETOK_EOS };

typedef struct mend_pretoken {
    size_t start, end; /* code point range */
    int kind;          /* MEND_PRETOK_* */
} mend_pretoken;

/* The CLIP split pattern, one match at a time: from *pos, finds the next
 * match of  <|startoftext|> | <|endoftext|> | 's|'t|'re|'ve|'m|'ll|'d |
 * \p{L}+ | \p{N} | [^\s\p{L}\p{N}]+  (alternatives tried in that order,
 * whitespace skipped). Returns 0 when there is none. */
int mend_tok_next(const uint32_t *cps, size_t n, size_t *pos, mend_pretoken *out);

/* Reads a vocabulary file whole (gunzipped when gzipped), NUL-terminated;
 * a missing, corrupt, oversized or NUL-holding file is a clear error. */
mend_status mend_tok_read_text(const char *path, int gzipped, char **out, size_t *len, mend_err *err);

#endif
