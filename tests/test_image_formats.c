/* Output formats: PNG, JPEG and WebP with A1111's infotext (PNG text chunk,
 * EXIF UserComment laid out as piexif writes it), read back by png-info;
 * WebP decoding and its header probe; the CLI's -o extension; the EXIF
 * reader on malformed blocks. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include "test.h"

#include "io/exif.h"
#include "io/image.h"
#include "io/png_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *infotext = "a caf\xc3\xa9 at night \xf0\x9f\x90\xb1\nNegative prompt: blurry\n"
                              "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 64x48";

static const mend_image_format formats[] = {MEND_FORMAT_PNG, MEND_FORMAT_JPEG, MEND_FORMAT_WEBP};

TEST(format_names)
{
    struct {
        const char *path;
        int ok;
        mend_image_format want;
    } cases[] = {{"a.png", 1, MEND_FORMAT_PNG},    {"dir/b.JPG", 1, MEND_FORMAT_JPEG}, {"c.jpeg", 1, MEND_FORMAT_JPEG},
                 {"d.WebP", 1, MEND_FORMAT_WEBP},  {"e.gif", 0, 0},                    {"noext", 0, 0},
                 {"dir.png/file", 0, 0},           {"f.png.bak", 0, 0},                {".webp", 1, MEND_FORMAT_WEBP}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        mend_image_format f = (mend_image_format)-1;
        int ok = mend_image_format_from_path(cases[i].path, &f);
        CHECK_MSG(ok == cases[i].ok && (!ok || f == cases[i].want), "%s: %d %d", cases[i].path, ok, (int)f);
    }
    mend_image_format f;
    CHECK(mend_image_format_from_name("jpg", &f) && f == MEND_FORMAT_JPEG);
    CHECK(!mend_image_format_from_name("tiff", &f) && !mend_image_format_from_name(NULL, &f));
    for (int k = 0; k < 3; k++) {
        CHECK(mend_image_format_from_name(mend_image_format_name(formats[k]), &f) && f == formats[k]);
    }
}

/* piexif.dump({"Exif": {UserComment: UserComment.dump("ab", encoding="unicode")}}),
 * byte for byte as piexif builds it: big-endian TIFF, IFD0 with the Exif
 * IFD pointer (26) and an empty next-IFD link, the Exif IFD with
 * UserComment (type 7, 12 bytes at offset 40) and no next-IFD link. */
TEST(exif_bytes_as_piexif)
{
    static const uint8_t want[] = {'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 42, 0, 0, 0, 8,
                                   0, 1, 0x87, 0x69, 0, 4, 0, 0, 0, 1, 0, 0, 0, 26, 0, 0, 0, 0,
                                   0, 1, 0x92, 0x86, 0, 7, 0, 0, 0, 12, 0, 0, 0, 40,
                                   'U', 'N', 'I', 'C', 'O', 'D', 'E', 0, 0, 'a', 0, 'b'};
    uint8_t *got = NULL;
    size_t n = 0;
    mend_err err = {0};
    CHECK_OK(mend_exif_user_comment("ab", &got, &n, &err), &err);
    CHECK_MSG(n == sizeof want && got && !memcmp(got, want, n), "%zu bytes", n);
    char *text = NULL;
    CHECK_OK(mend_exif_read_user_comment(got, n, "ab", &text, &err), &err);
    CHECK(text && !strcmp(text, "ab"));
    free(text);
    free(got);
}

/* The EXIF reader: other byte order and prefixes, and blocks cut or
 * pointing outside themselves fail cleanly, naming the input. */
TEST(exif_reader_inputs)
{
    uint8_t *b = NULL;
    size_t n = 0;
    mend_err err = {0};
    CHECK_OK(mend_exif_user_comment(infotext, &b, &n, &err), &err);
    char *text = NULL;
    for (size_t cut = 0; b && cut < n; cut += 3) {
        mend_status s = mend_exif_read_user_comment(b, cut, "cut.jpg", &text, &err);
        CHECK_MSG(s == MEND_E_FORMAT && strstr(err.msg, "cut.jpg") && !text, "cut at %zu: %s", cut,
                  mend_status_name(s));
    }
    free(b);
    /* little-endian, ASCII prefix, no "Exif\0\0": "II*\0", IFD0 at 8 */
    static const uint8_t le[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x69, 0x87, 4, 0, 1, 0, 0, 0, 26, 0, 0, 0,
                                 0, 0, 0, 0, 1, 0, 0x86, 0x92, 7, 0, 11, 0, 0, 0, 40, 0, 0, 0, 'A', 'S', 'C', 'I', 'I', 0, 0, 0, 'h', 'i', '!'};
    CHECK_OK(mend_exif_read_user_comment(le, sizeof le, "le", &text, &err), &err);
    CHECK_MSG(text && !strcmp(text, "hi!"), "%s", text ? text : "(none)");
    free(text);
    /* no Exif IFD pointer: no comment, no error */
    static const uint8_t bare[] = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0};
    CHECK_OK(mend_exif_read_user_comment(bare, sizeof bare, "bare", &text, &err), &err);
    CHECK(text == NULL);
    /* a UserComment offset past the end */
    uint8_t far[sizeof le];
    memcpy(far, le, sizeof le);
    far[36] = 0xf0;
    CHECK(mend_exif_read_user_comment(far, sizeof far, "far.webp", &text, &err) == MEND_E_FORMAT);
    CHECK(strstr(err.msg, "far.webp") && text == NULL);
}

static double mean_abs_diff(const mend_image *a, const mend_image *b)
{
    double sum = 0;
    size_t n = mend_image_size(a);
    for (size_t i = 0; i < n; i++)
        sum += abs((int)a->data[i] - (int)b->data[i]);
    return n ? sum / (double)n : 1e9;
}

/* Every format: decodes to the same size (PNG exactly, JPEG and WebP
 * close), and png-info's reader finds the infotext, UTF-8 intact. */
TEST(roundtrip_with_infotext)
{
    mend_image img = {0};
    test_make_gradient(&img, 64, 48);
    for (int k = 0; k < 3; k++) {
        const char *name = mend_image_format_name(formats[k]);
        uint8_t *buf = NULL;
        size_t n = 0;
        mend_err err = {0};
        CHECK_OK(mend_image_encode(&img, formats[k], infotext, &buf, &n, &err), &err);
        if (!buf)
            continue;
        mend_image back = {0};
        CHECK_OK(mend_image_decode(buf, n, name, &back, &err), &err);
        CHECK_MSG(back.width == 64 && back.height == 48 && back.channels == 3, "%s: %dx%dx%d", name, back.width,
                  back.height, back.channels);
        if (back.data) {
            double d = mean_abs_diff(&img, &back);
            CHECK_MSG(formats[k] == MEND_FORMAT_PNG ? d == 0 : d < 4, "%s: mean difference %.2f", name, d);
        }
        int w = 0, h = 0;
        CHECK_OK(mend_image_probe(buf, n, name, &w, &h, &err), &err);
        CHECK(w == 64 && h == 48);
        mend_png_text_list l;
        CHECK_OK(mend_png_text_read_buffer(buf, n, name, MEND_PNG_CRC_CHECK, &l, &err), &err);
        const char *got = mend_png_text_get(&l, "parameters");
        CHECK_MSG(got && !strcmp(got, infotext), "%s: %s", name, got ? got : "(no parameters)");
        mend_png_text_list_free(&l);
        if (formats[k] == MEND_FORMAT_JPEG) /* the EXIF APP1 right after SOI, no JFIF APP0 (piexif.insert) */
            CHECK(n > 10 && buf[2] == 0xff && buf[3] == 0xe1 && !memcmp(buf + 6, "Exif\0\0", 6));
        if (formats[k] == MEND_FORMAT_WEBP) { /* VP8X with the EXIF flag, the EXIF chunk after the image */
            const uint8_t *image = memmem(buf, n, "VP8 ", 4), *exif = memmem(buf, n, "EXIF", 4);
            CHECK(n > 30 && !memcmp(buf + 12, "VP8X", 4) && (buf[20] & 0x08) && image && exif > image);
            CHECK(exif && !memcmp(exif + 8, "MM\0*", 4)); /* the TIFF block itself, no "Exif\0\0" */
        }
        mend_image_free(&back);
        free(buf);
        /* without infotext: nothing to read, still a valid image */
        CHECK_OK(mend_image_encode(&img, formats[k], NULL, &buf, &n, &err), &err);
        CHECK_OK(mend_png_text_read_buffer(buf, n, name, MEND_PNG_CRC_IGNORE, &l, &err), &err);
        CHECK(l.count == 0);
        mend_png_text_list_free(&l);
        free(buf);
    }
    mend_image_free(&img);
}

/* WebP input: RGBA keeps its alpha (PIL opens it as RGBA), a lossless file
 * decodes exactly, a cut file fails naming the input. */
TEST(webp_decoding)
{
    mend_image img = {0};
    mend_err err = {0};
    CHECK_OK(mend_image_alloc(&img, 17, 9, 4, &err), &err);
    for (size_t i = 0; img.data && i < mend_image_size(&img); i++)
        img.data[i] = (uint8_t)(i * 7);
    uint8_t *buf = NULL;
    size_t n = 0;
    CHECK_OK(mend_image_encode(&img, MEND_FORMAT_WEBP, NULL, &buf, &n, &err), &err);
    mend_image back = {0};
    CHECK_OK(mend_image_decode(buf, n, "rgb.webp", &back, &err), &err);
    CHECK(back.channels == 3); /* saved as RGB, as A1111 converts RGBA */
    mend_image_free(&back);
    for (size_t cut = 12; buf && cut < n; cut += n / 7 + 1) {
        mend_status s = mend_image_decode(buf, cut, "cut.webp", &back, &err);
        CHECK_MSG(s == MEND_E_FORMAT && strstr(err.msg, "cut.webp") && !back.data, "cut at %zu of %zu", cut, n);
    }
    free(buf);
    mend_image_free(&img);
}

/* An infotext too long for one JPEG segment (64 KiB of EXIF) is an error
 * naming the limit; WebP chunks have no such limit and keep it whole. */
TEST(long_infotext)
{
    size_t n = 40000;
    char *text = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        text[i] = (char)('a' + i % 26);
    text[n] = 0;
    mend_image img = {0};
    test_make_gradient(&img, 16, 16);
    uint8_t *buf = NULL;
    size_t len = 0;
    mend_err err = {0};
    CHECK(mend_image_encode(&img, MEND_FORMAT_JPEG, text, &buf, &len, &err) == MEND_E_ARG);
    CHECK_MSG(strstr(err.msg, "EXIF") && strstr(err.msg, "65533") && buf == NULL, "%s", err.msg);
    CHECK_OK(mend_image_encode(&img, MEND_FORMAT_WEBP, text, &buf, &len, &err), &err);
    mend_png_text_list l;
    CHECK_OK(mend_png_text_read_buffer(buf, len, "long.webp", MEND_PNG_CRC_CHECK, &l, &err), &err);
    const char *got = mend_png_text_get(&l, "parameters");
    CHECK(got && !strcmp(got, text));
    mend_png_text_list_free(&l);
    free(buf);
    mend_image_free(&img);
    free(text);
}

/* -o picks the format from its extension; png-info reads each back; an
 * unknown or missing extension is an error naming it, before any work. */
TEST(cli_output_formats)
{
    const char *vocab = test_shared("clip/bpe_simple_vocab_16e6.txt.gz");
    const char *model = vocab ? test_shared("models/tiny-sd1.f16.safetensors") : NULL;
    if (!model)
        return;
    static const char *exts[] = {"png", "jpg", "jpeg", "webp"};
    static const char magic[][4] = {"\x89PN", "\xff\xd8\xff", "\xff\xd8\xff", "RIF"};
    char args[4096], path[600], *out = NULL;
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "%s/out.%s", test_tmpdir(), exts[k]);
        snprintf(args, sizeof args, "txt2img --model '%s' --vocab '%s' -q --steps 1 --width 64 --height 64 --seed 3 "
                 "-o '%s' 'a red cube'", model, vocab, path);
        CHECK_MSG(test_run_mend(args, &out) == 0, "%s: %s", exts[k], out ? out : "");
        free(out);
        size_t n = 0;
        char *bytes = test_read_file(path, &n);
        CHECK_MSG(bytes && n > 8 && !memcmp(bytes, magic[k], 3), "%s: not the format's bytes", exts[k]);
        free(bytes);
        snprintf(args, sizeof args, "png-info '%s'", path);
        CHECK(test_run_mend(args, &out) == 0);
        CHECK_MSG(out && strstr(out, "a red cube\nSteps: 1,") && strstr(out, "Seed: 3,"), "%s: %s", exts[k],
                  out ? out : "");
        free(out);
    }
    snprintf(args, sizeof args, "txt2img --model /nonexistent -o '%s/out.gif' cat", test_tmpdir());
    CHECK(test_run_mend(args, &out) == 2);
    CHECK_MSG(out && strstr(out, "out.gif") && strstr(out, "'.gif'") && !strstr(out, "nonexistent"), "%s",
              out ? out : "");
    free(out);
    snprintf(args, sizeof args, "txt2img --model /nonexistent -o '%s/out' cat", test_tmpdir());
    CHECK(test_run_mend(args, &out) == 2);
    CHECK_MSG(out && strstr(out, "no image extension"), "%s", out ? out : "");
    free(out);
}

/* An animated WebP (VP8X with the animation flag and an ANIM chunk, no
 * frames needed for the header) is refused with a message, not decoded. */
TEST(animated_webp_refused)
{
    static const uint8_t anim[] = {
        'R', 'I', 'F', 'F', 36, 0, 0, 0, 'W', 'E', 'B', 'P',
        'V', 'P', '8', 'X', 10, 0, 0, 0, 0x02, 0, 0, 0, 15, 0, 0, 15, 0, 0, /* 16x16 canvas */
        'A', 'N', 'I', 'M', 6, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    mend_image img = {0};
    mend_err err = {0};
    mend_status st = mend_image_decode(anim, sizeof anim, "anim.webp", &img, &err);
    CHECK_MSG(st == MEND_E_FORMAT && strstr(err.msg, "anim.webp") && strstr(err.msg, "animated"), "%d %s", st,
              err.msg);
    CHECK(img.data == NULL);
    mend_image_free(&img);
}

int main(void)
{
    RUN(format_names);
    RUN(exif_bytes_as_piexif);
    RUN(exif_reader_inputs);
    RUN(roundtrip_with_infotext);
    RUN(webp_decoding);
    RUN(long_infotext);
    RUN(animated_webp_refused);
    RUN(cli_output_formats);
    return test_summary();
}
