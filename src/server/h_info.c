/* The small endpoints: progress, interrupt/skip, options, checkpoint,
 * sampler and scheduler listings, png-info (spec/a1111-api.md §3-7). */
#include "server/server.h"

#include "mend/params.h"


#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ---------------- progress ---------------- */

void h_progress(srv_server *s, int skip_image, srv_response *r)
{
    pthread_mutex_lock(&s->lock);
    srv_progress_state p = s->prog;
    mend_image preview = {0};
    mend_err err = {0};
    if (!skip_image && p.job_count != 0 && s->prog.preview.data &&
        mend_image_copy(&s->prog.preview, &preview, &err) != MEND_OK)
        mend_image_free(&preview);
    pthread_mutex_unlock(&s->lock);
    double progress = 0, eta_relative = 0;
    if (p.job_count != 0) {
        /* Api.progressapi */
        progress = 0.01;
        if (p.job_count > 0)
            progress += (double)p.job_no / p.job_count;
        if (p.sampling_steps > 0 && p.job_count > 0)
            progress += 1.0 / p.job_count * p.sampling_step / p.sampling_steps;
        double elapsed = mend_clock_s() - p.started;
        eta_relative = elapsed / progress - elapsed;
        if (progress > 1)
            progress = 1;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "progress", progress);
    cJSON_AddNumberToObject(o, "eta_relative", eta_relative);
    cJSON *st = cJSON_AddObjectToObject(o, "state");
    cJSON_AddBoolToObject(st, "skipped", p.skipped);
    cJSON_AddBoolToObject(st, "interrupted", p.interrupted);
    cJSON_AddBoolToObject(st, "stopping_generation", 0);
    cJSON_AddStringToObject(st, "job", p.job ? p.job : "");
    cJSON_AddNumberToObject(st, "job_count", p.job_count);
    cJSON_AddStringToObject(st, "job_timestamp", p.job_timestamp[0] ? p.job_timestamp : "0");
    cJSON_AddNumberToObject(st, "job_no", p.job_no);
    cJSON_AddNumberToObject(st, "sampling_step", p.sampling_step);
    cJSON_AddNumberToObject(st, "sampling_steps", p.sampling_steps);
    char *b64 = preview.data ? srv_png_b64(&preview, NULL) : NULL;
    mend_image_free(&preview);
    cJSON_AddItemToObject(o, "current_image", b64 ? cJSON_CreateString(b64) : cJSON_CreateNull());
    free(b64);
    cJSON_AddNullToObject(o, "textinfo");
    /* the running job's id: its force_task_id, or one made as A1111's create_task_id does */
    cJSON_AddItemToObject(o, "current_task",
                          p.current_task[0] ? cJSON_CreateString(p.current_task) : cJSON_CreateNull());
    srv_reply_json(r, 200, o);
}

void h_interrupt(srv_server *s, int skip, srv_response *r)
{
    pthread_mutex_lock(&s->lock);
    if (s->prog.job_count != 0) { /* idle: harmless (A1111 resets the flag when a job begins) */
        if (skip)
            s->prog.skipped = 1;
        else
            s->prog.interrupted = 1;
        mend_stop_request(&s->prog.stop, skip ? MEND_E_SKIPPED : MEND_E_INTERRUPTED);
    }
    pthread_mutex_unlock(&s->lock);
    srv_reply_json(r, 200, skip ? cJSON_CreateNull() : cJSON_CreateObject());
}

/* ---------------- options and models ---------------- */

void h_options_get(srv_server *s, srv_response *r)
{
    pthread_mutex_lock(&s->lock);
    cJSON *o = cJSON_Duplicate(s->options, 1);
    pthread_mutex_unlock(&s->lock);
    srv_reply_json(r, 200, o);
}

int srv_switch_model(srv_server *s, const char *name, srv_response *r)
{
    mend_err err = {0};
    const srv_checkpoint *c;
    pthread_mutex_lock(&s->lock);
    mend_status st = srv_models_find(&s->models, name, &c, &err);
    char *path = st == MEND_OK ? strdup(c->filename) : NULL;
    int same = path && s->model_path && !strcmp(path, s->model_path);
    if (same) /* loaded already (after an override restored the option to another one): the option names it again */
        cJSON_ReplaceItemInObjectCaseSensitive(s->options, "sd_model_checkpoint", cJSON_CreateString(c->title));
    pthread_mutex_unlock(&s->lock);
    if (st != MEND_OK) {
        srv_reply_error(r, st == MEND_E_ARG ? 400 : 404, "RuntimeError", "%s", err.msg);
        return 0;
    }
    if (!path) {
        srv_reply_error(r, 500, "MemoryError", "out of memory");
        return 0;
    }
    if (same) { /* unchanged values are not reloaded (opts.set) */
        free(path);
        return 1;
    }
    srv_job j = {.kind = SRV_JOB_LOAD_MODEL, .model_path = path};
    srv_run_job(s, &j);
    free(path);
    if (j.status != MEND_OK) {
        srv_reply_error(r, j.status == MEND_E_ARG ? 400 : 500, "RuntimeError", "%s", j.err.msg);
        return 0;
    }
    return 1;
}

/* Checks every key and value type first, so that a bad request changes nothing. */
static int check_options(srv_server *s, const cJSON *body, srv_response *r)
{
    int ok = 1;
    pthread_mutex_lock(&s->lock);
    for (const cJSON *v = body->child; v && ok; v = v->next) {
        const cJSON *cur = cJSON_GetObjectItemCaseSensitive(s->options, v->string);
        if (!cur) {
            srv_reply_error(r, 400, "KeyError", "unknown option '%s' (see GET /sdapi/v1/options)", v->string);
            ok = 0;
        } else if (!strcmp(v->string, "sd_model_checkpoint") ? !cJSON_IsString(v)
                   : cJSON_IsNull(cur)                       ? 0
                   : cJSON_IsNumber(cur)                     ? !cJSON_IsNumber(v)
                   : cJSON_IsBool(cur)                       ? !cJSON_IsBool(v)
                   : cJSON_IsString(cur)                     ? !cJSON_IsString(v)
                                                             : 0) {
            srv_reply_error(r, 400, "ValueError", "option '%s': wrong value type", v->string);
            ok = 0;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return ok;
}

void h_options_post(srv_server *s, const char *body, size_t len, srv_response *r)
{
    cJSON *json = srv_parse_body(body, len, 1, r);
    if (!json)
        return;
    if (check_options(s, json, r)) {
        int ok = 1;
        for (cJSON *v = json->child; v && ok; v = v->next) {
            if (!strcmp(v->string, "sd_model_checkpoint")) {
                ok = srv_switch_model(s, v->valuestring, r);
                continue;
            }
            if (!strcmp(v->string, "sd_vae")) { /* loaded now, as A1111's onchange reload_vae_weights */
                ok = srv_set_vae_option(s, v, r);
                continue;
            }
            if (!strcmp(v->string, "sd_checkpoint_hash"))
                continue; /* read-only */
            pthread_mutex_lock(&s->lock);
            cJSON_ReplaceItemInObjectCaseSensitive(s->options, v->string, cJSON_Duplicate(v, 1));
            pthread_mutex_unlock(&s->lock);
        }
        if (ok)
            srv_reply_json(r, 200, cJSON_CreateNull());
    }
    cJSON_Delete(json);
}

/* The loaded checkpoint is hashed once (A1111 hashes it when loading it);
 * outside the lock, so /progress answers meanwhile. */
static void hash_loaded_model(srv_server *s)
{
    pthread_mutex_lock(&s->lock);
    char *path = s->model_path ? strdup(s->model_path) : NULL;
    pthread_mutex_unlock(&s->lock);
    char hex[65];
    mend_err err = {0};
    struct stat st;
    int file = path && stat(path, &st) == 0 && S_ISREG(st.st_mode); /* diffusers folders are not hashed */
    if (file && mend_checkpoint_sha256(path, 1, hex, &err) != MEND_OK)
        fprintf(stderr, "mend serve: cannot hash %s: %s\n", path, err.msg);
    free(path);
}

void h_sd_models(srv_server *s, srv_response *r)
{
    hash_loaded_model(s);
    cJSON *a = cJSON_CreateArray();
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->models.count; i++) {
        const srv_checkpoint *c = &s->models.items[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "title", c->title);
        cJSON_AddStringToObject(o, "model_name", c->model_name);
        /* as A1111: the hashes already computed (the loaded model's, once
         * an image names it), never a hashing pass over every file */
        char hex[65];
        mend_err err = {0};
        if (mend_checkpoint_sha256(c->filename, 0, hex, &err) == MEND_OK) {
            char shorthash[11];
            snprintf(shorthash, sizeof shorthash, "%.10s", hex);
            cJSON_AddStringToObject(o, "hash", shorthash);
            cJSON_AddStringToObject(o, "sha256", hex);
        } else {
            cJSON_AddNullToObject(o, "hash");
            cJSON_AddNullToObject(o, "sha256");
        }
        cJSON_AddStringToObject(o, "filename", c->filename);
        cJSON_AddNullToObject(o, "config");
        cJSON_AddItemToArray(a, o);
    }
    pthread_mutex_unlock(&s->lock);
    srv_reply_json(r, 200, a);
}

void h_refresh_checkpoints(srv_server *s, srv_response *r)
{
    mend_err err = {0};
    pthread_mutex_lock(&s->lock);
    mend_status st = srv_models_scan(&s->models, &err);
    pthread_mutex_unlock(&s->lock);
    if (st != MEND_OK)
        srv_reply_error(r, 500, "RuntimeError", "%s", err.msg);
    else
        srv_reply_json(r, 200, cJSON_CreateNull());
}

/* ---------------- samplers and schedulers ---------------- */

/* GET /sdapi/v1/samplers and /schedulers: the library's registry in A1111's shapes. */
void h_samplers(srv_response *r)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < mend_samplers_count(); i++) {
        mend_sampler_entry e = mend_samplers_at(i);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", e.name);
        cJSON *aliases = cJSON_AddArrayToObject(o, "aliases");
        if (e.alias)
            cJSON_AddItemToArray(aliases, cJSON_CreateString(e.alias));
        cJSON *opts = cJSON_AddObjectToObject(o, "options");
        if (e.default_scheduler)
            cJSON_AddStringToObject(opts, "scheduler", e.default_scheduler);
        if (e.second_order)
            cJSON_AddStringToObject(opts, "second_order", "True");
        if (e.brownian_noise)
            cJSON_AddStringToObject(opts, "brownian_noise", "True");
        if (e.uses_ensd)
            cJSON_AddStringToObject(opts, "uses_ensd", "True");
        if (e.discard_penultimate)
            cJSON_AddStringToObject(opts, "discard_next_to_last_sigma", "True");
        cJSON_AddItemToArray(a, o);
    }
    srv_reply_json(r, 200, a);
}

void h_schedulers(srv_response *r)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < mend_schedulers_count(); i++) {
        mend_scheduler_entry e = mend_schedulers_at(i);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", e.name);
        cJSON_AddStringToObject(o, "label", e.label);
        if (e.alias) {
            cJSON *al = cJSON_AddArrayToObject(o, "aliases");
            cJSON_AddItemToArray(al, cJSON_CreateString(e.alias));
        } else {
            cJSON_AddNullToObject(o, "aliases");
        }
        cJSON_AddNumberToObject(o, "default_rho", e.default_rho);
        cJSON_AddBoolToObject(o, "need_inner_model", e.need_inner_model);
        cJSON_AddItemToArray(a, o);
    }
    srv_reply_json(r, 200, a);
}
