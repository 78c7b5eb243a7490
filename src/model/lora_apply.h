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

/* An fp32 copy of w's weights (rows*cols, mend_big_alloc; free with
 * mend_big_free). MEND_E_ARG when w no longer holds its source weights
 * (only a prepared copy or a bf16-rounded one is left). */
mend_status mend_lora_layer_f32(const mend_wmat *w, float **out, mend_err *err);

/* Puts `merged` (taken over) in place of w's weights for the run: fp32, no
 * prepared copy, so the kernels prepare it afresh. */
void mend_lora_layer_swap(mend_wmat *w, float *merged, mend_lora_saved *s);

/* Frees the merged weights and puts the original matrix back as it was. */
void mend_lora_layer_restore(mend_lora_saved *s);

#endif
