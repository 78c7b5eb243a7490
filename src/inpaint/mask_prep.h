/* A1111 StableDiffusionProcessingImg2Img.init() mask and init-image
 * preparation (spec/inpaint-semantics.md §3, §4), built on imageops.h.
 *
 *   mend_mask_prep p;
 *   mend_mask_prepare(mask, &opts, &p, err);          // once per job
 *   mend_init_image_prepare(&p, &opts, img, fill, &overlay, &processing, err);  // per init image
 *   ... encode processing, sample, decode to `generated` (W x H RGB) ...
 *   mend_apply_overlay(&generated, p.has_crop ? p.paste_to : NULL, &overlay, &final, err);
 */
#ifndef MEND_INPAINT_MASK_PREP_H
#define MEND_INPAINT_MASK_PREP_H

#include "inpaint/imageops.h"

typedef struct mend_mask_opts {
    int width, height;   /* processing size W x H */
    int resize_mode;     /* 0..3 (images.resize_image) */
    int blur_x, blur_y;  /* mask_blur_x / mask_blur_y */
    int invert;          /* inpainting_mask_invert */
    int round;           /* mask_round (create_binary_mask threshold) */
    int full_res;        /* inpaint_full_res ("Only masked") */
    int full_res_padding;
} mend_mask_opts;

typedef struct mend_mask_prep {
    int active;          /* 0: blank mask in only-masked mode → plain img2img, no mask at all */
    int has_crop;        /* only-masked with a region: crop / paste_to valid */
    int crop[4];         /* x1, y1, x2, y2 (expanded) */
    int crop_padded[4];  /* before expand_crop_region */
    int paste_to[4];     /* x, y, w, h */
    mend_image binary;   /* create_binary_mask (+ invert), native size */
    mend_image blurred;  /* after the cv2 blur, native size */
    mend_image image_mask;       /* W x H, 1 channel (A1111's RGB copies are equal) */
    mend_image mask_for_overlay; /* 1 channel */
} mend_mask_prep;

mend_status mend_mask_prepare(const mend_image *mask, const mend_mask_opts *opts, mend_mask_prep *out, mend_err *err);
void mend_mask_prep_free(mend_mask_prep *p);

/* Per init image: flatten over white, resize (whole picture, mode != 3),
 * the overlay (RGBA: image with alpha 255 - mask_for_overlay), the crop
 * (only masked) and, when fill != 0, masking.fill with image_mask (A1111
 * pre-fills for every masked-content mode except "original"). May resize
 * p->mask_for_overlay to the image size as A1111 does. With an inactive
 * prep, overlay is left empty and processing is the plain resized image. */
mend_status mend_init_image_prepare(mend_mask_prep *p, const mend_mask_opts *opts, const mend_image *image, int fill,
                                    mend_image *overlay, mend_image *processing, mend_err *err);

#endif
