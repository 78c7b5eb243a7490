/* CLIP text encoder (HF CLIPTextModel layout, as in SD 1.x checkpoints under
 * cond_stage_model.transformer.text_model.*). Pre-LN transformer, causal
 * self-attention, quick-GELU MLP, final layer norm. */
#ifndef MEND_MODEL_CLIP_H
#define MEND_MODEL_CLIP_H

#include <stdint.h>

#include "model/weights.h"

typedef struct mend_clip_arch {
    int vocab;   /* token embedding rows (49408) */
    int width;   /* hidden size (768 for SD 1.x) */
    int layers;  /* 12 */
    int heads;   /* 12; not in the weights: width/64 when width is a multiple
                    of 64 (every real CLIP), else width/8 (the tiny test
                    model: width 32 -> 4 heads) */
    int mlp;     /* 3072 */
    int max_pos; /* 77 */
} mend_clip_arch;

typedef struct mend_clip mend_clip;

/* l: file and the prefix before "text_model." (e.g. "cond_stage_model.transformer."). */
mend_status mend_clip_load(const mend_wload *l, mend_clip **out, mend_err *err);
/* Compute precision of its convolutions and linears (see kernels.h). */
mend_status mend_clip_set_prec(mend_clip *m, mend_kprec p, mend_err *err);
/* Its weight matrices by canonical name ("text_model.encoder.layers.0.
 * self_attn.q_proj.weight"), for LoRA. */
mend_wstore *mend_clip_weights(mend_clip *m);
void mend_clip_free(mend_clip *c);
const mend_clip_arch *mend_clip_get_arch(const mend_clip *c);
int64_t mend_clip_params(const mend_clip *c);

/* ids [n, T] (T <= max_pos) -> out [n, T, width].
 * clip_skip 1: last layer's output after the final layer norm.
 * clip_skip k > 1: output of layer (layers - k + 1), then the final layer
 * norm (A1111's CLIP_stop_at_last_layers). */
mend_status mend_clip_encode(const mend_clip *c, const int32_t *ids, int n, int T, int clip_skip, float *out,
                             mend_err *err);

/* mend_clip_encode with rows: NULL, or [n*T] pointers, each NULL (the
 * token's own embedding) or a width vector used as that position's token
 * embedding (A1111's EmbeddingsWithFixes: position embeddings are added to
 * it as to any token's). */
mend_status mend_clip_encode_rows(const mend_clip *c, const int32_t *ids, int n, int T, const float *const *rows,
                                  int clip_skip, float *out, mend_err *err);

/* Hidden states in the HF convention: hidden[0] = token + position
 * embeddings, hidden[i] = output of layer i (before the final layer norm),
 * i = 1..layers. hidden has layers + 1 entries, each NULL (not wanted) or
 * [n, T, width]; the stack runs only as far as the last one wanted. */
mend_status mend_clip_hidden_states(const mend_clip *c, const int32_t *ids, int n, int T, float *const *hidden,
                                    mend_err *err);

/* The final layer norm over rows of width floats; y may alias x. */
void mend_clip_final_norm(const mend_clip *c, const float *x, int64_t rows, float *y);

#endif
