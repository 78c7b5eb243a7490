/* Mutation fuzzing of every parser that reads untrusted bytes: safetensors
 * headers, PNG/JPEG/WebP decoding, PNG text chunks and EXIF, the A1111 prompt
 * grammar. Each starts from valid inputs, applies bounded random mutations
 * (byte flips, truncation, splices) with a fixed seed, and only asks that
 * the parser returns (success or a clean error with a message); crashes,
 * leaks and undefined behaviour are caught by the sanitizer build in CI. */
#include "test.h"

#include "inpaint/prompt_parser.h"
#include "io/image.h"
#include "io/png_text.h"
#include "io/st_writer.h"

#include <string.h>

#define ITERATIONS 1500

static uint64_t g_rng = 0x243f6a8885a308d3ull;

static uint32_t rnd(void)
{
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(g_rng >> 33);
}

/* Copies seed into buf (cap bytes) and mutates it; returns the new length. */
static size_t mutate(const uint8_t *seed, size_t len, uint8_t *buf, size_t cap)
{
    size_t n = len < cap ? len : cap;
    memcpy(buf, seed, n);
    int edits = 1 + (int)(rnd() % 8);
    for (int e = 0; e < edits && n > 0; e++) {
        switch (rnd() % 4) {
        case 0: /* flip a byte */
            buf[rnd() % n] ^= (uint8_t)(1u + rnd() % 255u);
            break;
        case 1: /* interesting values */
        {
            static const uint8_t v[] = {0x00, 0xff, 0x7f, 0x80, '{', '"', ':', ','};
            buf[rnd() % n] = v[rnd() % sizeof v];
            break;
        }
        case 2: /* truncate */
            n = rnd() % (n + 1);
            break;
        default: /* insert a copy of a slice somewhere else */
            if (n > 8 && n + 64 <= cap) {
                uint8_t slice[64];
                size_t from = rnd() % (n - 8), k = 1 + rnd() % 64, to = rnd() % n;
                if (k > n - from)
                    k = n - from;
                memcpy(slice, buf + from, k);
                memmove(buf + to + k, buf + to, n - to);
                memcpy(buf + to, slice, k);
                n += k;
            }
        }
    }
    return n;
}

static uint8_t *make_safetensors(size_t *len)
{
    float a[6] = {1, 2, 3, 4, 5, 6};
    mend_err err = {0};
    mend_st_writer *w = mend_st_writer_new();
    mend_st_writer_add_f32_as(w, "model.diffusion_model.a", MEND_DT_F16, 2, (int64_t[]){2, 3}, a, &err);
    mend_st_writer_add_f32_as(w, "b", MEND_DT_F32, 1, (int64_t[]){6}, a, &err);
    mend_st_writer_set_meta(w, "format", "pt", &err);
    char path[512];
    snprintf(path, sizeof path, "%s/seed.safetensors", test_tmpdir());
    CHECK_OK(mend_st_writer_write(w, path, &err), &err);
    mend_st_writer_free(w);
    return (uint8_t *)test_read_file(path, len);
}

TEST(safetensors_headers)
{
    size_t len = 0;
    uint8_t *seed = make_safetensors(&len), buf[4096];
    char path[512];
    snprintf(path, sizeof path, "%s/fuzz.safetensors", test_tmpdir());
    int opened = 0, refused = 0;
    for (int i = 0; seed && i < ITERATIONS; i++) {
        size_t n = mutate(seed, len, buf, sizeof buf);
        FILE *f = fopen(path, "wb");
        if (!f)
            break;
        fwrite(buf, 1, n, f);
        fclose(f);
        mend_tf *tf = NULL;
        mend_err err = {0};
        if (mend_tf_open(path, &tf, &err) == MEND_OK) {
            opened++;
            for (int t = 0; t < tf->count; t++) { /* every accepted tensor must be readable */
                float *v = NULL;
                if (mend_tf_load_f32(tf, tf->tensors[t].name, -1, &v, &err) == MEND_OK)
                    free(v);
            }
            mend_tf_close(tf);
        } else {
            refused++;
            CHECK_MSG(err.msg[0] != '\0', "refused without a message");
        }
    }
    printf("safetensors: %d opened, %d refused\n", opened, refused);
    CHECK(refused > 0);
    free(seed);
}

static void fuzz_image(const char *what, const uint8_t *seed, size_t len)
{
    static uint8_t buf[1 << 16];
    int ok = 0, bad = 0;
    for (int i = 0; i < ITERATIONS; i++) {
        size_t n = mutate(seed, len, buf, sizeof buf);
        mend_image img = {0};
        mend_err err = {0};
        if (mend_image_decode(buf, n, what, &img, &err) == MEND_OK) {
            ok++;
            CHECK(img.width > 0 && img.height > 0 && img.data);
        } else {
            bad++;
            CHECK_MSG(strstr(err.msg, what) != NULL, "message does not name the input: %s", err.msg);
        }
        mend_image_free(&img);
        mend_png_text_list texts = {0};
        if (mend_png_text_read_buffer(buf, n, what, 0, &texts, &err) == MEND_OK)
            mend_png_text_list_free(&texts);
    }
    printf("%s: %d decoded, %d refused\n", what, ok, bad);
    CHECK(bad > 0);
}

TEST(png_decoding)
{
    mend_image img = {0};
    mend_err err = {0};
    CHECK_OK(mend_image_alloc(&img, 24, 16, 3, &err), &err);
    for (size_t i = 0; i < (size_t)24 * 16 * 3; i++)
        img.data[i] = (uint8_t)(i * 7);
    uint8_t *png = NULL;
    size_t png_len = 0;
    mend_png_text t = {"parameters", "a cat\nSteps: 20, Seed: 1"};
    CHECK_OK(mend_image_encode_png(&img, &t, 1, &png, &png_len, &err), &err);
    if (png)
        fuzz_image("fuzz.png", png, png_len);
    free(png);
    /* JPEG and WebP with the infotext in EXIF: their decoders and png-info's EXIF reader */
    static const mend_image_format exif_formats[] = {MEND_FORMAT_JPEG, MEND_FORMAT_WEBP};
    static const char *exif_names[] = {"fuzz.jpg", "fuzz.webp"};
    for (int k = 0; k < 2; k++) {
        uint8_t *b = NULL;
        size_t n = 0;
        CHECK_OK(mend_image_encode(&img, exif_formats[k], t.text, &b, &n, &err), &err);
        if (b)
            fuzz_image(exif_names[k], b, n);
        free(b);
    }
    /* a real photo PNG as a second seed (truncated JPEGs are covered in test_image_io) */
    const char *jp = test_shared("images/chelsea-64.png");
    if (jp) {
        size_t n = 0;
        uint8_t *bytes = (uint8_t *)test_read_file(jp, &n);
        if (bytes && n < (1 << 16))
            fuzz_image("chelsea-64.png", bytes, n);
        free(bytes);
    }
    mend_image_free(&img);
}

TEST(prompt_grammar)
{
    static const char *seeds[] = {
        "a (red:1.3) [blue] ((cat)) \\(escaped\\) BREAK dog",
        "[cat:dog:0.5] on a [sofa|chair] AND a lamp :1.2",
        "((((deep [[[nest]]] (x:1e3) [a:b:c:1]))))",
    };
    int ok = 0, bad = 0;
    char buf[512];
    for (int i = 0; i < ITERATIONS; i++) {
        const char *s = seeds[i % 3];
        size_t n = mutate((const uint8_t *)s, strlen(s), (uint8_t *)buf, sizeof buf - 1);
        buf[n] = '\0';
        mend_prompt_pieces p = {0};
        mend_prompt_schedule sch = {0};
        mend_err err = {0};
        if (mend_prompt_parse_attention(buf, &p, &err) == MEND_OK)
            ok++;
        else
            bad++;
        mend_prompt_pieces_free(&p);
        if (mend_prompt_schedule_build(buf, 20, 0, 0, &sch, &err) == MEND_OK)
            mend_prompt_schedule_free(&sch);
    }
    printf("prompts: %d parsed, %d refused\n", ok, bad);
    CHECK(ok > 0);
}

int main(void)
{
    RUN(safetensors_headers);
    RUN(png_decoding);
    RUN(prompt_grammar);
    return test_summary();
}
