/* include/mend/bench.h: one model stage timed on synthetic inputs. The
 * inputs are a fixed pseudo-random sequence: the cost of these stages does
 * not depend on the values, only on the shapes. */
#include "mend/bench.h"

#include "core/err.h"
#include "core/threads.h"
#include "model/sd_model.h"

#include <stdlib.h>

static float *fake_buf(int64_t n, uint64_t seed)
{
    float *b = malloc((size_t)(n > 0 ? n : 1) * sizeof *b);
    if (!b)
        return NULL;
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        b[i] = (float)((seed >> 40) / (double)(1 << 24)) * 2.0f - 1.0f;
    }
    return b;
}

/* One stage: its buffers, the call, and its FLOP count. */
typedef struct stage_run {
    mend_sd_model *m;
    int size, lat;
    float *a, *b, *c;
    int32_t ids[2 * 77];
} stage_run;

static mend_status text_encoder(stage_run *r, mend_err *err)
{
    return mend_clip_encode(r->m->clip, r->ids, 2, 77, 1, r->a, err);
}

static mend_status unet_step(stage_run *r, mend_err *err)
{
    float ts[2] = {999.0f, 999.0f};
    return mend_unet_forward(r->m->unet, r->a, 2, r->lat, r->lat, ts, r->b, 77, r->c, err);
}

static mend_status vae_encode(stage_run *r, mend_err *err)
{
    return mend_vae_encode(r->m->vae, r->a, 1, r->size, r->size, r->b, err);
}

static mend_status vae_decode(stage_run *r, mend_err *err)
{
    return mend_vae_decode(r->m->vae, r->b, 1, r->lat, r->lat, r->a, err);
}

/* Allocates the stage's buffers; returns its function and FLOP count. */
static mend_status prepare(stage_run *r, mend_bench_stage st, mend_status (**fn)(stage_run *, mend_err *),
                           double *flop, mend_err *err)
{
    mend_sd_model *m = r->m;
    int lat = r->lat, size = r->size;
    if (st == MEND_BENCH_TEXT_ENCODER && m->clip) {
        const mend_clip_arch *a = mend_clip_get_arch(m->clip);
        for (int i = 0; i < 2 * 77; i++)
            r->ids[i] = i % 77 == 0 ? 49406 : (i % 77 < 20 ? 320 + i % 77 : 49407);
        r->a = malloc((size_t)2 * 77 * a->width * sizeof *r->a);
        double w = a->width, tok = 2.0 * 77;
        *flop = tok * a->layers * (2 * 4 * w * w + 2 * 2 * w * a->mlp + 2 * 2 * 77 * w);
        *fn = text_encoder;
        return r->a ? MEND_OK : mend_fail(err, MEND_E_NOMEM, "bench: out of memory");
    }
    if (st == MEND_BENCH_UNET_STEP && m->unet) {
        const mend_unet_arch *a = mend_unet_get_arch(m->unet);
        r->a = fake_buf((int64_t)2 * a->in_channels * lat * lat, 1);
        r->b = fake_buf((int64_t)2 * 77 * a->context_dim, 2);
        r->c = malloc((size_t)2 * a->out_channels * lat * lat * sizeof *r->c);
        *flop = mend_unet_flops(m->unet, 2, lat, lat, 77);
        *fn = unet_step;
        return r->a && r->b && r->c ? MEND_OK : mend_fail(err, MEND_E_NOMEM, "bench: out of memory");
    }
    if ((st == MEND_BENCH_VAE_ENCODE || st == MEND_BENCH_VAE_DECODE) && m->vae) {
        r->a = fake_buf((int64_t)3 * size * size, 3);
        r->b = fake_buf((int64_t)8 * lat * lat, 4);
        for (int64_t i = 0; r->b && i < 8 * lat * lat; i++)
            r->b[i] *= MEND_VAE_SCALE; /* decode takes scaled latents */
        int enc = st == MEND_BENCH_VAE_ENCODE;
        *flop = enc ? mend_vae_encode_flops(m->vae, 1, size, size) : mend_vae_decode_flops(m->vae, 1, lat, lat);
        *fn = enc ? vae_encode : vae_decode;
        return r->a && r->b ? MEND_OK : mend_fail(err, MEND_E_NOMEM, "bench: out of memory");
    }
    return mend_fail(err, MEND_E_ARG, "bench: the model has no part for stage %d (or the stage is unknown)", (int)st);
}

mend_status mend_bench_run(mend_sd_model *m, mend_bench_stage stage, int size, int reps, mend_bench_result *out,
                           mend_err *err)
{
    if (size < 8 || size % 8 || reps < 1)
        return mend_fail(err, MEND_E_ARG, "bench: size %d must be a positive multiple of 8 and reps %d >= 1", size,
                         reps);
    stage_run r = {.m = m, .size = size, .lat = size / 8};
    mend_status (*fn)(stage_run *, mend_err *) = NULL;
    double flop = 0, best = 1e30;
    mend_status s = prepare(&r, stage, &fn, &flop, err);
    for (int i = 0; s == MEND_OK && i < reps; i++) {
        double t0 = mend_clock_s();
        s = fn(&r, err);
        double t = mend_clock_s() - t0;
        best = t < best ? t : best;
    }
    free(r.a), free(r.b), free(r.c);
    out->seconds = best;
    out->gflop = flop / 1e9;
    return s;
}

typedef struct per_thread {
    void (*fn)(void *ctx, int thread);
    void *ctx;
} per_thread;

static void run_one(void *ctx, int64_t b, int64_t e, int thread)
{
    const per_thread *p = ctx;
    for (int64_t i = b; i < e; i++)
        p->fn(p->ctx, thread);
}

void mend_bench_on_threads(void (*fn)(void *ctx, int thread), void *ctx)
{
    per_thread p = {fn, ctx};
    int n = mend_get_threads();
    mend_parallel_for_max(n, n, run_one, &p);
}
