/* End to end through the engine's components against diffusers 0.27.2
 * (shared/testdata/pipeline): given prompt embeddings and the initial
 * noise, 4 Euler steps with CFG through our UNet, then our VAE decode.
 * For the 9-channel model the masked image is encoded by our VAE with the
 * posterior noise drawn from our torch-compatible CPU generator (seed+1),
 * so this also checks the VAE encoder and the RNG in the loop. The sigma
 * schedule and timesteps are diffusers' own and are read from the file. */
#include "test.h"

#include "core/rng.h"
#include "model/sd_model.h"

#include <string.h>

static mend_sd_model *load(const char *name)
{
    const char *p = test_shared(name);
    if (!p)
        return NULL;
    mend_sd_model *m = NULL;
    mend_err err = {0};
    CHECK_OK(mend_sd_load(p, NULL, MEND_COMP_UNET | MEND_COMP_VAE, &m, &err), &err);
    return m;
}

/* diffusers StableDiffusionInpaintPipeline.prepare_mask_latents:
 * mask = (mask_u8/255 >= 0.5), masked = image * (mask < 0.5) in [-1, 1],
 * latent mask = nearest downscale (pixel 8i, 8j). */
static void inpaint_conditioning(mend_sd_model *m, const mend_tf *ref, int H, int W, int seed, float *cond5)
{
    int64_t hw = (int64_t)H * W, h = H / 8, w = W / 8;
    const mend_tf_tensor *ti = mend_tf_find(ref, "image"), *tm = mend_tf_find(ref, "mask");
    CHECK(ti && tm);
    if (!ti || !tm)
        return;
    float *img = malloc((size_t)(3 * hw) * sizeof *img), *mom = malloc((size_t)(8 * h * w) * sizeof *mom);
    float noise[4 * 64 * 64];
    for (int64_t p = 0; p < hw; p++) {
        int keep = tm->data[p] / 255.0 < 0.5;
        for (int c = 0; c < 3; c++)
            img[c * hw + p] = keep ? ti->data[p * 3 + c] / 255.0f * 2.0f - 1.0f : 0.0f;
    }
    mend_err err = {0};
    CHECK_OK(mend_vae_encode(m->vae, img, 1, H, W, mom, &err), &err);
    mend_rng rng;
    mend_rng_init(&rng, MEND_RNG_CPU, (uint64_t)seed + 1);
    mend_rng_randn(&rng, noise, 4 * h * w);
    mend_vae_posterior(mom, noise, 1, 4, h * w, cond5 + h * w);
    for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x < w; x++)
            cond5[y * w + x] = tm->data[(y * 8) * W + x * 8] / 255.0 >= 0.5 ? 1.0f : 0.0f;
    free(img);
    free(mom);
}

static void run_case(const char *model_name, const char *ref_name, int inpaint)
{
    const char *rp = test_shared(ref_name);
    if (!rp)
        return;
    mend_sd_model *m = load(model_name);
    mend_tf *ref = NULL;
    mend_err err = {0};
    CHECK_OK(mend_tf_open(rp, &ref, &err), &err);
    if (!m || !ref) {
        mend_sd_free(m);
        mend_tf_close(ref);
        return;
    }
    const int H = 64, W = 64, h = 8, w = 8, seed = inpaint ? 501 : 500;
    const int64_t n = 4 * h * w;
    int cin = mend_unet_get_arch(m->unet)->in_channels;
    float *pos = test_load_f32(ref, "prompt_embeds", NULL), *neg = test_load_f32(ref, "negative_prompt_embeds", NULL);
    float *lat = test_load_f32(ref, "initial_latents", NULL), *sig = test_load_f32(ref, "sigmas", NULL);
    float *ts = test_load_f32(ref, "timesteps", NULL);
    float ctx[2 * 77 * 32], in[2 * 9 * 64], out[2 * 4 * 64], cond5[5 * 64] = {0};
    memcpy(ctx, neg, sizeof(float) * 77 * 32); /* diffusers: [uncond, cond] */
    memcpy(ctx + 77 * 32, pos, sizeof(float) * 77 * 32);
    if (inpaint)
        inpaint_conditioning(m, ref, H, W, seed, cond5);
    for (int64_t i = 0; i < n; i++)
        lat[i] *= sig[0]; /* init_noise_sigma = max sigma for linspace spacing */
    for (int step = 0; step < 4; step++) {
        float s = sig[step], c_in = 1.0f / sqrtf(s * s + 1.0f);
        for (int b = 0; b < 2; b++) {
            for (int64_t i = 0; i < n; i++)
                in[b * cin * 64 + i] = lat[i] * c_in;
            if (inpaint)
                memcpy(in + b * cin * 64 + n, cond5, sizeof cond5);
        }
        float t2[2] = {ts[step], ts[step]};
        CHECK_OK(mend_unet_forward(m->unet, in, 2, h, w, t2, ctx, 77, out, &err), &err);
        for (int64_t i = 0; i < n; i++) {
            float eps = out[i] + 7.0f * (out[n + i] - out[i]);
            lat[i] += eps * (sig[step + 1] - s);
        }
        char name[64];
        snprintf(name, sizeof name, "step/%03d/latents", step);
        float *want = test_load_f32(ref, name, NULL);
        if (want)
            CHECK_MSG(test_max_abs_diff(lat, want, n) <= 5e-3, "%s %s: %g", ref_name, name,
                      test_max_abs_diff(lat, want, n));
        free(want);
    }
    /* inpaint_euler_4steps's final_latents come from a separate
     * output_type='latent' run that does not agree with its own
     * step/003/latents (max diff ~14) while its image_np does; we check the
     * step latents and the image there. */
    float *final = test_load_f32(ref, inpaint ? "step/003/latents" : "final_latents", NULL);
    float *img_np = test_load_f32(ref, "image_np", NULL);
    double e = final ? test_max_abs_diff(lat, final, n) : 1e9;
    CHECK_MSG(e <= 5e-3, "%s final latents: %g", ref_name, e);
    float *dec = malloc(3 * H * W * sizeof *dec);
    CHECK_OK(mend_vae_decode(m->vae, lat, 1, h, w, dec, &err), &err);
    double worst = 0;
    for (int p = 0; img_np && p < H * W; p++)
        for (int c = 0; c < 3; c++) {
            float v = dec[c * H * W + p] / 2 + 0.5f;
            v = v < 0 ? 0 : v > 1 ? 1 : v;
            double d = fabs(v - img_np[p * 3 + c]);
            worst = d > worst ? d : worst;
        }
    CHECK_MSG(worst <= 5e-3, "%s image: %g", ref_name, worst);
    printf("%s: final latents err %.2e, image err %.2e\n", ref_name, e, worst);
    free(pos), free(neg), free(lat), free(sig), free(ts), free(final), free(img_np), free(dec);
    mend_tf_close(ref);
    mend_sd_free(m);
}

TEST(txt2img_euler_4steps)
{
    run_case("models/tiny-sd1.f16.safetensors", "pipeline/sd_euler_4steps.safetensors", 0);
}

TEST(inpaint_model_euler_4steps)
{
    run_case("models/tiny-sd1-inpaint.f16.safetensors", "pipeline/inpaint_euler_4steps.safetensors", 1);
}

int main(void)
{
    RUN(txt2img_euler_4steps);
    RUN(inpaint_model_euler_4steps);
    return test_summary();
}
