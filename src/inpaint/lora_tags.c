/* Extra-network tags: A1111 matches <(\w+):([^>]+)> anywhere in a positive
 * prompt, removes each match, splits the arguments at ':' and treats k=v
 * items (exactly one '=') as named, the rest as positional. */
#include "inpaint/lora_tags.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "model/lora.h"

/* Length of a tag starting at s ('<'), or 0 when none starts there. */
static size_t tag_len(const char *s, size_t *type_len) {
    size_t i = 1;
    while (isalnum((unsigned char)s[i]) || s[i] == '_') i++;
    if (i == 1 || s[i] != ':') return 0;
    *type_len = i - 1;
    size_t j = i + 1;
    while (s[j] && s[j] != '>') j++;
    return s[j] == '>' && j > i + 1 ? j + 1 : 0;
}

static mend_status to_double(const char *v, double *out, mend_err *err) {
    char *end = NULL;
    errno = 0;
    *out = strtod(v, &end);
    while (end && isspace((unsigned char)*end)) end++;
    if (end == v || !end || *end || errno == ERANGE) return mend_fail(err, MEND_E_ARG, "lora tag: '%s' is not a number", v);
    return MEND_OK;
}

/* Fills tag from the ':'-separated items in args (modified in place). */
static mend_status parse_args(char *args, mend_lora_tag *tag, mend_err *err) {
    char *pos[4] = {0}, *te = NULL, *unet = NULL, *dyn = NULL;
    int np = 0;
    for (char *item = args, *next; item; item = next) {
        next = strchr(item, ':');
        if (next) *next++ = 0;
        char *eq = strchr(item, '=');
        if (eq && !strchr(eq + 1, '=')) {
            *eq = 0;
            if (strcmp(item, "te") == 0) te = eq + 1;
            else if (strcmp(item, "unet") == 0) unet = eq + 1;
            else if (strcmp(item, "dyn") == 0) dyn = eq + 1;
        } else if (np < 4) {
            pos[np++] = item;
        }
    }
    tag->name = strdup(pos[0] ? pos[0] : "");
    if (!tag->name) return mend_fail(err, MEND_E_NOMEM, "lora tag: out of memory");
    tag->te = 1.0;
    if (np > 1) MEND_TRY(to_double(pos[1], &tag->te, err));
    if (te) MEND_TRY(to_double(te, &tag->te, err));
    tag->unet = tag->te;
    if (np > 2) MEND_TRY(to_double(pos[2], &tag->unet, err));
    if (unet) MEND_TRY(to_double(unet, &tag->unet, err));
    double d = 0;
    if (np > 3) MEND_TRY(to_double(pos[3], &d, err));
    if (dyn) MEND_TRY(to_double(dyn, &d, err));
    tag->dyn_dim = (int)d;
    return MEND_OK;
}

/* One network object per name: earlier entries take the last multipliers. */
static void share_duplicates(mend_lora_tags *t) {
    for (int i = t->count - 1; i >= 0; i--)
        for (int j = 0; j < i; j++)
            if (strcmp(t->tags[j].name, t->tags[i].name) == 0) {
                t->tags[j].te = t->tags[i].te, t->tags[j].unet = t->tags[i].unet, t->tags[j].dyn_dim = t->tags[i].dyn_dim;
            }
}

mend_status mend_lora_tags_parse(const char *prompt, mend_lora_tags *out, mend_err *err) {
    size_t n = strlen(prompt), o = 0;
    memset(out, 0, sizeof *out);
    out->text = malloc(n + 1);
    out->tags = calloc(n / 4 + 1, sizeof *out->tags); /* a tag takes at least 4 characters */
    char *args = malloc(n + 1);
    mend_status st = out->text && out->tags && args ? MEND_OK : mend_fail(err, MEND_E_NOMEM, "lora tags: out of memory");
    for (size_t i = 0; st == MEND_OK && i < n;) {
        size_t tl = 0, len = prompt[i] == '<' ? tag_len(prompt + i, &tl) : 0;
        if (!len) {
            out->text[o++] = prompt[i++];
            continue;
        }
        int is_lora = (tl == 4 && strncmp(prompt + i + 1, "lora", 4) == 0) || (tl == 4 && strncmp(prompt + i + 1, "lyco", 4) == 0);
        if (is_lora) {
            memcpy(args, prompt + i + tl + 2, len - tl - 3);
            args[len - tl - 3] = 0;
            st = parse_args(args, &out->tags[out->count], err);
            out->count++;
        }
        i += len;
    }
    free(args);
    if (st != MEND_OK) return mend_lora_tags_free(out), st;
    out->text[o] = 0;
    share_duplicates(out);
    return MEND_OK;
}

void mend_lora_tags_free(mend_lora_tags *t) {
    for (int i = 0; t->tags && i < t->count; i++) free(t->tags[i].name);
    free(t->tags);
    free(t->text);
    memset(t, 0, sizeof *t);
}

/* Appends "sep item" to *s (growing it); 0 on allocation failure. */
static int append(char **s, const char *sep, const char *item) {
    size_t old = *s ? strlen(*s) : 0, add = strlen(sep) + strlen(item);
    char *n = realloc(*s, old + add + 1);
    if (!n) return 0;
    snprintf(n + old, add + 1, "%s%s", old ? sep : "", item);
    *s = n;
    return 1;
}

static int seen_before(const mend_lora_tags *t, int i) {
    for (int j = 0; j < i; j++)
        if (strcmp(t->tags[j].name, t->tags[i].name) == 0) return 1;
    return 0;
}

mend_status mend_lora_tags_lookup(const mend_lora_tags *t, const char *dir, char **hashes, char **missing, mend_err *err) {
    int ok = 1;
    *hashes = *missing = NULL;
    for (int i = 0; ok && i < t->count; i++) {
        if (seen_before(t, i)) continue;
        char path[4096], hex[65], item[MEND_LORA_NAME_MAX + 16];
        mend_err e2 = {0};
        if (mend_lora_find(dir, t->tags[i].name, path, sizeof path, &e2) != MEND_OK) {
            ok = append(missing, ", ", t->tags[i].name);
            continue;
        }
        mend_status st = mend_lora_addnet_hash(path, hex, err);
        if (st != MEND_OK) return free(*hashes), free(*missing), *hashes = *missing = NULL, st;
        size_t o = 0;
        for (const char *c = t->tags[i].name; *c && o < MEND_LORA_NAME_MAX; c++)
            if (*c != ':' && *c != ',') item[o++] = *c;
        snprintf(item + o, sizeof item - o, ": %.12s", hex);
        ok = append(hashes, ", ", item);
    }
    if (!ok) {
        free(*hashes), free(*missing), *hashes = *missing = NULL;
        return mend_fail(err, MEND_E_NOMEM, "lora lookup: out of memory");
    }
    return MEND_OK;
}
