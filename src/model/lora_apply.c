/* Layer swap for LoRA runs: see lora_apply.h. */
#include "model/lora_apply.h"

#include <string.h>

#include "core/half.h"
#include "model/lora.h"

mend_status mend_lora_layer_f32(const mend_wmat *w, float **out, mend_err *err) {
    int64_t n = w->rows * w->cols;
    *out = NULL;
    float *f = mend_big_alloc((size_t)n * sizeof(float));
    if (!f) return mend_fail(err, MEND_E_NOMEM, "LoRA: out of memory for a merged layer");
    mend_status st = mend_wmat_read_f32(w, f);
    if (st != MEND_OK) {
        mend_big_free(f);
        return mend_fail(err, st, "LoRA: cannot read a layer's weights back");
    }
    /* bf16 mode: the base is what the kernels multiply with, bf16(W), whether
     * or not the model already ran (its source may be gone by then), so the
     * same job gives the same image the first time and every time after */
    if (w->prec == MEND_KPREC_BF16 && w->type != MEND_W_BF16)
        for (int64_t i = 0; i < n; i++) f[i] = mend_bf16_to_f32(mend_f32_to_bf16(f[i]));
    *out = f;
    return MEND_OK;
}

void mend_lora_merge(float *w, float *d, int64_t n, float mult, int how) {
    mend_lora_round(&mult, 1, how); /* torch 1.13 casts a Python scalar to the tensor's dtype */
    mend_lora_round(w, n, how);
    for (int64_t k = 0; k < n; k++) d[k] *= mult;
    mend_lora_round(d, n, how);
    for (int64_t k = 0; k < n; k++) w[k] += d[k];
    mend_lora_round(w, n, how);
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
