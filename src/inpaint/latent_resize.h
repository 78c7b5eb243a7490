/* torch.nn.functional.interpolate with align_corners=False, for A1111's
 * latent upscale modes (hires fix). Internal. */
#ifndef MEND_INPAINT_LATENT_RESIZE_H
#define MEND_INPAINT_LATENT_RESIZE_H

#include "core/err.h"

typedef enum mend_interp_mode {
    MEND_INTERP_BILINEAR,
    MEND_INTERP_BICUBIC,
    MEND_INTERP_NEAREST,      /* torch's "nearest": floor(o * in / out) */
    MEND_INTERP_NEAREST_EXACT /* "nearest-exact": floor((o + 0.5) * in / out) */
} mend_interp_mode;

/* x [planes, ih, iw] -> y [planes, oh, ow]. antialias: torch's
 * antialias=True (bilinear and bicubic only; ignored for the nearest modes). */
mend_status mend_interpolate(const float *x, int planes, int ih, int iw, float *y, int oh, int ow,
                             mend_interp_mode mode, int antialias, mend_err *err);

/* A1111's shared.latent_upscale_modes, in its order ("Latent" first). */
int mend_latent_modes_count(void);
const char *mend_latent_mode_name(int i);
/* The index of an exact (case-sensitive, as A1111's dict lookup) name, its
 * mode and antialias; -1 when it is not a latent mode. */
int mend_latent_mode_find(const char *name, mend_interp_mode *mode, int *antialias);

#endif
