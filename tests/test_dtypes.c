/* The same weights stored as F16 (the reference file), F32 and BF16 load
 * through the same code: F32 reproduces the reference UNet output exactly
 * as the F16 file does (the values are identical), BF16 stays close. */
#include "test.h"

#include "core/half.h"
#include "io/st_writer.h"
#include "model/sd_model.h"

#include <string.h>

/* Old text-encoder names (transformers < 4.18): no "text_model." level. */
static void old_clip_name(const char *name, char *out, size_t size)
{
    const char *p = "cond_stage_model.transformer.text_model.";
    if (!strncmp(name, p, strlen(p)))
        snprintf(out, size, "cond_stage_model.transformer.%s", name + strlen(p));
    else
        snprintf(out, size, "%s", name);
}

static int g_old_names;

/* Re-packs every float tensor of src into dt at path. */
static int repack(const char *src, const char *path, mend_dtype dt)
{
    mend_tf *f = NULL;
    mend_err err = {0};
    CHECK_OK(mend_tf_open(src, &f, &err), &err);
    if (!f)
        return 0;
    mend_st_writer *w = mend_st_writer_new();
    int ok = 1;
    for (int i = 0; i < f->count && ok; i++) {
        const mend_tf_tensor *t = &f->tensors[i];
        char name[600];
        if (g_old_names)
            old_clip_name(t->name, name, sizeof name);
        else
            snprintf(name, sizeof name, "%s", t->name);
        if (!mend_dtype_is_float(t->dtype)) {
            ok = mend_st_writer_add(w, name, t->dtype, t->ndim, t->shape, t->data, 0, &err) == MEND_OK;
            continue;
        }
        float *v = malloc((size_t)(mend_tf_numel(t) + 1) * sizeof *v);
        ok = v && mend_tf_read_f32(f, t, v, &err) == MEND_OK &&
             mend_st_writer_add_f32_as(w, name, dt, t->ndim, t->shape, v, &err) == MEND_OK;
        free(v);
    }
    ok = ok && mend_st_writer_write(w, path, &err) == MEND_OK;
    CHECK_MSG(ok, "repack to %s: %s", path, err.msg);
    mend_st_writer_free(w);
    mend_tf_close(f);
    return ok;
}

static double unet_error(const char *model, const mend_tf *ref)
{
    mend_sd_model *m = NULL;
    mend_err err = {0};
    CHECK_OK(mend_sd_load(model, NULL, MEND_COMP_UNET, &m, &err), &err);
    if (!m)
        return 1e9;
    float *x = test_load_f32(ref, "x", NULL), *t = test_load_f32(ref, "timesteps", NULL);
    float *ctx = test_load_f32(ref, "context", NULL), *want = test_load_f32(ref, "out", NULL);
    float out[2 * 4 * 8 * 8];
    double e = 1e9;
    if (x && t && ctx && want && mend_unet_forward(m->unet, x, 2, 8, 8, t, ctx, 77, out, &err) == MEND_OK)
        e = test_max_abs_diff(out, want, 2 * 4 * 64);
    free(x), free(t), free(ctx), free(want);
    mend_sd_free(m);
    return e;
}

TEST(f16_f32_bf16_checkpoints)
{
    REQUIRE_SHARED(model, "models/tiny-sd1.f16.safetensors");
    REQUIRE_SHARED(refp, "unet/sd1_b2_8x8.safetensors");
    mend_tf *ref = NULL;
    mend_err err = {0};
    CHECK_OK(mend_tf_open(refp, &ref, &err), &err);
    if (!ref)
        return;
    char f32[1024], bf16[1024];
    snprintf(f32, sizeof f32, "%s/tiny.f32.safetensors", test_tmpdir());
    snprintf(bf16, sizeof bf16, "%s/tiny.bf16.safetensors", test_tmpdir());
    double e16 = unet_error(model, ref);
    double e32 = repack(model, f32, MEND_DT_F32) ? unet_error(f32, ref) : 1e9;
    double eb = repack(model, bf16, MEND_DT_BF16) ? unet_error(bf16, ref) : 1e9;
    printf("UNet max err vs reference: f16 file %.2e, f32 file %.2e, bf16 file %.2e\n", e16, e32, eb);
    CHECK(e16 <= 1e-3);
    CHECK(e32 == e16);          /* identical values: identical result */
    CHECK(eb > 0 && eb < 0.5); /* bf16 rounds the weights: close, not equal */
    remove(f32);
    remove(bf16);
    mend_tf_close(ref);
}

/* A checkpoint whose text encoder lacks the "text_model." level (saved
 * with transformers < 4.18) loads and encodes exactly like the original. */
TEST(old_text_encoder_names)
{
    REQUIRE_SHARED(model, "models/tiny-sd1.f16.safetensors");
    char old[1024];
    snprintf(old, sizeof old, "%s/tiny.oldclip.safetensors", test_tmpdir());
    g_old_names = 1;
    int ok = repack(model, old, MEND_DT_F16);
    g_old_names = 0;
    if (!ok)
        return;
    mend_tf *f = NULL;
    mend_err err = {0};
    CHECK_OK(mend_tf_open(old, &f, &err), &err);
    CHECK(f && mend_tf_find(f, "cond_stage_model.transformer.final_layer_norm.weight") != NULL);
    mend_tf_close(f);
    mend_sd_model *a = NULL, *b = NULL;
    CHECK_OK(mend_sd_load(model, NULL, MEND_COMP_CLIP, &a, &err), &err);
    CHECK_OK(mend_sd_load(old, NULL, MEND_COMP_CLIP, &b, &err), &err);
    if (a && b) {
        int32_t ids[77] = {49406, 320, 1125, 539, 320, 2368, 49407};
        for (int i = 7; i < 77; i++)
            ids[i] = 49407;
        float za[77 * 32], zb[77 * 32];
        CHECK_OK(mend_clip_encode(a->clip, ids, 1, 77, 1, za, &err), &err);
        CHECK_OK(mend_clip_encode(b->clip, ids, 1, 77, 1, zb, &err), &err);
        CHECK(memcmp(za, zb, sizeof za) == 0);
    }
    mend_sd_free(a);
    mend_sd_free(b);
    remove(old);
}

int main(void)
{
    RUN(f16_f32_bf16_checkpoints);
    RUN(old_text_encoder_names);
    return test_summary();
}
