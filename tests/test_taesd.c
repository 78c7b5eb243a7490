/* TAESD against shared/testdata/taesd (random weights in the real layout):
 * encoder latents and decoder images <= 1e-3; thread-count independence;
 * bad inputs; `mend eval taesd-encode|taesd-decode` file to file. */
#include "test.h"

#include "io/st_writer.h"
#include "model/taesd.h"

#include <string.h>

#define ENC "taesd/taesd_encoder.random.f16.safetensors"
#define DEC "taesd/taesd_decoder.random.f16.safetensors"
#define REF "taesd/taesd_random.safetensors"
#define TOL 1e-3

/* Prints and checks the largest difference from the reference; 1 (one
 * case compared) either way. */
static int check_close(const float *got, const float *want, int64_t n, const char *name)
{
    double d = test_max_abs_diff(got, want, n);
    printf("  %-28s max abs err %.3g (tol %g)\n", name, d, TOL);
    CHECK_MSG(d <= TOL, "'%s' max abs err %g > %g", name, d, TOL);
    return 1;
}

static mend_tf *open_file(const char *path)
{
    mend_err err = {0};
    mend_tf *f = NULL;
    CHECK_OK(mend_tf_open(path, &f, &err), &err);
    return f;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

typedef struct fixture {
    mend_tf *enc, *dec, *ref;
    mend_taesd *t;
} fixture;

static int setup(fixture *fx)
{
    memset(fx, 0, sizeof *fx);
    const char *e = test_shared(ENC), *d = test_shared(DEC), *r = test_shared(REF);
    if (!e || !d || !r)
        return 0;
    fx->enc = open_file(e);
    fx->dec = open_file(d);
    fx->ref = open_file(r);
    mend_err err = {0};
    if (fx->enc && fx->dec)
        CHECK_OK(mend_taesd_load(fx->enc, fx->dec, &fx->t, &err), &err);
    return fx->t && fx->ref;
}

static void teardown(fixture *fx)
{
    mend_taesd_free(fx->t);
    mend_tf_close(fx->enc);
    mend_tf_close(fx->dec);
    mend_tf_close(fx->ref);
}

/* Runs the encoder (encode) or decoder on every reference PREFIX/<from>
 * and compares with PREFIX/<to>: every case the file holds must check. */
static void check_all(fixture *fx, int encode)
{
    const char *from = encode ? "/image01" : "/latent", *to = encode ? "/latent" : "/decoded01";
    int checked = 0, cases = 0;
    for (int i = 0; i < fx->ref->count; i++) {
        const mend_tf_tensor *x = &fx->ref->tensors[i];
        if (!has_suffix(x->name, from))
            continue;
        cases++;
        CHECK_MSG(x->ndim == 4, "'%s' is not [N,C,H,W]", x->name);
        if (x->ndim != 4)
            continue;
        char want_name[256];
        snprintf(want_name, sizeof want_name, "%.*s%s", (int)(strlen(x->name) - strlen(from)), x->name, to);
        int64_t n = 0;
        float *in = test_load_f32(fx->ref, x->name, NULL), *want = test_load_f32(fx->ref, want_name, &n);
        float *got = malloc((size_t)(n + 1) * sizeof *got);
        mend_err err = {0};
        int N = (int)x->shape[0], h = (int)x->shape[2], w = (int)x->shape[3];
        if (in && want) {
            CHECK_OK(encode ? mend_taesd_encode(fx->t, in, N, h, w, got, &err)
                            : mend_taesd_decode(fx->t, in, N, h, w, got, &err),
                     &err);
            checked += check_close(got, want, n, want_name);
        }
        free(in);
        free(want);
        free(got);
    }
    CHECK_MSG(cases > 0 && checked == cases, "%d of %d '*%s' cases checked", checked, cases, from);
}

TEST(encoder_matches_reference)
{
    fixture fx;
    if (setup(&fx))
        check_all(&fx, 1);
    teardown(&fx);
}

TEST(decoder_matches_reference)
{
    fixture fx;
    if (setup(&fx))
        check_all(&fx, 0);
    teardown(&fx);
}

/* The first reference image (PREFIX/image01, [1,3,H,W], H and W multiples
 * of 8), or NULL with a failed check. */
static const mend_tf_tensor *first_image(const mend_tf *ref)
{
    for (int i = 0; i < ref->count; i++) {
        const mend_tf_tensor *x = &ref->tensors[i];
        if (has_suffix(x->name, "/image01") && x->ndim == 4 && x->shape[0] == 1 && x->shape[1] == 3 &&
            x->shape[2] % 8 == 0 && x->shape[3] % 8 == 0)
            return x;
    }
    CHECK_MSG(0, "no [1,3,H,W] '*/image01' tensor in %s", ref->path);
    return NULL;
}

TEST(same_bytes_with_1_and_2_threads)
{
    fixture fx;
    if (!setup(&fx)) {
        teardown(&fx);
        return;
    }
    const mend_tf_tensor *x = first_image(fx.ref);
    float *img = x ? test_load_f32(fx.ref, x->name, NULL) : NULL;
    if (!img) {
        teardown(&fx);
        return;
    }
    const int H = (int)x->shape[2], W = (int)x->shape[3], nl = 4 * (H / 8) * (W / 8), ni = 3 * H * W;
    float *lat[2], *dec[2];
    mend_err err = {0};
    for (int t = 0; t < 2; t++) {
        mend_set_threads(t + 1);
        lat[t] = malloc(nl * sizeof(float));
        dec[t] = malloc(ni * sizeof(float));
        CHECK_OK(mend_taesd_encode(fx.t, img, 1, H, W, lat[t], &err), &err);
        CHECK_OK(mend_taesd_decode(fx.t, lat[0], 1, H / 8, W / 8, dec[t], &err), &err);
    }
    mend_set_threads(0);
    CHECK(memcmp(lat[0], lat[1], nl * sizeof(float)) == 0);
    CHECK(memcmp(dec[0], dec[1], ni * sizeof(float)) == 0);
    for (int t = 0; t < 2; t++) {
        free(lat[t]);
        free(dec[t]);
    }
    free(img);
    teardown(&fx);
}

TEST(missing_tensor_is_named)
{
    REQUIRE_SHARED(enc, ENC);
    const char *skip = "5.conv.2.weight";
    char path[512];
    snprintf(path, sizeof path, "%s/taesd-missing.safetensors", test_tmpdir());
    mend_tf *f = open_file(enc);
    if (!f)
        return;
    mend_st_writer *w = mend_st_writer_new();
    mend_err err = {0};
    for (int i = 0; i < f->count; i++) {
        const mend_tf_tensor *t = &f->tensors[i];
        if (strcmp(t->name, skip) != 0)
            CHECK_OK(mend_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data, 0, &err), &err);
    }
    CHECK_OK(mend_st_writer_write(w, path, &err), &err);
    mend_st_writer_free(w);
    mend_tf_close(f);
    mend_tf *bad = open_file(path);
    mend_taesd *t = NULL;
    if (bad) {
        CHECK(mend_taesd_load(bad, NULL, &t, &err) == MEND_E_FORMAT);
        CHECK(t == NULL);
        CHECK_MSG(strstr(err.msg, "'5.conv.2.weight'") != NULL, "message does not name the tensor: %s", err.msg);
    }
    mend_taesd_free(t);
    mend_tf_close(bad);
    remove(path);
}

TEST(bad_sizes_and_missing_parts_are_rejected)
{
    fixture fx;
    if (!setup(&fx)) {
        teardown(&fx);
        return;
    }
    float *x = calloc(3 * 60 * 64, sizeof *x), *y = calloc(3 * 64 * 64, sizeof *y);
    mend_err err = {0};
    CHECK(mend_taesd_encode(fx.t, x, 1, 60, 64, y, &err) == MEND_E_ARG);
    CHECK(mend_taesd_encode(fx.t, x, 1, 64, 60, y, &err) == MEND_E_ARG);
    CHECK(mend_taesd_decode(fx.t, x, 1, 0, 8, y, &err) == MEND_E_ARG);
    mend_taesd *dec_only = NULL;
    CHECK_OK(mend_taesd_load(NULL, fx.dec, &dec_only, &err), &err);
    if (dec_only)
        CHECK(mend_taesd_encode(dec_only, x, 1, 8, 8, y, &err) == MEND_E_ARG);
    mend_taesd_free(dec_only);
    mend_taesd *none = NULL;
    CHECK(mend_taesd_load(NULL, NULL, &none, &err) == MEND_E_ARG);
    CHECK(none == NULL);
    free(x);
    free(y);
    teardown(&fx);
}

/* ---------------------------------------------------------- mend eval */

/* Runs the binary and compares every PREFIX/<to> it wrote with the
 * reference: one output for each PREFIX/<from> input the file holds. */
static void check_eval(const char *component, const char *model, const char *from, const char *to)
{
    REQUIRE_SHARED(ref_path, REF);
    char out[512], log[512], cmd[4096];
    snprintf(out, sizeof out, "%s/%s.safetensors", test_tmpdir(), component);
    snprintf(log, sizeof log, "%s/%s.log", test_tmpdir(), component);
    snprintf(cmd, sizeof cmd, "'%s' eval %s --model '%s' --in '%s' --out '%s'", test_mend_bin(), component, model,
             ref_path, out);
    int rc = test_run(cmd, log);
    CHECK_MSG(rc == 0, "%s exited %d (log %s)", cmd, rc, log);
    mend_tf *got = rc == 0 ? open_file(out) : NULL, *ref = open_file(ref_path);
    int compared = 0;
    for (int i = 0; got && ref && i < got->count; i++) {
        const char *name = got->tensors[i].name;
        CHECK_MSG(has_suffix(name, to), "unexpected output '%s'", name);
        int64_t n = 0, m = 0;
        float *g = test_load_f32(got, name, &n), *r = test_load_f32(ref, name, &m);
        if (g && r && n == m) {
            compared += check_close(g, r, n, name);
        }
        free(g);
        free(r);
    }
    int expect = 0;
    for (int i = 0; ref && i < ref->count; i++)
        expect += has_suffix(ref->tensors[i].name, from);
    CHECK_MSG(expect > 0 && compared == expect, "%d of %d '*%s' outputs compared", compared, expect, to);
    mend_tf_close(got);
    mend_tf_close(ref);
}

TEST(eval_taesd_encode_with_folder)
{
    REQUIRE_SHARED(dir, "taesd");
    check_eval("taesd-encode", dir, "/image01", "/latent");
}

TEST(eval_taesd_decode_with_file)
{
    REQUIRE_SHARED(dec, DEC);
    check_eval("taesd-decode", dec, "/latent", "/decoded01");
}

int main(void)
{
    RUN(encoder_matches_reference);
    RUN(decoder_matches_reference);
    RUN(same_bytes_with_1_and_2_threads);
    RUN(missing_tensor_is_named);
    RUN(bad_sizes_and_missing_parts_are_rejected);
    RUN(eval_taesd_encode_with_folder);
    RUN(eval_taesd_decode_with_file);
    return test_summary();
}
