/* Finding TAESD weight files, shared by `mend eval taesd-*` and
 * `mend serve --taesd`. */
#include "cli/cli.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* The weights file for one direction: the path itself, or in a folder the
 * first (by name) taesd_{encoder,decoder}*.safetensors|.pth. */
int cli_taesd_weights(const char *model, const char *stem, char *out, size_t size)
{
    struct stat st;
    if (stat(model, &st) != 0)
        return cli_errorf("%s: cannot access TAESD weights", model), 0;
    if (!S_ISDIR(st.st_mode)) {
        snprintf(out, size, "%s", model);
        return 1;
    }
    DIR *d = opendir(model);
    if (!d)
        return cli_errorf("%s: cannot read folder", model), 0;
    char best[1024] = "";
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (strncmp(n, stem, strlen(stem)) != 0 || !(has_suffix(n, ".safetensors") || has_suffix(n, ".pth")))
            continue;
        if (!best[0] || strcmp(n, best) < 0)
            snprintf(best, sizeof best, "%s", n);
    }
    closedir(d);
    if (!best[0])
        return cli_errorf("%s: no %s*.safetensors or %s*.pth in this folder", model, stem, stem), 0;
    snprintf(out, size, "%s/%s", model, best);
    return 1;
}

