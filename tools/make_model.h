/* Random-weight SD 1.x checkpoints for tests and benchmarks.
 *
 * mend_make_model() writes a checkpoint with every tensor name, shape and
 * dtype of a real SD 1.5 (or sd-v1-5-inpainting) file: the single-file
 * LDM/A1111 layout (model.diffusion_model.*, first_stage_model.*,
 * cond_stage_model.transformer.text_model.* incl. position_ids I64 [1,77],
 * and the DDPM schedule buffers), or a diffusers folder (unet/, vae/,
 * text_encoder/ with config.json files and model_index.json; no tokenizer/,
 * since no vocabulary ships with mend: pass --vocab or add tokenizer/).
 *
 * Values are deterministic: each tensor's values depend only on the seed and
 * its LDM name, so both layouts hold identical numbers. Weights are uniform
 * with std gain/sqrt(fan_in), norm weights ~1, biases and embeddings ~0.02,
 * which keeps activations O(1) through the full network.
 *
 * The data is generated while the file is written (one tensor in memory at
 * a time), so the full f32 model (~4.3 GB) needs little memory. Output is
 * atomic: a failed run leaves nothing at `out`. */
#ifndef MEND_TOOLS_MAKE_MODEL_H
#define MEND_TOOLS_MAKE_MODEL_H

#include <stdint.h>

#include "io/tensorfile.h"

typedef enum mend_mm_arch { MEND_MM_SD1, MEND_MM_SD1_INPAINT } mend_mm_arch;
typedef enum mend_mm_size { MEND_MM_TINY, MEND_MM_FULL } mend_mm_size;
typedef enum mend_mm_layout { MEND_MM_SINGLE, MEND_MM_DIFFUSERS } mend_mm_layout;
/* What to write: the checkpoint, or only its VAE as a separate VAE file
 * (--vae): the whole VAE or its decoder half (decoder.*, post_quant_conv). */
typedef enum mend_mm_part { MEND_MM_PART_ALL, MEND_MM_PART_VAE, MEND_MM_PART_VAE_DECODER } mend_mm_part;

typedef struct mend_make_model_opts {
    mend_mm_arch arch;
    mend_mm_size size;
    mend_dtype dtype; /* F32, F16 or BF16 (the schedule buffers stay F32, position_ids I64) */
    uint64_t seed;
    mend_mm_layout layout;
    /* PART_VAE*: one .safetensors file, LDM names as A1111's VAE files hold
     * them (encoder.*, ...; under first_stage_model. with vae_prefix) or, with
     * the diffusers layout, an AutoencoderKL's diffusion_pytorch_model names.
     * The same seed gives the checkpoint's own VAE weights. */
    mend_mm_part part;
    int vae_prefix;
} mend_make_model_opts;

/* Parsers for the command-line spellings ("sd1", "sd1-inpaint"; "tiny",
 * "full"; "f32", "f16", "bf16"; "single", "diffusers"). Return 0 if unknown. */
int mend_mm_parse_arch(const char *s, mend_mm_arch *out);
int mend_mm_parse_size(const char *s, mend_mm_size *out);
int mend_mm_parse_dtype(const char *s, mend_dtype *out);
int mend_mm_parse_layout(const char *s, mend_mm_layout *out);
int mend_mm_parse_part(const char *s, mend_mm_part *out); /* "all", "vae", "vae-decoder" */

/* Writes the model to `out`: a .safetensors file (single) or a folder
 * (diffusers; it must not exist yet). */
mend_status mend_make_model(const mend_make_model_opts *o, const char *out, mend_err *err);

#endif
