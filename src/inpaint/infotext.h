/* A1111's generation parameters text ("infotext", the PNG `parameters`
 * chunk), spec/inpaint-semantics.md §13:
 *   <prompt>
 *   Negative prompt: <negative>        (omitted when empty)
 *   Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, ... */
#ifndef MEND_INPAINT_INFOTEXT_H
#define MEND_INPAINT_INFOTEXT_H

#include <stdint.h>

#include "inpaint/gen_params.h"

typedef struct mend_infotext_ctx {
    const mend_gen_params *p;
    const char *sampler;        /* A1111 sampler name */
    const char *schedule_label; /* resolved ("Karras"), or "Automatic" where A1111 keeps it */
    int64_t seed, subseed;
    const char *model_name;     /* file name without extension, or NULL */
    const char *model_hash;     /* 10 hex digits, or NULL */
    int img2img, inpaint, only_masked, inpainting_model, uses_ensd;
    const char *lora_hashes;    /* `Lora hashes` value ("name: hash, ..."), or NULL */
    const char *ti_hashes;      /* `TI hashes` value ("name: shorthash, ..."), or NULL */
    const char *script_keys;    /* a script's "Key: value, ..." (SD upscale), or NULL */
    int hires;                  /* a hires fix ran: `Denoising strength` and the `Hires *` keys */
    const char *hr_sampler;     /* `Hires sampler` (another sampler than the first pass's), or NULL */
    const char *hr_schedule;    /* `Hires schedule type`, or NULL */
    const char *vae_name;       /* the separate VAE's file name, or NULL */
    const char *vae_hash;       /* its 10 hex digits, or NULL */
} mend_infotext_ctx;

/* malloc'd text, NULL when out of memory. */
char *mend_infotext_build(const mend_infotext_ctx *c);

/* Python's str() of a float as A1111 prints it (7.0, 0.75, 1e-05). */
void mend_py_float(double v, char *buf, int size);

#endif
