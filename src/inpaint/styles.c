/* Styles applied to prompts (include/mend/styles.h): A1111 1.10's
 * merge_prompts and apply_styles_to_prompt (modules/styles.py). */
#include "mend/styles.h"

#include "core/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLACEHOLDER "{prompt}"

const mend_style *mend_styles_find(const mend_styles *s, const char *name)
{
    for (int i = 0; s && name && i < s->count; i++)
        if (!strcmp(s->items[i].name, name))
            return &s->items[i];
    return NULL;
}

/* Python's str.isspace for ASCII: also the separators \x1c-\x1f. */
static int py_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

/* str.strip(): the span of s without surrounding whitespace. */
static const char *strip(const char *s, size_t *len)
{
    while (py_space((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && py_space((unsigned char)s[n - 1]))
        n--;
    *len = n;
    return s;
}

static char *replace_placeholders(const char *style, const char *prompt)
{
    size_t plen = strlen(prompt), k = strlen(PLACEHOLDER), count = 0;
    for (const char *q = strstr(style, PLACEHOLDER); q; q = strstr(q + k, PLACEHOLDER))
        count++;
    char *out = malloc(strlen(style) + count * plen + 1 - count * k);
    if (!out)
        return NULL;
    char *o = out;
    for (const char *s = style;;) {
        const char *q = strstr(s, PLACEHOLDER);
        size_t n = q ? (size_t)(q - s) : strlen(s);
        memcpy(o, s, n);
        o += n;
        if (!q)
            break;
        memcpy(o, prompt, plen);
        o += plen;
        s = q + k;
    }
    *o = '\0';
    return out;
}

char *mend_style_merge(const char *style_text, const char *prompt)
{
    style_text = style_text ? style_text : "";
    prompt = prompt ? prompt : "";
    if (strstr(style_text, PLACEHOLDER))
        return replace_placeholders(style_text, prompt);
    size_t pn, sn;
    const char *p = strip(prompt, &pn), *s = strip(style_text, &sn);
    char *out = malloc(pn + sn + 3);
    if (!out)
        return NULL;
    /* ", ".join(filter(None, (prompt.strip(), style.strip()))) */
    snprintf(out, pn + sn + 3, "%.*s%s%.*s", (int)pn, p, pn && sn ? ", " : "", (int)sn, s);
    return out;
}

/* The style names there are, for the message about one that is not. */
static void list_names(const mend_styles *s, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; s && i < s->count && used + 1 < size; i++) {
        int n = snprintf(buf + used, size - used, "%s'%s'", i ? ", " : "", s->items[i].name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (!s || !s->count)
        snprintf(buf, size, "none");
}

mend_status mend_styles_apply(const mend_styles *s, const char *const *names, int n, const char *prompt,
                              const char *negative, char **prompt_out, char **negative_out, mend_err *err)
{
    *prompt_out = strdup(prompt ? prompt : "");
    *negative_out = strdup(negative ? negative : "");
    mend_status st = *prompt_out && *negative_out ? MEND_OK : mend_fail(err, MEND_E_NOMEM, "out of memory");
    for (int i = 0; i < n && st == MEND_OK; i++) {
        const mend_style *style = mend_styles_find(s, names[i]);
        if (!style) {
            char have[512];
            list_names(s, have, sizeof have);
            st = mend_fail(err, MEND_E_ARG, "styles: no style named '%s' (the styles file has %s)", names[i], have);
            break;
        }
        char *p = mend_style_merge(style->prompt, *prompt_out), *q = mend_style_merge(style->negative_prompt,
                                                                                        *negative_out);
        free(*prompt_out);
        free(*negative_out);
        *prompt_out = p;
        *negative_out = q;
        if (!p || !q)
            st = mend_fail(err, MEND_E_NOMEM, "out of memory");
    }
    if (st != MEND_OK) {
        free(*prompt_out);
        free(*negative_out);
        *prompt_out = *negative_out = NULL;
    }
    return st;
}

/* The first "{prompt}" in s[0..n), or NULL. */
static const char *find_placeholder(const char *s, size_t n)
{
    size_t k = strlen(PLACEHOLDER);
    for (size_t i = 0; i + k <= n; i++)
        if (!memcmp(s + i, PLACEHOLDER, k))
            return s + i;
    return NULL;
}

/* extract_style_text_from_prompt: 1 and *out (malloc'd, or NULL when out
 * of memory) when the style's text is in the prompt as merge_prompts puts
 * it there. */
static int take_style_text(const char *style_text, const char *prompt, char **out)
{
    size_t pn, sn;
    const char *p = strip(prompt ? prompt : "", &pn), *s = strip(style_text ? style_text : "", &sn);
    const char *ph = find_placeholder(s, sn);
    size_t from = 0, to = pn;
    if (ph) {
        size_t left = (size_t)(ph - s), right = sn - left - strlen(PLACEHOLDER);
        if (find_placeholder(ph + 1, sn - left - 1))
            return 0; /* A1111's split() unpacking fails on two placeholders */
        if (pn < left || pn < right || memcmp(p, s, left) || memcmp(p + pn - right, ph + strlen(PLACEHOLDER), right))
            return 0;
        from = left;
        to = pn - right > left ? pn - right : left; /* Python's slice of crossed bounds is empty */
    } else {
        if (pn < sn || memcmp(p + pn - sn, s, sn))
            return 0;
        to = pn - sn;
        if (to >= 2 && !memcmp(p + to - 2, ", ", 2))
            to -= 2;
    }
    *out = strndup(p + from, to - from);
    return 1;
}

/* extract_original_prompts for one style: 1 when both prompts hold it. */
static int take_style(const mend_style *st, const char *prompt, const char *negative, char **p_out, char **n_out)
{
    *p_out = *n_out = NULL;
    if (!st->prompt[0] && !st->negative_prompt[0])
        return 0;
    if (!take_style_text(st->prompt, prompt, p_out))
        return 0;
    if (take_style_text(st->negative_prompt, negative, n_out))
        return 1;
    free(*p_out);
    *p_out = NULL;
    return 0;
}

mend_status mend_styles_extract(const mend_styles *s, const char *prompt, const char *negative,
                                const char ***names_out, int *n_out, char **prompt_out, char **negative_out,
                                mend_err *err)
{
    *names_out = NULL;
    *n_out = 0;
    int n = s ? s->count : 0;
    char *taken = calloc((size_t)n + 1, 1);
    const char **names = calloc((size_t)n + 1, sizeof *names);
    char *p = strdup(prompt ? prompt : ""), *q = strdup(negative ? negative : "");
    mend_status st = taken && names && p && q ? MEND_OK : mend_fail(err, MEND_E_NOMEM, "out of memory");
    int found = 0;
    for (int again = 1; again && st == MEND_OK;) {
        again = 0;
        for (int i = 0; i < n && !again; i++) {
            char *np, *nq;
            if (taken[i] || !take_style(&s->items[i], p, q, &np, &nq))
                continue;
            if (!np || !nq) {
                free(np), free(nq);
                st = mend_fail(err, MEND_E_NOMEM, "out of memory");
                break;
            }
            free(p), free(q);
            p = np, q = nq;
            taken[i] = 1;
            names[found++] = s->items[i].name;
            again = 1;
        }
    }
    free(taken);
    if (st != MEND_OK) {
        free(names), free(p), free(q);
        return st;
    }
    for (int i = 0; i < found / 2; i++) { /* found last = applied first */
        const char *t = names[i];
        names[i] = names[found - 1 - i];
        names[found - 1 - i] = t;
    }
    if (found)
        *names_out = names;
    else
        free(names);
    *n_out = found;
    *prompt_out = p;
    *negative_out = q;
    return MEND_OK;
}
