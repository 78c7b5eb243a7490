/* Inpaint sketch → (init image, mask), as A1111's img2img() mode 3 builds
 * them before processing (spec/inpaint-semantics.md §2.2). */
#include "mend/mend.h"

#include "core/err.h"
#include "inpaint/imageops.h"

/* Pillow's DIV255 (ImPlatform.h): exact rounding of a / 255 for a in
 * [0, 255 * 255]. */
static uint8_t div255(uint32_t a)
{
    uint32_t t = a + 128;
    return (uint8_t)(((t >> 8) + t) >> 8);
}

/* ImageEnhance.Brightness(white).enhance(f) = Image.blend(black, white, f):
 * Pillow computes in float and truncates (f = 0.5 gives 127). */
static uint8_t scaled_white(float mask_alpha)
{
    float f = (float)(1.0 - (double)mask_alpha / 100.0);
    if (f == 0.0f)
        return 0; /* ImagingBlend copies the first image */
    if (f == 1.0f)
        return 255; /* ... or the second */
    float v = f * 255.0f;
    return v <= 0.0f ? 0 : v >= 255.0f ? 255 : (uint8_t)v;
}

mend_status mend_sketch_inputs(const mend_image *orig, const mend_image *sketch, int blur, float mask_alpha,
                              mend_image *init_out, mend_image *mask_out, mend_err *err)
{
    *init_out = (mend_image){0};
    *mask_out = (mend_image){0};
    if (orig->width != sketch->width || orig->height != sketch->height)
        return mend_fail(err, MEND_E_ARG, "the sketch is %dx%d but the init image is %dx%d: they must have the same "
                         "size", sketch->width, sketch->height, orig->width, orig->height);
    mend_image o = {0}, s = {0}, s_blur = {0}, m_blur = {0};
    mend_status st = mend_pil_to_rgb(orig, &o, err);
    if (st == MEND_OK)
        st = mend_pil_to_rgb(sketch, &s, err);
    if (st == MEND_OK)
        st = mend_image_alloc(mask_out, orig->width, orig->height, 1, err);
    if (st == MEND_OK) {
        uint8_t white = scaled_white(mask_alpha);
        size_t n = (size_t)orig->width * orig->height;
        for (size_t i = 0; i < n; i++) {
            const uint8_t *a = o.data + 3 * i, *b = s.data + 3 * i;
            mask_out->data[i] = (a[0] != b[0] || a[1] != b[1] || a[2] != b[2]) ? white : 0;
        }
        st = mend_pil_gaussian_blur(&s, (float)blur, &s_blur, err);
    }
    if (st == MEND_OK)
        st = mend_pil_gaussian_blur(mask_out, (float)blur, &m_blur, err);
    if (st == MEND_OK) {
        /* Image.composite(sketch_b, orig, mask_b) = orig.paste(sketch_b, mask=mask_b) */
        size_t n = (size_t)orig->width * orig->height;
        for (size_t i = 0; i < n; i++) {
            uint32_t m = m_blur.data[i];
            for (int c = 0; c < 3; c++)
                o.data[3 * i + c] = div255(o.data[3 * i + c] * (255 - m) + s_blur.data[3 * i + c] * m);
        }
        *init_out = o;
        o = (mend_image){0};
    }
    mend_image_free(&o);
    mend_image_free(&s);
    mend_image_free(&s_blur);
    mend_image_free(&m_blur);
    if (st != MEND_OK)
        mend_image_free(mask_out);
    return st;
}
