/* The VAE choice of `mend serve`, as A1111's sd_vae.py makes it: the VAE
 * files (--vae-dir, default models/VAE, and NAME.vae.* files of
 * --models-dir) listed by GET /sdapi/v1/sd-vae and rescanned by POST
 * /sdapi/v1/refresh-vae, and the option sd_vae resolved as resolve_vae
 * does: --vae first; "None": the checkpoint's own; a NAME.vae.pt / .ckpt /
 * .safetensors beside the checkpoint; "Automatic": nothing more (A1111's
 * look-up of the checkpoint's stem among the file names, which carry their
 * extension, finds nothing); else the listed file of that name. The worker
 * loads it before each job (and after POST /options) when it is not the
 * one in use, so a checkpoint switch and a restored override_settings get
 * their VAE back; a file that cannot be used fails naming it and the VAE in
 * use stays. */
#include "server/server.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define VAE_MAX_DEPTH 8

/* vae_dir: any VAE extension; models_dir: only NAME.vae.EXT. */
static int vae_file_name(const char *name, int in_models_dir)
{
    static const char *const exts[] = {".safetensors", ".pt", ".ckpt"};
    for (size_t i = 0; i < sizeof exts / sizeof *exts; i++) {
        char want[32];
        snprintf(want, sizeof want, "%s%s", in_models_dir ? ".vae" : "", exts[i]);
        if (srv_ends_with(name, want))
            return 1;
    }
    return 0;
}

static mend_status add_vae(srv_vaes *v, const char *path, const char *name, mend_err *err)
{
    char abs[PATH_MAX];
    if (!realpath(path, abs))
        snprintf(abs, sizeof abs, "%s", path);
    char *file = strdup(abs), *copy = strdup(name);
    if (!file || !copy) {
        free(file), free(copy);
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    }
    for (int i = 0; i < v->count; i++)
        if (!strcmp(v->items[i].name, name)) { /* vae_dict[name] = filepath: the later one */
            free(v->items[i].filename), free(copy);
            v->items[i].filename = file;
            return MEND_OK;
        }
    srv_vae_file *items = realloc(v->items, (size_t)(v->count + 1) * sizeof *items);
    if (!items) {
        free(file), free(copy);
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    }
    v->items = items;
    v->items[v->count++] = (srv_vae_file){copy, file};
    return MEND_OK;
}

/* glob's '**' (recursive), subfolders in name order for a stable list. */
static mend_status scan_dir(srv_vaes *v, const char *dir, int in_models_dir, int depth, mend_err *err)
{
    struct dirent **ents = NULL;
    int n = depth > VAE_MAX_DEPTH ? -1 : scandir(dir, &ents, NULL, alphasort);
    mend_status s = MEND_OK;
    for (int i = 0; i < n; i++) {
        const char *name = ents[i]->d_name;
        char path[PATH_MAX];
        struct stat st;
        if (s == MEND_OK && name[0] != '.' && snprintf(path, sizeof path, "%s/%s", dir, name) < (int)sizeof path &&
            stat(path, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                s = scan_dir(v, path, in_models_dir, depth + 1, err);
            else if (S_ISREG(st.st_mode) && st.st_size > 0 && vae_file_name(name, in_models_dir))
                s = add_vae(v, path, name, err);
        }
        free(ents[i]);
    }
    free(ents);
    return s;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const srv_vae_file *)a)->name, ((const srv_vae_file *)b)->name);
}

void srv_vaes_free(srv_vaes *v)
{
    for (int i = 0; i < v->count; i++)
        free(v->items[i].name), free(v->items[i].filename);
    free(v->items);
    *v = (srv_vaes){0};
}

mend_status srv_vaes_scan(srv_server *s, mend_err *err)
{
    srv_vaes v = {0};
    mend_status st = MEND_OK;
    if (s->models.dir)
        st = scan_dir(&v, s->models.dir, 1, 0, err);
    if (st == MEND_OK)
        st = scan_dir(&v, s->vae_dir ? s->vae_dir : "models/VAE", 0, 0, err);
    if (st != MEND_OK) {
        srv_vaes_free(&v);
        return st;
    }
    if (v.count > 1) /* qsort of a NULL array is undefined, even of none */
        qsort(v.items, (size_t)v.count, sizeof *v.items, by_name);
    srv_vaes_free(&s->vaes);
    s->vaes = v;
    return MEND_OK;
}

static const srv_vae_file *find_vae(const srv_server *s, const char *name)
{
    for (int i = 0; i < s->vaes.count; i++)
        if (!strcmp(s->vaes.items[i].name, name))
            return &s->vaes.items[i];
    return NULL;
}

/* ---------------- resolving sd_vae ---------------- */

/* A1111's resolve_vae for the value `name` and the checkpoint ckpt (caller
 * holds the lock): *path malloc'd, or NULL for the checkpoint's own. */
static mend_status resolve(srv_server *s, const char *name, const char *ckpt, char **path, mend_err *err)
{
    *path = NULL;
    const char *file = s->vae_forced;
    char *near = NULL;
    if (!file && name && strcmp(name, "None") != 0 && !(near = mend_vae_near_checkpoint(ckpt)) &&
        strcmp(name, "Automatic") != 0) {
        const srv_vae_file *f = find_vae(s, name);
        if (!f)
            return mend_fail(err, MEND_E_IO, "sd_vae '%s': no such VAE in %s (see GET /sdapi/v1/sd-vae)", name,
                             s->vae_dir ? s->vae_dir : "models/VAE");
        file = f->filename;
    }
    if (near) {
        *path = near;
        return MEND_OK;
    }
    if (file && !(*path = strdup(file)))
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    return MEND_OK;
}

/* Loads the VAE that `name` means into m, the checkpoint ckpt (worker
 * thread, or startup). A file that cannot be used is the server's 500, not
 * a missing model's 503. */
static mend_status load_for(srv_server *s, mend_sd_model *m, const char *ckpt, const char *name, mend_err *err)
{
    char *path = NULL;
    pthread_mutex_lock(&s->lock);
    mend_status st = resolve(s, name, ckpt, &path, err);
    pthread_mutex_unlock(&s->lock);
    if (st == MEND_OK && m)
        st = mend_model_set_vae(m, path, err);
    free(path);
    if (st != MEND_OK && st != MEND_E_NOMEM)
        err->code = st = MEND_E_FORMAT;
    return st;
}

mend_status srv_vae_apply(srv_server *s, mend_sd_model *m, const char *ckpt, mend_err *err)
{
    pthread_mutex_lock(&s->lock);
    char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s->options, "sd_vae"));
    name = strdup(name ? name : "Automatic");
    pthread_mutex_unlock(&s->lock);
    if (!name)
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    mend_status st = load_for(s, m, ckpt, name, err);
    free(name);
    return st;
}

mend_status srv_ensure_vae(srv_server *s, mend_err *err)
{
    return srv_vae_apply(s, s->model, s->model_path, err);
}

void srv_run_set_vae(srv_server *s, srv_job *j)
{
    j->status = load_for(s, s->model, s->model_path, j->vae_option, &j->err);
    if (j->status != MEND_OK)
        return;
    pthread_mutex_lock(&s->lock);
    cJSON_ReplaceItemInObjectCaseSensitive(s->options, "sd_vae", cJSON_CreateString(j->vae_option));
    pthread_mutex_unlock(&s->lock);
}

int srv_check_vae_value(srv_server *s, const cJSON *v, const char *where, srv_response *r)
{
    if (!v)
        return 1;
    if (!cJSON_IsString(v)) {
        srv_reply_error(r, 400, "HTTPException", "%s: sd_vae must be a string", where);
        return 0;
    }
    pthread_mutex_lock(&s->lock);
    int ok = !strcmp(v->valuestring, "Automatic") || !strcmp(v->valuestring, "None") || find_vae(s, v->valuestring);
    pthread_mutex_unlock(&s->lock);
    if (!ok) /* A1111 warns and uses none; mend says so, as for an unknown checkpoint */
        srv_reply_error(r, 404, "RuntimeError", "%s: sd_vae '%s': no such VAE (see GET /sdapi/v1/sd-vae)", where,
                        v->valuestring);
    return ok;
}

int srv_set_vae_option(srv_server *s, const cJSON *v, srv_response *r)
{
    if (!srv_check_vae_value(s, v, "options", r))
        return 0;
    srv_job j = {.kind = SRV_JOB_SET_VAE, .vae_option = v->valuestring};
    srv_run_job(s, &j);
    if (j.status != MEND_OK)
        srv_reply_error(r, j.err.code == MEND_E_ARG ? 400 : 500, "RuntimeError", "%s", j.err.msg);
    return j.status == MEND_OK;
}

/* ---------------- listing ---------------- */

void h_sd_vae(srv_server *s, const srv_call *c, srv_response *r)
{
    (void)c;
    cJSON *a = cJSON_CreateArray();
    pthread_mutex_lock(&s->lock);
    for (int i = 0; a && i < s->vaes.count; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "model_name", s->vaes.items[i].name);
        cJSON_AddStringToObject(o, "filename", s->vaes.items[i].filename);
        cJSON_AddItemToArray(a, o);
    }
    pthread_mutex_unlock(&s->lock);
    srv_reply_json(r, 200, a);
}

void h_refresh_vae(srv_server *s, const srv_call *c, srv_response *r)
{
    (void)c;
    mend_err err = {0};
    pthread_mutex_lock(&s->lock);
    mend_status st = srv_vaes_scan(s, &err);
    pthread_mutex_unlock(&s->lock);
    if (st != MEND_OK)
        srv_reply_error(r, 500, "RuntimeError", "%s", err.msg);
    else
        srv_reply_json(r, 200, cJSON_CreateNull());
}
