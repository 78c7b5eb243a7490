/* The public C API (include/mend/ headers) on its own: load a model, inpaint
 * with A1111's defaults, save the PNG with its infotext; model info, names,
 * probing, previews, PNG text, in-memory images and bench stages. Only the
 * public headers are used besides the test harness. */
#include "mend/bench.h"
#include "mend/image.h"
#include "mend/mend.h"
#include "mend/model.h"
#include "mend/png_text.h"
#include "mend/preview.h"

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
    mend_gen_inputs in = {.init_image = &init, .mask = &mask};
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

TEST(model_info_of_a_partial_load)
{
    REQUIRE_SHARED(model, "models/tiny-sd1-inpaint.f16.safetensors");
    mend_err err = {0};
    mend_sd_model *m = NULL;
    CHECK(mend_model_load_parts(model, NULL, 0, &m, &err) == MEND_E_ARG && !m);
    CHECK_OK(mend_model_load_parts(model, NULL, MEND_PART_UNET | MEND_PART_VAE, &m, &err), &err);
    if (!m)
        return;
    mend_model_info i;
    mend_model_get_info(m, &i);
    CHECK(!strcmp(i.path, model) && !i.diffusers && !strcmp(i.arch, "sd1-inpaint") && !strcmp(i.dtype, "F16"));
    CHECK(i.unet.loaded && i.vae.loaded && !i.text_encoder.loaded && !i.vocab_path);
    CHECK(i.unet_arch.in_channels == 9 && i.unet_arch.out_channels == 4 && i.unet_arch.levels >= 1);
    CHECK(mend_model_is_inpainting(m));
    CHECK(i.nfiles == 1 && !strcmp(i.files[0].path, model) && i.files[0].tensors > 0);
    int unet_tensors = 0, all = 0;
    for (int d = 0; d < MEND_INFO_DTYPES; d++) {
        unet_tensors += i.unet.dtypes[d];
        all += i.dtypes[d];
        CHECK(mend_info_dtype_name(d) != NULL);
    }
    CHECK(mend_info_dtype_name(MEND_INFO_DTYPES) == NULL && !strcmp(mend_info_dtype_name(1), "F16"));
    CHECK(unet_tensors > 0 && unet_tensors < all && all == i.files[0].tensors);
    CHECK(i.unet.params > i.vae.params / 100 && i.vae.params > 0);
    /* the short hash is the file's SHA-256, as sha256sum gives it */
    char hash[11], cmd[2048], out[1024], *sum;
    CHECK_OK(mend_model_short_hash(m, hash, &err), &err);
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", model);
    snprintf(out, sizeof out, "%s/sha.txt", test_tmpdir());
    if (test_run(cmd, out) == 0 && (sum = test_read_file(out, NULL)) != NULL) {
        CHECK_MSG(strlen(hash) == 10 && !strncmp(sum, hash, 10), "%s vs %s", hash, sum);
        free(sum);
    }
    mend_model_free(m);
}

/* Title and name of a checkpoint path (the name rule itself is also
 * covered by test_params). */
static int names_are(const char *path, const char *title, const char *name)
{
    char *t = mend_model_title(path), *n = mend_model_name(path);
    int ok = t && n && !strcmp(t, title) && !strcmp(n, name);
    CHECK_MSG(ok, "%s -> '%s', '%s'", path, t ? t : "(null)", n ? n : "(null)");
    free(t);
    free(n);
    return ok;
}

TEST(one_naming_rule_for_checkpoints)
{
    static const char *const cases[][3] = {/* path, title, name */
                                           {"models/sd15.safetensors", "sd15.safetensors", "sd15"},
                                           {"/x/tiny.f16.safetensors", "tiny.f16.safetensors", "tiny.f16"},
                                           {"v1-5-pruned.ckpt", "v1-5-pruned.ckpt", "v1-5-pruned"},
                                           {"models/sd15-diffusers/", "sd15-diffusers", "sd15-diffusers"},
                                           {"models/sd15-diffusers//", "sd15-diffusers", "sd15-diffusers"},
                                           {"models/sd-1.5", "sd-1.5", "sd-1.5"},
                                           {"plain", "plain", "plain"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        names_are(cases[i][0], cases[i][1], cases[i][2]);
}

TEST(probing_checkpoints)
{
    REQUIRE_SHARED(model, "models/tiny-sd1.f16.safetensors");
    mend_err err = {0};
    CHECK_OK(mend_model_probe(model, &err), &err);
    char p[1024];
    snprintf(p, sizeof p, "%s/absent.safetensors", test_tmpdir());
    CHECK(mend_model_probe(p, &err) == MEND_E_IO && strstr(err.msg, "absent.safetensors"));
    snprintf(p, sizeof p, "%s/garbage.safetensors", test_tmpdir());
    FILE *f = fopen(p, "wb");
    if (f) {
        fputs("\x10\x00\x00\x00\x00\x00\x00\x00{not json at all", f);
        fclose(f);
    }
    CHECK(mend_model_probe(p, &err) != MEND_OK && strstr(err.msg, "garbage.safetensors"));
    CHECK(mend_model_probe(test_tmpdir(), &err) == MEND_E_FORMAT && strstr(err.msg, "unet/"));
}

TEST(previews_cheap_and_taesd)
{
    /* latent [2, 4, 2, 3]: image 1 has channel 0 = 1, the rest 0 */
    float lat[2 * 4 * 6] = {0};
    for (int i = 0; i < 6; i++)
        lat[24 + i] = 1.0f;
    mend_err err = {0};
    mend_image img = {0};
    CHECK_OK(mend_preview_cheap(lat, 0, 2, 3, &img, &err), &err);
    CHECK(img.width == 3 && img.height == 2 && img.channels == 3 && img.data && img.data[0] == 127);
    mend_image_free(&img);
    CHECK_OK(mend_preview_cheap(lat, 1, 2, 3, &img, &err), &err);
    /* (0.298 + 1) / 2 * 255 = 165.5 and (0.208 + 1) / 2 * 255 = 154.0, truncated */
    CHECK(img.data && img.data[0] == 165 && img.data[2] == 154 && img.data[15] == 165);
    mend_image_free(&img);
    const char *dir = test_shared("taesd");
    if (!dir)
        return;
    char path[1024];
    CHECK_OK(mend_taesd_weights_path(dir, "taesd_decoder", path, sizeof path, &err), &err);
    CHECK(strstr(path, "/taesd_decoder.random.f16.safetensors") != NULL);
    CHECK(mend_taesd_weights_path(dir, "taesd_nothing", path, sizeof path, &err) == MEND_E_IO &&
          strstr(err.msg, "taesd_nothing"));
    mend_preview_taesd *t = NULL;
    CHECK_OK(mend_preview_taesd_load(dir, &t, &err), &err);
    if (t) {
        CHECK_OK(mend_preview_taesd_decode(t, lat, 1, 2, 3, &img, &err), &err);
        CHECK(img.width == 24 && img.height == 16 && img.channels == 3);
        mend_image_free(&img);
    }
    mend_preview_taesd_free(t);
}

TEST(png_text_and_images_in_memory)
{
    mend_err err = {0};
    mend_image a = {0}, b = {0};
    CHECK_OK(mend_image_alloc(&a, 5, 3, 3, &err), &err);
    for (int i = 0; a.data && i < 45; i++)
        a.data[i] = (uint8_t)(i * 5);
    mend_png_text t[2] = {{"parameters", "a cat\nSteps: 3, Seed: 9"}, {"other", "x"}};
    uint8_t *png = NULL;
    size_t n = 0;
    CHECK_OK(mend_image_encode_png(&a, t, 2, &png, &n, &err), &err);
    CHECK_OK(mend_image_decode(png, n, "buffer", &b, &err), &err);
    CHECK(b.width == 5 && b.height == 3 && b.channels == 3 && b.data && !memcmp(a.data, b.data, 45));
    mend_png_text_list l = {0};
    CHECK_OK(mend_png_text_read_buffer(png, n, "buffer", MEND_PNG_CRC_CHECK, &l, &err), &err);
    CHECK(l.count == 2 && mend_png_text_get(&l, "parameters") &&
          !strcmp(mend_png_text_get(&l, "parameters"), "a cat\nSteps: 3, Seed: 9") && !mend_png_text_get(&l, "none"));
    mend_png_text_list_free(&l);
    mend_image_free(&b);
    CHECK(mend_image_decode(png, n / 2, "half.png", &b, &err) != MEND_OK && strstr(err.msg, "half.png"));
    mend_image c = {0};
    CHECK_OK(mend_image_copy(&a, &c, &err), &err);
    CHECK(c.data && c.data != a.data && !memcmp(a.data, c.data, 45));
    free(png);
    mend_image_free(&a);
    mend_image_free(&b);
    mend_image_free(&c);
}

TEST(bench_stages)
{
    REQUIRE_SHARED(model, "models/tiny-sd1.f16.safetensors");
    mend_err err = {0};
    mend_sd_model *m = NULL;
    CHECK_OK(mend_model_load_parts(model, NULL, MEND_PART_VAE, &m, &err), &err);
    if (!m)
        return;
    CHECK(!mend_model_is_inpainting(m)); /* no UNet loaded */
    mend_bench_result r = {0};
    CHECK_OK(mend_bench_run(m, MEND_BENCH_VAE_DECODE, 64, 2, &r, &err), &err);
    CHECK(r.seconds > 0 && r.gflop > 0);
    CHECK(mend_bench_run(m, MEND_BENCH_UNET_STEP, 64, 1, &r, &err) == MEND_E_ARG);
    CHECK(mend_bench_run(m, MEND_BENCH_VAE_ENCODE, 60, 1, &r, &err) == MEND_E_ARG && strstr(err.msg, "60"));
    mend_model_free(m);
}

int main(void)
{
    RUN(inpaint_through_the_public_header);
    RUN(model_info_of_a_partial_load);
    RUN(one_naming_rule_for_checkpoints);
    RUN(probing_checkpoints);
    RUN(previews_cheap_and_taesd);
    RUN(png_text_and_images_in_memory);
    RUN(bench_stages);
    return test_summary();
}
