/* Generic access to the parameter table (include/mend/params.h): lookup,
 * setters that parse and check, the one error message format, defaults and
 * validation derived from the table. */
#include "mend/params.h"

#include "core/err.h"
#include "inpaint/infotext.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------------- lookup ---------------- */

/* Is `name` one of the space-separated words of `list`? */
static int in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *w = list; w && *w;) {
        size_t k = strcspn(w, " ");
        if (k == n && !strncmp(w, name, n))
            return 1;
        w += k;
        w += *w == ' ';
    }
    return 0;
}

const mend_param_desc *mend_param_find(const char *name)
{
    int n = mend_param_count();
    for (int i = 0; i < n; i++) {
        const mend_param_desc *d = mend_param_at(i);
        if (!strcmp(d->name, name) || (d->api_key && !strcmp(d->api_key, name)) ||
            (d->cli_flag && !strcmp(d->cli_flag, name)) || in_list(d->cli_aliases, name))
            return d;
    }
    return NULL;
}

/* ---------------- field access ---------------- */

static void *field(mend_gen_params *p, const mend_param_desc *d)
{
    return (char *)p + d->offset;
}

static const void *cfield(const mend_gen_params *p, const mend_param_desc *d)
{
    return (const char *)p + d->offset;
}

double mend_param_get_number(const mend_gen_params *p, const mend_param_desc *d)
{
    switch (d->type) {
    case MEND_PARAM_INT:
    case MEND_PARAM_BOOL:
    case MEND_PARAM_CHOICE:
        return *(const int *)cfield(p, d);
    case MEND_PARAM_INT64:
        return (double)*(const int64_t *)cfield(p, d);
    case MEND_PARAM_FLOAT:
        return *(const float *)cfield(p, d);
    case MEND_PARAM_STRING:
        break;
    }
    return 0;
}

const char *mend_param_get_label(const mend_gen_params *p, const mend_param_desc *d)
{
    if (d->type == MEND_PARAM_STRING)
        return *(const char *const *)cfield(p, d);
    if (d->type == MEND_PARAM_BOOL || d->type == MEND_PARAM_CHOICE) {
        int i = *(const int *)cfield(p, d);
        return i >= 0 && i < d->nchoices ? d->choices[i] : NULL;
    }
    return NULL;
}

/* Stores v without checks (the caller has checked it). */
static void store_number(mend_gen_params *p, const mend_param_desc *d, double v)
{
    switch (d->type) {
    case MEND_PARAM_INT:
    case MEND_PARAM_BOOL:
    case MEND_PARAM_CHOICE:
        *(int *)field(p, d) = (int)v;
        if (d->flags & MEND_PARAM_BOTH_AXES)
            ((int *)field(p, d))[1] = (int)v;
        break;
    case MEND_PARAM_INT64:
        *(int64_t *)field(p, d) = (int64_t)v;
        break;
    case MEND_PARAM_FLOAT:
        *(float *)field(p, d) = (float)v;
        break;
    case MEND_PARAM_STRING:
        break;
    }
}

/* Python's str() for floats (the infotext's and the API's form). */
static void format_number(const mend_param_desc *d, double v, char *buf, size_t size)
{
    if (d->type == MEND_PARAM_FLOAT)
        mend_float_repr((float)v, buf, size);
    else
        snprintf(buf, size, "%.0f", v);
}

/* Messages: "31 is out of range 1..30", "0.5" (7 digits: what a float holds). */
static void message_number(const mend_param_desc *d, double v, char *buf, size_t size)
{
    snprintf(buf, size, d->type == MEND_PARAM_FLOAT ? "%.7g" : "%.0f", v);
}

void mend_param_format(const mend_gen_params *p, const mend_param_desc *d, char *buf, size_t size)
{
    const char *s = mend_param_get_label(p, d);
    if (d->type == MEND_PARAM_STRING || (s && d->type != MEND_PARAM_INT))
        snprintf(buf, size, "%s", s ? s : "");
    else
        format_number(d, mend_param_get_number(p, d), buf, size);
}

/* ---------------- checks and the one message format ---------------- */

/* "fill (0), original (1), ..." */
static void choice_list(const mend_param_desc *d, char *buf, size_t size)
{
    buf[0] = '\0';
    for (int i = 0; i < d->nchoices; i++) {
        size_t n = strlen(buf);
        snprintf(buf + n, size - n, "%s%s (%d)", i ? ", " : "", d->choices[i], i);
    }
}

void mend_param_api_range(const mend_param_desc *d, double *min, double *max)
{
    int own = d->api_min <= d->api_max;
    *min = own ? d->api_min : d->min;
    *max = own ? d->api_max : d->max;
}

static mend_status range_error(const mend_param_desc *d, double v, mend_err *err)
{
    char val[64], lo[64], hi[64], list[512];
    if (d->type == MEND_PARAM_CHOICE || d->type == MEND_PARAM_BOOL) {
        choice_list(d, list, sizeof list);
        message_number(d, v, val, sizeof val);
        return mend_fail(err, MEND_E_ARG, "parameter '%s': %s is not one of %s", d->name, val, list);
    }
    double min, max;
    mend_param_api_range(d, &min, &max);
    message_number(d, v, val, sizeof val);
    message_number(d, min, lo, sizeof lo);
    message_number(d, max, hi, sizeof hi);
    if (d->flags & MEND_PARAM_STRICT_STEP)
        return mend_fail(err, MEND_E_ARG, "parameter '%s': %s is out of range %s..%s (multiples of %g)", d->name, val,
                         lo, hi, d->step);
    return mend_fail(err, MEND_E_ARG, "parameter '%s': %s is out of range %s..%s", d->name, val, lo, hi);
}

/* A value the field can hold and the table allows. */
static mend_status check_number(const mend_param_desc *d, double v, mend_err *err)
{
    if (d->type == MEND_PARAM_STRING)
        return MEND_OK;
    double min, max;
    mend_param_api_range(d, &min, &max);
    if (!isfinite(v) || v < min || v > max)
        return range_error(d, v, err);
    if (d->type != MEND_PARAM_FLOAT && v != floor(v))
        return range_error(d, v, err);
    if ((d->flags & MEND_PARAM_STRICT_STEP) && fmod(v - min, d->step) != 0)
        return range_error(d, v, err);
    return MEND_OK;
}

mend_status mend_param_check(const mend_gen_params *p, const mend_param_desc *d, mend_err *err)
{
    if (d->type == MEND_PARAM_STRING) {
        if (!*(const char *const *)cfield(p, d))
            return mend_fail(err, MEND_E_ARG, "parameter '%s': missing (NULL)", d->name);
        return MEND_OK;
    }
    if ((d->flags & MEND_PARAM_BOTH_AXES) && ((const int *)cfield(p, d))[1] != *(const int *)cfield(p, d))
        return MEND_OK; /* x and y differ: their own entries check them */
    return check_number(d, mend_param_get_number(p, d), err);
}

mend_status mend_param_set_number(mend_gen_params *p, const mend_param_desc *d, double v, mend_err *err)
{
    if (d->type == MEND_PARAM_STRING)
        return mend_fail(err, MEND_E_ARG, "parameter '%s': a text is expected", d->name);
    MEND_TRY(check_number(d, v, err));
    store_number(p, d, v);
    return MEND_OK;
}

/* ---------------- text ---------------- */

/* Lower case, '-' for ' ' and '_'. */
static void normalize(const char *s, char *out, size_t size)
{
    size_t i = 0;
    for (; s[i] && i + 1 < size; i++) {
        char c = s[i];
        out[i] = (c == '_' || c == ' ') ? '-' : (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    out[i] = '\0';
}

static int match_choice(const mend_param_desc *d, const char *text, int *out)
{
    char want[128], have[128];
    normalize(text, want, sizeof want);
    for (int i = 0; i < d->nchoices; i++) {
        normalize(d->choices[i], have, sizeof have);
        int cli = d->cli_choices && !strcmp(d->cli_choices[i], want);
        if (cli || !strcmp(have, want)) {
            *out = i;
            return 1;
        }
    }
    return 0;
}

static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"1", "on", "t", "true", "y", "yes"};
    static const char *const no[] = {"0", "off", "f", "false", "n", "no"};
    for (int i = 0; i < 6; i++) {
        if (!strcasecmp(s, yes[i]))
            return *out = 1, 1;
        if (!strcasecmp(s, no[i]))
            return *out = 0, 1;
    }
    return 0;
}

static int parse_double(const char *s, int integer, double *out)
{
    char *end;
    errno = 0;
    double v = integer ? (double)strtoll(s, &end, 10) : strtod(s, &end);
    if (errno || end == s || *end)
        return 0;
    *out = v;
    return 1;
}

mend_status mend_param_set_text(mend_gen_params *p, const mend_param_desc *d, const char *text, mend_err *err)
{
    double v;
    int k;
    switch (d->type) {
    case MEND_PARAM_STRING:
        *(const char **)field(p, d) = text;
        return MEND_OK;
    case MEND_PARAM_CHOICE:
    case MEND_PARAM_BOOL:
        if (match_choice(d, text, &k) || (d->type == MEND_PARAM_BOOL && parse_bool(text, &k)))
            return mend_param_set_number(p, d, k, err);
        if (parse_double(text, 1, &v))
            return mend_param_set_number(p, d, v, err);
        char list[512];
        choice_list(d, list, sizeof list);
        return mend_fail(err, MEND_E_ARG, "parameter '%s': '%s' is not one of %s", d->name, text, list);
    case MEND_PARAM_FLOAT:
        if (!parse_double(text, 0, &v))
            return mend_fail(err, MEND_E_ARG, "parameter '%s': '%s' is not a number", d->name, text);
        return mend_param_set_number(p, d, v, err);
    case MEND_PARAM_INT:
    case MEND_PARAM_INT64:
        if (!parse_double(text, 1, &v))
            return mend_fail(err, MEND_E_ARG, "parameter '%s': '%s' is not an integer", d->name, text);
        return mend_param_set_number(p, d, v, err);
    }
    return MEND_OK;
}

/* ---------------- defaults and validation ---------------- */

int mend_param_scope_applies(int scope, int has_init, int inpaint)
{
    switch (scope) {
    case MEND_SCOPE_ALL:
        return 1;
    case MEND_SCOPE_TXT2IMG:
        return !has_init;
    case MEND_SCOPE_IMG2IMG:
        return has_init;
    default:
        return has_init && inpaint;
    }
}

static void set_defaults(mend_gen_params *p, int api)
{
    *p = (mend_gen_params){0};
    int n = mend_param_count();
    for (int i = 0; i < n; i++) {
        const mend_param_desc *d = mend_param_at(i);
        if (d->type == MEND_PARAM_STRING)
            *(const char **)field(p, d) = api ? d->api_default_str : d->ui_default_str;
        else
            store_number(p, d, api ? d->api_default : d->ui_default);
    }
}

void mend_gen_params_default(mend_gen_params *p)
{
    set_defaults(p, 0);
}

void mend_gen_params_api_default(mend_gen_params *p)
{
    set_defaults(p, 1);
}

mend_status mend_params_validate(const mend_gen_params *p, int has_init, const mend_param_desc **bad, mend_err *err)
{
    int n = mend_param_count();
    for (int i = 0; i < n; i++) {
        const mend_param_desc *d = mend_param_at(i);
        if (!mend_param_scope_applies(d->scope, has_init, has_init) || (d->flags & MEND_PARAM_NO_CHECK))
            continue;
        if (mend_param_check(p, d, err) != MEND_OK) {
            if (bad)
                *bad = d;
            return MEND_E_ARG;
        }
    }
    return MEND_OK;
}

mend_status mend_gen_params_validate(const mend_gen_params *p, int has_init, mend_err *err)
{
    return mend_params_validate(p, has_init, NULL, err);
}
