/* POST /sdapi/v1/txt2img and /sdapi/v1/img2img: request fields with A1111's
 * API defaults and pydantic-v1 coercion (spec/a1111-api.md §1-2), one job
 * on the worker, and A1111's response: images (base64 PNG with the
 * infotext chunk), parameters (the request with defaults) and info (a JSON
 * string). */
#include "server/server.h"

#include "cli/generate.h"
#include "sampling/sampler.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { F_BOTH = 3, F_TXT = 1, F_IMG = 2 };

typedef struct gen_req {
    mend_gen_params p;
    int64_t seed, subseed;
    int width, height, steps, batch_size, n_iter, seed_resize_from_h, seed_resize_from_w;
    float cfg_scale, subseed_strength, denoising_strength, initial_noise_multiplier;
    int mask_blur, mask_blur_x, mask_blur_y, mask_round, inpainting_fill, inpaint_full_res, inpaint_full_res_padding,
        inpainting_mask_invert, resize_mode;
    int include_init_images, send_images, save_images, restore_faces, tiling, enable_hr;
    char *prompt, *negative_prompt, *sampler_name, *sampler_index, *scheduler, *mask, *script_name,
        *refiner_checkpoint;
    /* null = not given (then the default or the option applies) */
    int has_mask_blur, has_initial_noise_multiplier;
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

static const field fields[] = {
    {"prompt", SRV_STR, AT(prompt), F_BOTH, NULL},
    {"negative_prompt", SRV_STR, AT(negative_prompt), F_BOTH, NULL},
    {"styles", SRV_STR_LIST, NONE, F_BOTH, "null"},
    {"seed", SRV_INT64, AT(seed), F_BOTH, NULL},
    {"subseed", SRV_INT64, AT(subseed), F_BOTH, NULL},
    {"subseed_strength", SRV_FLOAT, AT(subseed_strength), F_BOTH, NULL},
    {"seed_resize_from_h", SRV_INT, AT(seed_resize_from_h), F_BOTH, NULL},
    {"seed_resize_from_w", SRV_INT, AT(seed_resize_from_w), F_BOTH, NULL},
    {"sampler_name", SRV_STR, AT(sampler_name), F_BOTH, NULL},
    {"sampler_index", SRV_STR, AT(sampler_index), F_BOTH, NULL},
    {"scheduler", SRV_STR, AT(scheduler), F_BOTH, NULL},
    {"batch_size", SRV_INT, AT(batch_size), F_BOTH, NULL},
    {"n_iter", SRV_INT, AT(n_iter), F_BOTH, NULL},
    {"steps", SRV_INT, AT(steps), F_BOTH, NULL},
    {"cfg_scale", SRV_FLOAT, AT(cfg_scale), F_BOTH, NULL},
    {"width", SRV_INT, AT(width), F_BOTH, NULL},
    {"height", SRV_INT, AT(height), F_BOTH, NULL},
    {"restore_faces", SRV_BOOL, AT(restore_faces), F_BOTH, NULL},
    {"tiling", SRV_BOOL, AT(tiling), F_BOTH, NULL},
    {"do_not_save_samples", SRV_BOOL, NONE, F_BOTH, "false"},
    {"do_not_save_grid", SRV_BOOL, NONE, F_BOTH, "false"},
    {"eta", SRV_FLOAT, NONE, F_BOTH, "null"},
    {"s_min_uncond", SRV_FLOAT, NONE, F_BOTH, "null"},
    {"s_churn", SRV_FLOAT, NONE, F_BOTH, "null"},
    {"s_tmax", SRV_FLOAT, NONE, F_BOTH, "null"},
    {"s_tmin", SRV_FLOAT, NONE, F_BOTH, "null"},
    {"s_noise", SRV_FLOAT, NONE, F_BOTH, "null"},
    {"override_settings", SRV_DICT, NONE, F_BOTH, "{}"},
    {"override_settings_restore_afterwards", SRV_BOOL, NONE, F_BOTH, "true"},
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
    {"mask_blur", SRV_INT, AT(mask_blur), F_IMG, NULL},
    {"mask_blur_x", SRV_INT, AT(mask_blur_x), F_IMG, NULL},
    {"mask_blur_y", SRV_INT, AT(mask_blur_y), F_IMG, NULL},
    {"mask_round", SRV_BOOL, AT(mask_round), F_IMG, NULL},
    {"inpainting_fill", SRV_INT, AT(inpainting_fill), F_IMG, NULL},
    {"inpaint_full_res", SRV_BOOL, AT(inpaint_full_res), F_IMG, NULL},
    {"inpaint_full_res_padding", SRV_INT, AT(inpaint_full_res_padding), F_IMG, NULL},
    {"inpainting_mask_invert", SRV_INT, AT(inpainting_mask_invert), F_IMG, NULL},
    {"initial_noise_multiplier", SRV_FLOAT, AT(initial_noise_multiplier), F_IMG, NULL},
    {"denoising_strength", SRV_FLOAT, AT(denoising_strength), F_BOTH, NULL},
    {"resize_mode", SRV_INT, AT(resize_mode), F_IMG, NULL},
    {"image_cfg_scale", SRV_FLOAT, NONE, F_IMG, "null"},
    {"latent_mask", SRV_STR, NONE, F_IMG, "null"},
    {"include_init_images", SRV_BOOL, AT(include_init_images), F_IMG, NULL},
    /* txt2img hires fix (not supported: enable_hr must stay false) */
    {"enable_hr", SRV_BOOL, AT(enable_hr), F_TXT, NULL},
    {"firstphase_width", SRV_INT, NONE, F_TXT, "0"},
    {"firstphase_height", SRV_INT, NONE, F_TXT, "0"},
    {"hr_scale", SRV_FLOAT, NONE, F_TXT, "2.0"},
    {"hr_upscaler", SRV_STR, NONE, F_TXT, "null"},
    {"hr_second_pass_steps", SRV_INT, NONE, F_TXT, "0"},
    {"hr_resize_x", SRV_INT, NONE, F_TXT, "0"},
    {"hr_resize_y", SRV_INT, NONE, F_TXT, "0"},
    {"hr_checkpoint_name", SRV_STR, NONE, F_TXT, "null"},
    {"hr_sampler_name", SRV_STR, NONE, F_TXT, "null"},
    {"hr_scheduler", SRV_STR, NONE, F_TXT, "null"},
    {"hr_prompt", SRV_STR, NONE, F_TXT, "\"\""},
    {"hr_negative_prompt", SRV_STR, NONE, F_TXT, "\"\""},
};
#define N_FIELDS ((int)(sizeof fields / sizeof *fields))

static void req_defaults(gen_req *r)
{
    mend_gen_params d;
    mend_gen_params_api_default(&d);
    *r = (gen_req){
        .seed = -1, .subseed = -1, .width = d.width, .height = d.height, .steps = d.steps,
        .batch_size = d.batch_size, .n_iter = d.n_iter, .seed_resize_from_h = -1, .seed_resize_from_w = -1,
        .cfg_scale = d.cfg_scale, .subseed_strength = 0, .denoising_strength = d.denoising_strength,
        .initial_noise_multiplier = 1.0f, .mask_blur_x = d.mask_blur_x, .mask_blur_y = d.mask_blur_y,
        .mask_round = d.mask_round, .inpainting_fill = d.inpainting_fill, .inpaint_full_res = d.inpaint_full_res,
        .inpaint_full_res_padding = d.inpaint_full_res_padding, .inpainting_mask_invert = 0, .resize_mode = 0,
        .send_images = 1, .sampler_index = strdup("Euler"),
    };
}

static void req_free(gen_req *r)
{
    char **strs[] = {&r->prompt, &r->negative_prompt, &r->sampler_name, &r->sampler_index, &r->scheduler,
                     &r->mask, &r->script_name, &r->refiner_checkpoint};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
}

/* Coerces every known field; unknown keys are ignored as pydantic does.
 * Returns the FastAPI error list (NULL when all fields are valid). */
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
        if (!strcmp(f->name, "mask_blur"))
            r->has_mask_blur = 1;
        if (!strcmp(f->name, "initial_noise_multiplier"))
            r->has_initial_noise_multiplier = 1;
    }
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
        } else if (!strcmp(f->name, "mask_blur")) {
            v = r->has_mask_blur ? cJSON_CreateNumber(r->mask_blur) : cJSON_CreateNull();
        } else if (!slot) {
            v = sent ? cJSON_Duplicate(sent, 1) : cJSON_Parse(f->absent);
        } else {
            switch (f->type) {
            case SRV_INT:
                v = cJSON_CreateNumber(*(const int *)slot);
                break;
            case SRV_INT64:
                v = cJSON_CreateNumber((double)*(const int64_t *)slot);
                break;
            case SRV_FLOAT:
                v = cJSON_CreateNumber(*(const float *)slot);
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
    return o;
}

/* ---------------- sampler and scheduler names ---------------- */

static int ends_with_word(const char *s, const char *word, size_t *cut)
{
    size_t n = strlen(s), k = strlen(word);
    if (n > k + 1 && s[n - k - 1] == ' ' && !strcmp(s + n - k, word)) {
        *cut = n - k - 1;
        return 1;
    }
    return 0;
}

static const mend_sampler_info *find_sampler(const char *name)
{
    int n;
    const mend_sampler_info *list = mend_sampler_list(&n);
    for (int i = 0; i < n; i++)
        if (!strcmp(list[i].name, name) || (list[i].alias && !strcmp(list[i].alias, name)))
            return &list[i];
    return NULL;
}

/* A1111's get_sampler_and_scheduler: "DPM++ 2M Karras" = sampler + scheduler
 * suffix. Unknown names are a 400 listing the valid ones (A1111 falls back
 * silently). */
static int resolve_sampler(gen_req *q, srv_response *resp)
{
    const char *name = q->sampler_name && q->sampler_name[0] ? q->sampler_name
                       : q->sampler_index && q->sampler_index[0] ? q->sampler_index : "Euler";
    const mend_sampler_info *si = find_sampler(name);
    mend_scheduler sch = MEND_SCHED_AUTOMATIC;
    mend_err err = {0};
    if (!si) {
        for (int k = 1; k < MEND_SCHED_COUNT && !si; k++) {
            size_t cut;
            if (ends_with_word(name, mend_scheduler_label(k), &cut) ||
                ends_with_word(name, mend_scheduler_name(k), &cut)) {
                char base[128];
                snprintf(base, sizeof base, "%.*s", (int)cut, name);
                if ((si = find_sampler(base)))
                    sch = (mend_scheduler)k;
            }
        }
    }
    if (!si) {
        mend_sampler_from_name(name, &si, &err);
        srv_reply_error(resp, 400, "HTTPException", "Sampler not found: %s", err.msg);
        return 0;
    }
    if (q->scheduler && q->scheduler[0]) {
        if (mend_scheduler_from_name(q->scheduler, &sch, &err) != MEND_OK) {
            srv_reply_error(resp, 400, "HTTPException", "Scheduler not found: %s", err.msg);
            return 0;
        }
    }
    q->p.sampler_name = si->name;
    q->p.scheduler = mend_scheduler_label(sch);
    return 1;
}

/* ---------------- options and override_settings ---------------- */

static int rng_from_name(const char *s, mend_rng_source *out)
{
    static const char *const names[] = {"GPU", "NV", "CPU"};
    for (int i = 0; i < 3; i++)
        if (s && !strcmp(s, names[i])) {
            *out = (mend_rng_source)i;
            return 1;
        }
    return 0;
}

/* Generation settings from a settings object (the server's options, then
 * the request's override_settings). Returns 0 after filling resp. */
static int apply_settings(const cJSON *o, gen_req *q, srv_response *resp)
{
    mend_gen_params *p = &q->p;
    for (const cJSON *v = o->child; v; v = v->next) {
        const char *k = v->string;
        int ok = 1;
        if (!strcmp(k, "CLIP_stop_at_last_layers"))
            ok = srv_coerce(v, SRV_INT, k, &p->clip_skip, NULL);
        else if (!strcmp(k, "eta_noise_seed_delta"))
            ok = srv_coerce(v, SRV_INT, k, &p->eta_noise_seed_delta, NULL);
        else if (!strcmp(k, "inpainting_mask_weight"))
            ok = srv_coerce(v, SRV_FLOAT, k, &p->inpainting_mask_weight, NULL);
        else if (!strcmp(k, "initial_noise_multiplier")) {
            if (!q->has_initial_noise_multiplier)
                ok = srv_coerce(v, SRV_FLOAT, k, &p->initial_noise_multiplier, NULL);
        } else if (!strcmp(k, "randn_source"))
            ok = rng_from_name(cJSON_IsString(v) ? v->valuestring : NULL, &p->rng);
        /* other options (sd_model_checkpoint: the caller) change nothing here */
        if (!ok) {
            srv_reply_error(resp, 400, "HTTPException", "override_settings: bad value for '%s'", k);
            return 0;
        }
    }
    return 1;
}

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

/* Features mend does not have: a clear 4xx instead of a silent fallback. */
static int refuse_unsupported(const cJSON *body, const gen_req *q, srv_response *resp)
{
    if (q->script_name && q->script_name[0]) {
        srv_reply_error(resp, 422, "HTTPException", "Script '%s' not found", q->script_name);
        return 0;
    }
    const cJSON *aos = cJSON_GetObjectItemCaseSensitive(body, "alwayson_scripts");
    if (cJSON_IsObject(aos) && aos->child) {
        srv_reply_error(resp, 422, "HTTPException", "always on script %s not found", aos->child->string);
        return 0;
    }
    const char *what = q->enable_hr ? "enable_hr (hires fix)" : q->restore_faces ? "restore_faces"
                       : q->tiling ? "tiling" : q->refiner_checkpoint && q->refiner_checkpoint[0] ? "refiner_checkpoint"
                       : NULL;
    if (what) {
        srv_reply_error(resp, 422, "HTTPException", "%s is not supported by mend", what);
        return 0;
    }
    return 1;
}

static void fill_params(gen_req *q)
{
    mend_gen_params *p = &q->p;
    p->prompt = q->prompt ? q->prompt : "";
    p->negative_prompt = q->negative_prompt ? q->negative_prompt : "";
    p->seed = q->seed;
    p->subseed = q->subseed;
    p->subseed_strength = q->subseed_strength;
    p->width = q->width;
    p->height = q->height;
    p->steps = q->steps;
    p->batch_size = q->batch_size;
    p->n_iter = q->n_iter;
    p->cfg_scale = q->cfg_scale;
    p->denoising_strength = q->denoising_strength;
    if (q->has_initial_noise_multiplier)
        p->initial_noise_multiplier = q->initial_noise_multiplier;
    p->mask_blur_x = q->has_mask_blur ? q->mask_blur : q->mask_blur_x;
    p->mask_blur_y = q->has_mask_blur ? q->mask_blur : q->mask_blur_y;
    p->mask_round = q->mask_round;
    p->inpainting_fill = q->inpainting_fill;
    p->inpaint_full_res = q->inpaint_full_res;
    p->inpaint_full_res_padding = q->inpaint_full_res_padding;
    p->inpainting_mask_invert = q->inpainting_mask_invert;
    p->resize_mode = q->resize_mode;
}

/* FastAPI-shaped 422 for a range error of table entry d (the library's message). */
static void reply_range_error(srv_response *resp, const mend_param_desc *d, const char *msg)
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

typedef struct gen_images {
    mend_image init, mask;
} gen_images;

static int decode_images(const cJSON *body, const gen_req *q, gen_images *g, mend_gen_inputs *in,
                         srv_response *resp)
{
    char msg[1200];
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(body, "init_images");
    int n = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : 0;
    if (n == 0) {
        srv_reply_error(resp, 404, "HTTPException", "Init image not found");
        return 0;
    }
    if (n > 1) {
        srv_reply_error(resp, 422, "HTTPException",
                        "init_images: mend takes one init image per request (got %d)", n);
        return 0;
    }
    if (!srv_decode_image(list->child->valuestring, "init_images[0]", &g->init, msg, sizeof msg)) {
        srv_reply_error(resp, 400, "HTTPException", "%s", msg);
        return 0;
    }
    in->init_image = &g->init;
    if (q->mask && q->mask[0]) {
        if (!srv_decode_image(q->mask, "mask", &g->mask, msg, sizeof msg)) {
            srv_reply_error(resp, 400, "HTTPException", "%s", msg);
            return 0;
        }
        if (g->mask.width != g->init.width || g->mask.height != g->init.height) {
            srv_reply_error(resp, 400, "HTTPException",
                            "mask is %dx%d but init_images[0] is %dx%d: they must have the same size",
                            g->mask.width, g->mask.height, g->init.width, g->init.height);
            return 0;
        }
        in->mask = &g->mask;
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

static char *build_info(srv_server *s, const srv_job *j, const gen_req *q)
{
    const mend_gen_params *p = &j->params;
    const mend_gen_output *o = &j->out;
    cJSON *info = cJSON_CreateObject();
    cJSON_AddStringToObject(info, "prompt", p->prompt);
    cJSON_AddItemToObject(info, "all_prompts", repeat_string(p->prompt, o->count));
    cJSON_AddStringToObject(info, "negative_prompt", p->negative_prompt);
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
    cJSON_AddNumberToObject(info, "subseed_strength", p->subseed_strength);
    cJSON_AddNumberToObject(info, "width", p->width);
    cJSON_AddNumberToObject(info, "height", p->height);
    cJSON_AddStringToObject(info, "sampler_name", p->sampler_name);
    cJSON_AddNumberToObject(info, "cfg_scale", p->cfg_scale);
    cJSON_AddNumberToObject(info, "steps", p->steps);
    cJSON_AddNumberToObject(info, "batch_size", p->batch_size);
    cJSON_AddFalseToObject(info, "restore_faces");
    cJSON_AddNullToObject(info, "face_restoration_model");
    char *name = j->model_title ? strdup(j->model_title) : NULL;
    if (name && strrchr(name, '.') && strrchr(name, '.') != name)
        *strrchr(name, '.') = '\0';
    cJSON_AddItemToObject(info, "sd_model_name", name ? cJSON_CreateString(name) : cJSON_CreateNull());
    free(name);
    cJSON_AddNullToObject(info, "sd_model_hash");
    cJSON_AddNullToObject(info, "sd_vae_name");
    cJSON_AddNullToObject(info, "sd_vae_hash");
    cJSON_AddNumberToObject(info, "seed_resize_from_w", q->seed_resize_from_w);
    cJSON_AddNumberToObject(info, "seed_resize_from_h", q->seed_resize_from_h);
    cJSON_AddNumberToObject(info, "denoising_strength", p->denoising_strength);
    cJSON *extra = cJSON_AddObjectToObject(info, "extra_generation_params");
    if (o->comment)
        cJSON_AddStringToObject(extra, "Comment", o->comment);
    cJSON_AddNumberToObject(info, "index_of_first_image", 0);
    cJSON_AddItemToObject(info, "infotexts", texts);
    cJSON_AddItemToObject(info, "styles", cJSON_CreateArray());
    pthread_mutex_lock(&s->lock);
    cJSON_AddStringToObject(info, "job_timestamp", s->prog.job_timestamp);
    pthread_mutex_unlock(&s->lock);
    cJSON_AddNumberToObject(info, "clip_skip", p->clip_skip);
    cJSON_AddBoolToObject(info, "is_using_inpainting_conditioning", j->inpainting_model && j->inputs.init_image);
    cJSON_AddStringToObject(info, "version", "mend " MEND_VERSION);
    cJSON_AddBoolToObject(info, "interrupted", o->interrupted);
    char *text = cJSON_PrintUnformatted(info);
    cJSON_Delete(info);
    return text;
}

static void save_images(srv_server *s, const srv_job *j)
{
    for (int i = 0; i < j->out.count; i++) {
        char *path = NULL;
        mend_err err = {0};
        mend_png_text text = {"parameters", j->out.infotexts[i]};
        if (cli_default_path(s->outputs, j->name, j->out.seeds[i], &path, &err) != MEND_OK ||
            mend_image_save_png(path, &j->out.images[i], &text, 1, &err) != MEND_OK)
            fprintf(stderr, "mend serve: cannot save an image: %s\n", err.msg);
        free(path);
    }
}

static void reply_result(srv_server *s, const srv_job *j, const gen_req *q, const cJSON *body, int command,
                         srv_response *resp)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *images = cJSON_AddArrayToObject(o, "images");
    for (int i = 0; q->send_images && i < j->out.count; i++) {
        char *b64 = srv_png_b64(&j->out.images[i], j->out.infotexts[i]);
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
    char *info = build_info(s, j, q);
    cJSON_AddStringToObject(o, "info", info ? info : "{}");
    free(info);
    srv_reply_json(resp, 200, o);
}

/* override_settings.sd_model_checkpoint switches the model for this and later jobs. */
static int override_model(srv_server *s, const cJSON *ov, srv_response *resp)
{
    const cJSON *ck = cJSON_GetObjectItemCaseSensitive(ov, "sd_model_checkpoint");
    if (!ck || cJSON_IsNull(ck))
        return 1;
    if (!cJSON_IsString(ck)) {
        srv_reply_error(resp, 400, "HTTPException", "override_settings: sd_model_checkpoint must be a string");
        return 0;
    }
    return srv_switch_model(s, ck->valuestring, resp);
}

static void run_request(srv_server *s, int img2img, const cJSON *body, gen_req *q, srv_response *resp)
{
    int command = img2img ? F_IMG : F_TXT;
    cJSON *errors = read_fields(body, command, q);
    if (errors) {
        srv_reply_validation(resp, errors);
        return;
    }
    if (!refuse_unsupported(body, q, resp))
        return;
    mend_gen_params_api_default(&q->p);
    pthread_mutex_lock(&s->lock);
    cJSON *opts = cJSON_Duplicate(s->options, 1);
    pthread_mutex_unlock(&s->lock);
    int ok = opts && apply_settings(opts, q, resp);
    cJSON_Delete(opts);
    if (!ok)
        return;
    const cJSON *ov = cJSON_GetObjectItemCaseSensitive(body, "override_settings");
    if (cJSON_IsObject(ov) && (!check_override_keys(s, ov, resp) || !apply_settings(ov, q, resp)))
        return;
    fill_params(q);
    if (!resolve_sampler(q, resp))
        return;
    mend_err err = {0};
    const mend_param_desc *bad = NULL;
    if (mend_params_validate(&q->p, img2img, &bad, &err) != MEND_OK) {
        reply_range_error(resp, bad, err.msg);
        return;
    }
    gen_images g = {0};
    srv_job j = {.kind = SRV_JOB_GENERATE, .name = img2img ? "img2img" : "txt2img", .params = q->p};
    if ((!img2img || decode_images(body, q, &g, &j.inputs, resp)) && (!cJSON_IsObject(ov) || override_model(s, ov, resp))) {
        srv_run_job(s, &j);
        if (j.status == MEND_OK) {
            if (q->save_images && s->outputs)
                save_images(s, &j);
            reply_result(s, &j, q, body, command, resp);
        } else if (j.err.code == MEND_E_ARG) {
            srv_reply_error(resp, 400, "HTTPException", "%s", j.err.msg);
        } else if (j.err.code == MEND_E_IO && !strncmp(j.err.msg, "no model is loaded", 18)) {
            srv_reply_error(resp, 503, "HTTPException", "%s", j.err.msg);
        } else {
            srv_reply_error(resp, 500, "RuntimeError", "%s", j.err.msg);
        }
    }
    mend_gen_output_free(&j.out);
    free(j.model_title);
    mend_image_free(&g.init);
    mend_image_free(&g.mask);
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
