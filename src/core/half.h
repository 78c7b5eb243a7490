/* IEEE half and bfloat16 <-> float conversion (exact, incl. subnormals,
 * inf and NaN), used when loading fp16/bf16 checkpoints. */
#ifndef MEND_CORE_HALF_H
#define MEND_CORE_HALF_H

#include <stddef.h>
#include <stdint.h>

float mend_f16_to_f32(uint16_t h);
uint16_t mend_f32_to_f16(float f); /* round to nearest even */
float mend_bf16_to_f32(uint16_t h);
uint16_t mend_f32_to_bf16(float f); /* round to nearest even */

void mend_f16_to_f32_n(const uint16_t *src, float *dst, size_t n);
void mend_bf16_to_f32_n(const uint16_t *src, float *dst, size_t n);

#endif
