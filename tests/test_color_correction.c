/* Colour correction (A1111 img2img_color_correction): OpenCV-style 8-bit
 * LAB, skimage histogram matching, blendmodes luminosity, and the pipeline
 * with the option on and off; plus the infotext's Model hash. */
#include "pipeline_fixture.h"

#include "core/sha256.h"
#include "inpaint/color_correction.h"
#include "inpaint/pipeline.h"
#include "model/sd_model.h"

#include <string.h>

static void lab_of(int r, int g, int b, uint8_t lab[3])
{
    uint8_t rgb[3] = {(uint8_t)r, (uint8_t)g, (uint8_t)b};
    mend_rgb_to_lab8(rgb, lab, 1);
}

#define CHECK_LAB(r, g, b, L, A, B)                                                              \
    do {                                                                                         \
        uint8_t lab_[3];                                                                         \
        lab_of(r, g, b, lab_);                                                                   \
        CHECK_MSG(lab_[0] == (L) && lab_[1] == (A) && lab_[2] == (B), "(%d,%d,%d) -> (%d,%d,%d)", \
                  r, g, b, lab_[0], lab_[1], lab_[2]);                                           \
    } while (0)

/* Black and white follow from the definition (L 0 / 100, a = b = 0); the
 * primaries are cv2.cvtColor's well-known uint8 answers. */
TEST(lab_known_colours)
{
    CHECK_LAB(0, 0, 0, 0, 128, 128);
    CHECK_LAB(255, 255, 255, 255, 128, 128);
    CHECK_LAB(255, 0, 0, 136, 208, 195);
    CHECK_LAB(0, 255, 0, 224, 42, 211);
    CHECK_LAB(0, 0, 255, 82, 207, 20);
}

/* greys have a = b = 128 and L rises with the grey level */
TEST(lab_greys)
{
    int last = -1;
    for (int v = 0; v < 256; v++) {
        uint8_t lab[3];
        lab_of(v, v, v, lab);
        CHECK_MSG(lab[1] == 128 && lab[2] == 128, "grey %d -> a %d b %d", v, lab[1], lab[2]);
        CHECK_MSG(lab[0] >= last, "grey %d: L %d after %d", v, lab[0], last);
        last = lab[0];
    }
}

/* LAB -> RGB inverts RGB -> LAB up to the 8-bit LAB quantisation. One
 * count of a or b moves a channel near 0 by a tiny amount of linear light,
 * which the sRGB curve (slope 12.92 at 0) turns into 10-20 counts; so the
 * bound is on the mean, with a loose cap on the worst. */
TEST(lab_round_trip)
{
    int worst = 0;
    long total = 0, count = 0;
    for (int r = 0; r < 256; r += 17)
        for (int g = 0; g < 256; g += 15)
            for (int b = 0; b < 256; b += 51) {
                uint8_t rgb[3] = {(uint8_t)r, (uint8_t)g, (uint8_t)b}, lab[3], back[3];
                mend_rgb_to_lab8(rgb, lab, 1);
                mend_lab8_to_rgb(lab, back, 1);
                for (int k = 0; k < 3; k++) {
                    int d = abs(back[k] - rgb[k]);
                    worst = d > worst ? d : worst;
                    total += d;
                    count++;
                }
            }
    printf("  LAB round trip: max error %d counts, mean %.3f\n", worst, (double)total / count);
    CHECK(worst <= 24);
    CHECK((double)total / count <= 1.0);
    uint8_t white[3] = {255, 128, 128}, black[3] = {0, 128, 128}, out[3];
    mend_lab8_to_rgb(white, out, 1);
    CHECK(out[0] == 255 && out[1] == 255 && out[2] == 255);
    mend_lab8_to_rgb(black, out, 1);
    CHECK(out[0] == 0 && out[1] == 0 && out[2] == 0);
}

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

TEST(match_self_is_identity)
{
    enum { N = 5000 };
    static uint8_t img[N * 3], out[N * 3];
    uint32_t s = 7;
    for (int i = 0; i < N * 3; i++)
        img[i] = (uint8_t)(i % 3 == 0 ? lcg(&s) % 256 : i % 3 == 1 ? 100 + lcg(&s) % 20 : (lcg(&s) % 4) * 60);
    mend_match_histograms(img, N, img, N, 3, out);
    CHECK(memcmp(img, out, sizeof img) == 0);
}

/* Source: 100 distinct values 3 times each; reference: 100 other distinct
 * values 5 times each. Equal quantiles, so the k-th source value maps to
 * the k-th reference value and the histograms match exactly. */
TEST(match_permutation)
{
    enum { NS = 300, NR = 500 };
    uint8_t src[NS], ref[NR], out[NS];
    uint32_t s = 3;
    for (int i = 0; i < NS; i++)
        src[i] = (uint8_t)(2 * (i % 100) + 1);
    for (int i = 0; i < NR; i++)
        ref[i] = (uint8_t)(150 - (i % 100));
    for (int i = NS - 1; i > 0; i--) { /* shuffle the source */
        int j = (int)(lcg(&s) % (uint32_t)(i + 1));
        uint8_t t = src[i];
        src[i] = src[j];
        src[j] = t;
    }
    mend_match_histograms(src, NS, ref, NR, 1, out);
    int hist_out[256] = {0}, hist_ref[256] = {0};
    for (int i = 0; i < NS; i++)
        hist_out[out[i]]++;
    for (int i = 0; i < NR; i++)
        hist_ref[ref[i]]++;
    int same = 1;
    for (int v = 0; v < 256; v++)
        same &= hist_out[v] * 5 == hist_ref[v] * 3;
    CHECK(same);
    /* order kept: the smallest source value becomes the smallest reference one */
    for (int i = 0; i < NS; i++)
        if (src[i] == 1)
            CHECK(out[i] == 51);
}

/* a value between two reference quantiles is interpolated and truncated:
 * src {0, 1} half each, ref {0 x1, 10 x3}: quantile 0.5 lies 1/3 of the way
 * from 0.25 (value 0) to 1.0 (value 10) -> 3.33 -> 3 */
TEST(match_interpolates_and_truncates)
{
    uint8_t src[2] = {0, 1}, ref[4] = {0, 10, 10, 10}, out[2];
    mend_match_histograms(src, 2, ref, 4, 1, out);
    CHECK(out[0] == 3);
    CHECK(out[1] == 10);
}

static double luma(const uint8_t *c)
{
    return c[0] * 0.299 + c[1] * 0.587 + c[2] * 0.114;
}

TEST(luminosity_keeps_foreground_luma)
{
    uint32_t s = 11;
    double worst = 0;
    for (int i = 0; i < 20000; i++) {
        uint8_t bg[3], fg[3], out[3];
        for (int k = 0; k < 3; k++) {
            bg[k] = (uint8_t)(lcg(&s) % 256);
            fg[k] = (uint8_t)(lcg(&s) % 256);
        }
        mend_blend_luminosity(bg, fg, 1, out);
        double d = fabs(luma(out) - luma(fg));
        worst = d > worst ? d : worst;
    }
    printf("  luminosity blend: max luma error %.3f counts\n", worst);
    CHECK(worst <= 0.5 + 1e-9); /* each channel rounds by at most half a count */
    /* the same colour on both sides is unchanged; a grey background takes
     * the foreground's luma as a grey */
    uint8_t c[3] = {200, 30, 90}, out[3];
    mend_blend_luminosity(c, c, 1, out);
    CHECK(out[0] == 200 && out[1] == 30 && out[2] == 90);
    uint8_t grey[3] = {50, 50, 50}, fg[3] = {255, 255, 255};
    mend_blend_luminosity(grey, fg, 1, out);
    CHECK(out[0] == 255 && out[1] == 255 && out[2] == 255);
}

TEST(correction_towards_itself_is_nearly_identity)
{
    enum { W = 16, H = 16 };
    mend_image img = {0}, target = {0};
    mend_err err = {0};
    CHECK_OK(mend_image_alloc(&img, W, H, 3, &err), &err);
    for (int i = 0; i < W * H * 3; i++)
        img.data[i] = (uint8_t)((i * 37) % 256);
    CHECK_OK(mend_color_correction_target(&img, &target, &err), &err);
    uint8_t *orig = malloc((size_t)W * H * 3);
    CHECK(orig != NULL);
    if (orig) {
        memcpy(orig, img.data, (size_t)W * H * 3);
        CHECK_OK(mend_apply_color_correction(&target, &img, &err), &err);
        int worst = 0;
        for (int i = 0; i < W * H * 3; i++)
            worst = abs(img.data[i] - orig[i]) > worst ? abs(img.data[i] - orig[i]) : worst;
        printf("  self-correction: max change %d counts\n", worst);
        CHECK(worst <= 8); /* only the LAB round trip's quantisation */
    }
    free(orig);
    mend_image_free(&img);
    mend_image_free(&target);
}

/* ---------------- pipeline ---------------- */

TEST(pipeline_on_off)
{
    mend_sd_model *m = inpaint_model();
    const char *path = test_shared(INPAINT_MODEL);
    if (!m)
        return;
    enum { S = 64 };
    mend_image init = make_image_disc(S, S, 0), mask = {0};
    mend_err err = {0};
    CHECK_OK(mend_image_alloc(&mask, S, S, 1, &err), &err);
    for (int y = 16; y < 48; y++)
        memset(mask.data + y * S + 16, 255, 32);
    mend_gen_params p;
    mend_gen_params_default(&p);
    p.prompt = "a red hat";
    p.width = p.height = S;
    p.steps = 2;
    p.sampler_name = "Euler";
    p.seed = 1234;
    p.mask_blur_x = p.mask_blur_y = 0; /* a hard mask: outside pixels are the original's */
    mend_gen_inputs in = {.init_image = &init, .mask = &mask};
    mend_gen_output off = {0}, on = {0};
    CHECK_OK(mend_generate(m, &p, &in, NULL, NULL, &off, &err), &err);
    p.color_correction = 1;
    CHECK_OK(mend_generate(m, &p, &in, NULL, NULL, &on, &err), &err);
    if (off.count == 1 && on.count == 1) {
        int inside_changed = 0, outside_differs = 0;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                for (int c = 0; c < 3; c++) {
                    size_t i = ((size_t)y * S + x) * 3 + c;
                    int masked = mask.data[y * S + x] != 0;
                    if (masked)
                        inside_changed += on.images[0].data[i] != off.images[0].data[i];
                    else
                        outside_differs += on.images[0].data[i] != init.data[i] ||
                                           off.images[0].data[i] != init.data[i];
                }
        printf("  colour correction changed %d of %d masked channel values\n", inside_changed, 32 * 32 * 3);
        CHECK(inside_changed > 0);
        CHECK(outside_differs == 0);
        /* no infotext key for the setting (A1111 writes none) */
        CHECK(strcmp(on.infotexts[0], off.infotexts[0]) == 0);
    }
    /* the hash in the infotext is the file's SHA-256, after Size and before Model */
    char hex[65], want[128];
    CHECK_OK(mend_sha256_file(path, hex, &err), &err);
    snprintf(want, sizeof want, "Size: 64x64, Model hash: %.10s, Model: tiny-sd1-inpaint.f16,", hex);
    CHECK_MSG(on.count == 1 && strstr(on.infotexts[0], want) != NULL, "want '%s' in '%s'", want,
              on.count ? on.infotexts[0] : "");
    p.color_correction = 2;
    mend_gen_output bad = {0};
    CHECK(mend_generate(m, &p, &in, NULL, NULL, &bad, &err) == MEND_E_ARG);
    CHECK(strstr(err.msg, "color_correction") != NULL);
    mend_gen_output_free(&off);
    mend_gen_output_free(&on);
    mend_image_free(&init);
    mend_image_free(&mask);
}

int main(void)
{
    RUN(lab_known_colours);
    RUN(lab_greys);
    RUN(lab_round_trip);
    RUN(match_self_is_identity);
    RUN(match_permutation);
    RUN(match_interpolates_and_truncates);
    RUN(luminosity_keeps_foreground_luma);
    RUN(correction_towards_itself_is_nearly_identity);
    RUN(pipeline_on_off);
    pipeline_models_free();
    return test_summary();
}
