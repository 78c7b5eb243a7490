/* Whole inpaint jobs for mend-bench --inpaint: a 512x512 inpaint
 * (20 steps, strength 0.75, DPM++ 2M Karras, whole picture) split by stage,
 * and "only masked" on a 2048x2048 photo with a small mask, whose cost must
 * follow the 512x512 target, not the photo. */
#include "bench.h"
#include "mend/image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A smooth synthetic photo and an ellipse mask centred at (cx, cy). */
static int make_inputs(int size, int cx, int cy, int rx, int ry, mend_image *img, mend_image *mask)
{
    mend_err err = {0};
    if (mend_image_alloc(img, size, size, 3, &err) || mend_image_alloc(mask, size, size, 1, &err))
        return 0;
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            uint8_t *p = img->data + ((size_t)y * size + x) * 3;
            p[0] = (uint8_t)(x * 255 / size);
            p[1] = (uint8_t)(y * 255 / size);
            p[2] = (uint8_t)(((x / 16 + y / 16) & 1) ? 200 : 60);
            double dx = (double)(x - cx) / rx, dy = (double)(y - cy) / ry;
            mask->data[(size_t)y * size + x] = dx * dx + dy * dy <= 1.0 ? 255 : 0;
        }
    return 1;
}

static void print_job(const char *what, const mend_gen_output *o, double total)
{
    const mend_gen_timings *t = &o->timings;
    printf("| %-44s | %8.2f | %8.2f | %8.2f | %8.2f | %8.2f | %8.2f |\n", what, t->conditioning, t->prepare, t->sampling,
           t->decode, t->composite, total);
}

int bench_inpaint(mend_sd_model *m)
{
    printf("\n| %-44s | %8s | %8s | %8s | %8s | %8s | %8s |\n", "inpaint job (s)", "cond", "prepare", "sampling",
           "decode", "overlay", "total");
    printf("|----------------------------------------------|----------|----------|----------|----------|----------|----------|\n");
    int status = 0;
    struct {
        const char *what;
        int size, full_res;
    } jobs[] = {
        {"512x512, 20 steps x 0.75, whole picture", 512, 0},
        {"2048x2048 photo, only masked -> 512x512", 2048, 1},
    };
    for (size_t k = 0; k < sizeof jobs / sizeof *jobs; k++) {
        mend_image img = {0}, mask = {0};
        int size = jobs[k].size;
        if (!make_inputs(size, size / 3, size / 2, size / 16, size / 12, &img, &mask)) {
            fprintf(stderr, "mend-bench: out of memory\n");
            return 1;
        }
        mend_gen_params p;
        mend_gen_params_default(&p);
        p.prompt = "a red knitted hat, photo";
        p.negative_prompt = "blurry, lowres";
        p.seed = 1234;
        p.inpaint_full_res = jobs[k].full_res;
        mend_gen_inputs in = {.init_image = &img, .mask = &mask};
        mend_gen_output o;
        mend_err err = {0};
        double t0 = bench_now();
        if (mend_generate(m, &p, &in, NULL, NULL, &o, &err) != MEND_OK) {
            fprintf(stderr, "mend-bench: %s\n", err.msg);
            status = 1;
        } else {
            print_job(jobs[k].what, &o, bench_now() - t0);
            mend_gen_output_free(&o);
        }
        mend_image_free(&img);
        mend_image_free(&mask);
    }
    return status;
}
