/* Every kind of broken model or vocabulary given to the mend binary gives a
 * non-zero exit and one "mend: ..." line naming the file (and the tensor),
 * never a crash. The models are made here from `mend tools make-model`. */
#include "test.h"

#include "io/st_writer.h"

#include <string.h>
#include <unistd.h>

static char g_tiny[1024];

/* Runs `mend ARGS`, expects exit status 1 and a single line "mend: ..."
 * containing every non-NULL needle. */
static void expect_failure(const char *args, const char *needle1, const char *needle2)
{
    char cmd[4096], out[1024];
    snprintf(out, sizeof out, "%s/out.txt", test_tmpdir());
    snprintf(cmd, sizeof cmd, "'%s' %s", test_mend_bin(), args);
    int rc = test_run(cmd, out);
    char *text = test_read_file(out, NULL);
    CHECK_MSG(rc == 1, "mend %s: exit %d (want 1): %s", args, rc, text ? text : "");
    if (text) {
        CHECK_MSG(strncmp(text, "mend: ", 6) == 0, "no 'mend: ' prefix: %s", text);
        char *nl = strchr(text, '\n');
        CHECK_MSG(nl && nl[1] == '\0', "not exactly one line: %s", text);
        if (needle1)
            CHECK_MSG(strstr(text, needle1) != NULL, "'%s' not in: %s", needle1, text);
        if (needle2)
            CHECK_MSG(strstr(text, needle2) != NULL, "'%s' not in: %s", needle2, text);
    }
    free(text);
}

static int make_tiny(void)
{
    snprintf(g_tiny, sizeof g_tiny, "%s/tiny.safetensors", test_tmpdir());
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' tools make-model --arch sd1 --size tiny --dtype f16 '%s'", test_mend_bin(), g_tiny);
    int rc = test_run(cmd, NULL);
    CHECK_MSG(rc == 0, "make-model failed (%d)", rc);
    return rc == 0;
}

/* Copies the tiny model, dropping `drop` and giving `reshape` a wrong shape. */
static void rewrite(const char *out, const char *drop, const char *reshape)
{
    mend_tf *f = NULL;
    mend_err err = {0};
    CHECK_OK(mend_tf_open(g_tiny, &f, &err), &err);
    if (!f)
        return;
    mend_st_writer *w = mend_st_writer_new();
    for (int i = 0; i < f->count; i++) {
        const mend_tf_tensor *t = &f->tensors[i];
        if (drop && !strcmp(t->name, drop))
            continue;
        int64_t shape[MEND_MAX_DIMS];
        int nd = t->ndim;
        memcpy(shape, t->shape, sizeof shape);
        if (reshape && !strcmp(t->name, reshape)) { /* same bytes, other shape: [a, b...] -> [a*b...] */
            int64_t n = mend_tf_numel(t);
            nd = 1;
            shape[0] = n;
        }
        CHECK_OK(mend_st_writer_add(w, t->name, t->dtype, nd, shape, t->data, 0, &err), &err);
    }
    CHECK_OK(mend_st_writer_write(w, out, &err), &err);
    mend_st_writer_free(w);
    mend_tf_close(f);
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

/* 8-byte length + header + `dlen` zero bytes. */
static void write_st(const char *path, const char *header, size_t dlen)
{
    size_t hl = strlen(header);
    unsigned char *buf = calloc(1, 8 + hl + dlen);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, header, hl);
    write_bytes(path, buf, 8 + hl + dlen);
    free(buf);
}

TEST(broken_files)
{
    if (!make_tiny())
        return;
    char args[2048];
    size_t len = 0;
    char *bytes = test_read_file(g_tiny, &len);
    const char *p = test_tmp_path("truncated.safetensors");
    write_bytes(p, bytes, len / 2);
    free(bytes);
    snprintf(args, sizeof args, "info '%s'", p);
    expect_failure(args, "truncated.safetensors", "truncated");

    p = test_tmp_path("hlen.safetensors");
    unsigned char big[16] = {0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, '{', '}'};
    write_bytes(p, big, sizeof big);
    snprintf(args, sizeof args, "info '%s'", p);
    expect_failure(args, "hlen.safetensors", "header length");

    p = test_tmp_path("json.safetensors");
    write_st(p, "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], ", 4);
    snprintf(args, sizeof args, "info '%s'", p);
    expect_failure(args, "json.safetensors", "JSON");

    p = test_tmp_path("range.safetensors");
    write_st(p, "{\"w\": {\"dtype\": \"F32\", \"shape\": [64], \"data_offsets\": [0, 256]}}", 16);
    snprintf(args, sizeof args, "info '%s'", p);
    expect_failure(args, "range.safetensors", "'w'");

    p = test_tmp_path("overlap.safetensors");
    write_st(p, "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, "
                "\"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 12);
    snprintf(args, sizeof args, "info '%s'", p);
    expect_failure(args, "overlap.safetensors", "overlap");

    p = test_tmp_path("dtype.safetensors");
    write_st(p, "{\"q\": {\"dtype\": \"Q8_0\", \"shape\": [4], \"data_offsets\": [0, 4]}}", 4);
    snprintf(args, sizeof args, "info '%s'", p);
    expect_failure(args, "dtype.safetensors", "unknown dtype");
}

TEST(missing_and_misshapen_tensors)
{
    if (!g_tiny[0] && !make_tiny())
        return;
    char args[2048];
    const char *p = test_tmp_path("missing.safetensors");
    rewrite(p, "model.diffusion_model.output_blocks.4.0.out_layers.3.weight", NULL);
    snprintf(args, sizeof args, "info '%s'", p);
    expect_failure(args, "missing.safetensors", "output_blocks.4.0.out_layers.3.weight");

    p = test_tmp_path("shape.safetensors");
    rewrite(p, NULL, "first_stage_model.decoder.mid.block_1.conv1.weight");
    snprintf(args, sizeof args, "info '%s'", p);
    expect_failure(args, "shape.safetensors", "decoder.mid.block_1.conv1.weight");

    p = test_tmp_path("clip.safetensors");
    rewrite(p, "cond_stage_model.transformer.text_model.final_layer_norm.weight", NULL);
    snprintf(args, sizeof args, "info '%s'", p);
    expect_failure(args, "clip.safetensors", "final_layer_norm.weight");

    /* not an SD checkpoint at all: a TAESD-like file */
    p = test_tmp_path("unknown.safetensors");
    write_st(p, "{\"0.weight\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 4);
    snprintf(args, sizeof args, "info '%s'", p);
    expect_failure(args, "unknown.safetensors", NULL);
}

TEST(unreadable_vocabulary)
{
    if (!g_tiny[0] && !make_tiny())
        return;
    char args[2048];
    snprintf(args, sizeof args, "info '%s' --vocab '%s'", g_tiny, test_tmp_path("no-such-vocab.txt.gz"));
    expect_failure(args, "no-such-vocab.txt.gz", NULL);
    const char *p = test_tmp_path("garbage.txt.gz");
    write_bytes(p, "\x1f\x8b\x08garbage", 10);
    snprintf(args, sizeof args, "info '%s' --vocab '%s'", g_tiny, p);
    expect_failure(args, "garbage.txt.gz", NULL);
    p = test_tmp_path("vocab.json");
    write_bytes(p, "{\"a\": ", 6);
    snprintf(args, sizeof args, "eval tokenize --vocab '%s' --prompts /dev/null --out '%s'", p, test_tmp_path("ids.safetensors"));
    expect_failure(args, "vocab.json", NULL);
    CHECK(access(test_tmp_path("ids.safetensors"), F_OK) != 0);
}

int main(void)
{
    RUN(broken_files);
    RUN(missing_and_misshapen_tensors);
    RUN(unreadable_vocabulary);
    return test_summary();
}
