/* Property tests of the generation pipeline (mend_generate) on tiny
 * random-weight models: txt2img, img2img and inpainting with every inpaint
 * option on and off, seeds and batches, thread counts, samplers, interrupt,
 * and bad inputs. The models are random, so the tests check relations that
 * must hold for any weights (what may change, what must not, what equals
 * what) rather than pictures. Images are 64-128 px with 2-4 steps. */
#include "test.h"

#include "core/rng.h"
#include "inpaint/conditioning.h"
#include "inpaint/mask_prep.h"
#include "inpaint/pipeline.h"
#include "make_model.h"
#include "model/sd_model.h"
#include "sampling/sampler.h"

#include <string.h>

/* ---------------- fixtures ---------------- */

static mend_sd_model *g_sd, *g_inp; /* tiny-sd1, tiny-sd1-inpaint from ../shared */
static int g_sd_tried, g_inp_tried;

static mend_sd_model *load_shared(const char *rel, mend_sd_model **slot, int *tried)
{
    if (*tried)
        return *slot;
    *tried = 1;
    const char *vocab = test_shared("clip/bpe_simple_vocab_16e6.txt.gz");
    const char *path = vocab ? test_shared(rel) : NULL;
    if (!path)
        return NULL;
    mend_err err = {0};
    CHECK_OK(mend_sd_load(path, vocab, MEND_COMP_ALL, slot, &err), &err);
    return *slot;
}

static mend_sd_model *sd_model(void) { return load_shared("models/tiny-sd1.f16.safetensors", &g_sd, &g_sd_tried); }
static mend_sd_model *inpaint_model(void)
{
    return load_shared("models/tiny-sd1-inpaint.f16.safetensors", &g_inp, &g_inp_tried);
}

/* A picture with structure on every scale: gradients, a disc, stripes. */
static mend_image make_image(int w, int h)
{
    mend_image img = {0};
    mend_err err = {0};
    CHECK_OK(mend_image_alloc(&img, w, h, 3, &err), &err);
    for (int y = 0; y < h && img.data; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img.data + ((size_t)y * w + x) * 3;
            int dx = x - w / 3, dy = y - h / 2, disc = dx * dx + dy * dy < (h / 4) * (h / 4);
            p[0] = (uint8_t)(x * 255 / (w - 1));
            p[1] = (uint8_t)(disc ? 230 : y * 200 / (h - 1));
            p[2] = (uint8_t)(((x / 4 + y / 6) & 1) ? 180 : 40);
        }
    return img;
}

/* 1-channel mask, white (repaint) inside the box x0 <= x < x1, y0 <= y < y1. */
static mend_image make_mask(int w, int h, int x0, int y0, int x1, int y1)
{
    mend_image m = {0};
    mend_err err = {0};
    CHECK_OK(mend_image_alloc(&m, w, h, 1, &err), &err);
    for (int y = y0; y < y1 && m.data; y++)
        memset(m.data + (size_t)y * w + x0, 255, (size_t)(x1 - x0));
    return m;
}

static mend_gen_params base_params(void)
{
    mend_gen_params p;
    mend_gen_params_default(&p);
    p.prompt = "a cat on a chair";
    p.negative_prompt = "blurry";
    p.width = p.height = 64;
    p.steps = 3;
    p.sampler_name = "Euler";
    p.seed = 1234;
    p.subseed = 99;
    return p;
}

static mend_status gen(mend_sd_model *m, const mend_gen_params *p, const mend_image *init, const mend_image *mask,
                       mend_gen_output *out, mend_err *err)
{
    mend_gen_inputs in = {init, mask};
    return mend_generate(m, p, &in, NULL, NULL, out, err);
}

static int same_image(const mend_image *a, const mend_image *b)
{
    return a->width == b->width && a->height == b->height && a->channels == b->channels &&
           memcmp(a->data, b->data, mend_image_size(a)) == 0;
}

/* The same picture up to float reordering: GEMM blocking depends on the
 * UNet batch (cond + uncond rows of every image), which moves values by
 * ~1e-6 and, after truncation to uint8, a few bytes by one level. */
static int near_image(const mend_image *a, const mend_image *b)
{
    if (a->width != b->width || a->height != b->height || a->channels != b->channels)
        return 0;
    size_t n = mend_image_size(a), off = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a->data[i] - (int)b->data[i]);
        if (d > 2)
            return 0;
        off += d != 0;
    }
    return off * 100 <= n; /* at most 1% of the bytes */
}

static int pixel_equal(const mend_image *a, const mend_image *b, int x, int y)
{
    size_t i = ((size_t)y * a->width + x) * 3;
    return memcmp(a->data + i, b->data + i, 3) == 0;
}

static mend_mask_opts mask_opts(const mend_gen_params *p)
{
    return (mend_mask_opts){p->width,       p->height,         p->resize_mode,           p->mask_blur_x,
                            p->mask_blur_y, p->inpainting_mask_invert, p->mask_round, p->inpaint_full_res,
                            p->inpaint_full_res_padding};
}

/* ---------------- composite properties ---------------- */

/* Whole picture: wherever the overlay mask (2x the blurred mask) is 0 the
 * output is the input pixel exactly; inside the stroke something changes.
 * Checked for every masked-content mode. */
TEST(whole_picture_keeps_unmasked_pixels)
{
    mend_sd_model *m = sd_model();
    if (!m)
        return;
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
    mend_sd_model *m = sd_model();
    if (!m)
        return;
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
    mend_sd_model *m = sd_model();
    if (!m)
        return;
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

static float *init_latent(mend_sd_model *m, const mend_gen_params *p, const mend_image *img, const mend_image *mask,
                          float **nmask)
{
    float *lat = NULL, *nm = NULL;
    mend_err err = {0};
    mend_gen_inputs in = {img, mask};
    CHECK_OK(mend_generate_init_latent(m, p, &in, &lat, &nm, &err), &err);
    if (nmask)
        *nmask = nm;
    else
        free(nm);
    return lat;
}

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
    mend_sd_model *m = sd_model();
    if (!m)
        return;
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

/* ---------------- seeds, batches, threads ---------------- */

TEST(same_seed_same_bytes)
{
    mend_sd_model *m = sd_model();
    if (!m)
        return;
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
    mend_sd_model *m = sd_model();
    if (!m)
        return;
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
    mend_sd_model *m = sd_model();
    if (!m)
        return;
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
    mend_sd_model *m = sd_model();
    if (!m)
        return;
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

/* ---------------- blank masks ---------------- */

TEST(blank_mask_only_masked_falls_back_to_img2img)
{
    mend_sd_model *m = sd_model();
    if (!m)
        return;
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
    mend_sd_model *m = sd_model();
    if (!m)
        return;
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

/* ---------------- strength, inpainting model ---------------- */

typedef struct step_log {
    int calls, last_total, finite;
    float last[4 * 64]; /* image 0's latest x0 prediction (64x64 jobs) */
    int interrupt_at; /* step at which to return MEND_E_INTERRUPTED, -1 never */
    mend_status fail_with;
} step_log;

static mend_status log_step(void *user, const mend_gen_progress *pr, mend_err *err)
{
    step_log *l = user;
    l->calls++;
    l->last_total = pr->steps;
    for (int64_t i = 0; i < (int64_t)pr->batch * 4 * pr->h * pr->w; i++)
        if (!isfinite(pr->denoised[i]))
            l->finite = 0;
    if (pr->h * pr->w == 64)
        memcpy(l->last, pr->denoised, sizeof l->last);
    if (pr->step == l->interrupt_at)
        return l->fail_with == MEND_E_INTERRUPTED ? MEND_E_INTERRUPTED
                                                  : mend_fail(err, l->fail_with, "progress: test failure");
    return MEND_OK;
}

/* Strength 0 runs one step from the smallest sigma, so the final latent
 * stays next to the init latent; strength 1 runs every step from sigma_max
 * and lands far from it. (Compared in latent space: a random VAE decoder
 * amplifies tiny latent changes into large pixel changes.) With Euler the
 * last step's x0 prediction is the final latent. */
TEST(strength_zero_and_one)
{
    mend_sd_model *m = sd_model();
    if (!m)
        return;
    mend_image img = make_image(64, 64);
    mend_gen_params p = base_params();
    p.steps = 4;
    float *lat = init_latent(m, &p, &img, NULL, NULL);
    double dist[2] = {0, 0}, scale = 0;
    for (int k = 0; k < 2 && lat; k++) {
        p.denoising_strength = (float)k;
        step_log log = {0, 0, 1, {0}, -1, MEND_OK};
        mend_gen_output out;
        mend_gen_inputs in = {&img, NULL};
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
    mend_sd_model *m = inpaint_model();
    if (!m)
        return;
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
    mend_sd_model *m = sd_model();
    if (!m)
        return;
    mend_image img = make_image(64, 64), mask = make_mask(64, 64, 16, 16, 48, 48);
    int count = 0;
    const mend_sampler_info *list = mend_sampler_list(&count);
    CHECK(count >= 13);
    for (int i = 0; i < count; i++) {
        for (int inpaint = 0; inpaint < 2; inpaint++) {
            mend_gen_params p = base_params();
            p.sampler_name = list[i].name;
            p.steps = 3;
            step_log log = {0, 0, 1, {0}, -1, MEND_OK};
            mend_gen_inputs in = {inpaint ? &img : NULL, inpaint ? &mask : NULL};
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
    mend_sd_model *m = sd_model();
    if (!m)
        return;
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
        mend_gen_inputs in = {k ? &img : NULL, NULL};
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
    mend_sd_model *m = sd_model();
    if (!m)
        return;
    mend_image img = make_image(64, 64), mask = make_mask(64, 64, 16, 16, 48, 48);
    mend_gen_params p = base_params();
    p.batch_size = 2;
    p.n_iter = 3;
    p.steps = 4;
    for (int inpaint = 0; inpaint < 2; inpaint++) {
        step_log log = {0, 0, 1, {0}, 1, MEND_E_INTERRUPTED};
        mend_gen_inputs in = {inpaint ? &img : NULL, inpaint ? &mask : NULL};
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

/* ---------------- bad input ---------------- */

static void expect_arg_error(mend_sd_model *m, const mend_gen_params *p, const mend_image *init,
                             const mend_image *mask, const char *field)
{
    mend_gen_output out;
    mend_err err = {0};
    mend_status s = gen(m, p, init, mask, &out, &err);
    CHECK_MSG(s == MEND_E_ARG && strstr(err.msg, field) != NULL, "%s: got %s '%s'", field, mend_status_name(s),
              err.msg);
    CHECK(out.count == 0 && out.images == NULL);
}

TEST(bad_mask_inputs)
{
    mend_sd_model *m = sd_model();
    if (!m)
        return;
    mend_image img = make_image(64, 64), small = make_mask(48, 64, 8, 8, 24, 24), empty = {0};
    mend_gen_params p = base_params();
    expect_arg_error(m, &p, &img, &small, "mask");
    p.inpaint_full_res = 1;
    expect_arg_error(m, &p, &img, &small, "mask");
    expect_arg_error(m, &p, &img, &empty, "mask");
    expect_arg_error(m, &p, &empty, NULL, "init_image");
    expect_arg_error(m, &p, NULL, &small, "mask");
    mend_image_free(&img);
    mend_image_free(&small);
}

TEST(unreadable_image_files)
{
    char path[600];
    mend_image img = {0};
    mend_err err = {0};
    snprintf(path, sizeof path, "%s/no-such-image.png", test_tmpdir());
    CHECK(mend_image_load(path, &img, &err) == MEND_E_IO);
    CHECK(strstr(err.msg, "no-such-image.png") != NULL);
    snprintf(path, sizeof path, "%s/not-an-image.png", test_tmpdir());
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("this is a prompt, not a picture\n", f);
        fclose(f);
    }
    mend_status s = mend_image_load(path, &img, &err);
    CHECK_MSG(s == MEND_E_FORMAT && strstr(err.msg, "not-an-image.png"), "%s: %s", mend_status_name(s), err.msg);
    CHECK(img.data == NULL);
    remove(path);
}

TEST(bad_parameters)
{
    mend_sd_model *m = sd_model();
    if (!m)
        return;
    mend_image img = make_image(64, 64), mask = make_mask(64, 64, 8, 8, 24, 24);
    mend_gen_params p = base_params();
    p.width = 100;
    expect_arg_error(m, &p, NULL, NULL, "width");
    p = base_params();
    p.height = 60;
    expect_arg_error(m, &p, &img, &mask, "height");
    p = base_params();
    p.steps = 0;
    expect_arg_error(m, &p, NULL, NULL, "steps");
    p.steps = 151;
    expect_arg_error(m, &p, &img, &mask, "steps");
    float bad_strength[] = {-0.1f, 1.5f, NAN};
    for (int i = 0; i < 3; i++) {
        p = base_params();
        p.denoising_strength = bad_strength[i];
        expect_arg_error(m, &p, &img, &mask, "denoising_strength");
    }
    p = base_params();
    p.sampler_name = "Euler A";
    expect_arg_error(m, &p, NULL, NULL, "sampler_name");
    p.sampler_name = NULL;
    expect_arg_error(m, &p, &img, &mask, "sampler_name");
    p = base_params();
    p.scheduler = "Karras2";
    expect_arg_error(m, &p, NULL, NULL, "scheduler");
    mend_image_free(&img);
    mend_image_free(&mask);
}

/* 1000 tokens: A1111 encodes 75-token chunks and concatenates them. */
TEST(long_prompt_works)
{
    mend_sd_model *m = sd_model();
    if (!m)
        return;
    size_t cap = 1000 * 5 + 1;
    char *prompt = malloc(cap);
    prompt[0] = '\0';
    for (int i = 0; i < 1000; i++)
        strcat(prompt, i % 2 ? "cat " : "red ");
    mend_cond_opts o;
    mend_cond_schedule c = {0};
    mend_err err = {0};
    mend_cond_opts_default(&o);
    CHECK_OK(mend_cond_build(m->clip, m->tokenizer, prompt, 3, &o, &c, &err), &err);
    CHECK_MSG(c.tokens == 77 * 14 && c.token_count == 1000, "%d tokens in %d chunks", c.token_count, c.tokens / 77);
    mend_cond_free(&c);
    mend_gen_params p = base_params();
    p.prompt = prompt; /* 14 chunks against a 1-chunk negative prompt */
    mend_image img = make_image(64, 64), mask = make_mask(64, 64, 8, 8, 24, 24);
    mend_gen_output out;
    CHECK_OK(gen(m, &p, &img, &mask, &out, &err), &err);
    CHECK(out.count == 1);
    mend_gen_output_free(&out);
    p.negative_prompt = prompt; /* equal chunk counts: one batched UNet call */
    CHECK_OK(gen(m, &p, NULL, NULL, &out, &err), &err);
    CHECK(out.count == 1);
    mend_gen_output_free(&out);
    free(prompt);
    mend_image_free(&img);
    mend_image_free(&mask);
}

/* ---------------- self-contained: own model and vocabulary ---------------- */

/* A CLIP-style merges file with a handful of merges: the vocabulary is the
 * 512 byte symbols, these merges, then <|startoftext|> <|endoftext|>. */
static int write_tiny_vocab(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return 0;
    fputs("#version: tiny test vocabulary\nc a\nca t</w>\nr e\nre d</w>\n", f);
    return fclose(f) == 0;
}

TEST(self_made_model)
{
    char model[600], vocab[600];
    snprintf(model, sizeof model, "%s/own-tiny.safetensors", test_tmpdir());
    snprintf(vocab, sizeof vocab, "%s/own-merges.txt", test_tmpdir());
    mend_make_model_opts o = {.arch = MEND_MM_SD1, .size = MEND_MM_TINY, .dtype = MEND_DT_F16, .seed = 77};
    mend_err err = {0};
    mend_sd_model *m = NULL;
    CHECK_OK(mend_make_model(&o, model, &err), &err);
    CHECK(write_tiny_vocab(vocab));
    CHECK_OK(mend_sd_load(model, vocab, MEND_COMP_ALL, &m, &err), &err);
    if (m) {
        CHECK(mend_tokenizer_vocab_size(m->tokenizer) == 512 + 4 + 2);
        mend_image img = make_image(64, 64), mask = make_mask(64, 64, 8, 32, 40, 56);
        mend_gen_params p = base_params();
        p.prompt = "red cat";
        mend_gen_output a, b, t;
        CHECK_OK(gen(m, &p, &img, &mask, &a, &err), &err);
        CHECK_OK(gen(m, &p, &img, &mask, &b, &err), &err);
        CHECK_OK(gen(m, &p, NULL, NULL, &t, &err), &err);
        if (a.count == 1 && b.count == 1 && t.count == 1) {
            CHECK(same_image(&a.images[0], &b.images[0]));
            int changed_far = 0, changed_in = 0;
            for (int y = 0; y < 64; y++)
                for (int x = 0; x < 64; x++) {
                    int same = pixel_equal(&a.images[0], &img, x, y);
                    changed_far += (y < 16 || x > 56) && !same; /* > 4 sigma from the stroke */
                    changed_in += x >= 16 && x < 32 && y >= 40 && y < 48 && !same;
                }
            CHECK(changed_far == 0 && changed_in > 0);
            CHECK(strstr(a.infotexts[0], "Model: own-tiny,") != NULL);
        }
        mend_gen_output_free(&a);
        mend_gen_output_free(&b);
        mend_gen_output_free(&t);
        mend_image_free(&img);
        mend_image_free(&mask);
    }
    mend_sd_free(m);
    remove(model);
    remove(vocab);
}

int main(void)
{
    RUN(self_made_model);
    RUN(unreadable_image_files);
    RUN(whole_picture_keeps_unmasked_pixels);
    RUN(only_masked_keeps_outside_of_crop);
    RUN(invert_swaps_what_changes);
    RUN(masked_content_init_latent);
    RUN(same_seed_same_bytes);
    RUN(thread_count_does_not_change_bytes);
    RUN(batch_and_iterations_follow_seeds);
    RUN(variation_seed_changes_result);
    RUN(blank_mask_only_masked_falls_back_to_img2img);
    RUN(blank_mask_whole_picture_returns_resized_original);
    RUN(strength_zero_and_one);
    RUN(inpainting_model_mask_weight);
    RUN(every_sampler_runs);
    RUN(ddim_timesteps_as_a1111);
    RUN(interrupt_yields_images);
    RUN(bad_mask_inputs);
    RUN(bad_parameters);
    RUN(long_prompt_works);
    mend_sd_free(g_sd);
    mend_sd_free(g_inp);
    return test_summary();
}
