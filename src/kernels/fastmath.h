/* exp for softmax and sigmoid, written so GCC vectorises the loops that call
 * it (glibc's expf does not vectorise without -ffast-math). Max relative
 * error about 2e-7 over the range used; inputs below -87 flush to 0. */
#ifndef MEND_KERNELS_FASTMATH_H
#define MEND_KERNELS_FASTMATH_H

#include <stdint.h>
#include <string.h>

static inline float mend_expf(float x)
{
    if (x < -87.0f)
        x = -87.0f;
    if (x > 88.0f)
        x = 88.0f;
    /* round to nearest with the 1.5*2^23 trick: vectorises, unlike roundf */
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693145751953125f;
    r = r - n * 1.42860682030941723e-6f;
    /* exp(r) on |r| <= ln2/2: degree-6 Taylor/minimax */
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t e = ((int32_t)n + 127) << 23;
    float s;
    memcpy(&s, &e, sizeof s);
    return p * s;
}

/* erf with |error| < 1.5e-7 (Abramowitz & Stegun 7.1.26), vectorisable;
 * used by GELU/GEGLU where libm's erff is the bottleneck. */
static inline float mend_erff(float x)
{
    float a = x < 0 ? -x : x;
    float t = 1.0f / (1.0f + 0.3275911f * a);
    float p = 1.061405429f;
    p = p * t - 1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t - 0.284496736f;
    p = p * t + 0.254829592f;
    float r = 1.0f - p * t * mend_expf(-a * a);
    return x < 0 ? -r : r;
}

#endif
