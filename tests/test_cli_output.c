/* The command line's output naming and Inpaint sketch helpers, unit-tested
 * directly: numbered paths, A1111's outputs-folder sequence, and the sketch
 * turned into a mask and a composite. (The commands end to end:
 * test_cli_generate.c.) */
#include "test.h"

#include "cli/output.c"
#include "cli/sketch.c"
#include "inpaint/imageops.h"

#include <string.h>

#define W 64
#define H 64

TEST(numbered_paths)
{
    const char *cases[][3] = {{"out.png", "out.png", "out-1.png"},
                              {"a/b.c/img.png", "a/b.c/img.png", "a/b.c/img-1.png"},
                              {"a/b.c/img", "a/b.c/img", "a/b.c/img-1"},
                              {".hidden", ".hidden", ".hidden-1"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (int k = 0; k < 2; k++) {
            char *p = cli_numbered_path(cases[i][0], k);
            CHECK_MSG(p && !strcmp(p, cases[i][1 + k]), "%s #%d -> %s", cases[i][0], k, p ? p : "(null)");
            free(p);
        }
    char *p = cli_numbered_path("x.png", 12);
    CHECK(p && !strcmp(p, "x-12.png"));
    free(p);
}

TEST(sketch_mask_and_composite)
{
    mend_err err = {0};
    mend_image orig, sketch, init_out, mask_out;
    test_make_gradient(&orig, W, H);
    test_make_sketch(&orig, &sketch);
    /* expected mask value for each transparency, as Pillow's blend truncates */
    const struct {
        float alpha;
        int value;
    } alphas[] = {{0, 255}, {40, 153}, {50, 127}, {100, 0}};
    for (size_t a = 0; a < sizeof alphas / sizeof *alphas; a++) {
        CHECK_OK(cli_sketch_inputs(&orig, &sketch, 0, alphas[a].alpha, &init_out, &mask_out, &err), &err);
        CHECK(mask_out.channels == 1 && mask_out.width == W && mask_out.height == H);
        int bad = 0;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int stroke = y >= 26 && y < 38 && x >= 12 && x < 52;
                int i = y * W + x, m = stroke ? alphas[a].value : 0;
                bad += mask_out.data[i] != m;
                /* blur 0: out = round((orig * (255 - m) + sketch * m) / 255) */
                for (int c = 0; c < 3; c++) {
                    int o = orig.data[3 * i + c], s = sketch.data[3 * i + c];
                    int want = (int)((o * (255 - m) + s * m) / 255.0 + 0.5);
                    bad += init_out.data[3 * i + c] != want;
                }
            }
        CHECK_MSG(bad == 0, "alpha %g: %d wrong values", alphas[a].alpha, bad);
        mend_image_free(&init_out);
        mend_image_free(&mask_out);
    }
    /* with a blur the composite spreads around the stroke but the mask stays unblurred */
    CHECK_OK(cli_sketch_inputs(&orig, &sketch, 4, 0, &init_out, &mask_out, &err), &err);
    int mask_grey = 0, changed_near = 0, changed_far = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int i = y * W + x;
            mask_grey += mask_out.data[i] != 0 && mask_out.data[i] != 255;
            int diff = memcmp(init_out.data + 3 * i, orig.data + 3 * i, 3) != 0;
            int near = y >= 22 && y < 42 && x >= 8 && x < 56;
            changed_near += diff && near && (y < 26 || y >= 38);
            changed_far += diff && (y < 12 || y >= 52);
        }
    CHECK(mask_grey == 0);
    CHECK(changed_near > 0);
    CHECK(changed_far == 0);
    mend_image_free(&init_out);
    mend_image_free(&mask_out);
    /* sizes must match */
    mend_image small;
    test_make_square_mask(&small, 32, 32);
    CHECK(cli_sketch_inputs(&orig, &small, 4, 0, &init_out, &mask_out, &err) == MEND_E_ARG &&
          strstr(err.msg, "same size"));
    mend_image_free(&small);
    mend_image_free(&orig);
    mend_image_free(&sketch);
}

TEST(default_name_sequence)
{
    mend_err err = {0};
    const char *root = test_tmp_path("seq");
    char *p = NULL;
    CHECK_OK(cli_default_path(root, "img2img", 77, &p, &err), &err);
    CHECK(p && strstr(p, "/img2img-images/") && strstr(p, "/00000-77.png"));
    /* A1111 takes 1 + the largest leading number, ignoring other names */
    char dir[1024], f[1200];
    snprintf(dir, sizeof dir, "%.*s", (int)(strrchr(p, '/') - p), p);
    const char *names[] = {"00041-3.png", "7.png", "notes.txt", "foo-12.png", "00002-9-x.png"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(f, sizeof f, "%s/%s", dir, names[i]);
        test_write_text(f, "");
    }
    free(p);
    CHECK_OK(cli_default_path(root, "img2img", 5, &p, &err), &err);
    CHECK_MSG(p && strstr(p, "/00042-5.png"), "%s", p ? p : "(null)");
    free(p);
}

int main(void)
{
    RUN(numbered_paths);
    RUN(sketch_mask_and_composite);
    RUN(default_name_sequence);
    return test_summary();
}
