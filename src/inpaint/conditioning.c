#include "inpaint/conditioning.h"

#include "inpaint/prompt_parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mend_cond_opts_default(mend_cond_opts *o)
{
    o->clip_skip = 1;
    o->emphasis = MEND_EMPHASIS_ORIGINAL;
    o->comma_padding_backtrack = 20;
    o->ti = NULL;
    o->hires_steps = 0;
}

void mend_cond_free(mend_cond_schedule *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n; i++)
        free(s->items[i].cond);
    free(s->items);
    free(s->ti_hashes);
    memset(s, 0, sizeof *s);
}

const float *mend_cond_at(const mend_cond_schedule *s, int step)
{
    for (int i = 0; i < s->n; i++)
        if (step + 1 <= s->items[i].end_at_step)
            return s->items[i].cond;
    return s->items[s->n - 1].cond;
}

/* EmbeddingsWithFixes: the token-embedding rows of text i's chunk k that
 * its embeddings' vectors replace (at most up to the chunk's end). */
static void fix_rows(const mend_prompt_chunks *c, int i, int k, int width, const float **rows)
{
    for (int f = 0; f < c->n_fixes; f++) {
        const mend_chunk_fix *fx = &c->fixes[f];
        if (fx->chunk != k || fx->emb->shape != width || !fx->emb->vec)
            continue;
        int count = fx->emb->vectors < MEND_CHUNK_LEN - fx->offset - 1 ? fx->emb->vectors
                                                                       : MEND_CHUNK_LEN - fx->offset - 1;
        for (int r = 0; r < count; r++)
            rows[(size_t)i * MEND_CHUNK_LEN + fx->offset + 1 + r] = fx->emb->vec + (size_t)r * width;
    }
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
    const float **rows = calloc((size_t)n * MEND_CHUNK_LEN, sizeof *rows);
    mend_status s = MEND_OK;
    if (!ids || !mult || !z || !rows) {
        s = mend_fail(err, MEND_E_NOMEM, "out of memory encoding the prompt");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        if (k < chunks[i].n_chunks) {
            memcpy(ids + i * MEND_CHUNK_LEN, chunks[i].tokens + k * MEND_CHUNK_LEN, MEND_CHUNK_LEN * sizeof *ids);
            memcpy(mult + i * MEND_CHUNK_LEN, chunks[i].multipliers + k * MEND_CHUNK_LEN,
                   MEND_CHUNK_LEN * sizeof *mult);
            fix_rows(&chunks[i], i, k, width, rows);
        } else {
            mend_prompt_chunk_empty(copts, ids + i * MEND_CHUNK_LEN, mult + i * MEND_CHUNK_LEN);
        }
    }
    s = mend_clip_encode_rows(clip, ids, n, MEND_CHUNK_LEN, rows, opts->clip_skip, z, err);
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
    free(rows);
    return s;
}

/* "name: shorthash" with ':' and ',' taken out of the name, after ", "
 * when s already holds an item. */
static void append_hash(char *s, size_t cap, const mend_ti_embedding *e)
{
    size_t len = strlen(s);
    if (len)
        len += (size_t)snprintf(s + len, cap - len, ", ");
    for (const char *p = e->name; *p && len + 1 < cap; p++)
        if (*p != ':' && *p != ',')
            s[len++] = *p;
    s[len] = '\0';
    snprintf(s + len, cap - len, ": %s", e->shorthash);
}

/* The forward's used_embeddings (chunk index by chunk index, text by text,
 * each embedding once) as A1111's "TI hashes" value; NULL when none was
 * used. *oom is set when out of memory. */
static char *ti_hashes(const mend_prompt_chunks *chunks, int n, int max_chunks, int *oom)
{
    int total = 0;
    size_t cap = 1;
    for (int i = 0; i < n; i++)
        for (int f = 0; f < chunks[i].n_fixes; f++, total++)
            cap += strlen(chunks[i].fixes[f].emb->name) + 16;
    *oom = 0;
    if (!total)
        return NULL;
    char *s = calloc(cap, 1);
    const mend_ti_embedding **seen = calloc((size_t)total, sizeof *seen);
    int nseen = 0;
    for (int k = 0; s && seen && k < max_chunks; k++)
        for (int i = 0; i < n; i++)
            for (int f = 0; f < chunks[i].n_fixes; f++) {
                const mend_ti_embedding *e = chunks[i].fixes[f].emb;
                int known = chunks[i].fixes[f].chunk != k;
                for (int q = 0; q < nseen && !known; q++)
                    known = seen[q] == e;
                if (known)
                    continue;
                seen[nseen++] = e;
                append_hash(s, cap, e);
            }
    if (!seen) {
        free(s);
        s = NULL;
    }
    free(seen);
    *oom = !s;
    return s;
}

static mend_status encode_texts(const mend_clip *clip, const mend_tokenizer *tok, const char *const *texts, int n,
                                const mend_cond_opts *opts, float **out, int *tokens, int *token_count0,
                                char **hashes, mend_err *err)
{
    mend_chunk_opts copts;
    mend_chunk_opts_default(&copts);
    copts.emphasis = opts->emphasis;
    copts.comma_padding_backtrack = opts->comma_padding_backtrack;
    copts.ti = opts->ti;
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
    int oom = 0;
    if (s == MEND_OK && hashes && !(*hashes = ti_hashes(chunks, n, max_chunks, &oom)) && oom)
        s = mend_fail(err, MEND_E_NOMEM, "out of memory");
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

mend_status mend_cond_encode_texts(const mend_clip *clip, const mend_tokenizer *tok, const char *const *texts, int n,
                                   const mend_cond_opts *opts, float **out, int *tokens, int *token_count0,
                                   mend_err *err)
{
    return encode_texts(clip, tok, texts, n, opts, out, tokens, token_count0, NULL, err);
}

mend_status mend_cond_build(const mend_clip *clip, const mend_tokenizer *tok, const char *prompt, int steps,
                            const mend_cond_opts *opts, mend_cond_schedule *out, mend_err *err)
{
    memset(out, 0, sizeof *out);
    mend_prompt_schedule sched = {0};
    MEND_TRY(mend_prompt_schedule_build(prompt, steps, opts->hires_steps, 0, &sched, err));
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
    s = encode_texts(clip, tok, texts, sched.n, opts, conds, &out->tokens, &out->token_count, &out->ti_hashes, err);
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
