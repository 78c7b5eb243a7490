/* A1111 v1.10.1 modules/prompt_parser.py in C. The Python regexes are
 * replaced by hand-written scanners that match the same text (the comments
 * quote the regex each scanner stands for); the lark grammar of prompt
 * editing is parsed by recursive descent that prefers a bracket construct
 * over literal brackets, as lark's Earley parser resolves it; that part,
 * prompt editing schedules, is in prompt_schedule.c. */
#include "inpaint/prompt_parser.h"
#include "inpaint/prompt_text.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* UTF-8 and Python's character classes                                 */

long mend_utf8_invalid_at(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (s[i]) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int len;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2, cp = c & 0x1F, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3, cp = c & 0x0F, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return (long)i;
        }
        for (int k = 1; k < len; k++) {
            unsigned cc = s[i + k]; /* a NUL stops here: it is not a continuation byte */
            if ((cc & 0xC0) != 0x80)
                return (long)i;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return (long)i;
        i += (size_t)len;
    }
    return -1;
}

/* Code point starting at s[i] of valid UTF-8; *len = its byte count. */
uint32_t pp_utf8_at(const char *str, size_t i, size_t *len)
{
    const unsigned char *s = (const unsigned char *)str + i;
    if (s[0] < 0x80) {
        *len = 1;
        return s[0];
    }
    if (s[0] < 0xE0) {
        *len = 2;
        return ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
    }
    if (s[0] < 0xF0) {
        *len = 3;
        return ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    }
    *len = 4;
    return ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) | ((uint32_t)(s[2] & 0x3F) << 6) |
           (s[3] & 0x3F);
}

/* Start of the code point that ends just before byte i (i > start). */
static size_t utf8_prev(const char *s, size_t start, size_t i)
{
    do {
        i--;
    } while (i > start && (((unsigned char)s[i]) & 0xC0) == 0x80);
    return i;
}

/* Python's str.isspace(), which is what \s matches in a str pattern. */
static int py_isspace(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Python's \w (alphanumeric or '_'): exact for ASCII; beyond it, letters,
 * digits and CJK count, spaces, punctuation, symbols and emoji do not. */
static int py_isword(uint32_t c)
{
    if (c < 0x80)
        return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    if (py_isspace(c))
        return 0;
    if (c <= 0xBF)
        return c == 0xAA || c == 0xB2 || c == 0xB3 || c == 0xB5 || c == 0xB9 || c == 0xBA || (c >= 0xBC && c <= 0xBE);
    if (c == 0xD7 || c == 0xF7 || (c >= 0x0300 && c <= 0x036F))
        return 0;
    static const uint32_t not_word[][2] = {
        {0x2000, 0x206F}, {0x20A0, 0x20FF}, {0x2190, 0x245F}, {0x2500, 0x27BF},   {0x2900, 0x2BFF},
        {0x3000, 0x3004}, {0x3008, 0x3020}, {0x3030, 0x3030}, {0xFE00, 0xFE0F},   {0xFE30, 0xFE4F},
        {0xFF01, 0xFF0F}, {0xFF1A, 0xFF20}, {0xFF3B, 0xFF40}, {0xFF5B, 0xFF65},   {0x1F000, 0x1FAFF},
        {0xE0000, 0xE007F},
    };
    for (size_t k = 0; k < sizeof not_word / sizeof not_word[0]; k++)
        if (c >= not_word[k][0] && c <= not_word[k][1])
            return 0;
    return 1;
}

/* Index after the run of Python whitespace starting at i (end at n). */
size_t pp_skip_space(const char *s, size_t i, size_t n)
{
    while (i < n) {
        size_t len;
        if (!py_isspace(pp_utf8_at(s, i, &len)))
            break;
        i += len;
    }
    return i;
}

/* Start of the run of Python whitespace that ends at i (not before start). */
static size_t skip_space_back(const char *s, size_t start, size_t i)
{
    while (i > start) {
        size_t p = utf8_prev(s, start, i), len;
        if (!py_isspace(pp_utf8_at(s, p, &len)))
            break;
        i = p;
    }
    return i;
}

/* \b around the ASCII word w at s[u, u+wlen) inside the string s[start, end). */
static int word_at(const char *s, size_t start, size_t end, size_t u, const char *w)
{
    size_t wlen = strlen(w), len;
    if (u + wlen > end || memcmp(s + u, w, wlen) != 0)
        return 0;
    if (u > start && py_isword(pp_utf8_at(s, utf8_prev(s, start, u), &len)))
        return 0;
    if (u + wlen < end && py_isword(pp_utf8_at(s, u + wlen, &len)))
        return 0;
    return 1;
}

mend_status pp_check_utf8(const char *what, const char *s, mend_err *err)
{
    if (!s)
        return mend_fail(err, MEND_E_ARG, "%s: no text given", what);
    long bad = mend_utf8_invalid_at(s);
    if (bad >= 0)
        return mend_fail(err, MEND_E_ARG, "%s: invalid UTF-8 at byte %ld (0x%02x)", what, bad,
                         (unsigned)(unsigned char)s[bad]);
    return MEND_OK;
}

/* Python float() of an ASCII span already known to be a number literal. */
double pp_span_to_double(const char *s, size_t len)
{
    char buf[64];
    char *heap = NULL, *p = buf;
    if (len >= sizeof buf) {
        heap = malloc(len + 1);
        if (!heap)
            return NAN; /* callers treat NaN as "not a number" */
        p = heap;
    }
    memcpy(p, s, len);
    p[len] = '\0';
    double v = strtod(p, NULL);
    free(heap);
    return v;
}

/* ------------------------------------------------------------------ */
/* Growable text and piece lists with a sticky out-of-memory flag        */


void pp_sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* The buffer's string (an empty one if nothing was added), or NULL on oom. */
char *pp_sb_take(sbuf *b)
{
    if (!b->oom && !b->p)
        pp_sb_add(b, "", 0);
    if (b->oom) {
        free(b->p);
        b->p = NULL;
        return NULL;
    }
    char *p = b->p;
    b->p = NULL, b->len = b->cap = 0;
    return p;
}

typedef struct plist {
    mend_prompt_piece *items;
    int n, cap;
    int oom;
} plist;

static void pl_push(plist *l, const char *s, size_t len, double weight)
{
    if (l->oom)
        return;
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        mend_prompt_piece *p = realloc(l->items, (size_t)cap * sizeof *p);
        if (!p) {
            l->oom = 1;
            return;
        }
        l->items = p, l->cap = cap;
    }
    char *t = malloc(len + 1);
    if (!t) {
        l->oom = 1;
        return;
    }
    memcpy(t, s, len);
    t[len] = '\0';
    l->items[l->n].text = t;
    l->items[l->n].weight = weight;
    l->n++;
}

static void pl_free(plist *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->items[i].text);
    free(l->items);
    memset(l, 0, sizeof *l);
}

void mend_prompt_pieces_free(mend_prompt_pieces *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n; i++)
        free(p->items[i].text);
    free(p->items);
    p->items = NULL;
    p->n = 0;
}

int mend_prompt_piece_is_break(const mend_prompt_piece *p)
{
    return p->weight == -1.0 && strcmp(p->text, "BREAK") == 0;
}

/* ------------------------------------------------------------------ */
/* parse_prompt_attention                                               */

typedef struct istack {
    int *v;
    int n, cap;
} istack;

static int is_push(istack *st, int x)
{
    if (st->n == st->cap) {
        int cap = st->cap ? st->cap * 2 : 16;
        int *v = realloc(st->v, (size_t)cap * sizeof *v);
        if (!v)
            return 0;
        st->v = v, st->cap = cap;
    }
    st->v[st->n++] = x;
    return 1;
}

/* res[start:] weights *= m, in A1111's order (one bracket at a time). */
static void multiply_range(plist *res, int start, double m)
{
    for (int p = start; p < res->n; p++)
        res->items[p].weight *= m;
}

/* Text outside brackets: re.split(r"\s*\bBREAK\b\s*", text) with a
 * {"BREAK", -1} piece between the parts. \b is relative to this text. */
static void add_text_split_break(plist *res, const char *s, size_t a, size_t b)
{
    size_t part = a;
    for (size_t u = a; u + 5 <= b; u++) {
        if (s[u] != 'B' || !word_at(s, a, b, u, "BREAK"))
            continue;
        size_t match_start = skip_space_back(s, part, u);
        pl_push(res, s + part, match_start - part, 1.0);
        pl_push(res, "BREAK", 5, -1.0);
        part = pp_skip_space(s, u + 5, b);
        u = part - 1; /* the loop's u++ resumes the search at `part` */
        if (part == b)
            break;
    }
    pl_push(res, s + part, b - part, 1.0);
}

/* re_attention's weight alternative at s[i] == ':':
 *   :\s*([+-]?[.\d]+)\s*\)
 * On a match, [*wa, *wb) is the number and *end is after the ')'. */
static int match_weight(const char *s, size_t i, size_t n, size_t *wa, size_t *wb, size_t *end)
{
    size_t j = pp_skip_space(s, i + 1, n);
    *wa = j;
    if (j < n && (s[j] == '+' || s[j] == '-'))
        j++;
    size_t digits_from = j;
    while (j < n && (s[j] == '.' || (s[j] >= '0' && s[j] <= '9')))
        j++;
    if (j == digits_from)
        return 0;
    *wb = j;
    j = pp_skip_space(s, j, n);
    if (j >= n || s[j] != ')')
        return 0;
    *end = j + 1;
    return 1;
}

/* float() of a [+-]?[.\d]+ match: valid with one '.' at most and a digit. */
static int weight_value(const char *s, size_t a, size_t b, double *out)
{
    int dots = 0, digits = 0;
    for (size_t k = a; k < b; k++) {
        dots += s[k] == '.';
        digits += s[k] >= '0' && s[k] <= '9';
    }
    if (dots > 1 || digits == 0)
        return 0;
    *out = pp_span_to_double(s + a, b - a);
    return !isnan(*out);
}

static void merge_equal_weights(plist *res)
{
    int i = 0;
    while (i + 1 < res->n && !res->oom) {
        mend_prompt_piece *a = &res->items[i], *b = &res->items[i + 1];
        if (a->weight != b->weight) {
            i++;
            continue;
        }
        size_t la = strlen(a->text), lb = strlen(b->text);
        char *t = realloc(a->text, la + lb + 1);
        if (!t) {
            res->oom = 1;
            return;
        }
        memcpy(t + la, b->text, lb + 1);
        a->text = t;
        free(b->text);
        memmove(b, b + 1, (size_t)(res->n - i - 2) * sizeof *b);
        res->n--;
    }
}

static int is_attention_special(char c)
{
    return c == '\\' || c == '(' || c == ')' || c == '[' || c == ']' || c == ':';
}

mend_status mend_prompt_parse_attention(const char *prompt, mend_prompt_pieces *out, mend_err *err)
{
    out->items = NULL;
    out->n = 0;
    MEND_TRY(pp_check_utf8("prompt", prompt, err));

    const double round_mult = 1.1, square_mult = 1 / 1.1;
    plist res = {0};
    istack round = {0}, square = {0};
    int stack_oom = 0;
    mend_status st = MEND_OK;
    size_t n = strlen(prompt), i = 0;
    while (i < n && !res.oom && !stack_oom && st == MEND_OK) {
        char c = prompt[i];
        size_t wa, wb, end;
        if (c == '\\') {
            /* \( \) \[ \] \\ keep the second char; a lone backslash gives "" */
            int escape = i + 1 < n && strchr("()[]\\", prompt[i + 1]) != NULL;
            pl_push(&res, prompt + i + 1, escape ? 1 : 0, 1.0);
            i += escape ? 2 : 1;
        } else if (c == '(' || c == '[') {
            stack_oom = !is_push(c == '(' ? &round : &square, res.n);
            i++;
        } else if (c == ':' && match_weight(prompt, i, n, &wa, &wb, &end)) {
            double w;
            if (round.n == 0)
                add_text_split_break(&res, prompt, i, end);
            else if (weight_value(prompt, wa, wb, &w))
                multiply_range(&res, round.v[--round.n], w);
            else
                st = mend_fail(err, MEND_E_ARG,
                               "prompt: emphasis weight '%.*s' at byte %zu is not a number (A1111 fails here too)",
                               (int)(wb - wa), prompt + wa, wa);
            i = end;
        } else if (c == ')' && round.n > 0) {
            multiply_range(&res, round.v[--round.n], round_mult);
            i++;
        } else if (c == ']' && square.n > 0) {
            multiply_range(&res, square.v[--square.n], square_mult);
            i++;
        } else if (is_attention_special(c)) { /* ':' or an unmatched closer: plain text */
            add_text_split_break(&res, prompt, i, i + 1);
            i++;
        } else {
            size_t j = i + 1;
            while (j < n && !is_attention_special(prompt[j]))
                j++;
            add_text_split_break(&res, prompt, i, j);
            i = j;
        }
    }
    /* unclosed brackets apply from their position to the end */
    for (int k = 0; k < round.n; k++)
        multiply_range(&res, round.v[k], round_mult);
    for (int k = 0; k < square.n; k++)
        multiply_range(&res, square.v[k], square_mult);
    free(round.v);
    free(square.v);

    if (st == MEND_OK && res.n == 0)
        pl_push(&res, "", 0, 1.0);
    merge_equal_weights(&res);
    if (st == MEND_OK && (res.oom || stack_oom))
        st = mend_fail(err, MEND_E_NOMEM, "prompt: out of memory parsing %zu bytes", n);
    if (st != MEND_OK) {
        pl_free(&res);
        return st;
    }
    out->items = res.items;
    out->n = res.n;
    return MEND_OK;
}

/* ------------------------------------------------------------------ */
/* get_multicond_prompt_list: AND                                        */

/* re_weight = ^((?:\s|.)*?)(?:\s*:\s*([-+]?(?:\d+\.?|\d*\.\d+)))?\s*$ on
 * s[a, b): the lazy text ends where a trailing ":number" (with the spaces
 * around it) or the trailing spaces begin. */
static void add_weighted_subprompt(plist *res, const char *s, size_t a, size_t b)
{
    size_t e = skip_space_back(s, a, b);
    size_t d = e;
    int dots = 0, digits = 0;
    while (d > a && (s[d - 1] == '.' || (s[d - 1] >= '0' && s[d - 1] <= '9'))) {
        d--;
        dots += s[d] == '.';
        digits += s[d] != '.';
    }
    if (d < e && dots <= 1 && digits > 0) {
        size_t num = d;
        if (num > a && (s[num - 1] == '+' || s[num - 1] == '-'))
            num--;
        size_t colon = skip_space_back(s, a, num);
        if (colon > a && s[colon - 1] == ':') {
            size_t text_end = skip_space_back(s, a, colon - 1);
            pl_push(res, s + a, text_end - a, pp_span_to_double(s + num, e - num));
            return;
        }
    }
    pl_push(res, s + a, e - a, 1.0);
}

mend_status mend_prompt_split_and(const char *prompt, mend_prompt_pieces *out, mend_err *err)
{
    out->items = NULL;
    out->n = 0;
    MEND_TRY(pp_check_utf8("prompt", prompt, err));
    plist res = {0};
    size_t n = strlen(prompt), part = 0;
    for (size_t u = 0; u + 3 <= n; u++) {
        if (prompt[u] == 'A' && word_at(prompt, 0, n, u, "AND")) { /* re.split(r"\bAND\b") */
            add_weighted_subprompt(&res, prompt, part, u);
            part = u + 3;
            u = part - 1;
        }
    }
    add_weighted_subprompt(&res, prompt, part, n);
    if (res.oom) {
        pl_free(&res);
        return mend_fail(err, MEND_E_NOMEM, "prompt: out of memory splitting at AND");
    }
    out->items = res.items;
    out->n = res.n;
    return MEND_OK;
}
