/* CLIP BPE tokenizer: vocabulary loading and byte-level BPE.
 *
 * Two vocabulary forms give the same table:
 *  - bpe_simple_vocab_16e6.txt.gz (openai CLIP): only merges; the vocabulary
 *    is the 256 byte symbols, the same with '</w>', one entry per merge,
 *    then <|startoftext|> and <|endoftext|>;
 *  - vocab.json + merges.txt (HF): the vocabulary is given.
 * In both, the merges are lines 1..48894 of the merges text (line 0 is a
 * version header), the rank of a merge being its order.
 *
 * Tokens are handled as ids throughout: every merge result is itself a
 * vocabulary entry, so BPE runs on id sequences with a (left id, right id)
 * -> (rank, merged id) table. */
#include "model/tokenizer.h"
#include "core/fs.h"
#include "core/grow.h"

#include "model/tokenizer_internal.h"
#include "model/unicode.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define CLIP_MAX_MERGES (49152 - 256 - 2) /* as both reference tokenizers slice */

typedef struct merge_slot {
    uint64_t key; /* left << 32 | right; EMPTY_KEY when free */
    int32_t rank, merged;
} merge_slot;

#define EMPTY_KEY UINT64_MAX

struct mend_tokenizer {
    char **tokens; /* id -> vocabulary string (byte-level unicode form); NULL for gaps */
    int n_tokens;
    int32_t *str_slots; /* open-addressing string -> id table; -1 = free */
    size_t str_cap;
    merge_slot *merges;
    size_t merge_cap;
    int32_t byte_id[256], byte_end_id[256]; /* first/last BPE symbol of each byte */
    int32_t bos, eos;
};

/* ---- bytes_to_unicode ---- */

/* GPT-2/CLIP byte-to-character table: printable Latin-1 bytes map to
 * themselves, the other 68 to U+0100.. in byte order. `order` lists the bytes
 * in the order the .gz vocabulary enumerates them. */
static void byte_table(uint32_t cp_of[256], int order[256])
{
    int k = 0, extra = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        if (printable) {
            cp_of[b] = (uint32_t)b;
            order[k++] = b;
        }
    }
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        if (!printable) {
            cp_of[b] = 256u + (uint32_t)extra++;
            order[k++] = b;
        }
    }
}

/* ---- string -> id table ---- */

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int32_t str_lookup(const mend_tokenizer *t, const char *s, size_t n)
{
    size_t mask = t->str_cap - 1;
    for (size_t i = hash_bytes(s, n) & mask;; i = (i + 1) & mask) {
        int32_t id = t->str_slots[i];
        if (id < 0)
            return -1;
        if (strncmp(t->tokens[id], s, n) == 0 && t->tokens[id][n] == '\0')
            return id;
    }
}

/* Later duplicates replace earlier ones, as in a Python dict. */
static void str_insert(mend_tokenizer *t, int32_t id)
{
    const char *s = t->tokens[id];
    size_t mask = t->str_cap - 1;
    for (size_t i = hash_bytes(s, strlen(s)) & mask;; i = (i + 1) & mask) {
        int32_t cur = t->str_slots[i];
        if (cur < 0 || strcmp(t->tokens[cur], s) == 0) {
            t->str_slots[i] = id;
            return;
        }
    }
}

static size_t pow2_at_least(size_t n)
{
    size_t c = 16;
    while (c < n)
        c *= 2;
    return c;
}

static mend_status build_str_table(mend_tokenizer *t)
{
    t->str_cap = pow2_at_least((size_t)t->n_tokens * 2);
    t->str_slots = malloc(t->str_cap * sizeof *t->str_slots);
    if (!t->str_slots)
        return MEND_E_NOMEM;
    memset(t->str_slots, 0xFF, t->str_cap * sizeof *t->str_slots);
    for (int32_t id = 0; id < t->n_tokens; id++)
        if (t->tokens[id])
            str_insert(t, id);
    return MEND_OK;
}

/* ---- merge table ---- */

static uint64_t pair_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

static size_t pair_slot(const mend_tokenizer *t, uint64_t key)
{
    size_t mask = t->merge_cap - 1;
    size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & mask;
    while (t->merges[i].key != EMPTY_KEY && t->merges[i].key != key)
        i = (i + 1) & mask;
    return i;
}

static const merge_slot *merge_find(const mend_tokenizer *t, int32_t a, int32_t b)
{
    const merge_slot *m = &t->merges[pair_slot(t, pair_key(a, b))];
    return m->key == EMPTY_KEY ? NULL : m;
}

/* ---- file reading ---- */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* ---- merges text ---- */

typedef struct merge_line {
    char *left, *right; /* point into the text buffer */
    int line;           /* 1-based line number, for messages */
} merge_line;

/* Splits the merges text in place into up to CLIP_MAX_MERGES (left, right)
 * pairs, skipping the header line. */
static mend_status parse_merges(const char *path, char *text, merge_line **out, int *count, mend_err *err)
{
    merge_line *m = malloc(CLIP_MAX_MERGES * sizeof *m);
    if (!m)
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    int n = 0, line = 1;
    char *p = strchr(text, '\n');
    p = p ? p + 1 : text + strlen(text);
    while (*p && n < CLIP_MAX_MERGES) {
        line++;
        char *eol = strchr(p, '\n');
        char *next = eol ? eol + 1 : p + strlen(p);
        if (eol)
            *eol = '\0';
        if (eol > p && eol[-1] == '\r')
            eol[-1] = '\0';
        char *sp = strchr(p, ' ');
        if (*p == '\0' && !*next)
            break; /* trailing newline */
        if (!sp || sp == p || sp[1] == '\0' || strchr(sp + 1, ' ')) {
            free(m);
            return mend_fail(err, MEND_E_FORMAT, "%s: line %d is not a BPE merge ('left right'): '%.40s'", path, line,
                             p);
        }
        *sp = '\0';
        m[n++] = (merge_line){p, sp + 1, line};
        p = next;
    }
    if (n == 0) {
        free(m);
        return mend_fail(err, MEND_E_FORMAT, "%s: holds no BPE merges", path);
    }
    *out = m;
    *count = n;
    return MEND_OK;
}

static mend_status check_utf8(const char *path, const char *s, int line, mend_err *err)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int k = mend_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (!k)
            return mend_fail(err, MEND_E_FORMAT, "%s: line %d is not valid UTF-8; not a CLIP vocabulary", path, line);
        i += (size_t)k;
    }
    return MEND_OK;
}

static mend_status build_merge_table(mend_tokenizer *t, const char *path, const merge_line *m, int count,
                                     mend_err *err)
{
    t->merge_cap = pow2_at_least((size_t)count * 2);
    t->merges = malloc(t->merge_cap * sizeof *t->merges);
    if (!t->merges)
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    for (size_t i = 0; i < t->merge_cap; i++)
        t->merges[i].key = EMPTY_KEY;
    char joined[1024];
    for (int r = 0; r < count; r++) {
        int32_t a = str_lookup(t, m[r].left, strlen(m[r].left));
        int32_t b = str_lookup(t, m[r].right, strlen(m[r].right));
        int len = snprintf(joined, sizeof joined, "%s%s", m[r].left, m[r].right);
        int32_t ab = len < (int)sizeof joined ? str_lookup(t, joined, (size_t)len) : -1;
        if (a < 0 || b < 0 || ab < 0)
            return mend_fail(err, MEND_E_FORMAT, "%s: line %d: merge '%.40s %.40s' uses a token missing from the "
                             "vocabulary", path, m[r].line, m[r].left, m[r].right);
        merge_slot *s = &t->merges[pair_slot(t, pair_key(a, b))];
        if (s->key == EMPTY_KEY) /* the first (lowest-rank) occurrence wins */
            *s = (merge_slot){pair_key(a, b), r, ab};
    }
    return MEND_OK;
}

/* ---- vocabulary, .gz form ---- */

static char *str_cat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);
    if (s) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb + 1);
    }
    return s;
}

static mend_status vocab_from_merges(mend_tokenizer *t, const char *path, const merge_line *m, int count,
                                     mend_err *err)
{
    uint32_t cp_of[256];
    int order[256];
    byte_table(cp_of, order);
    t->n_tokens = 512 + count + 2;
    if (!(t->tokens = calloc((size_t)t->n_tokens, sizeof *t->tokens)))
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    int id = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int k = 0; k < 256; k++) {
            char ch[5] = {0};
            mend_utf8_encode(cp_of[order[k]], ch);
            if (!(t->tokens[id++] = str_cat(ch, pass ? "</w>" : "")))
                return mend_fail(err, MEND_E_NOMEM, "out of memory");
        }
    }
    for (int r = 0; r < count; r++) {
        MEND_TRY(check_utf8(path, m[r].left, m[r].line, err));
        MEND_TRY(check_utf8(path, m[r].right, m[r].line, err));
        if (!(t->tokens[id++] = str_cat(m[r].left, m[r].right)))
            return mend_fail(err, MEND_E_NOMEM, "out of memory");
    }
    if (!(t->tokens[id++] = strdup("<|startoftext|>")) || !(t->tokens[id++] = strdup("<|endoftext|>")))
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    return MEND_OK;
}

static mend_status load_merges_file(mend_tokenizer *t, const char *path, int build_vocab, mend_err *err)
{
    char *text = NULL;
    size_t len = 0;
    merge_line *m = NULL;
    int count = 0;
    MEND_TRY(mend_tok_read_text(path, ends_with(path, ".gz"), &text, &len, err));
    mend_status s = parse_merges(path, text, &m, &count, err);
    if (s == MEND_OK && build_vocab)
        s = vocab_from_merges(t, path, m, count, err);
    if (s == MEND_OK && build_str_table(t) != MEND_OK)
        s = mend_fail(err, MEND_E_NOMEM, "out of memory");
    if (s == MEND_OK)
        s = build_merge_table(t, path, m, count, err);
    free(m);
    free(text);
    return s;
}

/* ---- vocabulary, vocab.json form ---- */

static mend_status vocab_from_json(mend_tokenizer *t, const char *path, mend_err *err)
{
    char *text = NULL;
    size_t len = 0;
    MEND_TRY(mend_tok_read_text(path, 0, &text, &len, err));
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return mend_fail(err, MEND_E_FORMAT, "%s: not a JSON object of token -> id (is it a CLIP vocab.json?)", path);
    }
    int max_id = -1;
    const cJSON *e;
    cJSON_ArrayForEach(e, root)
    {
        double v = cJSON_IsNumber(e) ? e->valuedouble : -1;
        if (!e->string || v < 0 || v >= (1 << 24) || v != (double)(int)v) {
            cJSON_Delete(root);
            return mend_fail(err, MEND_E_FORMAT, "%s: entry '%.40s' is not a token id (an integer in [0, 2^24))",
                             path, e->string ? e->string : "?");
        }
        if ((int)v > max_id)
            max_id = (int)v;
    }
    t->n_tokens = max_id + 1;
    t->tokens = calloc((size_t)(t->n_tokens > 0 ? t->n_tokens : 1), sizeof *t->tokens);
    mend_status s = t->tokens ? MEND_OK : mend_fail(err, MEND_E_NOMEM, "out of memory");
    cJSON_ArrayForEach(e, root)
    {
        if (s != MEND_OK)
            break;
        int id = (int)e->valuedouble;
        if (t->tokens[id])
            s = mend_fail(err, MEND_E_FORMAT, "%s: id %d is given to both '%.40s' and '%.40s'", path, id,
                          t->tokens[id], e->string);
        else if (!(t->tokens[id] = strdup(e->string)))
            s = mend_fail(err, MEND_E_NOMEM, "out of memory");
    }
    cJSON_Delete(root);
    if (s == MEND_OK && t->n_tokens == 0)
        s = mend_fail(err, MEND_E_FORMAT, "%s: the vocabulary is empty", path);
    return s;
}

static mend_status load_json_form(mend_tokenizer *t, const char *vocab_json, mend_err *err)
{
    MEND_TRY(vocab_from_json(t, vocab_json, err));
    const char *slash = strrchr(vocab_json, '/');
    int dir_len = slash ? (int)(slash - vocab_json) : 1;
    char merges[4096];
    snprintf(merges, sizeof merges, "%.*s/merges.txt", dir_len, slash ? vocab_json : ".");
    if (!mend_is_file(merges))
        return mend_fail(err, MEND_E_IO, "%s: merges.txt is missing beside %s", merges, vocab_json);
    return load_merges_file(t, merges, 0, err);
}

/* ---- symbols every tokenization needs ---- */

static mend_status find_required(mend_tokenizer *t, const char *path, mend_err *err)
{
    uint32_t cp_of[256];
    int order[256];
    byte_table(cp_of, order);
    for (int b = 0; b < 256; b++) {
        char s[16] = {0};
        int n = mend_utf8_encode(cp_of[b], s);
        t->byte_id[b] = str_lookup(t, s, (size_t)n);
        memcpy(s + n, "</w>", 5);
        t->byte_end_id[b] = str_lookup(t, s, strlen(s));
        if (t->byte_id[b] < 0 || t->byte_end_id[b] < 0)
            return mend_fail(err, MEND_E_FORMAT, "%s: the vocabulary lacks the symbol of byte 0x%02X; not a CLIP "
                             "vocabulary", path, b);
    }
    t->bos = str_lookup(t, "<|startoftext|>", strlen("<|startoftext|>"));
    t->eos = str_lookup(t, "<|endoftext|>", strlen("<|endoftext|>"));
    if (t->bos < 0 || t->eos < 0)
        return mend_fail(err, MEND_E_FORMAT, "%s: the vocabulary lacks <|startoftext|> or <|endoftext|>", path);
    return MEND_OK;
}

/* ---- public: loading ---- */

static mend_status load_path(mend_tokenizer *t, const char *path, mend_err *err)
{
    char buf[4096];
    if (mend_is_dir(path)) {
        snprintf(buf, sizeof buf, "%s/vocab.json", path);
        if (mend_is_file(buf))
            return load_json_form(t, buf, err);
        snprintf(buf, sizeof buf, "%s/bpe_simple_vocab_16e6.txt.gz", path);
        if (mend_is_file(buf))
            return load_merges_file(t, buf, 1, err);
        return mend_fail(err, MEND_E_IO, "%s: folder holds neither vocab.json (with merges.txt) nor "
                         "bpe_simple_vocab_16e6.txt.gz", path);
    }
    if (ends_with(path, ".json"))
        return load_json_form(t, path, err);
    return load_merges_file(t, path, 1, err);
}

mend_status mend_tokenizer_load(const char *path, mend_tokenizer **out, mend_err *err)
{
    *out = NULL;
    mend_tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    mend_status s = load_path(t, path, err);
    if (s == MEND_OK)
        s = find_required(t, path, err);
    return MEND_HAND_OVER(s, t, out, mend_tokenizer_free);
}

void mend_tokenizer_free(mend_tokenizer *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->n_tokens; i++)
        free(t->tokens ? t->tokens[i] : NULL);
    free(t->tokens);
    free(t->str_slots);
    free(t->merges);
    free(t);
}

const char *mend_token_text(const mend_tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->n_tokens ? t->tokens[id] : NULL;
}

int mend_tokenizer_vocab_size(const mend_tokenizer *t) { return t->n_tokens; }

/* ---- BPE ---- */

/* Merges the lowest-ranked adjacent pair everywhere (left to right, no
 * overlaps) until no pair has a merge; sym holds ids, returns the new count. */
static size_t bpe_merge(const mend_tokenizer *t, int32_t *sym, size_t n)
{
    while (n > 1) {
        int32_t best_rank = INT32_MAX, left = -1, right = -1, merged = -1;
        for (size_t i = 0; i + 1 < n; i++) {
            const merge_slot *m = merge_find(t, sym[i], sym[i + 1]);
            if (m && m->rank < best_rank)
                best_rank = m->rank, left = sym[i], right = sym[i + 1], merged = m->merged;
        }
        if (merged < 0)
            break;
        size_t w = 0;
        for (size_t i = 0; i < n; i++) {
            if (i + 1 < n && sym[i] == left && sym[i + 1] == right)
                sym[w++] = merged, i++;
            else
                sym[w++] = sym[i];
        }
        n = w;
    }
    return n;
}

typedef struct id_buf {
    int32_t *v;
    size_t n, cap;
} id_buf;

static int id_reserve(id_buf *b, size_t more)
{
    int32_t *v = mend_grow(b->v, &b->cap, b->n + more, sizeof *v);
    if (v)
        b->v = v;
    return v != NULL;
}

/* Appends the BPE ids of one pre-token (code points cps[0..n)). */
static int bpe_word(const mend_tokenizer *t, const uint32_t *cps, size_t n, id_buf *out)
{
    size_t nbytes = 0;
    for (size_t i = 0; i < n; i++) {
        char tmp[4];
        nbytes += (size_t)mend_utf8_encode(cps[i], tmp);
    }
    if (!id_reserve(out, nbytes))
        return 0;
    int32_t *sym = out->v + out->n;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char bytes[4];
        int len = mend_utf8_encode(cps[i], (char *)bytes);
        for (int j = 0; j < len; j++, k++)
            sym[k] = k + 1 == nbytes ? t->byte_end_id[bytes[j]] : t->byte_id[bytes[j]];
    }
    out->n += bpe_merge(t, sym, nbytes);
    return 1;
}

mend_status mend_tokenize(const mend_tokenizer *t, const char *text, int32_t **ids, int *n, mend_err *err)
{
    *ids = NULL;
    *n = 0;
    uint32_t *cps = NULL;
    size_t ncp = 0, pos = 0;
    MEND_TRY(mend_tok_clean(text, &cps, &ncp, err));
    id_buf out = {0};
    mend_pretoken p;
    int ok = 1;
    while (ok && mend_tok_next(cps, ncp, &pos, &p)) {
        if (p.kind == MEND_PRETOK_TEXT)
            ok = bpe_word(t, cps + p.start, p.end - p.start, &out);
        else if ((ok = id_reserve(&out, 1)))
            out.v[out.n++] = p.kind == MEND_PRETOK_BOS ? t->bos : t->eos;
    }
    free(cps);
    if (!ok || out.n > INT32_MAX) {
        free(out.v);
        return mend_fail(err, MEND_E_NOMEM, "out of memory tokenizing a prompt");
    }
    if (!out.v && !(out.v = malloc(sizeof *out.v)))
        return mend_fail(err, MEND_E_NOMEM, "out of memory tokenizing a prompt");
    *ids = out.v;
    *n = (int)out.n;
    return MEND_OK;
}

mend_status mend_tokenize77(const mend_tokenizer *t, const char *text, int32_t out[MEND_CLIP_CTX], mend_err *err)
{
    int32_t *ids;
    int n;
    MEND_TRY(mend_tokenize(t, text, &ids, &n, err));
    int keep = n < MEND_CLIP_CTX - 2 ? n : MEND_CLIP_CTX - 2;
    out[0] = t->bos;
    memcpy(out + 1, ids, (size_t)keep * sizeof *out);
    for (int i = keep + 1; i < MEND_CLIP_CTX; i++)
        out[i] = t->eos;
    free(ids);
    return MEND_OK;
}
