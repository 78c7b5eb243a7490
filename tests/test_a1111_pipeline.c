/* The A1111 pipeline end to end on the tiny models, against the trajectories
 * A1111 v1.10.1 recorded (the jsons in shared/testdata/samplers): our prompt
 * conditioning, init latent (VAE encode + posterior sample with the
 * recorded noise), latent mask, 9-channel image conditioning, and then our
 * CFG denoiser around our UNet inside our sampler, replaying only the
 * recorded random draws. Checked: every model call (x0 prediction after CFG
 * and mask blending, per-call relative error <= 1e-4 as the jsons give) and
 * the final samples (<= 5e-3). */
#include "sampling_fixture.h"

#include "inpaint/conditioning.h"
#include "inpaint/denoiser.h"
#include "inpaint/imageops.h"
#include "inpaint/lora_run.h"
#include "model/sd_model.h"
#include "sampling/lcm.h"
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

/* Our denoiser on the sampler's x; compared with the recorded call. */
static mend_status denoise(void *user, const float *x, float sigma, float *out, mend_err *err)
{
    ctx *c = user;
    MEND_TRY(mend_cfg_denoise(c->den, x, sigma, out, err));
    char name[64];
    if (c->den->lcm) { /* the UNet's timestep: the snapped integer LCM level, exactly */
        mend_lcm_schedule l;
        mend_lcm_init(&l, c->den->sched);
        snprintf(name, sizeof name, "call/%03d/t", c->calls);
        float *t = test_load_f32(c->ref, name, NULL);
        float got = mend_lcm_sigma_to_t(&l, sigma);
        CHECK_MSG(t && t[0] == got, "%s %s: t %g, A1111 %g", c->file, name, (double)got, t ? (double)t[0] : -1.0);
        free(t);
    }
    snprintf(name, sizeof name, "call/%03d/denoised", c->calls++);
    float *want = test_load_f32(c->ref, name, NULL);
    if (want) {
        double e = rel_err_to_scale(out, want, c->n);
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

/* Our init latent: VAE(init_image) posterior with the recorded noise. The
 * sizes come from the recorded tensors: init_image [B,3,H,W], latent
 * [B,4,H/8,W/8]. */
static void check_init_latent(mend_sd_model *m, const mend_tf *ref, const char *file, int B, int h, int w)
{
    const mend_tf_tensor *ti = mend_tf_find(ref, "init_image");
    CHECK_MSG(ti && ti->ndim == 4 && ti->shape[0] == B && ti->shape[1] == 3 && ti->shape[2] == 8 * h &&
                  ti->shape[3] == 8 * w,
              "%s: init_image missing or not [%d,3,%d,%d]", file, B, 8 * h, 8 * w);
    if (!ti || ti->ndim != 4 || ti->shape[0] != B || ti->shape[2] != 8 * h || ti->shape[3] != 8 * w)
        return;
    int64_t npix = 3 * (int64_t)(8 * h) * (8 * w), nlat = 4 * (int64_t)h * w;
    float *img = test_load_f32(ref, "init_image", NULL), *vn = test_load_f32(ref, "vae_sample_noise_init", NULL);
    float *want = test_load_f32(ref, "init_latent", NULL);
    float *x = malloc((size_t)npix * sizeof *x), *mom = malloc((size_t)(2 * nlat) * sizeof *mom);
    float *got = malloc((size_t)(B * nlat) * sizeof *got);
    mend_err err = {0};
    int ok = img && vn && want && x && mom && got;
    for (int b = 0; ok && b < B; b++) {
        for (int64_t i = 0; i < npix; i++)
            x[i] = img[b * npix + i] * 2.0f - 1.0f;
        CHECK_OK(mend_vae_encode(m->vae, x, 1, 8 * h, 8 * w, mom, &err), &err);
        mend_vae_posterior(mom, vn + b * nlat, 1, 4, h * w, got + b * nlat);
    }
    if (ok) {
        double d = test_max_abs_diff(got, want, B * nlat);
        CHECK_MSG(d <= 1e-3, "%s: init latent err %g", file, d);
    }
    free(img), free(vn), free(want), free(x), free(mom), free(got);
}

/* Our latent mask from the W x H mask image (A1111 p.nmask), at the
 * recorded latent size. */
static void check_latent_mask(const mend_tf *ref, const char *file, int h, int w)
{
    const mend_tf_tensor *t = mend_tf_find(ref, "mask_image");
    CHECK_MSG(t && t->ndim == 2, "%s: mask_image missing or not 2-D", file);
    float *want = test_load_f32(ref, "latent_nmask_repaint", NULL);
    float *got = malloc((size_t)h * w * sizeof *got);
    if (t && t->ndim == 2 && want && got) {
        mend_image mask = {(int)t->shape[1], (int)t->shape[0], 1, (uint8_t *)t->data};
        mend_err err = {0};
        CHECK_OK(mend_latent_mask(&mask, w, h, 1, got, &err), &err);
        CHECK_MSG(memcmp(got, want, (size_t)h * w * sizeof *got) == 0, "%s: latent mask differs", file);
    }
    free(want);
    free(got);
}

/* max |a-b| of our conditioning against a recorded [1,T,D] tensor */
static void check_cond(const mend_tf *ref, const char *name, const mend_cond_schedule *ours, const char *file)
{
    const mend_tf_tensor *t = mend_tf_find(ref, name);
    float *want = test_load_f32(ref, name, NULL);
    if (t && want && ours->n) {
        int64_t n = mend_tf_numel(t);
        int64_t have = (int64_t)ours->tokens * ours->width;
        /* recorded per batch item: [B, tokens, width] */
        CHECK_MSG(have > 0 && n % have == 0, "%s: %s has %lld values, ours %lld per item", file, name, (long long)n,
                  (long long)have);
        for (int64_t off = 0; have > 0 && n % have == 0 && off < n; off += have)
            CHECK_MSG(test_max_abs_diff(ours->items[0].cond, want + off, have) <= 1e-4, "%s: %s", file, name);
    }
    free(want);
}

/* A case with <lora:...> in its prompt (its json's "lora"): the networks
 * applied to the live model as a job applies them, from lora/files; the
 * text left for the encoder, the infotext hashes and each network's matched
 * modules as A1111 recorded them. */
static void begin_lora(mend_sd_model *m, const cJSON *lora, const char *prompt, mend_lora_run *run, const char *file)
{
    mend_err err = {0};
    CHECK_OK(mend_lora_run_begin(m, prompt, test_shared("lora/files"), run, &err), &err);
    const char *text = test_json_string(lora, "prompt_after_tags_removed", file);
    const char *hashes = test_json_string(lora, "infotext_Lora_hashes", file);
    CHECK_MSG(text && run->tags.text && !strcmp(text, run->tags.text), "%s: text left '%s'", file, run->tags.text);
    CHECK_MSG(hashes && run->hashes && !strcmp(hashes, run->hashes), "%s: Lora hashes '%s'", file, run->hashes);
    const cJSON *nets = test_json_need(lora, "networks", file);
    CHECK_MSG(cJSON_GetArraySize(nets) == run->nnets, "%s: %d networks", file, run->nnets);
    for (int i = 0; i < run->nnets && i < cJSON_GetArraySize(nets); i++) {
        int want = (int)test_json_number(cJSON_GetArrayItem(nets, i), "modules_matched", -1, file);
        CHECK_MSG(run->nets[i].modules == want, "%s: %s matched %d modules, A1111 %d", file, run->nets[i].name,
                  run->nets[i].modules, want);
    }
    CHECK_MSG(!run->warnings, "%s: warnings %s", file, run->warnings);
}

/* One recorded trajectory; returns 1 if it was replayed. */
static int run_file(const char *dir, const char *json_name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%.256s.json", dir, json_name);
    char *text = test_read_file(path, NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    cJSON *cs = cJSON_GetObjectItem(j, "case");
    const char *sampler_name = cJSON_GetStringValue(cJSON_GetObjectItem(cs, "sampler"));
    const char *model = cJSON_GetStringValue(cJSON_GetObjectItem(cs, "model"));
    const char *file = cJSON_GetStringValue(cJSON_GetObjectItem(j, "file"));
    if (!cs || !sampler_name || !model || !file) {
        cJSON_Delete(j);
        return 0; /* schedules.json, index.json */
    }
    const mend_sampler_info *info = NULL;
    mend_err err = {0};
    if (mend_sampler_from_name(sampler_name, &info, &err) != MEND_OK) {
        test_skip("%s: sampler '%s' is not implemented", file, sampler_name);
        cJSON_Delete(j);
        return 0;
    }
    const cJSON *lora = cJSON_GetObjectItem(j, "lora");
    if (cJSON_IsObject(lora) && !test_shared("lora/files")) {
        test_skip("%s: lora/files not found", file);
        cJSON_Delete(j);
        return 0;
    }
    mend_sd_model *m = model_for(model);
    snprintf(path, sizeof path, "%s/%.256s", dir, file);
    mend_tf *ref = NULL;
    CHECK_OK(mend_tf_open(path, &ref, &err), &err);
    const mend_tf_tensor *xs = ref ? mend_tf_find(ref, "x_start") : NULL;
    if (!info || !m || !ref || !xs || (info->flags & MEND_SAMPLER_BROWNIAN)) {
        mend_tf_close(ref);
        cJSON_Delete(j);
        return 0; /* SDE samplers: A1111's noise there is not replayable per call */
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
    int steps = (int)test_json_number(cs, "steps", 20, file);
    float cfg = (float)test_json_number(cs, "cfg", 7.0, file);
    mend_lora_run run = {0};
    if (cJSON_IsObject(lora))
        begin_lora(m, lora, prompt, &run, file);
    CHECK_OK(mend_cond_build(m->clip, m->tokenizer, run.tags.text ? run.tags.text : prompt, steps, &o, &cond, &err),
             &err);
    CHECK_OK(mend_cond_build(m->clip, m->tokenizer, neg ? neg : "", steps, &o, &uncond, &err), &err);
    check_cond(ref, "cond", &cond, file);
    check_cond(ref, "uncond", &uncond, file);
    if (inpaint) {
        check_init_latent(m, ref, file, B, h, w);
        check_latent_mask(ref, file, h, w);
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
    mend_cfg_denoiser den = {m->unet, &sched, B, h, w, &cond, &uncond, cfg, icond, init, nmask, 0, 0, NULL, NULL, 0};
    den.lcm = (info->flags & MEND_SAMPLER_LCM_MODEL) != 0;
    CHECK_OK(mend_cfg_denoiser_init(&den, &err), &err);
    ctx c = {ref, file, &den, n, 0, 0, 0};
    mend_sampler_callbacks cb = {denoise, noise, NULL, &c, NULL};
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
    free(init), free(nmask), free(icond), free(x), free(sig);
    mend_lora_run_end(&run); /* the cached model's own weights back for the next cases */
    mend_tf_close(ref);
    cJSON_Delete(j);
    return 1;
}

TEST(a1111_trajectories_with_our_unet)
{
    REQUIRE_SHARED(dir, "samplers");
    char **names = NULL;
    int count = test_list_cases("samplers", ".json", &names), replayed = 0;
    for (int i = 0; i < count; i++)
        replayed += run_file(dir, names[i]);
    printf("%d of %d recorded cases replayed (SDE samplers and index files are not replayable)\n", replayed, count);
    CHECK_MSG(replayed > 0, "no replayable trajectory in %s", dir);
    test_free_list(names, count);
}

int main(void)
{
    RUN(a1111_trajectories_with_our_unet);
    mend_sd_free(g_models[0]);
    mend_sd_free(g_models[1]);
    return test_summary();
}
