#include "core/half.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

float mend_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0) {
        if (man == 0)
            return mend_bits_f32(sign);
        /* subnormal: man * 2^-24 */
        float v = (float)man * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    if (exp == 31)
        return mend_bits_f32(sign | 0x7f800000u | (man << 13));
    return mend_bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t mend_f32_to_f16(float f)
{
    uint32_t u = mend_f32_bits(f);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t absu = u & 0x7fffffffu;
    if (absu >= 0x7f800000u) /* inf or nan */
        return (uint16_t)(sign | 0x7c00u | (absu > 0x7f800000u ? 0x200u : 0));
    if (absu >= 0x477ff000u) /* rounds to >= 65520: overflow */
        return (uint16_t)(sign | 0x7c00u);
    if (absu < 0x38800000u) { /* below the smallest normal half: subnormal */
        float a = mend_bits_f32(absu) * 16777216.0f; /* in units of 2^-24 */
        uint32_t m = (uint32_t)a;
        float rem = a - (float)m;
        if (rem > 0.5f || (rem == 0.5f && (m & 1u)))
            m++;
        return (uint16_t)(sign | m);
    }
    uint32_t exp = (absu >> 23) - 112;
    uint32_t man = absu & 0x7fffffu;
    uint32_t h = (exp << 10) | (man >> 13);
    uint32_t rest = man & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
        h++; /* may carry into the exponent, which is correct */
    return (uint16_t)(sign | h);
}

float mend_bf16_to_f32(uint16_t h)
{
    return mend_bits_f32((uint32_t)h << 16);
}

uint16_t mend_f32_to_bf16(float f)
{
    uint32_t u = mend_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40u); /* quiet nan */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

#if defined(__x86_64__) && defined(__GNUC__)
/* The hardware conversion (exact, like the scalar path), chosen at run time
 * so a build without -march=native still uses it: f16 weights are widened
 * on every fp32 UNet call. */
__attribute__((target("avx,f16c"))) static size_t f16c_run(const uint16_t *src, float *dst, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    return i;
}

/* every CPU with AVX2 has F16C; AVX2 is what GCC can ask (a cached flag) */
static int have_f16c(void) { return __builtin_cpu_supports("avx2"); }
#endif

void mend_f16_to_f32_n(const uint16_t *src, float *dst, size_t n)
{
    size_t i = 0;
#if defined(__x86_64__) && defined(__GNUC__)
    if (have_f16c())
        i = f16c_run(src, dst, n);
#endif
    for (; i < n; i++)
        dst[i] = mend_f16_to_f32(src[i]);
}

void mend_bf16_to_f32_n(const uint16_t *src, float *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = mend_bf16_to_f32(src[i]);
}
