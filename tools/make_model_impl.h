/* make-model's parts (make_model.c): the topology, the tensor list and its
 * builders (make_model_tensors.c), the diffusers config files
 * (make_model_configs.c). Private to tools/. */
#ifndef MEND_TOOLS_MAKE_MODEL_IMPL_H
#define MEND_TOOLS_MAKE_MODEL_IMPL_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "make_model.h"

/* snprintf without -Wformat-truncation noise: names and paths here are far
 * below their buffers' sizes, and a cut name would fail loudly later. */
void mm_fmt(char *buf, size_t size, const char *f, ...) MEND_PRINTF(3, 4);

#define MM_LEVELS 4

typedef struct mm_config {
    int in_channels, model_channels, num_res_blocks, num_heads, context_dim;
    int mult[MM_LEVELS], attn[MM_LEVELS];
    int vae_ch, vae_res, z_channels;
    int vae_mult[MM_LEVELS];
    int clip_width, clip_layers, clip_heads, clip_mlp, vocab, max_pos;
} mm_config;

typedef enum mm_comp { COMP_UNET, COMP_VAE, COMP_CLIP, COMP_SCHEDULE } mm_comp;

typedef enum mm_init {
    INIT_WEIGHT,     /* uniform, std 1/sqrt(fan_in) */
    INIT_OUT_WEIGHT, /* last projection of a residual branch: half that */
    INIT_BIAS,       /* std 0.02 */
    INIT_NORM_WEIGHT,/* 1 + std 0.02 */
    INIT_NORM_BIAS,  /* std 0.02 */
    INIT_EMBED,      /* std 0.02 */
    INIT_POSITION,   /* std 0.01 */
    INIT_POSITION_IDS,
    INIT_SCHEDULE,
} mm_init;

enum { NAME_MAX_ = 200 };

typedef struct mm_tensor {
    char ldm[NAME_MAX_]; /* full single-file name; also keys the values */
    char dif[NAME_MAX_]; /* name in the diffusers component file; "" = not there */
    mm_comp comp;
    mm_init init;
    mend_dtype dtype;
    int ndim, dif_ndim; /* diffusers may drop trailing 1x1 dims (VAE attention) */
    int64_t shape[4];
    int schedule_index;
    uint64_t key;
} mm_tensor;

typedef struct mm_list {
    mm_tensor *v;
    int n, cap;
    int oom;
    mend_dtype dtype;
    uint64_t seed;
} mm_list;

static inline uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The tensors of each component, appended to L (L->oom on failure). */
void mm_build_unet(mm_list *L, const mm_config *c);
void mm_build_vae(mm_list *L, const mm_config *c);
void mm_build_clip(mm_list *L, const mm_config *c);
void mm_build_schedule(mm_list *L);
/* Values of schedule buffer `which` (MM_SCHEDULE_STEPS floats). */
#define MM_SCHEDULE_STEPS 1000
void mm_schedule_values(int which, float *out);

/* The st_writer fill callback of a tensor (ctx: its mm_tensor). */
mend_status mm_fill_tensor(void *ctx, const char *name, void *dst, size_t nbytes, mend_err *err);
/* make_vae.c: only the VAE (o->part), as one .safetensors file. */
mend_status mm_write_vae_file(mm_list *L, const mend_make_model_opts *o, const char *path, mend_err *err);

/* diffusers config.json contents (caller deletes). */
cJSON *mm_unet_config(const mm_config *c);
cJSON *mm_vae_config(const mm_config *c);
cJSON *mm_text_encoder_config(const mm_config *c);
cJSON *mm_scheduler_config(void);
cJSON *mm_model_index(const mend_make_model_opts *o);

#endif
