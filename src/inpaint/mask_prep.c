/* Glue of A1111's init(): the order of the steps is the behaviour. */
#include "inpaint/mask_prep.h"

#include <string.h>

void mend_mask_prep_free(mend_mask_prep *p)
{
    if (!p)
        return;
    mend_image_free(&p->binary);
    mend_image_free(&p->blurred);
    mend_image_free(&p->image_mask);
    mend_image_free(&p->mask_for_overlay);
}

/* 1-channel version of a resize_image result (modes 1/2 give RGB with
 * equal channels). */
static mend_status to_single_channel(mend_image *img, mend_err *err)
{
    if (img->channels == 1)
        return MEND_OK;
    mend_image gray;
    MEND_TRY(mend_pil_to_gray(img, &gray, err));
    mend_image_free(img);
    *img = gray;
    return MEND_OK;
}

static mend_status resize_mask(int mode, const mend_image *src, int w, int h, mend_image *out, mend_err *err)
{
    MEND_TRY(mend_resize_image(mode, src, w, h, out, err));
    mend_status s = to_single_channel(out, err);
    if (s != MEND_OK)
        mend_image_free(out);
    return s;
}

static mend_status prepare_only_masked(mend_mask_prep *p, const mend_mask_opts *o, mend_err *err)
{
    MEND_TRY(mend_image_copy(&p->blurred, &p->mask_for_overlay, err));
    int box[4];
    if (!mend_get_crop_region_v2(&p->blurred, o->full_res_padding, box)) {
        p->active = 0; /* "Unable to perform Inpaint Only mask because mask is blank" */
        mend_image_free(&p->mask_for_overlay);
        return MEND_OK;
    }
    memcpy(p->crop_padded, box, sizeof box);
    mend_expand_crop_region(box, o->width, o->height, p->blurred.width, p->blurred.height, p->crop);
    p->has_crop = 1;
    p->paste_to[0] = p->crop[0];
    p->paste_to[1] = p->crop[1];
    p->paste_to[2] = p->crop[2] - p->crop[0];
    p->paste_to[3] = p->crop[3] - p->crop[1];
    mend_image cropped;
    MEND_TRY(mend_pil_crop(&p->blurred, p->crop, &cropped, err));
    mend_status s = resize_mask(2, &cropped, o->width, o->height, &p->image_mask, err);
    mend_image_free(&cropped);
    return s;
}

static mend_status prepare_whole_picture(mend_mask_prep *p, const mend_mask_opts *o, mend_err *err)
{
    MEND_TRY(resize_mask(o->resize_mode, &p->blurred, o->width, o->height, &p->image_mask, err));
    /* clip(2 * mask, 0, 255): the overlay fades over the outer half of the blur only. */
    MEND_TRY(mend_image_copy(&p->image_mask, &p->mask_for_overlay, err));
    size_t n = mend_image_size(&p->mask_for_overlay);
    for (size_t i = 0; i < n; i++) {
        unsigned v = 2u * p->mask_for_overlay.data[i];
        p->mask_for_overlay.data[i] = (uint8_t)(v > 255 ? 255 : v);
    }
    return MEND_OK;
}

mend_status mend_mask_prepare(const mend_image *mask, const mend_mask_opts *o, mend_mask_prep *p, mend_err *err)
{
    memset(p, 0, sizeof *p);
    if (o->width < 1 || o->height < 1 || o->width > MEND_IMAGE_MAX_SIDE || o->height > MEND_IMAGE_MAX_SIDE)
        return mend_fail(err, MEND_E_ARG, "processing size %dx%d out of range", o->width, o->height);
    p->active = 1;
    mend_status s = mend_create_binary_mask(mask, o->round, &p->binary, err);
    if (s == MEND_OK && o->invert)
        mend_image_invert(&p->binary);
    if (s == MEND_OK)
        s = mend_cv2_mask_blur(&p->binary, o->blur_x, o->blur_y, &p->blurred, err);
    if (s == MEND_OK)
        s = o->full_res ? prepare_only_masked(p, o, err) : prepare_whole_picture(p, o, err);
    if (s != MEND_OK)
        mend_mask_prep_free(p);
    return s;
}

mend_status mend_init_image_prepare(mend_mask_prep *p, const mend_mask_opts *o, const mend_image *image, int fill,
                                    mend_image *overlay, mend_image *processing, mend_err *err)
{
    static const uint8_t white[3] = {255, 255, 255};
    mend_image img, tmp;
    overlay->data = processing->data = NULL;
    MEND_TRY(mend_flatten(image, white, &img, err));
    mend_status s = MEND_OK;
    if (!p->has_crop && o->resize_mode != 3) {
        s = mend_resize_image(o->resize_mode, &img, o->width, o->height, &tmp, err);
        mend_image_free(&img);
        if (s != MEND_OK)
            return s;
        img = tmp;
    }
    if (p->active) {
        mend_image *mfo = &p->mask_for_overlay;
        if (mfo->width != img.width || mfo->height != img.height) {
            s = resize_mask(o->resize_mode, mfo, img.width, img.height, &tmp, err);
            if (s == MEND_OK) {
                mend_image_free(mfo);
                *mfo = tmp;
            }
        }
        mend_image keep = {0};
        if (s == MEND_OK)
            s = mend_image_copy(mfo, &keep, err);
        if (s == MEND_OK) {
            mend_image_invert(&keep);
            s = mend_premultiplied_cutout(&img, &keep, overlay, err);
        }
        mend_image_free(&keep);
    }
    if (s == MEND_OK && p->has_crop) {
        mend_image cropped;
        s = mend_pil_crop_any(&img, p->crop, &cropped, err); /* the mask's region: another size may reach out */
        if (s == MEND_OK) {
            mend_image_free(&img);
            s = mend_resize_image(2, &cropped, o->width, o->height, &img, err);
            mend_image_free(&cropped);
        }
    }
    if (s == MEND_OK && p->active && fill) {
        s = mend_masking_fill(&img, &p->image_mask, &tmp, err);
        if (s == MEND_OK) {
            mend_image_free(&img);
            img = tmp;
        }
    }
    if (s != MEND_OK) {
        mend_image_free(&img);
        mend_image_free(overlay);
        return s;
    }
    *processing = img;
    return MEND_OK;
}
