/* The A1111 pipeline end to end on the tiny models, against the trajectories
 * A1111 v1.10.1 recorded (the jsons in shared/testdata/samplers): our prompt
 * conditioning, init latent (VAE encode + posterior sample with the
 * recorded noise), latent mask, 9-channel image conditioning, and then our
 * CFG denoiser around our UNet inside our sampler, replaying only the
 * recorded random draws. Checked: every model call (x0 prediction after CFG
 * and mask blending, per-call relative error <= 1e-4 as the jsons give) and
 * the final samples (<= 5e-3). */
#include "test.h"

#include "inpaint/conditioning.h"
#include "inpaint/denoiser.h"
#include "inpaint/imageops.h"
#include "model/sd_model.h"
#include "sampling/sampler.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <string.h>

typedef struct ctx {
    const mend_tf *ref;
    const char *file;
    mend_cfg_denoiser *den;
    int64_t n;
    int calls, noise_used;
    double worst_call;
} ctx;

static double rel_err(const float *got, const float *want, int64_t n)
{
    double scale = 0;
    for (int64_t i = 0; i < n; i++)
        scale = fmax(scale, fabs((double)want[i]));
    double d = test_max_abs_diff(got, want, n);
    return scale > 0 ? d / scale : d;
}

/* Our denoiser on the sampler's x; compared with the recorded call. */
static mend_status denoise(void *user, const float *x, float sigma, float *out, mend_err *err)
{
    ctx *c = user;
    MEND_TRY(mend_cfg_denoise(c->den, x, sigma, out, err));
    char name[64];
    snprintf(name, sizeof name, "call/%03d/denoised", c->calls++);
    float *want = test_load_f32(c->ref, name, NULL);
    if (want) {
        double e = rel_err(out, want, c->n);
        c->worst_call = e > c->worst_call ? e : c->worst_call;
        CHECK_MSG(e <= 1e-4, "%s %s: relative error %g", c->file, name, e);
    }
    free(want);
    return MEND_OK;
}

static void noise(void *user, float *out, int64_t n, float s, float sn)
{
    ctx *c = user;
    char name[64];
    snprintf(name, sizeof name, "noise/%03d", ++c->noise_used);
    float *v = test_load_f32(c->ref, name, NULL);
    if (v)
        memcpy(out, v, (size_t)n * sizeof *out);
    free(v);
}

static mend_sd_model *g_models[2];

static mend_sd_model *model_for(const char *name)
{
    int inpaint = strstr(name, "inpaint") != NULL;
    if (!g_models[inpaint]) {
        const char *mp = test_shared(inpaint ? "models/tiny-sd1-inpaint.f16.safetensors" : "models/tiny-sd1.f16.safetensors");
        const char *vp = test_shared("clip/bpe_simple_vocab_16e6.txt.gz");
        mend_err err = {0};
        if (mp && vp)
            CHECK_OK(mend_sd_load(mp, vp, MEND_COMP_ALL, &g_models[inpaint], &err), &err);
    }
    return g_models[inpaint];
}

/* Our init latent: VAE(init_image) posterior with the recorded noise. */
static void check_init_latent(mend_sd_model *m, const mend_tf *ref, const char *file, int B)
{
    float *img = test_load_f32(ref, "init_image", NULL), *vn = test_load_f32(ref, "vae_sample_noise_init", NULL);
    float *want = test_load_f32(ref, "init_latent", NULL);
    float *mom = malloc(2 * 4 * 64 * sizeof *mom), *got = malloc((size_t)B * 256 * sizeof *got);
    mend_err err = {0};
    for (int b = 0; img && vn && want && b < B; b++) {
        float x[3 * 64 * 64];
        for (int i = 0; i < 3 * 64 * 64; i++)
            x[i] = img[b * 3 * 4096 + i] * 2.0f - 1.0f;
        CHECK_OK(mend_vae_encode(m->vae, x, 1, 64, 64, mom, &err), &err);
        mend_vae_posterior(mom, vn + b * 256, 1, 4, 64, got + b * 256);
    }
    if (img && vn && want)
        CHECK_MSG(test_max_abs_diff(got, want, B * 256) <= 1e-3, "%s: init latent err %g", file,
                  test_max_abs_diff(got, want, B * 256));
    free(img), free(vn), free(want), free(mom), free(got);
}

/* Our latent mask from the W x H mask image (A1111 p.nmask). */
static void check_latent_mask(const mend_tf *ref, const char *file)
{
    const mend_tf_tensor *t = mend_tf_find(ref, "mask_image");
    float *want = test_load_f32(ref, "latent_nmask_repaint", NULL);
    if (!t || !want) {
        free(want);
        return;
    }
    mend_image mask = {(int)t->shape[1], (int)t->shape[0], 1, (uint8_t *)t->data};
    float got[64];
    mend_err err = {0};
    CHECK_OK(mend_latent_mask(&mask, 8, 8, 1, got, &err), &err);
    CHECK_MSG(memcmp(got, want, sizeof got) == 0, "%s: latent mask differs", file);
    free(want);
}

static void run_file(const char *dir, const char *json_name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%.256s", dir, json_name);
    char *text = test_read_file(path, NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    cJSON *cs = cJSON_GetObjectItem(j, "case");
    const char *sampler_name = cJSON_GetStringValue(cJSON_GetObjectItem(cs, "sampler"));
    const char *model = cJSON_GetStringValue(cJSON_GetObjectItem(cs, "model"));
    const char *file = cJSON_GetStringValue(cJSON_GetObjectItem(j, "file"));
    if (!cs || !sampler_name || !model || !file) {
        cJSON_Delete(j);
        return; /* schedules.json, index.json */
    }
    const mend_sampler_info *info = NULL;
    mend_err err = {0};
    mend_sampler_from_name(sampler_name, &info, &err);
    mend_sd_model *m = model_for(model);
    snprintf(path, sizeof path, "%s/%.256s", dir, file);
    mend_tf *ref = NULL;
    CHECK_OK(mend_tf_open(path, &ref, &err), &err);
    const mend_tf_tensor *xs = ref ? mend_tf_find(ref, "x_start") : NULL;
    if (!info || !m || !ref || !xs || (info->flags & MEND_SAMPLER_BROWNIAN)) {
        mend_tf_close(ref);
        cJSON_Delete(j);
        return; /* SDE samplers: A1111's noise there is not replayable per call */
    }
    int B = (int)xs->shape[0], h = (int)xs->shape[2], w = (int)xs->shape[3];
    int64_t n = (int64_t)B * 4 * h * w;
    const char *mode = cJSON_GetStringValue(cJSON_GetObjectItem(cs, "mode"));
    int inpaint = mode && !strcmp(mode, "inpaint");

    /* conditioning: ours from the prompt vs the recorded one */
    mend_cond_opts o;
    mend_cond_opts_default(&o);
    mend_cond_schedule cond = {0}, uncond = {0};
    const char *prompt = cJSON_GetStringValue(cJSON_GetObjectItem(cs, "prompt"));
    const char *neg = cJSON_GetStringValue(cJSON_GetObjectItem(cs, "negative"));
    int steps = cJSON_GetObjectItem(cs, "steps")->valueint;
    CHECK_OK(mend_cond_build(m->clip, m->tokenizer, prompt, steps, &o, &cond, &err), &err);
    CHECK_OK(mend_cond_build(m->clip, m->tokenizer, neg ? neg : "", steps, &o, &uncond, &err), &err);
    float *rc = test_load_f32(ref, "cond", NULL), *ru = test_load_f32(ref, "uncond", NULL);
    if (rc && ru && cond.n && uncond.n) {
        CHECK_MSG(test_max_abs_diff(cond.items[0].cond, rc, 77 * 32) <= 1e-4, "%s: cond", file);
        CHECK_MSG(test_max_abs_diff(uncond.items[0].cond, ru, 77 * 32) <= 1e-4, "%s: uncond", file);
    }
    if (inpaint) {
        check_init_latent(m, ref, file, B);
        check_latent_mask(ref, file);
    }
    float *init = inpaint ? test_load_f32(ref, "init_latent", NULL) : NULL;
    float *nmask = inpaint ? test_load_f32(ref, "latent_nmask_repaint", NULL) : NULL; /* [4,h,w]: use channel 0 */
    float *icond = mend_tf_find(ref, "image_cond") ? test_load_f32(ref, "image_cond", NULL) : NULL;
    CHECK_MSG((icond != NULL) == (mend_unet_get_arch(m->unet)->in_channels == 9), "%s: image_cond", file);
    float *x = test_load_f32(ref, "x_start", NULL), *sig = NULL;
    int64_t nsig = 0;
    sig = test_load_f32(ref, "sigmas_schedule", &nsig);
    mend_noise_schedule sched;
    mend_schedule_init_sd1(&sched);
    mend_cfg_denoiser den = {m->unet, &sched, B, h, w, &cond, &uncond, 7.0f, icond, init, nmask, 0, 0, NULL, NULL};
    CHECK_OK(mend_cfg_denoiser_init(&den, &err), &err);
    ctx c = {ref, file, &den, n, 0, 0, 0};
    mend_sampler_callbacks cb = {denoise, noise, NULL, &c};
    if (x && sig && cond.n && uncond.n) {
        CHECK_OK(mend_sample(info->kind, NULL, sig, (int)nsig, x, n, &cb, &err), &err);
        if (nmask) /* A1111's final blend */
            for (int64_t i = 0; i < n; i++)
                x[i] = x[i] * nmask[i % (h * w)] + init[i] * (1.0f - nmask[i % (h * w)]);
        float *want = test_load_f32(ref, "samples_final", NULL);
        double e = want ? test_max_abs_diff(x, want, n) : 1e9;
        CHECK_MSG(e <= 5e-3, "%s: final samples err %g", file, e);
        printf("%-36s %2d calls, worst call rel err %.1e, final err %.1e\n", file, c.calls, c.worst_call, e);
        free(want);
    }
    mend_cfg_denoiser_free(&den);
    mend_cond_free(&cond);
    mend_cond_free(&uncond);
    free(rc), free(ru), free(init), free(nmask), free(icond), free(x), free(sig);
    mend_tf_close(ref);
    cJSON_Delete(j);
}

TEST(a1111_trajectories_with_our_unet)
{
    REQUIRE_SHARED(dir, "samplers");
    char dirpath[1024];
    snprintf(dirpath, sizeof dirpath, "%.1000s", dir);
    DIR *d = opendir(dirpath);
    CHECK(d != NULL);
    if (!d)
        return;
    struct dirent *e;
    char names[64][256];
    int count = 0;
    while ((e = readdir(d)) && count < 64)
        if (strstr(e->d_name, ".json"))
            snprintf(names[count++], sizeof names[0], "%.200s", e->d_name);
    closedir(d);
    for (int i = 0; i < count; i++)
        run_file(dirpath, names[i]);
    CHECK(count >= 10);
}

int main(void)
{
    RUN(a1111_trajectories_with_our_unet);
    mend_sd_free(g_models[0]);
    mend_sd_free(g_models[1]);
    return test_summary();
}
