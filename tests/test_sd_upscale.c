/* A1111's "SD upscale" img2img script (src/inpaint/sd_upscale.c, sd_grid.c):
 * images.split_grid's tile positions, combine_grid's overlap ramp as
 * Pillow's masked paste rounds it, a split and combine that gives the image
 * back unchanged; then the script on tiny-sd1 from ../shared (skipped
 * without it): size, infotext, seeds and the bad inputs. */
#include "pipeline_fixture.h"

#include "inpaint/sd_grid.h"
#include "mend/scripts.h"

#include <stdlib.h>
#include <string.h>

TEST(split_grid_places_tiles_as_a1111)
{
    mend_image img = make_image(200, 136);
    mend_grid g;
    mend_err err = {0};
    CHECK_OK(mend_grid_split(&img, 64, 64, 16, &g, &err), &err);
    /* cols = ceil((200 - 16) / 48) = 4, dx = 136 / 3: x = 0, 45, 90, 136; rows = ceil(120 / 48) = 3, y = 0, 36, 72 */
    const int xs[] = {0, 45, 90, 136}, ys[] = {0, 36, 72};
    CHECK_MSG(g.cols == 4 && g.rows == 3, "%d x %d tiles", g.cols, g.rows);
    for (int r = 0; r < g.rows && r < 3; r++)
        for (int c = 0; c < g.cols && c < 4; c++)
            CHECK_MSG(g.tiles[r * g.cols + c].x == xs[c] && g.tiles[r * g.cols + c].y == ys[r], "tile %d,%d at %d,%d", r,
                      c, g.tiles[r * g.cols + c].x, g.tiles[r * g.cols + c].y);
    /* tiles of the image itself combine back into the image, the blend of equal pixels being exact */
    mend_image back;
    CHECK_OK(mend_grid_combine(&g, &back, &err), &err);
    CHECK(same_image(&back, &img));
    mend_image_free(&back);
    mend_grid_free(&g);
    mend_image_free(&img);
    CHECK(mend_grid_split(&img, 64, 64, 64, &g, &err) == MEND_E_ARG && strstr(err.msg, "overlap"));
}

/* Two tiles in a row, black then white: across the overlap, Pillow's paste through the ramp mask
 * int(i * 255 / overlap) gives DIV255(255 * m + 128) = m. */
TEST(combine_grid_ramps_the_overlap)
{
    mend_image img;
    mend_err err = {0};
    CHECK_OK(mend_image_alloc(&img, 112, 64, 3, &err), &err);
    mend_grid g;
    CHECK_OK(mend_grid_split(&img, 64, 64, 16, &g, &err), &err);
    CHECK(g.cols == 2 && g.rows == 1 && g.tiles[1].x == 48);
    memset(g.tiles[0].img.data, 0, mend_image_size(&g.tiles[0].img));
    memset(g.tiles[1].img.data, 255, mend_image_size(&g.tiles[1].img));
    mend_image out;
    CHECK_OK(mend_grid_combine(&g, &out, &err), &err);
    for (int i = 0; i < 16; i++) {
        int want = (int)((float)i * 255.0f / 16.0f), got = out.data[(10 * 112 + 48 + i) * 3];
        CHECK_MSG(got == want, "overlap pixel %d: %d, want %d", i, got, want);
    }
    CHECK(out.data[(10 * 112 + 47) * 3] == 0 && out.data[(10 * 112 + 64) * 3] == 255);
    mend_image_free(&out);
    mend_grid_free(&g);
    mend_image_free(&img);
}

TEST(sd_upscale_runs)
{
    REQUIRE_MODEL(m, sd_model);
    mend_image init = make_image(64, 64), mask = make_mask(64, 64, 8, 8, 40, 40);
    mend_gen_params p = base_params(); /* 64x64 tiles */
    p.steps = 2;
    p.batch_size = 2; /* 9 tiles: 5 batches */
    p.n_iter = 2;
    mend_sd_upscale o = {8, "Lanczos", 2.0};
    mend_gen_inputs in = {.init_image = &init};
    mend_gen_output out;
    mend_err err = {0};
    CHECK_OK(mend_generate_sd_upscale(m, &p, &in, &o, NULL, NULL, NULL, &out, &err), &err);
    CHECK_MSG(out.count == 2 && out.images[0].width == 128 && out.images[0].height == 128, "%d images", out.count);
    CHECK_MSG(out.count && strstr(out.infotexts[0], "SD upscale overlap: 8, SD upscale upscaler: Lanczos") &&
                  strstr(out.infotexts[0], "Size: 64x64") && strstr(out.infotexts[0], "Denoising strength: 0.75"),
              "%s", out.count ? out.infotexts[0] : "");
    CHECK(out.count == 2 && out.seeds[0] == p.seed && out.seeds[1] == p.seed + 1);
    CHECK(out.count == 2 && !same_image(&out.images[0], &out.images[1])); /* another seed per round */
    mend_gen_output_free(&out);
    /* "None" keeps the size */
    o.upscaler = "None";
    p.n_iter = 1;
    CHECK_OK(mend_generate_sd_upscale(m, &p, &in, &o, NULL, NULL, NULL, &out, &err), &err);
    CHECK(out.count == 1 && out.images[0].width == 64);
    mend_gen_output_free(&out);
    o.upscaler = "ESRGAN_4x";
    CHECK(mend_generate_sd_upscale(m, &p, &in, &o, NULL, NULL, NULL, &out, &err) == MEND_E_ARG &&
          strstr(err.msg, "ESRGAN_4x"));
    o.upscaler = "Lanczos";
    in.mask = &mask;
    CHECK(mend_generate_sd_upscale(m, &p, &in, &o, NULL, NULL, NULL, &out, &err) == MEND_E_ARG &&
          strstr(err.msg, "mask"));
    mend_image_free(&init), mend_image_free(&mask);
}

int main(void)
{
    RUN(split_grid_places_tiles_as_a1111);
    RUN(combine_grid_ramps_the_overlap);
    RUN(sd_upscale_runs);
    pipeline_models_free();
    return test_summary();
}
