/* CLIP BPE tokenizer against the reference token ids (tokenizer.json says:
 * exact), with both vocabulary forms, and every kind of bad vocabulary
 * giving an error that names the file. */
#include "test.h"

#include "model/tokenizer.h"

#include <string.h>
#include <sys/stat.h>

typedef struct reference {
    mend_tf *file;
    int count;              /* prompts */
    int32_t *prompt_offs;   /* [count + 1] */
    const uint8_t *utf8;    /* prompt bytes */
    int32_t *ids_offs;      /* [count + 1] */
    int32_t *ids_flat;
    int32_t *ids77;         /* [count, 77] */
} reference;

static void reference_free(reference *r)
{
    int32_t *loaded[] = {r->prompt_offs, r->ids_offs, r->ids_flat, r->ids77};
    for (size_t i = 0; i < sizeof loaded / sizeof *loaded; i++)
        free(loaded[i]);
    mend_tf_close(r->file);
    memset(r, 0, sizeof *r);
}

static int reference_load(const char *path, reference *r)
{
    mend_err err = {0};
    memset(r, 0, sizeof *r);
    CHECK_OK(mend_tf_open(path, &r->file, &err), &err);
    if (!r->file)
        return 0;
    const mend_tf_tensor *po = mend_tf_find(r->file, "prompts_offsets");
    const mend_tf_tensor *u8 = mend_tf_find(r->file, "prompts_utf8");
    const mend_tf_tensor *flat = mend_tf_find(r->file, "ids_hf_flat");
    CHECK(po && u8 && flat);
    if (!po || !u8 || !flat)
        return 0;
    r->count = (int)po->shape[0] - 1;
    r->utf8 = u8->data;
    CHECK_OK(mend_tf_load_i32(r->file, "prompts_offsets", r->count + 1, &r->prompt_offs, &err), &err);
    CHECK_OK(mend_tf_load_i32(r->file, "ids_hf_offsets", r->count + 1, &r->ids_offs, &err), &err);
    CHECK_OK(mend_tf_load_i32(r->file, "ids_hf_flat", mend_tf_numel(flat), &r->ids_flat, &err), &err);
    CHECK_OK(mend_tf_load_i32(r->file, "ids77", (int64_t)r->count * MEND_CLIP_CTX, &r->ids77, &err), &err);
    return r->prompt_offs && r->ids_offs && r->ids_flat && r->ids77;
}

/* Prompt i as a NUL-terminated string (caller frees). */
static char *reference_prompt(const reference *r, int i)
{
    size_t len = (size_t)(r->prompt_offs[i + 1] - r->prompt_offs[i]);
    char *s = malloc(len + 1);
    memcpy(s, r->utf8 + r->prompt_offs[i], len);
    s[len] = '\0';
    return s;
}

/* Tokenizes every reference prompt; returns the number of prompts whose ids
 * and ids77 both match exactly. */
static int check_all_prompts(const mend_tokenizer *t, const reference *r, const char *label)
{
    int exact = 0;
    for (int i = 0; i < r->count; i++) {
        char *prompt = reference_prompt(r, i);
        int32_t *ids = NULL, ids77[MEND_CLIP_CTX];
        int n = -1;
        mend_err err = {0};
        CHECK_OK(mend_tokenize(t, prompt, &ids, &n, &err), &err);
        CHECK_OK(mend_tokenize77(t, prompt, ids77, &err), &err);
        int want_n = r->ids_offs[i + 1] - r->ids_offs[i];
        int same = ids && n == want_n && memcmp(ids, r->ids_flat + r->ids_offs[i], (size_t)n * sizeof *ids) == 0;
        int same77 = memcmp(ids77, r->ids77 + (size_t)i * MEND_CLIP_CTX, sizeof ids77) == 0;
        CHECK_MSG(same && same77, "%s: prompt %d '%.60s': %d ids (want %d), ids %s, ids77 %s", label, i, prompt, n,
                  want_n, same ? "same" : "differ", same77 ? "same" : "differ");
        exact += same && same77;
        free(ids);
        free(prompt);
    }
    printf("  %s: %d/%d prompts exact\n", label, exact, r->count);
    return exact;
}

static void check_vocab_form(const char *vocab_rel, const char *label)
{
    REQUIRE_SHARED(ref_path, "tokenizer/tokenizer.safetensors");
    REQUIRE_SHARED(vocab, vocab_rel);
    reference r;
    mend_tokenizer *t = NULL;
    mend_err err = {0};
    CHECK_OK(mend_tokenizer_load(vocab, &t, &err), &err);
    if (t && reference_load(ref_path, &r)) {
        CHECK(r.count >= 30);
        CHECK(check_all_prompts(t, &r, label) == r.count);
        CHECK(mend_tokenizer_vocab_size(t) == 49408);
        CHECK(mend_token_text(t, MEND_CLIP_BOS) && !strcmp(mend_token_text(t, MEND_CLIP_BOS), "<|startoftext|>"));
        CHECK(mend_token_text(t, MEND_CLIP_EOS) && !strcmp(mend_token_text(t, MEND_CLIP_EOS), "<|endoftext|>"));
        CHECK(mend_token_text(t, 49408) == NULL && mend_token_text(t, -1) == NULL);
    }
    reference_free(&r);
    mend_tokenizer_free(t);
}

TEST(prompts_with_gz_vocab) { check_vocab_form("clip/bpe_simple_vocab_16e6.txt.gz", "gz"); }
TEST(prompts_with_vocab_json) { check_vocab_form("clip/vocab.json", "vocab.json"); }
TEST(prompts_with_vocab_folder) { check_vocab_form("clip", "folder"); }

/* The two forms build the same table, token for token. */
TEST(both_forms_same_vocabulary)
{
    REQUIRE_SHARED(gz, "clip/bpe_simple_vocab_16e6.txt.gz");
    REQUIRE_SHARED(json, "clip/vocab.json");
    mend_tokenizer *a = NULL, *b = NULL;
    mend_err err = {0};
    CHECK_OK(mend_tokenizer_load(gz, &a, &err), &err);
    CHECK_OK(mend_tokenizer_load(json, &b, &err), &err);
    if (!a || !b)
        goto out;
    CHECK(mend_tokenizer_vocab_size(a) == mend_tokenizer_vocab_size(b));
    int differ = 0;
    for (int i = 0; i < mend_tokenizer_vocab_size(a); i++) {
        const char *x = mend_token_text(a, i), *y = mend_token_text(b, i);
        differ += !x || !y || strcmp(x, y) != 0;
    }
    CHECK_MSG(differ == 0, "%d tokens differ", differ);
out:
    mend_tokenizer_free(a);
    mend_tokenizer_free(b);
}

TEST(long_prompt_is_truncated_to_77)
{
    REQUIRE_TOKENIZER(t);
    mend_err err = {0};
    char text[1024] = "";
    for (int i = 0; i < 100; i++)
        strcat(text, "cat ");
    int32_t *ids = NULL, ids77[MEND_CLIP_CTX];
    int n = 0;
    CHECK_OK(mend_tokenize(t, text, &ids, &n, &err), &err);
    CHECK_OK(mend_tokenize77(t, text, ids77, &err), &err);
    CHECK(n == 100);
    CHECK(ids77[0] == MEND_CLIP_BOS && ids77[76] == MEND_CLIP_EOS);
    for (int i = 1; i < 76; i++)
        CHECK(ids77[i] == ids[0]);
    /* the empty prompt: BOS then all EOS */
    CHECK_OK(mend_tokenize77(t, "", ids77, &err), &err);
    CHECK(ids77[0] == MEND_CLIP_BOS && ids77[1] == MEND_CLIP_EOS && ids77[76] == MEND_CLIP_EOS);
    free(ids);
    mend_tokenizer_free(t);
}

TEST(invalid_utf8_prompt_is_an_error)
{
    REQUIRE_TOKENIZER(t);
    mend_err err = {0};
    int32_t *ids = NULL;
    int n = 0;
    CHECK(mend_tokenize(t, "caf\xE9 au lait", &ids, &n, &err) == MEND_E_ARG);
    CHECK(strstr(err.msg, "UTF-8") != NULL);
    CHECK(ids == NULL);
    mend_tokenizer_free(t);
}

/* Cleaning rules beyond the reference prompts: each pair must tokenize the
 * same (or, for `same` = 0, differently). */
TEST(normalisation_equivalences)
{
    static const struct {
        const char *a, *b;
        int same;
    } pairs[] = {
        {"tom &#38; jerry &#x3C;3", "tom & jerry <3", 1}, /* numeric entities */
        {"a &amp; b <i>", "a & b <i>", 0},               /* text with '<' keeps its entities */
        {"\xEF\xBC\xA3\xEF\xBC\xA1\xEF\xBC\xB4", "cat", 1}, /* fullwidth CAT */
        {"\xC5\x89", "'n", 1},                          /* U+0149 -> U+02BC n -> 'n */
        {"\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3", "\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82", 1}, /* final sigma */
        {"\xC4\xB0stanbul", "i\xCC\x87stanbul", 1},     /* U+0130 lower-cases to i + U+0307 */
        {"a\x01" "b\xE2\x81\xAA", "ab", 1},              /* control characters removed */
        {"x\xC2\xA0\xE2\x80\x83y", "x y", 1},         /* Unicode spaces collapse */
    };
    mend_tokenizer *t = test_shared_tokenizer();
    mend_err err = {0};
    for (size_t i = 0; t && i < sizeof pairs / sizeof *pairs; i++) {
        int32_t *x = NULL, *y = NULL;
        int nx = 0, ny = 0;
        CHECK_OK(mend_tokenize(t, pairs[i].a, &x, &nx, &err), &err);
        CHECK_OK(mend_tokenize(t, pairs[i].b, &y, &ny, &err), &err);
        int same = x && y && nx == ny && memcmp(x, y, (size_t)nx * sizeof *x) == 0;
        CHECK_MSG(same == pairs[i].same, "pair %zu: '%s' vs '%s'", i, pairs[i].a, pairs[i].b);
        free(x);
        free(y);
    }
    mend_tokenizer_free(t);
}

/* ---- bad vocabularies ---- */

static char g_path[512];

static const char *tmp_file(const char *name, const void *data, size_t len)
{
    snprintf(g_path, sizeof g_path, "%s/%s", test_tmpdir(), name);
    test_write_file(g_path, data, len);
    return g_path;
}

/* Loading must fail with `code` and a message naming `named`. */
static void expect_load_error(const char *path, mend_status code, const char *named)
{
    mend_tokenizer *t = NULL;
    mend_err err = {0};
    mend_status s = mend_tokenizer_load(path, &t, &err);
    CHECK_MSG(s == code, "%s: got %s, want %s (%s)", path, mend_status_name(s), mend_status_name(code), err.msg);
    CHECK_MSG(strstr(err.msg, named) != NULL, "message '%s' does not name %s", err.msg, named);
    CHECK(t == NULL);
    mend_tokenizer_free(t);
}

TEST(missing_vocabulary)
{
    char path[600];
    snprintf(path, sizeof path, "%s/nope/bpe_simple_vocab_16e6.txt.gz", test_tmpdir());
    expect_load_error(path, MEND_E_IO, path);
    snprintf(path, sizeof path, "%s/nope.json", test_tmpdir());
    expect_load_error(path, MEND_E_IO, path);
    expect_load_error(test_tmpdir(), MEND_E_IO, test_tmpdir()); /* a folder with neither form */
}

TEST(random_bytes_vocabulary)
{
    unsigned char junk[4096];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof junk; i++) {
        x = x * 1664525u + 1013904223u;
        junk[i] = (unsigned char)(x >> 24);
    }
    const char *p = tmp_file("junk.txt.gz", junk, sizeof junk);
    expect_load_error(p, MEND_E_FORMAT, p);
    p = tmp_file("junk_vocab.txt", junk, sizeof junk);
    expect_load_error(p, MEND_E_FORMAT, p);
    p = tmp_file("text_vocab.txt", "#version\nhello world\n", 21); /* well-formed lines, unknown tokens */
    expect_load_error(p, MEND_E_FORMAT, p);
    p = tmp_file("empty.gz", "", 0);
    expect_load_error(p, MEND_E_FORMAT, p);
}

TEST(truncated_gzip_vocabulary)
{
    REQUIRE_SHARED(gz, "clip/bpe_simple_vocab_16e6.txt.gz");
    size_t len = 0;
    char *data = test_read_file(gz, &len);
    CHECK(data && len > 1000);
    if (!data)
        return;
    const char *p = tmp_file("truncated.txt.gz", data, len / 2);
    expect_load_error(p, MEND_E_FORMAT, p);
    free(data);
}

TEST(corrupt_vocab_json)
{
    REQUIRE_SHARED(merges, "clip/merges.txt");
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s/hf", test_tmpdir());
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/vocab.json", dir);

    /* not JSON */
    test_write_text(path, "{\"a\": 1, this is not json");
    expect_load_error(path, MEND_E_FORMAT, path);
    expect_load_error(dir, MEND_E_FORMAT, path); /* through the folder */

    /* JSON, but not token -> id */
    test_write_text(path, "[1, 2, 3]");
    expect_load_error(path, MEND_E_FORMAT, path);

    /* valid tiny vocabulary but no merges.txt beside it */
    test_write_text(path, "{\"a\": 0, \"b\": 1}");
    expect_load_error(path, MEND_E_IO, "merges.txt");

    /* with the real merges.txt its tokens are unknown to this vocabulary */
    size_t len = 0;
    char *m = test_read_file(merges, &len);
    char mpath[700];
    snprintf(mpath, sizeof mpath, "%s/merges.txt", dir);
    test_write_file(mpath, m, len);
    free(m);
    expect_load_error(path, MEND_E_FORMAT, mpath);
}

int main(void)
{
    RUN(prompts_with_gz_vocab);
    RUN(prompts_with_vocab_json);
    RUN(prompts_with_vocab_folder);
    RUN(both_forms_same_vocabulary);
    RUN(long_prompt_is_truncated_to_77);
    RUN(invalid_utf8_prompt_is_an_error);
    RUN(normalisation_equivalences);
    RUN(missing_vocabulary);
    RUN(random_bytes_vocabulary);
    RUN(truncated_gzip_vocabulary);
    RUN(corrupt_vocab_json);
    return test_summary();
}
