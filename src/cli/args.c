#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_error(const mend_err *err)
{
    fprintf(stderr, "mend: %s\n", err->msg[0] ? err->msg : mend_status_name(err->code));
    return 1;
}

int cli_errorf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mend: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cli_parse(int argc, char **argv, cli_opt *opts, int nopts, const char **pos, int max_pos, int *npos)
{
    *npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (*npos >= max_pos) {
                cli_errorf("%s: unexpected argument '%s'", argv[0], a);
                return 2;
            }
            pos[(*npos)++] = a;
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        cli_opt *o = NULL;
        for (int k = 0; k < nopts; k++)
            if (strlen(opts[k].name) == len && strncmp(opts[k].name, name, len) == 0)
                o = &opts[k];
        if (!o) {
            cli_errorf("%s: unknown option '--%.*s' (see mend --help)", argv[0], (int)len, name);
            return 2;
        }
        if (!o->takes_value) {
            if (eq) {
                cli_errorf("%s: option '--%s' takes no value", argv[0], o->name);
                return 2;
            }
            o->value = "";
        } else if (eq) {
            o->value = eq + 1;
        } else if (i + 1 < argc) {
            o->value = argv[++i];
        } else {
            cli_errorf("%s: option '--%s' needs a value", argv[0], o->name);
            return 2;
        }
    }
    return 0;
}

const char *cli_get(const cli_opt *opts, int nopts, const char *name)
{
    for (int k = 0; k < nopts; k++)
        if (strcmp(opts[k].name, name) == 0)
            return opts[k].value;
    return NULL;
}

int cli_get_int(const cli_opt *opts, int nopts, const char *name, int def, int lo, int hi, int *out)
{
    const char *v = cli_get(opts, nopts, name);
    if (!v) {
        *out = def;
        return 1;
    }
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        cli_errorf("--%s: '%s' is not an integer in [%d, %d]", name, v, lo, hi);
        return 0;
    }
    *out = (int)x;
    return 1;
}
