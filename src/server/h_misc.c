/* A1111 1.10's smaller routes for what mend has or lacks: upscaler and
 * latent mode listings, empty lists for the model kinds mend does not
 * load (hypernetworks, face restorers, RealESRGAN, VAE files, extensions),
 * the embeddings folder, scripts, cmd-flags, memory, interrogate (no interrogator),
 * checkpoint unload/reload and, with --api-server-stop, server-kill/-stop. */
#include "server/server.h"

#include "mend/upscale.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void h_upscalers(srv_server *s, const srv_call *c, srv_response *r)
{
    (void)s, (void)c;
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < mend_upscalers_count(); i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", mend_upscaler_name(i));
        cJSON_AddNullToObject(o, "model_name");
        cJSON_AddNullToObject(o, "model_path");
        cJSON_AddNullToObject(o, "model_url");
        cJSON_AddNumberToObject(o, "scale", 4); /* UpscalerData's default, as A1111 lists them */
        cJSON_AddItemToArray(a, o);
    }
    srv_reply_json(r, 200, a);
}

/* shared.latent_upscale_modes, in A1111's order */
void h_latent_upscale_modes(srv_server *s, const srv_call *c, srv_response *r)
{
    static const char *const modes[] = {"Latent", "Latent (antialiased)", "Latent (bicubic)",
                                        "Latent (bicubic antialiased)", "Latent (nearest)", "Latent (nearest-exact)"};
    (void)s, (void)c;
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", modes[i]);
        cJSON_AddItemToArray(a, o);
    }
    srv_reply_json(r, 200, a);
}

void h_empty_list(srv_server *s, const srv_call *c, srv_response *r)
{
    (void)s, (void)c;
    srv_reply_json(r, 200, cJSON_CreateArray());
}

void h_null(srv_server *s, const srv_call *c, srv_response *r)
{
    (void)s, (void)c;
    srv_reply_json(r, 200, cJSON_CreateNull());
}

static void add_string_or_null(cJSON *o, const char *key, const char *v);

/* Api.get_embeddings' convert_embedding: step and the checkpoint fields
 * as the file had them (null when absent). */
static cJSON *embedding_object(const mend_embedding_info *e)
{
    cJSON *o = cJSON_CreateObject();
    if (e->has_step)
        cJSON_AddNumberToObject(o, "step", (double)e->step);
    else
        cJSON_AddNullToObject(o, "step");
    add_string_or_null(o, "sd_checkpoint", e->sd_checkpoint);
    add_string_or_null(o, "sd_checkpoint_name", e->sd_checkpoint_name);
    cJSON_AddNumberToObject(o, "shape", e->shape);
    cJSON_AddNumberToObject(o, "vectors", e->vectors);
    return o;
}

/* The embeddings folder (--embeddings-dir) for the loaded model's text
 * encoder, rescanned first when it changed (reload: always, as
 * refresh-embeddings); files it cannot read are reported on stderr. */
static int list_embeddings(int reload, mend_embedding_info **list, int *count, srv_response *r)
{
    char *log = NULL;
    mend_err err = {0};
    if (mend_embeddings_list(reload, list, count, &log, &err) != MEND_OK) {
        srv_reply_error(r, 500, "OSError", "%s", err.msg);
        return 0;
    }
    if (log)
        fprintf(stderr, "mend serve: %s", log);
    free(log);
    return 1;
}

void h_embeddings(srv_server *s, const srv_call *c, srv_response *r)
{
    (void)s, (void)c;
    mend_embedding_info *list = NULL;
    int count = 0;
    if (!list_embeddings(0, &list, &count, r))
        return;
    cJSON *o = cJSON_CreateObject();
    cJSON *loaded = cJSON_AddObjectToObject(o, "loaded"), *skipped = cJSON_AddObjectToObject(o, "skipped");
    for (int i = 0; i < count; i++)
        cJSON_AddItemToObject(list[i].skipped ? skipped : loaded, list[i].name, embedding_object(&list[i]));
    mend_embeddings_list_free(list, count);
    srv_reply_json(r, 200, o);
}

void h_refresh_embeddings(srv_server *s, const srv_call *c, srv_response *r)
{
    (void)s, (void)c;
    mend_embedding_info *list = NULL;
    int count = 0;
    if (!list_embeddings(1, &list, &count, r))
        return;
    mend_embeddings_list_free(list, count);
    srv_reply_json(r, 200, cJSON_CreateNull());
}

/* The selectable scripts by A1111's lower-case names: img2img's SD upscale;
 * a request naming another gets A1111's 422 (h_generate.c) */
void h_scripts(srv_server *s, const srv_call *c, srv_response *r)
{
    (void)s, (void)c;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddArrayToObject(o, "txt2img");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "img2img"), cJSON_CreateString("sd upscale"));
    srv_reply_json(r, 200, o);
}

static void add_string_or_null(cJSON *o, const char *key, const char *v)
{
    cJSON_AddItemToObject(o, key, v ? cJSON_CreateString(v) : cJSON_CreateNull());
}

/* vars(shared.cmd_opts) for the flags mend has, under A1111's names */
void h_cmd_flags(srv_server *s, const srv_call *c, srv_response *r)
{
    (void)c;
    mend_err err = {0};
    const char *prec = mend_precision_name(MEND_PRECISION_AUTO, &err);
    int full = !prec || !strcmp(prec, "fp32");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddTrueToObject(o, "api");
    cJSON_AddTrueToObject(o, "nowebui");
    add_string_or_null(o, "ckpt", s->flags.model);
    add_string_or_null(o, "ckpt_dir", s->flags.models_dir);
    add_string_or_null(o, "vae_path", s->vae_forced);
    add_string_or_null(o, "vae_dir", s->vae_dir);
    cJSON_AddNumberToObject(o, "port", s->flags.port);
    cJSON_AddBoolToObject(o, "listen", s->flags.listen);
    /* A1111 prints the credentials here; mend only says whether there are any */
    add_string_or_null(o, "api_auth", s->auth ? "***" : NULL);
    cJSON_AddBoolToObject(o, "api_server_stop", s->flags.api_server_stop);
    add_string_or_null(o, "cors_allow_origins", s->cors.origins);
    add_string_or_null(o, "cors_allow_origins_regex", s->cors.regex_text);
    add_string_or_null(o, "outdir_samples", s->outputs);
    cJSON_AddBoolToObject(o, "no_half", full);
    cJSON_AddBoolToObject(o, "no_half_vae", full);
    cJSON_AddStringToObject(o, "precision", full ? "full" : "autocast");
    cJSON_AddBoolToObject(o, "upcast_sampling", 0);
    cJSON *cpu = cJSON_AddArrayToObject(o, "use_cpu");
    cJSON_AddItemToArray(cpu, cJSON_CreateString("all"));
    /* mend's own: what "auto" precision means on this CPU, the thread count, the preview decoder */
    add_string_or_null(o, "mend_precision", prec);
    cJSON_AddNumberToObject(o, "mend_threads", s->flags.threads);
    add_string_or_null(o, "mend_taesd", s->flags.taesd);
    srv_reply_json(r, 200, o);
}

/* A "Key:   123 kB" line of a /proc file, in bytes; -1 when absent. */
static double proc_kb(const char *file, const char *key)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return -1;
    char line[256];
    size_t k = strlen(key);
    double v = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, k) && line[k] == ':') {
            v = strtod(line + k + 1, NULL) * 1024;
            break;
        }
    fclose(f);
    return v;
}

void h_memory(srv_server *s, const srv_call *c, srv_response *r)
{
    (void)s, (void)c;
    double rss = proc_kb("/proc/self/status", "VmRSS"), total = proc_kb("/proc/meminfo", "MemTotal");
    cJSON *o = cJSON_CreateObject();
    cJSON *ram = cJSON_AddObjectToObject(o, "ram");
    if (rss < 0 || total <= 0) {
        cJSON_AddStringToObject(ram, "error", "cannot read /proc/self/status or /proc/meminfo");
    } else { /* as A1111 computes it from psutil: free = total - this process's RSS */
        cJSON_AddNumberToObject(ram, "free", total - rss);
        cJSON_AddNumberToObject(ram, "used", rss);
        cJSON_AddNumberToObject(ram, "total", total);
    }
    cJSON *cuda = cJSON_AddObjectToObject(o, "cuda");
    cJSON_AddStringToObject(cuda, "error", "unavailable");
    srv_reply_json(r, 200, o);
}

/* A1111 checks the image first (404 without one), then the model name:
 * "clip" and "deepdanbooru" need interrogators mend does not have. */
void h_interrogate(srv_server *s, const srv_call *c, srv_response *r)
{
    (void)s;
    cJSON *json = srv_parse_body(c->body, c->len, 1, r);
    if (!json)
        return;
    const cJSON *img = cJSON_GetObjectItemCaseSensitive(json, "image");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(json, "model");
    const char *name = cJSON_IsString(model) ? model->valuestring : "clip";
    if (!cJSON_IsString(img) || !img->valuestring[0])
        srv_reply_error(r, 404, "HTTPException", "Image not found");
    else if (strcmp(name, "clip") && strcmp(name, "deepdanbooru"))
        srv_reply_error(r, 404, "HTTPException", "Model not found");
    else
        srv_reply_error(r, 501, "HTTPException", "interrogate: mend has no %s interrogator", name);
    cJSON_Delete(json);
}

void h_unload_checkpoint(srv_server *s, const srv_call *c, srv_response *r)
{
    (void)c;
    srv_job j = {.kind = SRV_JOB_UNLOAD_MODEL};
    srv_run_job(s, &j);
    if (j.status != MEND_OK)
        srv_reply_error(r, 503, "HTTPException", "%s", j.err.msg);
    else
        srv_reply_json(r, 200, cJSON_CreateObject());
}

/* Loads the checkpoint unload-checkpoint freed; a loaded one stays as it is. */
void h_reload_checkpoint(srv_server *s, const srv_call *c, srv_response *r)
{
    (void)c;
    pthread_mutex_lock(&s->lock);
    int unloaded = !s->model && s->model_path;
    char *path = unloaded ? strdup(s->model_path) : NULL;
    pthread_mutex_unlock(&s->lock);
    if (unloaded && !path) {
        srv_reply_error(r, 500, "MemoryError", "out of memory");
        return;
    }
    srv_job j = {.kind = SRV_JOB_LOAD_MODEL, .model_path = path};
    if (path)
        srv_run_job(s, &j);
    free(path);
    if (j.status != MEND_OK)
        srv_reply_error(r, j.status == MEND_E_ARG ? 400 : 500, "RuntimeError", "%s", j.err.msg);
    else
        srv_reply_json(r, 200, cJSON_CreateObject());
}

static void *stop_soon(void *arg)
{
    (void)arg;
    usleep(200 * 1000); /* time for the answer to go out */
    kill(getpid(), SIGTERM);
    return NULL;
}

/* server-kill and server-stop end the process as Ctrl-C does (mend serve
 * waits for SIGTERM), just after answering. */
void h_server_stop(srv_server *s, const srv_call *c, srv_response *r)
{
    (void)s, (void)c;
    pthread_t t;
    if (pthread_create(&t, NULL, stop_soon, NULL) != 0) {
        srv_reply_error(r, 500, "RuntimeError", "cannot start the stopping thread");
        return;
    }
    pthread_detach(t);
    r->status = 200;
    r->content_type = "text/plain";
    r->body = strdup("Stopping.");
}

/* A1111 answers 501 when it cannot restart itself, which mend never can. */
void h_server_restart(srv_server *s, const srv_call *c, srv_response *r)
{
    (void)s, (void)c;
    r->status = 501;
    r->content_type = "text/plain";
    r->body = strdup("");
}
