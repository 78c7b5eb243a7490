/* torch.save zip checkpoints (.ckpt / .pth) read back, with fixtures
 * written by torchzip_fixture.c (there is no torch here):
 *   - small state dicts: names, shapes, dtypes and values;
 *   - an SD-style {"state_dict": ..., "global_step": 5} with zip64 records,
 *     shared storages with offsets, Parameters and _rebuild_tensor_v3;
 *   - a TAESD .pth and the same weights as .safetensors give identical
 *     outputs (library and `mend eval taesd-decode` with a folder of .pth);
 *   - the tiny SD model re-packed as .ckpt gives the same UNet output.
 * Bad and damaged files: test_torchzip_bad.c. */
#include "torchzip_fixture.h"

#include "core/half.h"
#include "io/st_writer.h"
#include "model/sd_model.h"
#include "model/taesd.h"

#include <string.h>

TEST(state_dict_of_float_and_half_tensors)
{
    const char *path = write_small("small.pth", 0);
    mend_tf *f = path ? open_ok(path) : NULL;
    if (!f)
        return;
    CHECK(f->count == 2);
    float *a = values_of(f, "a", MEND_DT_F32, 2, (const int64_t[]){2, 3});
    float *b = values_of(f, "b", MEND_DT_F16, 1, (const int64_t[]){4});
    check_values(a, A_VALUES, 6, "a");
    check_values(b, B_VALUES, 4, "b");
    free(a);
    free(b);
    mend_tf_close(f);
}

/* An SD-style checkpoint with zip64 records; storages shared between
 * tensors (with offsets), a Parameter, a _rebuild_tensor_v3 over an
 * untyped storage, bf16, int64 and a 0-d tensor. */
TEST(sd_ckpt_layout_with_zip64_and_shared_storages)
{
    float f32[8];
    uint16_t bf[4], h[3];
    int64_t ids[3] = {0, 1, -7000000000ll};
    for (int i = 0; i < 8; i++)
        f32[i] = (float)i * 0.25f - 1.0f;
    for (int i = 0; i < 4; i++)
        bf[i] = mend_f32_to_bf16((float)(i + 1) * 3.0f);
    for (int i = 0; i < 3; i++)
        h[i] = mend_f32_to_f16((float)i - 0.5f);
    static const int64_t col_major[2] = {1, 2}; /* shape (2, 1): stride of a size-1 dim does not matter */
    fx_tensor t[] = {
        {.name = "model.diffusion_model.w", .storage = "FloatStorage", .key = "0", .storage_numel = 8, .ndim = 2,
         .shape = {2, 2}},
        {.name = "model.diffusion_model.v", .storage = "FloatStorage", .key = "0", .storage_numel = 8, .offset = 5,
         .ndim = 2, .shape = {2, 1}, .stride = col_major},
        {.name = "model.scalar", .storage = "FloatStorage", .key = "0", .storage_numel = 8, .offset = 7},
        {.name = "first_stage_model.p", .storage = "BFloat16Storage", .key = "1", .storage_numel = 4, .ndim = 1,
         .shape = {4}, .how = FX_PARAM},
        {.name = "cond_stage_model.ids", .storage = "LongStorage", .key = "2", .storage_numel = 3, .ndim = 2,
         .shape = {1, 3}},
        {.name = "model.untyped_half", .storage = "UntypedStorage", .key = "3", .storage_numel = 6, .ndim = 1,
         .shape = {3}, .how = FX_V3, .v3_dtype = "float16"},
    };
    fx_storage s[] = {{"0", f32, sizeof f32}, {"1", bf, sizeof bf}, {"2", ids, sizeof ids}, {"3", h, sizeof h}};
    const char *path = test_tmp_path("sd.ckpt");
    if (!write_checkpoint(path, t, 6, s, 4, 1, Z_ZIP64))
        return;
    mend_tf *f = open_ok(path);
    if (!f)
        return;
    CHECK(f->count == 6);
    CHECK(mend_tf_find(f, "global_step") == NULL && mend_tf_find(f, "epoch") == NULL);
    CHECK(mend_tf_find(f, "_metadata") == NULL);
    float *w = values_of(f, "model.diffusion_model.w", MEND_DT_F32, 2, (const int64_t[]){2, 2});
    float *v = values_of(f, "model.diffusion_model.v", MEND_DT_F32, 2, (const int64_t[]){2, 1});
    float *sc = values_of(f, "model.scalar", MEND_DT_F32, 0, NULL);
    float *p = values_of(f, "first_stage_model.p", MEND_DT_BF16, 1, (const int64_t[]){4});
    float *id = values_of(f, "cond_stage_model.ids", MEND_DT_I64, 2, (const int64_t[]){1, 3});
    float *uh = values_of(f, "model.untyped_half", MEND_DT_F16, 1, (const int64_t[]){3});
    check_values(w, f32, 4, "w");
    check_values(v, f32 + 5, 2, "v");
    check_values(sc, f32 + 7, 1, "scalar");
    check_values(p, (const float[]){3, 6, 9, 12}, 4, "p");
    check_values(id, (const float[]){0, 1, -7e9f}, 3, "ids");
    check_values(uh, (const float[]){-0.5f, 0.5f, 1.5f}, 3, "untyped_half");
    free(w);
    free(v);
    free(sc);
    free(p);
    free(id);
    free(uh);
    mend_tf_close(f);
}

/* ------------------------------------------------------------ TAESD */

#define TAESD_WIDTH 8

typedef struct weights {
    fx_tensor t[128];
    fx_storage s[128];
    uint16_t *data[128];
    char names[128][48], keys[128][8];
    int n;
} weights;

static void add_weight(weights *w, const char *name, int ndim, const int64_t *shape)
{
    int i = w->n++;
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++)
        numel *= shape[d];
    w->data[i] = malloc((size_t)numel * sizeof(uint16_t));
    if (!w->data[i])
        abort();
    for (int64_t k = 0; k < numel; k++)
        w->data[i][k] = mend_f32_to_f16(rnd_unit() * 0.3f);
    snprintf(w->names[i], sizeof w->names[i], "%s", name);
    snprintf(w->keys[i], sizeof w->keys[i], "%d", i);
    w->t[i] = (fx_tensor){.name = w->names[i], .storage = "HalfStorage", .key = w->keys[i],
                          .storage_numel = numel, .ndim = ndim};
    memcpy(w->t[i].shape, shape, (size_t)ndim * sizeof *shape);
    w->s[i] = (fx_storage){w->keys[i], w->data[i], (size_t)numel * sizeof(uint16_t)};
}

static void add_conv(weights *w, const char *name, int cin, int cout, int bias)
{
    char n[40];
    snprintf(n, sizeof n, "%s.weight", name);
    add_weight(w, n, 4, (const int64_t[]){cout, cin, 3, 3});
    if (bias) {
        snprintf(n, sizeof n, "%s.bias", name);
        add_weight(w, n, 1, (const int64_t[]){cout});
    }
}

/* TAESD's Sequential layout (madebyollin/taesd) at a small width:
 * 'c' conv with bias, 's'/'n' conv without, 'b' block (conv.0/2/4),
 * anything else has no weights. */
static void make_taesd(weights *w, const char *layers, int cin, int cout)
{
    int count = (int)strlen(layers), c = cin;
    char name[32];
    for (int i = 0; i < count; i++) {
        int out = i == count - 1 ? cout : TAESD_WIDTH;
        snprintf(name, sizeof name, "%d", i);
        if (layers[i] == 'c' || layers[i] == 's' || layers[i] == 'n') {
            add_conv(w, name, c, out, layers[i] == 'c');
            c = out;
        } else if (layers[i] == 'b') {
            for (int k = 0; k < 3; k++) {
                snprintf(name, sizeof name, "%d.conv.%d", i, 2 * k);
                add_conv(w, name, k ? out : c, out, 1);
            }
            c = out;
        }
    }
}

static void free_weights(weights *w)
{
    for (int i = 0; i < w->n; i++)
        free(w->data[i]);
}

static int write_safetensors(const char *path, const weights *w)
{
    mend_st_writer *sw = mend_st_writer_new();
    mend_err err = {0};
    mend_status s = sw ? MEND_OK : MEND_E_NOMEM;
    for (int i = 0; s == MEND_OK && i < w->n; i++)
        s = mend_st_writer_add(sw, w->names[i], MEND_DT_F16, w->t[i].ndim, w->t[i].shape, w->data[i], 0, &err);
    if (s == MEND_OK)
        s = mend_st_writer_write(sw, path, &err);
    CHECK_OK(s, &err);
    mend_st_writer_free(sw);
    return s == MEND_OK;
}

static mend_taesd *load_taesd(const char *enc, const char *dec)
{
    mend_tf *e = open_ok(enc), *d = open_ok(dec);
    mend_taesd *t = NULL;
    mend_err err = {0};
    if (e && d)
        CHECK_OK(mend_taesd_load(e, d, &t, &err), &err);
    mend_tf_close(e);
    mend_tf_close(d);
    return t;
}

#define IMG 16
#define LAT (IMG / 8)

TEST(taesd_pth_matches_safetensors)
{
    weights enc = {0}, dec = {0};
    make_taesd(&enc, "cbsbbbsbbbsbbbc", 3, 4);
    make_taesd(&dec, "-c-bbb-nbbb-nbbb-nbc", 4, 3);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/taesd_pth", test_tmpdir());
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    CHECK(test_run(cmd, NULL) == 0);
    char enc_pth[600], dec_pth[600];
    snprintf(enc_pth, sizeof enc_pth, "%s/taesd_encoder.pth", dir);
    snprintf(dec_pth, sizeof dec_pth, "%s/taesd_decoder.pth", dir);
    const char *enc_st = test_tmp_path("taesd_encoder.safetensors"), *dec_st = test_tmp_path("taesd_decoder.safetensors");
    int ok = write_checkpoint(enc_pth, enc.t, enc.n, enc.s, enc.n, 0, 0) &&
             write_checkpoint(dec_pth, dec.t, dec.n, dec.s, dec.n, 0, 0) && write_safetensors(enc_st, &enc) &&
             write_safetensors(dec_st, &dec);
    mend_taesd *from_pth = ok ? load_taesd(enc_pth, dec_pth) : NULL;
    mend_taesd *from_st = ok ? load_taesd(enc_st, dec_st) : NULL;
    if (from_pth && from_st) {
        CHECK(mend_taesd_params(from_pth) == mend_taesd_params(from_st));
        float img[3 * IMG * IMG], lat[2][4 * LAT * LAT], out[2][3 * IMG * IMG];
        for (int i = 0; i < 3 * IMG * IMG; i++)
            img[i] = (rnd_unit() + 1) / 2;
        mend_err err = {0};
        CHECK_OK(mend_taesd_encode(from_pth, img, 1, IMG, IMG, lat[0], &err), &err);
        CHECK_OK(mend_taesd_encode(from_st, img, 1, IMG, IMG, lat[1], &err), &err);
        CHECK_OK(mend_taesd_decode(from_pth, lat[1], 1, LAT, LAT, out[0], &err), &err);
        CHECK_OK(mend_taesd_decode(from_st, lat[1], 1, LAT, LAT, out[1], &err), &err);
        double de = test_max_abs_diff(lat[0], lat[1], 4 * LAT * LAT);
        double dd = test_max_abs_diff(out[0], out[1], 3 * IMG * IMG);
        printf("  .pth vs .safetensors: encoder max abs diff %g, decoder %g (must be 0)\n", de, dd);
        CHECK(de == 0 && dd == 0);

        /* mend eval taesd-decode --model FOLDER picks taesd_decoder.pth */
        const char *in = test_tmp_path("taesd_in.safetensors"), *outp = test_tmp_path("taesd_out.safetensors");
        mend_st_writer *sw = mend_st_writer_new();
        CHECK_OK(mend_st_writer_add(sw, "x/latent", MEND_DT_F32, 4, (const int64_t[]){1, 4, LAT, LAT}, lat[1], 0,
                                    &err),
                 &err);
        CHECK_OK(mend_st_writer_write(sw, in, &err), &err);
        mend_st_writer_free(sw);
        snprintf(cmd, sizeof cmd, "'%s' eval taesd-decode --model '%s' --in '%s' --out '%s'", test_mend_bin(), dir,
                 in, outp);
        int rc = test_run(cmd, test_tmp_path("taesd_eval.log"));
        CHECK_MSG(rc == 0, "%s exited %d", cmd, rc);
        mend_tf *got = rc == 0 ? open_ok(outp) : NULL;
        float *cli = got ? test_load_f32(got, "x/decoded01", NULL) : NULL;
        if (cli) {
            double dc = test_max_abs_diff(cli, out[1], 3 * IMG * IMG);
            printf("  mend eval taesd-decode with a folder of .pth: max abs diff %g (tol 1e-6)\n", dc);
            CHECK(dc <= 1e-6);
        }
        free(cli);
        mend_tf_close(got);
    }
    mend_taesd_free(from_pth);
    mend_taesd_free(from_st);
    free_weights(&enc);
    free_weights(&dec);
}

/* ------------------------------------------------------------ tiny SD */

static const char *storage_of(mend_dtype dt)
{
    switch (dt) {
    case MEND_DT_F32: return "FloatStorage";
    case MEND_DT_F16: return "HalfStorage";
    case MEND_DT_BF16: return "BFloat16Storage";
    case MEND_DT_F64: return "DoubleStorage";
    case MEND_DT_I64: return "LongStorage";
    case MEND_DT_I32: return "IntStorage";
    default: return "ByteStorage";
    }
}

/* Every tensor of a safetensors file into {"state_dict": ..., "global_step": 5}. */
static int repack_as_ckpt(const mend_tf *st, const char *path)
{
    fx_tensor *t = calloc((size_t)st->count, sizeof *t);
    fx_storage *s = calloc((size_t)st->count, sizeof *s);
    char(*keys)[12] = calloc((size_t)st->count, sizeof *keys);
    int ok = t && s && keys;
    for (int i = 0; ok && i < st->count; i++) {
        const mend_tf_tensor *x = &st->tensors[i];
        snprintf(keys[i], sizeof keys[i], "%d", i);
        t[i] = (fx_tensor){.name = x->name, .storage = storage_of(x->dtype), .key = keys[i],
                           .storage_numel = mend_tf_numel(x), .ndim = x->ndim};
        memcpy(t[i].shape, x->shape, sizeof x->shape);
        s[i] = (fx_storage){keys[i], x->data, x->nbytes};
    }
    ok = ok && write_checkpoint(path, t, st->count, s, st->count, 1, 0);
    free(t);
    free(s);
    free(keys);
    return ok;
}

static float *unet_output(const char *path, int H, int W, int T, const float *x, const float *ctx)
{
    mend_err err = {0};
    mend_sd_model *m = NULL;
    CHECK_OK(mend_sd_load(path, NULL, MEND_COMP_UNET | MEND_COMP_VAE | MEND_COMP_CLIP, &m, &err), &err);
    if (!m)
        return NULL;
    const mend_unet_arch *a = mend_unet_get_arch(m->unet);
    float *out = malloc((size_t)(a->out_channels * H * W) * sizeof *out), ts = 500.0f;
    CHECK_OK(mend_unet_forward(m->unet, x, 1, H, W, &ts, ctx, T, out, &err), &err);
    mend_sd_free(m);
    return out;
}

TEST(tiny_sd_ckpt_matches_safetensors)
{
    REQUIRE_SHARED(st_path, "models/tiny-sd1.f16.safetensors");
    mend_tf *st = open_ok(st_path);
    const char *ckpt = test_tmp_path("tiny-sd1.ckpt");
    if (!st || !repack_as_ckpt(st, ckpt)) {
        mend_tf_close(st);
        return;
    }
    mend_tf *ck = open_ok(ckpt);
    if (ck) {
        CHECK(ck->count == st->count);
        for (int i = 0; i < st->count && i < ck->count; i++) {
            const mend_tf_tensor *a = &st->tensors[i], *b = &ck->tensors[i];
            CHECK_MSG(!strcmp(a->name, b->name) && a->dtype == b->dtype && a->nbytes == b->nbytes &&
                          !memcmp(a->data, b->data, a->nbytes),
                      "tensor '%s' differs", a->name);
        }
    }
    mend_tf_close(ck);
    mend_tf_close(st);
    enum { H = 16, W = 16, T = 5, C = 32 };
    float x[4 * H * W], ctx[T * C];
    for (int i = 0; i < 4 * H * W; i++)
        x[i] = rnd_unit();
    for (int i = 0; i < T * C; i++)
        ctx[i] = rnd_unit();
    float *a = unet_output(st_path, H, W, T, x, ctx), *b = unet_output(ckpt, H, W, T, x, ctx);
    if (a && b) {
        double d = test_max_abs_diff(a, b, 4 * H * W);
        printf("  tiny SD UNet, .ckpt vs .safetensors: max abs diff %g (must be 0)\n", d);
        CHECK(d == 0);
    }
    free(a);
    free(b);
    remove(ckpt);
}

int main(void)
{
    RUN(state_dict_of_float_and_half_tensors);
    RUN(sd_ckpt_layout_with_zip64_and_shared_storages);
    RUN(taesd_pth_matches_safetensors);
    RUN(tiny_sd_ckpt_matches_safetensors);
    return test_summary();
}
