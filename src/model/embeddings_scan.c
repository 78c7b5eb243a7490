/* The embeddings folder -> a database, as A1111 1.10.1's
 * EmbeddingDatabase.load_from_dir walks it: os.walk with followlinks
 * (a folder's files, then its subfolders; sorted here, where Python takes
 * the file system's order), empty files ignored, a file that cannot be
 * read reported ("Error loading embedding FILE") and left out; a later
 * file of the same name replaces the earlier one. */
#include "model/embeddings.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define MAX_DEPTH 16 /* symbolic links may loop */

typedef struct scan {
    mend_ti_db *db;
    int cap_loaded, cap_skipped;
} scan;

void mend_ti_db_free(mend_ti_db *db)
{
    if (!db)
        return;
    for (int i = 0; i < db->nloaded; i++)
        mend_ti_embedding_free(&db->loaded[i]);
    for (int i = 0; i < db->nskipped; i++)
        mend_ti_embedding_free(&db->skipped[i]);
    free(db->loaded);
    free(db->skipped);
    free(db->log);
    free(db->dir);
    free(db);
}

int mend_ti_log_append(char **log, const char *text)
{
    size_t old = *log ? strlen(*log) : 0;
    char *grown = realloc(*log, old + strlen(text) + 1);
    if (!grown)
        return 0;
    strcpy(grown + old, text);
    *log = grown;
    return 1;
}

static mend_status add_log(mend_ti_db *db, const char *file, const char *why, mend_err *err)
{
    char line[2400];
    snprintf(line, sizeof line, "Error loading embedding %s: %s\n", file, why);
    return mend_ti_log_append(&db->log, line) ? MEND_OK : mend_fail(err, MEND_E_NOMEM, "embeddings: out of memory");
}

/* Puts e into list (replacing an entry of the same name in place, as a
 * Python dict assignment does); e is moved. */
static mend_status put(mend_ti_embedding **list, int *n, int *cap, mend_ti_embedding *e, mend_err *err)
{
    for (int i = 0; i < *n; i++)
        if (strcmp((*list)[i].name, e->name) == 0) {
            mend_ti_embedding_free(&(*list)[i]);
            (*list)[i] = *e;
            return MEND_OK;
        }
    if (*n == *cap) {
        int c = *cap ? *cap * 2 : 16;
        mend_ti_embedding *grown = realloc(*list, (size_t)c * sizeof *grown);
        if (!grown) {
            mend_ti_embedding_free(e);
            return mend_fail(err, MEND_E_NOMEM, "embeddings: out of memory");
        }
        *list = grown;
        *cap = c;
    }
    (*list)[(*n)++] = *e;
    return MEND_OK;
}

static int blank(const char *s)
{
    return s[strspn(s, " \t\r\n")] == '\0';
}

static mend_status load_file(scan *sc, const char *path, const char *file, mend_err *err)
{
    struct stat st;
    int image = mend_ti_is_embedding_image(file), found = 1;
    if ((!image && !mend_ti_is_embedding_file(file)) || stat(path, &st) != 0 || st.st_size == 0)
        return MEND_OK;
    char name[1024];
    snprintf(name, sizeof name, "%.*s", (int)(strrchr(file, '.') - file), file); /* os.path.splitext */
    mend_ti_embedding e;
    mend_err why = {0};
    mend_status s = image ? mend_ti_read_image(path, name, &e, &found, &why) : mend_ti_read_file(path, name, &e, &why);
    if (s == MEND_E_NOMEM)
        return mend_fail(err, s, "%s", why.msg);
    if (s != MEND_OK)
        return add_log(sc->db, file, why.msg, err);
    if (!found) /* a preview image */
        return MEND_OK;
    if (blank(e.name)) { /* A1111 cannot register a name without tokens */
        mend_ti_embedding_free(&e);
        return add_log(sc->db, file, "its name has no tokens", err);
    }
    mend_ti_db *db = sc->db;
    if (db->expected_shape == -1 || db->expected_shape == e.shape)
        return put(&db->loaded, &db->nloaded, &sc->cap_loaded, &e, err);
    return put(&db->skipped, &db->nskipped, &sc->cap_skipped, &e, err);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The entries of dir (without . and ..), sorted; NULL when it cannot be read. */
static char **list_dir(const char *dir, int *n)
{
    DIR *d = opendir(dir);
    char **names = NULL;
    int cap = 0, ok = d != NULL;
    *n = 0;
    for (struct dirent *de; ok && (de = readdir(d));) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (*n == cap) {
            char **grown = realloc(names, (size_t)(cap = cap ? cap * 2 : 32) * sizeof *grown);
            ok = grown != NULL;
            names = ok ? grown : names;
        }
        if (ok && !(names[*n] = strdup(de->d_name)))
            ok = 0;
        *n += ok;
    }
    if (d)
        closedir(d);
    if (!ok) {
        for (int i = 0; i < *n; i++)
            free(names[i]);
        free(names);
        *n = 0;
        return NULL;
    }
    if (*n > 1)
        qsort(names, (size_t)*n, sizeof *names, by_name);
    return names;
}

static mend_status walk(scan *sc, const char *dir, int depth, mend_err *err)
{
    int n = 0;
    char **names = list_dir(dir, &n);
    mend_status s = MEND_OK;
    for (int pass = 0; pass < 2; pass++) /* os.walk: the files, then the subfolders */
        for (int i = 0; i < n && s == MEND_OK; i++) {
            char path[4096];
            struct stat st;
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            if (stat(path, &st) != 0)
                continue;
            if (pass == 0 && S_ISREG(st.st_mode))
                s = load_file(sc, path, names[i], err);
            else if (pass == 1 && S_ISDIR(st.st_mode) && depth < MAX_DEPTH)
                s = walk(sc, path, depth + 1, err);
        }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return s;
}

/* word_embeddings re-sorted by name.lower(), stably (insertion sort: the
 * folder order breaks ties as Python's sorted does). */
static void sort_loaded(mend_ti_db *db)
{
    for (int i = 1; i < db->nloaded; i++) {
        mend_ti_embedding e = db->loaded[i];
        int k = i;
        for (; k > 0 && strcasecmp(db->loaded[k - 1].name, e.name) > 0; k--)
            db->loaded[k] = db->loaded[k - 1];
        db->loaded[k] = e;
    }
}

mend_status mend_ti_db_scan(const char *dir, int expected_shape, mend_ti_db **out, mend_err *err)
{
    *out = NULL;
    mend_ti_db *db = calloc(1, sizeof *db);
    if (!db || !(db->dir = strdup(dir))) {
        free(db);
        return mend_fail(err, MEND_E_NOMEM, "embeddings: out of memory");
    }
    db->expected_shape = expected_shape;
    struct stat st;
    db->dir_present = stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
    if (db->dir_present)
        db->mtime = st.st_mtim;
    scan sc = {db, 0, 0};
    mend_status s = db->dir_present ? walk(&sc, dir, 0, err) : MEND_OK;
    if (s != MEND_OK) {
        mend_ti_db_free(db);
        return s;
    }
    sort_loaded(db);
    *out = db;
    return MEND_OK;
}
