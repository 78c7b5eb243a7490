/* A separate VAE file (mend_model_set_vae) and TAESD as the final decoder,
 * through the library on a tiny random checkpoint written here: a file
 * holding the checkpoint's own VAE weights gives the same image in every
 * layout (LDM, LDM under first_stage_model., diffusers, torch .pt with the
 * keys A1111 ignores, decoder-only LDM and diffusers); other weights change
 * it (a decoder-only file leaves the encode alone); bad files fail naming
 * them with the VAE in use kept; the infotext's VAE hash and name; the
 * file beside a checkpoint; TAESD's image and "VAE Decoder: TAESD". */
#include "test.h"

#include "core/sha256.h"
#include "inpaint/pipeline.h"
#include "io/st_writer.h"
#include "make_model.h"
#include "mend/mend.h"
#include "mend/model.h"
#include "mend/preview.h"
#include "torchzip_fixture.h"

#include <string.h>
#include <unistd.h>

#define SEED 3

static char g_vocab[1024];

static const char *tmp(const char *name)
{
    static char bufs[8][1024];
    static int k;
    char *b = bufs[k++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", test_tmpdir(), name);
    return b;
}

static int make(const char *name, int seed, mend_dtype dt, mend_mm_part part, mend_mm_layout layout, int prefix)
{
    mend_make_model_opts o = {MEND_MM_SD1, MEND_MM_TINY, dt, (uint64_t)seed, layout, part, prefix};
    mend_err err = {0};
    mend_status s = mend_make_model(&o, tmp(name), &err);
    CHECK_MSG(s == MEND_OK, "make-model %s: %s", name, err.msg);
    return s == MEND_OK;
}

/* The checkpoint and the vocabulary; NULL with a skip without the shared vocabulary. */
static mend_sd_model *load_model(void)
{
    const char *v = test_shared("clip/bpe_simple_vocab_16e6.txt.gz");
    if (!v)
        return NULL;
    snprintf(g_vocab, sizeof g_vocab, "%s", v);
    if (!test_path_exists(tmp("m.safetensors")) && !make("m.safetensors", SEED, MEND_DT_F16, MEND_MM_PART_ALL,
                                                         MEND_MM_SINGLE, 0))
        return NULL;
    mend_sd_model *m = NULL;
    mend_err err = {0};
    CHECK_OK(mend_model_load(tmp("m.safetensors"), g_vocab, &m, &err), &err);
    return m;
}

typedef struct result {
    mend_image img;
    char *info;
    mend_status status;
    mend_err err;
} result;

static void result_free(result *r)
{
    mend_image_free(&r->img);
    free(r->info);
}

/* img2img at 64x64, 2 steps: the VAE encodes the init image and decodes the result. */
static result run(mend_sd_model *m, const mend_preview_taesd *taesd)
{
    mend_gen_params p;
    mend_gen_params_default(&p);
    p.prompt = "a cat";
    p.width = p.height = 64;
    p.steps = 2;
    p.seed = 7;
    p.denoising_strength = 0.6f;
    p.vae_decode_method = taesd ? MEND_VAE_DECODE_TAESD : MEND_VAE_DECODE_FULL;
    mend_image init = {0};
    test_make_gradient(&init, 64, 64);
    mend_gen_inputs in = {.init_image = &init, .taesd = taesd};
    mend_gen_output out;
    result r = {0};
    r.status = mend_generate(m, &p, &in, NULL, NULL, &out, &r.err);
    if (r.status == MEND_OK && out.count == 1) {
        r.img = out.images[0];
        out.images[0] = (mend_image){0};
        r.info = strdup(out.infotexts[0]);
    }
    if (r.status == MEND_OK)
        mend_gen_output_free(&out);
    mend_image_free(&init);
    return r;
}

static int same_pixels(const mend_image *a, const mend_image *b)
{
    return a->data && b->data && a->width == b->width && a->height == b->height && a->channels == b->channels &&
           !memcmp(a->data, b->data, (size_t)a->width * a->height * a->channels);
}

static float *init_latent(mend_sd_model *m)
{
    mend_gen_params p;
    mend_gen_params_default(&p);
    p.width = p.height = 64;
    mend_image init = {0};
    test_make_gradient(&init, 64, 64);
    mend_gen_inputs in = {.init_image = &init};
    float *lat = NULL, *mask = NULL;
    mend_err err = {0};
    CHECK_OK(mend_generate_init_latent(m, &p, &in, &lat, &mask, &err), &err);
    free(mask);
    mend_image_free(&init);
    return lat;
}

/* A .pt of the LDM file's tensors (HalfStorage, as torch.save of an f16 state
 * dict in an SD .ckpt's {"state_dict": ...}) plus loss.* and model_ema.* keys. */
static int write_pt(const char *from, const char *to)
{
    mend_tf *f = open_ok(from);
    if (!f)
        return 0;
    int n = f->count + 2;
    fx_tensor *t = calloc((size_t)n, sizeof *t);
    fx_storage *s = calloc((size_t)n, sizeof *s);
    char (*keys)[16] = calloc((size_t)n, sizeof *keys);
    static const float extra[1] = {0.5f};
    for (int i = 0; t && s && keys && i < n; i++) {
        snprintf(keys[i], sizeof keys[i], "%d", i);
        int own = i < f->count;
        const mend_tf_tensor *x = own ? &f->tensors[i] : NULL;
        t[i] = (fx_tensor){own ? x->name : i == f->count ? "loss.logvar" : "model_ema.decay",
                           own ? "HalfStorage" : "FloatStorage", keys[i], own ? mend_tf_numel(x) : 1, 0,
                           own ? x->ndim : 0, {0}, NULL, FX_V2, NULL};
        for (int d = 0; own && d < x->ndim; d++)
            t[i].shape[d] = x->shape[d];
        s[i] = (fx_storage){keys[i], own ? (const void *)x->data : (const void *)extra, own ? x->nbytes : sizeof extra};
    }
    int ok = t && s && keys && write_checkpoint(to, t, n, s, n, 1, 0);
    free(t), free(s), free(keys);
    mend_tf_close(f);
    return ok;
}

TEST(same_weights_same_image)
{
    mend_sd_model *m = load_model();
    if (!m)
        return;
    result base = run(m, NULL);
    CHECK_OK(base.status, &base.err);
    CHECK(base.info && !strstr(base.info, "VAE"));
    static const struct {
        const char *name;
        mend_mm_part part;
        mend_mm_layout layout;
        int prefix;
    } files[] = {{"own.safetensors", MEND_MM_PART_VAE, MEND_MM_SINGLE, 0},
                 {"own_prefixed.safetensors", MEND_MM_PART_VAE, MEND_MM_SINGLE, 1},
                 {"own_diffusers.safetensors", MEND_MM_PART_VAE, MEND_MM_DIFFUSERS, 0},
                 {"own_decoder.safetensors", MEND_MM_PART_VAE_DECODER, MEND_MM_SINGLE, 0},
                 {"own_decoder_diffusers.safetensors", MEND_MM_PART_VAE_DECODER, MEND_MM_DIFFUSERS, 0}};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        if (!make(files[i].name, SEED, MEND_DT_F16, files[i].part, files[i].layout, files[i].prefix))
            continue;
        mend_err err = {0};
        CHECK_OK(mend_model_set_vae(m, tmp(files[i].name), &err), &err);
        result r = run(m, NULL);
        CHECK_OK(r.status, &r.err);
        CHECK_MSG(same_pixels(&base.img, &r.img), "%s: another image than the checkpoint's own VAE", files[i].name);
        result_free(&r);
    }
    mend_err err = {0};
    if (write_pt(tmp("own.safetensors"), tmp("own.vae.pt"))) {
        CHECK_OK(mend_model_set_vae(m, tmp("own.vae.pt"), &err), &err);
        result r = run(m, NULL);
        CHECK_OK(r.status, &r.err);
        CHECK_MSG(same_pixels(&base.img, &r.img), ".pt: another image than the checkpoint's own VAE");
        result_free(&r);
    }
    CHECK_OK(mend_model_set_vae(m, NULL, &err), &err);
    CHECK(mend_model_vae_path(m) == NULL);
    result_free(&base);
    mend_model_free(m);
}

TEST(other_weights_change_the_image)
{
    mend_sd_model *m = load_model();
    if (!m || !make("other.safetensors", SEED + 1, MEND_DT_BF16, MEND_MM_PART_VAE, MEND_MM_DIFFUSERS, 0) ||
        !make("other_decoder.safetensors", SEED + 1, MEND_DT_F32, MEND_MM_PART_VAE_DECODER, MEND_MM_SINGLE, 0)) {
        mend_model_free(m);
        return;
    }
    result base = run(m, NULL);
    float *lat0 = init_latent(m);
    mend_err err = {0};
    const char *names[] = {"other.safetensors", "other_decoder.safetensors"};
    for (int i = 0; i < 2; i++) {
        CHECK_OK(mend_model_set_vae(m, tmp(names[i]), &err), &err);
        result r = run(m, NULL);
        CHECK_OK(r.status, &r.err);
        CHECK_MSG(r.img.data && !same_pixels(&base.img, &r.img), "%s: the image did not change", names[i]);
        float *lat = init_latent(m);
        int same = lat && lat0 && !memcmp(lat, lat0, 4 * 8 * 8 * sizeof *lat);
        /* a decoder-only file leaves the encoding to the checkpoint's own VAE */
        CHECK_MSG(same == (i == 1), "%s: init latent %s", names[i], same ? "unchanged" : "changed");
        free(lat);
        result_free(&r);
    }
    free(lat0);
    result_free(&base);
    mend_model_free(m);
}

/* A VAE file of the checkpoint's tensors but one (a truncated download
 * that still parses), and one with a tensor that is no VAE's. */
static void write_bad_files(void)
{
    mend_tf *f = open_ok(tmp("own.safetensors"));
    mend_st_writer *miss = mend_st_writer_new(), *stray = mend_st_writer_new();
    mend_err err = {0};
    for (int i = 0; f && miss && stray && i < f->count; i++) {
        const mend_tf_tensor *t = &f->tensors[i];
        if (strcmp(t->name, "decoder.conv_out.weight") != 0)
            CHECK_OK(mend_st_writer_add(miss, t->name, t->dtype, t->ndim, t->shape, t->data, 0, &err), &err);
        CHECK_OK(mend_st_writer_add(stray, t->name, t->dtype, t->ndim, t->shape, t->data, 0, &err), &err);
    }
    static const float one[1] = {1};
    static const int64_t shape[1] = {1};
    if (stray)
        CHECK_OK(mend_st_writer_add(stray, "model.diffusion_model.out.2.bias", MEND_DT_F32, 1, shape, one, 0, &err),
                 &err);
    if (miss)
        CHECK_OK(mend_st_writer_write(miss, tmp("missing.safetensors"), &err), &err);
    if (stray)
        CHECK_OK(mend_st_writer_write(stray, tmp("stray.safetensors"), &err), &err);
    mend_st_writer_free(miss);
    mend_st_writer_free(stray);
    mend_tf_close(f);
    test_write_text(tmp("garbage.safetensors"), "this is not a weights file");
}

TEST(bad_files_keep_the_vae)
{
    mend_sd_model *m = load_model();
    if (!m || !make("good.safetensors", SEED + 2, MEND_DT_F16, MEND_MM_PART_VAE, MEND_MM_SINGLE, 0) ||
        !make("own.safetensors", SEED, MEND_DT_F16, MEND_MM_PART_VAE, MEND_MM_SINGLE, 0)) {
        mend_model_free(m);
        return;
    }
    write_bad_files();
    mend_err err = {0};
    CHECK_OK(mend_model_set_vae(m, tmp("good.safetensors"), &err), &err);
    result good = run(m, NULL);
    static const char *const bad[][2] = {{"nope.safetensors", "no such VAE file"},
                                         {"garbage.safetensors", "garbage.safetensors"},
                                         {"missing.safetensors", "decoder.conv_out.weight"},
                                         {"stray.safetensors", "model.diffusion_model.out.2.bias"}};
    for (int i = 0; i < 4; i++) {
        mend_err e = {0};
        mend_status s = mend_model_set_vae(m, tmp(bad[i][0]), &e);
        CHECK_MSG(s != MEND_OK && strstr(e.msg, bad[i][0]) && strstr(e.msg, bad[i][1]), "%s: status %d: %s",
                  bad[i][0], s, e.msg);
        const char *in_use = mend_model_vae_path(m);
        CHECK_MSG(in_use && !strcmp(in_use, tmp("good.safetensors")), "%s: the VAE in use changed", bad[i][0]);
    }
    result r = run(m, NULL);
    CHECK_MSG(same_pixels(&good.img, &r.img), "the image changed after the failed loads");
    result_free(&r);
    result_free(&good);
    mend_model_free(m);
}

TEST(infotext_vae_hash_and_name)
{
    mend_sd_model *m = load_model();
    if (!m || !make("named.safetensors", SEED, MEND_DT_F16, MEND_MM_PART_VAE, MEND_MM_SINGLE, 0)) {
        mend_model_free(m);
        return;
    }
    char hex[65], want[200];
    mend_err err = {0};
    CHECK_OK(mend_sha256_file(tmp("named.safetensors"), hex, &err), &err);
    CHECK_OK(mend_model_set_vae(m, tmp("named.safetensors"), &err), &err);
    result r = run(m, NULL);
    /* A1111's order: Model hash, Model, VAE hash, VAE, then Denoising strength */
    snprintf(want, sizeof want, "Model: m, VAE hash: %.10s, VAE: named.safetensors, Denoising strength: 0.6", hex);
    CHECK_MSG(r.info && strstr(r.info, want), "want '%s' in %s", want, r.info ? r.info : "(none)");
    result_free(&r);
    CHECK_OK(mend_model_set_vae(m, "", &err), &err);
    r = run(m, NULL);
    CHECK_MSG(r.info && !strstr(r.info, "VAE"), "%s", r.info ? r.info : "(none)");
    result_free(&r);
    mend_model_free(m);
}

TEST(vae_beside_the_checkpoint)
{
    const char *ck = tmp("beside.safetensors");
    test_write_text(ck, "x");
    CHECK(mend_vae_near_checkpoint(ck) == NULL);
    test_write_text(tmp("beside.vae.safetensors"), "x");
    char *p = mend_vae_near_checkpoint(ck);
    CHECK_MSG(p && !strcmp(p, tmp("beside.vae.safetensors")), "%s", p ? p : "(none)");
    free(p);
    test_write_text(tmp("beside.vae.pt"), "x"); /* A1111 looks for .vae.pt first */
    p = mend_vae_near_checkpoint(ck);
    CHECK_MSG(p && !strcmp(p, tmp("beside.vae.pt")), "%s", p ? p : "(none)");
    free(p);
    CHECK(mend_vae_near_checkpoint(test_tmpdir()) == NULL);
}

/* The latest x0 prediction: with Euler, the last step's is the final latent. */
static mend_status keep_denoised(void *user, const mend_gen_progress *g, mend_err *err)
{
    (void)err;
    memcpy(user, g->denoised, (size_t)4 * g->h * g->w * sizeof(float));
    return MEND_OK;
}

/* txt2img with Euler decoded by TAESD: the preview decoder's image of the
 * final latent, up to rounding (the preview rounds, the job truncates as
 * the VAE's conversion does). */
static void check_taesd_pixels(mend_sd_model *m, const mend_preview_taesd *t)
{
    mend_gen_params p;
    mend_gen_params_default(&p);
    p.prompt = "a cat";
    p.width = p.height = 64;
    p.steps = 2;
    p.seed = 9;
    p.sampler_name = "Euler";
    p.vae_decode_method = MEND_VAE_DECODE_TAESD;
    mend_gen_inputs in = {.taesd = t};
    mend_gen_output out;
    float last[4 * 8 * 8];
    mend_err err = {0};
    mend_image want = {0};
    CHECK_OK(mend_generate(m, &p, &in, keep_denoised, last, &out, &err), &err);
    CHECK_OK(mend_preview_taesd_decode(t, last, 0, 8, 8, &want, &err), &err);
    int worst = 0;
    for (int i = 0; out.count == 1 && want.data && i < 64 * 64 * 3; i++) {
        int d = abs((int)out.images[0].data[i] - (int)want.data[i]);
        worst = d > worst ? d : worst;
    }
    CHECK_MSG(out.count == 1 && want.data && worst <= 1, "TAESD image vs the preview decoder: %d levels", worst);
    mend_image_free(&want);
    mend_gen_output_free(&out);
}

TEST(taesd_decoder)
{
    REQUIRE_SHARED(dec, "taesd/taesd_decoder.random.f16.safetensors");
    mend_sd_model *m = load_model();
    if (!m)
        return;
    mend_preview_taesd *t = NULL;
    mend_err err = {0};
    CHECK_OK(mend_preview_taesd_load(dec, &t, &err), &err);
    result full = run(m, NULL), r = run(m, t);
    CHECK_OK(r.status, &r.err);
    CHECK_MSG(r.img.width == 64 && r.img.height == 64 && r.img.channels == 3, "%dx%dx%d", r.img.width,
              r.img.height, r.img.channels);
    CHECK_MSG(r.info && strstr(r.info, ", VAE Decoder: TAESD, Version: "), "%s", r.info ? r.info : "(none)");
    CHECK(full.info && !strstr(full.info, "VAE Decoder"));
    CHECK(r.img.data && !same_pixels(&full.img, &r.img));
    result_free(&r);
    if (t)
        check_taesd_pixels(m, t);
    /* no decoder: refused before any work, naming the option */
    mend_gen_params p;
    mend_gen_params_default(&p);
    p.width = p.height = 64;
    p.vae_decode_method = MEND_VAE_DECODE_TAESD;
    mend_gen_inputs in = {0};
    mend_gen_output out;
    mend_err e = {0};
    mend_status s = mend_generate(m, &p, &in, NULL, NULL, &out, &e);
    CHECK_MSG(s == MEND_E_ARG && strstr(e.msg, "sd_vae_decode_method"), "%d: %s", s, e.msg);
    result_free(&full);
    mend_preview_taesd_free(t);
    mend_model_free(m);
}

int main(void)
{
    RUN(same_weights_same_image);
    RUN(other_weights_change_the_image);
    RUN(bad_files_keep_the_vae);
    RUN(infotext_vae_hash_and_name);
    RUN(vae_beside_the_checkpoint);
    RUN(taesd_decoder);
    test_remove_tmpdir();
    return test_summary();
}
