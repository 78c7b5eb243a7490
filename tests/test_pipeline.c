/* Property tests of the generation pipeline (mend_generate) on tiny
 * random-weight models: inpainting with every inpaint option on and off
 * (what the composite keeps, masked content's init latent, blank masks).
 * The models are random, so the tests check relations that must hold for
 * any weights (what may change, what must not, what equals what) rather
 * than pictures. Images are 64-128 px with 2-4 steps. Seeds, batches,
 * samplers: test_pipeline_seeds.c; bad input: test_pipeline_bad.c. */
#include "pipeline_fixture.h"

#include "core/rng.h"

#include <string.h>

/* ---------------- composite properties ---------------- */

/* Whole picture: wherever the overlay mask (2x the blurred mask) is 0 the
 * output is the input pixel exactly; inside the stroke something changes.
 * Checked for every masked-content mode. */
TEST(whole_picture_keeps_unmasked_pixels)
{
    REQUIRE_MODEL(m, sd_model);
    mend_image img = make_image(64, 64), mask = make_mask(64, 64, 20, 16, 44, 40);
    mend_gen_params p = base_params();
    mend_mask_opts o = mask_opts(&p);
    mend_mask_prep prep;
    mend_err err = {0};
    CHECK_OK(mend_mask_prepare(&mask, &o, &prep, &err), &err);
    for (int fill = 0; fill < 4; fill++) {
        p.inpainting_fill = fill;
        mend_gen_output out;
        CHECK_OK(gen(m, &p, &img, &mask, &out, &err), &err);
        if (out.count != 1)
            continue;
        const mend_image *r = &out.images[0];
        CHECK(r->width == 64 && r->height == 64 && r->channels == 3);
        int kept_ok = 1, changed = 0;
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++) {
                uint8_t v = prep.mask_for_overlay.data[y * 64 + x];
                if (v == 0 && !pixel_equal(r, &img, x, y))
                    kept_ok = 0;
                if (v == 255 && !pixel_equal(r, &img, x, y))
                    changed++;
            }
        CHECK_MSG(kept_ok, "fill %d: a pixel outside the blurred mask changed", fill);
        CHECK_MSG(changed > 100, "fill %d: only %d masked pixels changed", fill, changed);
        mend_gen_output_free(&out);
    }
    mend_mask_prep_free(&prep);
    mend_image_free(&img);
    mend_image_free(&mask);
}

/* Only masked: output keeps the original size; pixels outside the padded
 * crop, and wherever the (native, blurred) mask is 0, equal the input. */
TEST(only_masked_keeps_outside_of_crop)
{
    REQUIRE_MODEL(m, sd_model);
    mend_image img = make_image(128, 96), mask = make_mask(128, 96, 70, 30, 90, 50);
    mend_gen_params p = base_params();
    p.inpaint_full_res = 1;
    p.inpaint_full_res_padding = 8;
    mend_mask_opts o = mask_opts(&p);
    mend_mask_prep prep;
    mend_err err = {0};
    CHECK_OK(mend_mask_prepare(&mask, &o, &prep, &err), &err);
    CHECK(prep.active && prep.has_crop);
    for (int fill = 0; fill < 4; fill += 3) {
        p.inpainting_fill = fill;
        mend_gen_output out;
        CHECK_OK(gen(m, &p, &img, &mask, &out, &err), &err);
        if (out.count != 1)
            continue;
        const mend_image *r = &out.images[0];
        CHECK(r->width == 128 && r->height == 96);
        int outside_ok = 1, zero_ok = 1, changed_inside = 0;
        for (int y = 0; y < 96; y++)
            for (int x = 0; x < 128; x++) {
                int in_crop = x >= prep.crop[0] && x < prep.crop[2] && y >= prep.crop[1] && y < prep.crop[3];
                int same = pixel_equal(r, &img, x, y);
                if (!in_crop && !same)
                    outside_ok = 0;
                if (prep.blurred.data[y * 128 + x] == 0 && !same)
                    zero_ok = 0;
                if (in_crop && !same)
                    changed_inside++;
            }
        CHECK_MSG(outside_ok, "fill %d: a pixel outside the crop (%d,%d,%d,%d) changed", fill, prep.crop[0],
                  prep.crop[1], prep.crop[2], prep.crop[3]);
        CHECK_MSG(zero_ok, "fill %d: a pixel where the mask is 0 changed", fill);
        CHECK(changed_inside > 50);
        mend_gen_output_free(&out);
    }
    mend_mask_prep_free(&prep);
    mend_image_free(&img);
    mend_image_free(&mask);
}

/* Inverting the mask swaps the region that may change: deep inside the
 * stroke (blurred mask 255) vs far outside it (blurred mask 0). */
TEST(invert_swaps_what_changes)
{
    REQUIRE_MODEL(m, sd_model);
    mend_image img = make_image(64, 64), mask = make_mask(64, 64, 16, 16, 48, 48);
    mend_gen_params p = base_params();
    mend_mask_opts o = mask_opts(&p);
    mend_mask_prep prep;
    mend_err err = {0};
    CHECK_OK(mend_mask_prepare(&mask, &o, &prep, &err), &err);
    for (int full_res = 0; full_res < 2; full_res++)
        for (int invert = 0; invert < 2; invert++) {
            p.inpaint_full_res = full_res;
            p.inpainting_mask_invert = invert;
            mend_gen_output out;
            CHECK_OK(gen(m, &p, &img, &mask, &out, &err), &err);
            if (out.count != 1)
                continue;
            int changed_in = 0, changed_out = 0;
            for (int i = 0; i < 64 * 64; i++) {
                int same = pixel_equal(&out.images[0], &img, i % 64, i / 64);
                changed_in += prep.blurred.data[i] == 255 && !same;
                changed_out += prep.blurred.data[i] == 0 && !same;
            }
            if (invert) {
                CHECK_MSG(changed_in == 0 && changed_out > 100, "full_res %d inverted: %d inside, %d outside",
                          full_res, changed_in, changed_out);
            } else {
                CHECK_MSG(changed_out == 0 && changed_in > 100, "full_res %d: %d inside, %d outside", full_res,
                          changed_in, changed_out);
            }
            mend_gen_output_free(&out);
        }
    mend_mask_prep_free(&prep);
    mend_image_free(&img);
    mend_image_free(&mask);
}

/* ---------------- masked content: the init latent ---------------- */

/* Scaled VAE mean of an RGB image, computed here from public pieces. */
static void encode_image(mend_sd_model *m, const mend_image *img, float *latent)
{
    int W = img->width, H = img->height;
    int64_t hw = (int64_t)W * H, lhw = hw / 64;
    float *x = malloc((size_t)(3 * hw) * sizeof *x), *mom = malloc((size_t)(8 * lhw) * sizeof *mom);
    for (int64_t i = 0; i < hw; i++)
        for (int c = 0; c < 3; c++)
            x[c * hw + i] = img->data[i * 3 + c] / 255.0f * 2.0f - 1.0f;
    mend_err err = {0};
    CHECK_OK(mend_vae_encode(m->vae, x, 1, H, W, mom, &err), &err);
    mend_vae_posterior(mom, NULL, 1, 4, lhw, latent);
    free(x);
    free(mom);
}

/* §5: original = the plain img2img latent; fill = VAE(masking.fill(image));
 * latent nothing = fill latent with zeros where nmask = 1; latent noise =
 * fill latent with each image's seed noise where nmask = 1 (A1111 passes
 * no variation seed there). */
TEST(masked_content_init_latent)
{
    REQUIRE_MODEL(m, sd_model);
    const int64_t lhw = 8 * 8, lat = 4 * lhw;
    mend_image img = make_image(64, 64), mask = make_mask(64, 64, 16, 24, 48, 56);
    mend_gen_params p = base_params();
    p.batch_size = 2;
    float *nmask = NULL;
    float *plain = init_latent(m, &p, &img, NULL, NULL);
    p.inpainting_fill = MEND_FILL_ORIGINAL;
    float *orig = init_latent(m, &p, &img, &mask, &nmask);
    p.inpainting_fill = MEND_FILL_FILL;
    float *fill = init_latent(m, &p, &img, &mask, NULL);
    p.inpainting_fill = MEND_FILL_LATENT_NOTHING;
    float *nothing = init_latent(m, &p, &img, &mask, NULL);
    p.inpainting_fill = MEND_FILL_LATENT_NOISE;
    float *noise = init_latent(m, &p, &img, &mask, NULL);
    /* a variation seed gives every image the seed (§7.1) but must not reach the fill noise */
    p.subseed_strength = 0.6f;
    float *noise_var = init_latent(m, &p, &img, &mask, NULL);
    if (!plain || !orig || !fill || !nothing || !noise || !noise_var || !nmask)
        goto done;
    CHECK(memcmp(plain, orig, (size_t)(2 * lat) * sizeof *plain) == 0);

    /* fill: the pre-filled image, encoded here independently */
    mend_mask_opts o = mask_opts(&p);
    mend_mask_prep prep;
    mend_image filled = {0};
    float expect[4 * 64];
    mend_err err = {0};
    CHECK_OK(mend_mask_prepare(&mask, &o, &prep, &err), &err);
    CHECK_OK(mend_masking_fill(&img, &prep.image_mask, &filled, &err), &err);
    encode_image(m, &filled, expect);
    CHECK(test_max_abs_diff(fill, expect, lat) < 1e-6);
    CHECK(test_max_abs_diff(fill + lat, expect, lat) < 1e-6);
    CHECK(test_max_abs_diff(fill, orig, lat) > 1e-3);
    mend_image_free(&filled);
    mend_mask_prep_free(&prep);

    /* the latent mask is a real mask: some 1, some 0, nothing else */
    int ones = 0, zeros = 0;
    for (int64_t i = 0; i < lhw; i++) {
        ones += nmask[i] == 1.0f;
        zeros += nmask[i] == 0.0f;
    }
    CHECK(ones > 4 && zeros > 4 && ones + zeros == lhw);

    float seed_noise[2][4 * 64];
    for (int b = 0; b < 2; b++) {
        mend_rng r;
        mend_rng_init(&r, MEND_RNG_NV, (uint64_t)(p.seed + b));
        mend_rng_randn(&r, seed_noise[b], lat);
    }
    int nothing_ok = 1, noise_ok = 1, noise_var_ok = 1;
    for (int b = 0; b < 2; b++)
        for (int64_t i = 0; i < lat; i++) {
            int64_t k = b * lat + i;
            int repaint = nmask[i % lhw] == 1.0f;
            if (nothing[k] != (repaint ? 0.0f : fill[k]))
                nothing_ok = 0;
            if (noise[k] != (repaint ? seed_noise[b][i] : fill[k]))
                noise_ok = 0;
            if (noise_var[k] != (repaint ? seed_noise[0][i] : fill[k]))
                noise_var_ok = 0;
        }
    CHECK_MSG(nothing_ok, "latent nothing: not (fill latent kept, zeros in the mask)");
    CHECK_MSG(noise_ok, "latent noise: not (fill latent kept, seed noise in the mask)");
    CHECK_MSG(noise_var_ok, "latent noise with a variation seed: not the plain noise of the seed");
done:
    free(plain);
    free(orig);
    free(fill);
    free(nothing);
    free(noise);
    free(noise_var);
    free(nmask);
    mend_image_free(&img);
    mend_image_free(&mask);
}

/* ---------------- blank masks ---------------- */

TEST(blank_mask_only_masked_falls_back_to_img2img)
{
    REQUIRE_MODEL(m, sd_model);
    mend_image img = make_image(96, 64), blank = make_mask(96, 64, 0, 0, 0, 0);
    mend_gen_params p = base_params();
    p.inpaint_full_res = 1;
    mend_gen_output masked, plain;
    mend_err err = {0};
    CHECK_OK(gen(m, &p, &img, &blank, &masked, &err), &err);
    CHECK_OK(gen(m, &p, &img, NULL, &plain, &err), &err);
    if (masked.count == 1 && plain.count == 1) {
        CHECK(masked.comment && strcmp(masked.comment, "Unable to perform \"Inpaint Only mask\" because mask is "
                                                       "blank, switch to img2img mode.") == 0);
        CHECK(plain.comment == NULL);
        CHECK(masked.images[0].width == 64 && masked.images[0].height == 64);
        CHECK(same_image(&masked.images[0], &plain.images[0]));
        CHECK(strstr(masked.infotexts[0], "Inpaint area") == NULL);
    }
    mend_gen_output_free(&masked);
    mend_gen_output_free(&plain);
    mend_image_free(&img);
    mend_image_free(&blank);
}

TEST(blank_mask_whole_picture_returns_resized_original)
{
    REQUIRE_MODEL(m, sd_model);
    mend_image img = make_image(96, 64), blank = make_mask(96, 64, 0, 0, 0, 0), resized = {0};
    mend_gen_params p = base_params();
    mend_gen_output out;
    mend_err err = {0};
    CHECK_OK(mend_resize_image(0, &img, 64, 64, &resized, &err), &err);
    for (int fill = 0; fill < 4; fill++) {
        p.inpainting_fill = fill;
        CHECK_OK(gen(m, &p, &img, &blank, &out, &err), &err);
        if (out.count == 1)
            CHECK_MSG(same_image(&out.images[0], &resized), "fill %d", fill);
        CHECK(out.comment == NULL);
        mend_gen_output_free(&out);
    }
    mend_image_free(&img);
    mend_image_free(&blank);
    mend_image_free(&resized);
}

int main(void)
{
    RUN(whole_picture_keeps_unmasked_pixels);
    RUN(only_masked_keeps_outside_of_crop);
    RUN(invert_swaps_what_changes);
    RUN(masked_content_init_latent);
    RUN(blank_mask_only_masked_falls_back_to_img2img);
    RUN(blank_mask_whole_picture_returns_resized_original);
    pipeline_models_free();
    return test_summary();
}
