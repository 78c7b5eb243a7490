/* The mend binary: `mend eval tokenize` and `mend eval text-encoder` write
 * files that match the references (tokenizer.json: exact; clip_text.json:
 * max abs err <= 1e-4), and bad inputs fail with a message naming them. */
#include "test.h"

#include <stdarg.h>
#include <string.h>

#include "io/st_writer.h"

#define TOL 1e-4

static char g_out[600], g_log[600];

static const char *tmp(const char *name, char *buf)
{
    snprintf(buf, 600, "%s/%s", test_tmpdir(), name);
    return buf;
}

/* Runs a command line; returns its exit status, leaves its output in g_log. */
static int run(const char *fmt, ...) MEND_PRINTF(1, 2);
static int run(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    tmp("log.txt", g_log);
    return test_run(cmd, g_log);
}

static char *log_text(void) { return test_read_file(g_log, NULL); }

/* Every int tensor in `names` is identical in both files. */
static void check_ints_equal(const char *got_path, const char *ref_path, const char *const *names)
{
    mend_tf *got = NULL, *ref = NULL;
    mend_err err = {0};
    CHECK_OK(mend_tf_open(got_path, &got, &err), &err);
    CHECK_OK(mend_tf_open(ref_path, &ref, &err), &err);
    for (int i = 0; got && ref && names[i]; i++) {
        const mend_tf_tensor *a = mend_tf_find(got, names[i]), *b = mend_tf_find(ref, names[i]);
        CHECK_MSG(a && b, "tensor %s missing", names[i]);
        if (!a || !b)
            continue;
        CHECK(a->dtype == MEND_DT_I32 && a->ndim == b->ndim);
        CHECK_MSG(a->nbytes == b->nbytes && memcmp(a->data, b->data, a->nbytes) == 0, "%s differs", names[i]);
    }
    mend_tf_close(got);
    mend_tf_close(ref);
}

static const char *const token_outputs[] = {"ids77", "ids_hf_flat", "ids_hf_offsets", NULL};

static void tokenize_in_file(const char *vocab)
{
    REQUIRE_SHARED(ref, "tokenizer/tokenizer.safetensors");
    int rc = run("'%s' eval tokenize --vocab '%s' --in '%s' --out '%s'", test_mend_bin(), vocab, ref,
                 tmp("tok.safetensors", g_out));
    CHECK_MSG(rc == 0, "exit %d: %s", rc, log_text());
    if (rc == 0)
        check_ints_equal(g_out, ref, token_outputs);
}

TEST(tokenize_reference_gz)
{
    REQUIRE_SHARED(vocab, "clip/bpe_simple_vocab_16e6.txt.gz");
    tokenize_in_file(vocab);
}

TEST(tokenize_reference_vocab_json)
{
    REQUIRE_SHARED(vocab, "clip/vocab.json");
    tokenize_in_file(vocab);
}

/* --prompts: a text file with the reference prompts that fit on one line;
 * ids77 row i must equal the reference row of the same prompt. */
TEST(tokenize_prompts_file)
{
    REQUIRE_SHARED(vocab, "clip");
    mend_tf *ref = test_open_shared("tokenizer/tokenizer.safetensors"), *got = NULL;
    if (!ref)
        return;
    mend_err err = {0};
    const mend_tf_tensor *u8 = mend_tf_find(ref, "prompts_utf8"), *ids77 = mend_tf_find(ref, "ids77");
    int32_t *offs = NULL;
    int count = ids77 ? (int)ids77->shape[0] : 0;
    CHECK_OK(mend_tf_load_i32(ref, "prompts_offsets", count + 1, &offs, &err), &err);
    char path[600];
    FILE *f = fopen(tmp("prompts.txt", path), "wb");
    int rows[64], used = 0;
    for (int i = 0; offs && u8 && i < count && used < 64; i++) {
        const char *s = (const char *)u8->data + offs[i];
        size_t len = (size_t)(offs[i + 1] - offs[i]);
        if (memchr(s, '\n', len) || memchr(s, '\r', len))
            continue;
        fwrite(s, 1, len, f);
        fputc('\n', f);
        rows[used++] = i;
    }
    fclose(f);
    CHECK(used >= 30);
    int rc = run("'%s' eval tokenize --vocab '%s' --prompts '%s' --out '%s'", test_mend_bin(), vocab, path,
                 tmp("tok_lines.safetensors", g_out));
    CHECK_MSG(rc == 0, "exit %d: %s", rc, log_text());
    if (rc == 0)
        CHECK_OK(mend_tf_open(g_out, &got, &err), &err);
    const mend_tf_tensor *g = got ? mend_tf_find(got, "ids77") : NULL;
    CHECK(!got || (g && g->ndim == 2 && g->shape[0] == used && g->shape[1] == 77));
    for (int k = 0; g && g->shape[0] == used && k < used; k++) {
        size_t row = 77 * sizeof(int32_t);
        CHECK_MSG(memcmp(g->data + k * row, ids77->data + rows[k] * row, row) == 0, "line %d (prompt %d) differs",
                  k + 1, rows[k]);
    }
    free(offs);
    mend_tf_close(got);
    mend_tf_close(ref);
}

/* --model without --vocab: the tokenizer/ folder beside a single-file
 * checkpoint (symlinks to the shared files in a temporary folder). */
TEST(tokenize_vocab_from_model_folder)
{
    REQUIRE_SHARED(ref, "tokenizer/tokenizer.safetensors");
    REQUIRE_SHARED(model, "models/tiny-sd1.f16.safetensors");
    REQUIRE_SHARED(vocab, "clip/vocab.json");
    REQUIRE_SHARED(merges, "clip/merges.txt");
    char dir[600];
    tmp("m", dir);
    int rc = run("mkdir -p '%s/tokenizer' && ln -sf '%s' '%s/model.safetensors'"
                 " && ln -sf '%s' '%s/tokenizer/vocab.json' && ln -sf '%s' '%s/tokenizer/merges.txt'", dir, model, dir, vocab, dir, merges, dir);
    CHECK(rc == 0);
    rc = run("'%s' eval tokenize --model '%s/model.safetensors' --in '%s' --out '%s'", test_mend_bin(), dir, ref,
             tmp("tok_model.safetensors", g_out));
    CHECK_MSG(rc == 0, "exit %d: %s", rc, log_text());
    if (rc == 0)
        check_ints_equal(g_out, ref, token_outputs);
}

TEST(tokenize_bad_vocab_fails_clearly)
{
    char bad[600];
    tmp("missing.txt.gz", bad);
    int rc = run("'%s' eval tokenize --vocab '%s' --prompts /dev/null --out '%s'", test_mend_bin(), bad,
                 tmp("never.safetensors", g_out));
    char *log = log_text();
    CHECK(rc == 1);
    CHECK_MSG(log && strstr(log, bad), "message does not name the file: %s", log);
    free(log);
    FILE *f = fopen(g_out, "rb");
    CHECK(f == NULL); /* no output on failure */
    if (f)
        fclose(f);
}

TEST(text_encoder_reference)
{
    REQUIRE_SHARED(model, "models/tiny-sd1.f16.safetensors");
    REQUIRE_SHARED(ref_path, "text_encoder/clip_text.safetensors");
    int rc = run("'%s' eval text-encoder --model '%s' --in '%s' --out '%s'", test_mend_bin(), model, ref_path,
                 tmp("te.safetensors", g_out));
    CHECK_MSG(rc == 0, "exit %d: %s", rc, log_text());
    mend_tf *got = NULL, *ref = NULL;
    mend_err err = {0};
    if (rc == 0)
        CHECK_OK(mend_tf_open(g_out, &got, &err), &err);
    CHECK_OK(mend_tf_open(ref_path, &ref, &err), &err);
    const char *names[] = {"last_hidden_state", "clip_skip2", "hidden_states.0", "hidden_states.1",
                           "hidden_states.2",   "hidden_states.3"};
    for (size_t i = 0; got && ref && i < sizeof names / sizeof *names; i++) {
        int64_t na = 0, nb = 0;
        float *a = test_load_f32(got, names[i], &na), *b = test_load_f32(ref, names[i], &nb);
        double d = a && b && na == nb ? test_max_abs_diff(a, b, na) : INFINITY;
        printf("  %-18s max abs err %.3g (tol %g)\n", names[i], d, TOL);
        CHECK_MSG(d <= TOL, "%s: %g", names[i], d);
        free(a);
        free(b);
    }
    mend_tf_close(got);
    mend_tf_close(ref);
}

/* --clip-skip 3 adds clip_skip3; token ids out of range fail clearly. */
TEST(text_encoder_clip_skip_and_bad_ids)
{
    REQUIRE_SHARED(model, "models/tiny-sd1.f16.safetensors");
    REQUIRE_SHARED(ref_path, "text_encoder/clip_text.safetensors");
    int rc = run("'%s' eval text-encoder --model '%s' --in '%s' --out '%s' --clip-skip 3", test_mend_bin(), model,
                 ref_path, tmp("te3.safetensors", g_out));
    CHECK_MSG(rc == 0, "exit %d: %s", rc, log_text());
    mend_tf *got = NULL;
    mend_err err = {0};
    if (rc == 0)
        CHECK_OK(mend_tf_open(g_out, &got, &err), &err);
    CHECK(!got || (mend_tf_find(got, "clip_skip3") && mend_tf_find(got, "clip_skip2")));
    mend_tf_close(got);

    /* ids with one out of range */
    int32_t ids[2 * 77];
    for (int i = 0; i < 2 * 77; i++)
        ids[i] = 49407;
    ids[77 + 9] = 60000;
    char in[600];
    mend_st_writer *w = mend_st_writer_new();
    CHECK_OK(mend_st_writer_add(w, "input_ids", MEND_DT_I32, 2, (int64_t[]){2, 77}, ids, 0, &err), &err);
    CHECK_OK(mend_st_writer_write(w, tmp("bad_ids.safetensors", in), &err), &err);
    mend_st_writer_free(w);
    rc = run("'%s' eval text-encoder --model '%s' --in '%s' --out '%s'", test_mend_bin(), model, in,
             tmp("te_bad.safetensors", g_out));
    char *log = log_text();
    CHECK(rc == 1);
    CHECK_MSG(log && strstr(log, "60000") && strstr(log, "sequence 1") && strstr(log, in), "%s", log);
    free(log);
}

int main(void)
{
    RUN(tokenize_reference_gz);
    RUN(tokenize_reference_vocab_json);
    RUN(tokenize_prompts_file);
    RUN(tokenize_vocab_from_model_folder);
    RUN(tokenize_bad_vocab_fails_clearly);
    RUN(text_encoder_reference);
    RUN(text_encoder_clip_skip_and_bad_ids);
    return test_summary();
}
