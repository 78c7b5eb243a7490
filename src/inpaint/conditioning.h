/* Prompt text -> CLIP conditioning, as A1111's get_learned_conditioning:
 * the prompt's schedule (prompt editing [a:b:when], alternation [a|b]) is
 * built for the step count, every distinct text is chunked (75 tokens +
 * BOS/EOS, emphasis multipliers, BREAK), the texts are encoded together
 * chunk index by chunk index (shorter ones padded with empty chunks), the
 * emphasis is applied over each chunk index's whole batch tensor, and the
 * chunks are concatenated along the token axis: [77 * chunks, width]. */
#ifndef MEND_INPAINT_CONDITIONING_H
#define MEND_INPAINT_CONDITIONING_H

#include "inpaint/prompt_chunks.h"
#include "model/clip.h"
#include "model/tokenizer.h"

typedef struct mend_cond_entry {
    int end_at_step; /* 1-based last sampling step using this entry */
    float *cond;     /* [tokens, width], owned */
} mend_cond_entry;

typedef struct mend_cond_schedule {
    mend_cond_entry *items;
    int n;
    int tokens; /* 77 * chunks, the same for every entry */
    int width;
    int token_count; /* A1111's count for the first entry (n/75 in the UI) */
    char *ti_hashes; /* "name: shorthash, ..." of the embeddings used, or NULL */
} mend_cond_schedule;

typedef struct mend_cond_opts {
    int clip_skip;          /* 1 = last layer */
    mend_emphasis emphasis; /* MEND_EMPHASIS_ORIGINAL */
    int comma_padding_backtrack; /* 20 */
    const mend_ti_lookup *ti;    /* the job's embeddings (model/embeddings.h), or NULL */
    int hires_steps;             /* the hires pass's steps (its schedule: A1111's hires_steps), or 0 */
} mend_cond_opts;

void mend_cond_opts_default(mend_cond_opts *o);

/* steps: the sampler's step count the schedule is built for (>= 1). */
mend_status mend_cond_build(const mend_clip *clip, const mend_tokenizer *tok, const char *prompt, int steps,
                            const mend_cond_opts *opts, mend_cond_schedule *out, mend_err *err);
void mend_cond_free(mend_cond_schedule *s);

/* The conditioning for 0-based sampling step `step`. */
const float *mend_cond_at(const mend_cond_schedule *s, int step);

/* Encodes texts[0..n) together (A1111 batches a schedule's texts): out[i] is
 * a malloc'd [77 * chunks, width] tensor; *tokens = 77 * chunks. */
mend_status mend_cond_encode_texts(const mend_clip *clip, const mend_tokenizer *tok, const char *const *texts, int n,
                                   const mend_cond_opts *opts, float **out, int *tokens, int *token_count0,
                                   mend_err *err);

#endif
