/* The parameter table as JSON (GET /mend/v1/params): what the web page
 * builds its controls from and what the table-walking test compares the
 * CLI and the API against. */
#include "mend/params.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

static const char *type_name(mend_param_type t)
{
    static const char *const names[] = {"int", "int64", "float", "bool", "choice", "string"};
    return names[t];
}

static const char *scope_name(int scope)
{
    return scope == MEND_SCOPE_ALL       ? "all"
           : scope == MEND_SCOPE_IMG2IMG ? "img2img"
           : scope == MEND_SCOPE_TXT2IMG ? "txt2img"
                                         : "inpaint";
}

static cJSON *names(const char *const *list, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; list && i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(list[i]));
    return a;
}

static cJSON *aliases(const char *list)
{
    cJSON *a = cJSON_CreateArray();
    for (const char *w = list; w && *w;) {
        size_t k = 0;
        while (w[k] && w[k] != ' ')
            k++;
        char buf[64];
        snprintf(buf, sizeof buf, "%.*s", (int)k, w);
        cJSON_AddItemToArray(a, cJSON_CreateString(buf));
        w += k;
        w += *w == ' ';
    }
    return a;
}

static void add_str(cJSON *o, const char *key, const char *v)
{
    cJSON_AddItemToObject(o, key, v ? cJSON_CreateString(v) : cJSON_CreateNull());
}

static void add_default(cJSON *o, const char *key, const mend_param_desc *d, double v, const char *s)
{
    if (d->type == MEND_PARAM_STRING)
        add_str(o, key, s);
    else if (d->type == MEND_PARAM_BOOL)
        cJSON_AddBoolToObject(o, key, v != 0);
    else
        cJSON_AddNumberToObject(o, key, v);
}

static cJSON *entry(const mend_param_desc *d)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", d->name);
    add_str(o, "api_key", d->api_key);
    cJSON_AddBoolToObject(o, "api_setting", (d->flags & MEND_PARAM_SETTING) != 0);
    cJSON_AddBoolToObject(o, "api_choice_by_name", (d->flags & MEND_PARAM_API_NAME) != 0);
    cJSON_AddBoolToObject(o, "api_custom", (d->flags & MEND_PARAM_API_CUSTOM) != 0);
    add_str(o, "cli_flag", d->cli_flag);
    cJSON_AddItemToObject(o, "cli_aliases", aliases(d->cli_aliases));
    if (d->cli_short) {
        char s[3] = {'-', d->cli_short, 0};
        cJSON_AddStringToObject(o, "cli_short", s);
    }
    cJSON_AddStringToObject(o, "label", d->label);
    cJSON_AddStringToObject(o, "type", type_name(d->type));
    cJSON_AddStringToObject(o, "scope", scope_name(d->scope));
    if (d->type != MEND_PARAM_STRING) {
        cJSON_AddNumberToObject(o, "min", d->min);
        cJSON_AddNumberToObject(o, "max", d->max);
        cJSON_AddNumberToObject(o, "step", d->step);
        double api_min, api_max;
        mend_param_api_range(d, &api_min, &api_max);
        cJSON_AddNumberToObject(o, "api_min", api_min);
        cJSON_AddNumberToObject(o, "api_max", api_max);
        cJSON_AddBoolToObject(o, "strict_step", (d->flags & MEND_PARAM_STRICT_STEP) != 0);
    }
    if (d->nchoices) {
        cJSON_AddItemToObject(o, "choices", names(d->choices, d->nchoices));
        if (d->cli_choices)
            cJSON_AddItemToObject(o, "cli_choices", names(d->cli_choices, d->nchoices));
    }
    add_default(o, "default", d, d->ui_default, d->ui_default_str);
    if (d->flags & MEND_PARAM_API_NULL)
        cJSON_AddNullToObject(o, "api_default");
    else
        add_default(o, "api_default", d, d->api_default, d->api_default_str);
    add_str(o, "infotext_key", d->infotext_key);
    cJSON_AddStringToObject(o, "help", d->help);
    return o;
}

char *mend_params_json(void)
{
    cJSON *root = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(root, "params");
    for (int i = 0; i < mend_param_count(); i++)
        cJSON_AddItemToArray(list, entry(mend_param_at(i)));
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}
