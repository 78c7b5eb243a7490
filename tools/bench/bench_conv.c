/* mend-bench-conv: oneDNN's own 3x3 convolution (320 -> 320 channels,
 * 64x64, batch 2) as the machine's ceiling, then mend's UNet step on a
 * checkpoint in fp32 and bf16: GFLOP/s and the ratio to the ceiling of the
 * same precision, and how far bf16 lands from fp32 after one UNet call and
 * after an N-step Euler run.
 *   mend-bench-conv [--reps N] [--lat L] [--steps N] [--threads N] [--only fp32|bf16] [MODEL] */
#include "kernels/kernels.h"
#include "model/sd_model.h"

#include <dnnl.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double now(void) { return mend_clock_s(); }

/* GFLOP/s of oneDNN's best 3x3 conv for data type dt, best of reps. */
static double dnnl_ceiling(dnnl_data_type_t dt, int reps, const char **impl)
{
    dnnl_engine_t eng;
    dnnl_stream_t st;
    if (dnnl_engine_create(&eng, dnnl_cpu, 0) || dnnl_stream_create(&st, eng, dnnl_stream_default_flags))
        return 0;
    dnnl_dims_t sd = {2, 320, 64, 64}, wd = {320, 320, 3, 3}, bd = {320}, s1 = {1, 1}, p1 = {1, 1};
    dnnl_memory_desc_t smd, wmd, bmd, dmd;
    dnnl_memory_desc_init_by_tag(&smd, 4, sd, dt, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&wmd, 4, wd, dt, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_x);
    dnnl_memory_desc_init_by_tag(&dmd, 4, sd, dnnl_f32, dnnl_format_tag_any);
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t p;
    if (dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &smd, &wmd, &bmd,
                                           &dmd, s1, p1, p1) ||
        dnnl_primitive_desc_create(&pd, &cd, NULL, eng, NULL) || dnnl_primitive_create(&p, pd))
        return 0;
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, impl);
    dnnl_memory_t m[4];
    dnnl_query_t q[4] = {dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_weights_md, dnnl_query_dst_md};
    for (int i = 0; i < 4; i++)
        dnnl_memory_create(&m[i], i == 2 ? &bmd : dnnl_primitive_desc_query_md(pd, q[i], 0), eng,
                           DNNL_MEMORY_ALLOCATE);
    dnnl_exec_arg_t a[4] = {{DNNL_ARG_SRC, m[0]}, {DNNL_ARG_WEIGHTS, m[1]}, {DNNL_ARG_BIAS, m[2]}, {DNNL_ARG_DST, m[3]}};
    double best = 1e30;
    for (int r = 0; r <= reps; r++) {
        double t0 = now();
        dnnl_primitive_execute(p, st, 4, a);
        dnnl_stream_wait(st);
        if (r > 0 && now() - t0 < best) /* first run warms up */
            best = now() - t0;
    }
    for (int i = 0; i < 4; i++)
        dnnl_memory_destroy(m[i]);
    dnnl_primitive_destroy(p);
    dnnl_primitive_desc_destroy(pd);
    dnnl_stream_destroy(st);
    dnnl_engine_destroy(eng);
    return 2.0 * 2 * 320 * 320 * 9 * 64 * 64 / best / 1e9;
}

static double rel_diff(const float *a, const float *b, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num += (double)(a[i] - b[i]) * (a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return sqrt(num / (den > 0 ? den : 1));
}

typedef struct run {
    double ms, gflops;
    float *first, *final;
} run;

/* Times one UNet call (best of reps) and runs an Euler-like loop of `steps`
 * calls from the same start, in the model's current precision. */
static int unet_run(mend_sd_model *m, int lat, int reps, int steps, run *r)
{
    const int B = 2, T = 77, C = mend_unet_get_arch(m->unet)->in_channels;
    int64_t nx = (int64_t)B * C * lat * lat, no = (int64_t)B * 4 * lat * lat, nc = (int64_t)B * T * 768;
    float *x = malloc((size_t)nx * 4), *ctx = malloc((size_t)nc * 4);
    r->first = malloc((size_t)no * 4);
    r->final = malloc((size_t)no * 4);
    if (!x || !ctx || !r->first || !r->final)
        return 0;
    unsigned s = 1;
    for (int64_t i = 0; i < nx; i++)
        x[i] = (float)((s = s * 1103515245u + 12345u) >> 8) / 16777216.0f * 2 - 1;
    for (int64_t i = 0; i < nc; i++)
        ctx[i] = (float)((s = s * 1103515245u + 12345u) >> 8) / 16777216.0f - 0.5f;
    float ts[2] = {500, 500};
    mend_err err = {0};
    double best = 1e30;
    for (int i = 0; i < reps; i++) {
        double t0 = now();
        if (mend_unet_forward(m->unet, x, B, lat, lat, ts, ctx, T, r->first, &err) != MEND_OK) {
            fprintf(stderr, "unet: %s\n", err.msg);
            return 0;
        }
        best = fmin(best, now() - t0);
    }
    r->ms = best * 1e3;
    r->gflops = mend_unet_flops(m->unet, B, lat, lat, T) / best / 1e9;
    /* x <- x - 0.05 * eps on the 4 latent channels, `steps` times */
    for (int k = 0; k < steps; k++) {
        ts[0] = ts[1] = 999.0f * (float)(steps - k) / (float)steps;
        mend_unet_forward(m->unet, x, B, lat, lat, ts, ctx, T, r->final, &err);
        for (int b = 0; b < B; b++)
            for (int64_t i = 0; i < 4 * (int64_t)lat * lat; i++)
                x[(int64_t)b * C * lat * lat + i] -= 0.05f * r->final[(int64_t)b * 4 * lat * lat + i];
    }
    free(x);
    free(ctx);
    return 1;
}

int main(int argc, char **argv)
{
    int reps = 2, lat = 64, steps = 0;
    const char *model = NULL, *only = "";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--lat") && i + 1 < argc)
            lat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
            steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            mend_set_threads(atoi(argv[++i]));
        else
            model = argv[i];
    }
    omp_set_num_threads(mend_get_threads());
    const char *impl32 = "?", *impl16 = "?", *missing = NULL;
    int has_bf16 = mend_cpu_has_bf16(&missing);
    double c32 = dnnl_ceiling(dnnl_f32, reps + 2, &impl32);
    double c16 = has_bf16 ? dnnl_ceiling(dnnl_bf16, reps + 2, &impl16) : 0;
    printf("threads %d\n", mend_get_threads());
    printf("oneDNN 3x3 conv 320->320 64x64 b2  fp32 %.1f GFLOP/s (%s)\n", c32, impl32);
    if (has_bf16)
        printf("oneDNN 3x3 conv 320->320 64x64 b2  bf16 %.1f GFLOP/s (%s)\n", c16, impl16);
    else
        printf("bf16: not available (%s missing)\n", missing);
    if (!model)
        return 0;
    mend_err err = {0};
    mend_sd_model *m = NULL;
    if (mend_sd_load(model, NULL, MEND_COMP_UNET, &m, &err) != MEND_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    run r32 = {0}, r16 = {0};
    int ok = 1;
    if (strcmp(only, "bf16") != 0) {
        mend_sd_set_precision(m, MEND_SD_PREC_FP32, NULL, &err);
        ok = unet_run(m, lat, reps, steps, &r32);
        printf("UNet step (B=2, %dx%d latent)  fp32 %8.0f ms %6.1f GFLOP/s  %.2fx the fp32 conv\n", lat, lat,
               r32.ms, r32.gflops, r32.gflops / c32);
    }
    if (ok && has_bf16 && strcmp(only, "fp32") != 0 && mend_sd_set_precision(m, MEND_SD_PREC_BF16, NULL, &err) == MEND_OK &&
        unet_run(m, lat, reps, steps, &r16)) {
        int64_t no = 2 * 4 * (int64_t)lat * lat;
        printf("UNet step (B=2, %dx%d latent)  bf16 %8.0f ms %6.1f GFLOP/s  %.2fx the bf16 conv, %.2fx fp32 step\n",
               lat, lat, r16.ms, r16.gflops, r16.gflops / c16, r32.ms / r16.ms);
        if (r32.first) {
            printf("bf16 vs fp32 relative L2 difference: one UNet call %.3g", rel_diff(r16.first, r32.first, no));
            if (steps > 0)
                printf(", after %d steps %.3g", steps, rel_diff(r16.final, r32.final, no));
            printf("\n");
        }
    }
    free(r32.first), free(r32.final), free(r16.first), free(r16.final);
    mend_sd_free(m);
    return 0;
}
