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
} mend_sd_model;

/* Loads the components named in `components` (MEND_COMP_*). vocab may be
 * NULL; it is needed only for MEND_COMP_TOKENIZER when the model has no
 * tokenizer/ folder. */
mend_status mend_sd_load(const char *path, const char *vocab, unsigned components, mend_sd_model **out,
                         mend_err *err);
void mend_sd_free(mend_sd_model *m);

#endif
