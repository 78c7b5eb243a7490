/* Output file names, used by the CLI and the server alike: "-o FILE"
 * numbering and A1111's default
 * outputs/<kind>-images/<date>/NNNNN-<seed>.png (modules/images.py
 * save_image with save_to_dirs, directory pattern [date], file pattern
 * [seed]). */
#include "mend/mend.h"

#include "core/err.h"

#include <stdio.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

char *mend_numbered_path(const char *file, int index)
{
    if (index == 0)
        return strdup(file);
    const char *slash = strrchr(file, '/');
    const char *dot = strrchr(file, '.');
    /* an extension is a dot inside the last path component, not leading it */
    if (!dot || (slash && dot < slash) || dot == (slash ? slash + 1 : file))
        dot = file + strlen(file);
    size_t stem = (size_t)(dot - file), size = strlen(file) + 16;
    char *out = malloc(size);
    if (out)
        snprintf(out, size, "%.*s-%d%s", (int)stem, file, index, dot);
    return out;
}

mend_status mend_make_parent_dirs(const char *path, mend_err *err)
{
    char *dir = strdup(path);
    if (!dir)
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) {
        free(dir);
        return MEND_OK;
    }
    *slash = '\0';
    mend_status s = MEND_OK;
    for (char *p = dir + 1;; p++) {
        int last = *p == '\0';
        if (*p == '/' || last) {
            char keep = *p;
            *p = '\0';
            struct stat st;
            if (mkdir(dir, 0777) != 0 && errno != EEXIST)
                s = mend_fail(err, MEND_E_IO, "%s: cannot create folder: %s", dir, strerror(errno));
            else if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
                s = mend_fail(err, MEND_E_IO, "%s: exists and is not a folder", dir);
            *p = keep;
            if (s != MEND_OK || last)
                break;
        }
    }
    free(dir);
    return s;
}

/* images.get_next_sequence_number(path, ""): 1 + the largest int() of the
 * part of a file name before its first '-' (extension removed). */
static long next_sequence_number(const char *dir)
{
    long best = -1;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *name = e->d_name, *dot = strrchr(name, '.');
        size_t len = dot && dot != name ? (size_t)(dot - name) : strlen(name);
        const char *dash = memchr(name, '-', len);
        size_t digits = dash ? (size_t)(dash - name) : len;
        if (digits == 0 || digits > 9)
            continue;
        int all_digits = 1;
        for (size_t i = 0; i < digits; i++)
            all_digits &= isdigit((unsigned char)name[i]) != 0;
        if (all_digits) {
            long v = strtol(name, NULL, 10);
            best = v > best ? v : best;
        }
    }
    closedir(d);
    return best + 1;
}

mend_status mend_output_path(const char *outdir, const char *kind, int64_t seed, char **out, mend_err *err)
{
    *out = NULL;
    char date[32];
    time_t now = time(NULL);
    struct tm tm;
    if (!localtime_r(&now, &tm) || !strftime(date, sizeof date, "%Y-%m-%d", &tm))
        return mend_fail(err, MEND_E_IO, "cannot read the current date");
    size_t size = strlen(outdir) + strlen(kind) + 128;
    char *dir = malloc(size), *path = malloc(size);
    if (!dir || !path) {
        free(dir);
        free(path);
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    }
    snprintf(dir, size, "%s/%s-images/%s", outdir, kind, date);
    snprintf(path, size, "%s/x", dir);
    mend_status s = mend_make_parent_dirs(path, err);
    if (s == MEND_OK) {
        long base = next_sequence_number(dir);
        struct stat st;
        /* like A1111, try up to 500 numbers past the first free one */
        for (long i = 0; i < 500; i++) {
            snprintf(path, size, "%s/%05ld-%lld.png", dir, base + i, (long long)seed);
            if (stat(path, &st) != 0)
                break;
        }
    }
    free(dir);
    if (s != MEND_OK) {
        free(path);
        return s;
    }
    *out = path;
    return MEND_OK;
}

/* Removes "*.tmp-*" files (writes cut short by a kill -9) from one folder;
 * returns how many. */
static int clean_folder(const char *dir)
{
    DIR *d = opendir(dir);
    int removed = 0;
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strstr(e->d_name, ".tmp-"))
            continue;
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path && unlink(path) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

int mend_outputs_clean_temp(const char *outdir)
{
    static const char *const kinds[] = {"txt2img-images", "img2img-images"};
    int removed = 0;
    for (int k = 0; k < 2; k++) {
        char kind_dir[4096];
        if (snprintf(kind_dir, sizeof kind_dir, "%s/%s", outdir, kinds[k]) >= (int)sizeof kind_dir)
            continue;
        DIR *d = opendir(kind_dir);
        for (struct dirent *e; d && (e = readdir(d));) {
            char day[4096];
            if (e->d_name[0] == '.' ||
                snprintf(day, sizeof day, "%s/%s", kind_dir, e->d_name) >= (int)sizeof day)
                continue;
            struct stat st;
            if (stat(day, &st) == 0 && S_ISDIR(st.st_mode))
                removed += clean_folder(day);
        }
        if (d)
            closedir(d);
    }
    return removed;
}
