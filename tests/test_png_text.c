/* PNG text chunk reader: tEXt / zTXt / iTXt, Pillow's leniencies, and
 * malformed files. Test PNGs are built here: a real PNG from the encoder,
 * with hand-made chunks spliced in before IEND. */
#include "test.h"

#include "io/image.h"
#include "io/png_text.h"

#include <string.h>
#include <zlib.h>

typedef struct buf {
    uint8_t *d;
    size_t n;
} buf;

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A 2x2 RGB PNG from the encoder, optionally with one tEXt chunk. */
static buf base_png(const char *key, const char *text)
{
    mend_image img = {0};
    mend_err err = {0};
    buf b = {0};
    CHECK_OK(mend_image_alloc(&img, 2, 2, 3, &err), &err);
    mend_png_text t = {key, text};
    CHECK_OK(mend_image_encode_png(&img, &t, key ? 1 : 0, &b.d, &b.n, &err), &err);
    mend_image_free(&img);
    return b;
}

/* Inserts a chunk (correct CRC) just before the 12-byte IEND at the end. */
static void add_chunk(buf *b, const char *type, const void *data, size_t n)
{
    uint8_t *grown = realloc(b->d, b->n + n + 12);
    if (!grown)
        return;
    b->d = grown;
    size_t at = b->n - 12;
    memmove(b->d + at + n + 12, b->d + at, 12);
    put32(b->d + at, (uint32_t)n);
    memcpy(b->d + at + 4, type, 4);
    memcpy(b->d + at + 8, data, n);
    put32(b->d + at + 8 + n, (uint32_t)crc32(0, b->d + at + 4, (uInt)(n + 4)));
    b->n += n + 12;
}

/* key NUL rest (rest may contain NULs: explicit length). */
static size_t build(uint8_t *out, const char *key, const void *rest, size_t rest_n)
{
    size_t k = strlen(key);
    memcpy(out, key, k);
    out[k] = 0;
    memcpy(out + k + 1, rest, rest_n);
    return k + 1 + rest_n;
}

static mend_status parse(const buf *b, int crc, mend_png_text_list *l, mend_err *err)
{
    return mend_png_text_read_buffer(b->d, b->n, "test.png", crc, l, err);
}

/* b parses (crc mode crc) with text `want` under key; when type is not
 * NULL, that is the one chunk and of that type. */
static void expect_text(const buf *b, int crc, const char *key, const char *want, const char *type)
{
    mend_png_text_list l;
    mend_err err = {0};
    CHECK_OK(parse(b, crc, &l, &err), &err);
    const char *p = mend_png_text_get(&l, key);
    CHECK_MSG(p && !strcmp(p, want), "%s: '%s', want '%s'", key, p ? p : "(none)", want);
    if (type)
        CHECK(l.count == 1 && !strcmp(l.items[0].type, type));
    mend_png_text_list_free(&l);
}

TEST(text_chunk_from_encoder)
{
    buf b = base_png("parameters", "a cat\nSteps: 20, Sampler: Euler");
    expect_text(&b, MEND_PNG_CRC_CHECK, "parameters", "a cat\nSteps: 20, Sampler: Euler", "tEXt");
    free(b.d);
}

TEST(utf8_text_from_encoder_is_itxt)
{
    buf b = base_png("parameters", "ein Bär, 猫");
    expect_text(&b, MEND_PNG_CRC_CHECK, "parameters", "ein Bär, 猫", "iTXt");
    free(b.d);
}

TEST(latin1_text_becomes_utf8)
{
    buf b = base_png(NULL, NULL);
    uint8_t d[64];
    const uint8_t text[] = {'B', 0xe4, 'r', ' ', 0xff};
    add_chunk(&b, "tEXt", d, build(d, "k", text, sizeof text));
    expect_text(&b, MEND_PNG_CRC_CHECK, "k", "B\xc3\xa4r \xc3\xbf", NULL);
    free(b.d);
}

TEST(ztxt_and_itxt_compressed)
{
    buf b = base_png(NULL, NULL);
    const char *text = "Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, Steps: 20, Steps: 20, Steps: 20";
    uint8_t z[512], d[1024];
    uLongf zn = sizeof z;
    CHECK(compress(z, &zn, (const Bytef *)text, (uLong)strlen(text)) == Z_OK);
    /* zTXt: method byte 0 then the zlib stream */
    uint8_t rest[600];
    rest[0] = 0;
    memcpy(rest + 1, z, zn);
    add_chunk(&b, "zTXt", d, build(d, "ztext", rest, zn + 1));
    /* iTXt compressed: flag 1, method 0, lang "en", NUL, translated "Parameter", NUL, data */
    size_t r = 0;
    rest[r++] = 1;
    rest[r++] = 0;
    memcpy(rest + r, "en\0Parameter\0", 13);
    r += 13;
    memcpy(rest + r, z, zn);
    r += zn;
    add_chunk(&b, "iTXt", d, build(d, "itext-z", rest, r));
    /* iTXt uncompressed, empty language and translated keyword */
    r = 0;
    rest[r++] = 0;
    rest[r++] = 0;
    rest[r++] = 0;
    rest[r++] = 0;
    memcpy(rest + r, "h\xc3\xa9", 3);
    r += 3;
    add_chunk(&b, "iTXt", d, build(d, "itext", rest, r));
    mend_png_text_list l;
    mend_err err = {0};
    CHECK_OK(parse(&b, MEND_PNG_CRC_CHECK, &l, &err), &err);
    CHECK(l.count == 3);
    const char *zt = mend_png_text_get(&l, "ztext"), *it = mend_png_text_get(&l, "itext-z"),
               *plain = mend_png_text_get(&l, "itext");
    CHECK(zt && !strcmp(zt, text));
    CHECK(it && !strcmp(it, text));
    CHECK(plain && !strcmp(plain, "h\xc3\xa9"));
    CHECK(l.count == 3 && !strcmp(l.items[0].type, "zTXt") && !strcmp(l.items[1].type, "iTXt"));
    mend_png_text_list_free(&l);
    free(b.d);
}

TEST(pillow_leniencies)
{
    buf b = base_png("parameters", "first");
    uint8_t d[64];
    add_chunk(&b, "tEXt", "nokey-separator", 15);            /* keyword only, empty text */
    add_chunk(&b, "tEXt", d, build(d, "", "orphan", 6));       /* empty keyword: skipped */
    const uint8_t bad_utf8[] = {0, 0, 0, 0, 0xc3, 0x28};
    add_chunk(&b, "iTXt", d, build(d, "bad", bad_utf8, sizeof bad_utf8)); /* skipped */
    add_chunk(&b, "iTXt", d, build(d, "cut", "\0", 1));                   /* too short: skipped */
    add_chunk(&b, "tEXt", d, build(d, "parameters", "second", 6));        /* the last one wins */
    mend_png_text_list l;
    mend_err err = {0};
    CHECK_OK(parse(&b, MEND_PNG_CRC_CHECK, &l, &err), &err);
    const char *k = mend_png_text_get(&l, "nokey-separator"), *p = mend_png_text_get(&l, "parameters");
    CHECK(k && k[0] == '\0');
    CHECK(p && !strcmp(p, "second"));
    CHECK(!mend_png_text_get(&l, "bad") && !mend_png_text_get(&l, "cut") && !mend_png_text_get(&l, ""));
    CHECK(l.count == 3);
    mend_png_text_list_free(&l);
    free(b.d);
}

/* Expects parse to fail with MEND_E_FORMAT and a message containing `what`. */
static void expect_error(const buf *b, int crc, const char *what)
{
    mend_png_text_list l;
    mend_err err = {0};
    mend_status s = parse(b, crc, &l, &err);
    CHECK_MSG(s == MEND_E_FORMAT && strstr(err.msg, what) && strstr(err.msg, "test.png"),
              "status %s, message '%s', wanted '%s'", mend_status_name(s), err.msg, what);
    CHECK(l.count == 0 && l.items == NULL);
}

TEST(malformed_files)
{
    buf b = base_png("parameters", "x");
    buf cut = {b.d, b.n - 6};
    expect_error(&cut, MEND_PNG_CRC_IGNORE, "truncated");
    buf no_iend = {b.d, b.n - 12};
    expect_error(&no_iend, MEND_PNG_CRC_IGNORE, "no IEND");
    buf sig_only = {b.d, 8};
    expect_error(&sig_only, MEND_PNG_CRC_IGNORE, "truncated");
    buf empty = {b.d, 0};
    expect_error(&empty, MEND_PNG_CRC_IGNORE, "not a PNG");
    const char *jpeg_like = "\xff\xd8\xff\xe0 not a png at all"; /* read as a JPEG for its EXIF */
    buf other = {(uint8_t *)jpeg_like, strlen(jpeg_like)};
    expect_error(&other, MEND_PNG_CRC_IGNORE, "JPEG segment");
    const char *neither = "GIF89a, not a PNG";
    buf gif = {(uint8_t *)neither, strlen(neither)};
    expect_error(&gif, MEND_PNG_CRC_IGNORE, "not a PNG, JPEG or WebP");
    /* a chunk length pointing past the end (first chunk is IHDR at byte 8) */
    buf big = {malloc(b.n), b.n};
    memcpy(big.d, b.d, b.n);
    put32(big.d + 8, 0x00100000);
    expect_error(&big, MEND_PNG_CRC_IGNORE, "truncated");
    put32(big.d + 8, 0x80000000u);
    expect_error(&big, MEND_PNG_CRC_IGNORE, "exceeds");
    free(big.d);
    free(b.d);
}

TEST(crc_checked_or_ignored)
{
    buf b = base_png("parameters", "hello");
    /* flip one byte of the text: the tEXt chunk's CRC no longer matches */
    uint8_t *hit = NULL;
    for (size_t i = 0; i + 5 <= b.n; i++)
        if (!memcmp(b.d + i, "hello", 5))
            hit = b.d + i;
    CHECK(hit != NULL);
    if (hit)
        hit[0] = 'j';
    expect_error(&b, MEND_PNG_CRC_CHECK, "CRC mismatch");
    expect_text(&b, MEND_PNG_CRC_IGNORE, "parameters", "jello", NULL);
    free(b.d);
}

TEST(bad_compressed_text)
{
    buf b = base_png(NULL, NULL);
    uint8_t d[64];
    const uint8_t garbage[] = {0, 0x78, 0x9c, 0xde, 0xad, 0xbe, 0xef};
    add_chunk(&b, "zTXt", d, build(d, "z", garbage, sizeof garbage));
    expect_error(&b, MEND_PNG_CRC_CHECK, "zlib");
    free(b.d);
    /* truncated zlib stream */
    b = base_png(NULL, NULL);
    uint8_t z[256], rest[256];
    uLongf zn = sizeof z;
    CHECK(compress(z, &zn, (const Bytef *)"some text to compress", 21) == Z_OK);
    rest[0] = 0;
    memcpy(rest + 1, z, zn - 4);
    add_chunk(&b, "zTXt", d, build(d, "z", rest, zn - 3));
    expect_error(&b, MEND_PNG_CRC_CHECK, "zlib");
    free(b.d);
    /* unknown zTXt compression method */
    b = base_png(NULL, NULL);
    rest[0] = 1;
    add_chunk(&b, "zTXt", d, build(d, "z", rest, 4));
    expect_error(&b, MEND_PNG_CRC_CHECK, "compression method");
    free(b.d);
}

TEST(zip_bomb_refused)
{
    size_t n = MEND_PNG_TEXT_MAX_INFLATED + 1;
    char *big = malloc(n);
    uLongf zn = compressBound((uLong)n);
    uint8_t *z = malloc(zn + 1), *d = malloc(zn + 16);
    if (!big || !z || !d) {
        CHECK(0);
        free(big), free(z), free(d);
        return;
    }
    memset(big, 'a', n);
    z[0] = 0;
    CHECK(compress(z + 1, &zn, (const Bytef *)big, (uLong)n) == Z_OK);
    buf b = base_png(NULL, NULL);
    add_chunk(&b, "zTXt", d, build(d, "z", z, zn + 1));
    expect_error(&b, MEND_PNG_CRC_CHECK, "more than");
    free(b.d);
    free(big);
    free(z);
    free(d);
}

/* Inserts `count` tEXt chunks "k<i>" = `text_len` bytes before IEND, in
 * one pass (add_chunk per chunk would itself be quadratic). */
static void add_text_flood(buf *b, int count, size_t text_len)
{
    size_t per = 12 + 8 + 1 + text_len, n = (size_t)count * per;
    uint8_t *out = malloc(b->n + n);
    if (!out) {
        CHECK(0);
        return;
    }
    size_t at = b->n - 12, pos = at;
    memcpy(out, b->d, at);
    for (int i = 0; i < count; i++) {
        uint8_t data[8 + 1];
        snprintf((char *)data, sizeof data, "k%07d", i % 10000000);
        put32(out + pos, (uint32_t)(9 + text_len));
        memcpy(out + pos + 4, "tEXt", 4);
        memcpy(out + pos + 8, data, 8);
        out[pos + 16] = 0;
        memset(out + pos + 17, 'a' + i % 26, text_len);
        put32(out + pos + 17 + text_len, (uint32_t)crc32(0, out + pos + 4, (uInt)(4 + 9 + text_len)));
        pos += per;
    }
    memcpy(out + pos, b->d + at, 12);
    free(b->d);
    b->d = out;
    b->n += n;
}

TEST(chunk_flood_is_linear_and_capped)
{
    /* 200 000 small chunks: read in linear time (the quadratic reader took
     * minutes for 160 000), every one kept in order */
    buf b = base_png(NULL, NULL);
    add_text_flood(&b, 200000, 10);
    mend_png_text_list l;
    mend_err err = {0};
    CHECK_OK(parse(&b, MEND_PNG_CRC_CHECK, &l, &err), &err);
    CHECK(l.count == 200000);
    CHECK(l.count == 200000 && !strcmp(l.items[199999].key, "k0199999") && l.items[199999].text[0] == 'a' + 199999 % 26);
    mend_png_text_list_free(&l);
    free(b.d);
    /* past the total cap: a clear error, nothing kept */
    int over = (int)(MEND_PNG_TEXT_MAX_TOTAL / 1000) + 16;
    b = base_png(NULL, NULL);
    add_text_flood(&b, over, 1000 - 8);
    CHECK(parse(&b, MEND_PNG_CRC_IGNORE, &l, &err) == MEND_E_FORMAT && strstr(err.msg, "in all") &&
          strstr(err.msg, "test.png"));
    CHECK(l.count == 0 && l.items == NULL);
    free(b.d);
}

TEST(oversized_text_chunk_refused)
{
    size_t n = MEND_PNG_TEXT_MAX_INFLATED + 2;
    uint8_t *d = malloc(n);
    if (!d) {
        CHECK(0);
        return;
    }
    memset(d, 'x', n);
    d[1] = 0;
    buf b = base_png(NULL, NULL);
    add_chunk(&b, "tEXt", d, n);
    expect_error(&b, MEND_PNG_CRC_IGNORE, "limit");
    free(b.d);
    free(d);
}

TEST(file_image_data_is_skipped_not_read)
{
    /* A PNG file whose IDAT declares 1.9 GB (a sparse hole on disk) before
     * the text: png-info must find the text without reading or holding
     * the image data. */
    char path[512];
    snprintf(path, sizeof path, "%s/huge-idat.png", test_tmpdir());
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    buf b = base_png(NULL, NULL);
    const uint32_t idat = 1900000000u;
    uint8_t head[8];
    put32(head, idat);
    memcpy(head + 4, "IDAT", 4);
    CHECK(fwrite(b.d, 1, b.n - 12, f) == b.n - 12 && fwrite(head, 1, 8, f) == 8);
    CHECK(fseeko(f, (off_t)idat + 4, SEEK_CUR) == 0); /* data and CRC: a hole */
    uint8_t text[64];
    size_t tn = build(text, "parameters", "steps 20", 8);
    uint8_t chunk[96];
    put32(chunk, (uint32_t)tn);
    memcpy(chunk + 4, "tEXt", 4);
    memcpy(chunk + 8, text, tn);
    put32(chunk + 8 + tn, (uint32_t)crc32(0, chunk + 4, (uInt)(tn + 4)));
    CHECK(fwrite(chunk, 1, tn + 12, f) == tn + 12 && fwrite(b.d + b.n - 12, 1, 12, f) == 12);
    CHECK(fclose(f) == 0);
    mend_png_text_list l;
    mend_err err = {0};
    CHECK_OK(mend_png_text_read_file(path, MEND_PNG_CRC_IGNORE, &l, &err), &err);
    const char *p = mend_png_text_get(&l, "parameters");
    CHECK(p && !strcmp(p, "steps 20"));
    mend_png_text_list_free(&l);
    remove(path);
    free(b.d);
}

TEST(read_file_errors)
{
    mend_png_text_list l;
    mend_err err = {0};
    char path[512];
    snprintf(path, sizeof path, "%s/missing.png", test_tmpdir());
    CHECK(mend_png_text_read_file(path, MEND_PNG_CRC_CHECK, &l, &err) == MEND_E_IO && strstr(err.msg, path));
    CHECK(mend_png_text_read_file(test_tmpdir(), MEND_PNG_CRC_CHECK, &l, &err) == MEND_E_IO);
    snprintf(path, sizeof path, "%s/ok.png", test_tmpdir());
    mend_image img = {0};
    CHECK_OK(mend_image_alloc(&img, 3, 3, 1, &err), &err);
    mend_png_text t = {"parameters", "p"};
    CHECK_OK(mend_image_save_png(path, &img, &t, 1, &err), &err);
    CHECK_OK(mend_png_text_read_file(path, MEND_PNG_CRC_CHECK, &l, &err), &err);
    const char *p = mend_png_text_get(&l, "parameters");
    CHECK(p && !strcmp(p, "p"));
    mend_png_text_list_free(&l);
    mend_image_free(&img);
}

int main(void)
{
    RUN(text_chunk_from_encoder);
    RUN(utf8_text_from_encoder_is_itxt);
    RUN(latin1_text_becomes_utf8);
    RUN(ztxt_and_itxt_compressed);
    RUN(pillow_leniencies);
    RUN(malformed_files);
    RUN(crc_checked_or_ignored);
    RUN(bad_compressed_text);
    RUN(zip_bomb_refused);
    RUN(chunk_flood_is_linear_and_capped);
    RUN(oversized_text_chunk_refused);
    RUN(file_image_data_is_skipped_not_read);
    RUN(read_file_errors);
    return test_summary();
}
