/* mend — what a loaded model is: its parts, architecture, dtypes, hash and
 * name, for `mend info`, the server's checkpoint list and benchmarks. */
#ifndef MEND_MODEL_H
#define MEND_MODEL_H

#include <stdint.h>

#include "mend/mend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parts of a checkpoint (mend_model_load loads them all). */
enum {
    MEND_PART_TOKENIZER = 1,
    MEND_PART_TEXT_ENCODER = 2,
    MEND_PART_UNET = 4,
    MEND_PART_VAE = 8,
    MEND_PART_ALL = 15,
};

/* Loads only the named parts (MEND_PART_*); vocab is needed only for the
 * tokenizer of a model without a tokenizer/ folder. */
mend_status mend_model_load_parts(const char *path, const char *vocab, unsigned parts, mend_sd_model **out,
                                  mend_err *err);

/* A quick check that path can be a checkpoint, without loading weights: a
 * file's tensor table parses and its data lies inside the file; a folder
 * has unet/. Loading can still fail (missing or misshapen tensors). */
mend_status mend_model_probe(const char *path, mend_err *err);

/* Tensor dtypes as counted below: index -> "F32", "F16", "BF16", "F64",
 * "I64", "I32", "I16", "I8", "U8", "BOOL"; NULL past the end. */
#define MEND_INFO_DTYPES 10
const char *mend_info_dtype_name(int index);

#define MEND_INFO_MAX_LEVELS 8

typedef struct mend_part_info {
    int loaded;
    const char *file;              /* the file holding its tensors */
    int64_t params;                /* parameters (weights) */
    int dtypes[MEND_INFO_DTYPES];  /* its tensors per dtype */
} mend_part_info;

typedef struct mend_model_info {
    const char *path;
    int diffusers;          /* a diffusers folder (else one LDM/A1111 file) */
    const char *arch;       /* "sd1", "sd1-inpaint" (9-channel UNet), or "" without a UNet */
    const char *dtype;      /* dtype of most weight tensors ("F16") */
    int nfiles;
    struct {
        const char *path;
        int tensors;
    } files[3];
    int dtypes[MEND_INFO_DTYPES]; /* tensors per dtype over all files */
    mend_part_info unet, vae, text_encoder;
    struct {
        int in_channels, out_channels, model_channels, levels, mult[MEND_INFO_MAX_LEVELS],
            attn[MEND_INFO_MAX_LEVELS], num_res_blocks, num_heads, context_dim, transformer_depth, linear_proj;
    } unet_arch;
    struct {
        int ch, levels, mult[MEND_INFO_MAX_LEVELS], num_res_blocks, z_channels, in_channels, has_encoder,
            has_decoder;
    } vae_arch;
    struct {
        int width, layers, heads, mlp, vocab, max_pos;
    } clip_arch;
    const char *vocab_path; /* NULL without a tokenizer */
    int vocab_size;
} mend_model_info;

/* Fills *out; its strings point into the model and live as long as it. */
void mend_model_get_info(const mend_sd_model *m, mend_model_info *out);

/* 1 when the model's UNet takes 9 channels (noisy latent, mask, masked
 * image: an inpainting model), else 0 (also without a UNet). */
int mend_model_is_inpainting(const mend_sd_model *m);

/* A1111's "Model hash": the first 10 hex digits of the checkpoint file's
 * SHA-256 (cached on disk, see src/model/model_hash.h); "" for diffusers
 * folders, which A1111 does not hash. */
mend_status mend_model_short_hash(mend_sd_model *m, char out[11], mend_err *err);

/* A checkpoint file's full SHA-256 (lower-case hex), from the same cache.
 * compute = 0 only looks it up, as A1111's listings show only hashes
 * already computed: MEND_E_IO when the file was never hashed. */
mend_status mend_checkpoint_sha256(const char *path, int compute, char hex[65], mend_err *err);

/* A checkpoint's title (A1111's checkpoint "title" without "[hash]", what
 * sd_model_checkpoint names): the last component of the path, trailing '/'
 * ignored ("sd15.safetensors"); malloc'd, NULL when out of memory. Its name
 * (the title without the checkpoint extension) is mend_model_name in
 * mend.h: the two make the one naming rule. */
char *mend_model_title(const char *path);

/* A separate VAE for encoding and decoding in place of the checkpoint's own
 * (A1111's sd_vae option and --vae, stable-diffusion.cpp's --vae): a
 * .safetensors or torch .pt/.ckpt state dict, f32/f16/bf16, in LDM names
 * (encoder.*, decoder.*, quant_conv, post_quant_conv; also under
 * first_stage_model.) or diffusers names (an AutoencoderKL's
 * diffusion_pytorch_model.safetensors); loss* and model_ema* keys are
 * ignored as in A1111. A decoder-only file decodes and the checkpoint's own
 * VAE encodes. path NULL or "": the checkpoint's own again. The same path
 * as the one in use is not reloaded. A file that cannot be used fails with
 * a message naming it, and the VAE in use stays. Jobs then write A1111's
 * "VAE hash" (the file's SHA-256, 10 digits, cached as the model hash is)
 * and "VAE" (its file name) into the infotext. */
mend_status mend_model_set_vae(mend_sd_model *m, const char *path, mend_err *err);
/* The separate VAE file in use, or NULL: the checkpoint's own. */
const char *mend_model_vae_path(const mend_sd_model *m);
/* A1111's look-up beside a checkpoint (sd_vae "Automatic"): for DIR/NAME.EXT
 * the first of DIR/NAME.vae.pt, .vae.ckpt, .vae.safetensors that exists
 * (malloc'd), or NULL (none, a folder, out of memory). */
char *mend_vae_near_checkpoint(const char *checkpoint);

#ifdef __cplusplus
}
#endif
#endif
