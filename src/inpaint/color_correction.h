/* A1111's img2img colour correction (setting img2img_color_correction,
 * spec/inpaint-semantics.md §4.5, §9):
 *   target  = cv2.cvtColor(processed init image, RGB2LAB)
 *   matched = skimage.exposure.match_histograms(LAB(decoded), target, channel_axis=2)
 *   image   = cv2.cvtColor(matched, LAB2RGB)
 *   image   = blendmodes.blendLayers(image, decoded, LUMINOSITY)
 * i.e. the decoded image keeps its luminosity and takes hue and saturation
 * from a version of itself whose LAB histograms match the init image's.
 *
 * Fidelity: RGB->LAB follows OpenCV's 8-bit fixed-point path (gamma table,
 * 12/15-bit fixed point, cube-root table); its tables are rebuilt here in
 * double where OpenCV uses softfloat, so a table entry that sits on a
 * rounding tie may differ by one count (at most +-1 in L, a or b, on rare
 * colours). LAB->RGB uses OpenCV's floating-point formula rounded to bytes;
 * OpenCV's 8-bit inverse is a separate integer implementation, which can
 * differ from it by one count (two at the gamut edge). Histogram matching
 * and the luminosity blend reproduce skimage 0.21 and blendmodes 2022 in
 * double precision, including skimage's truncation of the matched values
 * to uint8 (it stores them in an array of the input's dtype). */
#ifndef MEND_INPAINT_COLOR_CORRECTION_H
#define MEND_INPAINT_COLOR_CORRECTION_H

#include <stdint.h>

#include "core/err.h"
#include "io/image.h"

/* n RGB pixels (3 bytes each) -> OpenCV 8-bit L*a*b*: L*255/100, a+128, b+128. */
void mend_rgb_to_lab8(const uint8_t *rgb, uint8_t *lab, int64_t n);

/* The inverse, OpenCV's scaling: L = v*100/255, a = v-128, b = v-128. */
void mend_lab8_to_rgb(const uint8_t *lab, uint8_t *rgb, int64_t n);

/* skimage.exposure.match_histograms(src, ref, channel_axis) for interleaved
 * uint8 data with `channels` channels: each channel's value v becomes the
 * reference value at v's cumulative quantile (linear interpolation over the
 * reference's distinct values), truncated to uint8. src and out may alias. */
void mend_match_histograms(const uint8_t *src, int64_t n_src, const uint8_t *ref, int64_t n_ref, int channels,
                           uint8_t *out);

/* blendmodes' LUMINOSITY for opaque RGB: SetLum(background, Lum(foreground))
 * with Lum = 0.299 R + 0.587 G + 0.114 B and ClipColor, on [0, 1], then
 * rounded (half to even) to bytes. */
void mend_blend_luminosity(const uint8_t *background, const uint8_t *foreground, int64_t n, uint8_t *out);

/* The correction target: LAB of an RGB (3-channel) image. */
mend_status mend_color_correction_target(const mend_image *rgb, mend_image *lab, mend_err *err);

/* Corrects an RGB image in place towards target (a LAB image of any size). */
mend_status mend_apply_color_correction(const mend_image *target, mend_image *img, mend_err *err);

#endif
