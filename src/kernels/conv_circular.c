/* A1111's tiling (modules/sd_hijack.py apply_circular): every Conv2d of
 * the UNet and the VAE pads circularly instead of with zeros, so the image
 * wraps around at its edges and tiles seamlessly. oneDNN convolutions pad
 * with zeros only, so the input is padded here (a wrapped copy) and the
 * convolution runs without padding. Only convolutions with padding of
 * their own change: the VAE encoder's downsampling pads (0, 1, 0, 1) with
 * F.pad before an unpadded convolution in A1111, which stays zero padding. */
#include "kernels/kernels.h"

#include <stdlib.h>

static _Thread_local int circular; /* a job runs on one thread: its setting */

void mend_conv2d_set_circular(int on)
{
    circular = on != 0;
}

int mend_conv2d_circular_applies(const mend_conv2d_desc *d)
{
    return circular && d->pad_t > 0 && d->pad_t == d->pad_b && d->pad_l == d->pad_r && d->pad_t == d->pad_l;
}

/* x [n, c, h, w] -> [n, c, h + 2p, w + 2p], wrapping around (torch's circular
 * padding; p <= h and p <= w). */
static void pad_circular(const float *x, int64_t nc, int h, int w, int p, float *out)
{
    int ph = h + 2 * p, pw = w + 2 * p;
    for (int64_t k = 0; k < nc; k++) {
        const float *src = x + k * h * w;
        float *dst = out + k * ph * pw;
        for (int y = 0; y < ph; y++) {
            const float *row = src + (int64_t)((y - p + h) % h) * w;
            float *o = dst + (int64_t)y * pw;
            for (int i = 0; i < pw; i++)
                o[i] = row[(i - p + w) % w];
        }
    }
}

mend_status mend_conv2d_circular(const mend_conv2d_desc *d, const float *x, int n, int h, int w, mend_wmat *weight,
                                 const float *bias, float *y)
{
    int p = d->pad_t;
    if (p > h || p > w) /* torch refuses padding that wraps more than once */
        return MEND_E_ARG;
    float *xp = malloc((size_t)n * d->cin * (h + 2 * p) * (w + 2 * p) * sizeof *xp);
    if (!xp)
        return MEND_E_NOMEM;
    pad_circular(x, (int64_t)n * d->cin, h, w, p, xp);
    mend_conv2d_desc d0 = *d;
    d0.pad_t = d0.pad_l = d0.pad_b = d0.pad_r = 0;
    mend_status s = mend_conv2d(&d0, xp, n, h + 2 * p, w + 2 * p, weight, bias, y);
    free(xp);
    return s;
}
