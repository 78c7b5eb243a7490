/* Kernels against naive reference implementations written here in the
 * plainest possible form, and bit-identical results for 1 and 2 threads. */
#include "test.h"

#include "kernels/kernels.h"
#include "mend/mend.h"

#include <string.h>

static uint64_t g_state = 0x9e3779b97f4a7c15ull;

static float frand(void)
{
    g_state ^= g_state << 13;
    g_state ^= g_state >> 7;
    g_state ^= g_state << 17;
    return (float)((g_state >> 40) / (double)(1 << 24)) * 2.0f - 1.0f;
}

static float *rand_buf(int64_t n)
{
    float *b = malloc((size_t)n * sizeof *b);
    for (int64_t i = 0; i < n; i++)
        b[i] = frand();
    return b;
}

static void naive_conv(const mend_conv2d_desc *d, const float *x, int n, int h, int w, const float *wt,
                       const float *bias, float *y)
{
    int oh, ow;
    mend_conv2d_out_size(d, h, w, &oh, &ow);
    for (int b = 0; b < n; b++)
        for (int co = 0; co < d->cout; co++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    double acc = bias ? bias[co] : 0;
                    for (int ci = 0; ci < d->cin; ci++)
                        for (int ky = 0; ky < d->kh; ky++)
                            for (int kx = 0; kx < d->kw; kx++) {
                                int iy = oy * d->stride - d->pad_t + ky, ix = ox * d->stride - d->pad_l + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                                    continue;
                                acc += (double)x[((b * d->cin + ci) * h + iy) * w + ix] *
                                       wt[((co * d->cin + ci) * d->kh + ky) * d->kw + kx];
                            }
                    y[((b * d->cout + co) * oh + oy) * ow + ox] = (float)acc;
                }
}

static void check_conv(mend_conv2d_desc d, int n, int h, int w, int with_bias)
{
    int oh, ow;
    mend_conv2d_out_size(&d, h, w, &oh, &ow);
    int64_t ny = (int64_t)n * d.cout * oh * ow;
    float *x = rand_buf((int64_t)n * d.cin * h * w), *wt = rand_buf((int64_t)d.cout * d.cin * d.kh * d.kw);
    float *b = with_bias ? rand_buf(d.cout) : NULL;
    float *y = malloc((size_t)ny * 4), *ref = malloc((size_t)ny * 4), *y1 = malloc((size_t)ny * 4);
    naive_conv(&d, x, n, h, w, wt, b, ref);
    mend_wmat W = mend_wmat_borrow_f32(wt, d.cout, (int64_t)d.cin * d.kh * d.kw);
    mend_set_threads(2);
    CHECK(mend_conv2d(&d, x, n, h, w, &W, b, y) == MEND_OK);
    double e = test_max_abs_diff(y, ref, ny);
    CHECK_MSG(e < 1e-4 * (1 + d.cin * d.kh * d.kw / 64.0), "conv %dx%d s%d cin %d cout %d %dx%d: err %g", d.kh, d.kw,
              d.stride, d.cin, d.cout, h, w, e);
    mend_set_threads(1);
    CHECK(mend_conv2d(&d, x, n, h, w, &W, b, y1) == MEND_OK);
    CHECK_MSG(memcmp(y, y1, (size_t)ny * 4) == 0, "conv differs between 1 and 2 threads (%dx%d)", h, w);
    mend_set_threads(0);
    mend_wmat_free(&W);
    free(x), free(wt), free(b), free(y), free(ref), free(y1);
}

TEST(conv2d_matches_naive)
{
    check_conv((mend_conv2d_desc){3, 8, 3, 3, 1, 1, 1, 1, 1}, 2, 5, 7, 1);     /* small path */
    check_conv((mend_conv2d_desc){16, 24, 3, 3, 1, 1, 1, 1, 1}, 1, 40, 33, 1); /* tiled path */
    check_conv((mend_conv2d_desc){8, 8, 3, 3, 2, 1, 1, 1, 1}, 2, 17, 16, 0);   /* stride 2, odd size */
    check_conv((mend_conv2d_desc){8, 4, 3, 3, 2, 0, 0, 1, 1}, 1, 16, 12, 1);   /* VAE downsample padding */
    check_conv((mend_conv2d_desc){32, 16, 1, 1, 1, 0, 0, 0, 0}, 2, 30, 30, 1); /* pointwise */
    /* images over 32 MiB of rows run in row bands (top, middle, short bottom) */
    check_conv((mend_conv2d_desc){4, 8, 3, 3, 1, 1, 1, 1, 1}, 1, 1100, 2048, 1);
    check_conv((mend_conv2d_desc){8, 8, 3, 3, 2, 0, 0, 1, 1}, 1, 2200, 2048, 0); /* VAE downsample, banded */
    check_conv((mend_conv2d_desc){4, 4, 3, 3, 1, 1, 1, 1, 1}, 1, 1, 1, 1);     /* 1x1 image */
}

TEST(gemm_all_transposes)
{
    int M = 37, N = 301, K = 45;
    float *A = rand_buf(M * K), *B = rand_buf(K * N), *C = rand_buf(M * N), *R = malloc((size_t)M * N * 4);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double acc = 0;
                    for (int k = 0; k < K; k++)
                        acc += (double)(ta ? A[k * M + i] : A[i * K + k]) * (tb ? B[j * K + k] : B[k * N + j]);
                    R[i * N + j] = (float)(0.5 * acc + 0.25 * C[i * N + j]);
                }
            float *Y = malloc((size_t)M * N * 4);
            memcpy(Y, C, (size_t)M * N * 4);
            mend_gemm(ta, tb, M, N, K, 0.5f, A, ta ? M : K, B, tb ? K : N, 0.25f, Y, N);
            CHECK_MSG(test_max_abs_diff(Y, R, M * N) < 1e-4, "gemm ta=%d tb=%d", ta, tb);
            free(Y);
        }
    free(A), free(B), free(C), free(R);
}

static void naive_attention(const float *q, const float *k, const float *v, float *o, int B, int H, int nq, int nk,
                            int dh, int causal)
{
    int wdt = H * dh;
    double *s = malloc((size_t)nk * sizeof *s);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < nq; i++) {
                double mx = -1e300, sum = 0;
                int valid = causal ? (i + 1 < nk ? i + 1 : nk) : nk;
                for (int j = 0; j < valid; j++) {
                    double acc = 0;
                    for (int d = 0; d < dh; d++)
                        acc += (double)q[(b * nq + i) * wdt + h * dh + d] * k[(b * nk + j) * wdt + h * dh + d];
                    s[j] = acc / sqrt((double)dh);
                    mx = s[j] > mx ? s[j] : mx;
                }
                for (int j = 0; j < valid; j++)
                    sum += s[j] = exp(s[j] - mx);
                for (int d = 0; d < dh; d++) {
                    double acc = 0;
                    for (int j = 0; j < valid; j++)
                        acc += s[j] / sum * v[(b * nk + j) * wdt + h * dh + d];
                    o[(b * nq + i) * wdt + h * dh + d] = (float)acc;
                }
            }
    free(s);
}

static void check_attention(int B, int H, int nq, int nk, int dh, int causal)
{
    int wdt = H * dh;
    float *q = rand_buf((int64_t)B * nq * wdt), *k = rand_buf((int64_t)B * nk * wdt), *v = rand_buf((int64_t)B * nk * wdt);
    int64_t no = (int64_t)B * nq * wdt;
    float *o = malloc((size_t)no * 4), *r = malloc((size_t)no * 4), *o1 = malloc((size_t)no * 4);
    naive_attention(q, k, v, r, B, H, nq, nk, dh, causal);
    mend_set_threads(2);
    CHECK(mend_attention(q, wdt, k, wdt, v, wdt, o, B, H, nq, nk, dh, causal) == MEND_OK);
    CHECK_MSG(test_max_abs_diff(o, r, no) < 1e-5, "attention B%d H%d nq%d nk%d dh%d causal%d: %g", B, H, nq, nk, dh,
              causal, test_max_abs_diff(o, r, no));
    mend_set_threads(1);
    CHECK(mend_attention(q, wdt, k, wdt, v, wdt, o1, B, H, nq, nk, dh, causal) == MEND_OK);
    CHECK(memcmp(o, o1, (size_t)no * 4) == 0);
    mend_set_threads(0);
    free(q), free(k), free(v), free(o), free(r), free(o1);
}

TEST(attention_matches_naive)
{
    check_attention(2, 8, 200, 200, 4, 0); /* several query blocks, self */
    check_attention(2, 2, 130, 77, 8, 0);  /* cross attention */
    check_attention(3, 4, 77, 77, 8, 1);   /* CLIP causal */
}

TEST(norms_match_naive)
{
    int n = 2, c = 64, groups = 32;
    int64_t hw = 37;
    float *x = rand_buf(n * c * hw), *g = rand_buf(c), *b = rand_buf(c), *y = malloc((size_t)(n * c * hw) * 4);
    for (int silu = 0; silu < 2; silu++) {
        mend_group_norm(x, n, c, hw, groups, 1e-5f, g, b, silu, y);
        double worst = 0;
        int cpg = c / groups;
        for (int bi = 0; bi < n; bi++)
            for (int gr = 0; gr < groups; gr++) {
                double s = 0, sq = 0;
                const float *xs = x + (bi * c + gr * cpg) * hw;
                for (int i = 0; i < cpg * hw; i++)
                    s += xs[i];
                double m = s / (cpg * hw);
                for (int i = 0; i < cpg * hw; i++)
                    sq += (xs[i] - m) * (xs[i] - m);
                double inv = 1 / sqrt(sq / (cpg * hw) + 1e-5);
                for (int i = 0; i < cpg * hw; i++) {
                    int ch = gr * cpg + (int)(i / hw);
                    double v = (xs[i] - m) * inv * g[ch] + b[ch];
                    if (silu)
                        v = v / (1 + exp(-v));
                    double e = fabs(v - y[(bi * c + gr * cpg) * hw + i]);
                    worst = e > worst ? e : worst;
                }
            }
        CHECK_MSG(worst < 1e-5, "group norm silu=%d err %g", silu, worst);
    }
    mend_layer_norm(x, n * hw, c, 1e-5f, g, b, y);
    double worst = 0;
    for (int r = 0; r < n * hw; r++) {
        double s = 0, sq = 0;
        for (int i = 0; i < c; i++)
            s += x[r * c + i];
        double m = s / c;
        for (int i = 0; i < c; i++)
            sq += (x[r * c + i] - m) * (x[r * c + i] - m);
        for (int i = 0; i < c; i++) {
            double v = (x[r * c + i] - m) / sqrt(sq / c + 1e-5) * g[i] + b[i];
            double e = fabs(v - y[r * c + i]);
            worst = e > worst ? e : worst;
        }
    }
    CHECK_MSG(worst < 1e-5, "layer norm err %g", worst);
    free(x), free(g), free(b), free(y);
}

TEST(activations)
{
    float xs[] = {-90.0f, -10.0f, -1.0f, -0.1f, 0.0f, 0.3f, 2.0f, 12.0f, 80.0f};
    int n = (int)(sizeof xs / sizeof *xs);
    float a[16], b[16], c[16];
    memcpy(a, xs, sizeof xs), memcpy(b, xs, sizeof xs), memcpy(c, xs, sizeof xs);
    mend_silu(a, n), mend_quick_gelu(b, n), mend_gelu(c, n);
    for (int i = 0; i < n; i++) {
        double x = xs[i];
        CHECK_NEAR(a[i], x / (1 + exp(-x)), 1e-6 * (1 + fabs(x)));
        CHECK_NEAR(b[i], x / (1 + exp(-1.702 * x)), 1e-6 * (1 + fabs(x)));
        CHECK_NEAR(c[i], 0.5 * x * (1 + erf(x / sqrt(2.0))), 1e-6 * (1 + fabs(x)));
    }
    float up[2 * 3] = {1, 2, 3, 4, 5, 6}, out[4 * 6];
    mend_resize_nearest(up, 1, 1, 2, 3, 4, 6, out);
    CHECK(out[0] == 1 && out[1] == 1 && out[2] == 2 && out[6] == 1 && out[12] == 4 && out[23] == 6);
}

int main(void)
{
    RUN(conv2d_matches_naive);
    RUN(gemm_all_transposes);
    RUN(attention_matches_naive);
    RUN(norms_match_naive);
    RUN(activations);
    return test_summary();
}
