/* Layer swap for LoRA runs: see lora_apply.h. */
#include "model/lora_apply.h"

#include <string.h>

#include "core/half.h"

mend_status mend_lora_layer_f32(const mend_wmat *w, float **out, mend_err *err) {
    int64_t n = w->rows * w->cols;
    *out = NULL;
    if (!w->data || w->inexact)
        return mend_fail(err, MEND_E_ARG, "LoRA: the layer's source weights were released (bf16 run); reload the model");
    float *f = mend_big_alloc((size_t)n * sizeof(float));
    if (!f) return mend_fail(err, MEND_E_NOMEM, "LoRA: out of memory for a merged layer");
    if (w->type == MEND_W_F32) memcpy(f, w->data, (size_t)n * sizeof(float));
    else if (w->type == MEND_W_F16) mend_f16_to_f32_n(w->data, f, (size_t)n);
    else mend_bf16_to_f32_n(w->data, f, (size_t)n);
    *out = f;
    return MEND_OK;
}

void mend_lora_layer_swap(mend_wmat *w, float *merged, mend_lora_saved *s) {
    s->w = w;
    s->orig = *w;
    w->type = MEND_W_F32;
    w->data = merged;
    w->prep = NULL;
    w->borrowed = 0;
    w->inexact = 0;
}

void mend_lora_layer_restore(mend_lora_saved *s) {
    if (!s->w) return;
    mend_wmat_free(s->w); /* the merged data and whatever was prepared from it */
    *s->w = s->orig;
    s->w = NULL;
}
