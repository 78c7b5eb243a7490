/* mend — A1111's img2img scripts that mend has, public C API. */
#ifndef MEND_SCRIPTS_H
#define MEND_SCRIPTS_H

#include "mend/mend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A1111's "SD upscale" (scripts/sd_upscale.py): the first init image is
 * upscaled by `scale` with `upscaler` (mend/upscale.h; "None" keeps it as it
 * is), cut into width x height tiles overlapping by `overlap` pixels
 * (images.split_grid), every tile an img2img job of p (batch_size tiles at a
 * time; each batch's seed is the previous batch's first seed + 1, as A1111
 * counts), and the results blended back along the overlaps
 * (images.combine_grid). out holds n_iter images of the upscaled size, each
 * with the first job's infotext, which carries `SD upscale overlap` and
 * `SD upscale upscaler`. A mask is refused (A1111's script works on the
 * init images only). */
typedef struct mend_sd_upscale {
    int overlap;          /* A1111's default 64 */
    const char *upscaler; /* A1111's default "None" */
    double scale;         /* A1111's default 2.0 */
} mend_sd_upscale;

mend_status mend_generate_sd_upscale(mend_sd_model *m, const mend_gen_params *p, const mend_gen_inputs *in,
                                     const mend_sd_upscale *o, mend_stop *stop, mend_gen_progress_fn progress,
                                     void *user, mend_gen_output *out, mend_err *err);

#ifdef __cplusplus
}
#endif
#endif
