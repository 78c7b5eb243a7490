/* `mend serve` end to end with two random tiny checkpoints made here: the
 * endpoints' shapes, inpainting keeps unmasked pixels, progress and live
 * previews (cheap and TAESD), interrupt, skip and model switching. Needs
 * the CLIP vocabulary from ../shared (skipped without it). */
#include "server_fixture.h"

#include "mend/params.h"

#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define W 64
#define H 64

/* ---- server with models ------------------------------------------------- */

static server *full;

TEST(endpoint_shapes)
{
    CHECK_MSG(full != NULL, "no server");
    if (!full)
        return;
    reply r = http(full, "GET", "/sdapi/v1/sd-models", NULL);
    CHECK(r.status == 200 && cJSON_GetArraySize(r.json) == 2);
    const cJSON *m0 = cJSON_GetArrayItem(r.json, 0);
    CHECK(!strcmp(str(m0, "title"), "a.safetensors") && !strcmp(str(m0, "model_name"), "a") &&
          strstr(str(m0, "filename"), "/models/a.safetensors") && get(m0, "hash"));
    reply_free(&r);
    r = http(full, "GET", "/sdapi/v1/samplers", NULL);
    int found = 0;
    for (const cJSON *e = r.json ? r.json->child : NULL; e; e = e->next)
        found += !strcmp(str(e, "name"), "Euler a") && cJSON_IsArray(get(e, "aliases")) && cJSON_IsObject(get(e, "options"));
    CHECK(r.status == 200 && found == 1 && cJSON_GetArraySize(r.json) == mend_samplers_count());
    reply_free(&r);
    r = http(full, "GET", "/sdapi/v1/schedulers", NULL);
    const cJSON *k = cJSON_GetArrayItem(r.json, 2);
    CHECK(r.status == 200 && cJSON_GetArraySize(r.json) == mend_schedulers_count() && !strcmp(str(k, "label"), "Karras") &&
          !strcmp(str(k, "name"), "karras") && num(k, "default_rho") == 7);
    reply_free(&r);
    r = http(full, "GET", "/sdapi/v1/options", NULL);
    CHECK(r.status == 200 && !strcmp(str(r.json, "sd_model_checkpoint"), "a.safetensors") &&
          num(r.json, "CLIP_stop_at_last_layers") == 1);
    reply_free(&r);
    r = http(full, "GET", "/sdapi/v1/progress?skip_current_image=true", NULL);
    const cJSON *st = get(r.json, "state");
    CHECK(r.status == 200 && num(r.json, "progress") == 0 && num(r.json, "eta_relative") == 0 &&
          num(st, "job_count") == 0 && num(st, "sampling_steps") == 0 && cJSON_IsNull(get(r.json, "current_image")));
    reply_free(&r);
    r = http(full, "POST", "/sdapi/v1/interrupt", "");
    CHECK(r.status == 200 && cJSON_IsObject(r.json) && !r.json->child);
    reply_free(&r);
    r = http(full, "POST", "/sdapi/v1/skip", "");
    CHECK(r.status == 200 && cJSON_IsNull(r.json));
    reply_free(&r);
    r = http(full, "POST", "/sdapi/v1/refresh-checkpoints", "");
    CHECK(r.status == 200 && cJSON_IsNull(r.json));
    reply_free(&r);
}

static int decode_reply_image(const cJSON *images, int i, mend_image *out)
{
    const cJSON *s = cJSON_GetArrayItem(images, i);
    char msg[256];
    return cJSON_IsString(s) && srv_decode_image(s->valuestring, "reply", out, msg, sizeof msg);
}

TEST(inpaint_keeps_unmasked_pixels)
{
    CHECK_MSG(full != NULL, "no server");
    if (!full)
        return;
    mend_image init, mask, got = {0};
    test_make_gradient(&init, W, H);
    test_make_square_mask(&mask, W, H);
    char *init64 = png_b64(&init, 1), *mask64 = png_b64(&mask, 1);
    /* what openOutpaint sends: data URLs, sampler_index only, extra unknown keys */
    char *body = strdupf("{\"init_images\": [\"%s\"], \"mask\": \"%s\", \"prompt\": \"a red hat\", \"mask_blur\": 0,"
                         " \"inpainting_fill\": 1, \"inpaint_full_res\": false, \"denoising_strength\": \"1\","
                         " \"sampler_index\": \"Euler a\", \"steps\": 3, \"cfg_scale\": 7, \"seed\": 1234,"
                         " \"width\": 64, \"height\": 64, \"batch_size\": 2, \"n_iter\": 1,"
                         " \"outpainting_fill\": 2, \"styles\": [], \"scheduler\": \"automatic\"}",
                         init64, mask64);
    reply r = http(full, "POST", "/sdapi/v1/img2img", body);
    CHECK_MSG(r.status == 200, "%d %.300s", r.status, r.body ? r.body : "");
    const cJSON *images = get(r.json, "images");
    CHECK(cJSON_GetArraySize(images) == 2);
    for (int i = 0; i < 2 && decode_reply_image(images, i, &got); i++) {
        CHECK(got.width == W && got.height == H && got.channels == 3);
        int same_outside = 1, changed_inside = 0;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int inside = x >= 24 && x < 40 && y >= 24 && y < 40;
                int differs = memcmp(got.data + 3 * (y * W + x), init.data + 3 * (y * W + x), 3) != 0;
                if (!inside && differs)
                    same_outside = 0;
                changed_inside += inside && differs;
            }
        CHECK_MSG(same_outside, "image %d changed pixels outside the mask", i);
        CHECK_MSG(changed_inside > 0, "image %d left the masked area untouched", i);
        mend_image_free(&got);
    }
    cJSON *info = cJSON_Parse(str(r.json, "info"));
    const cJSON *seeds = get(info, "all_seeds");
    CHECK(info && num(info, "seed") == 1234 && cJSON_GetArraySize(seeds) == 2 &&
          cJSON_GetArrayItem(seeds, 1)->valuedouble == 1235 && cJSON_GetArraySize(get(info, "infotexts")) == 2 &&
          !strcmp(str(info, "sampler_name"), "Euler a") && !strcmp(str(info, "sd_model_name"), "a") &&
          strlen(str(info, "job_timestamp")) == 14);
    const cJSON *params = get(r.json, "parameters");
    CHECK(num(params, "steps") == 3 && num(params, "denoising_strength") == 1 && num(params, "mask_blur") == 0 &&
          cJSON_IsNull(get(params, "init_images")) && cJSON_IsNull(get(params, "mask")) &&
          num(params, "inpaint_full_res_padding") == 0 && !strcmp(str(params, "sampler_index"), "Euler a"));
    /* png-info of the returned image reads back the infotext */
    char *pi = strdupf("{\"image\": \"%s\"}", cJSON_IsString(cJSON_GetArrayItem(images, 0))
                                                  ? cJSON_GetArrayItem(images, 0)->valuestring : "");
    reply p = http(full, "POST", "/sdapi/v1/png-info", pi);
    const cJSON *pp = get(p.json, "parameters");
    CHECK_MSG(p.status == 200 && strstr(str(p.json, "info"), "Steps: 3") && !strcmp(str(pp, "Prompt"), "a red hat") &&
                  !strcmp(str(pp, "Steps"), "3") && !strcmp(str(pp, "Size-1"), "64") &&
                  !strcmp(str(pp, "Seed"), "1234") && !strcmp(str(pp, "Sampler"), "Euler a"),
              "%d %.400s", p.status, p.body ? p.body : "");
    reply_free(&p);
    free(pi);
    cJSON_Delete(info);
    reply_free(&r);
    free(body), free(init64), free(mask64);
    mend_image_free(&init), mend_image_free(&mask);
}

/* A txt2img request run in the background. */
typedef struct bg_request {
    const char *body;
    reply r;
    double seconds;
    pthread_t thread; /* start_long_job's */
} bg_request;

static void *bg_main(void *arg)
{
    bg_request *b = arg;
    double t0 = test_now_s();
    b->r = http(full, "POST", "/sdapi/v1/txt2img", b->body);
    b->seconds = test_now_s() - t0;
    return NULL;
}

/* Polls /progress until sampling_step >= min_step (bounded); returns the last reply's state values. */
static int wait_for_step(int min_step, int want_image, double *progress_seen, int *image_seen)
{
    for (int i = 0; i < 3000; i++) { /* up to ~60 s */
        reply r = http(full, "GET", want_image ? "/sdapi/v1/progress?skip_current_image=false"
                                               : "/sdapi/v1/progress?skip_current_image=true", NULL);
        const cJSON *st = get(r.json, "state");
        int step = (int)num(st, "sampling_step"), count = (int)num(st, "job_count");
        if (progress_seen && count > 0)
            *progress_seen = num(r.json, "progress");
        if (image_seen && cJSON_IsString(get(r.json, "current_image")))
            *image_seen = 1;
        reply_free(&r);
        if (count > 0 && step >= min_step)
            return 1;
        usleep(20000);
    }
    return 0;
}

TEST(progress_moves_during_a_job)
{
    CHECK_MSG(full != NULL, "no server");
    if (!full)
        return;
    bg_request b = {.body = "{\"prompt\": \"slow\", \"steps\": 60, \"width\": 128, \"height\": 128,"
                            " \"n_iter\": 2, \"seed\": 5}"};
    pthread_t t;
    pthread_create(&t, NULL, bg_main, &b);
    double p1 = -1, p2 = -1;
    int image = 0;
    CHECK(wait_for_step(2, 0, &p1, NULL));
    CHECK(wait_for_step(20, 1, &p2, &image));
    CHECK_MSG(p1 > 0.01 && p2 > p1 && p2 <= 1, "progress %g then %g", p1, p2);
    CHECK_MSG(image, "no current_image while sampling");
    pthread_join(t, NULL);
    CHECK(b.r.status == 200 && cJSON_GetArraySize(get(b.r.json, "images")) == 2);
    reply_free(&b.r);
    reply r = http(full, "GET", "/sdapi/v1/progress", NULL);
    CHECK(num(get(r.json, "state"), "job_count") == 0 && num(r.json, "progress") == 0);
    reply_free(&r);
}

/* Runs a 128x128 job on sv and returns the width of the first live preview
 * seen in /progress (0 when none). */
static int preview_width(server *sv)
{
    server *keep = full;
    full = sv;
    bg_request b = {.body = "{\"prompt\": \"preview\", \"steps\": 30, \"width\": 128, \"height\": 128,"
                            " \"seed\": 9}"};
    pthread_t t;
    pthread_create(&t, NULL, bg_main, &b);
    int width = 0;
    for (int i = 0; i < 3000 && !width; i++) { /* up to ~60 s */
        reply r = http(sv, "GET", "/sdapi/v1/progress?skip_current_image=false", NULL);
        const cJSON *img = get(r.json, "current_image");
        mend_image pv = {0};
        char msg[256];
        if (cJSON_IsString(img) && srv_decode_image(img->valuestring, "preview", &pv, msg, sizeof msg))
            width = pv.width;
        mend_image_free(&pv);
        reply_free(&r);
        if (!width)
            usleep(20000);
    }
    pthread_join(t, NULL);
    CHECK(b.r.status == 200);
    reply_free(&b.r);
    full = keep;
    return width;
}

TEST(cheap_preview_at_latent_size)
{
    CHECK_MSG(full != NULL, "no server");
    if (full)
        CHECK_MSG(preview_width(full) == 16, "cheap preview of a 128 px job should be 16 px wide");
}

static server *taesd_server;

TEST(taesd_preview_at_full_size)
{
    CHECK_MSG(taesd_server != NULL, "no server with --taesd");
    if (taesd_server)
        CHECK_MSG(preview_width(taesd_server) == 128, "TAESD preview of a 128 px job should be 128 px wide");
}

/* Starts b on the server in the background (b->thread) and waits until
 * its job has made 2 steps; 0 (a failed check) without a server. */
static int start_long_job(bg_request *b)
{
    CHECK_MSG(full != NULL, "no server");
    if (!full)
        return 0;
    pthread_create(&b->thread, NULL, bg_main, b);
    CHECK(wait_for_step(2, 0, NULL, NULL));
    return 1;
}

/* POST path with an empty body; the reply's status. */
static int post_status(const char *path)
{
    reply r = http(full, "POST", path, "");
    int status = r.status;
    reply_free(&r);
    return status;
}

TEST(interrupt_stops_a_job)
{
    bg_request b = {.body = "{\"prompt\": \"long\", \"steps\": 150, \"width\": 128, \"height\": 128,"
                            " \"n_iter\": 3, \"seed\": 7}"};
    if (!start_long_job(&b))
        return;
    double t0 = test_now_s();
    CHECK(post_status("/sdapi/v1/interrupt") == 200);
    pthread_join(b.thread, NULL);
    double after = test_now_s() - t0;
    /* the first batch is finished from its latest prediction; no further batches run */
    CHECK_MSG(b.r.status == 200 && cJSON_GetArraySize(get(b.r.json, "images")) == 1, "%d, %d images", b.r.status,
              cJSON_GetArraySize(get(b.r.json, "images")));
    cJSON *info = cJSON_Parse(str(b.r.json, "info"));
    CHECK(cJSON_IsTrue(get(info, "interrupted")));
    cJSON_Delete(info);
    CHECK_MSG(after < b.seconds, "interrupt took %.2f s of %.2f", after, b.seconds);
    reply_free(&b.r);
    /* the next job is not interrupted */
    reply r = http(full, "POST", "/sdapi/v1/txt2img", "{\"steps\": 2, \"width\": 64, \"height\": 64, \"n_iter\": 2}");
    CHECK(r.status == 200 && cJSON_GetArraySize(get(r.json, "images")) == 2);
    reply_free(&r);
}

/* Skip ends the current batch early (from its latest prediction) and the
 * job goes on with the next one: n_iter 2 of 150 steps still returns two
 * images, and the second batch starts long before 150 steps of the first. */
TEST(skip_ends_the_current_batch)
{
    bg_request b = {.body = "{\"prompt\": \"long\", \"steps\": 150, \"width\": 128, \"height\": 128,"
                            " \"n_iter\": 2, \"seed\": 11}"};
    if (!start_long_job(&b))
        return;
    CHECK(post_status("/sdapi/v1/skip") == 200);
    /* the second batch must start: job_no 1 while the first batch had 150 steps to go */
    int second = 0, first_step_max = 0;
    for (int i = 0; i < 3000 && !second; i++) {
        reply r = http(full, "GET", "/sdapi/v1/progress?skip_current_image=true", NULL);
        const cJSON *st = get(r.json, "state");
        if ((int)num(st, "job_no") >= 1)
            second = 1;
        else if ((int)num(st, "sampling_step") > first_step_max)
            first_step_max = (int)num(st, "sampling_step");
        reply_free(&r);
        if (!second)
            usleep(20000);
    }
    CHECK_MSG(second && first_step_max < 100, "second batch %s, first batch reached step %d",
              second ? "started" : "never started", first_step_max);
    post_status("/sdapi/v1/interrupt"); /* end the 150-step second batch */
    pthread_join(b.thread, NULL);
    CHECK_MSG(b.r.status == 200 && cJSON_GetArraySize(get(b.r.json, "images")) == 2, "%d, %d images", b.r.status,
              cJSON_GetArraySize(get(b.r.json, "images")));
    reply_free(&b.r);
}

TEST(model_switch_via_options)
{
    CHECK_MSG(full != NULL, "no server");
    if (!full)
        return;
    reply r = http(full, "POST", "/sdapi/v1/options", "{\"sd_model_checkpoint\": \"b.safetensors\"}");
    CHECK_MSG(r.status == 200 && cJSON_IsNull(r.json), "%d %s", r.status, r.body ? r.body : "");
    reply_free(&r);
    r = http(full, "GET", "/sdapi/v1/options", NULL);
    CHECK(!strcmp(str(r.json, "sd_model_checkpoint"), "b.safetensors"));
    reply_free(&r);
    r = http(full, "POST", "/sdapi/v1/txt2img", "{\"steps\": 2, \"width\": 64, \"height\": 64}");
    cJSON *info = cJSON_Parse(str(r.json, "info"));
    CHECK(r.status == 200 && !strcmp(str(info, "sd_model_name"), "b"));
    CHECK(strstr(str(info, "infotexts") ? cJSON_GetArrayItem(get(info, "infotexts"), 0)->valuestring : "",
                 "Model: b"));
    cJSON_Delete(info);
    reply_free(&r);
    /* by model name, and a failed switch keeps the current model */
    r = http(full, "POST", "/sdapi/v1/options", "{\"sd_model_checkpoint\": \"a\"}");
    CHECK(r.status == 200);
    reply_free(&r);
    r = http(full, "POST", "/sdapi/v1/options", "{\"sd_model_checkpoint\": \"../a\"}");
    CHECK(r.status == 400);
    reply_free(&r);
    r = http(full, "GET", "/sdapi/v1/options", NULL);
    CHECK(!strcmp(str(r.json, "sd_model_checkpoint"), "a.safetensors"));
    reply_free(&r);
}

int main(void)
{
    atexit(stop_all);
    const char *vocab = test_shared("clip/bpe_simple_vocab_16e6.txt.gz");
    if (vocab) {
        char dir[1024], cmd[4096];
        snprintf(dir, sizeof dir, "%s/models", test_tmpdir());
        mkdir(dir, 0755);
        snprintf(cmd, sizeof cmd,
                 "'%s' tools make-model --arch sd1 --size tiny --dtype f16 --seed 1 '%s/a.safetensors' && "
                 "'%s' tools make-model --arch sd1 --size tiny --dtype f16 --seed 2 '%s/b.safetensors'",
                 test_mend_bin(), dir, test_mend_bin(), dir);
        CHECK(test_run(cmd, NULL) == 0);
        const char *args[] = {"--models-dir", dir, "--vocab", vocab, NULL};
        if (start_server(&servers[0], args))
            full = &servers[0];
        CHECK_MSG(full != NULL, "mend serve with models did not start");
        RUN(endpoint_shapes);
        RUN(inpaint_keeps_unmasked_pixels);
        RUN(progress_moves_during_a_job);
        RUN(interrupt_stops_a_job);
        RUN(skip_ends_the_current_batch);
        RUN(model_switch_via_options);
        RUN(cheap_preview_at_latent_size);
        test_current = "clean shutdown after jobs";
        /* every worker, connection thread and per-thread scratch ends with
         * the process: exit status 0 (ASan builds: no leak reported) */
        int st = stop_server(&servers[0]);
        CHECK_MSG(st == 0, "mend serve exited with status %d after SIGTERM", st);
        full = NULL;
        const char *taesd = test_shared("taesd");
        if (taesd) {
            const char *targs[] = {"--models-dir", dir, "--vocab", vocab, "--taesd", taesd, NULL};
            if (start_server(&servers[0], targs))
                taesd_server = &servers[0];
            RUN(taesd_preview_at_full_size);
        }
    }
    stop_all();
    return test_summary();
}
