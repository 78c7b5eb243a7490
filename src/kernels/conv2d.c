/* 2-D convolution as a native oneDNN convolution primitive (brgconv/JIT on
 * AVX2, AVX-512 and AMX, chosen at run time), no im2col copy. The model
 * keeps NCHW fp32 activations; each call reorders x into the primitive's
 * NHWC source (bf16 in bf16 mode), runs the convolution with the bias fused,
 * and reorders the NHWC fp32 result back to NCHW. The primitive, its
 * reorders and the weights in the primitive's layout are cached per weight
 * for the last input shape (the UNet repeats the same shapes every step). */
#include "kernels/kernels.h"

#include "core/threads.h"
#include "kernels/dnnl_util.h"

#include <stdlib.h>
#include <string.h>

void mend_conv2d_out_size(const mend_conv2d_desc *d, int h, int w, int *oh, int *ow)
{
    *oh = (h + d->pad_t + d->pad_b - d->kh) / d->stride + 1;
    *ow = (w + d->pad_l + d->pad_r - d->kw) / d->stride + 1;
}

/* Large images run in bands of output rows, each reading its rows plus the
 * kernel's halo straight from the NCHW tensors (strided descriptors), so
 * the NHWC scratch stays near BAND_BYTES whatever the image size (the VAE
 * at 512x512 would otherwise need ~0.5 GiB of it). */
#define BAND_BYTES (16u << 20)

/* One convolution call: n images of `in_rows` input rows (of an image of
 * full_h rows, starting at row 0 of the pointers given), band padding. */
typedef struct conv_shape {
    mend_conv2d_desc d; /* with this band's top/bottom padding */
    int n, in_rows, w, full_h, full_oh;
} conv_shape;

static dnnl_status_t make_reorder(const mend_dnnl *dn, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to,
                                  dnnl_primitive_t *out)
{
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = dnnl_reorder_primitive_desc_create(&pd, from, dn->eng, to, dn->eng, NULL);
    if (s == dnnl_success)
        s = dnnl_primitive_create(out, pd);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

/* NCHW view of rows x w pixels of c channels inside an image of full rows. */
static dnnl_status_t nchw_view(dnnl_memory_desc_t *md, int n, int c, int rows, int w, int full)
{
    dnnl_dims_t dims = {n, c, rows, w}, strides = {(int64_t)c * full * w, (int64_t)full * w, w, 1};
    return dnnl_memory_desc_init_by_strides(md, 4, dims, dnnl_f32, strides);
}

static void shape_key(const conv_shape *k, int bf16, int has_bias, int64_t key[8])
{
    int64_t v[8] = {k->n, k->in_rows, k->w, k->full_h, k->d.pad_t, k->d.pad_b,
                    4 * mend_get_threads() + 2 * bf16 + has_bias, k->full_oh};
    memcpy(key, v, sizeof v);
}

static mend_status conv_prim(const conv_shape *k, int bf16, int has_bias, mend_prim_cache *c)
{
    const mend_dnnl *dn = mend_dnnl_get();
    if (!dn)
        return MEND_E_NOMEM;
    const mend_conv2d_desc *d = &k->d;
    int oh, ow;
    mend_conv2d_out_size(d, k->in_rows, k->w, &oh, &ow);
    dnnl_dims_t sd = {k->n, d->cin, k->in_rows, k->w}, wd = {d->cout, d->cin, d->kh, d->kw}, bd = {d->cout},
                dd = {k->n, d->cout, oh, ow};
    dnnl_dims_t strides = {d->stride, d->stride}, pl = {d->pad_t, d->pad_l}, pr = {d->pad_b, d->pad_r};
    dnnl_data_type_t dt = bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t wany;
    dnnl_convolution_desc_t cd;
    if (nchw_view(&c->src_user, k->n, d->cin, k->in_rows, k->w, k->full_h) ||
        dnnl_memory_desc_init_by_tag(&c->src_md, 4, sd, dt, dnnl_nhwc) ||
        dnnl_memory_desc_init_by_tag(&wany, 4, wd, dt, dnnl_format_tag_any) ||
        dnnl_memory_desc_init_by_tag(&c->bias_md, 1, bd, dnnl_f32, dnnl_x) ||
        dnnl_memory_desc_init_by_tag(&c->dst_md, 4, dd, dnnl_f32, dnnl_nhwc) ||
        nchw_view(&c->dst_user, k->n, d->cout, oh, ow, k->full_oh) ||
        dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &c->src_md, &wany,
                                           has_bias ? &c->bias_md : NULL, &c->dst_md, strides, pl, pr))
        return MEND_E_NOMEM;
    dnnl_primitive_desc_t pd = NULL;
    mend_status st = MEND_E_NOMEM;
    if (dnnl_primitive_desc_create(&pd, &cd, NULL, dn->eng, NULL) == dnnl_success &&
        dnnl_primitive_create(&c->prim, pd) == dnnl_success &&
        make_reorder(dn, &c->src_user, &c->src_md, &c->src_re) == dnnl_success &&
        make_reorder(dn, &c->dst_md, &c->dst_user, &c->dst_re) == dnnl_success) {
        c->wei_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        shape_key(k, bf16, has_bias, c->key);
        c->valid = 1;
        st = MEND_OK;
    }
    dnnl_primitive_desc_destroy(pd);
    if (st != MEND_OK)
        mend_prim_cache_clear(c);
    return st;
}
/* The memories of one run: user input, reordered input, weights, bias,
 * convolution output, user output. */
enum { M_X, M_S, M_WT, M_B, M_DST, M_Y, M_COUNT };

static mend_status conv_run(const mend_prim_cache *c, const float *x, const void *wt, const float *bias, float *y)
{
    const mend_dnnl *dn = mend_dnnl_get();
    void *xs = mend_scratch(MEND_SCR_SRC, dnnl_memory_desc_get_size(&c->src_md));
    void *ys = mend_scratch(MEND_SCR_DST, dnnl_memory_desc_get_size(&c->dst_md));
    if (!xs || !ys)
        return MEND_E_NOMEM;
    const dnnl_memory_desc_t *md[M_COUNT] = {&c->src_user, &c->src_md, &c->wei_md, &c->bias_md, &c->dst_md,
                                             &c->dst_user};
    void *data[M_COUNT] = {(void *)x, xs, (void *)wt, (void *)bias, ys, y};
    dnnl_memory_t m[M_COUNT] = {0};
    int made = 0;
    while (made < M_COUNT && !dnnl_memory_create(&m[made], md[made], dn->eng, data[made]))
        made++;
    mend_status st = MEND_E_NOMEM;
    if (made == M_COUNT) {
        dnnl_exec_arg_t ra[2] = {{DNNL_ARG_FROM, m[M_X]}, {DNNL_ARG_TO, m[M_S]}};
        dnnl_exec_arg_t a[4] = {{DNNL_ARG_SRC, m[M_S]}, {DNNL_ARG_WEIGHTS, m[M_WT]}, {DNNL_ARG_DST, m[M_DST]},
                                {DNNL_ARG_BIAS, m[M_B]}};
        dnnl_exec_arg_t da[2] = {{DNNL_ARG_FROM, m[M_DST]}, {DNNL_ARG_TO, m[M_Y]}};
        st = mend_dnnl_exec(c->src_re, 2, ra);
        if (st == MEND_OK)
            st = mend_dnnl_exec(c->prim, bias ? 4 : 3, a);
        if (st == MEND_OK)
            st = mend_dnnl_exec(c->dst_re, 2, da);
    }
    for (int i = 0; i < made; i++)
        dnnl_memory_destroy(m[i]);
    return st;
}

/* The cached primitive for shape k (made on a miss, replacing the oldest). */
static mend_status cached_prim(mend_wmat *W, const conv_shape *k, int has_bias, mend_prim_cache **out)
{
    mend_wprep *p = W->prep;
    int bf16 = W->prec == MEND_KPREC_BF16;
    int64_t key[8];
    shape_key(k, bf16, has_bias, key);
    for (int i = 0; i < MEND_PRIM_CACHE; i++)
        if (p->pc[i].valid && memcmp(p->pc[i].key, key, sizeof key) == 0) {
            *out = &p->pc[i];
            return MEND_OK;
        }
    mend_prim_cache *c = &p->pc[p->next];
    p->next = (p->next + 1) % MEND_PRIM_CACHE;
    mend_prim_cache_clear(c);
    MEND_TRY(conv_prim(k, bf16, has_bias, c));
    *out = c;
    return MEND_OK;
}

static mend_status conv_call(mend_wmat *W, const conv_shape *k, const float *x, const float *bias, float *y)
{
    mend_prim_cache *c;
    MEND_TRY(cached_prim(W, k, bias != NULL, &c));
    const mend_conv2d_desc *d = &k->d;
    dnnl_dims_t wd = {d->cout, d->cin, d->kh, d->kw};
    dnnl_memory_desc_t plain;
    if (dnnl_memory_desc_init_by_tag(&plain, 4, wd, mend_wtype_dnnl(W->type), dnnl_oihw))
        return MEND_E_NOMEM;
    const void *wt;
    MEND_TRY(mend_wmat_weights(W, &plain, &c->wei_md, &wt));
    return conv_run(c, x, wt, bias, y);
}

/* Image img in bands of `band` output rows. */
static mend_status conv_bands(const mend_conv2d_desc *d, const float *x, int h, int w, mend_wmat *W,
                              const float *bias, float *y, int oh, int ow, int band)
{
    for (int o0 = 0; o0 < oh; o0 += band) {
        int o1 = o0 + band < oh ? o0 + band : oh;
        int iy0 = o0 * d->stride - d->pad_t, iy1 = (o1 - 1) * d->stride - d->pad_t + d->kh;
        conv_shape k = {*d, 1, 0, w, h, oh};
        k.d.pad_t = iy0 < 0 ? -iy0 : 0;
        k.d.pad_b = iy1 > h ? iy1 - h : 0;
        int r0 = iy0 < 0 ? 0 : iy0, r1 = iy1 > h ? h : iy1;
        k.in_rows = r1 - r0;
        MEND_TRY(conv_call(W, &k, x + (int64_t)r0 * w, bias, y + (int64_t)o0 * ow));
    }
    return MEND_OK;
}

mend_status mend_conv2d(const mend_conv2d_desc *d, const float *x, int n, int h, int w, mend_wmat *weight,
                        const float *bias, float *y)
{
    if (n <= 0)
        return MEND_OK;
    if (mend_conv2d_circular_applies(d)) /* tiling: a wrapped copy, convolved without padding */
        return mend_conv2d_circular(d, x, n, h, w, weight, bias, y);
    if (!weight->prep && !(weight->prep = calloc(1, sizeof *weight->prep)))
        return MEND_E_NOMEM;
    int oh, ow;
    mend_conv2d_out_size(d, h, w, &oh, &ow);
    int64_t row_bytes = (int64_t)(d->cout > d->cin ? d->cout : d->cin) * (ow > w ? ow : w) * 4;
    int band = (int)(BAND_BYTES / row_bytes);
    if ((int64_t)n * oh * row_bytes <= 2 * (int64_t)BAND_BYTES || band >= oh) {
        conv_shape k = {*d, n, h, w, h, oh};
        return conv_call(weight, &k, x, bias, y);
    }
    band = band < 1 ? 1 : band;
    for (int i = 0; i < n; i++)
        MEND_TRY(conv_bands(d, x + (int64_t)i * d->cin * h * w, h, w, weight, bias,
                            y + (int64_t)i * d->cout * oh * ow, oh, ow, band));
    return MEND_OK;
}
