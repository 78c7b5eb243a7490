/* The streamed safetensors writer (generated tensors, atomic output),
 * mend_tf_rename, and the diffusers -> single-file renaming rules. Split
 * from test_cli_tools.c, which tests make-model itself. */
#include "test.h"

#include "io/st_writer.h"
#include "model/diffusers.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

/* ---- streamed writer ------------------------------------------------------ */

static mend_status fill_counting(void *ctx, const char *name, void *dst, size_t nbytes, mend_err *err)
{
    int *calls = ctx;
    (*calls)++;
    float *v = dst;
    for (size_t i = 0; i < nbytes / 4; i++)
        v[i] = (float)i;
    return MEND_OK;
}

static mend_status fill_failing(void *ctx, const char *name, void *dst, size_t nbytes, mend_err *err)
{
    return mend_fail(err, MEND_E_ARG, "cannot generate '%s'", name);
}

TEST(generated_tensors_are_written_and_failures_leave_nothing)
{
    mend_err err = {0};
    int calls = 0;
    const char *p = test_tmp_path("gen.safetensors");
    mend_st_writer *w = mend_st_writer_new();
    CHECK_OK(mend_st_writer_add_generated(w, "a", MEND_DT_F32, 2, (int64_t[]){3, 5}, fill_counting, &calls, &err),
             &err);
    CHECK_OK(mend_st_writer_add_generated(w, "b", MEND_DT_F32, 1, (int64_t[]){40}, fill_counting, &calls, &err), &err);
    CHECK_OK(mend_st_writer_write(w, p, &err), &err);
    mend_st_writer_free(w);
    CHECK(calls == 2);
    mend_tf *f = NULL;
    CHECK_OK(mend_tf_open(p, &f, &err), &err);
    int64_t n = 0;
    float *b = f ? test_load_f32(f, "b", &n) : NULL;
    CHECK(n == 40 && b && b[0] == 0 && b[39] == 39);
    free(b);
    mend_tf_close(f);
    remove(p);

    w = mend_st_writer_new();
    CHECK_OK(mend_st_writer_add_generated(w, "a", MEND_DT_F32, 1, (int64_t[]){8}, fill_counting, &calls, &err), &err);
    CHECK_OK(mend_st_writer_add_generated(w, "bad", MEND_DT_F32, 1, (int64_t[]){8}, fill_failing, NULL, &err), &err);
    mend_status s = mend_st_writer_write(w, p, &err);
    mend_st_writer_free(w);
    CHECK(s == MEND_E_ARG && strstr(err.msg, "bad"));
    CHECK(!test_path_exists(p));
    CHECK(test_count_entries(test_tmpdir(), "gen.safetensors.tmp") == 0);
}

/* ---- mend_tf_rename ------------------------------------------------------ */

static mend_status rename_upper(void *ctx, const char *name, char *out, size_t size, mend_err *err)
{
    snprintf(out, size, "X.%s", name);
    return MEND_OK;
}

static mend_status rename_all_same(void *ctx, const char *name, char *out, size_t size, mend_err *err)
{
    snprintf(out, size, "same");
    return MEND_OK;
}

static const char *write_small(const char *file, const char *const *names, int n)
{
    const char *p = test_tmp_path(file);
    mend_st_writer *w = mend_st_writer_new();
    mend_err err = {0};
    static float v[4] = {1, 2, 3, 4};
    for (int i = 0; i < n; i++) {
        v[0] = (float)i;
        CHECK_OK(mend_st_writer_add_f32_as(w, names[i], MEND_DT_F32, 1, (int64_t[]){4}, v, &err), &err);
    }
    CHECK_OK(mend_st_writer_write(w, p, &err), &err);
    mend_st_writer_free(w);
    return p;
}

/* write_small's file, opened (NULL with a failed check); *path names it. */
static mend_tf *open_small(const char *file, const char *const *names, int n, const char **path)
{
    *path = write_small(file, names, n);
    mend_err err = {0};
    mend_tf *f = NULL;
    CHECK_OK(mend_tf_open(*path, &f, &err), &err);
    return f;
}

TEST(tf_rename_renames_resorts_and_is_all_or_nothing)
{
    static const char *const names[] = {"b", "a", "c"};
    const char *p;
    mend_tf *f = open_small("rename.safetensors", names, 3, &p);
    if (!f)
        return;
    mend_err err = {0};
    CHECK(mend_tf_rename(f, rename_all_same, NULL, &err) == MEND_E_FORMAT && strstr(err.msg, "same"));
    CHECK(mend_tf_find(f, "a") && mend_tf_find(f, "b") && mend_tf_find(f, "c") && !mend_tf_find(f, "same"));
    CHECK_OK(mend_tf_rename(f, rename_upper, NULL, &err), &err);
    const mend_tf_tensor *t = mend_tf_find(f, "X.b");
    float v[4] = {0};
    CHECK(t && !mend_tf_find(f, "b"));
    CHECK(t && mend_tf_read_f32(f, t, v, &err) == MEND_OK && v[0] == 0.0f); /* "b" was written first */
    CHECK(f->count == 3 && strcmp(f->tensors[0].name, "X.a") == 0 && strcmp(f->tensors[2].name, "X.c") == 0);
    mend_tf_close(f);
    remove(p);
}

/* ---- diffusers renaming ---------------------------------------------------- */

static void expect_rename_error(const char *const *names, int n, int vae, const char *bad)
{
    const char *p;
    mend_tf *f = open_small("bad-names.safetensors", names, n, &p);
    if (!f)
        return;
    mend_err err = {0};
    mend_status s = vae ? mend_diffusers_rename_vae(f, &err) : mend_diffusers_rename_unet(f, &err);
    CHECK_MSG(s == MEND_E_ARCH && strstr(err.msg, bad), "%s -> %s", bad, err.msg);
    CHECK(mend_tf_find(f, names[0]) != NULL); /* unchanged */
    mend_tf_close(f);
    remove(p);
}

TEST(unknown_diffusers_names_are_refused_by_name)
{
    static const char *const unet[] = {"conv_in.weight", "down_blocks.0.resnets.0.norm1.weight",
                                       "down_blocks.0.resnets.0.bogus.weight"};
    expect_rename_error(unet, 3, 0, "'down_blocks.0.resnets.0.bogus.weight'");
    static const char *const unet2[] = {"down_blocks.0.resnets.0.norm1.weight", "add_embedding.linear_1.weight"};
    expect_rename_error(unet2, 2, 0, "'add_embedding.linear_1.weight'");
    static const char *const unet3[] = {"model.diffusion_model.input_blocks.0.0.weight"};
    expect_rename_error(unet3, 1, 0, "not a diffusers UNet");
    static const char *const vae[] = {"encoder.conv_in.weight", "encoder.mid_block.attentions.0.foo.weight"};
    expect_rename_error(vae, 2, 1, "'encoder.mid_block.attentions.0.foo.weight'");
}

/* Older diffusers VAE attention names (query/key/value/proj_attn) and the
 * reversed decoder numbering. */
TEST(vae_legacy_attention_names)
{
    static const char *const names[] = {"decoder.up_blocks.0.resnets.0.conv1.weight",
                                        "decoder.up_blocks.3.resnets.2.conv_shortcut.bias",
                                        "decoder.up_blocks.1.upsamplers.0.conv.weight",
                                        "encoder.mid_block.attentions.0.query.weight",
                                        "encoder.mid_block.attentions.0.proj_attn.bias",
                                        "decoder.mid_block.attentions.0.group_norm.weight",
                                        "encoder.conv_norm_out.bias",
                                        "encoder.down_blocks.2.downsamplers.0.conv.bias"};
    static const char *const want[] = {"decoder.up.3.block.0.conv1.weight",
                                       "decoder.up.0.block.2.nin_shortcut.bias",
                                       "decoder.up.2.upsample.conv.weight",
                                       "encoder.mid.attn_1.q.weight",
                                       "encoder.mid.attn_1.proj_out.bias",
                                       "decoder.mid.attn_1.norm.weight",
                                       "encoder.norm_out.bias",
                                       "encoder.down.2.downsample.conv.bias"};
    const char *p;
    mend_tf *f = open_small("vae-legacy.safetensors", names, 8, &p);
    if (!f)
        return;
    mend_err err = {0};
    CHECK_OK(mend_diffusers_rename_vae(f, &err), &err);
    for (int i = 0; i < 8; i++) {
        const mend_tf_tensor *t = mend_tf_find(f, want[i]);
        float v[4] = {-1};
        CHECK_MSG(t && mend_tf_read_f32(f, t, v, &err) == MEND_OK && v[0] == (float)i, "%s -> %s", names[i], want[i]);
    }
    mend_tf_close(f);
    remove(p);
}

int main(void)
{
    RUN(generated_tensors_are_written_and_failures_leave_nothing);
    RUN(tf_rename_renames_resorts_and_is_all_or_nothing);
    RUN(unknown_diffusers_names_are_refused_by_name);
    RUN(vae_legacy_attention_names);
    test_remove_tmpdir();
    return test_summary();
}
