/* Seeded standard-normal generators that reproduce A1111's noise bit for bit.
 *
 *  MEND_RNG_CPU: torch's CPU generator (mt19937) and torch.randn as torch
 *                1.13 computes it on x86-64 with AVX2 (the float32 path for
 *                numel >= 16 uses Cephes-style log/sincos in float32, which
 *                this file reproduces in portable scalar C), and the double
 *                Box-Muller path for numel < 16, including the cached second
 *                normal that torch keeps in the generator between calls.
 *                A1111 setting "RNG source = CPU".
 *  MEND_RNG_NV:  A1111's modules/rng_philox.py (Philox4x32-10, counter
 *                [offset, 0, i, 0], Box-Muller in double rounded to float32):
 *                what NVIDIA GPUs give with the default "RNG source = GPU".
 *
 * Each mend_rng_randn() call behaves like one torch.randn(shape, generator=g)
 * call (resp. one Generator.randn(shape)) of n elements: successive calls
 * continue the same stream exactly as successive A1111 draws do. */
#ifndef MEND_CORE_RNG_H
#define MEND_CORE_RNG_H

#include <stdint.h>

#include "core/err.h"

typedef enum mend_rng_kind {
    MEND_RNG_CPU = 0,
    MEND_RNG_NV = 1,
} mend_rng_kind;

#define MEND_MT_N 624

typedef struct mend_rng {
    mend_rng_kind kind;
    uint64_t seed;
    /* CPU (mt19937 as in ATen) */
    uint32_t mt[MEND_MT_N];
    int mt_left, mt_next;
    int has_cached_normal; /* torch's next_double_normal_sample */
    double cached_normal;
    /* NV (philox) */
    uint32_t philox_offset;
} mend_rng;

/* Seeds a generator. CPU uses the low 32 bits of the seed (as torch does);
 * NV uses all 64 bits as the Philox key. */
void mend_rng_init(mend_rng *rng, mend_rng_kind kind, uint64_t seed);

/* Fills out[0..n) with the next torch.randn-compatible draw of n elements. */
void mend_rng_randn(mend_rng *rng, float *out, int64_t n);

/* Parses "CPU" / "NV" (A1111's randn_source labels; "GPU" maps to NV, which
 * is what NVIDIA cards produce). Unknown names -> MEND_E_ARG. */
mend_status mend_rng_kind_from_name(const char *name, mend_rng_kind *out, mend_err *err);

/* Raw engine access, exposed for tests. */
uint32_t mend_rng_mt_next(mend_rng *rng);

/* A1111's fix_seed for one seed: `seed` itself, or for -1 a random one in
 * 0..4294967293 (random.randrange(4294967294)). */
int64_t mend_rng_fix_seed(int64_t seed);

/* A1111 variation seeds (modules/rng.py slerp) on one image's [C,H,W] noise,
 * in float32 as torch computes it: vector norms along H for every (c, w)
 * column; if the mean cosine exceeds 0.9995 it returns low*v + high*(1-v)
 * as A1111 does. v: the strength as the Python float A1111 has (the
 * decimal the user sent, not its float32). out may alias low. */
mend_status mend_rng_slerp(double v, const float *low, const float *high, float *out, int c, int h, int w,
                           mend_err *err);

#endif
