/* From a prompt to CLIP token chunks with emphasis multipliers, and the
 * emphasis applied to the encoder output, as A1111 v1.10.1 does it
 * (modules/sd_hijack_clip.py FrozenCLIPEmbedderWithCustomWordsBase
 * tokenize_line / process_tokens, modules/sd_emphasis.py).
 *
 * A prompt becomes chunks of 75 tokens, each framed as BOS + 75 + EOS = 77
 * and padded with EOS (SD 1.x pads with EOS). A BREAK marker closes the
 * current chunk; when a chunk fills up and a comma lies within the last
 * comma_padding_backtrack tokens, the tokens after the comma move to the
 * next chunk. A textual-inversion embedding's name (the longest that
 * matches, A1111's find_embedding_at_position) becomes `vectors`
 * placeholder ids 0 carrying the weight of the text it was in, plus a fix
 * telling the encoder to put the vectors there; vectors that do not fit in
 * the rest of a chunk start the next one.
 *
 * Encoding (not done here): chunk i of every prompt in a batch goes through
 * CLIP together; prompts with fewer chunks get mend_prompt_chunk_empty();
 * the chunk outputs are concatenated along the token axis, so a prompt of k
 * chunks gives a [77*k, D] conditioning. Emphasis is then applied to each
 * chunk index's whole batch tensor [batch, 77, D] at once: the "Original"
 * mean restoration uses the mean over that whole tensor. A1111 batches
 * together the texts of one prompt's schedule (all its [a:b:x] / [a|b]
 * variants) and the copies of a prompt in a batch, so mean restoration
 * runs over those together. */
#ifndef MEND_INPAINT_PROMPT_CHUNKS_H
#define MEND_INPAINT_PROMPT_CHUNKS_H

#include <stdint.h>

#include "core/err.h"
#include "model/embeddings.h"

#define MEND_CHUNK_TOKENS 75 /* prompt tokens per chunk */
#define MEND_CHUNK_LEN 77    /* with BOS and EOS */
#define MEND_CLIP_COMMA 267  /* ",</w>" in the CLIP vocabulary */

/* A1111's opts.emphasis. */
typedef enum mend_emphasis {
    MEND_EMPHASIS_ORIGINAL = 0, /* "Original": z *= mult, then z *= mean(z before) / mean(z after) */
    MEND_EMPHASIS_NO_NORM,      /* "No norm": z *= mult */
    MEND_EMPHASIS_IGNORE,       /* "Ignore": weights parsed (and kept in multipliers), not applied */
    MEND_EMPHASIS_NONE          /* "None": no parsing, brackets and BREAK are plain text */
} mend_emphasis;

/* Parses A1111's option names ("Original", "No norm", "Ignore", "None");
 * returns 0 on success, -1 for an unknown name. */
int mend_emphasis_from_name(const char *name, mend_emphasis *out);
const char *mend_emphasis_name(mend_emphasis e);

/* Tokenizes text (UTF-8) into BPE ids without BOS/EOS; *ids is malloc'd
 * (NULL allowed when *n == 0), the caller frees it. */
typedef mend_status (*mend_tokenize_fn)(void *user, const char *text, int32_t **ids, int *n, mend_err *err);

/* A mend_tokenize_fn over a mend_tokenizer (model/tokenizer.h): pass the
 * tokenizer as user. */
mend_status mend_prompt_tokenize_clip(void *tokenizer, const char *text, int32_t **ids, int *n, mend_err *err);

typedef struct mend_chunk_opts {
    mend_emphasis emphasis;
    int comma_padding_backtrack; /* A1111 setting, default 20; 0 disables */
    int32_t bos, eos, comma;     /* 49406, 49407, 267 */
    const mend_ti_lookup *ti;    /* the job's embeddings, or NULL: none */
} mend_chunk_opts;

/* A1111's PromptChunkFix: rows offset+1 .. offset+vectors of chunk `chunk`
 * (counted after its BOS, clipped to the chunk) take the vectors. */
typedef struct mend_chunk_fix {
    int chunk, offset;
    const mend_ti_embedding *emb;
} mend_chunk_fix;

void mend_chunk_opts_default(mend_chunk_opts *o);

typedef struct mend_prompt_chunks {
    int n_chunks;        /* >= 1 */
    int token_count;     /* A1111's token count (what the UI shows as n/75) */
    int32_t *tokens;     /* [n_chunks, 77] */
    float *multipliers;  /* [n_chunks, 77]: float32 of A1111's Python floats; 1 at BOS/EOS/padding */
    mend_chunk_fix *fixes; /* in prompt order */
    int n_fixes;
} mend_prompt_chunks;

void mend_prompt_chunks_free(mend_prompt_chunks *c);

/* tokenize_line(prompt). The prompt is one schedule entry's text (after
 * AND splitting and prompt editing). */
mend_status mend_prompt_chunks_build(const char *prompt, const mend_chunk_opts *opts, mend_tokenize_fn tokenize,
                                     void *user, mend_prompt_chunks *out, mend_err *err);

/* A1111's empty_chunk(): BOS, 76 x EOS, multipliers 1. */
void mend_prompt_chunk_empty(const mend_chunk_opts *opts, int32_t tokens[MEND_CHUNK_LEN],
                             float multipliers[MEND_CHUNK_LEN]);

/* Emphasis on one chunk index's encoder output z [rows, dim] (rows = batch
 * * 77, the rows of every prompt of the batch for that chunk) with
 * multipliers [rows]. In place. */
void mend_emphasis_apply(mend_emphasis mode, float *z, const float *multipliers, int64_t rows, int64_t dim);

#endif
