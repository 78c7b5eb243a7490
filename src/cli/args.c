#include "cli/cli.h"
#include "cli/generate.h"

#include "mend/image.h"
#include "mend/mend.h"
#include "mend/params.h"

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
    int options_end = 0; /* after "--" everything is an argument, even "-x" */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!options_end && !strcmp(a, "--")) {
            options_end = 1;
            continue;
        }
        if (!options_end && a[0] == '-' && a[1] && a[1] != '-') {
            cli_errorf("%s: unknown option '%s' (see mend %s --help; '--' before an argument that starts with '-')",
                       argv[0], a, argv[0]);
            return 2;
        }
        if (options_end || strncmp(a, "--", 2) != 0) {
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

int cli_set_max_pixels(const cli_opt *opts, int nopts)
{
    const char *v = cli_get(opts, nopts, "max-pixels");
    int64_t pixels = 0;
    if (v && !mend_parse_pixels(v, &pixels)) {
        cli_errorf("--max-pixels: '%s' is not a pixel count (such as 4194304, 64M or 2048x2048)", v);
        return 0;
    }
    mend_set_max_pixels(pixels);
    return 1;
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

/* Sampler names A1111 and stable-diffusion.cpp users type that are not the
 * registry's name or alias: A1111's second alias of Euler a and sd.cpp's
 * --sampling-method names (with A1111's sampler behind them; the schedule
 * stays Automatic, A1111's choice for that sampler). */
static const char *const sampler_aliases[][2] = {
    {"k_euler_ancestral", "Euler a"}, {"euler_a", "Euler a"}, {"euler", "Euler"},        {"heun", "Heun"},
    {"dpm2", "DPM2"},                 {"dpm++2s_a", "DPM++ 2S a"}, {"dpm++2m", "DPM++ 2M"}, {"lcm", "LCM"},
};

const char *cli_sampler_name(const char *name)
{
    for (size_t i = 0; name && i < sizeof sampler_aliases / sizeof *sampler_aliases; i++)
        if (!strcmp(name, sampler_aliases[i][0]))
            return sampler_aliases[i][1];
    return name;
}

int cli_set_lora_dir(const cli_opt *opts, int nopts)
{
    const char *dir = cli_get(opts, nopts, "lora-dir"), *alias = cli_get(opts, nopts, "lora-model-dir");
    if (dir && alias)
        return cli_errorf("give the LoRA folder once (--lora-dir or --lora-model-dir)") + 1;
    if (dir && !*dir)
        return cli_errorf("--lora-dir: expected a folder") + 1;
    if (alias && !*alias)
        return cli_errorf("--lora-model-dir: expected a folder") + 1;
    mend_set_lora_dir(dir ? dir : alias);
    return 0;
}

int cli_set_embeddings_dir(const cli_opt *opts, int nopts)
{
    const char *dir = cli_get(opts, nopts, "embeddings-dir");
    if (dir && !*dir)
        return cli_errorf("--embeddings-dir: expected a folder") + 1;
    mend_set_embeddings_dir(dir);
    return 0;
}

void cli_print_lines(const char *prefix, const char *text)
{
    for (const char *l = text; l && *l;) {
        size_t k = strcspn(l, "\n");
        fprintf(stderr, "%s%.*s\n", prefix, (int)k, l);
        l += k + (l[k] == '\n');
    }
}

int cli_takes_value(const cli_opt *opts, int nopts, const char *arg)
{
    if (strncmp(arg, "--", 2) != 0 || strchr(arg, '='))
        return 0;
    for (int k = 0; k < nopts; k++)
        if (opts[k].takes_value && !strcmp(arg + 2, opts[k].name))
            return 1;
    return 0;
}

int cli_collect(const cli_opt *opts, int nopts, int argc, char **argv, const char *const *names, int nnames,
                const char **out, int *n, int max)
{
    *n = 0;
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
        if (strncmp(argv[i], "--", 2) != 0)
            continue;
        const char *name = argv[i] + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const char *value = eq ? eq + 1 : cli_takes_value(opts, nopts, argv[i]) && i + 1 < argc ? argv[++i] : NULL;
        for (int k = 0; k < nnames && value; k++)
            if (strlen(names[k]) == len && !strncmp(names[k], name, len)) {
                if (*n == max)
                    return cli_errorf("%s: --%s given more than %d times", argv[0], names[k], max) + 1;
                out[(*n)++] = value;
            }
    }
    return 0;
}

/* ---------------- generation options from the parameter table ---------------- */

/* One spelling per table entry's flag and alias. */
int cli_param_options(cli_gen_opt *out, int max)
{
    int n = 0;
    for (int i = 0; i < mend_param_count(); i++) {
        const mend_param_desc *d = mend_param_at(i);
        if (!d->cli_flag)
            continue;
        if (n < max)
            out[n++] = (cli_gen_opt){d->cli_flag, d->type != MEND_PARAM_BOOL, d->scope, d, 0};
        for (const char *w = d->cli_aliases; w && *w && n < max;) {
            size_t k = strcspn(w, " ");
            char *name = strndup(w, k);
            if (!name) {
                cli_param_options_free(out, n);
                return -1;
            }
            out[n++] = (cli_gen_opt){name, 1, d->scope, d, 1};
            w += k;
            w += *w == ' ';
        }
    }
    return n;
}

void cli_param_options_free(cli_gen_opt *opts, int n)
{
    for (int i = 0; i < n; i++)
        if (opts[i].owned)
            free((char *)opts[i].name);
}

char cli_param_short(const char *name)
{
    for (int i = 0; i < mend_param_count(); i++) {
        const mend_param_desc *d = mend_param_at(i);
        if (d->cli_short && d->cli_flag && !strcmp(d->cli_flag, name))
            return d->cli_short;
    }
    return 0;
}

/* Applies every given spelling of the table's options to p, in table order
 * (so --mask-blur-x after --mask-blur wins). Two spellings of one parameter
 * with different values are an error. Returns 0 after printing. */
int cli_param_apply(const cli_opt *o, const cli_gen_opt *g, int n, mend_gen_params *p)
{
    for (int i = 0; i < mend_param_count(); i++) {
        const mend_param_desc *d = mend_param_at(i);
        const char *first = NULL;
        double first_v = 0;
        for (int k = 0; k < n; k++) {
            if (g[k].param != d || !o[k].value)
                continue;
            mend_err err = {0};
            mend_status s = d->type == MEND_PARAM_BOOL && !g[k].takes_value
                                ? mend_param_set_number(p, d, 1, &err)
                                : mend_param_set_text(p, d, o[k].value, &err);
            if (s != MEND_OK) {
                cli_errorf("--%s: %s", g[k].name, err.msg);
                return 0;
            }
            double v = mend_param_get_number(p, d);
            if (first && d->type != MEND_PARAM_STRING && v != first_v) {
                cli_errorf("--%s conflicts with --%s %s", first, g[k].name, o[k].value);
                return 0;
            }
            if (!first) {
                first = g[k].name;
                first_v = v;
            }
        }
    }
    return 1;
}

/* "--steps N", "--inpaint-area whole|only-masked", "--width N, -W" */
static void flag_text(const mend_param_desc *d, const char *name, int takes_value, char *buf, size_t size)
{
    char value[160] = "";
    if (takes_value && d->nchoices) {
        for (int i = 0; i < d->nchoices; i++) {
            char c[64];
            snprintf(c, sizeof c, "%s", d->cli_choices ? d->cli_choices[i] : d->choices[i]);
            for (char *x = c; *x; x++)
                *x = *x == ' ' ? '-' : (char)(*x >= 'A' && *x <= 'Z' ? *x + 32 : *x);
            snprintf(value + strlen(value), sizeof value - strlen(value), "%s%s", i ? "|" : "", c);
        }
    } else if (takes_value) {
        snprintf(value, sizeof value, "%s", d->type == MEND_PARAM_INT || d->type == MEND_PARAM_INT64 ? "N"
                                            : d->type == MEND_PARAM_FLOAT                            ? "X"
                                                                                                     : "TEXT");
    }
    snprintf(buf, size, "--%s%s%s", name, value[0] ? " " : "", value);
    if (d->cli_short && !strcmp(name, d->cli_flag))
        snprintf(buf + strlen(buf), size - strlen(buf), ", -%c", d->cli_short);
}

static void help_line(FILE *f, const mend_param_desc *d)
{
    char flag[256], def[64], range[96] = "";
    mend_gen_params p;
    mend_gen_params_default(&p);
    flag_text(d, d->cli_flag, d->type != MEND_PARAM_BOOL, flag, sizeof flag);
    mend_param_format(&p, d, def, sizeof def);
    double min, max;
    mend_param_api_range(d, &min, &max);
    if (d->type == MEND_PARAM_INT || d->type == MEND_PARAM_INT64 || d->type == MEND_PARAM_FLOAT)
        snprintf(range, sizeof range, ", %.10g..%.10g%s", min, max,
                 d->flags & MEND_PARAM_STRICT_STEP ? ", multiples of 8" : "");
    fprintf(f, "  %-28s %s%s (%s%s%s)\n", flag, d->help, range, d->type == MEND_PARAM_STRING ? "'" : "", def,
            d->type == MEND_PARAM_STRING ? "'" : "");
    /* the registry's names (one list: src/sampling/) */
    int is_sampler = !strcmp(d->name, "sampler_name"), is_sched = !strcmp(d->name, "scheduler");
    if (is_sampler || is_sched) {
        int n = is_sampler ? mend_samplers_count() : mend_schedulers_count();
        fprintf(f, "  %-28s", "");
        for (int i = 0, col = 31; i < n; i++) {
            const char *name = is_sampler ? mend_samplers_at(i).name : mend_schedulers_at(i).label;
            if (col + strlen(name) + 2 > 110) {
                fprintf(f, "\n  %-28s", "");
                col = 31;
            }
            col += fprintf(f, " %s%s", name, i + 1 < n ? "," : "\n");
        }
    }
    for (const char *w = d->cli_aliases; w && *w;) {
        size_t k = strcspn(w, " ");
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)k, w);
        flag_text(d, name, 1, flag, sizeof flag);
        fprintf(f, "  %-28s the same as --%s\n", flag, d->cli_flag);
        w += k;
        w += *w == ' ';
    }
}

void cli_param_help(FILE *f, int scope)
{
    for (int i = 0; i < mend_param_count(); i++) {
        const mend_param_desc *d = mend_param_at(i);
        if (d->cli_flag && d->scope == scope)
            help_line(f, d);
    }
}
