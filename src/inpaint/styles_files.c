/* A1111 1.10's StyleDatabase over several styles files (modules/styles.py
 * __init__ and reload): the paths, wildcards expanded, each file once, a
 * divider row before each file's styles when the list had more than one
 * entry. */
#include "inpaint/styles_db.h"

#include "core/err.h"

#include <ctype.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STYLE_FILES 256

typedef struct path_list {
    char *items[MAX_STYLE_FILES];
    int n;
} path_list;

static void paths_free(path_list *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->items[i]);
    l->n = 0;
}

static mend_status push(path_list *l, const char *path, mend_err *err)
{
    if (l->n == MAX_STYLE_FILES)
        return mend_fail(err, MEND_E_LIMIT, "styles files: more than %d", MAX_STYLE_FILES);
    if (!(l->items[l->n] = strdup(path)))
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    l->n++;
    return MEND_OK;
}

/* A '*' or '?' in the file name (not the folder: A1111 globs Path(folder).glob(file)). */
static int is_wildcard(const char *path)
{
    const char *file = strrchr(path, '/');
    file = file ? file + 1 : path;
    return strpbrk(file, "*?") != NULL;
}

static mend_status push_matches(path_list *l, const char *pattern, mend_err *err)
{
    glob_t g;
    int rc = glob(pattern, 0, NULL, &g);
    mend_status s = MEND_OK;
    for (size_t i = 0; rc == 0 && s == MEND_OK && i < g.gl_pathc; i++)
        s = push(l, g.gl_pathv[i], err);
    if (rc == 0 || rc == GLOB_NOMATCH)
        globfree(&g);
    return rc == GLOB_NOSPACE ? mend_fail(err, MEND_E_NOMEM, "out of memory") : s;
}

/* A wildcard first path: its first match, or styles.csv of its folder. */
static mend_status default_path(const char *pattern, path_list *l, mend_err *err)
{
    path_list m = {0};
    MEND_TRY(push_matches(&m, pattern, err));
    mend_status s;
    if (m.n) {
        s = push(l, m.items[0], err);
    } else {
        const char *slash = strrchr(pattern, '/');
        size_t dir = slash ? (size_t)(slash - pattern + 1) : 0;
        char *p = malloc(dir + sizeof "styles.csv");
        if (p) {
            memcpy(p, pattern, dir);
            strcpy(p + dir, "styles.csv");
        }
        s = p ? push(l, p, err) : mend_fail(err, MEND_E_NOMEM, "out of memory");
        free(p);
    }
    paths_free(&m);
    return s;
}

/* ' STEM '.center(40, '-'), STEM the file name without its last suffix, upper-cased (ASCII). */
static void divider_name(const char *path, char *out, size_t size)
{
    const char *file = strrchr(path, '/');
    file = file ? file + 1 : path;
    const char *dot = strrchr(file, '.');
    size_t len = dot && dot > file ? (size_t)(dot - file) : strlen(file);
    char label[512];
    int k = snprintf(label, sizeof label, " %.*s ", (int)(len < 500 ? len : 500), file);
    for (int i = 0; i < k; i++)
        label[i] = (char)toupper((unsigned char)label[i]);
    int pad = k < 40 ? 40 - k : 0, left = pad / 2; /* CPython: the extra one goes right for an even width */
    snprintf(out, size, "%.*s%s%.*s", left, "----------------------------------------", label, pad - left,
             "----------------------------------------");
}

static int seen_before(const path_list *l, int i)
{
    for (int k = 0; k < i; k++)
        if (!strcmp(l->items[k], l->items[i]))
            return 1;
    return 0;
}

static mend_status expand(const char *const *paths, int n, path_list *all, mend_err *err)
{
    path_list list = {0};
    mend_status s = n > 0 && is_wildcard(paths[0]) ? default_path(paths[0], &list, err) : MEND_OK;
    for (int i = 0; s == MEND_OK && i < n; i++)
        s = push(&list, paths[i], err);
    for (int i = 0; s == MEND_OK && i < list.n; i++)
        s = is_wildcard(list.items[i]) ? push_matches(all, list.items[i], err) : push(all, list.items[i], err);
    paths_free(&list);
    return s;
}

mend_status mend_styles_load_files(const char *const *paths, int n, mend_styles *out, mend_err *err)
{
    memset(out, 0, sizeof *out);
    path_list all = {0};
    mend_status s = expand(paths, n, &all, err);
    int dividers = all.n > 1; /* A1111 counts the list before it drops the repeats */
    for (int i = 0; s == MEND_OK && i < all.n; i++) {
        if (seen_before(&all, i))
            continue;
        if (dividers) {
            char name[600];
            divider_name(all.items[i], name, sizeof name);
            s = mend_styles_add_divider(out, name, err);
        }
        if (s == MEND_OK)
            s = mend_styles_add_file(all.items[i], out, err);
    }
    paths_free(&all);
    if (s != MEND_OK)
        mend_styles_free(out);
    return s;
}
