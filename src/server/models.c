/* The checkpoints `mend serve` can switch between: the *.safetensors files
 * and diffusers folders of --models-dir, plus --model when it lives
 * elsewhere. Titles and names follow mend_model_title/mend_model_name (the
 * library's one rule, shared with the infotext); titles carry no "[shorthash]" (as in A1111 before it
 * has hashed a file). A file that is not a readable checkpoint is skipped
 * with a warning, so one broken download does not keep the server down. */
#include "server/server.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int srv_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_diffusers_dir(const char *path)
{
    char sub[PATH_MAX + 8];
    snprintf(sub, sizeof sub, "%s/unet", path);
    return is_dir(path) && is_dir(sub);
}

static mend_status add_checkpoint(srv_models *m, const char *path, mend_err *err)
{
    char abs[PATH_MAX];
    if (!realpath(path, abs))
        snprintf(abs, sizeof abs, "%s", path);
    for (int i = 0; i < m->count; i++)
        if (!strcmp(m->items[i].filename, abs))
            return MEND_OK;
    srv_checkpoint *items = realloc(m->items, (size_t)(m->count + 1) * sizeof *items);
    if (!items)
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    m->items = items;
    srv_checkpoint *c = &m->items[m->count];
    c->filename = strdup(abs);
    c->title = mend_model_title(abs);
    c->model_name = mend_model_name(abs);
    if (!c->filename || !c->title || !c->model_name) {
        free(c->filename), free(c->title), free(c->model_name);
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    }
    m->count++;
    return MEND_OK;
}

static int by_title(const void *a, const void *b)
{
    return strcmp(((const srv_checkpoint *)a)->title, ((const srv_checkpoint *)b)->title);
}

static void clear_items(srv_models *m)
{
    for (int i = 0; i < m->count; i++) {
        free(m->items[i].filename);
        free(m->items[i].title);
        free(m->items[i].model_name);
    }
    free(m->items);
    m->items = NULL;
    m->count = 0;
}

mend_status srv_models_scan(srv_models *m, mend_err *err)
{
    clear_items(m);
    if (m->dir) {
        DIR *d = opendir(m->dir);
        if (!d)
            return mend_fail(err, MEND_E_IO, "--models-dir %s: cannot open the folder", m->dir);
        struct dirent *e;
        mend_status s = MEND_OK;
        while (s == MEND_OK && (e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s", m->dir, e->d_name);
            if (!(srv_ends_with(e->d_name, ".safetensors") && !is_dir(path)) && !is_diffusers_dir(path))
                continue;
            mend_err perr = {0};
            if (mend_model_probe(path, &perr) != MEND_OK)
                fprintf(stderr, "mend serve: skipping %s: %s\n", path, perr.msg);
            else
                s = add_checkpoint(m, path, err);
        }
        closedir(d);
        MEND_TRY(s);
    }
    if (m->extra)
        MEND_TRY(add_checkpoint(m, m->extra, err));
    if (m->count > 1)
        qsort(m->items, (size_t)m->count, sizeof *m->items, by_title);
    return MEND_OK;
}

void srv_models_free(srv_models *m)
{
    clear_items(m);
}

mend_status srv_models_find(const srv_models *m, const char *name, const srv_checkpoint **out, mend_err *err)
{
    if (!name[0])
        return mend_fail(err, MEND_E_ARG, "empty model name");
    if (strchr(name, '/') || strchr(name, '\\') || strstr(name, ".."))
        return mend_fail(err, MEND_E_ARG, "model name '%s': path separators and '..' are not allowed; use a name "
                                          "from /sdapi/v1/sd-models", name);
    /* "title [hash]" as clients echo it: compare the part before " [" */
    size_t n = strlen(name);
    const char *bracket = strstr(name, " [");
    if (bracket && name[n - 1] == ']')
        n = (size_t)(bracket - name);
    for (int i = 0; i < m->count; i++) {
        const srv_checkpoint *c = &m->items[i];
        if ((strlen(c->title) == n && !strncmp(c->title, name, n)) ||
            (strlen(c->model_name) == n && !strncmp(c->model_name, name, n))) {
            *out = c;
            return MEND_OK;
        }
    }
    return mend_fail(err, MEND_E_IO, "model '%s' not found (see /sdapi/v1/sd-models)", name);
}
