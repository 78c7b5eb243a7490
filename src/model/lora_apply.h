/* Changing one layer's weights for a run and restoring them exactly (as
 * A1111's per-layer backups do). The merged layer is held in fp32 (A1111
 * runs fp32, W + delta); the original matrix, with its file-precision data
 * and any prepared (reordered) copies, is set aside untouched and put back
 * by restore, so the same inputs give bitwise the same outputs afterwards. */
#ifndef MEND_MODEL_LORA_APPLY_H
#define MEND_MODEL_LORA_APPLY_H

#include "core/err.h"
#include "kernels/kernels.h"

typedef struct mend_lora_saved {
    mend_wmat *w;    /* the live matrix (NULL: nothing swapped) */
    mend_wmat orig;  /* its original contents */
} mend_lora_saved;

/* An fp32 copy of w's weights as the kernels use them (rows*cols,
 * mend_big_alloc; free with mend_big_free): the source, or in bf16 mode its
 * bf16 rounding (also read back from a prepared copy when the source was
 * released by an earlier bf16 run). */
mend_status mend_lora_layer_f32(const mend_wmat *w, float **out, mend_err *err);

/* w[0..n) += mult * d as A1111 merges one module (d is changed): with a
 * LoHa/LoKr file of dtype `how` (1 fp16, 2 bf16; mend_lora_module_merge_dtype)
 * the weight, the scaled delta and the sum are rounded to that dtype. */
void mend_lora_merge(float *w, float *d, int64_t n, float mult, int how);

/* Puts `merged` (taken over) in place of w's weights for the run: fp32, no
 * prepared copy, so the kernels prepare it afresh. */
void mend_lora_layer_swap(mend_wmat *w, float *merged, mend_lora_saved *s);

/* Frees the merged weights and puts the original matrix back as it was. */
void mend_lora_layer_restore(mend_lora_saved *s);

#endif
