/* txt2img's hires fix (issue 11 item 2; src/inpaint/hires.c): torch's
 * interpolate modes for the latent upscalers, worked out by hand from
 * torch's kernels' definitions; then jobs on tiny-sd1 / tiny-sd1-inpaint
 * from ../shared (skipped without it): the target size (hr_scale,
 * hr_resize with A1111's cut), the second pass's step count (A1111's
 * fixed-steps rule), every upscaler, the infotext keys in A1111's order
 * and read back, 9-channel models, an Interrupt before the pass, and the
 * bad inputs. */
#include "pipeline_fixture.h"

#include "inpaint/latent_resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int near(const float *got, const float *want, int n, float tol)
{
    for (int i = 0; i < n; i++)
        if (fabsf(got[i] - want[i]) > tol)
            return 0;
    return 1;
}

static void interp_1d(const float *x, int in, float *y, int out, mend_interp_mode mode, int aa)
{
    mend_err err = {0};
    CHECK_OK(mend_interpolate(x, 1, 1, in, y, 1, out, mode, aa, &err), &err);
}

TEST(interpolate_follows_torch)
{
    const float ramp[2] = {0, 1};
    float y[5];
    /* bilinear, align_corners=False: source (o + 0.5) / 2 - 0.5, clamped at 0 */
    interp_1d(ramp, 2, y, 4, MEND_INTERP_BILINEAR, 0);
    CHECK_MSG(near(y, (const float[]){0, 0.25f, 0.75f, 1}, 4, 1e-7f), "bilinear %g %g %g %g", y[0], y[1], y[2], y[3]);
    /* bicubic, A = -0.75, taps outside read the edge: o = 0 is cc2(1.25) = -0.10546875, o = 1 is
     * cc1(0.75) + cc2(1.75) = 0.26171875 - 0.03515625 */
    interp_1d(ramp, 2, y, 4, MEND_INTERP_BICUBIC, 0);
    CHECK_MSG(near(y, (const float[]){-0.10546875f, 0.2265625f, 0.7734375f, 1.10546875f}, 4, 1e-6f),
              "bicubic %g %g %g %g", y[0], y[1], y[2], y[3]);
    const float abc[3] = {10, 20, 30};
    interp_1d(abc, 3, y, 5, MEND_INTERP_NEAREST, 0); /* floor(o * 0.6) */
    CHECK(near(y, (const float[]){10, 10, 20, 20, 30}, 5, 0));
    interp_1d(abc, 3, y, 5, MEND_INTERP_NEAREST_EXACT, 0); /* floor((o + 0.5) * 0.6) */
    CHECK(near(y, (const float[]){10, 10, 20, 30, 30}, 5, 0));
    /* antialiased bilinear down 4 -> 2: a triangle of support 2, weights 0.75, 0.75, 0.25 over the first three */
    const float four[4] = {0, 1, 2, 3};
    interp_1d(four, 4, y, 2, MEND_INTERP_BILINEAR, 1);
    CHECK_MSG(near(y, (const float[]){1.25f / 1.75f, 3 - 1.25f / 1.75f}, 2, 1e-6f), "aa down %g %g", y[0], y[1]);
}

TEST(interpolate_in_two_dimensions)
{
    enum { IH = 5, IW = 7, OH = 10, OW = 14 };
    float x[IH * IW], y[OH * OW], z[OH * OW], c[IH * IW], cy[OH * OW];
    for (int i = 0; i < IH * IW; i++) {
        x[i] = sinf((float)i * 1.7f) * 3;
        c[i] = 2.5f;
    }
    mend_err err = {0};
    /* upscaling, antialiased bilinear is plain bilinear (the triangle's support is one pixel) */
    CHECK_OK(mend_interpolate(x, 1, IH, IW, y, OH, OW, MEND_INTERP_BILINEAR, 0, &err), &err);
    CHECK_OK(mend_interpolate(x, 1, IH, IW, z, OH, OW, MEND_INTERP_BILINEAR, 1, &err), &err);
    CHECK(near(y, z, OH * OW, 1e-5f));
    /* both bicubics keep a constant (their weights sum to one) */
    for (int aa = 0; aa < 2; aa++) {
        CHECK_OK(mend_interpolate(c, 1, IH, IW, cy, OH, OW, MEND_INTERP_BICUBIC, aa, &err), &err);
        for (int i = 0; i < OH * OW; i++)
            CHECK_MSG(fabsf(cy[i] - 2.5f) < 1e-5f, "bicubic aa=%d: %g", aa, cy[i]);
    }
    /* the antialiased bicubic is not the plain one */
    CHECK_OK(mend_interpolate(x, 1, IH, IW, y, OH, OW, MEND_INTERP_BICUBIC, 0, &err), &err);
    CHECK_OK(mend_interpolate(x, 1, IH, IW, z, OH, OW, MEND_INTERP_BICUBIC, 1, &err), &err);
    CHECK(!near(y, z, OH * OW, 1e-3f));
    CHECK(mend_interpolate(x, 1, IH, IW, y, 0, OW, MEND_INTERP_BILINEAR, 0, &err) == MEND_E_ARG);
}

/* ---- jobs ------------------------------------------------------------------- */

typedef struct pass_log {
    int calls[2]; /* model calls of the first pass (64x64 latents: 8x8) and of the hires pass */
    int sizes[2][2];
    int interrupt_first; /* return MEND_E_INTERRUPTED at the first pass's first step */
} pass_log;

static mend_status log_pass(void *user, const mend_gen_progress *pr, mend_err *err)
{
    pass_log *l = user;
    int hr = l->calls[0] && (pr->h != l->sizes[0][0] || pr->w != l->sizes[0][1]);
    l->sizes[hr][0] = pr->h;
    l->sizes[hr][1] = pr->w;
    l->calls[hr]++;
    if (l->interrupt_first && !hr)
        return mend_fail(err, MEND_E_INTERRUPTED, "interrupted");
    return MEND_OK;
}

static mend_gen_params hires_params(void)
{
    mend_gen_params p = base_params(); /* 64x64, 3 Euler steps */
    p.enable_hr = 1;
    p.hr_upscaler = "Latent";
    p.denoising_strength = 0.5f;
    return p;
}

static mend_status run(mend_sd_model *m, const mend_gen_params *p, pass_log *log, mend_gen_output *out, mend_err *err)
{
    mend_gen_inputs in = {0};
    return mend_generate(m, p, &in, log_pass, log, out, err);
}

TEST(hires_size_and_steps)
{
    REQUIRE_MODEL(m, sd_model);
    mend_gen_params p = hires_params();
    p.hr_second_pass_steps = 2;
    pass_log log = {0};
    mend_gen_output out;
    mend_err err = {0};
    CHECK_OK(run(m, &p, &log, &out, &err), &err);
    CHECK_MSG(out.count == 1 && out.images[0].width == 128 && out.images[0].height == 128, "%dx%d",
              out.images[0].width, out.images[0].height);
    /* exactly hr_second_pass_steps calls however strong the denoising (A1111 stretches the schedule) */
    CHECK_MSG(log.calls[0] == 3 && log.calls[1] == 2 && log.sizes[1][0] == 16, "calls %d + %d at %d", log.calls[0],
              log.calls[1], log.sizes[1][0]);
    mend_gen_output_free(&out);
    p.hr_second_pass_steps = 0; /* the first pass's count */
    p.denoising_strength = 0.3f;
    log = (pass_log){0};
    CHECK_OK(run(m, &p, &log, &out, &err), &err);
    CHECK_MSG(log.calls[1] == 3, "hires calls %d", log.calls[1]);
    mend_gen_output_free(&out);
}

static void size_is(mend_sd_model *m, int w, int h, int rx, int ry, float scale, int want_w, int want_h)
{
    mend_gen_params p = hires_params();
    p.steps = 1;
    p.width = w, p.height = h, p.hr_resize_x = rx, p.hr_resize_y = ry, p.hr_scale = scale;
    mend_gen_output out;
    mend_err err = {0};
    pass_log log = {0};
    CHECK_OK(run(m, &p, &log, &out, &err), &err);
    CHECK_MSG(out.images && out.images[0].width == want_w && out.images[0].height == want_h,
              "%dx%d resize %dx%d scale %g: %dx%d, want %dx%d", w, h, rx, ry, scale,
              out.images ? out.images[0].width : 0, out.images ? out.images[0].height : 0, want_w, want_h);
    mend_gen_output_free(&out);
}

TEST(hires_target_sizes)
{
    REQUIRE_MODEL(m, sd_model);
    size_is(m, 64, 64, 0, 0, 1.5f, 96, 96);
    size_is(m, 64, 96, 128, 0, 2, 128, 192);  /* the height keeps the aspect ratio */
    size_is(m, 64, 96, 0, 144, 2, 96, 144);
    size_is(m, 64, 96, 128, 128, 2, 128, 128); /* upscaled to 128x192, 8 latent rows cut */
    size_is(m, 96, 64, 128, 128, 2, 128, 128);
    size_is(m, 64, 64, 0, 0, 1.3f, 80, 80); /* int(64 * 1.3) = 83: the latent is 10 cells */
}

TEST(every_upscaler_runs)
{
    REQUIRE_MODEL(m, sd_model);
    const char *names[] = {"Latent", "Latent (antialiased)", "Latent (bicubic)", "Latent (bicubic antialiased)",
                           "Latent (nearest)", "Latent (nearest-exact)", "None", "Lanczos", "Nearest"};
    mend_image first = {0};
    int differ = 0;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        mend_gen_params p = hires_params();
        p.steps = 2;
        p.hr_upscaler = names[i];
        mend_gen_output out;
        mend_err err = {0};
        pass_log log = {0};
        CHECK_OK(run(m, &p, &log, &out, &err), &err);
        if (!out.count)
            continue;
        CHECK_MSG(out.images[0].width == 128 && log.calls[1] == 2, "%s: %d px, %d calls", names[i],
                  out.images[0].width, log.calls[1]);
        CHECK_MSG(strstr(out.infotexts[0], "Hires upscaler: ") && strstr(out.infotexts[0], names[i]), "%s: %s",
                  names[i], out.infotexts[0]);
        if (!first.data)
            mend_image_copy(&out.images[0], &first, &err);
        else
            differ += !same_image(&first, &out.images[0]);
        mend_gen_output_free(&out);
    }
    CHECK_MSG(differ >= 7, "only %d upscalers changed the picture", differ);
    mend_image_free(&first);
}

TEST(hires_is_deterministic)
{
    REQUIRE_MODEL(m, sd_model);
    mend_gen_params p = hires_params();
    mend_gen_output a, b, plain;
    mend_err err = {0};
    pass_log log = {0};
    CHECK_OK(run(m, &p, &log, &a, &err), &err);
    CHECK_OK(run(m, &p, &log, &b, &err), &err);
    CHECK(a.count == 1 && b.count == 1 && same_image(&a.images[0], &b.images[0]));
    /* without it, the first pass's size */
    p.enable_hr = 0;
    CHECK_OK(run(m, &p, &log, &plain, &err), &err);
    CHECK(plain.count == 1 && plain.images[0].width == 64);
    mend_gen_output_free(&a), mend_gen_output_free(&b), mend_gen_output_free(&plain);
}

TEST(infotext_has_the_hires_keys_in_a1111_order)
{
    REQUIRE_MODEL(m, sd_model);
    mend_gen_params p = hires_params();
    p.hr_second_pass_steps = 2;
    p.hr_sampler_name = "DDIM";
    p.hr_prompt = "a dog";
    mend_gen_output out;
    mend_err err = {0};
    pass_log log = {0};
    CHECK_OK(run(m, &p, &log, &out, &err), &err);
    const char *t = out.count ? out.infotexts[0] : "";
    const char *keys[] = {"Size: 64x64", "Denoising strength: 0.5", "Hires sampler: DDIM", "Hires prompt: a dog",
                          "Hires upscale: 2.0", "Hires steps: 2", "Hires upscaler: Latent", "Version: "};
    const char *at = t;
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const char *k = strstr(at, keys[i]);
        CHECK_MSG(k, "'%s' missing or out of order in: %s", keys[i], t);
        at = k ? k : at;
    }
    /* read back as A1111 pastes it: the hires checkbox on, its fields set */
    mend_gen_params back;
    mend_gen_params_default(&back);
    char *storage = NULL;
    CHECK_OK(mend_params_from_infotext(t, &back, NULL, NULL, &storage, &err), &err);
    CHECK(back.enable_hr == 1 && back.hr_scale == 2.0f && back.hr_second_pass_steps == 2);
    CHECK(back.hr_upscaler && !strcmp(back.hr_upscaler, "Latent") && !strcmp(back.hr_sampler_name, "DDIM"));
    CHECK(back.hr_prompt && !strcmp(back.hr_prompt, "a dog") && back.denoising_strength == 0.5f);
    free(storage);
    mend_gen_output_free(&out);
    /* a schedule type of its own; the target given as a size */
    p = hires_params();
    p.hr_scheduler = "Karras";
    p.hr_resize_x = 96;
    p.hr_upscaler = NULL; /* the API's null: Latent, not written */
    CHECK_OK(run(m, &p, &log, &out, &err), &err);
    t = out.count ? out.infotexts[0] : "";
    CHECK_MSG(strstr(t, "Hires schedule type: Karras, Hires resize: 96x0") && !strstr(t, "Hires upscale:") &&
                  !strstr(t, "Hires upscaler"),
              "%s", t);
    mend_gen_params_default(&back);
    CHECK_OK(mend_params_from_infotext(t, &back, NULL, NULL, &storage, &err), &err);
    CHECK(back.hr_resize_x == 96 && back.hr_resize_y == 0 && !strcmp(back.hr_scheduler, "Karras"));
    free(storage);
    mend_gen_output_free(&out);
}

TEST(hires_with_an_inpainting_model)
{
    REQUIRE_MODEL(m, inpaint_model);
    mend_gen_params p = hires_params();
    mend_gen_output full, half;
    mend_err err = {0};
    pass_log log = {0};
    CHECK_OK(run(m, &p, &log, &full, &err), &err);
    p.inpainting_mask_weight = 0.5f; /* the upscaled picture conditions the pass */
    CHECK_OK(run(m, &p, &log, &half, &err), &err);
    CHECK(full.count == 1 && half.count == 1 && full.images[0].width == 128 && half.images[0].width == 128);
    CHECK(full.count && half.count && !same_image(&full.images[0], &half.images[0]));
    mend_gen_output_free(&full), mend_gen_output_free(&half);
    p.hr_upscaler = "Lanczos";
    p.hr_resize_x = p.hr_resize_y = 128;
    p.height = 96;
    CHECK_OK(run(m, &p, &log, &half, &err), &err);
    CHECK(half.count == 1 && half.images[0].width == 128 && half.images[0].height == 128);
    mend_gen_output_free(&half);
}

/* A1111's sample_hr_pass returns the first pass's samples when the job was interrupted. */
TEST(an_interrupt_before_the_pass_keeps_the_first_pass)
{
    REQUIRE_MODEL(m, sd_model);
    mend_gen_params p = hires_params();
    pass_log log = {0};
    log.interrupt_first = 1;
    mend_gen_output out;
    mend_err err = {0};
    CHECK_OK(run(m, &p, &log, &out, &err), &err);
    CHECK_MSG(out.interrupted && out.count == 1 && out.images[0].width == 64 && log.calls[1] == 0,
              "interrupted %d, %d px, %d hires calls", out.interrupted, out.count ? out.images[0].width : 0,
              log.calls[1]);
    mend_gen_output_free(&out);
}

static void refused(mend_sd_model *m, mend_gen_params p, const char *field)
{
    mend_gen_output out;
    mend_err err = {0};
    pass_log log = {0};
    mend_status s = run(m, &p, &log, &out, &err);
    CHECK_MSG(s == MEND_E_ARG && strstr(err.msg, field), "want an error naming %s: %d %s", field, s, err.msg);
    if (s == MEND_OK)
        mend_gen_output_free(&out);
}

TEST(bad_hires_fields_are_refused)
{
    REQUIRE_MODEL(m, sd_model);
    mend_gen_params p = hires_params();
    p.hr_upscaler = "ESRGAN_4x";
    refused(m, p, "hr_upscaler");
    p = hires_params();
    p.hr_sampler_name = "Euler z";
    refused(m, p, "hr_sampler_name");
    p = hires_params();
    p.hr_scheduler = "Sometimes";
    refused(m, p, "hr_scheduler");
    p = hires_params();
    p.hr_scale = 0.5f; /* 32x32 */
    refused(m, p, "hr_scale");
    p = hires_params();
    p.hr_resize_x = 9000;
    refused(m, p, "hr_resize_x");
}

/* The img2img cut uses the strength the user sent: int(0.7 * 10) = 7, so 8 of the 10 steps run (with the
 * float32 0.69999999 it would be 6 and 7 steps). */
TEST(img2img_steps_use_the_strength_as_sent)
{
    REQUIRE_MODEL(m, sd_model);
    mend_gen_params p = base_params();
    p.steps = 10;
    p.denoising_strength = 0.7f;
    mend_image init = make_image(64, 64);
    mend_gen_output out;
    mend_err err = {0};
    pass_log log = {0};
    mend_gen_inputs in = {.init_image = &init};
    CHECK_OK(mend_generate(m, &p, &in, log_pass, &log, &out, &err), &err);
    CHECK_MSG(log.calls[0] == 8, "%d steps", log.calls[0]);
    mend_gen_output_free(&out);
    mend_image_free(&init);
}

int main(void)
{
    RUN(interpolate_follows_torch);
    RUN(interpolate_in_two_dimensions);
    RUN(hires_size_and_steps);
    RUN(hires_target_sizes);
    RUN(every_upscaler_runs);
    RUN(hires_is_deterministic);
    RUN(infotext_has_the_hires_keys_in_a1111_order);
    RUN(hires_with_an_inpainting_model);
    RUN(an_interrupt_before_the_pass_keeps_the_first_pass);
    RUN(bad_hires_fields_are_refused);
    RUN(img2img_steps_use_the_strength_as_sent);
    pipeline_models_free();
    return test_summary();
}
