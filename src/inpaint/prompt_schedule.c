/* A1111's prompt editing ([a:b:when], [a|b]) as modules/prompt_parser.py
 * get_learned_conditioning_prompt_schedules does it (see prompt_parser.c
 * for the attention syntax and the shared scanners). */
#include "inpaint/prompt_parser.h"
#include "inpaint/prompt_text.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Prompt editing: the lark grammar of schedule_parser
 *
 *   !start: (prompt | /[][():]/+)*
 *   prompt: (emphasized | scheduled | alternate | plain | WHITESPACE)*
 *   !emphasized: "(" prompt ")" | "(" prompt ":" prompt ")" | "[" prompt "]"
 *   scheduled: "[" [prompt ":"] prompt ":" [WHITESPACE] NUMBER [WHITESPACE] "]"
 *   alternate: "[" prompt ("|" [prompt])+ "]"
 *   plain: /([^\\\[\]():|]|\\.)+/        NUMBER: lark's SIGNED_NUMBER
 *
 * Emphasis and plain text come out verbatim, so the tree only needs text
 * spans, sequences, scheduled and alternate nodes. Nodes live in one
 * arena; a construct that fails to parse is dropped by truncating it. */

enum { SN_SEQ, SN_TEXT, SN_SCHED, SN_ALT };

typedef struct snode {
    int kind;
    size_t a, b;            /* TEXT: source span; SCHED: the number's span */
    int first, last, next;  /* children (SEQ: parts, SCHED: [before] after, ALT: options) */
    int has_before;         /* SCHED */
    int when;               /* SCHED: last step of `before`, set by collect_steps */
} snode;

typedef struct sparser {
    const char *s;
    size_t n, pos;
    snode *nodes;
    int count, cap;
    int oom;
} sparser;

static int sn_new(sparser *P, int kind, size_t a, size_t b)
{
    if (P->oom)
        return -1;
    if (P->count == P->cap) {
        int cap = P->cap ? P->cap * 2 : 64;
        snode *v = realloc(P->nodes, (size_t)cap * sizeof *v);
        if (!v) {
            P->oom = 1;
            return -1;
        }
        P->nodes = v, P->cap = cap;
    }
    snode *x = &P->nodes[P->count];
    memset(x, 0, sizeof *x);
    x->kind = kind, x->a = a, x->b = b;
    x->first = x->last = x->next = -1;
    return P->count++;
}

static void sn_add(sparser *P, int parent, int child)
{
    snode *p = &P->nodes[parent];
    if (p->last < 0)
        p->first = child;
    else
        P->nodes[p->last].next = child;
    p->last = child;
}

static int sn_add_text(sparser *P, int seq, size_t a, size_t b)
{
    int last = P->nodes[seq].last;
    if (last >= 0 && P->nodes[last].kind == SN_TEXT && P->nodes[last].b == a) {
        P->nodes[last].b = b;
        return 1;
    }
    int t = sn_new(P, SN_TEXT, a, b);
    if (t < 0)
        return 0;
    sn_add(P, seq, t);
    return 1;
}

static char sp_peek(const sparser *P)
{
    return P->pos < P->n ? P->s[P->pos] : '\0';
}

/* plain's \\. : a backslash and the next code point except '\n'; 0 if none. */
static size_t escape_len(const char *s, size_t i, size_t n)
{
    if (i + 1 >= n || s[i + 1] == '\n')
        return 0;
    size_t len;
    pp_utf8_at(s, i + 1, &len);
    return 1 + len;
}

static size_t count_digits(const char *s, size_t i, size_t n)
{
    size_t k = 0;
    while (i + k < n && s[i + k] >= '0' && s[i + k] <= '9')
        k++;
    return k;
}

/* _EXP: ("e"|"E") SIGNED_INT; returns its length or 0. */
static size_t exponent_len(const char *s, size_t i, size_t n)
{
    if (i >= n || (s[i] != 'e' && s[i] != 'E'))
        return 0;
    size_t j = i + 1;
    if (j < n && (s[j] == '+' || s[j] == '-'))
        j++;
    size_t d = count_digits(s, j, n);
    return d ? j + d - i : 0;
}

/* SIGNED_NUMBER at s[i], matched greedily as lark's regex does:
 * [+-]? (INT _EXP | DECIMAL _EXP? | INT). Returns the end, or i if none. */
static size_t number_end(const char *s, size_t i, size_t n)
{
    size_t j = i;
    if (j < n && (s[j] == '+' || s[j] == '-'))
        j++;
    size_t d = count_digits(s, j, n);
    size_t e = d ? exponent_len(s, j + d, n) : 0;
    if (e)
        return j + d + e;
    size_t dec_end = 0;
    if (d && j + d < n && s[j + d] == '.')
        dec_end = j + d + 1 + count_digits(s, j + d + 1, n);
    else if (!d && j < n && s[j] == '.' && count_digits(s, j + 1, n))
        dec_end = j + 1 + count_digits(s, j + 1, n);
    if (dec_end)
        return dec_end + exponent_len(s, dec_end, n);
    return d ? j + d : i;
}

/* ":" already consumed: [WHITESPACE] NUMBER [WHITESPACE] "]". */
static int parse_when(sparser *P, size_t *na, size_t *nb)
{
    size_t j = pp_skip_space(P->s, P->pos, P->n);
    size_t e = number_end(P->s, j, P->n);
    if (e == j)
        return 0;
    size_t k = pp_skip_space(P->s, e, P->n);
    if (k >= P->n || P->s[k] != ']')
        return 0;
    *na = j, *nb = e;
    P->pos = k + 1;
    return 1;
}

static int parse_bracket(sparser *P, int depth);

/* prompt: stops at a character it cannot take (a closer, ':', '|', a
 * bracket that opens no valid construct, a bad escape) or at the end.
 * Returns a SEQ node, or -1 when out of memory. */
static int parse_prompt(sparser *P, int depth)
{
    int seq = sn_new(P, SN_SEQ, 0, 0);
    while (seq >= 0 && P->pos < P->n) {
        char c = P->s[P->pos];
        if (c == '(' || c == '[') {
            size_t save = P->pos;
            int mark = P->count;
            int node = parse_bracket(P, depth + 1);
            if (node < 0) {
                P->pos = save;
                P->count = mark;
                break;
            }
            sn_add(P, seq, node);
        } else if (c == ')' || c == ']' || c == ':' || c == '|') {
            break;
        } else if (c == '\\') {
            size_t len = escape_len(P->s, P->pos, P->n);
            if (!len || !sn_add_text(P, seq, P->pos, P->pos + len))
                break;
            P->pos += len;
        } else {
            size_t j = P->pos + 1;
            while (j < P->n && !strchr("\\[]():|", P->s[j]))
                j++;
            if (!sn_add_text(P, seq, P->pos, j))
                break;
            P->pos = j;
        }
    }
    return P->oom ? -1 : seq;
}

/* A SEQ of literal text, a prompt, literal text... for emphasized. */
static int emphasized(sparser *P, size_t open, int p1, size_t mid, int p2, size_t close)
{
    int seq = sn_new(P, SN_SEQ, 0, 0);
    if (seq < 0 || !sn_add_text(P, seq, open, open + 1))
        return -1;
    sn_add(P, seq, p1);
    if (p2 >= 0) {
        if (!sn_add_text(P, seq, mid, mid + 1))
            return -1;
        sn_add(P, seq, p2);
    }
    if (!sn_add_text(P, seq, close, close + 1))
        return -1;
    return seq;
}

static int scheduled(sparser *P, int before, int after, size_t na, size_t nb)
{
    int node = sn_new(P, SN_SCHED, na, nb);
    if (node < 0)
        return -1;
    P->nodes[node].has_before = before >= 0;
    if (before >= 0)
        sn_add(P, node, before);
    sn_add(P, node, after);
    return node;
}

static int alternate(sparser *P, int first, int depth)
{
    int node = sn_new(P, SN_ALT, 0, 0);
    if (node < 0)
        return -1;
    sn_add(P, node, first);
    while (sp_peek(P) == '|') {
        P->pos++;
        int option = parse_prompt(P, depth);
        if (option < 0)
            return -1;
        sn_add(P, node, option);
    }
    if (sp_peek(P) != ']')
        return -1;
    P->pos++;
    return node;
}

/* At '(' or '[': emphasized, scheduled or alternate; -1 if none fits. */
static int parse_bracket(sparser *P, int depth)
{
    if (depth > MEND_PROMPT_MAX_NESTING)
        return -1;
    size_t open = P->pos;
    char kind = P->s[P->pos++];
    int p1 = parse_prompt(P, depth);
    if (p1 < 0)
        return -1;
    char next = sp_peek(P);
    size_t at = P->pos;
    if (kind == '(') {
        if (next == ')') {
            P->pos++;
            return emphasized(P, open, p1, 0, -1, at);
        }
        if (next != ':')
            return -1;
        P->pos++;
        int p2 = parse_prompt(P, depth);
        if (p2 < 0 || sp_peek(P) != ')')
            return -1;
        return emphasized(P, open, p1, at, p2, P->pos++);
    }
    if (next == ']') {
        P->pos++;
        return emphasized(P, open, p1, 0, -1, at);
    }
    if (next == '|')
        return alternate(P, p1, depth);
    if (next != ':')
        return -1;
    P->pos++;
    size_t na, nb, after_colon = P->pos;
    if (parse_when(P, &na, &nb)) /* [after:when] */
        return scheduled(P, -1, p1, na, nb);
    P->pos = after_colon;
    int p2 = parse_prompt(P, depth); /* [before:after:when] */
    if (p2 < 0 || sp_peek(P) != ':')
        return -1;
    P->pos++;
    if (!parse_when(P, &na, &nb))
        return -1;
    return scheduled(P, p1, p2, na, nb);
}

/* start; returns the root SEQ, or -1 when the grammar cannot match the
 * whole prompt (a '|' outside alternation, a backslash at the end or before
 * a newline) or memory ran out (P->oom). */
static int parse_start(sparser *P)
{
    int root = sn_new(P, SN_SEQ, 0, 0);
    while (root >= 0 && P->pos < P->n) {
        int seq = parse_prompt(P, 0);
        if (seq < 0)
            return -1;
        sn_add(P, root, seq);
        if (P->pos >= P->n)
            break;
        if (!strchr("[]():", P->s[P->pos]))
            return -1;
        if (!sn_add_text(P, root, P->pos, P->pos + 1)) /* a bracket or colon as literal text */
            return -1;
        P->pos++;
    }
    return root;
}

typedef struct sched_ctx {
    int steps, int_offset, use_old;
    double flt_offset;
    unsigned char *used; /* [steps + 1]: end steps that occur */
    int has_alternate;
} sched_ctx;

/* CollectSteps.scheduled: the NUMBER becomes min(steps, int(v)). */
static mend_status when_of(const sparser *P, const snode *x, const sched_ctx *C, int *when, mend_err *err)
{
    double v = pp_span_to_double(P->s + x->a, x->b - x->a);
    if (C->use_old)
        v = v < 1 ? v * C->steps : v;
    else if (memchr(P->s + x->a, '.', x->b - x->a))
        v = (v - C->flt_offset) * C->steps;
    else
        v = v - C->int_offset;
    if (!isfinite(v))
        return mend_fail(err, MEND_E_ARG, "prompt: edit step '%.*s' at byte %zu is out of range (A1111 fails too)",
                         (int)(x->b - x->a), P->s + x->a, x->a);
    *when = v >= C->steps ? C->steps : v <= -1e9 ? -1000000000 : (int)v; /* (int) truncates like int() */
    return MEND_OK;
}

static mend_status collect_steps(sparser *P, int node, sched_ctx *C, mend_err *err)
{
    snode *x = &P->nodes[node];
    if (x->kind == SN_SCHED) {
        MEND_TRY(when_of(P, x, C, &x->when, err));
        if (x->when >= 1)
            C->used[x->when] = 1;
    } else if (x->kind == SN_ALT) {
        C->has_alternate = 1;
    }
    for (int c = P->nodes[node].first; c >= 0; c = P->nodes[c].next)
        MEND_TRY(collect_steps(P, c, C, err));
    return MEND_OK;
}

static void text_at_step(const sparser *P, int node, int step, sbuf *out)
{
    const snode *x = &P->nodes[node];
    int pick = -1;
    switch (x->kind) {
    case SN_TEXT:
        pp_sb_add(out, P->s + x->a, x->b - x->a);
        return;
    case SN_SEQ:
        for (int c = x->first; c >= 0; c = P->nodes[c].next)
            text_at_step(P, c, step, out);
        return;
    case SN_SCHED:
        if (step <= x->when)
            pick = x->has_before ? x->first : -1;
        else
            pick = x->last;
        break;
    case SN_ALT: {
        int k = 0;
        for (int c = x->first; c >= 0; c = P->nodes[c].next)
            k++;
        int want = (step - 1) % k;
        for (pick = x->first; want > 0; want--)
            pick = P->nodes[pick].next;
        break;
    }
    }
    if (pick >= 0)
        text_at_step(P, pick, step, out);
}

void mend_prompt_schedule_free(mend_prompt_schedule *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n; i++)
        free(s->items[i].text);
    free(s->items);
    s->items = NULL;
    s->n = 0;
}

static mend_status schedule_push(mend_prompt_schedule *out, int step, char *text, mend_err *err)
{
    if (!text)
        return mend_fail(err, MEND_E_NOMEM, "prompt schedule: out of memory");
    mend_prompt_step *v = realloc(out->items, (size_t)(out->n + 1) * sizeof *v);
    if (!v) {
        free(text);
        return mend_fail(err, MEND_E_NOMEM, "prompt schedule: out of memory");
    }
    out->items = v;
    v[out->n].end_at_step = step;
    v[out->n].text = text;
    out->n++;
    return MEND_OK;
}

static mend_status schedule_from_tree(sparser *P, int root, sched_ctx *C, mend_prompt_schedule *out, mend_err *err)
{
    C->used = calloc((size_t)C->steps + 1, 1);
    if (!C->used)
        return mend_fail(err, MEND_E_NOMEM, "prompt schedule: out of memory");
    mend_status st = collect_steps(P, root, C, err);
    C->used[C->steps] = 1;
    for (int t = 1; st == MEND_OK && t <= C->steps; t++) {
        if (!C->used[t] && !C->has_alternate)
            continue;
        sbuf text = {0};
        text_at_step(P, root, t, &text);
        st = schedule_push(out, t, pp_sb_take(&text), err);
    }
    free(C->used);
    return st;
}

mend_status mend_prompt_schedule_build(const char *prompt, int steps, int hires_steps, int use_old_scheduling,
                                       mend_prompt_schedule *out, mend_err *err)
{
    out->items = NULL;
    out->n = 0;
    MEND_TRY(pp_check_utf8("prompt", prompt, err));
    sched_ctx C = {.steps = steps, .use_old = use_old_scheduling != 0};
    if (hires_steps > 0 && !use_old_scheduling) {
        C.int_offset = steps;
        C.flt_offset = 1.0;
        C.steps = hires_steps;
    }
    if (steps < 1 || steps > 100000 || C.steps > 100000)
        return mend_fail(err, MEND_E_ARG, "prompt schedule: steps %d (hires %d) outside [1, 100000]", steps,
                         hires_steps);

    sparser P = {.s = prompt, .n = strlen(prompt)};
    int root = parse_start(&P);
    mend_status st;
    if (P.oom)
        st = mend_fail(err, MEND_E_NOMEM, "prompt schedule: out of memory parsing %zu bytes", P.n);
    else if (root < 0) /* lark rejects it: A1111 uses the prompt as it is */
        st = schedule_push(out, C.steps, strdup(prompt), err);
    else
        st = schedule_from_tree(&P, root, &C, out, err);
    free(P.nodes);
    if (st != MEND_OK)
        mend_prompt_schedule_free(out);
    return st;
}
