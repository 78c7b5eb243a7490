/* Text normalisation and the regex pre-tokenizer of the CLIP tokenizer.
 *
 * The reference is HF CLIPTokenizer as A1111 uses it (ftfy installed):
 *     text = whitespace_clean(ftfy.fix_text(text)).lower()
 *     words = regex.findall(pat, text)
 * ftfy.fix_text is reproduced only in the parts that change ordinary
 * prompts: HTML entities (when the text has no '<'), Latin ligatures,
 * full/half-width forms, curly quotes and control characters. Not done:
 * mojibake repair, C1-control decoding and the final NFC normalisation
 * (prompts typed on a keyboard are NFC already). */
#include "model/tokenizer_internal.h"
#include "core/grow.h"

#include "model/unicode.h"

#include <stdlib.h>
#include <string.h>

typedef struct cp_buf {
    uint32_t *v;
    size_t n, cap;
} cp_buf;

static int cp_push(cp_buf *b, uint32_t cp)
{
    uint32_t *v = mend_grow(b->v, &b->cap, b->n + 1, sizeof *v);
    if (!v)
        return 0;
    b->v = v;
    b->v[b->n++] = cp;
    return 1;
}

static mend_status decode_utf8(const char *text, cp_buf *out, mend_err *err)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t len = strlen(text);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int k = mend_utf8_decode(s + i, len - i, &cp);
        if (k == 0)
            return mend_fail(err, MEND_E_ARG, "prompt is not valid UTF-8 (byte %zu of %zu: 0x%02X)", i + 1, len,
                             s[i]);
        if (!cp_push(out, cp))
            return mend_fail(err, MEND_E_NOMEM, "out of memory tokenizing a prompt");
        i += (size_t)k;
    }
    return MEND_OK;
}

/* ---- HTML entities (ftfy unescape_html) ---- */

static int ascii_ieq(const uint32_t *s, size_t n, const char *word)
{
    size_t i = 0;
    for (; i < n && word[i]; i++) {
        uint32_t c = s[i] < 0x80 ? mend_uc_lower_cp(s[i]) : s[i];
        if (c != (unsigned char)word[i])
            return 0;
    }
    return i == n && !word[i];
}

/* Code point of the entity name s[0..n) (between '&' and ';'), or 0. */
static uint32_t entity_value(const uint32_t *s, size_t n)
{
    static const struct {
        const char *name;
        uint32_t cp;
    } named[] = {{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}, {"nbsp", 0xA0}};
    if (n >= 2 && s[0] == '#') {
        int hex = s[1] == 'x' || s[1] == 'X';
        uint64_t v = 0;
        size_t i = hex ? 2 : 1;
        if (i == n)
            return 0;
        for (; i < n; i++) {
            uint32_t c = s[i], d;
            if (c >= '0' && c <= '9')
                d = c - '0';
            else if (hex && (c | 0x20) >= 'a' && (c | 0x20) <= 'f')
                d = (c | 0x20) - 'a' + 10;
            else
                return 0;
            v = v * (hex ? 16 : 10) + d;
            if (v > 0x10FFFF)
                v = 0x110000; /* saturate: html.unescape gives U+FFFD */
        }
        if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            return 0xFFFD;
        return (uint32_t)v;
    }
    for (size_t k = 0; k < sizeof named / sizeof *named; k++)
        if (ascii_ieq(s, n, named[k].name))
            return named[k].cp;
    return 0;
}

static int is_entity_char(uint32_t c) { return c < 0x80 && (mend_uc_is_letter(c) || mend_uc_is_number(c) || c == '#'); }

/* ftfy leaves text that contains '<' alone (it may be real HTML). */
static mend_status unescape_html(cp_buf *b, mend_err *err)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->v[i] == '<')
            return MEND_OK;
    size_t w = 0;
    for (size_t i = 0; i < b->n;) {
        if (b->v[i] == '&') {
            size_t j = i + 1;
            while (j < b->n && j - i <= 26 && is_entity_char(b->v[j]))
                j++;
            uint32_t cp = j < b->n && b->v[j] == ';' && j > i + 1 ? entity_value(b->v + i + 1, j - i - 1) : 0;
            if (cp) {
                b->v[w++] = cp;
                i = j + 1;
                continue;
            }
        }
        b->v[w++] = b->v[i++];
    }
    b->n = w;
    (void)err;
    return MEND_OK;
}

/* ---- per-character ftfy fixes ---- */

static uint32_t uncurl_quote(uint32_t cp)
{
    if (cp == 0x2BC || (cp >= 0x2018 && cp <= 0x201B))
        return '\'';
    if (cp >= 0x201C && cp <= 0x201F)
        return '"';
    return cp;
}

/* ftfy remove_control_chars (tab, newlines and form feed stay: they are
 * whitespace and collapse later). */
static int is_removed_control(uint32_t cp)
{
    return cp <= 0x08 || cp == 0x0B || (cp >= 0x0E && cp <= 0x1F) || cp == 0x7F || (cp >= 0x206A && cp <= 0x206F) ||
           cp == 0xFEFF || (cp >= 0xFFF9 && cp <= 0xFFFC);
}

static int push_fixed(cp_buf *out, uint32_t cp)
{
    cp = uncurl_quote(cp);
    return is_removed_control(cp) || cp_push(out, cp);
}

static mend_status fix_chars(const cp_buf *in, cp_buf *out, mend_err *err)
{
    for (size_t i = 0; i < in->n; i++) {
        uint32_t rep[3];
        int k = mend_uc_compat_fold(in->v[i], rep);
        int ok = 1;
        if (k == 0)
            ok = push_fixed(out, in->v[i]);
        for (int j = 0; j < k && ok; j++)
            ok = push_fixed(out, rep[j]);
        if (!ok)
            return mend_fail(err, MEND_E_NOMEM, "out of memory tokenizing a prompt");
    }
    return MEND_OK;
}

/* ---- whitespace_clean + lower ---- */

/* Python's final-sigma rule, simplified to "after a letter and not before
 * one". */
static uint32_t lower_sigma(const cp_buf *b, size_t i)
{
    int after_letter = i > 0 && mend_uc_is_letter(b->v[i - 1]);
    int before_letter = i + 1 < b->n && mend_uc_is_letter(b->v[i + 1]);
    return after_letter && !before_letter ? 0x3C2 : 0x3C3;
}

static mend_status collapse_and_lower(const cp_buf *in, cp_buf *out, mend_err *err)
{
    int pending_space = 0, ok = 1;
    for (size_t i = 0; i < in->n && ok; i++) {
        uint32_t cp = in->v[i];
        if (mend_uc_is_space(cp)) {
            pending_space = out->n > 0; /* leading whitespace is stripped */
            continue;
        }
        if (pending_space)
            ok = cp_push(out, ' ');
        pending_space = 0;
        if (cp == 0x130) /* 'İ'.lower() is two code points */
            ok = ok && cp_push(out, 'i') && cp_push(out, 0x307);
        else
            ok = ok && cp_push(out, cp == 0x3A3 ? lower_sigma(in, i) : mend_uc_lower_cp(cp));
    }
    return ok ? MEND_OK : mend_fail(err, MEND_E_NOMEM, "out of memory tokenizing a prompt");
}

mend_status mend_tok_clean(const char *text, uint32_t **cps, size_t *n, mend_err *err)
{
    cp_buf raw = {0}, fixed = {0}, clean = {0};
    mend_status s = decode_utf8(text, &raw, err);
    if (s == MEND_OK)
        s = unescape_html(&raw, err);
    if (s == MEND_OK)
        s = fix_chars(&raw, &fixed, err);
    if (s == MEND_OK)
        s = collapse_and_lower(&fixed, &clean, err);
    free(raw.v);
    free(fixed.v);
    if (s != MEND_OK) {
        free(clean.v);
        return s;
    }
    *cps = clean.v;
    *n = clean.n;
    return MEND_OK;
}

/* ---- the CLIP split pattern ---- */

static int matches_ascii(const uint32_t *cps, size_t n, size_t pos, const char *lit)
{
    size_t len = strlen(lit);
    if (n - pos < len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (cps[pos + i] != (unsigned char)lit[i])
            return 0;
    return 1;
}

/* Length of the contraction at pos ('s 't 're 've 'm 'll 'd), or 0. */
static size_t contraction_len(const uint32_t *cps, size_t n, size_t pos)
{
    static const char *const forms[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
    for (size_t k = 0; k < sizeof forms / sizeof *forms; k++)
        if (matches_ascii(cps, n, pos, forms[k]))
            return strlen(forms[k]);
    return 0;
}

static int is_other(uint32_t cp) { return !mend_uc_is_space(cp) && !mend_uc_is_letter(cp) && !mend_uc_is_number(cp); }

int mend_tok_next(const uint32_t *cps, size_t n, size_t *pos, mend_pretoken *out)
{
    size_t i = *pos;
    while (i < n && mend_uc_is_space(cps[i]))
        i++;
    if (i >= n)
        return 0;
    size_t end = i + 1;
    out->kind = MEND_PRETOK_TEXT;
    if (matches_ascii(cps, n, i, "<|startoftext|>")) {
        out->kind = MEND_PRETOK_BOS;
        end = i + strlen("<|startoftext|>");
    } else if (matches_ascii(cps, n, i, "<|endoftext|>")) {
        out->kind = MEND_PRETOK_EOS;
        end = i + strlen("<|endoftext|>");
    } else if (contraction_len(cps, n, i)) {
        end = i + contraction_len(cps, n, i);
    } else if (mend_uc_is_letter(cps[i])) {
        while (end < n && mend_uc_is_letter(cps[end]))
            end++;
    } else if (!mend_uc_is_number(cps[i])) {
        while (end < n && is_other(cps[end]))
            end++;
    }
    out->start = i;
    out->end = end;
    *pos = end;
    return 1;
}
