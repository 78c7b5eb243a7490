/* mend — A1111's upscalers that need no model ("None", "Lanczos",
 * "Nearest"), as its extras tab and hires fix run them. */
#ifndef MEND_UPSCALE_H
#define MEND_UPSCALE_H

#include "mend/mend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The upscalers in A1111's list order; names as A1111 spells them. */
int mend_upscalers_count(void);
const char *mend_upscaler_name(int i);
/* Index of a name (case-insensitive), or -1. */
int mend_upscaler_find(const char *name);

/* A1111's Upscaler.upscale(img, scale): the upscaler's own resize to
 * width * scale, then a Lanczos resize to the size rounded down to a
 * multiple of 8 when they differ. "None" leaves the pixels alone but still
 * gets that final resize, as in A1111. RGB or RGBA or grey in, the same out.
 * Unknown names and scales outside (0, 16] are MEND_E_ARG. */
mend_status mend_upscale(const mend_image *src, const char *upscaler, double scale, mend_image *out, mend_err *err);

/* Image.convert("RGB"): alpha dropped, grey replicated. */
mend_status mend_image_to_rgb(const mend_image *src, mend_image *out, mend_err *err);

/* Center-pastes src into a black w x h RGB canvas (A1111's "crop to
 * fit" of the extras' resize-to mode: larger images are cropped). */
mend_status mend_image_center_crop(const mend_image *src, int w, int h, mend_image *out, mend_err *err);

/* Image.blend(a, b, alpha): a * (1 - alpha) + b * alpha, same sizes. */
mend_status mend_image_blend(const mend_image *a, const mend_image *b, float alpha, mend_image *out, mend_err *err);

#ifdef __cplusplus
}
#endif
#endif
