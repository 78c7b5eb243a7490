/* The LDM VAE against the reference vectors of shared/testdata/vae (tiny
 * SD1 model): encode moments/mean/logvar <= 1e-3, decode <= 2e-3, uint8
 * pixels within one level; thread-count independence; bad inputs; and the
 * `mend eval vae-encode|vae-decode` runners file to file. */
#include "test.h"

#include "core/err.h"
#include "io/st_writer.h"
#include "model/sd_model.h"
#include "model/vae.h"

#include <string.h>

#define MODEL "models/tiny-sd1.f16.safetensors"
#define TOL_ENC 1e-3
#define TOL_DEC 2e-3

static mend_sd_model *load_model(const char *path)
{
    mend_err err = {0};
    mend_sd_model *m = NULL;
    CHECK_OK(mend_sd_load(path, NULL, MEND_COMP_VAE, &m, &err), &err);
    return m;
}

static mend_tf *open_ref(const char *path)
{
    mend_err err = {0};
    mend_tf *f = NULL;
    CHECK_OK(mend_tf_open(path, &f, &err), &err);
    return f;
}

static const mend_tf_tensor *ref_tensor(const mend_tf *f, const char *name)
{
    const mend_tf_tensor *t = mend_tf_find(f, name);
    CHECK_MSG(t != NULL, "%s: reference tensor '%s' missing", f->path, name);
    return t;
}

/* Max |got - ref[name]| over the reference tensor, printed for the log. */
static double compare(const mend_tf *ref, const char *name, const float *got, double tol)
{
    int64_t n = 0;
    float *want = test_load_f32(ref, name, &n);
    if (!want)
        return INFINITY;
    double d = test_max_abs_diff(got, want, n);
    printf("  %-24s max abs err %.3g (tol %g)\n", name, d, tol);
    CHECK_MSG(d <= tol, "%s: '%s' max abs err %g > %g", ref->path, name, d, tol);
    free(want);
    return d;
}

TEST(arch_is_detected)
{
    REQUIRE_SHARED(model, MODEL);
    mend_sd_model *m = load_model(model);
    if (!m)
        return;
    const mend_vae_arch *a = mend_vae_get_arch(m->vae);
    CHECK(a->ch == 32);
    CHECK(a->levels == 4);
    CHECK(a->mult[0] == 1 && a->mult[1] == 2 && a->mult[2] == 4 && a->mult[3] == 4);
    CHECK(a->num_res_blocks == 2);
    CHECK(a->z_channels == 4);
    CHECK(a->in_channels == 3);
    CHECK(a->has_encoder && a->has_decoder);
    CHECK(mend_vae_params(m->vae) > 0);
    double f1 = mend_vae_decode_flops(m->vae, 1, 8, 8), f2 = mend_vae_decode_flops(m->vae, 2, 8, 8);
    CHECK(f1 > 0 && fabs(f2 - 2 * f1) < 1e-6 * f1);
    /* a bigger image costs more than proportionally (attention is quadratic) */
    CHECK(mend_vae_encode_flops(m->vae, 1, 128, 128) > 4 * mend_vae_encode_flops(m->vae, 1, 64, 64));
    mend_sd_free(m);
}

/* A reference file of vae/ with the model and the tensor the case starts
 * from. */
typedef struct vae_case {
    mend_sd_model *m;
    mend_tf *ref;
    const mend_tf_tensor *input;
} vae_case;

static void vae_case_close(vae_case *c)
{
    mend_tf_close(c->ref);
    mend_sd_free(c->m);
}

/* 1 with all open; 0 (a skip or a failed check) with nothing left open. */
static int vae_case_open(const char *rel, const char *input, vae_case *c)
{
    *c = (vae_case){0};
    const char *model = test_shared(MODEL), *path = test_shared(rel);
    if (!model || !path)
        return 0;
    c->m = load_model(model);
    c->ref = open_ref(path);
    c->input = c->ref ? ref_tensor(c->ref, input) : NULL;
    if (c->m && c->input)
        return 1;
    vae_case_close(c);
    return 0;
}

static void check_decode_random(const char *rel)
{
    vae_case c;
    if (!vae_case_open(rel, "z", &c))
        return;
    float *z = test_load_f32(c.ref, "z", NULL);
    int N = (int)c.input->shape[0], h = (int)c.input->shape[2], w = (int)c.input->shape[3];
    float *out = malloc((size_t)N * 3 * 64 * h * w * sizeof *out);
    mend_err err = {0};
    CHECK_OK(mend_vae_decode(c.m->vae, z, N, h, w, out, &err), &err);
    printf(" %s\n", rel);
    compare(c.ref, "decoded", out, TOL_DEC);
    free(out);
    free(z);
    vae_case_close(&c);
}

TEST(decode_random_1x4x8x8) { check_decode_random("vae/vae_decode_random_1x4x8x8.safetensors"); }
TEST(decode_random_2x4x8x12) { check_decode_random("vae/vae_decode_random_2x4x8x12.safetensors"); }

/* Encode x -> moments, mean, logvar (clamped), z_sample_scaled; decode
 * z_mean_scaled -> decoded_from_z_mean. */
static void check_roundtrip(const char *rel)
{
    vae_case c;
    if (!vae_case_open(rel, "x", &c))
        return;
    printf(" %s\n", rel);
    int H = (int)c.input->shape[2], W = (int)c.input->shape[3], z = 4;
    int64_t hw = (int64_t)(H / 8) * (W / 8);
    float *x = test_load_f32(c.ref, "x", NULL), *noise = test_load_f32(c.ref, "sample_noise", NULL);
    float *moments = malloc((size_t)(2 * z * hw) * sizeof *moments);
    float *lat = malloc((size_t)(z * hw) * sizeof *lat), *logvar = malloc((size_t)(z * hw) * sizeof *logvar);
    float *img = malloc((size_t)(3 * H * W) * sizeof *img);
    mend_err err = {0};
    CHECK_OK(mend_vae_encode(c.m->vae, x, 1, H, W, moments, &err), &err);
    compare(c.ref, "moments", moments, TOL_ENC);
    compare(c.ref, "mean", moments, TOL_ENC);
    for (int64_t i = 0; i < z * hw; i++)
        logvar[i] = fminf(fmaxf(moments[z * hw + i], -30.0f), 20.0f);
    compare(c.ref, "logvar", logvar, TOL_ENC);
    mend_vae_posterior(moments, noise, 1, z, hw, lat);
    compare(c.ref, "z_sample_scaled", lat, TOL_ENC);
    mend_vae_posterior(moments, NULL, 1, z, hw, lat);
    compare(c.ref, "z_mean_scaled", lat, TOL_ENC);
    float *zm = test_load_f32(c.ref, "z_mean_scaled", NULL);
    CHECK_OK(mend_vae_decode(c.m->vae, zm, 1, H / 8, W / 8, img, &err), &err);
    compare(c.ref, "decoded_from_z_mean", img, TOL_DEC);
    free(zm);
    free(img);
    free(logvar);
    free(lat);
    free(moments);
    free(noise);
    free(x);
    vae_case_close(&c);
}

TEST(roundtrip_chelsea_64) { check_roundtrip("vae/vae_roundtrip_chelsea-64.safetensors"); }
TEST(roundtrip_chelsea_96x64) { check_roundtrip("vae/vae_roundtrip_chelsea-96x64.safetensors"); }

TEST(same_bytes_with_1_and_2_threads)
{
    vae_case c;
    if (!vae_case_open("vae/vae_roundtrip_chelsea-96x64.safetensors", "x", &c))
        return;
    const int H = 64, W = 96, n_mom = 8 * 8 * 12, n_img = 3 * H * W;
    float *x = test_load_f32(c.ref, "x", NULL);
    /* [1 thread, 2 threads] of each */
    float *mom = malloc(2 * n_mom * sizeof *mom), *img = malloc(2 * n_img * sizeof *img);
    mend_err err = {0};
    for (int t = 0; t < 2; t++) {
        mend_set_threads(t + 1);
        CHECK_OK(mend_vae_encode(c.m->vae, x, 1, H, W, mom + t * n_mom, &err), &err);
        CHECK_OK(mend_vae_decode(c.m->vae, mom + t * n_mom, 1, H / 8, W / 8, img + t * n_img, &err), &err);
    }
    mend_set_threads(0);
    CHECK(memcmp(mom, mom + n_mom, n_mom * sizeof *mom) == 0);
    /* decode of the same (1-thread) latent with both thread counts */
    mend_set_threads(2);
    CHECK_OK(mend_vae_decode(c.m->vae, mom, 1, H / 8, W / 8, img + n_img, &err), &err);
    mend_set_threads(0);
    CHECK(memcmp(img, img + n_img, n_img * sizeof *img) == 0);
    free(mom);
    free(img);
    free(x);
    vae_case_close(&c);
}

/* Copies the VAE tensors of a checkpoint to `out`, leaving `skip` out. */
static int write_without(const char *model, const char *skip, const char *out)
{
    mend_err err = {0};
    mend_tf *f = open_ref(model);
    mend_st_writer *w = mend_st_writer_new();
    int ok = f && w;
    for (int i = 0; ok && i < f->count; i++) {
        const mend_tf_tensor *t = &f->tensors[i];
        if (strncmp(t->name, "first_stage_model.", 18) != 0 || !strcmp(t->name, skip))
            continue;
        ok = mend_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data, 0, &err) == MEND_OK;
    }
    ok = ok && mend_st_writer_write(w, out, &err) == MEND_OK;
    CHECK_MSG(ok, "cannot write %s: %s", out, err.msg);
    mend_st_writer_free(w);
    mend_tf_close(f);
    return ok;
}

TEST(missing_tensor_is_named)
{
    REQUIRE_SHARED(model, MODEL);
    /* an attention weight, a block tensor that also drives the block count,
     * and the tensor the decoder width is read from */
    const char *skips[] = {"first_stage_model.decoder.mid.attn_1.q.weight",
                           "first_stage_model.encoder.down.0.block.1.conv1.weight",
                           "first_stage_model.decoder.conv_out.weight"};
    for (int i = 0; i < 3; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/vae-missing-%d.safetensors", test_tmpdir(), i);
        if (!write_without(model, skips[i], path))
            return;
        mend_err err = {0};
        mend_sd_model *m = NULL;
        mend_status s = mend_sd_load(path, NULL, MEND_COMP_VAE, &m, &err);
        CHECK_MSG(s == MEND_E_FORMAT, "without %s: %s", skips[i], mend_status_name(s));
        CHECK(m == NULL);
        CHECK_MSG(strstr(err.msg, skips[i]) != NULL, "message does not name '%s': %s", skips[i], err.msg);
        mend_sd_free(m);
        remove(path);
    }
}

TEST(size_not_multiple_of_8_is_rejected)
{
    REQUIRE_SHARED(model, MODEL);
    mend_sd_model *m = load_model(model);
    if (!m)
        return;
    float *x = calloc(3 * 60 * 64, sizeof *x), *mom = calloc(8 * 8 * 8, sizeof *mom);
    mend_err err = {0};
    CHECK(mend_vae_encode(m->vae, x, 1, 60, 64, mom, &err) == MEND_E_ARG);
    CHECK(mend_vae_encode(m->vae, x, 1, 64, 60, mom, &err) == MEND_E_ARG);
    CHECK(mend_vae_decode(m->vae, x, 1, 0, 8, mom, &err) == MEND_E_ARG);
    free(x);
    free(mom);
    mend_sd_free(m);
}

/* ---------------------------------------------------------- mend eval */

static mend_tf *run_eval(const char *component, const char *model, const char *in, const char *out_name)
{
    char out[512], log[512], cmd[4096];
    snprintf(out, sizeof out, "%s/%s", test_tmpdir(), out_name);
    snprintf(log, sizeof log, "%s/%s.log", test_tmpdir(), out_name);
    snprintf(cmd, sizeof cmd, "'%s' eval %s --model '%s' --in '%s' --out '%s' --threads 2", test_mend_bin(),
             component, model, in, out);
    int rc = test_run(cmd, log);
    CHECK_MSG(rc == 0, "%s exited %d (log %s)", cmd, rc, log);
    return rc == 0 ? open_ref(out) : NULL;
}

static void compare_files(const mend_tf *ref, const mend_tf *got, const char *name, double tol)
{
    float *g = got ? test_load_f32(got, name, NULL) : NULL;
    if (g)
        compare(ref, name, g, tol);
    free(g);
}

/* uint8 pixels: at most one level apart (float on an integer boundary). */
static void compare_uint8(const mend_tf *ref, const mend_tf *got)
{
    const mend_tf_tensor *r = ref_tensor(ref, "decoded_uint8"), *g = got ? ref_tensor(got, "decoded_uint8") : NULL;
    if (!r || !g)
        return;
    CHECK(g->dtype == MEND_DT_U8 && g->nbytes == r->nbytes && g->ndim == 4 && g->shape[3] == 3);
    if (g->nbytes != r->nbytes)
        return;
    int worst = 0;
    size_t off = 0;
    for (size_t i = 0; i < r->nbytes; i++) {
        int d = abs((int)r->data[i] - (int)g->data[i]);
        worst = d > worst ? d : worst;
        off += d != 0;
    }
    printf("  %-24s max level diff %d (%zu of %zu differ)\n", "decoded_uint8", worst, off, r->nbytes);
    CHECK(worst <= 1);
}

TEST(eval_vae_encode)
{
    REQUIRE_SHARED(model, MODEL);
    REQUIRE_SHARED(in, "vae/vae_roundtrip_chelsea-64.safetensors");
    mend_tf *ref = open_ref(in), *got = run_eval("vae-encode", model, in, "vae-encode.safetensors");
    const char *names[] = {"moments", "mean", "logvar", "std", "z_sample_scaled", "z_mean_scaled"};
    for (int i = 0; got && ref && i < 6; i++)
        compare_files(ref, got, names[i], TOL_ENC);
    mend_tf_close(got);
    mend_tf_close(ref);
}

/* Input with only image_uint8 + sample_noise: the runner converts the pixels. */
TEST(eval_vae_encode_from_uint8)
{
    REQUIRE_SHARED(model, MODEL);
    REQUIRE_SHARED(src, "vae/vae_roundtrip_chelsea-96x64.safetensors");
    mend_tf *ref = open_ref(src);
    if (!ref)
        return;
    char in[512];
    snprintf(in, sizeof in, "%s/vae-uint8-in.safetensors", test_tmpdir());
    mend_st_writer *w = mend_st_writer_new();
    mend_err err = {0};
    const char *keep[] = {"image_uint8", "sample_noise"};
    for (int i = 0; i < 2; i++) {
        const mend_tf_tensor *t = ref_tensor(ref, keep[i]);
        if (t)
            CHECK_OK(mend_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data, 0, &err), &err);
    }
    CHECK_OK(mend_st_writer_write(w, in, &err), &err);
    mend_st_writer_free(w);
    mend_tf *got = run_eval("vae-encode", model, in, "vae-encode-u8.safetensors");
    compare_files(ref, got, "moments", TOL_ENC);
    compare_files(ref, got, "z_sample_scaled", TOL_ENC);
    mend_tf_close(got);
    mend_tf_close(ref);
}

/* `mend eval vae-decode` on a reference file's latents: its `tensor`
 * within TOL_DEC of the reference, and its uint8 image equal. */
static void check_eval_decode(const char *in_rel, const char *out_name, const char *tensor)
{
    REQUIRE_SHARED(model, MODEL);
    REQUIRE_SHARED(in, in_rel);
    mend_tf *ref = open_ref(in), *got = run_eval("vae-decode", model, in, out_name);
    if (ref && got) {
        compare_files(ref, got, tensor, TOL_DEC);
        compare_uint8(ref, got);
    }
    mend_tf_close(got);
    mend_tf_close(ref);
}

TEST(eval_vae_decode)
{
    check_eval_decode("vae/vae_decode_random_2x4x8x12.safetensors", "vae-decode.safetensors", "decoded");
}

TEST(eval_vae_decode_from_z_mean)
{
    check_eval_decode("vae/vae_roundtrip_chelsea-64.safetensors", "vae-decode-mean.safetensors",
                      "decoded_from_z_mean");
}

int main(void)
{
    RUN(arch_is_detected);
    RUN(decode_random_1x4x8x8);
    RUN(decode_random_2x4x8x12);
    RUN(roundtrip_chelsea_64);
    RUN(roundtrip_chelsea_96x64);
    RUN(same_bytes_with_1_and_2_threads);
    RUN(missing_tensor_is_named);
    RUN(size_not_multiple_of_8_is_rejected);
    RUN(eval_vae_encode);
    RUN(eval_vae_encode_from_uint8);
    RUN(eval_vae_decode);
    RUN(eval_vae_decode_from_z_mean);
    return test_summary();
}
