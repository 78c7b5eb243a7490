/* Property tests of the generation pipeline (mend_generate) on tiny
 * random-weight models: seeds, batches and thread counts give the bytes
 * they must; strength 0 and 1, the inpainting model's mask weight; every
 * sampler runs, DDIM's timesteps, interrupt yields the images made so far. */
#include "pipeline_fixture.h"

#include "sampling/sampler.h"

#include <string.h>

/* ---------------- seeds, batches, threads ---------------- */

TEST(same_seed_same_bytes)
{
    REQUIRE_MODEL(m, sd_model);
    mend_image img = make_image(64, 64), mask = make_mask(64, 64, 8, 8, 40, 40);
    mend_gen_params p = base_params();
    p.sampler_name = "Euler a";
    mend_gen_output a, b, c;
    mend_err err = {0};
    CHECK_OK(gen(m, &p, &img, &mask, &a, &err), &err);
    CHECK_OK(gen(m, &p, &img, &mask, &b, &err), &err);
    p.seed++;
    CHECK_OK(gen(m, &p, &img, &mask, &c, &err), &err);
    if (a.count == 1 && b.count == 1 && c.count == 1) {
        CHECK(same_image(&a.images[0], &b.images[0]));
        CHECK(strcmp(a.infotexts[0], b.infotexts[0]) == 0);
        CHECK(!same_image(&a.images[0], &c.images[0]));
    }
    mend_gen_output_free(&a);
    mend_gen_output_free(&b);
    mend_gen_output_free(&c);
    mend_image_free(&img);
    mend_image_free(&mask);
}

TEST(thread_count_does_not_change_bytes)
{
    REQUIRE_MODEL(m, sd_model);
    int saved = mend_get_threads();
    mend_image img = make_image(64, 64), mask = make_mask(64, 64, 8, 8, 40, 40);
    mend_gen_params p = base_params();
    p.sampler_name = "DPM++ 2M";
    for (int inpaint = 0; inpaint < 2; inpaint++) {
        mend_gen_output one, two;
        mend_err err = {0};
        mend_set_threads(1);
        CHECK_OK(gen(m, &p, inpaint ? &img : NULL, inpaint ? &mask : NULL, &one, &err), &err);
        mend_set_threads(2);
        CHECK_OK(gen(m, &p, inpaint ? &img : NULL, inpaint ? &mask : NULL, &two, &err), &err);
        if (one.count == 1 && two.count == 1)
            CHECK_MSG(same_image(&one.images[0], &two.images[0]), "inpaint %d: 1 vs 2 threads differ", inpaint);
        mend_gen_output_free(&one);
        mend_gen_output_free(&two);
    }
    mend_set_threads(saved);
    mend_image_free(&img);
    mend_image_free(&mask);
}

/* batch_size 2 x n_iter 2: seeds seed..seed+3, and every image equals the
 * single-image run with its seed (A1111's batch determinism, §7.2; up to
 * float reordering, see near_image). */
TEST(batch_and_iterations_follow_seeds)
{
    REQUIRE_MODEL(m, sd_model);
    mend_image img = make_image(64, 64), mask = make_mask(64, 64, 24, 8, 56, 40);
    mend_gen_params p = base_params();
    p.sampler_name = "Euler a"; /* draws per-image noise every step */
    p.batch_size = 2;
    p.n_iter = 2;
    for (int inpaint = 0; inpaint < 2; inpaint++) {
        const mend_image *init = inpaint ? &img : NULL, *mk = inpaint ? &mask : NULL;
        mend_gen_output all;
        mend_err err = {0};
        p.batch_size = 2;
        p.n_iter = 2;
        CHECK_OK(gen(m, &p, init, mk, &all, &err), &err);
        CHECK(all.count == 4);
        for (int i = 0; i < all.count; i++) {
            CHECK(all.seeds[i] == p.seed + i);
            char key[64];
            snprintf(key, sizeof key, "Seed: %lld,", (long long)(p.seed + i));
            CHECK_MSG(strstr(all.infotexts[i], key) != NULL, "image %d infotext: %s", i, all.infotexts[i]);
        }
        mend_gen_params single = p;
        single.batch_size = single.n_iter = 1;
        for (int i = 0; i < all.count; i += 3) { /* first of the first batch, last of the second */
            mend_gen_output one;
            single.seed = p.seed + i;
            CHECK_OK(gen(m, &single, init, mk, &one, &err), &err);
            if (one.count == 1)
                CHECK_MSG(near_image(&one.images[0], &all.images[i]), "inpaint %d: image %d != single run", inpaint,
                          i);
            mend_gen_output_free(&one);
        }
        mend_gen_output_free(&all);
    }
    mend_image_free(&img);
    mend_image_free(&mask);
}

TEST(variation_seed_changes_result)
{
    REQUIRE_MODEL(m, sd_model);
    mend_gen_params p = base_params();
    p.batch_size = 2;
    mend_gen_output a, b;
    mend_err err = {0};
    CHECK_OK(gen(m, &p, NULL, NULL, &a, &err), &err);
    p.subseed_strength = 0.5f;
    CHECK_OK(gen(m, &p, NULL, NULL, &b, &err), &err);
    if (a.count == 2 && b.count == 2) {
        CHECK(!same_image(&a.images[0], &b.images[0]));
        /* §7.1: with a variation strength every image has the seed, the subseeds count up */
        CHECK(b.seeds[0] == p.seed && b.seeds[1] == p.seed);
        CHECK(b.subseeds[0] == p.subseed && b.subseeds[1] == p.subseed + 1);
        CHECK(a.seeds[1] == p.seed + 1 && a.subseeds[1] == p.subseed + 1); /* A1111 counts subseeds up always */
        CHECK(!same_image(&b.images[0], &b.images[1]));
        CHECK(strstr(b.infotexts[1], "Variation seed: 100,") != NULL);
        CHECK(strstr(a.infotexts[0], "Variation seed") == NULL);
    }
    mend_gen_output_free(&a);
    mend_gen_output_free(&b);
}

/* ---------------- strength, inpainting model ---------------- */

/* Strength 0 runs one step from the smallest sigma, so the final latent
 * stays next to the init latent; strength 1 runs every step from sigma_max
 * and lands far from it. (Compared in latent space: a random VAE decoder
 * amplifies tiny latent changes into large pixel changes.) With Euler the
 * last step's x0 prediction is the final latent. */
TEST(strength_zero_and_one)
{
    REQUIRE_MODEL(m, sd_model);
    mend_image img = make_image(64, 64);
    mend_gen_params p = base_params();
    p.steps = 4;
    float *lat = init_latent(m, &p, &img, NULL, NULL);
    double dist[2] = {0, 0}, scale = 0;
    for (int k = 0; k < 2 && lat; k++) {
        p.denoising_strength = (float)k;
        step_log log = {0, 0, 1, {0}, -1, MEND_OK};
        mend_gen_output out;
        mend_gen_inputs in = {.init_image = &img, .mask = NULL};
        mend_err err = {0};
        CHECK_OK(mend_generate(m, &p, &in, log_step, &log, &out, &err), &err);
        CHECK_MSG(log.calls == (k ? p.steps : 1) && log.last_total == log.calls, "strength %d: %d steps of %d", k,
                  log.calls, log.last_total);
        for (int i = 0; i < 4 * 64; i++) {
            dist[k] += fabs(log.last[i] - lat[i]) / 256;
            scale += k ? 0 : fabs(lat[i]) / 256;
        }
        if (out.count == 1)
            CHECK(strstr(out.infotexts[0], k ? "Denoising strength: 1.0," : "Denoising strength: 0.0,") != NULL);
        mend_gen_output_free(&out);
    }
    CHECK_MSG(dist[0] < 0.25 * dist[1] && dist[1] > scale, "mean |final - init| %.4f (s=0), %.4f (s=1), |init| %.4f",
              dist[0], dist[1], scale);
    free(lat);
    mend_image_free(&img);
}

TEST(inpainting_model_mask_weight)
{
    REQUIRE_MODEL(m, inpaint_model);
    CHECK(mend_unet_get_arch(m->unet)->in_channels == 9);
    mend_image img = make_image(64, 64), mask = make_mask(64, 64, 16, 16, 48, 48);
    mend_gen_params p = base_params();
    mend_gen_output w0, w1, w1b, t2i;
    mend_err err = {0};
    p.inpainting_mask_weight = 0.0f;
    CHECK_OK(gen(m, &p, &img, &mask, &w0, &err), &err);
    p.inpainting_mask_weight = 1.0f;
    CHECK_OK(gen(m, &p, &img, &mask, &w1, &err), &err);
    CHECK_OK(gen(m, &p, &img, &mask, &w1b, &err), &err);
    CHECK_OK(gen(m, &p, NULL, NULL, &t2i, &err), &err);
    if (w0.count == 1 && w1.count == 1 && w1b.count == 1) {
        CHECK(!same_image(&w0.images[0], &w1.images[0]));
        CHECK(same_image(&w1.images[0], &w1b.images[0]));
        CHECK(strstr(w0.infotexts[0], "Conditional mask weight: 0.0") != NULL);
    }
    CHECK(t2i.count == 1);
    mend_gen_output_free(&w0);
    mend_gen_output_free(&w1);
    mend_gen_output_free(&w1b);
    mend_gen_output_free(&t2i);
    mend_image_free(&img);
    mend_image_free(&mask);
}

/* ---------------- every sampler, interrupt ---------------- */

TEST(every_sampler_runs)
{
    REQUIRE_MODEL(m, sd_model);
    mend_image img = make_image(64, 64), mask = make_mask(64, 64, 16, 16, 48, 48);
    int count = 0;
    const mend_sampler_info *list = mend_sampler_list(&count);
    CHECK(count >= 13);
    for (int i = 0; i < count; i++) {
        for (int inpaint = 0; inpaint < 2; inpaint++) {
            mend_gen_params p = base_params();
            p.sampler_name = list[i].name;
            p.steps = 3;
            if (list[i].kind == MEND_SAMPLER_UNIPC) /* its order: 3 timesteps at least, also at strength 0.75 */
                p.steps = 4;
            step_log log = {0, 0, 1, {0}, -1, MEND_OK};
            mend_gen_inputs in = {.init_image = inpaint ? &img : NULL, .mask = inpaint ? &mask : NULL};
            mend_gen_output out;
            mend_err err = {0};
            CHECK_OK(mend_generate(m, &p, &in, log_step, &log, &out, &err), &err);
            CHECK_MSG(out.count == 1 && log.calls >= 1 && log.finite, "%s inpaint %d: %d images, %d steps, finite %d",
                      list[i].name, inpaint, out.count, log.calls, log.finite);
            if (out.count == 1)
                CHECK(out.images[0].width == 64 && out.images[0].height == 64);
            mend_gen_output_free(&out);
        }
    }
    mend_image_free(&img);
    mend_image_free(&mask);
}

/* A1111's DDIM timesteps are range(0, 1000, 1000 // steps) + 1: 3 steps
 * give 4 timesteps and 3 model calls; img2img with t_enc <= 1 makes no
 * model call at all and keeps the noised init latent. */
TEST(ddim_timesteps_as_a1111)
{
    REQUIRE_MODEL(m, sd_model);
    CHECK(mend_ddim_count(20) == 20 && mend_ddim_count(3) == 4 && mend_ddim_count(30) == 31);
    CHECK(mend_ddim_timestep(3, 3) == 999 && mend_ddim_timestep(30, 30) == 991);
    mend_image img = make_image(64, 64);
    mend_gen_params p = base_params();
    p.sampler_name = "DDIM";
    const float strength[] = {0.75f, 0.75f, 0.6f};
    const int calls[] = {3, 1, 0}; /* txt2img 3 steps; img2img t_enc = 2, 1 */
    for (int k = 0; k < 3; k++) {
        p.denoising_strength = strength[k];
        step_log log = {0, 0, 1, {0}, -1, MEND_OK};
        mend_gen_inputs in = {.init_image = k ? &img : NULL, .mask = NULL};
        mend_gen_output out;
        mend_err err = {0};
        CHECK_OK(mend_generate(m, &p, &in, log_step, &log, &out, &err), &err);
        CHECK_MSG(out.count == 1 && log.calls == calls[k], "case %d: %d model steps, expected %d", k, log.calls,
                  calls[k]);
        mend_gen_output_free(&out);
    }
    mend_image_free(&img);
}

/* Interrupt in the first batch: that batch is finished from its latest
 * prediction, no further batch runs. Another error from the callback fails
 * the job and leaves no output. */
TEST(interrupt_yields_images)
{
    REQUIRE_MODEL(m, sd_model);
    mend_image img = make_image(64, 64), mask = make_mask(64, 64, 16, 16, 48, 48);
    mend_gen_params p = base_params();
    p.batch_size = 2;
    p.n_iter = 3;
    p.steps = 4;
    for (int inpaint = 0; inpaint < 2; inpaint++) {
        step_log log = {0, 0, 1, {0}, 1, MEND_E_INTERRUPTED};
        mend_gen_inputs in = {.init_image = inpaint ? &img : NULL, .mask = inpaint ? &mask : NULL};
        mend_gen_output out;
        mend_err err = {0};
        CHECK_OK(mend_generate(m, &p, &in, log_step, &log, &out, &err), &err);
        CHECK(out.interrupted == 1);
        CHECK_MSG(out.count == 2 && log.calls == 2, "inpaint %d: %d images after %d steps", inpaint, out.count,
                  log.calls);
        for (int i = 0; i < out.count; i++)
            CHECK(out.images[i].data && out.images[i].width == 64 && out.infotexts[i]);
        mend_gen_output_free(&out);

        log = (step_log){0, 0, 1, {0}, 1, MEND_E_IO};
        CHECK(mend_generate(m, &p, &in, log_step, &log, &out, &err) == MEND_E_IO);
        CHECK(strstr(err.msg, "progress") != NULL);
        CHECK(out.count == 0 && out.images == NULL);
    }
    mend_image_free(&img);
    mend_image_free(&mask);
}

int main(void)
{
    RUN(same_seed_same_bytes);
    RUN(thread_count_does_not_change_bytes);
    RUN(batch_and_iterations_follow_seeds);
    RUN(variation_seed_changes_result);
    RUN(strength_zero_and_one);
    RUN(inpainting_model_mask_weight);
    RUN(every_sampler_runs);
    RUN(ddim_timesteps_as_a1111);
    RUN(interrupt_yields_images);
    pipeline_models_free();
    return test_summary();
}
