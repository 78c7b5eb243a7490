/* Request fields and options from the parameter table (params_api.h). */
#include "server/params_api.h"

#include <stdlib.h>
#include <string.h>

int srv_param_is_field(const mend_param_desc *d, int img2img)
{
    return d->api_key && !(d->flags & (MEND_PARAM_SETTING | MEND_PARAM_API_CUSTOM)) &&
           mend_param_scope_applies(d->scope, img2img, img2img);
}

static int index_of(const mend_param_desc *d)
{
    for (int i = 0; i < mend_param_count(); i++)
        if (mend_param_at(i) == d)
            return i;
    return -1;
}

static srv_ftype api_type(const mend_param_desc *d)
{
    switch (d->type) {
    case MEND_PARAM_FLOAT:
        return SRV_FLOAT;
    case MEND_PARAM_BOOL:
        return d->flags & MEND_PARAM_API_INT ? SRV_INT64 : SRV_BOOL;
    case MEND_PARAM_CHOICE:
        return d->flags & MEND_PARAM_API_NAME ? SRV_STR : SRV_INT64;
    case MEND_PARAM_STRING:
        return SRV_STR;
    default:
        return SRV_INT64;
    }
}

/* Coerces v (pydantic-style, type errors into errors) and sets it; 0 on a
 * type error, 1 otherwise (a range error is in *err with status != OK). */
static int coerce_and_set(const cJSON *v, const mend_param_desc *d, const char *loc, mend_gen_params *p,
                          srv_param_state *st, cJSON *errors, mend_status *status, mend_err *err)
{
    union {
        int b;
        int64_t l;
        float f;
        char *s;
    } tmp = {0};
    srv_ftype t = api_type(d);
    if (!srv_coerce(v, t, loc, &tmp, errors))
        return 0;
    if (t == SRV_STR) {
        if (d->type == MEND_PARAM_STRING && st->nowned == (int)(sizeof st->owned / sizeof *st->owned)) {
            free(tmp.s); /* cannot happen: owned has room for every STRING row of the table */
            *status = mend_fail(err, MEND_E_NOMEM, "parameter '%s': no room to keep the text", d->name);
        } else if (d->type == MEND_PARAM_STRING) {
            st->owned[st->nowned++] = tmp.s; /* p keeps pointing at it */
            *status = mend_param_set_text(p, d, tmp.s, err);
        } else {
            *status = mend_param_set_text(p, d, tmp.s, err);
            free(tmp.s);
        }
    } else {
        double x = t == SRV_FLOAT ? tmp.f : t == SRV_BOOL ? tmp.b : (double)tmp.l;
        *status = mend_param_set_number(p, d, x, err);
    }
    return 1;
}

int srv_params_apply_settings(const cJSON *settings, const char *what, mend_gen_params *p, srv_param_state *st,
                              srv_response *resp)
{
    for (int i = 0; i < mend_param_count(); i++) {
        const mend_param_desc *d = mend_param_at(i);
        if (!(d->flags & (MEND_PARAM_SETTING | MEND_PARAM_ALSO_SETTING)))
            continue;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(settings, d->api_key);
        if (!v || cJSON_IsNull(v))
            continue;
        mend_status s = MEND_OK;
        mend_err err = {0};
        if (!coerce_and_set(v, d, d->api_key, p, st, NULL, &s, &err)) {
            srv_reply_error(resp, 400, "HTTPException", "%s: bad value for '%s'", what, d->api_key);
            return 0;
        }
        if (s != MEND_OK) {
            srv_reply_error(resp, 400, "HTTPException", "%s: '%s': %s", what, d->api_key, err.msg);
            return 0;
        }
    }
    return 1;
}

static void read_one(const cJSON *body, const mend_param_desc *d, mend_gen_params *p, srv_param_state *st,
                     cJSON *errors)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, d->api_key);
    if (!v || cJSON_IsNull(v))
        return; /* null = the default, as the spec recommends */
    mend_status s = MEND_OK;
    mend_err err = {0};
    if (!coerce_and_set(v, d, d->api_key, p, st, errors, &s, &err))
        return;
    int k = index_of(d);
    if (k >= 0 && k < SRV_MAX_PARAMS)
        st->sent[k] = 1;
    if (s != MEND_OK && !st->bad) {
        st->bad = d;
        st->bad_err = err;
    }
}

void srv_params_read(const cJSON *body, int img2img, mend_gen_params *p, srv_param_state *st, cJSON *errors)
{
    /* mask_blur (both axes) after mask_blur_x/_y: in A1111's API it wins */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < mend_param_count(); i++) {
            const mend_param_desc *d = mend_param_at(i);
            if (srv_param_is_field(d, img2img) && !(d->flags & MEND_PARAM_BOTH_AXES) == !pass)
                read_one(body, d, p, st, errors);
        }
}

cJSON *srv_float_json(float v)
{
    char buf[64];
    mend_float_repr(v, buf, sizeof buf);
    if (strpbrk(buf, "ni")) /* nan, inf: JSON has no such numbers (the table's ranges keep them out) */
        return cJSON_CreateNull();
    return cJSON_CreateRaw(buf);
}

/* exact_floats: floats as the Python repr text (the echo, like A1111's
 * 7.0); else as plain numbers, which the options' coercion reads back. */
static cJSON *value_json(const mend_param_desc *d, const mend_gen_params *p, int exact_floats)
{
    double x = mend_param_get_number(p, d);
    switch (d->type) {
    case MEND_PARAM_STRING: {
        const char *s = mend_param_get_label(p, d);
        return s ? cJSON_CreateString(s) : cJSON_CreateNull();
    }
    case MEND_PARAM_BOOL:
        return d->flags & MEND_PARAM_API_INT ? cJSON_CreateNumber(x) : cJSON_CreateBool(x != 0);
    case MEND_PARAM_CHOICE:
        if (d->flags & MEND_PARAM_API_NAME)
            return cJSON_CreateString(mend_param_get_label(p, d));
        return cJSON_CreateNumber(x);
    case MEND_PARAM_FLOAT:
        return exact_floats ? srv_float_json((float)x) : cJSON_CreateNumber(x);
    default:
        return cJSON_CreateNumber(x);
    }
}

cJSON *srv_param_json(const mend_param_desc *d, const mend_gen_params *p)
{
    return value_json(d, p, 0);
}

void srv_params_echo(cJSON *o, int img2img, const mend_gen_params *p, const srv_param_state *st)
{
    for (int i = 0; i < mend_param_count(); i++) {
        const mend_param_desc *d = mend_param_at(i);
        if (!srv_param_is_field(d, img2img))
            continue;
        int sent = i < SRV_MAX_PARAMS && st->sent[i];
        cJSON_AddItemToObject(o, d->api_key,
                              (d->flags & MEND_PARAM_API_NULL) && !sent ? cJSON_CreateNull() : value_json(d, p, 1));
    }
}

void srv_param_state_free(srv_param_state *st)
{
    for (int i = 0; i < st->nowned; i++)
        free(st->owned[i]);
    st->nowned = 0;
}

void srv_reply_param_error(srv_response *resp, const mend_param_desc *d, const char *msg)
{
    cJSON *errors = cJSON_CreateArray(), *e = cJSON_CreateObject(), *loc = cJSON_CreateArray();
    cJSON_AddItemToArray(loc, cJSON_CreateString("body"));
    cJSON_AddItemToArray(loc, cJSON_CreateString(d && d->api_key ? d->api_key : d ? d->name : "parameters"));
    cJSON_AddItemToObject(e, "loc", loc);
    cJSON_AddStringToObject(e, "msg", msg);
    cJSON_AddStringToObject(e, "type", "value_error");
    cJSON_AddItemToArray(errors, e);
    srv_reply_validation(resp, errors);
}

void srv_params_add_options(cJSON *options)
{
    mend_gen_params p;
    mend_gen_params_api_default(&p);
    for (int i = 0; i < mend_param_count(); i++) {
        const mend_param_desc *d = mend_param_at(i);
        if ((d->flags & (MEND_PARAM_SETTING | MEND_PARAM_ALSO_SETTING)) &&
            !cJSON_GetObjectItemCaseSensitive(options, d->api_key))
            cJSON_AddItemToObject(options, d->api_key, value_json(d, &p, 0));
    }
}

static const char *schema_type(srv_ftype t)
{
    switch (t) {
    case SRV_INT:
    case SRV_INT64:
        return "integer";
    case SRV_FLOAT:
        return "number";
    case SRV_BOOL:
        return "boolean";
    case SRV_STR:
        return "string";
    case SRV_STR_LIST:
        return "array";
    case SRV_DICT:
        return "object";
    default:
        return NULL;
    }
}

cJSON *srv_schema_property(srv_ftype t, const char *title, cJSON *dflt)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "title", title);
    if (schema_type(t))
        cJSON_AddStringToObject(o, "type", schema_type(t));
    if (t == SRV_STR_LIST)
        cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "items"), "type", "string");
    if (dflt)
        cJSON_AddItemToObject(o, "default", dflt);
    return o;
}

void srv_params_schema(cJSON *props, int img2img)
{
    mend_gen_params p;
    mend_gen_params_api_default(&p);
    for (int i = 0; i < mend_param_count(); i++) {
        const mend_param_desc *d = mend_param_at(i);
        if (!srv_param_is_field(d, img2img))
            continue;
        srv_ftype t = api_type(d);
        cJSON *dflt = d->flags & MEND_PARAM_API_NULL ? cJSON_CreateNull() : value_json(d, &p, 0);
        cJSON *o = srv_schema_property(t, d->label ? d->label : d->name, dflt);
        if (d->help)
            cJSON_AddStringToObject(o, "description", d->help);
        if ((t == SRV_INT64 || t == SRV_FLOAT) && d->type != MEND_PARAM_CHOICE && d->type != MEND_PARAM_BOOL &&
            !(d->flags & MEND_PARAM_NO_CHECK) && d->max > d->min) {
            cJSON_AddNumberToObject(o, "minimum", d->min);
            cJSON_AddNumberToObject(o, "maximum", d->max);
        }
        if (d->type == MEND_PARAM_CHOICE || (d->type == MEND_PARAM_BOOL && t == SRV_INT64)) {
            cJSON *e = cJSON_AddArrayToObject(o, "enum");
            for (int k = 0; k < d->nchoices; k++)
                cJSON_AddItemToArray(e, t == SRV_STR ? cJSON_CreateString(d->choices[k]) : cJSON_CreateNumber(k));
        }
        cJSON_AddItemToObject(props, d->api_key, o);
    }
}

void h_params(srv_response *r)
{
    char *text = mend_params_json();
    if (!text) {
        srv_reply_error(r, 500, "MemoryError", "out of memory");
        return;
    }
    r->status = 200;
    r->body = text;
}
