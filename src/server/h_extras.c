/* POST /sdapi/v1/extra-single-image and /extra-batch-images: A1111's
 * extras (scripts/postprocessing_upscale.py) with the upscalers mend has
 * (None, Lanczos, Nearest): scale by upscaling_resize (resize_mode 0) or
 * to upscaling_resize_w x _h (1, center-cropped to it with upscaling_crop),
 * upscaler_2 blended in by extras_upscaler_2_visibility. The images come
 * back as PNG with their "parameters" text kept and a "postprocessing"
 * text added, as A1111 writes them; html_info is that text in <p>. Face
 * restoration (gfpgan/codeformer visibility > 0) needs a model mend does
 * not have: 422. */
#include "server/server.h"

#include "mend/params.h"
#include "mend/png_text.h"
#include "mend/upscale.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct extras_req {
    int resize_mode, resize_w, resize_h, crop;
    float resize, up2_visibility, gfpgan, codeformer;
    char *up1, *up2;
} extras_req;

typedef struct num_field {
    const char *name;
    srv_ftype type;
    size_t at;
    double lo, hi; /* pydantic's ge / le */
} num_field;

#define AT(f) offsetof(extras_req, f)
static const num_field num_fields[] = {
    {"resize_mode", SRV_INT, AT(resize_mode), 0, 1},
    {"upscaling_resize", SRV_FLOAT, AT(resize), 1, 8},
    {"upscaling_resize_w", SRV_INT, AT(resize_w), 1, 16384},
    {"upscaling_resize_h", SRV_INT, AT(resize_h), 1, 16384},
    {"upscaling_crop", SRV_BOOL, AT(crop), 0, 1},
    {"extras_upscaler_2_visibility", SRV_FLOAT, AT(up2_visibility), 0, 1},
    {"gfpgan_visibility", SRV_FLOAT, AT(gfpgan), 0, 1},
    {"codeformer_visibility", SRV_FLOAT, AT(codeformer), 0, 1},
};
#undef AT

static void range_error(cJSON *errors, const num_field *f, double v)
{
    char msg[128];
    int low = v < f->lo;
    snprintf(msg, sizeof msg, "ensure this value is %s than or equal to %g", low ? "greater" : "less",
             low ? f->lo : f->hi);
    srv_add_field_error(errors, f->name, msg, low ? "value_error.number.not_ge" : "value_error.number.not_le");
}

static void read_numbers(const cJSON *body, extras_req *q, cJSON *errors)
{
    for (size_t i = 0; i < sizeof num_fields / sizeof *num_fields; i++) {
        const num_field *f = &num_fields[i];
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, f->name);
        char *slot = (char *)q + f->at;
        if (!v || cJSON_IsNull(v) || !srv_coerce(v, f->type, f->name, slot, errors))
            continue;
        double x = f->type == SRV_FLOAT ? *(float *)slot : *(int *)slot;
        if (x < f->lo || x > f->hi)
            range_error(errors, f, x);
    }
}

static void read_upscaler(const cJSON *body, const char *name, char **out, cJSON *errors)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, name);
    char *s = NULL;
    if (!v || cJSON_IsNull(v) || !srv_coerce(v, SRV_STR, name, &s, errors))
        return;
    if (mend_upscaler_find(s) < 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "could not find upscaler named %.200s (mend has None, Lanczos, Nearest)", s);
        srv_add_field_error(errors, name, msg, "value_error");
        free(s);
        return;
    }
    free(*out);
    *out = s;
}

/* 0 after filling r (422) */
static int read_extras(const cJSON *body, extras_req *q, srv_response *r)
{
    *q = (extras_req){.resize_w = 512, .resize_h = 512, .crop = 1, .resize = 2, .up1 = strdup("None"),
                      .up2 = strdup("None")};
    cJSON *errors = cJSON_CreateArray();
    read_numbers(body, q, errors);
    read_upscaler(body, "upscaler_1", &q->up1, errors);
    read_upscaler(body, "upscaler_2", &q->up2, errors);
    if (cJSON_GetArraySize(errors) > 0) {
        srv_reply_validation(r, errors);
        return 0;
    }
    cJSON_Delete(errors);
    if (!q->up1 || !q->up2) {
        srv_reply_error(r, 500, "MemoryError", "out of memory");
        return 0;
    }
    if (q->gfpgan > 0 || q->codeformer > 0) {
        srv_reply_error(r, 422, "HTTPException", "%s: mend has no face restoration model (%s)",
                        q->gfpgan > 0 ? "gfpgan_visibility" : "codeformer_visibility",
                        q->gfpgan > 0 ? "GFPGAN" : "CodeFormer");
        return 0;
    }
    return 1;
}

/* One upscaler pass (upscale() of postprocessing_upscale.py); info gets its keys. */
static mend_status upscale_one(const extras_req *q, const mend_image *img, const char *upscaler, char *info,
                               size_t isize, mend_image *out, mend_err *err)
{
    double by = q->resize;
    size_t n = strlen(info);
    if (q->resize_mode == 1) {
        double bw = (double)q->resize_w / img->width, bh = (double)q->resize_h / img->height;
        by = bw > bh ? bw : bh;
        snprintf(info + n, isize - n, "Postprocess upscale to: %dx%d, ", q->resize_w, q->resize_h);
    } else {
        char num[40];
        mend_float_repr(q->resize, num, sizeof num);
        snprintf(info + n, isize - n, "Postprocess upscale by: %s, ", num);
    }
    if (q->resize_mode != 1 || !q->crop)
        return mend_upscale(img, upscaler, by, out, err);
    mend_image up = {0};
    MEND_TRY(mend_upscale(img, upscaler, by, &up, err));
    mend_status st = mend_image_center_crop(&up, q->resize_w, q->resize_h, out, err);
    mend_image_free(&up);
    n = strlen(info);
    snprintf(info + n, isize - n, "Postprocess crop to: %dx%d, ", q->resize_w, q->resize_h);
    return st;
}

/* The whole extras run on one RGB image. "None" as upscaler_1 leaves the image as it is. */
static mend_status run_extras(const extras_req *q, const mend_image *img, char *info, size_t isize, mend_image *out,
                              mend_err *err)
{
    info[0] = '\0';
    if (!strcmp(q->up1, "None") || mend_upscaler_find(q->up1) == 0)
        return mend_image_copy(img, out, err);
    mend_image first = {0}, second = {0};
    MEND_TRY(upscale_one(q, img, q->up1, info, isize, &first, err));
    size_t n = strlen(info);
    snprintf(info + n, isize - n, "Postprocess upscaler: %s, ", mend_upscaler_name(mend_upscaler_find(q->up1)));
    mend_status st = MEND_OK;
    if (mend_upscaler_find(q->up2) > 0 && q->up2_visibility > 0) {
        st = upscale_one(q, img, q->up2, info, isize, &second, err);
        if (st == MEND_OK)
            st = mend_image_blend(&first, &second, q->up2_visibility, out, err);
        n = strlen(info);
        snprintf(info + n, isize - n, "Postprocess upscaler 2: %s, ", mend_upscaler_name(mend_upscaler_find(q->up2)));
        mend_image_free(&first);
        mend_image_free(&second);
    } else {
        *out = first;
    }
    n = strlen(info);
    if (n >= 2)
        info[n - 2] = '\0'; /* the last ", " */
    return st;
}

/* A request image -> the extras' result as base64 PNG (malloc'd); NULL with r filled. */
static char *process_image(const extras_req *q, const char *b64, const char *field, char *info, size_t isize,
                           srv_response *r)
{
    char msg[1200];
    mend_image img = {0}, rgb = {0}, out = {0};
    int rc = srv_decode_image(b64, field, &img, msg, sizeof msg);
    if (rc != 1) {
        srv_reply_error(r, rc < 0 ? 413 : 400, "HTTPException", "%s", msg);
        return NULL;
    }
    mend_err err = {0};
    char *res = NULL;
    if (mend_image_to_rgb(&img, &rgb, &err) == MEND_OK && run_extras(q, &rgb, info, isize, &out, &err) == MEND_OK) {
        /* the input's own infotext stays with the image */
        size_t n = 0;
        uint8_t *bytes = srv_image_bytes(b64, field, &n, msg, sizeof msg);
        mend_png_text_list l = {0};
        int has_text = bytes && mend_png_text_read_buffer(bytes, n, field, MEND_PNG_CRC_IGNORE, &l, &err) == MEND_OK;
        const char *params = has_text ? mend_png_text_get(&l, "parameters") : NULL;
        mend_png_text texts[2] = {{"parameters", params}, {"postprocessing", info}};
        int first = params ? 0 : 1, count = (params ? 1 : 0) + (info[0] ? 1 : 0);
        uint8_t *png = NULL;
        size_t len = 0;
        if (mend_image_encode_png(&out, texts + first, count, &png, &len, &err) == MEND_OK)
            res = srv_b64_encode(png, len);
        free(png);
        free(bytes);
        if (has_text)
            mend_png_text_list_free(&l);
    }
    if (!res)
        srv_reply_error(r, err.code == MEND_E_ARG ? 422 : 500, "HTTPException", "%s: %s", field,
                        err.msg[0] ? err.msg : "out of memory");
    mend_image_free(&img);
    mend_image_free(&rgb);
    mend_image_free(&out);
    return res;
}

/* ui_common.plaintext_to_html */
static char *html_info(const char *text)
{
    size_t cap = strlen(text) * 6 + 16; /* the longest escape is 6 bytes */
    char *h = malloc(cap), *o = h;
    if (!h)
        return NULL;
    o += sprintf(o, "<p>");
    for (const char *c = text; *c; c++) {
        const char *e = *c == '<' ? "&lt;" : *c == '>' ? "&gt;" : *c == '&' ? "&amp;" : *c == '"' ? "&quot;"
                        : *c == '\'' ? "&#x27;" : *c == '\n' ? "<br>\n" : NULL;
        if (e)
            o += sprintf(o, "%s", e);
        else
            *o++ = *c;
    }
    sprintf(o, "</p>");
    return h;
}

static void add_html_info(cJSON *o, const char *info)
{
    char *h = html_info(info);
    cJSON_AddStringToObject(o, "html_info", h ? h : "");
    free(h);
}

void h_extra_single_image(srv_server *s, const srv_call *c, srv_response *r)
{
    (void)s;
    cJSON *json = srv_parse_body(c->body, c->len, 1, r);
    extras_req q = {0};
    if (json && read_extras(json, &q, r)) {
        const cJSON *img = cJSON_GetObjectItemCaseSensitive(json, "image");
        char info[1024];
        char *b64 = NULL;
        if (!cJSON_IsString(img) || !img->valuestring[0])
            srv_reply_error(r, 400, "HTTPException", "Invalid encoded image: image is empty");
        else if ((b64 = process_image(&q, img->valuestring, "image", info, sizeof info, r))) {
            cJSON *o = cJSON_CreateObject();
            add_html_info(o, info);
            cJSON_AddStringToObject(o, "image", b64);
            srv_reply_json(r, 200, o);
        }
        free(b64);
    }
    free(q.up1);
    free(q.up2);
    cJSON_Delete(json);
}

/* imageList: [{"data": base64, "name": file name}] */
static int check_image_list(const cJSON *list, srv_response *r)
{
    cJSON *errors = cJSON_CreateArray();
    if (!cJSON_IsArray(list))
        srv_add_field_error(errors, "imageList", list ? "value is not a valid list" : "field required",
                            list ? "type_error.list" : "value_error.missing");
    for (const cJSON *e = cJSON_IsArray(list) ? list->child : NULL; e; e = e->next)
        if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "data"))) {
            srv_add_field_error(errors, "imageList", "every item needs \"data\" (base64) and \"name\"",
                                "value_error.missing");
            break;
        }
    if (cJSON_GetArraySize(errors) == 0) {
        cJSON_Delete(errors);
        return 1;
    }
    srv_reply_validation(r, errors);
    return 0;
}

void h_extra_batch_images(srv_server *s, const srv_call *c, srv_response *r)
{
    (void)s;
    cJSON *json = srv_parse_body(c->body, c->len, 1, r);
    extras_req q = {0};
    const cJSON *list = json ? cJSON_GetObjectItemCaseSensitive(json, "imageList") : NULL;
    if (json && read_extras(json, &q, r) && check_image_list(list, r)) {
        cJSON *o = cJSON_CreateObject(), *images = cJSON_CreateArray();
        char info[1024] = "", field[64];
        int i = 0, ok = 1;
        for (const cJSON *e = list->child; e && ok; e = e->next, i++) {
            snprintf(field, sizeof field, "imageList[%d]", i);
            char *b64 = process_image(&q, cJSON_GetObjectItemCaseSensitive(e, "data")->valuestring, field, info,
                                      sizeof info, r);
            ok = b64 != NULL;
            if (b64)
                cJSON_AddItemToArray(images, cJSON_CreateString(b64));
            free(b64);
        }
        add_html_info(o, info);
        cJSON_AddItemToObject(o, "images", images);
        if (ok)
            srv_reply_json(r, 200, o);
        else
            cJSON_Delete(o);
    }
    free(q.up1);
    free(q.up2);
    cJSON_Delete(json);
}
