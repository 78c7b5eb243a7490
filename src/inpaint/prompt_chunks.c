/* tokenize_line and the emphasis step of A1111 v1.10.1
 * (modules/sd_hijack_clip.py, modules/sd_emphasis.py), textual-inversion
 * names included. */
#include "inpaint/prompt_chunks.h"

#include <stdlib.h>
#include <string.h>

#include "inpaint/prompt_parser.h"
#include "model/tokenizer.h"

int mend_emphasis_from_name(const char *name, mend_emphasis *out)
{
    static const char *names[] = {"Original", "No norm", "Ignore", "None"};
    for (int i = 0; i < 4; i++) {
        if (name && strcmp(name, names[i]) == 0) {
            *out = (mend_emphasis)i;
            return 0;
        }
    }
    return -1;
}

const char *mend_emphasis_name(mend_emphasis e)
{
    switch (e) {
    case MEND_EMPHASIS_ORIGINAL: return "Original";
    case MEND_EMPHASIS_NO_NORM: return "No norm";
    case MEND_EMPHASIS_IGNORE: return "Ignore";
    case MEND_EMPHASIS_NONE: return "None";
    }
    return "?";
}

mend_status mend_prompt_tokenize_clip(void *tokenizer, const char *text, int32_t **ids, int *n, mend_err *err)
{
    return mend_tokenize((const mend_tokenizer *)tokenizer, text, ids, n, err);
}

void mend_chunk_opts_default(mend_chunk_opts *o)
{
    o->emphasis = MEND_EMPHASIS_ORIGINAL;
    o->comma_padding_backtrack = 20;
    o->bos = MEND_CLIP_BOS;
    o->eos = MEND_CLIP_EOS;
    o->comma = MEND_CLIP_COMMA;
    o->ti = NULL;
}

void mend_prompt_chunks_free(mend_prompt_chunks *c)
{
    if (!c)
        return;
    free(c->tokens);
    free(c->multipliers);
    free(c->fixes);
    memset(c, 0, sizeof *c);
}

void mend_prompt_chunk_empty(const mend_chunk_opts *opts, int32_t tokens[MEND_CHUNK_LEN],
                             float multipliers[MEND_CHUNK_LEN])
{
    tokens[0] = opts->bos;
    for (int i = 1; i < MEND_CHUNK_LEN; i++)
        tokens[i] = opts->eos;
    for (int i = 0; i < MEND_CHUNK_LEN; i++)
        multipliers[i] = 1.0f;
}

/* The chunk being filled (PromptChunk) and the finished ones. */
typedef struct chunker {
    const mend_chunk_opts *o;
    int32_t tokens[MEND_CHUNK_TOKENS];
    double mults[MEND_CHUNK_TOKENS];
    int len;
    int last_comma;
    int token_count;
    mend_prompt_chunks out;
    int cap, fix_cap;
} chunker;

/* next_chunk(is_last): pad to 75 with EOS, frame with BOS/EOS, start anew. */
static int next_chunk(chunker *c, int is_last)
{
    c->token_count += is_last ? c->len : MEND_CHUNK_TOKENS;
    if (c->out.n_chunks == c->cap) {
        int cap = c->cap ? c->cap * 2 : 4;
        int32_t *t = realloc(c->out.tokens, (size_t)cap * MEND_CHUNK_LEN * sizeof *t);
        if (t)
            c->out.tokens = t;
        float *m = realloc(c->out.multipliers, (size_t)cap * MEND_CHUNK_LEN * sizeof *m);
        if (m)
            c->out.multipliers = m;
        if (!t || !m)
            return 0;
        c->cap = cap;
    }
    int32_t *row = c->out.tokens + (size_t)c->out.n_chunks * MEND_CHUNK_LEN;
    float *mrow = c->out.multipliers + (size_t)c->out.n_chunks * MEND_CHUNK_LEN;
    mend_prompt_chunk_empty(c->o, row, mrow);
    for (int i = 0; i < c->len; i++) {
        row[1 + i] = c->tokens[i];
        mrow[1 + i] = (float)c->mults[i];
    }
    c->out.n_chunks++;
    c->len = 0;
    c->last_comma = -1;
    return 1;
}

/* Before a piece's token at the current position: the comma back-off and
 * the chunk rollover. */
static int make_room(chunker *c, int32_t token)
{
    const mend_chunk_opts *o = c->o;
    if (token == o->comma) {
        c->last_comma = c->len;
    } else if (o->comma_padding_backtrack != 0 && c->len == MEND_CHUNK_TOKENS && c->last_comma != -1 &&
               c->len - c->last_comma <= o->comma_padding_backtrack) {
        /* move the words after the last comma into the next chunk (an
         * embedding's fix stays with the chunk it was recorded in, as in
         * A1111, which moves tokens only) */
        int from = c->last_comma + 1, moved = c->len - from;
        int32_t reloc_tokens[MEND_CHUNK_TOKENS];
        double reloc_mults[MEND_CHUNK_TOKENS];
        memcpy(reloc_tokens, c->tokens + from, (size_t)moved * sizeof *reloc_tokens);
        memcpy(reloc_mults, c->mults + from, (size_t)moved * sizeof *reloc_mults);
        c->len = from;
        if (!next_chunk(c, 0))
            return 0;
        memcpy(c->tokens, reloc_tokens, (size_t)moved * sizeof *reloc_tokens);
        memcpy(c->mults, reloc_mults, (size_t)moved * sizeof *reloc_mults);
        c->len = moved;
    }
    if (c->len == MEND_CHUNK_TOKENS && !next_chunk(c, 0))
        return 0;
    return 1;
}

/* An embedding's vectors: placeholder ids 0 with the piece's weight, in the
 * next chunk when they do not fit in this one; the fix records where. */
static int add_embedding(chunker *c, const mend_ti_embedding *e, double weight)
{
    if (c->len + e->vectors > MEND_CHUNK_TOKENS && !next_chunk(c, 0))
        return 0;
    if (c->out.n_fixes == c->fix_cap) {
        int cap = c->fix_cap ? c->fix_cap * 2 : 8;
        mend_chunk_fix *f = realloc(c->out.fixes, (size_t)cap * sizeof *f);
        if (!f)
            return 0;
        c->out.fixes = f;
        c->fix_cap = cap;
    }
    c->out.fixes[c->out.n_fixes++] = (mend_chunk_fix){c->out.n_chunks, c->len, e};
    for (int i = 0; i < e->vectors; i++) {
        c->tokens[c->len] = 0;
        c->mults[c->len] = weight;
        c->len++;
    }
    return 1;
}

/* The tokens of one piece, embeddings' names replaced by their vectors. */
static int add_tokens(chunker *c, const int32_t *ids, int n, double weight)
{
    for (int pos = 0; pos < n;) {
        if (!make_room(c, ids[pos]))
            return 0;
        int len = 0;
        const mend_ti_embedding *e = mend_ti_lookup_find(c->o->ti, ids, n, pos, &len);
        if (!e) {
            c->tokens[c->len] = ids[pos++];
            c->mults[c->len] = weight;
            c->len++;
        } else if (!add_embedding(c, e, weight)) {
            return 0;
        } else {
            pos += len;
        }
    }
    return 1;
}

static mend_status parse_for_emphasis(const char *prompt, mend_emphasis e, mend_prompt_pieces *pieces,
                                      mend_err *err)
{
    if (e != MEND_EMPHASIS_NONE)
        return mend_prompt_parse_attention(prompt, pieces, err);
    pieces->items = malloc(sizeof *pieces->items);
    pieces->n = 0;
    if (!pieces->items || !(pieces->items[0].text = strdup(prompt))) {
        free(pieces->items);
        pieces->items = NULL;
        return mend_fail(err, MEND_E_NOMEM, "prompt: out of memory");
    }
    pieces->items[0].weight = 1.0;
    pieces->n = 1;
    return MEND_OK;
}

static mend_status chunk_pieces(chunker *c, const mend_prompt_pieces *pieces, mend_tokenize_fn tokenize, void *user,
                                mend_err *err)
{
    for (int p = 0; p < pieces->n; p++) {
        const mend_prompt_piece *piece = &pieces->items[p];
        if (mend_prompt_piece_is_break(piece)) {
            if (!next_chunk(c, 0))
                return mend_fail(err, MEND_E_NOMEM, "prompt chunks: out of memory");
            continue;
        }
        int32_t *ids = NULL;
        int n = 0;
        mend_status st = tokenize(user, piece->text, &ids, &n, err);
        if (st != MEND_OK) {
            free(ids);
            return mend_err_wrap(err, "prompt chunks: tokenizing '%.40s'", piece->text);
        }
        int ok = add_tokens(c, ids, n, piece->weight);
        free(ids);
        if (!ok)
            return mend_fail(err, MEND_E_NOMEM, "prompt chunks: out of memory");
    }
    if (c->len > 0 || c->out.n_chunks == 0) {
        if (!next_chunk(c, 1))
            return mend_fail(err, MEND_E_NOMEM, "prompt chunks: out of memory");
    }
    return MEND_OK;
}

mend_status mend_prompt_chunks_build(const char *prompt, const mend_chunk_opts *opts, mend_tokenize_fn tokenize,
                                     void *user, mend_prompt_chunks *out, mend_err *err)
{
    memset(out, 0, sizeof *out);
    if (!opts || !tokenize)
        return mend_fail(err, MEND_E_ARG, "prompt chunks: no options or tokenizer given");
    mend_prompt_pieces pieces;
    MEND_TRY(parse_for_emphasis(prompt, opts->emphasis, &pieces, err));

    chunker *c = calloc(1, sizeof *c);
    if (!c) {
        mend_prompt_pieces_free(&pieces);
        return mend_fail(err, MEND_E_NOMEM, "prompt chunks: out of memory");
    }
    c->o = opts;
    c->last_comma = -1;
    mend_status st = chunk_pieces(c, &pieces, tokenize, user, err);
    mend_prompt_pieces_free(&pieces);
    c->out.token_count = c->token_count;
    if (st == MEND_OK)
        *out = c->out;
    else
        mend_prompt_chunks_free(&c->out);
    free(c);
    return st;
}

static double mean_of(const float *z, int64_t count)
{
    double s = 0;
    for (int64_t i = 0; i < count; i++)
        s += z[i];
    return count ? s / (double)count : 0.0;
}

void mend_emphasis_apply(mend_emphasis mode, float *z, const float *multipliers, int64_t rows, int64_t dim)
{
    if (mode != MEND_EMPHASIS_ORIGINAL && mode != MEND_EMPHASIS_NO_NORM)
        return;
    /* torch computes the means in float32; double sums differ only in the
     * last bits, far inside the 1e-4 tolerance of the reference. */
    float original_mean = (float)mean_of(z, rows * dim);
    for (int64_t r = 0; r < rows; r++) {
        float m = multipliers[r];
        for (int64_t d = 0; d < dim; d++)
            z[r * dim + d] *= m;
    }
    if (mode == MEND_EMPHASIS_NO_NORM)
        return;
    float new_mean = (float)mean_of(z, rows * dim);
    float scale = original_mean / new_mean; /* 0/0 gives NaN as in torch */
    for (int64_t i = 0; i < rows * dim; i++)
        z[i] *= scale;
}
