/* safetensors reader/writer: round trip of every dtype, and every kind of
 * malformed file gives a clear error naming the file (and tensor). */
#include "test.h"

#include "core/half.h"
#include "io/st_writer.h"
#include "model/unet.h"

#include <unistd.h>

#include <string.h>


/* Writes a file made of an 8-byte length, the given header and data bytes. */
static void write_raw(const char *path, uint64_t hlen, const char *header, const void *data, size_t dlen)
{
    FILE *f = fopen(path, "wb");
    unsigned char l8[8];
    for (int i = 0; i < 8; i++)
        l8[i] = (unsigned char)(hlen >> (8 * i));
    fwrite(l8, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    if (dlen)
        fwrite(data, 1, dlen, f);
    fclose(f);
}

static void write_header(const char *path, const char *header, size_t dlen)
{
    static unsigned char zeros[4096];
    write_raw(path, strlen(header), header, zeros, dlen);
}

TEST(roundtrip_all_float_dtypes)
{
    float v[6] = {0.0f, -1.5f, 3.14159f, 65504.0f, 1e-7f, -2.0e-3f};
    mend_err err = {0};
    mend_st_writer *w = mend_st_writer_new();
    CHECK_OK(mend_st_writer_add_f32_as(w, "a.f32", MEND_DT_F32, 2, (int64_t[]){2, 3}, v, &err), &err);
    CHECK_OK(mend_st_writer_add_f32_as(w, "b.f16", MEND_DT_F16, 1, (int64_t[]){6}, v, &err), &err);
    CHECK_OK(mend_st_writer_add_f32_as(w, "c.bf16", MEND_DT_BF16, 3, (int64_t[]){1, 6, 1}, v, &err), &err);
    int32_t ids[3] = {49406, 7, 49407};
    CHECK_OK(mend_st_writer_add(w, "ids", MEND_DT_I32, 1, (int64_t[]){3}, ids, 0, &err), &err);
    CHECK_OK(mend_st_writer_set_meta(w, "format", "pt", &err), &err);
    const char *p = test_tmp_path("rt.safetensors");
    CHECK_OK(mend_st_writer_write(w, p, &err), &err);
    mend_st_writer_free(w);

    mend_tf *f = NULL;
    CHECK_OK(mend_tf_open(p, &f, &err), &err);
    if (!f)
        return;
    CHECK(f->count == 4);
    CHECK(f->metadata_json && strstr(f->metadata_json, "\"format\""));
    float out[6];
    const mend_tf_tensor *t = mend_tf_find(f, "a.f32");
    CHECK(t && t->dtype == MEND_DT_F32 && t->ndim == 2 && t->shape[1] == 3);
    CHECK_OK(mend_tf_read_f32(f, t, out, &err), &err);
    CHECK(memcmp(out, v, sizeof v) == 0);
    t = mend_tf_find(f, "b.f16");
    CHECK_OK(mend_tf_read_f32(f, t, out, &err), &err);
    for (int i = 0; i < 6; i++)
        CHECK(out[i] == mend_f16_to_f32(mend_f32_to_f16(v[i])));
    CHECK(out[3] == 65504.0f);
    t = mend_tf_find(f, "c.bf16");
    CHECK_OK(mend_tf_read_f32(f, t, out, &err), &err);
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(out[i], v[i], fabs(v[i]) * 1.0 / 128);
    int32_t *back = NULL;
    CHECK_OK(mend_tf_load_i32(f, "ids", 3, &back, &err), &err);
    CHECK(back && back[0] == 49406 && back[2] == 49407);
    free(back);
    CHECK(mend_tf_find(f, "nope") == NULL);
    mend_tf_close(f);
}

TEST(half_conversions_exact)
{
    /* every finite half converts to float and back to the same bits */
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00)
            continue;
        float f = mend_f16_to_f32((uint16_t)h);
        if (mend_f32_to_f16(f) != h) {
            CHECK_MSG(0, "half 0x%04x -> %g -> 0x%04x", h, f, mend_f32_to_f16(f));
            break;
        }
    }
    CHECK(mend_f16_to_f32(0x3c00) == 1.0f);
    CHECK(mend_f16_to_f32(0x0001) == 5.9604644775390625e-08f);
    CHECK(mend_f32_to_f16(1.0f + 1.0f / 2048) == 0x3c00); /* tie to even */
    CHECK(mend_f32_to_f16(1e6f) == 0x7c00);
    CHECK(mend_bf16_to_f32(0x3f80) == 1.0f);
    CHECK(mend_f32_to_bf16(1.0f) == 0x3f80);
}

/* Opens path expecting failure whose message contains every needle. */
static void expect_error(const char *path, const char *needle1, const char *needle2)
{
    mend_tf *f = NULL;
    mend_err err = {0};
    mend_status s = mend_tf_open(path, &f, &err);
    CHECK_MSG(s != MEND_OK, "%s opened but should not", path);
    CHECK(f == NULL);
    CHECK_MSG(strstr(err.msg, path) != NULL, "message does not name the file: %s", err.msg);
    if (needle1)
        CHECK_MSG(strstr(err.msg, needle1) != NULL, "'%s' not in: %s", needle1, err.msg);
    if (needle2)
        CHECK_MSG(strstr(err.msg, needle2) != NULL, "'%s' not in: %s", needle2, err.msg);
    mend_tf_close(f);
}

TEST(bad_files)
{
    const char *p = test_tmp_path("bad.safetensors");
    expect_error(test_tmp_path("does-not-exist.safetensors"), "cannot open", NULL);

    FILE *fp = fopen(p, "wb");
    fwrite("abc", 1, 3, fp);
    fclose(fp);
    expect_error(p, "too short", NULL);

    write_raw(p, 1000000, "{}", NULL, 0);
    expect_error(p, "header length", "past the end");

    write_header(p, "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]", 8);
    expect_error(p, "not a valid JSON", NULL);

    write_header(p, "[1, 2, 3]", 0);
    expect_error(p, "JSON object", NULL);

    write_header(p, "{\"w\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}", 8);
    expect_error(p, "'w'", "past the end");

    write_header(p, "{\"w\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [8, 4]}}", 16);
    expect_error(p, "'w'", "data_offsets");

    write_header(p, "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
                    " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 12);
    expect_error(p, "overlap", "'b'");

    write_header(p, "{\"q\": {\"dtype\": \"Q4_K\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 8);
    expect_error(p, "unknown dtype", "'q'");

    write_header(p, "{\"s\": {\"dtype\": \"F16\", \"shape\": [3], \"data_offsets\": [0, 8]}}", 8);
    expect_error(p, "'s'", "need 6");

    write_header(p, "{\"n\": {\"dtype\": \"F32\", \"shape\": [-2], \"data_offsets\": [0, 8]}}", 8);
    expect_error(p, "'n'", "shape");

    write_header(p, "{\"m\": {\"dtype\": \"F32\", \"shape\": [2]}}", 8);
    expect_error(p, "'m'", "data_offsets");

    write_header(p, "{\"x\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
                    " \"x\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", 8);
    expect_error(p, "twice", "'x'");

    /* a second __metadata__ once leaked the first one's text (found by fuzz_tensorfile) */
    write_header(p, "{\"__metadata__\": {\"a\": \"1\"}, \"__metadata__\": {\"b\": \"2\"}}", 0);
    expect_error(p, "__metadata__", "twice");
}

TEST(truncated_real_writer_output)
{
    /* a valid file cut short loses its last tensor's bytes */
    float v[256] = {0};
    mend_err err = {0};
    mend_st_writer *w = mend_st_writer_new();
    CHECK_OK(mend_st_writer_add(w, "t", MEND_DT_F32, 1, (int64_t[]){256}, v, 0, &err), &err);
    const char *p = test_tmp_path("trunc.safetensors");
    CHECK_OK(mend_st_writer_write(w, p, &err), &err);
    mend_st_writer_free(w);
    size_t len;
    char *bytes = test_read_file(p, &len);
    FILE *fp = fopen(p, "wb");
    fwrite(bytes, 1, len - 100, fp);
    fclose(fp);
    free(bytes);
    expect_error(p, "'t'", "truncated");
}

/* A file cut short after it was opened (another process rewriting the
 * checkpoint) must give an error on read, never SIGBUS. */
TEST(truncated_while_open)
{
    enum { N = 1 << 20 };
    float *v = calloc(N, sizeof *v);
    mend_err err = {0};
    mend_st_writer *w = mend_st_writer_new();
    CHECK_OK(mend_st_writer_add(w, "big", MEND_DT_F32, 1, (int64_t[]){N}, v, 0, &err), &err);
    CHECK_OK(mend_st_writer_add_f32_as(w, "half", MEND_DT_F16, 1, (int64_t[]){N}, v, &err), &err);
    const char *p = test_tmp_path("shrinks.safetensors");
    CHECK_OK(mend_st_writer_write(w, p, &err), &err);
    mend_st_writer_free(w);
    mend_tf *f = NULL;
    CHECK_OK(mend_tf_open(p, &f, &err), &err);
    CHECK(truncate(p, 4096) == 0);
    for (int i = 0; f && i < f->count; i++) {
        mend_err e2 = {0};
        CHECK(mend_tf_read_f32(f, &f->tensors[i], v, &e2) == MEND_E_IO);
        CHECK_MSG(strstr(e2.msg, "truncated") && strstr(e2.msg, f->tensors[i].name), "%s", e2.msg);
    }
    mend_tf_close(f);
    free(v);
}

/* The same for a model's weights: loading a UNet from a checkpoint that was
 * truncated after opening fails with a message naming the file. */
TEST(model_truncated_while_loading)
{
    REQUIRE_SHARED(src, "models/tiny-sd1.f16.safetensors");
    size_t len;
    char *bytes = test_read_file(src, &len);
    const char *p = test_tmp_path("tiny-cut.safetensors");
    FILE *fp = fopen(p, "wb");
    CHECK(bytes && fp && fwrite(bytes, 1, len, fp) == len);
    if (fp)
        fclose(fp);
    free(bytes);
    mend_err err = {0};
    mend_tf *f = NULL;
    CHECK_OK(mend_tf_open(p, &f, &err), &err);
    CHECK(truncate(p, (off_t)(len / 2)) == 0);
    mend_wload l = {.file = f, .prefix = "model.diffusion_model."};
    mend_unet *u = NULL;
    if (f) {
        CHECK(mend_unet_load(&l, &u, &err) == MEND_E_IO);
        CHECK_MSG(strstr(err.msg, p) && strstr(err.msg, "truncated"), "%s", err.msg);
    }
    mend_unet_free(u);
    mend_tf_close(f);
}

TEST(writer_failure_leaves_no_file)
{
    mend_err err = {0};
    mend_st_writer *w = mend_st_writer_new();
    float v = 1;
    CHECK_OK(mend_st_writer_add(w, "t", MEND_DT_F32, 1, (int64_t[]){1}, &v, 0, &err), &err);
    const char *p = "/nonexistent-dir/out.safetensors";
    CHECK(mend_st_writer_write(w, p, &err) == MEND_E_IO);
    CHECK(strstr(err.msg, p) != NULL);
    mend_st_writer_free(w);
}

int main(void)
{
    RUN(roundtrip_all_float_dtypes);
    RUN(half_conversions_exact);
    RUN(bad_files);
    RUN(truncated_real_writer_output);
    RUN(truncated_while_open);
    RUN(model_truncated_while_loading);
    RUN(writer_failure_leaves_no_file);
    return test_summary();
}
