/* Pixel operations of A1111's inpainting path, reproduced bit-exactly from
 * the libraries A1111 calls (OpenCV 4.x uint8 GaussianBlur, Pillow 9.x
 * resampling / box blur / paste / alpha_composite, A1111 v1.10.1
 * images.py and masking.py). See spec/inpaint-semantics.md §3, §4, §5.1,
 * §9 and §11. Every function takes mend_image (io/image.h) and writes a
 * freshly allocated output image (never aliasing the input); on failure the
 * output is left empty. Masks are 1-channel images (PIL "L"). */
#ifndef MEND_INPAINT_IMAGEOPS_H
#define MEND_INPAINT_IMAGEOPS_H

#include "io/image.h"

/* ---------------- blurs (blur.c) ---------------- */

/* A1111's mask blur (processing.py): for each axis with blur > 0,
 * cv2.GaussianBlur with k = 2*int(2.5*blur+0.5)+1 taps and sigma = blur,
 * horizontal first, BORDER_REFLECT_101, OpenCV's bit-exact Q8 path. Any
 * channel count; blur 0 on both axes copies. */
mend_status mend_cv2_mask_blur(const mend_image *src, int blur_x, int blur_y, mend_image *out, mend_err *err);

/* OpenCV's 8-bit fixed-point Gaussian taps (sum 256) for n taps, sigma. */
void mend_cv2_gaussian_kernel_q8(int n, double sigma, int *taps);

/* Pillow ImageFilter.GaussianBlur(radius): 3 extended box blurs per axis.
 * Works on every channel independently (for RGBa that is what PIL does). */
mend_status mend_pil_gaussian_blur(const mend_image *src, float radius, mend_image *out, mend_err *err);

/* ---------------- resampling (resample.c) ---------------- */

typedef enum mend_pil_filter { MEND_PIL_BICUBIC, MEND_PIL_LANCZOS } mend_pil_filter;

/* Pillow Image.resize((w, h), filter, box): separable convolution with the
 * filter support scaled by the downscale factor, 8-bit fixed-point
 * coefficients, horizontal pass first. box = (x0, y0, x1, y1) in source
 * pixels (may be degenerate, e.g. zero height); NULL = the whole image. */
mend_status mend_pil_resize(const mend_image *src, int w, int h, mend_pil_filter filter, const float box[4],
                            mend_image *out, mend_err *err);

/* A1111 images.resize_image(mode, im, w, h) without upscaler (LANCZOS):
 * 0 just resize (keeps channels), 1 crop and resize, 2 resize and fill
 * (both return RGB, as A1111 pastes into Image.new("RGB")); mode 3 takes
 * the same branch as 2 (A1111's `else`). */
mend_status mend_resize_image(int mode, const mend_image *src, int w, int h, mend_image *out, mend_err *err);

/* ---------------- Pillow pixel helpers (pilops.c) ---------------- */

/* convert("L"): ITU-R 601 luma (19595 R + 38470 G + 7471 B + 0x8000) >> 16,
 * alpha ignored; 1 channel copies. */
mend_status mend_pil_to_gray(const mend_image *src, mend_image *out, mend_err *err);
/* convert("RGB"): grey replicated, alpha dropped. */
mend_status mend_pil_to_rgb(const mend_image *src, mend_image *out, mend_err *err);
/* convert("RGBA"): alpha 255 added where missing. */
mend_status mend_pil_to_rgba(const mend_image *src, mend_image *out, mend_err *err);
/* Image.crop(box) with box inside the image. */
mend_status mend_pil_crop(const mend_image *src, const int box[4], mend_image *out, mend_err *err);
/* Image.crop(box) with a box that may reach outside the image (a mask of
 * another size gives such crop regions): zeros there, as Pillow fills. */
mend_status mend_pil_crop_any(const mend_image *src, const int box[4], mend_image *out, mend_err *err);
/* dst.paste(src, (x, y)) without mask; src is converted to dst's channel
 * count like PIL does (grey → RGB replicates, RGB → RGBA opaque); the part
 * outside dst is clipped. */
void mend_pil_paste(mend_image *dst, const mend_image *src, int x, int y);
/* dst.alpha_composite(src): both RGBA and the same size; src drawn over dst. */
mend_status mend_pil_alpha_composite(mend_image *dst, const mend_image *src, mend_err *err);
/* 255 - v on every channel (ImageOps.invert), in place. */
void mend_image_invert(mend_image *img);

/* Image.new("RGBa").paste(image.convert("RGBA").convert("RGBa"), mask=alpha):
 * premultiplied RGBa result (4 channels), alpha 1 channel of image's size. */
mend_status mend_pil_premultiplied_paste(const mend_image *image, const mend_image *alpha, mend_image *out,
                                        mend_err *err);
/* convert("RGBA") of an RGBa image, in place: 255 * v / a truncated
 * (pixels with a = 0 or 255 unchanged). */
void mend_pil_unpremultiply(mend_image *img);

/* The RGBA image "image with alpha = alpha" as A1111 builds it:
 * Image.new("RGBa").paste(image as RGBa, mask=alpha).convert("RGBA")
 * (premultiply with 8-bit rounding, then un-premultiply by truncation).
 * image: RGB, alpha: 1 channel of the same size. */
mend_status mend_premultiplied_cutout(const mend_image *image, const mend_image *alpha, mend_image *out,
                                      mend_err *err);

/* images.flatten(img, bg): RGBA composited over opaque bg; → RGB. */
mend_status mend_flatten(const mend_image *img, const uint8_t bg_rgb[3], mend_image *out, mend_err *err);

/* ---------------- masking (masking.c) ---------------- */

/* processing.create_binary_mask(image, round): an RGBA mask with some
 * non-opaque pixel uses its alpha (thresholded > 128 → 255 when round);
 * anything else is convert("L"). */
mend_status mend_create_binary_mask(const mend_image *mask, int round, mend_image *out, mend_err *err);

/* masking.get_crop_region_v2: bbox (x1, y1, x2, y2; x2/y2 exclusive) of the
 * non-zero pixels of a 1-channel mask, grown by pad and clamped. Returns 0
 * (box untouched) for a blank mask, 1 otherwise. */
int mend_get_crop_region_v2(const mend_image *mask, int pad, int box[4]);
/* masking.get_crop_region: same, but a blank mask gives
 * (max(w-pad,0), max(h-pad,0), min(pad,w), min(pad,h)). */
void mend_get_crop_region(const mend_image *mask, int pad, int box[4]);
/* masking.expand_crop_region: grows the box to the processing aspect ratio
 * width:height, shifting/clamping inside image_w x image_h. */
void mend_expand_crop_region(const int box[4], int width, int height, int image_w, int image_h, int out[4]);

/* masking.fill(image, mask): pull-push fill of the masked (white) area from
 * the known pixels with PIL Gaussian blurs. image RGB (or RGBA/grey,
 * converted as PIL does), mask 1 channel or RGB (its luma is used). */
mend_status mend_masking_fill(const mend_image *image, const mend_image *mask, mend_image *out, mend_err *err);

/* p.nmask as A1111 computes it: image_mask resized (PIL BICUBIC) to
 * lw x lh, / 255 in float32, rounded half-to-even when round != 0.
 * out: lh*lw floats (1 = repaint). mask: 1 channel (or RGB, channel 0). */
mend_status mend_latent_mask(const mend_image *image_mask, int lw, int lh, int round, float *out, mend_err *err);

/* The mask channel of the 9-channel inpainting conditioning:
 * round(L(image_mask)/255) at full resolution (fullres, h*w floats, may be
 * NULL) and nearest-downsampled to lh x lw (latent, may be NULL). */
mend_status mend_inpaint_cond_mask(const mend_image *image_mask, float *fullres, int lw, int lh, float *latent,
                                   mend_err *err);

/* processing.apply_overlay(image, paste_to, overlay): with paste_to
 * (x, y, w, h) (only masked) the generated W x H image is first
 * crop-and-resized (mode 1) to w x h and pasted at (x, y) on a transparent
 * canvas of the overlay's size; then the overlay (RGBA) is alpha-composited
 * over it and the alpha dropped. out: RGB of the overlay's size. */
mend_status mend_apply_overlay(const mend_image *generated, const int *paste_to, const mend_image *overlay,
                               mend_image *out, mend_err *err);

#endif
