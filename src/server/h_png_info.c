/* POST /sdapi/v1/png-info: the image's infotext ("parameters" text chunk)
 * and A1111 1.10's parse_generation_parameters of it, with the defaults
 * that function fills in for keys an infotext leaves out (spec/a1111-api.md
 * §7, modules/infotext_utils.py). */
#include "server/server.h"

#include "mend/png_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A1111's parse_generation_parameters: prompt lines, the "Negative
 * prompt:" lines, and the last line as "Key: value, ..." pairs; quoted
 * values are unquoted as json.loads does, "WxH" values split into -1/-2
 * keys. Values stay strings, as A1111 leaves them. */
static void add_param(cJSON *o, const char *key, size_t klen, const char *val, size_t vlen)
{
    char k[128], v[4096];
    snprintf(k, sizeof k, "%.*s", (int)klen, key);
    snprintf(v, sizeof v, "%.*s", (int)vlen, val);
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') { /* unquote(): json.loads, or the text as it is */
        cJSON *u = cJSON_Parse(v);
        if (cJSON_IsString(u))
            snprintf(v, sizeof v, "%s", u->valuestring);
        cJSON_Delete(u);
    }
    int w, h;
    char tail;
    if (sscanf(v, "%dx%d%c", &w, &h, &tail) == 2) {
        char k1[140], k2[140], num[32];
        snprintf(k1, sizeof k1, "%s-1", k);
        snprintf(k2, sizeof k2, "%s-2", k);
        snprintf(num, sizeof num, "%d", w);
        cJSON_AddStringToObject(o, k1, num);
        snprintf(num, sizeof num, "%d", h);
        cJSON_AddStringToObject(o, k2, num);
        return;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(o, k); /* a repeated key: the last one wins, as in a dict */
    cJSON_AddStringToObject(o, k, v);
}

/* The keys parse_generation_parameters adds when the infotext lacks them,
 * in its order; values are JSON (strings, or the ints it puts there). */
static const char *const filled_defaults[][2] = {
    {"Clip skip", "\"1\""},
    {"Hires resize-1", "0"},
    {"Hires resize-2", "0"},
    {"Hires sampler", "\"Use same sampler\""},
    {"Hires schedule type", "\"Use same scheduler\""},
    {"Hires checkpoint", "\"Use same checkpoint\""},
    {"Hires prompt", "\"\""},
    {"Hires negative prompt", "\"\""},
    {"Mask mode", "\"Inpaint masked\""},
    {"Masked content", "\"original\""},
    {"Inpaint area", "\"Whole picture\""},
    {"Masked area padding", "32"},
    {"RNG", "\"GPU\""},
    {"Schedule type", "\"Automatic\""},
    {"Schedule max sigma", "0"},
    {"Schedule min sigma", "0"},
    {"Schedule rho", "0"},
    {"VAE Encoder", "\"Full\""},
    {"VAE Decoder", "\"Full\""},
    {"FP8 weight", "\"Disable\""},
    {"Refiner switch by sampling steps", "false"},
};

static void fill_defaults(cJSON *o)
{
    /* A1111 sets both Hires resize keys when the first is missing */
    int no_resize = !cJSON_GetObjectItemCaseSensitive(o, "Hires resize-1");
    for (size_t i = 0; i < sizeof filled_defaults / sizeof *filled_defaults; i++) {
        const char *key = filled_defaults[i][0];
        int missing = !strncmp(key, "Hires resize-", 13) ? no_resize : !cJSON_GetObjectItemCaseSensitive(o, key);
        if (!missing)
            continue;
        cJSON_DeleteItemFromObjectCaseSensitive(o, key);
        cJSON_AddItemToObject(o, key, cJSON_Parse(filled_defaults[i][1]));
    }
}

static void parse_param_line(cJSON *o, const char *s)
{
    while (*s) {
        while (*s == ' ' || *s == ',')
            s++;
        const char *colon = strchr(s, ':');
        if (!colon)
            break;
        const char *key = s;
        size_t klen = (size_t)(colon - s);
        s = colon + 1;
        while (*s == ' ')
            s++;
        const char *val = s;
        if (*s == '"') { /* a quoted value runs to its closing quote */
            s++;
            while (*s && *s != '"')
                s += (*s == '\\' && s[1]) ? 2 : 1;
            if (*s)
                s++;
        } else {
            while (*s && *s != ',')
                s++;
        }
        size_t vlen = (size_t)(s - val);
        while (vlen && val[vlen - 1] == ' ')
            vlen--;
        add_param(o, key, klen, val, vlen);
    }
}

/* parse_generation_parameters with infotext_styles "Apply if any" (A1111's
 * default): styles of the styles file found in the prompts are taken off
 * them and listed as "Styles array". */
static void infer_styles(const srv_server *s, cJSON *o)
{
    mend_styles db;
    mend_err err = {0};
    if (srv_styles_load(s, &db, &err) != MEND_OK) {
        fprintf(stderr, "mend serve: %s\n", err.msg);
        return;
    }
    const char **names = NULL;
    int n = 0;
    char *p = NULL, *q = NULL;
    const char *prompt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "Prompt"));
    const char *negative = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "Negative prompt"));
    if (db.count && mend_styles_extract(&db, prompt, negative, &names, &n, &p, &q, &err) == MEND_OK && n) {
        cJSON_ReplaceItemInObjectCaseSensitive(o, "Prompt", cJSON_CreateString(p));
        cJSON_ReplaceItemInObjectCaseSensitive(o, "Negative prompt", cJSON_CreateString(q));
        cJSON_AddItemToObject(o, "Styles array", cJSON_CreateStringArray(names, n));
    }
    free(names), free(p), free(q);
    mend_styles_free(&db);
}

static cJSON *parse_infotext(const char *text)
{
    cJSON *o = cJSON_CreateObject();
    const char *last_nl = strrchr(text, '\n');
    const char *last = last_nl ? last_nl + 1 : text;
    int has_params = strstr(last, "Steps:") != NULL;
    size_t head_len = has_params ? (size_t)(last - text) : strlen(text);
    char *head = strndup(text, head_len);
    if (!head)
        return o;
    while (head_len && head[head_len - 1] == '\n')
        head[--head_len] = '\0';
    char *neg = strstr(head, "Negative prompt:");
    if (neg && (neg == head || neg[-1] == '\n')) {
        if (neg != head)
            neg[-1] = '\0';
        else
            *neg = '\0';
        const char *n = neg + strlen("Negative prompt:");
        while (*n == ' ')
            n++;
        cJSON_AddStringToObject(o, "Prompt", head);
        cJSON_AddStringToObject(o, "Negative prompt", n);
    } else {
        cJSON_AddStringToObject(o, "Prompt", head);
        cJSON_AddStringToObject(o, "Negative prompt", "");
    }
    free(head);
    if (has_params)
        parse_param_line(o, last);
    fill_defaults(o);
    return o;
}

void h_png_info(const srv_server *s, const char *body, size_t len, srv_response *r)
{
    cJSON *json = srv_parse_body(body, len, 1, r);
    if (!json)
        return;
    const cJSON *img = cJSON_GetObjectItemCaseSensitive(json, "image");
    char msg[1200];
    size_t n = 0;
    uint8_t *bytes = NULL;
    int w = 0, h = 0;
    mend_err err = {0};
    if (!cJSON_IsString(img) || !img->valuestring[0]) {
        srv_reply_error(r, 404, "HTTPException", "Image not found");
    } else if (!(bytes = srv_image_bytes(img->valuestring, "image", &n, msg, sizeof msg))) {
        srv_reply_error(r, 400, "HTTPException", "%s", msg);
    } else if (mend_image_probe(bytes, n, "image", &w, &h, &err) != MEND_OK) {
        srv_reply_error(r, 400, "HTTPException", "Invalid encoded image: %s", err.msg);
    } else {
        /* a PNG or JPEG header: read the text chunks, never the pixels
         * (JPEG has none mend reads) */
        mend_png_text_list l = {0};
        int has_text = mend_png_text_read_buffer(bytes, n, "image", MEND_PNG_CRC_IGNORE, &l, &err) == MEND_OK;
        const char *params = has_text ? mend_png_text_get(&l, "parameters") : NULL;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "info", params ? params : "");
        cJSON *items = cJSON_AddObjectToObject(o, "items");
        for (int i = 0; has_text && i < l.count; i++)
            if (strcmp(l.items[i].key, "parameters") && !cJSON_GetObjectItemCaseSensitive(items, l.items[i].key))
                cJSON_AddStringToObject(items, l.items[i].key, l.items[i].text);
        cJSON *parsed = parse_infotext(params ? params : "");
        infer_styles(s, parsed);
        cJSON_AddItemToObject(o, "parameters", parsed);
        if (has_text)
            mend_png_text_list_free(&l);
        srv_reply_json(r, 200, o);
    }
    free(bytes);
    cJSON_Delete(json);
}
