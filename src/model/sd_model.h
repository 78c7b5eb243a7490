/* A Stable Diffusion 1.x checkpoint: text encoder, UNet, VAE and the CLIP
 * vocabulary, from a single file (LDM/A1111 layout) or a diffusers folder. */
#ifndef MEND_MODEL_SD_MODEL_H
#define MEND_MODEL_SD_MODEL_H

#include "io/tensorfile.h"
#include "model/clip.h"
#include "model/tokenizer.h"
#include "model/unet.h"
#include "model/vae.h"

enum {
    MEND_COMP_TOKENIZER = 1,
    MEND_COMP_CLIP = 2,
    MEND_COMP_UNET = 4,
    MEND_COMP_VAE = 8,
    MEND_COMP_ALL = 15,
};

typedef struct mend_sd_model {
    char *path;
    int diffusers;           /* loaded from a diffusers folder */
    mend_tf *te_file, *unet_file, *vae_file; /* may all be the same file */
    const char *te_prefix, *unet_prefix, *vae_prefix;
    mend_tokenizer *tokenizer;
    mend_clip *clip;
    mend_unet *unet;
    mend_vae *vae;
    char *vocab_path;        /* where the vocabulary came from */
    /* A1111's "Model hash": the first 10 hex digits of the single-file
     * checkpoint's SHA-256, computed on first use by the pipeline (hashing
     * a 2 GB file takes seconds); "" until then and for diffusers folders. */
    char model_hash[11];
    int model_hash_tried;    /* set once hashing was attempted */
    /* A separate VAE file (--vae, A1111's sd_vae), or NULL: the checkpoint's
     * own `vae` stays loaded and does what the file lacks (a decoder-only
     * file encodes with it), and comes back when the file is dropped. */
    mend_vae *ext_vae;
    char *ext_vae_path;
    char ext_vae_hash[11];   /* A1111's "VAE hash", computed on first use; "" until then */
    int ext_vae_hash_tried;
} mend_sd_model;

/* Compute precision. FP32 is exact (the golden tests' mode); BF16 runs
 * convolutions and linears in bf16 with fp32 accumulation; AUTO picks BF16
 * where the CPU has native bf16 dot products, else FP32. */
typedef enum mend_sd_prec { MEND_SD_PREC_AUTO, MEND_SD_PREC_FP32, MEND_SD_PREC_BF16 } mend_sd_prec;

/* Sets the precision of every loaded component; *chosen (may be NULL) gets
 * "fp32" or "bf16". BF16 on a CPU without it: MEND_E_ARG naming the missing
 * CPU feature. FP32 after the model ran in bf16: MEND_E_ARG (reload it). */
mend_status mend_sd_set_precision(mend_sd_model *m, mend_sd_prec p, const char **chosen, mend_err *err);

/* "fp32" | "bf16" | "auto" (case-insensitive) -> *out; 0 if unknown. */
int mend_sd_prec_parse(const char *s, mend_sd_prec *out);

/* Loads the components named in `components` (MEND_COMP_*). vocab may be
 * NULL; it is needed only for MEND_COMP_TOKENIZER when the model has no
 * tokenizer/ folder. The precision is fp32, or the environment's
 * MEND_PRECISION (fp32|bf16|auto) when set (for benchmarks and tests). */
mend_status mend_sd_load(const char *path, const char *vocab, unsigned components, mend_sd_model **out,
                         mend_err *err);
void mend_sd_free(mend_sd_model *m);

/* The VAE that encodes (the separate file's when it has an encoder, else
 * the checkpoint's) and the one that decodes (likewise); vae_file.c. */
const mend_vae *mend_sd_vae_encoder(const mend_sd_model *m);
const mend_vae *mend_sd_vae_decoder(const mend_sd_model *m);
/* A1111's "VAE hash" of the separate VAE file (10 hex digits), or NULL
 * without one or when the file cannot be hashed (then the infotext goes
 * without it rather than the job failing). */
const char *mend_sd_vae_hash(mend_sd_model *m);

#endif
