/* CLIP BPE tokenizer (openai/CLIP simple_tokenizer semantics: ftfy-free
 * basic cleaning, whitespace collapse, lower-case, the CLIP regex split,
 * byte-level BPE with </w> word ends). */
#ifndef MEND_MODEL_TOKENIZER_H
#define MEND_MODEL_TOKENIZER_H

#include <stdint.h>

#include "core/err.h"

#define MEND_CLIP_BOS 49406
#define MEND_CLIP_EOS 49407
#define MEND_CLIP_CTX 77

typedef struct mend_tokenizer mend_tokenizer;

/* path: bpe_simple_vocab_16e6.txt.gz, or vocab.json (merges.txt beside it),
 * or a folder holding either (e.g. a diffusers tokenizer/). */
mend_status mend_tokenizer_load(const char *path, mend_tokenizer **out, mend_err *err);
void mend_tokenizer_free(mend_tokenizer *t);

/* BPE ids of text without BOS/EOS; *ids is malloc'd (caller frees). */
mend_status mend_tokenize(const mend_tokenizer *t, const char *text, int32_t **ids, int *n, mend_err *err);

/* As LDM's FrozenCLIPEmbedder: BOS, the first 75 ids, EOS, padded with EOS
 * to 77. */
mend_status mend_tokenize77(const mend_tokenizer *t, const char *text, int32_t out[MEND_CLIP_CTX], mend_err *err);

/* Text of a token id (for debugging and the prompt parser); NULL if out of range. */
const char *mend_token_text(const mend_tokenizer *t, int32_t id);
int mend_tokenizer_vocab_size(const mend_tokenizer *t);

#endif
