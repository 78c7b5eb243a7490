/* The public C API (include/mend/mend.h) on its own: load a model, inpaint
 * with A1111's defaults, save the PNG with its infotext. Only the public
 * header is used besides the test harness. */
#include "mend/mend.h"

#include "test.h"

#include <string.h>

TEST(inpaint_through_the_public_header)
{
    REQUIRE_SHARED(model, "models/tiny-sd1-inpaint.f16.safetensors");
    REQUIRE_SHARED(vocab, "clip/bpe_simple_vocab_16e6.txt.gz");
    REQUIRE_SHARED(photo, "images/chelsea-128.png");
    REQUIRE_SHARED(maskp, "images/mask-ellipse-128.png");
    mend_err err = {0};
    mend_sd_model *m = NULL;
    mend_image init = {0}, mask = {0};
    CHECK_OK(mend_model_load(model, vocab, &m, &err), &err);
    CHECK_OK(mend_image_load(photo, &init, &err), &err);
    CHECK_OK(mend_image_load(maskp, &mask, &err), &err);
    if (!m || !init.data || !mask.data)
        goto done;
    mend_gen_params p;
    mend_gen_params_default(&p);
    CHECK(p.steps == 20 && p.cfg_scale == 7.0f && !strcmp(p.sampler_name, "DPM++ 2M") && p.mask_blur_x == 4 &&
          p.inpainting_fill == MEND_FILL_ORIGINAL && p.inpaint_full_res == 0 && p.denoising_strength == 0.75f);
    p.prompt = "a red knitted hat";
    p.width = p.height = 128;
    p.steps = 3;
    p.seed = 7;
    mend_gen_inputs in = {&init, &mask};
    mend_gen_output out;
    CHECK_OK(mend_generate(m, &p, &in, NULL, NULL, &out, &err), &err);
    if (err.code == MEND_OK) {
        CHECK(out.count == 1 && out.images[0].width == 128 && out.seeds[0] == 7);
        CHECK(strstr(out.infotexts[0], "Seed: 7") && strstr(out.infotexts[0], "Conditional mask weight: 1.0"));
        char path[512];
        snprintf(path, sizeof path, "%s/public.png", test_tmpdir());
        mend_png_text t = {"parameters", out.infotexts[0]};
        CHECK_OK(mend_image_save_png(path, &out.images[0], &t, 1, &err), &err);
        mend_image back = {0};
        CHECK_OK(mend_image_load(path, &back, &err), &err);
        CHECK(back.width == 128 && back.data && !memcmp(back.data, out.images[0].data, 128 * 128 * 3));
        mend_image_free(&back);
        mend_gen_output_free(&out);
    }
    /* a bad parameter is refused with a message naming it */
    p.steps = 0;
    CHECK(mend_generate(m, &p, &in, NULL, NULL, &out, &err) == MEND_E_ARG && strstr(err.msg, "steps"));
done:
    mend_image_free(&init);
    mend_image_free(&mask);
    mend_model_free(m);
}

int main(void)
{
    RUN(inpaint_through_the_public_header);
    return test_summary();
}
