/* mend-bench: speed of each SD component on this machine.
 *
 *   mend-bench [--threads N] [--size 512] [--reps R] [--only unet|vae|clip]
 *              [--inpaint --vocab PATH [--lora NAME --lora-dir DIR]] MODEL
 *
 * First measures the machine's FMA peak with a register-only kernel on every
 * thread, then times the text encoder (batch 2 x 77 tokens), one UNet step
 * with CFG (batch 2, latent size/8), VAE encode and VAE decode at size x size,
 * and prints ms, GFLOP/s, % of the measured peak and the process's peak RSS.
 * MODEL is normally the full-size random checkpoint from
 * `mend-dev make-model --arch sd1 --size full --dtype f16 OUT`. Stands on
 * the public headers only: the stages run through mend_bench_run. */
#include "bench.h"
#include "mend/bench.h"
#include "mend/model.h"

#include <immintrin.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

double bench_now(void)
{
    return mend_clock_s();
}

static double peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

#define FMA_ITERS 4000000

/* 12 independent FMA chains per thread keep both FMA ports busy. The
 * AVX-512 or AVX2 loop is chosen at run time, so a build without
 * -march=native (MEND_NATIVE=OFF) measures the same peak. */
__attribute__((target("avx512f"))) static float fma_loop_512(void)
{
    __m512 acc[12], m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++)
        acc[i] = _mm512_set1_ps((float)i);
    for (int64_t it = 0; it < FMA_ITERS; it++)
        for (int i = 0; i < 12; i++)
            acc[i] = _mm512_fmadd_ps(acc[i], m, a);
    __m512 s = acc[0];
    for (int i = 1; i < 12; i++)
        s = _mm512_add_ps(s, acc[i]);
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float fma_loop_256(void)
{
    __m256 acc[12], m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++)
        acc[i] = _mm256_set1_ps((float)i);
    for (int64_t it = 0; it < FMA_ITERS; it++)
        for (int i = 0; i < 12; i++)
            acc[i] = _mm256_fmadd_ps(acc[i], m, a);
    float tmp[8];
    _mm256_storeu_ps(tmp, acc[0]);
    return tmp[0];
}

static int have_avx512(void) { return __builtin_cpu_supports("avx512f"); }

static void fma_loop(void *ctx, int thread)
{
    float *sink = ctx;
    sink[thread] = have_avx512() ? fma_loop_512() : fma_loop_256();
}

static double measure_peak_gflops(void)
{
    int threads = mend_get_threads();
    float sink[256] = {0};
    int width = have_avx512() ? 16 : 8;
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        int64_t units = (int64_t)threads * FMA_ITERS;
        double t0 = bench_now();
        mend_bench_on_threads(fma_loop, sink);
        double t = bench_now() - t0;
        double flops = (double)units * 12 * width * 2;
        if (flops / t > best)
            best = flops / t;
    }
    return best / 1e9;
}

typedef struct row {
    const char *what;
    double ms, gflop;
} row;

/* Rows are kept and printed at the end, against the higher of the peaks
 * measured before and after the run: this VM's FMA throughput drifts, and a
 * low first reading would overstate the percentages. */
static struct {
    char what[64];
    double ms, gflop;
} g_rows[8];
static int g_nrows;

static void print_row(const row *r, double peak)
{
    (void)peak;
    if (g_nrows < 8) {
        snprintf(g_rows[g_nrows].what, sizeof g_rows[0].what, "%s", r->what);
        g_rows[g_nrows].ms = r->ms;
        g_rows[g_nrows++].gflop = r->gflop;
    }
}

static void print_table(double peak)
{
    printf("| %-28s | %10s | %8s | %8s | %7s |\n", "stage", "ms", "GFLOP", "GFLOP/s", "% peak");
    printf("|------------------------------|------------|----------|----------|---------|\n");
    for (int i = 0; i < g_nrows; i++) {
        const row rr = {g_rows[i].what, g_rows[i].ms, g_rows[i].gflop}, *r = &rr;
        double gfs = r->gflop / (r->ms / 1000.0);
        printf("| %-28s | %10.1f | %8.1f | %8.1f | %5.1f %% |\n", r->what, r->ms, r->gflop, gfs, 100.0 * gfs / peak);
    }
}

/* Times one stage and keeps its row; 1 when it failed. */
static int stage(mend_sd_model *m, mend_bench_stage st, const char *what, int size, int reps, double peak,
                 mend_err *err)
{
    mend_bench_result r;
    if (mend_bench_run(m, st, size, reps, &r, err) != MEND_OK)
        return 1;
    row rw = {what, r.seconds * 1e3, r.gflop};
    print_row(&rw, peak);
    return 0;
}

int main(int argc, char **argv)
{
    /* Keep freed activation buffers in the heap instead of returning them to
     * the kernel after every layer: the next layer reuses the same pages
     * instead of faulting in fresh zeroed ones. Peak memory is unchanged. */
    mallopt(M_MMAP_THRESHOLD, 512 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    int threads = 0, size = 512, reps = 1;
    const char *only = NULL, *model = NULL, *vocab = NULL, *lora = NULL;
    int inpaint = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--size") && i + 1 < argc)
            size = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--vocab") && i + 1 < argc)
            vocab = argv[++i];
        else if (!strcmp(argv[i], "--inpaint"))
            inpaint = 1;
        else if (!strcmp(argv[i], "--lora") && i + 1 < argc)
            lora = argv[++i]; /* e.g. from `mend-dev make-lora --model MODEL DIR/lcm.safetensors` */
        else if (!strcmp(argv[i], "--lora-dir") && i + 1 < argc)
            mend_set_lora_dir(argv[++i]);
        else if (argv[i][0] != '-')
            model = argv[i];
        else {
            fprintf(stderr, "usage: mend-bench [--threads N] [--size PX] [--reps R] [--only unet|vae|clip] "
                            "[--inpaint --vocab PATH [--lora NAME --lora-dir DIR]] MODEL\n");
            return 2;
        }
    }
    if (size < 64 || size % 64 || reps < 1) {
        fprintf(stderr, "mend-bench: --size must be a multiple of 64 and --reps >= 1\n");
        return 2;
    }
    mend_set_threads(threads);
    double peak = measure_peak_gflops();
    printf("threads: %d, measured FMA peak: %.1f GFLOP/s\n", mend_get_threads(), peak);
    if (!model)
        return 0;

    mend_err err = {0};
    mend_sd_model *m = NULL;
    unsigned parts = 0;
    if (!only || !strcmp(only, "clip"))
        parts |= MEND_PART_TEXT_ENCODER;
    if (!only || !strcmp(only, "unet"))
        parts |= MEND_PART_UNET;
    if (!only || !strcmp(only, "vae"))
        parts |= MEND_PART_VAE;
    if (inpaint)
        parts = MEND_PART_ALL;
    double t0 = bench_now();
    if (!parts || mend_model_load_parts(model, vocab, parts, &m, &err) != MEND_OK) {
        fprintf(stderr, "mend-bench: %s\n", err.msg);
        return 1;
    }
    printf("model loaded in %.1f s, peak RSS %.0f MiB\n\n", bench_now() - t0, peak_rss_mib());

    int lat = size / 8, status = 0;
    if (inpaint) {
        status = bench_inpaint(m, lora);
        printf("\npeak RSS: %.0f MiB\n", peak_rss_mib());
        mend_model_free(m);
        return status;
    }
    mend_model_info info;
    mend_model_get_info(m, &info);
    char what[64];
    if (info.text_encoder.loaded)
        status |= stage(m, MEND_BENCH_TEXT_ENCODER, "text encoder (2 x 77 tokens)", size, reps, peak, &err);
    snprintf(what, sizeof what, "UNet step (2 x %dx%d latent)", lat, lat);
    if (info.unet.loaded)
        status |= stage(m, MEND_BENCH_UNET_STEP, what, size, reps, peak, &err);
    snprintf(what, sizeof what, "VAE encode (%dx%d)", size, size);
    if (info.vae.loaded && info.vae_arch.has_encoder)
        status |= stage(m, MEND_BENCH_VAE_ENCODE, what, size, reps, peak, &err);
    snprintf(what, sizeof what, "VAE decode (%dx%d)", size, size);
    if (info.vae.loaded && info.vae_arch.has_decoder)
        status |= stage(m, MEND_BENCH_VAE_DECODE, what, size, reps, peak, &err);
    double peak_after = measure_peak_gflops();
    double best_peak = peak_after > peak ? peak_after : peak;
    printf("FMA peak measured again after the run: %.1f GFLOP/s; percentages use the higher, %.1f\n\n",
           peak_after, best_peak);
    print_table(best_peak);
    if (status)
        fprintf(stderr, "mend-bench: a stage failed: %s\n", err.msg);
    printf("\npeak RSS: %.0f MiB\n", peak_rss_mib());
    mend_model_free(m);
    return status;
}
