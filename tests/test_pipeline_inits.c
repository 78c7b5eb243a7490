/* Several init images in one job (A1111's init(): one each of the batch,
 * batch_size becomes their count): image i of the job is the job of init
 * image i alone with image i's seed, for a 4-channel and a 9-channel
 * (inpainting) model, with a mask of another size than the images; the
 * infotext and seeds count as A1111's. resize_mode 3 ("Just resize (latent
 * upscale)"): the init image encoded at its own size, its latent resized
 * bilinearly. On tiny-sd1(-inpaint) from ../shared (skipped without them). */
#include "pipeline_fixture.h"

#include "inpaint/latent_resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void one_each(mend_sd_model *m, const char *what)
{
    mend_image imgs[2] = {make_image(64, 64), make_image(64, 64)};
    for (size_t k = 0; k < mend_image_size(&imgs[1]); k += 3)
        imgs[1].data[k] = (uint8_t)(255 - imgs[1].data[k]); /* another red channel */
    mend_image mask = make_mask(48, 40, 8, 8, 30, 30); /* another size: resized to the images */
    mend_gen_params p = base_params();
    p.batch_size = 4; /* becomes 2 */
    p.n_iter = 2;
    mend_gen_inputs in = {.init_image = &imgs[0], .mask = &mask, .more_init_images = &imgs[1], .n_more_init_images = 1};
    mend_gen_output all;
    mend_err err = {0};
    CHECK_OK(mend_generate(m, &p, &in, NULL, NULL, &all, &err), &err);
    CHECK_MSG(all.count == 4, "%s: %d images", what, all.count);
    for (int i = 0; i < all.count && i < 4; i++) {
        CHECK(all.seeds[i] == p.seed + i);
        mend_gen_params one = p;
        one.batch_size = 1;
        one.n_iter = 1;
        one.seed = all.seeds[i];
        one.subseed = all.subseeds[i];
        mend_gen_output alone;
        CHECK_OK(gen(m, &one, &imgs[i % 2], &mask, &alone, &err), &err);
        CHECK_MSG(alone.count == 1 && near_image(&alone.images[0], &all.images[i]), "%s: image %d is not init %d's",
                  what, i, i % 2);
        mend_gen_output_free(&alone);
    }
    mend_gen_output_free(&all);
    mend_image_free(&imgs[0]), mend_image_free(&imgs[1]), mend_image_free(&mask);
}

TEST(each_init_image_is_its_own_image_of_the_batch)
{
    mend_sd_model *m = sd_model();
    if (m)
        one_each(m, "tiny-sd1");
    m = inpaint_model();
    if (m)
        one_each(m, "tiny-sd1-inpaint");
}

/* A 128x128 init image in a 64x64 job: the latent of the 128x128 job, interpolated to 8x8. */
TEST(latent_upscale_resize_mode)
{
    REQUIRE_MODEL(m, sd_model);
    mend_image big = make_image(128, 128), mask = make_mask(128, 128, 20, 20, 90, 90);
    mend_gen_params p = base_params(), full = base_params();
    p.resize_mode = 3;
    full.width = full.height = 128;
    float *lat = init_latent(m, &p, &big, NULL, NULL), *lat_full = init_latent(m, &full, &big, NULL, NULL);
    float want[4 * 8 * 8];
    mend_err err = {0};
    CHECK(lat && lat_full);
    if (lat && lat_full) {
        CHECK_OK(mend_interpolate(lat_full, 4, 16, 16, want, 8, 8, MEND_INTERP_BILINEAR, 0, &err), &err);
        double d = 0;
        for (int i = 0; i < 4 * 8 * 8; i++)
            d = fmax(d, fabs((double)lat[i] - want[i]));
        CHECK_MSG(d < 1e-5, "latent upscale: %g from the interpolated 128x128 latent", d);
    }
    free(lat), free(lat_full);
    /* a job runs with it, and says so nowhere (A1111 writes no resize mode) */
    mend_gen_output out;
    CHECK_OK(gen(m, &p, &big, NULL, &out, &err), &err);
    CHECK(out.count == 1 && out.images[0].width == 64);
    mend_gen_output_free(&out);
    /* Only masked crops the image as usual; a whole-picture mask on an image of another size is refused */
    p.inpaint_full_res = 1;
    CHECK_OK(gen(m, &p, &big, &mask, &out, &err), &err);
    CHECK(out.count == 1 && out.images[0].width == 128);
    mend_gen_output_free(&out);
    p.inpaint_full_res = 0;
    mend_status st = gen(m, &p, &big, &mask, &out, &err);
    CHECK_MSG(st == MEND_E_ARG && strstr(err.msg, "resize_mode"), "%d %s", st, err.msg);
    mend_image_free(&big), mend_image_free(&mask);
}

int main(void)
{
    RUN(each_init_image_is_its_own_image_of_the_batch);
    RUN(latent_upscale_resize_mode);
    pipeline_models_free();
    return test_summary();
}
