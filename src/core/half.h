/* IEEE half and bfloat16 <-> float conversion (exact, incl. subnormals,
 * inf and NaN), used when loading fp16/bf16 checkpoints. */
#ifndef MEND_CORE_HALF_H
#define MEND_CORE_HALF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A float's IEEE bits and back (memcpy: no aliasing trouble). */
static inline uint32_t mend_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float mend_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float mend_f16_to_f32(uint16_t h);
uint16_t mend_f32_to_f16(float f); /* round to nearest even */
float mend_bf16_to_f32(uint16_t h);
uint16_t mend_f32_to_bf16(float f); /* round to nearest even */

void mend_f16_to_f32_n(const uint16_t *src, float *dst, size_t n);
void mend_bf16_to_f32_n(const uint16_t *src, float *dst, size_t n);

#endif
