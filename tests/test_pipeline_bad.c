/* The generation pipeline (mend_generate) refuses bad masks, images and
 * parameters with MEND_E_ARG naming the input; long prompts work; and a
 * model and vocabulary made here (no ../shared) inpaint as they should. */
#include "pipeline_fixture.h"

#include "inpaint/conditioning.h"
#include "make_model.h"

#include <string.h>

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
    REQUIRE_MODEL(m, sd_model);
    mend_image img = make_image(64, 64), small = make_mask(48, 64, 8, 8, 24, 24), empty = {0};
    mend_gen_params p = base_params();
    /* (a mask of another size is A1111's case, not an error: test_server_a1111_fields.c) */
    p.inpaint_full_res = 1;
    expect_arg_error(m, &p, &img, &empty, "mask");
    expect_arg_error(m, &p, &empty, NULL, "init_image");
    expect_arg_error(m, &p, NULL, &small, "mask");
    mend_image_free(&img);
    mend_image_free(&small);
}

/* Several init images are one each of the batch: at most batch_size of
 * them, each holding pixels. */
TEST(bad_init_image_lists)
{
    mend_sd_model *m = sd_model();
    if (!m)
        return;
    mend_image imgs[2] = {make_image(64, 64), {0}};
    mend_gen_params p = base_params();
    mend_gen_output out;
    mend_err err = {0};
    mend_gen_inputs in = {.init_image = &imgs[0], .more_init_images = &imgs[0], .n_more_init_images = 1};
    p.batch_size = 1;
    CHECK(mend_generate(m, &p, &in, NULL, NULL, &out, &err) == MEND_E_ARG &&
          strstr(err.msg, "init_images: bad number of images passed: 2; expecting 1 or less"));
    p.batch_size = 2;
    in.more_init_images = &imgs[1];
    CHECK(mend_generate(m, &p, &in, NULL, NULL, &out, &err) == MEND_E_ARG && strstr(err.msg, "init_images[1]"));
    in.n_more_init_images = -1;
    CHECK(mend_generate(m, &p, &in, NULL, NULL, &out, &err) == MEND_E_ARG && strstr(err.msg, "init_images"));
    mend_image_free(&imgs[0]);
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
    test_write_text(path, "this is a prompt, not a picture\n");
    mend_status s = mend_image_load(path, &img, &err);
    CHECK_MSG(s == MEND_E_FORMAT && strstr(err.msg, "not-an-image.png"), "%s: %s", mend_status_name(s), err.msg);
    CHECK(img.data == NULL);
    remove(path);
}

TEST(bad_parameters)
{
    REQUIRE_MODEL(m, sd_model);
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
    p.steps = 10001;
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
    REQUIRE_MODEL(m, sd_model);
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
    return test_write_text(path, "#version: tiny test vocabulary\nc a\nca t</w>\nr e\nre d</w>\n");
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
    RUN(bad_mask_inputs);
    RUN(bad_init_image_lists);
    RUN(bad_parameters);
    RUN(long_prompt_works);
    pipeline_models_free();
    return test_summary();
}
