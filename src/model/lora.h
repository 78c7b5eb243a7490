/* LoRA / LyCORIS networks as A1111 1.10's built-in Lora extension reads them:
 * file key names -> A1111 layer names, and one module's weight delta
 * (updown * calc_scale, before the te/unet multiplier). */
#ifndef MEND_MODEL_LORA_H
#define MEND_MODEL_LORA_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "io/tensorfile.h"

#define MEND_LORA_NAME_MAX 256

/* A1111 layer name of a checkpoint weight key ("model.diffusion_model.a.0.weight"
 * -> "diffusion_model_a_0", "cond_stage_model.transformer.x.weight" ->
 * "transformer_x"); MEND_E_ARG for keys no network can touch (VAE, biases). */
mend_status mend_lora_layer_of_key(const char *ckpt_key, char *out, size_t size, mend_err *err);

/* Candidate A1111 layer names of a file module name, in A1111's lookup
 * order (diffusers->compvis conversion first, then the LDM-style prefix
 * replacements); returns how many (0..3) were written to out[]. */
int mend_lora_layer_candidates(const char *file_module, char out[][MEND_LORA_NAME_MAX]);

/* The file of network `name` in dir: <name>.safetensors, else the file
 * whose metadata ss_output_name is name; MEND_E_IO "Lora not found: NAME". */
mend_status mend_lora_find(const char *dir, const char *name, char *path, size_t size, mend_err *err);

/* kohya's addnet hash (sha256 of the bytes after the safetensors header),
 * 64 hex digits; A1111's infotext uses the first 12. */
mend_status mend_lora_addnet_hash(const char *path, char hex[65], mend_err *err);

/* Whether the file holds diffusers/PEFT keys (unet.*, text_encoder.*), and
 * their renaming to kohya names in place (A1111 1.10 ignores such files;
 * this gives what diffusers' convert_state_dict_to_kohya gives). */
int mend_lora_is_peft(const mend_tf *f);
mend_status mend_lora_peft_to_kohya(mend_tf *f, mend_err *err);

/* Whether a layer takes the text-encoder multiplier (A1111: 'transformer'
 * within the first 20 characters of the layer name). */
int mend_lora_layer_is_te(const char *layer);

/* The delta of module `module` of network file f for a layer whose weight
 * has shape[ndim]: updown reshaped to that shape times calc_scale, fp32,
 * numel(shape) floats in *out (caller frees). dyn_dim <= 0: full rank.
 * MEND_E_ARG when the module's shapes do not fit the layer (message names
 * both shapes), MEND_E_FORMAT for a module of unknown type. */
mend_status mend_lora_module_delta(const mend_tf *f, const char *module, const int64_t *shape, int ndim,
                                   int dyn_dim, float **out, mend_err *err);

/* The precision A1111 merges this module's layer in: 0 fp32 (LoRA, fp32
 * LyCORIS), 1 fp16, 2 bf16 (fp16/bf16 LoHa/LoKr: the merged weight is
 * rounded to that dtype; the delta returned is already rounded). */
int mend_lora_module_merge_dtype(const mend_tf *f, const char *module);

/* v rounded in place to dtype `how` (0 none, 1 fp16, 2 bf16). */
void mend_lora_round(float *v, int64_t n, int how);

#endif
