/* PNG/JPEG loading and saving: the reference photos decode to the same
 * pixels PIL gave the oracle, every PNG flavour converts as PIL does,
 * round trips are exact, text chunks are written, and every kind of bad
 * input gives a clear error naming the input (no crash, no leak, no
 * partial output file). */
#include "test.h"

#include "io/image.h"

#include <dirent.h>
#include <unistd.h>
#include <jpeglib.h>
#include <png.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static char g_path[1024];

static const char *tmp_path(const char *name)
{
    snprintf(g_path, sizeof g_path, "%s/%s", test_tmpdir(), name);
    return g_path;
}

static int same_pixels(const mend_image *a, const mend_image *b)
{
    return a->width == b->width && a->height == b->height && a->channels == b->channels &&
           memcmp(a->data, b->data, mend_image_size(a)) == 0;
}

/* A deterministic test pattern (gradients plus a checker). */
static void make_pattern(mend_image *img, int w, int h, int ch)
{
    mend_err err = {0};
    CHECK_OK(mend_image_alloc(img, w, h, ch, &err), &err);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < ch; c++)
                img->data[((size_t)y * w + x) * ch + c] =
                    (uint8_t)(c == 3 ? (x * 7 + y) % 256 : (x * 4 + y * 3 * (c + 1) + ((x / 4 + y / 4) % 2) * 40) % 256);
}

/* ---- reference images ---- */

static void check_against_tensor(const char *png_name, const char *st_rel, const char *tensor)
{
    char rel[256];
    snprintf(rel, sizeof rel, "images/%s", png_name);
    const char *png = test_shared(rel);
    const char *st = png ? test_shared(st_rel) : NULL;
    if (!st)
        return;
    mend_err err = {0};
    mend_image img = {0};
    mend_tf *f = NULL;
    CHECK_OK(mend_image_load(png, &img, &err), &err);
    CHECK_OK(mend_tf_open(st, &f, &err), &err);
    const mend_tf_tensor *t = f ? mend_tf_find(f, tensor) : NULL;
    CHECK_MSG(t != NULL, "%s missing in %s", tensor, st);
    if (t && img.data) {
        int ch = t->ndim == 3 ? (int)t->shape[2] : 1;
        CHECK_MSG(img.width == t->shape[1] && img.height == t->shape[0] && img.channels == ch,
                  "%s: %dx%dx%d, reference %lldx%lldx%d", png_name, img.width, img.height, img.channels,
                  (long long)t->shape[1], (long long)t->shape[0], ch);
        if (t->nbytes == mend_image_size(&img))
            CHECK_MSG(memcmp(img.data, t->data, t->nbytes) == 0, "%s: pixels differ from %s", png_name, tensor);
    }
    mend_image_free(&img);
    mend_tf_close(f);
}

TEST(reference_photos_decode_like_pil)
{
    check_against_tensor("chelsea-128.png", "image_ops/blur.safetensors", "input/chelsea-128.png");
    check_against_tensor("chelsea-96x64.png", "image_ops/resize.safetensors", "input/chelsea-96x64.png");
    check_against_tensor("mask-ellipse-128.png", "image_ops/blur.safetensors", "input/mask-ellipse-128.png");
    check_against_tensor("mask-edge-128.png", "image_ops/blur.safetensors", "input/mask-edge-128.png");
    check_against_tensor("mask-tri-96x64.png", "image_ops/resize.safetensors", "input/mask-tri-96x64.png");
    check_against_tensor("astronaut-128.png", "image_ops/mask_pipeline.safetensors", "p4/image");
    check_against_tensor("mask-rgba-128.png", "image_ops/mask_pipeline.safetensors", "p3/mask_input");
}

/* ---- round trips ---- */

TEST(png_roundtrip_all_channel_counts)
{
    static const int channels[] = {1, 3, 4};
    for (int i = 0; i < 3; i++) {
        mend_image img = {0}, back = {0};
        mend_err err = {0};
        make_pattern(&img, 37, 23, channels[i]);
        const char *p = tmp_path("rt.png");
        CHECK_OK(mend_image_save_png(p, &img, NULL, 0, &err), &err);
        CHECK_OK(mend_image_load(p, &back, &err), &err);
        CHECK_MSG(same_pixels(&img, &back), "%d channels: round trip differs", channels[i]);
        mend_image_free(&img);
        mend_image_free(&back);
    }
}

static int contains(const uint8_t *buf, size_t len, const void *needle, size_t nlen)
{
    for (size_t i = 0; i + nlen <= len; i++)
        if (memcmp(buf + i, needle, nlen) == 0)
            return 1;
    return 0;
}

TEST(png_text_chunks)
{
    mend_image img = {0}, back = {0};
    mend_err err = {0};
    make_pattern(&img, 8, 8, 3);
    mend_png_text texts[] = {
        {"parameters", "a cat\nSteps: 20, Sampler: Euler a, Seed: 1"},
        {"latin", "caf\xc3\xa9"},         /* é fits Latin-1 → tEXt with byte 0xE9 */
        {"wide", "\xe7\x8c\xab cat"},     /* 猫 does not → iTXt, UTF-8 */
    };
    uint8_t *png = NULL;
    size_t len = 0;
    CHECK_OK(mend_image_encode_png(&img, texts, 3, &png, &len, &err), &err);
    static const char p1[] = "tEXtparameters\0a cat\nSteps: 20, Sampler: Euler a, Seed: 1";
    static const char p2[] = "tEXtlatin\0caf\xe9";
    static const char p3[] = "iTXtwide\0\0\0\0\0\xe7\x8c\xab cat";
    CHECK(png && contains(png, len, p1, sizeof p1 - 1));
    CHECK(png && contains(png, len, p2, sizeof p2 - 1));
    CHECK(png && contains(png, len, p3, sizeof p3 - 1));
    CHECK_OK(mend_image_decode(png, len, "encoded", &back, &err), &err);
    CHECK(same_pixels(&img, &back));
    free(png);
    mend_image_free(&back);

    /* bad keys / text are refused before anything is written */
    const char *p = tmp_path("badkey.png");
    mend_png_text bad_key = {"", "x"};
    CHECK(mend_image_save_png(p, &img, &bad_key, 1, &err) == MEND_E_ARG);
    mend_png_text bad_utf8 = {"parameters", "bad \xff byte"};
    CHECK(mend_image_save_png(p, &img, &bad_utf8, 1, &err) == MEND_E_ARG);
    CHECK_MSG(strstr(err.msg, "UTF-8") != NULL, "%s", err.msg);
    CHECK(access(p, F_OK) != 0);
    mend_image_free(&img);
}

/* ---- PNG flavours written with libpng directly ---- */

typedef struct raw_png {
    int w, h, bit_depth, color_type, interlace;
    const uint8_t *rows; /* packed rows as libpng expects them */
    size_t stride;
    const png_color *palette;
    int npalette;
    const png_byte *trans;
    int ntrans;
} raw_png;

static int write_raw_png(const char *path, const raw_png *r)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)r->w, (png_uint_32)r->h, r->bit_depth, r->color_type, r->interlace,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (r->palette)
        png_set_PLTE(png, info, r->palette, r->npalette);
    if (r->trans)
        png_set_tRNS(png, info, r->trans, r->ntrans, NULL);
    png_write_info(png, info);
    png_bytep *rows = malloc(sizeof *rows * (size_t)r->h);
    for (int y = 0; y < r->h; y++)
        rows[y] = (png_bytep)(r->rows + r->stride * (size_t)y);
    png_write_image(png, rows);
    png_write_end(png, info);
    free(rows);
    png_destroy_write_struct(&png, &info);
    fclose(f);
    return 0;
}

static void load_tmp(const char *name, mend_image *img)
{
    mend_err err = {0};
    CHECK_OK(mend_image_load(tmp_path(name), img, &err), &err);
}

TEST(png_palette_and_gray_alpha)
{
    /* palette (with tRNS, which PIL's convert ignores) → RGB */
    png_color pal[3] = {{255, 0, 0}, {0, 128, 255}, {10, 20, 30}};
    png_byte trans[1] = {0};
    uint8_t idx[2 * 3] = {0, 1, 2, 2, 1, 0};
    raw_png r = {3, 2, 8, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE, idx, 3, pal, 3, trans, 1};
    CHECK(write_raw_png(tmp_path("pal.png"), &r) == 0);
    mend_image img = {0};
    load_tmp("pal.png", &img);
    CHECK(img.channels == 3 && img.width == 3 && img.height == 2);
    if (img.data)
        for (int i = 0; i < 6; i++)
            CHECK(img.data[3 * i] == pal[idx[i]].red && img.data[3 * i + 1] == pal[idx[i]].green &&
                  img.data[3 * i + 2] == pal[idx[i]].blue);
    mend_image_free(&img);

    /* grey + alpha → the grey band */
    uint8_t ga[4 * 2 * 2] = {10, 0, 20, 50, 30, 255, 40, 128, 50, 7, 60, 9, 70, 1, 80, 2};
    raw_png r2 = {4, 2, 8, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_INTERLACE_NONE, ga, 8, NULL, 0, NULL, 0};
    CHECK(write_raw_png(tmp_path("ga.png"), &r2) == 0);
    load_tmp("ga.png", &img);
    CHECK(img.channels == 1 && img.width == 4);
    if (img.data)
        for (int i = 0; i < 8; i++)
            CHECK(img.data[i] == ga[2 * i]);
    mend_image_free(&img);
}

TEST(png_bit_depths_like_pil)
{
    mend_image img = {0};
    /* 1-bit grey: 0 / 255 */
    uint8_t bits[1] = {0xa0}; /* 1 0 1 0 */
    raw_png r1 = {4, 1, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, bits, 1, NULL, 0, NULL, 0};
    CHECK(write_raw_png(tmp_path("g1.png"), &r1) == 0);
    load_tmp("g1.png", &img);
    CHECK(img.data && img.channels == 1 && img.data[0] == 255 && img.data[1] == 0 && img.data[2] == 255);
    mend_image_free(&img);

    /* 16-bit grey opens as PIL mode "I": convert("L") clips at 255 */
    uint8_t g16[3 * 2] = {0x00, 0x07, 0x00, 0xff, 0x12, 0x34};
    raw_png r2 = {3, 1, 16, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, g16, 6, NULL, 0, NULL, 0};
    CHECK(write_raw_png(tmp_path("g16.png"), &r2) == 0);
    load_tmp("g16.png", &img);
    CHECK(img.data && img.data[0] == 7 && img.data[1] == 255 && img.data[2] == 255);
    mend_image_free(&img);

    /* 16-bit RGBA keeps the high byte of each sample (PIL "RGBA;16B") */
    uint8_t c16[8] = {0x12, 0x34, 0xab, 0xcd, 0x00, 0xff, 0x80, 0x01};
    raw_png r3 = {1, 1, 16, PNG_COLOR_TYPE_RGB_ALPHA, PNG_INTERLACE_NONE, c16, 8, NULL, 0, NULL, 0};
    CHECK(write_raw_png(tmp_path("c16.png"), &r3) == 0);
    load_tmp("c16.png", &img);
    CHECK(img.data && img.channels == 4 && img.data[0] == 0x12 && img.data[1] == 0xab && img.data[2] == 0x00 &&
          img.data[3] == 0x80);
    mend_image_free(&img);

    /* interlaced RGB equals the non-interlaced original */
    mend_image pat = {0};
    make_pattern(&pat, 19, 13, 3);
    raw_png r4 = {19, 13, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_ADAM7, pat.data, 19 * 3, NULL, 0, NULL, 0};
    CHECK(write_raw_png(tmp_path("adam7.png"), &r4) == 0);
    load_tmp("adam7.png", &img);
    CHECK(same_pixels(&pat, &img));
    mend_image_free(&img);
    mend_image_free(&pat);
}

/* ---- JPEG ---- */

static int max_diff(const mend_image *a, const mend_image *b)
{
    int m = 0;
    for (size_t i = 0; i < mend_image_size(a); i++) {
        int d = abs(a->data[i] - b->data[i]);
        m = d > m ? d : m;
    }
    return m;
}

TEST(jpeg_decode_gray_and_rgb)
{
    for (int ch = 1; ch <= 3; ch += 2) {
        mend_image img = {0}, back = {0};
        mend_err err = {0};
        make_pattern(&img, 40, 24, ch);
        /* a smooth gradient, which JPEG at quality 100 keeps within a few levels */
        for (size_t i = 0; i < mend_image_size(&img); i++)
            img.data[i] = (uint8_t)((i / ch % 40) * 3 + (i / ch / 40) * 2 + (i % ch) * 20);
        size_t len = 0;
        uint8_t *jpg = test_encode_jpeg(&img, 100, 1, &len);
        CHECK_OK(mend_image_decode(jpg, len, "pattern.jpg", &back, &err), &err);
        CHECK(back.width == 40 && back.height == 24 && back.channels == ch);
        if (back.data) {
            int d = max_diff(&img, &back);
            CHECK_MSG(d <= 4, "%d channels: JPEG q100 max diff %d", ch, d);
        }
        /* the same bytes through a file */
        const char *p = tmp_path("pattern.jpg");
        FILE *f = fopen(p, "wb");
        fwrite(jpg, 1, len, f);
        fclose(f);
        mend_image fromfile = {0};
        CHECK_OK(mend_image_load(p, &fromfile, &err), &err);
        CHECK(same_pixels(&back, &fromfile));
        mend_image_free(&fromfile);

        /* truncated JPEG: PIL refuses it, so does mend */
        for (size_t cut = 2; cut < len; cut += len / 7 + 1) {
            mend_image t = {0};
            mend_status s = mend_image_decode(jpg, cut, "cut.jpg", &t, &err);
            CHECK_MSG(s == MEND_E_FORMAT && t.data == NULL, "JPEG cut at %zu/%zu: %s", cut, len,
                      mend_status_name(s));
            CHECK_MSG(s == MEND_OK || strstr(err.msg, "cut.jpg") != NULL, "%s", err.msg);
        }
        free(jpg);
        mend_image_free(&img);
        mend_image_free(&back);
    }
}

/* ---- bad input ---- */

static void expect_format_error(const void *buf, size_t len, const char *name, const char *why)
{
    mend_image img = {0};
    mend_err err = {0};
    mend_status s = mend_image_decode(buf, len, name, &img, &err);
    CHECK_MSG(s == MEND_E_FORMAT, "%s: expected a format error, got %s", why, mend_status_name(s));
    CHECK_MSG(strstr(err.msg, name) != NULL, "%s: message does not name the input: %s", why, err.msg);
    CHECK(img.data == NULL);
}

/* Rewrites the IHDR size of an encoded PNG and fixes the chunk CRC. */
static void set_png_size(uint8_t *png, uint32_t w, uint32_t h)
{
    uint8_t *ihdr = png + 8; /* length(4) "IHDR" data(13) crc(4) */
    for (int i = 0; i < 4; i++) {
        ihdr[8 + i] = (uint8_t)(w >> (24 - 8 * i));
        ihdr[12 + i] = (uint8_t)(h >> (24 - 8 * i));
    }
    uint32_t crc = (uint32_t)crc32(0, ihdr + 4, 17);
    for (int i = 0; i < 4; i++)
        ihdr[21 + i] = (uint8_t)(crc >> (24 - 8 * i));
}

TEST(bad_inputs_fail_cleanly)
{
    mend_image img = {0};
    mend_err err = {0};
    expect_format_error("hello, world", 12, "greeting.txt", "text");
    expect_format_error("", 0, "empty.png", "empty");
    expect_format_error("\x89PNG\r\n\x1a\n", 8, "sigonly.png", "signature only");

    make_pattern(&img, 30, 20, 3);
    uint8_t *png = NULL;
    size_t len = 0;
    CHECK_OK(mend_image_encode_png(&img, NULL, 0, &png, &len, &err), &err);
    mend_image_free(&img);
    if (!png)
        return;
    for (size_t cut = 9; cut < len - 12; cut += len / 9 + 1) /* IEND is optional, everything before is not */
        expect_format_error(png, cut, "cut.png", "truncated PNG");

    uint8_t *big = malloc(len);
    memcpy(big, png, len);
    set_png_size(big, 20000, 20);
    expect_format_error(big, len, "huge.png", "width > 16384");
    set_png_size(big, 1, 20000);
    expect_format_error(big, len, "tall.png", "height > 16384");
    set_png_size(big, 20, 1u << 30); /* over the pixel limit: refused from the header as such */
    mend_image over = {0};
    mend_err over_err = {0};
    CHECK(mend_image_decode(big, len, "tall.png", &over, &over_err) == MEND_E_LIMIT && over.data == NULL);
    set_png_size(big, 0, 20);
    expect_format_error(big, len, "zero.png", "zero width");
    /* a corrupted IHDR CRC */
    memcpy(big, png, len);
    big[29] ^= 0xff;
    expect_format_error(big, len, "crc.png", "bad IHDR CRC");
    /* corrupted image data */
    memcpy(big, png, len);
    for (size_t i = 45; i < len - 20; i += 3)
        big[i] ^= 0x5a;
    expect_format_error(big, len, "garbled.png", "garbled IDAT");
    free(big);
    free(png);

    /* a JPEG declaring a huge size: patch the SOF0 height/width */
    make_pattern(&img, 16, 16, 3);
    uint8_t *jpg = test_encode_jpeg(&img, 90, 1, &len);
    mend_image_free(&img);
    for (size_t i = 2; i + 9 < len; i++) {
        if (jpg[i] == 0xff && jpg[i + 1] == 0xc0) {
            jpg[i + 5] = 0x60; /* height 0x6010 = 24592 */
            break;
        }
    }
    expect_format_error(jpg, len, "huge.jpg", "JPEG height > 16384");
    free(jpg);

    /* missing file: an I/O error naming it */
    CHECK(mend_image_load(tmp_path("does-not-exist.png"), &img, &err) == MEND_E_IO);
    CHECK(strstr(err.msg, "does-not-exist.png") != NULL);
    /* a directory is not an image */
    CHECK(mend_image_load(test_tmpdir(), &img, &err) == MEND_E_IO);
}

static int count_tmp_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));)
        n += strstr(e->d_name, ".tmp-") != NULL;
    closedir(d);
    return n;
}

TEST(atomic_save)
{
    mend_image a = {0}, b = {0}, back = {0};
    mend_err err = {0};
    make_pattern(&a, 16, 16, 3);
    make_pattern(&b, 8, 4, 1);
    const char *p = tmp_path("atomic.png");
    char path[1024];
    snprintf(path, sizeof path, "%s", p);
    CHECK_OK(mend_image_save_png(path, &a, NULL, 0, &err), &err);
    CHECK_OK(mend_image_save_png(path, &b, NULL, 0, &err), &err); /* replaces */
    CHECK_OK(mend_image_load(path, &back, &err), &err);
    CHECK(same_pixels(&b, &back));
    mend_image_free(&back);

    /* into a missing directory: error naming the path, nothing created */
    snprintf(path, sizeof path, "%s/no/such/dir/x.png", test_tmpdir());
    CHECK(mend_image_save_png(path, &a, NULL, 0, &err) == MEND_E_IO);
    CHECK(strstr(err.msg, "x.png") != NULL);

    /* onto an existing directory: rename fails, the temporary is removed */
    snprintf(path, sizeof path, "%s/adir", test_tmpdir());
    mkdir(path, 0755);
    CHECK(mend_image_save_png(path, &a, NULL, 0, &err) == MEND_E_IO);
    CHECK(count_tmp_files(test_tmpdir()) == 0);

    /* an empty image is refused before touching the file system */
    mend_image empty = {0};
    CHECK(mend_image_save_png(tmp_path("empty.png"), &empty, NULL, 0, &err) == MEND_E_ARG);
    CHECK(access(tmp_path("empty.png"), F_OK) != 0);
    mend_image_free(&a);
    mend_image_free(&b);
}

TEST(alloc_limits)
{
    mend_image img = {0};
    mend_err err = {0};
    CHECK(mend_image_alloc(&img, 0, 5, 3, &err) == MEND_E_ARG);
    CHECK(mend_image_alloc(&img, 5, 16385, 3, &err) == MEND_E_ARG);
    CHECK(mend_image_alloc(&img, 5, 5, 2, &err) == MEND_E_ARG);
    CHECK(img.data == NULL);
}

/* Sizes from headers alone: PNG IHDR and JPEG SOF (after APPn segments),
 * and clear errors for what is not one. */
TEST(probe_reads_sizes_from_headers)
{
    mend_image img = {0};
    mend_err err = {0};
    CHECK_OK(mend_image_alloc(&img, 37, 21, 3, &err), &err);
    uint8_t *png = NULL;
    size_t png_len = 0, jpg_len = 0;
    CHECK_OK(mend_image_encode_png(&img, NULL, 0, &png, &png_len, &err), &err);
    uint8_t *jpg = img.data ? test_encode_jpeg(&img, 90, 1, &jpg_len) : NULL;
    int w = 0, h = 0;
    if (png) {
        CHECK_OK(mend_image_probe(png, png_len, "p.png", &w, &h, &err), &err);
        CHECK(w == 37 && h == 21);
        /* a header claiming 100000 x 100000 is read as such: the caller refuses it */
        uint8_t big[24];
        memcpy(big, png, 24);
        big[16] = 0, big[17] = 1, big[18] = 0x86, big[19] = 0xa0;
        big[20] = 0, big[21] = 1, big[22] = 0x86, big[23] = 0xa0;
        CHECK_OK(mend_image_probe(big, 24, "big.png", &w, &h, &err), &err);
        CHECK(w == 100000 && h == 100000);
        CHECK(mend_image_probe(png, 20, "cut.png", &w, &h, &err) == MEND_E_FORMAT && strstr(err.msg, "cut.png"));
    }
    CHECK(jpg != NULL);
    if (jpg) {
        CHECK_OK(mend_image_probe(jpg, jpg_len, "j.jpg", &w, &h, &err), &err);
        CHECK(w == 37 && h == 21);
        CHECK(mend_image_probe(jpg, 4, "cut.jpg", &w, &h, &err) == MEND_E_FORMAT && strstr(err.msg, "SOF"));
    }
    CHECK(mend_image_probe("GIF89a....", 10, "x.gif", &w, &h, &err) == MEND_E_FORMAT && strstr(err.msg, "x.gif"));
    CHECK(mend_image_probe(NULL, 0, NULL, &w, &h, &err) == MEND_E_FORMAT && w == 0 && h == 0);
    free(png);
    free(jpg);
    mend_image_free(&img);
}

int main(void)
{
    RUN(reference_photos_decode_like_pil);
    RUN(png_roundtrip_all_channel_counts);
    RUN(png_text_chunks);
    RUN(png_palette_and_gray_alpha);
    RUN(png_bit_depths_like_pil);
    RUN(jpeg_decode_gray_and_rgb);
    RUN(bad_inputs_fail_cleanly);
    RUN(atomic_save);
    RUN(alloc_limits);
    RUN(probe_reads_sizes_from_headers);
    return test_summary();
}
