#include "inpaint/conditioning.h"

#include "inpaint/prompt_parser.h"

#include <stdlib.h>
#include <string.h>

void mend_cond_opts_default(mend_cond_opts *o)
{
    o->clip_skip = 1;
    o->emphasis = MEND_EMPHASIS_ORIGINAL;
    o->comma_padding_backtrack = 20;
}

void mend_cond_free(mend_cond_schedule *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n; i++)
        free(s->items[i].cond);
    free(s->items);
    memset(s, 0, sizeof *s);
}

const float *mend_cond_at(const mend_cond_schedule *s, int step)
{
    for (int i = 0; i < s->n; i++)
        if (step + 1 <= s->items[i].end_at_step)
            return s->items[i].cond;
    return s->items[s->n - 1].cond;
}

/* Chunk index k of every text through CLIP as one batch, emphasis over the
 * batch, scattered into each text's output at token offset 77*k. */
static mend_status encode_chunk_index(const mend_clip *clip, const mend_prompt_chunks *chunks, int n, int k,
                                      const mend_cond_opts *opts, const mend_chunk_opts *copts, float **out,
                                      int total_tokens, int width, mend_err *err)
{
    int32_t *ids = malloc((size_t)n * MEND_CHUNK_LEN * sizeof *ids);
    float *mult = malloc((size_t)n * MEND_CHUNK_LEN * sizeof *mult);
    float *z = malloc((size_t)n * MEND_CHUNK_LEN * width * sizeof *z);
    mend_status s = MEND_OK;
    if (!ids || !mult || !z) {
        s = mend_fail(err, MEND_E_NOMEM, "out of memory encoding the prompt");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        if (k < chunks[i].n_chunks) {
            memcpy(ids + i * MEND_CHUNK_LEN, chunks[i].tokens + k * MEND_CHUNK_LEN, MEND_CHUNK_LEN * sizeof *ids);
            memcpy(mult + i * MEND_CHUNK_LEN, chunks[i].multipliers + k * MEND_CHUNK_LEN,
                   MEND_CHUNK_LEN * sizeof *mult);
        } else {
            mend_prompt_chunk_empty(copts, ids + i * MEND_CHUNK_LEN, mult + i * MEND_CHUNK_LEN);
        }
    }
    s = mend_clip_encode(clip, ids, n, MEND_CHUNK_LEN, opts->clip_skip, z, err);
    if (s != MEND_OK)
        goto done;
    mend_emphasis_apply(opts->emphasis, z, mult, (int64_t)n * MEND_CHUNK_LEN, width);
    for (int i = 0; i < n; i++)
        for (int t = 0; t < MEND_CHUNK_LEN; t++)
            memcpy(out[i] + ((int64_t)k * MEND_CHUNK_LEN + t) * width, z + ((int64_t)i * MEND_CHUNK_LEN + t) * width,
                   (size_t)width * sizeof *z);
    (void)total_tokens;
done:
    free(ids);
    free(mult);
    free(z);
    return s;
}

mend_status mend_cond_encode_texts(const mend_clip *clip, const mend_tokenizer *tok, const char *const *texts, int n,
                                   const mend_cond_opts *opts, float **out, int *tokens, int *token_count0,
                                   mend_err *err)
{
    mend_chunk_opts copts;
    mend_chunk_opts_default(&copts);
    copts.emphasis = opts->emphasis;
    copts.comma_padding_backtrack = opts->comma_padding_backtrack;
    int width = mend_clip_get_arch(clip)->width;
    mend_prompt_chunks *chunks = calloc((size_t)n, sizeof *chunks);
    if (!chunks)
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    mend_status s = MEND_OK;
    int max_chunks = 1;
    for (int i = 0; i < n && s == MEND_OK; i++) {
        s = mend_prompt_chunks_build(texts[i], &copts, mend_prompt_tokenize_clip, (void *)tok, &chunks[i], err);
        if (s == MEND_OK && chunks[i].n_chunks > max_chunks)
            max_chunks = chunks[i].n_chunks;
    }
    for (int i = 0; i < n; i++)
        out[i] = NULL;
    int total = max_chunks * MEND_CHUNK_LEN;
    for (int i = 0; i < n && s == MEND_OK; i++)
        if (!(out[i] = malloc((size_t)total * width * sizeof(float))))
            s = mend_fail(err, MEND_E_NOMEM, "out of memory");
    for (int k = 0; k < max_chunks && s == MEND_OK; k++)
        s = encode_chunk_index(clip, chunks, n, k, opts, &copts, out, total, width, err);
    if (s == MEND_OK) {
        *tokens = total;
        if (token_count0)
            *token_count0 = chunks[0].token_count;
    } else {
        for (int i = 0; i < n; i++) {
            free(out[i]);
            out[i] = NULL;
        }
    }
    for (int i = 0; i < n; i++)
        mend_prompt_chunks_free(&chunks[i]);
    free(chunks);
    return s;
}

mend_status mend_cond_build(const mend_clip *clip, const mend_tokenizer *tok, const char *prompt, int steps,
                            const mend_cond_opts *opts, mend_cond_schedule *out, mend_err *err)
{
    memset(out, 0, sizeof *out);
    mend_prompt_schedule sched = {0};
    MEND_TRY(mend_prompt_schedule_build(prompt, steps, 0, 0, &sched, err));
    const char **texts = malloc((size_t)sched.n * sizeof *texts);
    float **conds = calloc((size_t)sched.n, sizeof *conds);
    out->items = calloc((size_t)sched.n, sizeof *out->items);
    mend_status s = MEND_OK;
    if (!texts || !conds || !out->items) {
        s = mend_fail(err, MEND_E_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < sched.n; i++)
        texts[i] = sched.items[i].text;
    s = mend_cond_encode_texts(clip, tok, texts, sched.n, opts, conds, &out->tokens, &out->token_count, err);
    if (s != MEND_OK)
        goto done;
    out->n = sched.n;
    out->width = mend_clip_get_arch(clip)->width;
    for (int i = 0; i < sched.n; i++) {
        out->items[i].end_at_step = sched.items[i].end_at_step;
        out->items[i].cond = conds[i];
    }
done:
    if (s != MEND_OK)
        mend_cond_free(out);
    free(texts);
    free(conds);
    mend_prompt_schedule_free(&sched);
    return s;
}
