/* Request fields coerced the way pydantic v1 does for A1111's models
 * ("20" -> 20, 20.0 -> 20, "yes" -> true, numbers -> strings), and the two
 * error shapes clients know: FastAPI's 422 validation list and A1111's
 * HTTPException object. */
#include "server/server.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void srv_reply_json(srv_response *r, int status, cJSON *json)
{
    r->status = status;
    r->body = json ? cJSON_PrintUnformatted(json) : NULL;
    cJSON_Delete(json);
    if (!r->body) { /* out of memory: still a JSON body */
        r->status = 500;
        r->body = strdup("{\"error\":\"MemoryError\",\"detail\":\"out of memory\",\"body\":\"\",\"errors\":\"\"}");
    }
}

void srv_reply_error(srv_response *r, int status, const char *error_class, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", error_class);
    cJSON_AddStringToObject(o, "detail", msg);
    cJSON_AddStringToObject(o, "body", "");
    cJSON_AddStringToObject(o, "errors", "");
    srv_reply_json(r, status, o);
}

void srv_reply_validation(srv_response *r, cJSON *detail_list)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "detail", detail_list);
    srv_reply_json(r, 422, o);
}

static void add_error(cJSON *errors, const char *name, const char *msg, const char *type)
{
    if (!errors)
        return;
    cJSON *e = cJSON_CreateObject();
    cJSON *loc = cJSON_CreateArray();
    cJSON_AddItemToArray(loc, cJSON_CreateString("body"));
    if (name)
        cJSON_AddItemToArray(loc, cJSON_CreateString(name));
    cJSON_AddItemToObject(e, "loc", loc);
    cJSON_AddStringToObject(e, "msg", msg);
    cJSON_AddStringToObject(e, "type", type);
    cJSON_AddItemToArray(errors, e);
}

void srv_add_field_error(cJSON *errors, const char *name, const char *msg, const char *type)
{
    add_error(errors, name, msg, type);
}

/* Whether only white space is left after a number, as Python's int() and
 * float() allow. */
static int only_blanks(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    return *s == '\0';
}

/* Python int(str): optional sign, digits, surrounding whitespace. */
static int parse_py_int(const char *s, long long *out)
{
    char *end;
    while (isspace((unsigned char)*s))
        s++;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno || !only_blanks(end))
        return 0;
    *out = v;
    return 1;
}

static int parse_py_float(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !only_blanks(end))
        return 0;
    *out = v;
    return 1;
}

static int to_int64(const cJSON *v, long long *out)
{
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v);
        return 1;
    }
    if (cJSON_IsNumber(v)) { /* int(20.7) = 20 in Python, as pydantic v1 does */
        double d = v->valuedouble;
        if (!isfinite(d) || fabs(d) > 9.0e18)
            return 0;
        *out = (long long)d;
        return 1;
    }
    return cJSON_IsString(v) && parse_py_int(v->valuestring, out);
}

static int to_bool(const cJSON *v, int *out)
{
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v);
        return 1;
    }
    if (cJSON_IsNumber(v) && (v->valuedouble == 0 || v->valuedouble == 1)) {
        *out = v->valuedouble == 1;
        return 1;
    }
    if (!cJSON_IsString(v))
        return 0;
    static const char *const yes[] = {"1", "on", "t", "true", "y", "yes"};
    static const char *const no[] = {"0", "off", "f", "false", "n", "no"};
    for (int i = 0; i < 6; i++) {
        if (!strcasecmp(v->valuestring, yes[i])) {
            *out = 1;
            return 1;
        }
        if (!strcasecmp(v->valuestring, no[i])) {
            *out = 0;
            return 1;
        }
    }
    return 0;
}

static char *to_str(const cJSON *v)
{
    if (cJSON_IsString(v))
        return strdup(v->valuestring);
    if (cJSON_IsNumber(v)) {
        char buf[64];
        if (v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 1e15)
            snprintf(buf, sizeof buf, "%lld", (long long)v->valuedouble);
        else
            snprintf(buf, sizeof buf, "%.17g", v->valuedouble);
        return strdup(buf);
    }
    return NULL;
}

/* Writes v as type t into out; 0 when pydantic v1 would refuse it. */
static int coerce_value(const cJSON *v, srv_ftype t, void *out)
{
    long long i;
    double d;
    switch (t) {
    case SRV_INT:
    case SRV_INT64:
        if (!to_int64(v, &i) || (t == SRV_INT && (i < INT_MIN || i > INT_MAX)))
            return 0;
        if (t == SRV_INT)
            *(int *)out = (int)i;
        else
            *(int64_t *)out = i;
        return 1;
    case SRV_FLOAT:
        if (cJSON_IsBool(v))
            d = cJSON_IsTrue(v);
        else if (cJSON_IsNumber(v))
            d = v->valuedouble;
        else if (!cJSON_IsString(v) || !parse_py_float(v->valuestring, &d))
            return 0;
        if (!isfinite(d) || fabs(d) >= 1e30)
            return 0;
        *(float *)out = (float)d;
        return 1;
    case SRV_BOOL:
        return to_bool(v, (int *)out); /* writes only what it accepts */
    case SRV_STR: {
        char *str = cJSON_IsBool(v) ? NULL : to_str(v);
        if (!str)
            return 0;
        *(char **)out = str;
        return 1;
    }
    case SRV_STR_LIST:
    case SRV_DICT:
    case SRV_ANY:
        return 1; /* checked by srv_coerce */
    }
    return 0;
}

/* pydantic v1's message and type for a value it refuses, by field type. */
static const char *const refusal[][2] = {
    [SRV_INT] = {"value is not a valid integer", "type_error.integer"},
    [SRV_INT64] = {"value is not a valid integer", "type_error.integer"},
    [SRV_FLOAT] = {"value is not a valid float", "type_error.float"},
    [SRV_BOOL] = {"value could not be parsed to a boolean", "type_error.bool"},
    [SRV_STR] = {"str type expected", "type_error.str"},
    [SRV_STR_LIST] = {"value is not a valid list", "type_error.list"},
    [SRV_DICT] = {"value is not a valid dict", "type_error.dict"},
    [SRV_ANY] = {"", ""},
};

int srv_coerce(const cJSON *v, srv_ftype t, const char *name, void *out, cJSON *errors)
{
    if (t == SRV_STR_LIST && cJSON_IsArray(v)) {
        for (const cJSON *e = v->child; e; e = e->next)
            if (!cJSON_IsString(e)) {
                add_error(errors, name, refusal[SRV_STR][0], refusal[SRV_STR][1]);
                return 0;
            }
        return 1;
    }
    int ok = t == SRV_STR_LIST ? 0 : t == SRV_DICT ? cJSON_IsObject(v) : coerce_value(v, t, out);
    if (!ok)
        add_error(errors, name, refusal[t][0], refusal[t][1]);
    return ok;
}

/* Python json's "Expecting value: line L column C (char N)". */
static void json_error(const char *body, size_t len, srv_response *r)
{
    const char *at = cJSON_GetErrorPtr();
    size_t pos = at && at >= body && at <= body + len ? (size_t)(at - body) : 0;
    int line = 1, col = 1;
    for (size_t i = 0; i < pos; i++) {
        if (body[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    char msg[160];
    snprintf(msg, sizeof msg, "Expecting value: line %d column %d (char %zu)", line, col, pos);
    cJSON *errors = cJSON_CreateArray();
    cJSON *e = cJSON_CreateObject();
    cJSON *loc = cJSON_CreateArray();
    cJSON_AddItemToArray(loc, cJSON_CreateString("body"));
    cJSON_AddItemToArray(loc, cJSON_CreateNumber((double)pos));
    cJSON_AddItemToObject(e, "loc", loc);
    cJSON_AddStringToObject(e, "msg", msg);
    cJSON_AddStringToObject(e, "type", "value_error.jsondecode");
    cJSON *ctx = cJSON_AddObjectToObject(e, "ctx");
    cJSON_AddStringToObject(ctx, "msg", "Expecting value");
    cJSON_AddNumberToObject(ctx, "pos", (double)pos);
    cJSON_AddNumberToObject(ctx, "lineno", line);
    cJSON_AddNumberToObject(ctx, "colno", col);
    cJSON_AddItemToArray(errors, e);
    srv_reply_validation(r, errors);
}

cJSON *srv_parse_body(const char *body, size_t len, int need_object, srv_response *r)
{
    if (!body || len == 0) {
        cJSON *errors = cJSON_CreateArray();
        add_error(errors, NULL, "field required", "value_error.missing");
        srv_reply_validation(r, errors);
        return NULL;
    }
    cJSON *j = cJSON_ParseWithLength(body, len);
    if (!j) {
        json_error(body, len, r);
        return NULL;
    }
    if (need_object && !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        cJSON *errors = cJSON_CreateArray();
        add_error(errors, NULL, "value is not a valid dict", "type_error.dict");
        srv_reply_validation(r, errors);
        return NULL;
    }
    return j;
}
