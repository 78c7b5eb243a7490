/* POST /sdapi/v1/txt2img and /sdapi/v1/img2img: request fields with A1111's
 * API defaults and pydantic-v1 coercion (spec/a1111-api.md §1-2), one job
 * on the worker, and A1111's response: images (base64 PNG with the
 * infotext chunk), parameters (the request with defaults) and info (a JSON
 * string). */
#include "server/server.h"
#include "server/params_api.h"

#include "mend/upscale.h"


#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { F_BOTH = 3, F_TXT = 1, F_IMG = 2 };

typedef struct gen_req {
    mend_gen_params p;       /* the table's fields and settings (params_api.c) */
    srv_param_state st;
    int seed_resize_from_h, seed_resize_from_w;
    int include_init_images, send_images, save_images, restore_faces, restore_settings;
    int sd_upscale; /* script_name "SD upscale" */
    mend_sd_upscale upscale;
    int firstphase_width, firstphase_height;
    char *sampler_name, *sampler_index, *scheduler, *mask, *script_name, *refiner_checkpoint, *hr_checkpoint_name;
    /* with `styles`: the prompts as sent (info's prompt) and with the styles (what runs) */
    const char *sent_prompt, *sent_negative;
    char *styled_prompt, *styled_negative;
    cJSON *job_settings; /* override_settings with the infotext's settings, or NULL: the request's */
    cJSON *pasted_styles; /* the infotext's styles for a request without `styles`, or NULL */
} gen_req;

#define NONE ((size_t)-1)
#define AT(f) offsetof(gen_req, f)

typedef struct field {
    const char *name;
    srv_ftype type;
    size_t at;          /* where the coerced value goes, NONE: echoed as sent */
    int commands;       /* F_TXT / F_IMG */
    const char *absent; /* JSON echoed in `parameters` when not stored and not sent */
} field;

/* The request fields that are not generation parameters (those come from
 * the parameter table: params_api.c). */
static const field fields[] = {
    {"styles", SRV_STR_LIST, NONE, F_BOTH, "null"},
    {"seed_resize_from_h", SRV_INT, AT(seed_resize_from_h), F_BOTH, NULL},
    {"seed_resize_from_w", SRV_INT, AT(seed_resize_from_w), F_BOTH, NULL},
    {"sampler_name", SRV_STR, AT(sampler_name), F_BOTH, NULL},
    {"sampler_index", SRV_STR, AT(sampler_index), F_BOTH, NULL},
    {"scheduler", SRV_STR, AT(scheduler), F_BOTH, NULL},
    {"restore_faces", SRV_BOOL, AT(restore_faces), F_BOTH, NULL},
    {"do_not_save_samples", SRV_BOOL, NONE, F_BOTH, "false"},
    {"do_not_save_grid", SRV_BOOL, NONE, F_BOTH, "false"},
    {"eta", SRV_FLOAT, NONE, F_BOTH, "null"},
    {"s_min_uncond", SRV_FLOAT, NONE, F_BOTH, "null"},
    {"s_churn", SRV_FLOAT, NONE, F_BOTH, "null"},
    {"s_tmax", SRV_FLOAT, NONE, F_BOTH, "null"},
    {"s_tmin", SRV_FLOAT, NONE, F_BOTH, "null"},
    {"s_noise", SRV_FLOAT, NONE, F_BOTH, "null"},
    {"override_settings", SRV_DICT, NONE, F_BOTH, "{}"},
    {"override_settings_restore_afterwards", SRV_BOOL, AT(restore_settings), F_BOTH, NULL},
    {"refiner_checkpoint", SRV_STR, AT(refiner_checkpoint), F_BOTH, NULL},
    {"refiner_switch_at", SRV_FLOAT, NONE, F_BOTH, "null"},
    {"disable_extra_networks", SRV_BOOL, NONE, F_BOTH, "false"},
    {"firstpass_image", SRV_STR, NONE, F_BOTH, "null"},
    {"comments", SRV_DICT, NONE, F_BOTH, "null"},
    {"force_task_id", SRV_STR, NONE, F_BOTH, "null"},
    {"infotext", SRV_STR, NONE, F_BOTH, "null"},
    {"script_name", SRV_STR, AT(script_name), F_BOTH, NULL},
    {"script_args", SRV_ANY, NONE, F_BOTH, "[]"},
    {"alwayson_scripts", SRV_DICT, NONE, F_BOTH, "{}"},
    {"send_images", SRV_BOOL, AT(send_images), F_BOTH, NULL},
    {"save_images", SRV_BOOL, AT(save_images), F_BOTH, NULL},
    /* img2img */
    {"init_images", SRV_STR_LIST, NONE, F_IMG, "null"},
    {"mask", SRV_STR, AT(mask), F_IMG, NULL},
    {"image_cfg_scale", SRV_FLOAT, NONE, F_IMG, "null"},
    {"latent_mask", SRV_STR, NONE, F_IMG, "null"},
    {"include_init_images", SRV_BOOL, AT(include_init_images), F_IMG, NULL},
    /* txt2img hires fix: the rest of its fields are the table's */
    {"firstphase_width", SRV_INT, AT(firstphase_width), F_TXT, NULL},
    {"firstphase_height", SRV_INT, AT(firstphase_height), F_TXT, NULL},
    {"hr_checkpoint_name", SRV_STR, AT(hr_checkpoint_name), F_TXT, NULL},
};
#define N_FIELDS ((int)(sizeof fields / sizeof *fields))

static void req_defaults(gen_req *r)
{
    *r = (gen_req){.seed_resize_from_h = -1, .seed_resize_from_w = -1, .send_images = 1, .restore_settings = 1,
                   .sampler_index = strdup("Euler")};
    mend_gen_params_api_default(&r->p);
}

static void req_free(gen_req *r)
{
    srv_param_state_free(&r->st);
    cJSON_Delete(r->job_settings);
    cJSON_Delete(r->pasted_styles);
    r->job_settings = r->pasted_styles = NULL;
    char **strs[] = {&r->sampler_name,      &r->sampler_index,   &r->scheduler,      &r->mask,
                     &r->script_name,       &r->refiner_checkpoint, &r->styled_prompt, &r->styled_negative,
                     &r->hr_checkpoint_name};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
}

/* The request's `styles`, else those its infotext pasted (NULL: none). */
static const cJSON *request_styles(const cJSON *body, const gen_req *q)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "styles");
    return v && !cJSON_IsNull(v) ? v : q->pasted_styles;
}

void srv_generate_schema(cJSON *props, int img2img)
{
    gen_req d;
    req_defaults(&d);
    for (int i = 0; i < N_FIELDS; i++) {
        const field *f = &fields[i];
        if (!(f->commands & (img2img ? F_IMG : F_TXT)))
            continue;
        const char *slot = f->at == NONE ? NULL : (const char *)&d + f->at;
        cJSON *dflt = !slot                   ? cJSON_Parse(f->absent)
                      : f->type == SRV_INT    ? cJSON_CreateNumber(*(const int *)slot)
                      : f->type == SRV_BOOL   ? cJSON_CreateBool(*(const int *)slot)
                      : *(char *const *)slot ? cJSON_CreateString(*(char *const *)slot)
                                              : cJSON_CreateNull();
        cJSON_AddItemToObject(props, f->name, srv_schema_property(f->type, f->name, dflt));
    }
    req_free(&d);
}

/* Coerces every known field (the table's into r->p); unknown keys are
 * ignored as pydantic does. Returns the FastAPI error list (NULL when all
 * fields are valid). */
static cJSON *read_fields(const cJSON *body, int command, gen_req *r)
{
    cJSON *errors = cJSON_CreateArray();
    for (int i = 0; i < N_FIELDS; i++) {
        const field *f = &fields[i];
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, f->name);
        if (!(f->commands & command) || !v || cJSON_IsNull(v))
            continue; /* null = the default, as the spec recommends */
        char *slot = f->at == NONE ? NULL : (char *)r + f->at;
        union {
            int i;
            int64_t l;
            float f;
            char *s;
        } tmp;
        int is_str = f->type == SRV_STR;
        if (!srv_coerce(v, f->type, f->name, slot && !is_str ? slot : (void *)&tmp, errors))
            continue;
        if (is_str && slot) { /* replaces the default string */
            free(*(char **)slot);
            *(char **)slot = tmp.s;
        } else if (is_str) {
            free(tmp.s);
        }
    }
    srv_params_read(body, command == F_IMG, &r->p, &r->st, errors);
    if (cJSON_GetArraySize(errors) == 0) {
        cJSON_Delete(errors);
        return NULL;
    }
    return errors;
}

/* The request model as a dict with every field (A1111's `parameters`). */
static cJSON *echo_parameters(const cJSON *body, int command, const gen_req *r)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < N_FIELDS; i++) {
        const field *f = &fields[i];
        if (!(f->commands & command))
            continue;
        const cJSON *sent = cJSON_GetObjectItemCaseSensitive(body, f->name);
        const char *slot = f->at == NONE ? NULL : (const char *)r + f->at;
        cJSON *v = NULL;
        if (!strcmp(f->name, "init_images") || !strcmp(f->name, "mask")) {
            v = r->include_init_images && sent ? cJSON_Duplicate(sent, 1) : cJSON_CreateNull();
        } else if (!slot) {
            /* the infotext's styles are the request's (A1111's apply_infotext sets the field) */
            const cJSON *given = !strcmp(f->name, "styles") ? request_styles(body, r) : sent;
            v = given ? cJSON_Duplicate(given, 1) : cJSON_Parse(f->absent);
        } else {
            switch (f->type) {
            case SRV_INT:
                v = cJSON_CreateNumber(*(const int *)slot);
                break;
            case SRV_INT64:
                v = cJSON_CreateNumber((double)*(const int64_t *)slot);
                break;
            case SRV_FLOAT:
                v = srv_float_json(*(const float *)slot);
                break;
            case SRV_BOOL:
                v = cJSON_CreateBool(*(const int *)slot);
                break;
            default: {
                const char *s = *(char *const *)slot;
                v = s ? cJSON_CreateString(s) : cJSON_CreateNull();
            }
            }
        }
        cJSON_AddItemToObject(o, f->name, v ? v : cJSON_CreateNull());
    }
    srv_params_echo(o, command == F_IMG, &r->p, &r->st);
    return o;
}

/* ---------------- sampler and scheduler names ---------------- */

/* A1111's get_sampler_and_scheduler ("DPM++ 2M Karras" = sampler + schedule
 * suffix) from the library's registry. An unknown sampler is A1111's first
 * one (DPM++ 2M), an unknown schedule type Automatic, as A1111 falls back;
 * the server log says so (A1111 says nothing). */
static void resolve_sampler(gen_req *q)
{
    const char *name = q->sampler_name && q->sampler_name[0] ? q->sampler_name
                       : q->sampler_index && q->sampler_index[0] ? q->sampler_index : "Euler";
    const char *sampler, *scheduler;
    mend_err err = {0};
    if (mend_sampler_resolve(name, NULL, &sampler, &scheduler, &err) != MEND_OK) {
        fprintf(stderr, "mend serve: sampler '%s' not found: DPM++ 2M, A1111's fallback\n", name);
        name = "DPM++ 2M";
    }
    if (mend_sampler_resolve(name, q->scheduler, &sampler, &scheduler, &err) != MEND_OK) {
        fprintf(stderr, "mend serve: schedule type '%s' not found: Automatic, A1111's fallback\n", q->scheduler);
        mend_sampler_resolve(name, NULL, &sampler, &scheduler, &err);
    }
    q->p.sampler_name = sampler;
    q->p.scheduler = scheduler;
}

/* ---------------- options and override_settings ---------------- */

static int check_override_keys(srv_server *s, const cJSON *ov, srv_response *resp)
{
    int ok = 1;
    pthread_mutex_lock(&s->lock);
    for (const cJSON *v = ov->child; v && ok; v = v->next)
        if (!cJSON_GetObjectItemCaseSensitive(s->options, v->string)) {
            srv_reply_error(resp, 400, "KeyError", "override_settings: unknown option '%s' (see /sdapi/v1/options)",
                            v->string);
            ok = 0;
        }
    pthread_mutex_unlock(&s->lock);
    return ok;
}

/* ---------------- request -> params ---------------- */

/* A1111's "SD upscale" script_args [info, overlap, upscaler (index or name), scale_factor], with its UI's
 * defaults for those left out (64, "None", 2.0). 0 after a 422 naming script_args. */
static int read_sd_upscale(const cJSON *body, mend_sd_upscale *o, srv_response *resp)
{
    *o = (mend_sd_upscale){64, "None", 2.0};
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(body, "script_args");
    const cJSON *ov = cJSON_GetArrayItem(a, 1), *up = cJSON_GetArrayItem(a, 2), *sc = cJSON_GetArrayItem(a, 3);
    const char *bad = ov && !(cJSON_IsNumber(ov) && ov->valuedouble >= 0 && ov->valuedouble <= 2048) ? "overlap"
                      : sc && !(cJSON_IsNumber(sc) && sc->valuedouble > 0 && sc->valuedouble <= 16) ? "scale_factor"
                      : up && !cJSON_IsString(up) && !cJSON_IsNumber(up)                            ? "upscaler"
                                                                                                    : NULL;
    if (!bad && up) {
        int k = cJSON_IsString(up) ? mend_upscaler_find(up->valuestring) : (int)up->valuedouble;
        if (k < 0 || k >= mend_upscalers_count() || (cJSON_IsNumber(up) && up->valuedouble != k))
            bad = "upscaler";
        else
            o->upscaler = mend_upscaler_name(k);
    }
    if (bad) {
        srv_reply_error(resp, 422, "HTTPException",
                        "script_args of SD upscale: bad %s ([info, overlap 0..2048, upscaler name or index of "
                        "/sdapi/v1/upscalers, scale_factor 0..16])",
                        bad);
        return 0;
    }
    o->overlap = ov ? (int)ov->valuedouble : o->overlap;
    o->scale = sc ? sc->valuedouble : o->scale;
    return 1;
}

/* Features mend does not have: a clear 4xx instead of a silent fallback. script_name: A1111 looks
 * titles up case-insensitively; mend's one script is img2img's SD upscale. */
static int refuse_unsupported(const cJSON *body, gen_req *q, int img2img, srv_response *resp)
{
    if (q->script_name && q->script_name[0]) {
        if (!img2img || strcasecmp(q->script_name, "SD upscale") != 0) {
            srv_reply_error(resp, 422, "HTTPException", "Script '%s' not found", q->script_name);
            return 0;
        }
        q->sd_upscale = 1;
        if (!read_sd_upscale(body, &q->upscale, resp))
            return 0;
    }
    const cJSON *aos = cJSON_GetObjectItemCaseSensitive(body, "alwayson_scripts");
    if (cJSON_IsObject(aos) && aos->child) {
        srv_reply_error(resp, 422, "HTTPException", "always on script %s not found", aos->child->string);
        return 0;
    }
    const char *hr_ckpt = q->p.enable_hr ? q->hr_checkpoint_name : NULL;
    const char *what = q->restore_faces                                    ? "restore_faces"
                       : q->refiner_checkpoint && q->refiner_checkpoint[0] ? "refiner_checkpoint"
                       : hr_ckpt && hr_ckpt[0] && strcmp(hr_ckpt, "Use same checkpoint")
                           ? "hr_checkpoint_name (another checkpoint for the hires pass)"
                           : NULL;
    if (what) {
        srv_reply_error(resp, 422, "HTTPException", "%s is not supported by mend", what);
        return 0;
    }
    return 1;
}

/* ---------------- response ---------------- */

static cJSON *repeat_string(const char *s, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(s));
    return a;
}

static char *build_info(srv_server *s, const srv_job *j, const gen_req *q, const cJSON *body)
{
    const mend_gen_params *p = &j->params;
    const mend_gen_output *o = &j->out;
    cJSON *info = cJSON_CreateObject();
    /* A1111's Processed: prompt as sent, all_prompts with the styles applied */
    cJSON_AddStringToObject(info, "prompt", q->sent_prompt ? q->sent_prompt : p->prompt);
    cJSON_AddItemToObject(info, "all_prompts", repeat_string(p->prompt, o->count));
    cJSON_AddStringToObject(info, "negative_prompt", q->sent_negative ? q->sent_negative : p->negative_prompt);
    cJSON_AddItemToObject(info, "all_negative_prompts", repeat_string(p->negative_prompt, o->count));
    cJSON *seeds = cJSON_CreateArray(), *subseeds = cJSON_CreateArray(), *texts = cJSON_CreateArray();
    for (int i = 0; i < o->count; i++) {
        cJSON_AddItemToArray(seeds, cJSON_CreateNumber((double)o->seeds[i]));
        cJSON_AddItemToArray(subseeds, cJSON_CreateNumber((double)o->subseeds[i]));
        cJSON_AddItemToArray(texts, cJSON_CreateString(o->infotexts[i]));
    }
    cJSON_AddNumberToObject(info, "seed", o->count ? (double)o->seeds[0] : (double)p->seed);
    cJSON_AddItemToObject(info, "all_seeds", seeds);
    cJSON_AddNumberToObject(info, "subseed", o->count ? (double)o->subseeds[0] : (double)p->subseed);
    cJSON_AddItemToObject(info, "all_subseeds", subseeds);
    cJSON_AddItemToObject(info, "subseed_strength", srv_float_json(p->subseed_strength));
    cJSON_AddNumberToObject(info, "width", p->width);
    cJSON_AddNumberToObject(info, "height", p->height);
    cJSON_AddStringToObject(info, "sampler_name", p->sampler_name);
    cJSON_AddItemToObject(info, "cfg_scale", srv_float_json(p->cfg_scale));
    cJSON_AddNumberToObject(info, "steps", p->steps);
    /* several init images are the batch (A1111's init() sets batch_size to their count) */
    int more = j->inputs.n_more_init_images;
    cJSON_AddNumberToObject(info, "batch_size", more ? more + 1 : p->batch_size);
    cJSON_AddFalseToObject(info, "restore_faces");
    cJSON_AddNullToObject(info, "face_restoration_model");
    char *name = j->model_title ? mend_model_name(j->model_title) : NULL;
    cJSON_AddItemToObject(info, "sd_model_name", name ? cJSON_CreateString(name) : cJSON_CreateNull());
    free(name);
    cJSON_AddNullToObject(info, "sd_model_hash");
    cJSON_AddNullToObject(info, "sd_vae_name");
    cJSON_AddNullToObject(info, "sd_vae_hash");
    cJSON_AddNumberToObject(info, "seed_resize_from_w", q->seed_resize_from_w);
    cJSON_AddNumberToObject(info, "seed_resize_from_h", q->seed_resize_from_h);
    cJSON_AddItemToObject(info, "denoising_strength", srv_float_json(p->denoising_strength));
    cJSON *extra = cJSON_AddObjectToObject(info, "extra_generation_params");
    if (o->comment)
        cJSON_AddStringToObject(extra, "Comment", o->comment);
    cJSON_AddNumberToObject(info, "index_of_first_image", 0);
    cJSON_AddItemToObject(info, "infotexts", texts);
    const cJSON *styles = request_styles(body, q);
    cJSON_AddItemToObject(info, "styles", cJSON_IsArray(styles) ? cJSON_Duplicate(styles, 1) : cJSON_CreateArray());
    pthread_mutex_lock(&s->lock);
    cJSON_AddStringToObject(info, "job_timestamp", s->prog.job_timestamp);
    pthread_mutex_unlock(&s->lock);
    cJSON_AddNumberToObject(info, "clip_skip", p->clip_skip);
    cJSON_AddBoolToObject(info, "is_using_inpainting_conditioning", j->inpainting_model && j->inputs.init_image);
    cJSON_AddStringToObject(info, "version", "mend " MEND_VERSION);
    cJSON_AddBoolToObject(info, "interrupted", o->interrupted);
    /* A1111's Processed.comments (its UI shows them): the LoRA warnings */
    cJSON_AddStringToObject(info, "comments", o->warnings ? o->warnings : "");
    char *text = cJSON_PrintUnformatted(info);
    cJSON_Delete(info);
    return text;
}

/* save_images=true: every image into the outputs folder (atomically: a
 * temp file renamed). A failed write (disk full, permissions) is the
 * request's failure: a 500 naming the file, never a 200. */
static mend_status save_images(srv_server *s, const srv_job *j, mend_image_format format, mend_err *err)
{
    for (int i = 0; i < j->out.count; i++) {
        char *path = NULL;
        mend_status st = mend_output_path(s->outputs, j->name, j->out.seeds[i], &path, err);
        if (st == MEND_OK)
            st = srv_path_for_format(&path, format, err);
        if (st == MEND_OK)
            st = mend_image_save(path, &j->out.images[i], format, j->out.infotexts[i], err);
        free(path);
        if (st != MEND_OK) {
            fprintf(stderr, "mend serve: cannot save an image: %s\n", err->msg);
            return st;
        }
    }
    return MEND_OK;
}

static void reply_result(srv_server *s, const srv_job *j, const gen_req *q, const cJSON *body, int command,
                         srv_response *resp)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *images = cJSON_AddArrayToObject(o, "images");
    /* A1111 encodes API images in it too */
    mend_image_format format = srv_samples_format(s, cJSON_GetObjectItemCaseSensitive(body, "override_settings"));
    for (int i = 0; q->send_images && i < j->out.count; i++) {
        char *b64 = srv_image_b64(&j->out.images[i], j->out.infotexts[i], format);
        if (!b64) {
            cJSON_Delete(o);
            srv_reply_error(resp, 500, "MemoryError", "cannot encode image %d", i);
            return;
        }
        cJSON *str = cJSON_CreateString(b64);
        free(b64);
        cJSON_AddItemToArray(images, str);
    }
    cJSON_AddItemToObject(o, "parameters", echo_parameters(body, command, q));
    char *info = build_info(s, j, q, body);
    if (j->out.log) /* LoRA layers left unchanged: key and shapes */
        fprintf(stderr, "mend serve: %s", j->out.log);
    cJSON_AddStringToObject(o, "info", info ? info : "{}");
    free(info);
    srv_reply_json(resp, 200, o);
}

/* override_settings.sd_model_checkpoint must name a checkpoint: the worker
 * loads it for the job (overrides.c). A1111 drops an unknown name silently
 * and runs with the current model; mend says so instead. */
static int check_override_model(srv_server *s, const cJSON *ov, srv_response *resp)
{
    const cJSON *ck = cJSON_GetObjectItemCaseSensitive(ov, "sd_model_checkpoint");
    if (!ck || cJSON_IsNull(ck))
        return 1;
    if (!cJSON_IsString(ck)) {
        srv_reply_error(resp, 400, "HTTPException", "override_settings: sd_model_checkpoint must be a string");
        return 0;
    }
    mend_err err = {0};
    const srv_checkpoint *c;
    pthread_mutex_lock(&s->lock);
    mend_status st = srv_models_find(&s->models, ck->valuestring, &c, &err);
    pthread_mutex_unlock(&s->lock);
    if (st != MEND_OK)
        srv_reply_error(resp, st == MEND_E_ARG ? 400 : 404, "RuntimeError", "override_settings: %s", err.msg);
    return st == MEND_OK;
}

/* A failed job's HTTP status, from its mend_status: a bad input is the
 * client's (400), a missing model or a server going down is 503. */
static int job_http_status(mend_status code)
{
    switch (code) {
    case MEND_E_ARG:
        return 400;
    case MEND_E_IO:
        return 503;
    case MEND_E_LIMIT:
        return 413;
    default:
        return 500;
    }
}

/* A1111's setup_prompts: the styles merged into both prompts (what the
 * job and its infotext get); info keeps the prompts as sent. */
static int apply_styles(const srv_server *s, const cJSON *body, gen_req *q, srv_response *resp)
{
    mend_err err = {0};
    if (srv_apply_styles(s, request_styles(body, q), q->p.prompt, q->p.negative_prompt,
                         &q->styled_prompt, &q->styled_negative, &err) != MEND_OK) {
        if (err.code != MEND_E_ARG) { /* the server's styles file, not the request */
            srv_reply_error(resp, 500, "RuntimeError", "%s", err.msg);
            return 0;
        }
        cJSON *errors = cJSON_CreateArray();
        srv_add_field_error(errors, "styles", err.msg, "value_error");
        srv_reply_validation(resp, errors);
        return 0;
    }
    if (q->styled_prompt) {
        q->sent_prompt = q->p.prompt;
        q->sent_negative = q->p.negative_prompt;
        q->p.prompt = q->styled_prompt;
        q->p.negative_prompt = q->styled_negative;
    }
    return 1;
}

/* Settings first (the server's options, then override_settings), then the
 * request's fields, which win over both. 0 after filling resp. */
static int read_request(srv_server *s, int img2img, const cJSON *body, gen_req *q, srv_response *resp)
{
    pthread_mutex_lock(&s->lock);
    cJSON *opts = cJSON_Duplicate(s->options, 1);
    pthread_mutex_unlock(&s->lock);
    int ok = opts && srv_params_apply_settings(opts, "options", &q->p, &q->st, resp);
    cJSON_Delete(opts);
    if (!ok)
        return 0;
    const cJSON *ov = cJSON_GetObjectItemCaseSensitive(body, "override_settings");
    if (cJSON_IsObject(ov) &&
        (!check_override_keys(s, ov, resp) || !srv_params_apply_settings(ov, "override_settings", &q->p, &q->st, resp)))
        return 0;
    srv_infotext_names it;
    if (!srv_apply_infotext(s, body, img2img, &q->p, &q->st, &it, resp))
        return 0;
    cJSON *errors = read_fields(body, img2img ? F_IMG : F_TXT, q);
    if (!errors && !q->sampler_name && it.sampler) /* the infotext's, unless the request names one */
        q->sampler_name = strdup(it.sampler);
    if (!errors && !q->scheduler && it.scheduler)
        q->scheduler = strdup(it.scheduler);
    if (it.settings) { /* A1111 adds them to the request's override_settings */
        q->job_settings = cJSON_IsObject(ov) ? cJSON_Duplicate(ov, 1) : cJSON_CreateObject();
        for (cJSON *v = it.settings->child; v && q->job_settings; v = v->next)
            cJSON_AddItemToObject(q->job_settings, v->string, cJSON_Duplicate(v, 1));
        cJSON_Delete(it.settings);
    }
    q->pasted_styles = it.styles;
    if (errors) {
        srv_reply_validation(resp, errors);
        return 0;
    }
    if (!refuse_unsupported(body, q, img2img, resp))
        return 0;
    if (!img2img && (q->firstphase_width || q->firstphase_height)) {
        /* A1111's __post_init__: the first pass at the firstphase size (the target is then hr_scale's) */
        q->p.width = q->firstphase_width;
        q->p.height = q->firstphase_height;
    }
    if (q->st.bad) {
        srv_reply_param_error(resp, q->st.bad, q->st.bad_err.msg);
        return 0;
    }
    resolve_sampler(q);
    mend_err err = {0};
    const mend_param_desc *bad = NULL;
    if (mend_params_validate(&q->p, img2img, &bad, &err) != MEND_OK) {
        srv_reply_param_error(resp, bad, err.msg);
        return 0;
    }
    return apply_styles(s, body, q, resp);
}

static void run_request(srv_server *s, int img2img, const cJSON *body, gen_req *q, srv_response *resp)
{
    if (!read_request(s, img2img, body, q, resp))
        return;
    const cJSON *ov = cJSON_GetObjectItemCaseSensitive(body, "override_settings");
    srv_gen_images g = {0};
    srv_job j = {.kind = SRV_JOB_GENERATE, .name = img2img ? "img2img" : "txt2img", .params = q->p,
                 .task_id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "force_task_id")),
                 .override_settings = q->job_settings ? q->job_settings : cJSON_IsObject(ov) ? ov : NULL,
                 .restore_settings = q->restore_settings, .sd_upscale = q->sd_upscale, .upscale = q->upscale};
    if ((!img2img || srv_decode_gen_images(body, q->p.batch_size, q->mask, &g, &j.inputs, resp)) &&
        (!cJSON_IsObject(ov) || (check_override_model(s, ov, resp) &&
                                 srv_check_vae_value(s, cJSON_GetObjectItemCaseSensitive(ov, "sd_vae"),
                                                     "override_settings", resp)))) {
        srv_run_job(s, &j);
        mend_err save_err = {0};
        if (j.status == MEND_OK && q->save_images && s->outputs && save_images(s, &j, srv_samples_format(s, ov), &save_err) != MEND_OK) {
            srv_reply_error(resp, 500, "RuntimeError", "saving the images failed: %s", save_err.msg);
        } else if (j.status == MEND_OK) {
            reply_result(s, &j, q, body, img2img ? F_IMG : F_TXT, resp);
        } else {
            int status = job_http_status(j.err.code);
            srv_reply_error(resp, status, status == 500 ? "RuntimeError" : "HTTPException", "%s", j.err.msg);
        }
    }
    mend_gen_output_free(&j.out);
    free(j.model_title);
    srv_gen_images_free(&g);
}

void h_generate(srv_server *s, int img2img, const char *body, size_t len, srv_response *resp)
{
    cJSON *json = srv_parse_body(body, len, 1, resp);
    if (!json)
        return;
    gen_req q;
    req_defaults(&q);
    run_request(s, img2img, json, &q, resp);
    req_free(&q);
    cJSON_Delete(json);
}
