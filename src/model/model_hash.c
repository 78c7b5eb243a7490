#include "model/model_hash.h"

#include "core/sha256.h"
#include "mend/model.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int cache_dir(char *out, size_t size)
{
    const char *d = getenv("MEND_CACHE_DIR");
    if (d && *d)
        return snprintf(out, size, "%s", d) < (int)size;
    d = getenv("XDG_CACHE_HOME");
    if (d && *d)
        return snprintf(out, size, "%s/mend", d) < (int)size;
    d = getenv("HOME");
    if (d && *d)
        return snprintf(out, size, "%s/.cache/mend", d) < (int)size;
    return 0;
}

/* "size mtime_sec mtime_nsec path" identifies one version of a file. */
static int file_key(const char *path, char *key, size_t size)
{
    struct stat st;
    char real[PATH_MAX];
    if (stat(path, &st) != 0 || !realpath(path, real))
        return 0;
    return snprintf(key, size, "%lld\t%lld\t%ld\t%s", (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                    (long)st.st_mtim.tv_nsec, real) < (int)size;
}

static int cache_lookup(const char *file, const char *key, char hex[65])
{
    FILE *f = fopen(file, "r");
    if (!f)
        return 0;
    char line[PATH_MAX + 200];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        /* "<64 hex>\t<key>"; a later line for the same key wins */
        if (strlen(line) > 65 && line[64] == '\t' && !strcmp(line + 65, key)) {
            memcpy(hex, line, 64);
            hex[64] = '\0';
            found = 1;
        }
    }
    fclose(f);
    return found;
}

static void cache_store(const char *dir, const char *file, const char *key, const char *hex)
{
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", dir);
    for (char *p = parent + 1; *p; p++) { /* mkdir -p */
        if (*p == '/') {
            *p = '\0';
            mkdir(parent, 0755);
            *p = '/';
        }
    }
    mkdir(parent, 0755);
    FILE *f = fopen(file, "a");
    if (f) {
        fprintf(f, "%s\t%s\n", hex, key);
        fclose(f);
    }
}

mend_status mend_checkpoint_sha256(const char *path, int compute, char hex[65], mend_err *err)
{
    if (compute)
        return mend_model_hash(path, hex, err);
    char dir[PATH_MAX], file[PATH_MAX + 16], key[PATH_MAX + 100];
    if (cache_dir(dir, sizeof dir) && file_key(path, key, sizeof key)) {
        snprintf(file, sizeof file, "%s/hashes.tsv", dir);
        if (cache_lookup(file, key, hex))
            return MEND_OK;
    }
    return mend_fail(err, MEND_E_IO, "%s: not hashed yet", path);
}

mend_status mend_model_hash(const char *path, char hex[65], mend_err *err)
{
    char dir[PATH_MAX], file[PATH_MAX + 16], key[PATH_MAX + 100];
    int cached = cache_dir(dir, sizeof dir) && file_key(path, key, sizeof key);
    if (cached) {
        snprintf(file, sizeof file, "%s/hashes.tsv", dir);
        if (cache_lookup(file, key, hex))
            return MEND_OK;
    }
    MEND_TRY(mend_sha256_file(path, hex, err));
    if (cached)
        cache_store(dir, file, key, hex);
    return MEND_OK;
}

void mend_model_short_hash_once(const char *path, int *tried, char short_hash[11])
{
    if (*tried)
        return;
    *tried = 1;
    char hex[65];
    mend_err e = {0};
    if (mend_model_hash(path, hex, &e) == MEND_OK) {
        memcpy(short_hash, hex, 10);
        short_hash[10] = '\0';
    }
}
