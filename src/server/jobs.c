/* The job queue: HTTP threads queue jobs and wait; one worker thread runs
 * them in FIFO order and owns the model (generation and model switches are
 * serialised as A1111's queue lock does). /progress, /interrupt and /skip
 * only touch the progress state under the lock, so they answer while a job
 * runs. The batch/seed loop is the library's (mend_generate): the step
 * callback answers Interrupt and Skip with their statuses. */
#include "server/server.h"
#include "server/params_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void set_option_string(srv_server *s, const char *key, const char *value)
{
    cJSON *v = value ? cJSON_CreateString(value) : cJSON_CreateNull();
    if (!cJSON_ReplaceItemInObject(s->options, key, v))
        cJSON_AddItemToObject(s->options, key, v);
}

mend_status srv_load_model(srv_server *s, const char *path, mend_err *err)
{
    mend_sd_model *m = NULL;
    MEND_TRY(mend_model_load(path, s->vocab, &m, err));
    mend_status vs = srv_vae_apply(s, m, path, err); /* A1111's load_model loads its VAE too */
    if (vs != MEND_OK) {
        mend_model_free(m);
        return vs;
    }
    char *title = mend_model_title(path), *copy = strdup(path);
    if (!title || !copy) {
        free(title), free(copy);
        mend_model_free(m);
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    }
    mend_sd_model *old = s->model;
    pthread_mutex_lock(&s->lock);
    s->model = m;
    free(s->model_title);
    free(s->model_path);
    s->model_title = title;
    s->model_path = copy;
    set_option_string(s, "sd_model_checkpoint", title);
    pthread_mutex_unlock(&s->lock);
    mend_model_free(old);
    return MEND_OK;
}

/* ---------------- progress ---------------- */

typedef struct run_ctx {
    srv_server *s;
    int iteration; /* the batch the last step belonged to */
} run_ctx;

static mend_status on_step(void *user, const mend_gen_progress *g, mend_err *err)
{
    run_ctx *c = user;
    srv_server *s = c->s;
    mend_image preview = {0};
    mend_err perr = {0};
    /* TAESD costs a few hundred ms at 512x512: refresh it every 5th and the
     * last step (A1111 refreshes every show_progress_every_n_steps = 10) */
    int taesd_now = s->taesd && (g->step % 5 == 4 || g->step + 1 == g->steps);
    mend_status ps = MEND_OK;
    if (g->denoised && taesd_now)
        ps = srv_taesd_preview(s->taesd, g->denoised, 0, g->h, g->w, &preview, &perr);
    else if (g->denoised && !s->taesd)
        ps = srv_latent_preview(g->denoised, 0, g->h, g->w, &preview, &perr);
    if (ps != MEND_OK)
        mend_image_free(&preview);
    pthread_mutex_lock(&s->lock);
    if (g->iteration != c->iteration) { /* a new batch: a skip ended only the one before */
        c->iteration = g->iteration;
        s->prog.skipped = 0;
    }
    s->prog.job_no = g->iteration;
    s->prog.sampling_step = g->step;
    s->prog.sampling_steps = g->steps;
    if (preview.data) {
        mend_image_free(&s->prog.preview);
        s->prog.preview = preview;
        s->prog.preview_serial++;
    }
    int interrupted = s->prog.interrupted, skipped = s->prog.skipped;
    pthread_mutex_unlock(&s->lock);
    if (interrupted)
        return mend_fail(err, MEND_E_INTERRUPTED, "interrupted");
    return skipped ? mend_fail(err, MEND_E_SKIPPED, "skipped") : MEND_OK;
}

/* ---------------- generation ---------------- */

static void begin_job(srv_server *s, srv_job *j)
{
    pthread_mutex_lock(&s->lock);
    srv_progress_state *p = &s->prog;
    p->job_count = j->params.n_iter;
    p->job_no = p->sampling_step = p->sampling_steps = 0;
    p->interrupted = p->skipped = 0;
    mend_stop_request(&p->stop, MEND_OK);
    p->job = j->name;
    if (j->task_id)
        snprintf(p->current_task, sizeof p->current_task, "%s", j->task_id);
    else /* A1111's create_task_id shape */
        snprintf(p->current_task, sizeof p->current_task, "task(%s-%u)", j->name, ++p->task_serial);
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(p->job_timestamp, sizeof p->job_timestamp, "%Y%m%d%H%M%S", &tm);
    p->started = mend_clock_s();
    mend_image_free(&p->preview);
    free(j->model_title);
    j->model_title = s->model_title ? strdup(s->model_title) : NULL;
    pthread_mutex_unlock(&s->lock);
}

static void end_job(srv_server *s)
{
    pthread_mutex_lock(&s->lock);
    s->prog.job_count = 0;
    s->prog.job_no = s->prog.sampling_step = s->prog.sampling_steps = 0;
    s->prog.job = NULL;
    s->prog.current_task[0] = '\0';
    mend_image_free(&s->prog.preview);
    pthread_mutex_unlock(&s->lock);
}

static void generate(srv_server *s, srv_job *j)
{
    if (!s->model) {
        j->status = mend_fail(&j->err, MEND_E_IO, "no model is loaded (start mend serve with --model, or choose one "
                                                  "with sd_model_checkpoint in /sdapi/v1/options)");
        return;
    }
    begin_job(s, j);
    j->inpainting_model = mend_model_is_inpainting(s->model);
    j->inputs.taesd = s->taesd; /* sd_vae_decode_method TAESD decodes with the preview's decoder */
    /* the library's batch/seed loop; on_step turns Interrupt and Skip into statuses after a step, prog.stop
     * makes them take effect within the UNet or VAE pass that is running */
    run_ctx c = {s, 0};
    if (j->sd_upscale)
        j->status = mend_generate_sd_upscale(s->model, &j->params, &j->inputs, &j->upscale, &s->prog.stop, on_step,
                                             &c, &j->out, &j->err);
    else
        j->status = mend_generate_stoppable(s->model, &j->params, &j->inputs, &s->prog.stop, on_step, &c, &j->out,
                                            &j->err);
    pthread_mutex_lock(&s->lock);
    if (s->prog.interrupted)
        j->out.interrupted = 1;
    pthread_mutex_unlock(&s->lock);
    end_job(s);
}

/* A1111's process_images around the job: override_settings in the options
 * for it (and the checkpoint they name), restored afterwards unless the
 * request says otherwise. */
static void run_generate(srv_server *s, srv_job *j)
{
    cJSON *stored = srv_options_override(s, j->override_settings);
    j->status = srv_ensure_model(s, &j->err);
    if (j->status == MEND_OK)
        j->status = srv_ensure_vae(s, &j->err);
    if (j->status == MEND_OK)
        generate(s, j);
    if (j->restore_settings)
        srv_options_restore(s, stored);
    else
        cJSON_Delete(stored);
}

static void run_load(srv_server *s, srv_job *j)
{
    pthread_mutex_lock(&s->lock);
    s->prog.job_count = -1; /* A1111: -1 while a job is starting / loading */
    s->prog.job = "load model";
    s->prog.started = mend_clock_s();
    pthread_mutex_unlock(&s->lock);
    j->status = srv_load_model(s, j->model_path, &j->err);
    end_job(s);
}

/* unload-checkpoint: the weights go, the path stays for reload-checkpoint */
static void run_unload(srv_server *s, srv_job *j)
{
    pthread_mutex_lock(&s->lock);
    mend_sd_model *m = s->model;
    s->model = NULL;
    pthread_mutex_unlock(&s->lock);
    mend_model_free(m);
    j->status = MEND_OK;
}

static void *worker_main(void *arg)
{
    srv_server *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->head && !s->stopping)
            pthread_cond_wait(&s->wake, &s->lock);
        if (s->stopping)
            break;
        srv_job *j = s->head;
        s->head = j->next;
        if (!s->head)
            s->tail = NULL;
        pthread_mutex_unlock(&s->lock);
        if (j->kind == SRV_JOB_GENERATE)
            run_generate(s, j);
        else if (j->kind == SRV_JOB_UNLOAD_MODEL)
            run_unload(s, j);
        else if (j->kind == SRV_JOB_SET_VAE)
            srv_run_set_vae(s, j);
        else
            run_load(s, j);
        pthread_mutex_lock(&s->lock);
        j->done = 1;
        pthread_cond_broadcast(&s->done);
    }
    /* fail whatever is still queued so no HTTP thread waits forever */
    for (srv_job *j = s->head; j; j = j->next) {
        j->status = mend_fail(&j->err, MEND_E_IO, "the server is shutting down");
        j->done = 1;
    }
    s->head = s->tail = NULL;
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

void srv_run_job(srv_server *s, srv_job *j)
{
    pthread_mutex_lock(&s->lock);
    j->done = 0;
    j->next = NULL;
    if (s->stopping) {
        j->status = mend_fail(&j->err, MEND_E_IO, "the server is shutting down");
        j->done = 1;
    } else {
        if (s->tail)
            s->tail->next = j;
        else
            s->head = j;
        s->tail = j;
        pthread_cond_signal(&s->wake);
    }
    while (!j->done)
        pthread_cond_wait(&s->done, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

static cJSON *default_options(void)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNullToObject(o, "sd_model_checkpoint");
    cJSON_AddNullToObject(o, "sd_checkpoint_hash");
    cJSON_AddStringToObject(o, "samples_format", "png");
    srv_params_add_options(o); /* CLIP_stop_at_last_layers, randn_source, ... from the parameter table */
    cJSON_AddStringToObject(o, "sd_vae", "Automatic");
    cJSON_AddNumberToObject(o, "show_progress_every_n_steps", 1);
    cJSON_AddStringToObject(o, "show_progress_type", "Approx cheap");
    cJSON_AddFalseToObject(o, "return_mask");
    cJSON_AddFalseToObject(o, "return_mask_composite");
    cJSON_AddTrueToObject(o, "return_grid");
    cJSON_AddTrueToObject(o, "enable_pnginfo");
    /* A1111's UI options for its "send to" buttons: kept and shown, nothing in the API reads them (A1111's own
     * test_options_write flips send_seed) */
    cJSON_AddTrueToObject(o, "send_seed");
    cJSON_AddTrueToObject(o, "send_size");
    return o;
}

mend_status srv_init(srv_server *s, mend_err *err)
{
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    pthread_cond_init(&s->done, NULL);
    s->options = default_options();
    if (!s->options)
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    MEND_TRY(srv_models_scan(&s->models, err));
    return srv_vaes_scan(s, err);
}

int srv_start_worker(srv_server *s)
{
    return pthread_create(&s->worker, NULL, worker_main, s) == 0;
}

void srv_shutdown(srv_server *s)
{
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->worker, NULL);
    mend_model_free(s->model);
    free(s->model_title);
    free(s->model_path);
    srv_models_free(&s->models);
    srv_vaes_free(&s->vaes);
    cJSON_Delete(s->options);
    mend_image_free(&s->prog.preview);
}
