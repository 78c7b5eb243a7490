/* torch CPU randn and A1111's NV philox generator; see rng.h.
 *
 * Floating-point note: the float32 code below must not be contracted into
 * FMAs (it reproduces separate AVX multiply/add instructions); the project
 * compiles in ISO C mode, where GCC and Clang do not contract across
 * statements, and every product here is its own statement or a plain
 * expression evaluated with FLT_EVAL_METHOD 0 on x86-64/aarch64. */
#include "core/rng.h"
#include "core/half.h"

#include <math.h>
#include <sys/random.h>
#include <time.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------- mt19937 */

static void mt_seed(mend_rng *rng, uint64_t seed)
{
    rng->mt[0] = (uint32_t)(seed & 0xffffffffu);
    for (int j = 1; j < MEND_MT_N; j++)
        rng->mt[j] = 1812433253u * (rng->mt[j - 1] ^ (rng->mt[j - 1] >> 30)) + (uint32_t)j;
    rng->mt_left = 1;
    rng->mt_next = 0;
}

static void mt_twist(mend_rng *rng)
{
    enum { M = 397 };
    uint32_t *s = rng->mt;
    for (int i = 0; i < MEND_MT_N; i++) {
        uint32_t y = (s[i] & 0x80000000u) | (s[(i + 1) % MEND_MT_N] & 0x7fffffffu);
        s[i] = s[(i + M) % MEND_MT_N] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
    }
    rng->mt_left = MEND_MT_N;
    rng->mt_next = 0;
}

uint32_t mend_rng_mt_next(mend_rng *rng)
{
    if (--rng->mt_left == 0)
        mt_twist(rng);
    uint32_t y = rng->mt[rng->mt_next++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

/* at::uniform_real_distribution<float>: 24 random bits scaled to [0, 1). */
static float uniform_f32(mend_rng *rng)
{
    return (float)(mend_rng_mt_next(rng) & 0xffffffu) * (1.0f / 16777216.0f);
}

/* at::uniform_real_distribution<double>: 53 bits of random64() = hi<<32|lo. */
static double uniform_f64(mend_rng *rng)
{
    uint64_t hi = mend_rng_mt_next(rng);
    uint64_t lo = mend_rng_mt_next(rng);
    uint64_t v = (hi << 32) | lo;
    return (double)(v & ((UINT64_C(1) << 53) - 1)) * (1.0 / 9007199254740992.0);
}

/* at::normal_distribution<double> with the generator's cached second value. */
static double normal_f64(mend_rng *rng)
{
    if (rng->has_cached_normal) {
        rng->has_cached_normal = 0;
        return rng->cached_normal;
    }
    double u1 = uniform_f64(rng);
    double u2 = uniform_f64(rng);
    double r = sqrt(-2.0 * log1p(-u2));
    double theta = 2.0 * M_PI * u1;
    rng->cached_normal = r * sin(theta);
    rng->has_cached_normal = 1;
    return r * cos(theta);
}

/* ------------------------------------- Cephes float32 log/sincos (AVX2 path)
 * Written from the Cephes single-precision algorithms as vectorised in
 * avx_mathfun.h, which torch's normal_fill_16_AVX2 uses: same constants and
 * operation order. The released torch binaries were compiled with FMA
 * contraction of those intrinsics; which multiply-adds were fused (fmaf
 * below) versus kept separate was established against torch 1.13 output
 * (rng/rng.safetensors: 0 of 91k values differ). */

static float cephes_logf(float x)
{
    const float min_norm_pos = mend_bits_f32(0x00800000u);
    if (x < min_norm_pos)
        x = min_norm_pos; /* inputs here are in (0, 1] */
    int32_t e_int = (int32_t)(mend_f32_bits(x) >> 23) - 0x7f;
    x = mend_bits_f32((mend_f32_bits(x) & ~0x7f800000u) | mend_f32_bits(0.5f));
    float e = (float)e_int;
    e = e + 1.0f;
    int small = x < 0.707106781186547524f;
    float tmp = small ? x : 0.0f;
    x = x - 1.0f;
    e = e - (small ? 1.0f : 0.0f);
    x = x + tmp;
    float z = x * x;
    float y = 7.0376836292E-2f;
    y = fmaf(y, x, -1.1514610310E-1f);
    y = fmaf(y, x, 1.1676998740E-1f);
    y = fmaf(y, x, -1.2420140846E-1f);
    y = fmaf(y, x, 1.4249322787E-1f);
    y = fmaf(y, x, -1.6668057665E-1f);
    y = fmaf(y, x, 2.0000714765E-1f);
    y = fmaf(y, x, -2.4999993993E-1f);
    y = fmaf(y, x, 3.3333331174E-1f);
    y = y * x;
    float eq1 = e * -2.12194440e-4f;
    y = fmaf(y, z, eq1);
    y = fmaf(-z, 0.5f, y);
    x = x + y;
    x = fmaf(e, 0.693359375f, x);
    return x;
}

static void cephes_sincosf(float xin, float *s, float *c)
{
    uint32_t sign_sin = mend_f32_bits(xin) & 0x80000000u;
    float x = mend_bits_f32(mend_f32_bits(xin) & 0x7fffffffu);
    float y = x * 1.27323954473516f;
    int32_t j = (int32_t)y; /* truncation, as cvttps */
    j = (j + 1) & ~1;
    y = (float)j;
    uint32_t swap_sign_sin = ((uint32_t)j & 4u) << 29;
    int use_sin_poly = ((uint32_t)j & 2u) == 0;
    /* torch's build does not fuse the range reduction */
    float r1 = y * -0.78515625f, r2 = y * -2.4187564849853515625e-4f, r3 = y * -3.77489497744594108e-8f;
    x = x + r1;
    x = x + r2;
    x = x + r3;
    uint32_t sign_cos = (~(uint32_t)(j - 2) & 4u) << 29;
    sign_sin ^= swap_sign_sin;

    float z = x * x;
    float yc = 2.443315711809948E-005f;
    yc = fmaf(yc, z, -1.388731625493765E-003f);
    yc = fmaf(yc, z, 4.166664568298827E-002f);
    yc = yc * z;
    float half_z = z * 0.5f;
    yc = fmaf(yc, z, -half_z);
    yc = yc + 1.0f;

    float ys = -1.9515295891E-4f;
    ys = fmaf(ys, z, 8.3321608736E-3f);
    ys = fmaf(ys, z, -1.6666654611E-1f);
    ys = ys * z;
    ys = fmaf(ys, x, x);

    /* avx_mathfun blends the two polynomials with masks and additions of
     * +0.0f, which turn a -0 result into +0: keep those additions. */
    float sv = use_sin_poly ? 0.0f + ys : yc + 0.0f;
    float cv = use_sin_poly ? yc + 0.0f : 0.0f + ys;
    *s = mend_bits_f32(mend_f32_bits(sv) ^ sign_sin);
    *c = mend_bits_f32(mend_f32_bits(cv) ^ sign_cos);
}

/* normal_fill_16_AVX2 on 16 uniforms: u[0..7] radius, u[8..15] angle. */
static void normal_fill_16(float *d)
{
    const float two_pi = (float)(2.0 * M_PI);
    for (int j = 0; j < 8; j++) {
        float u1 = 1.0f - d[j];
        float u2 = d[j + 8];
        float radius = sqrtf(-2.0f * cephes_logf(u1));
        float theta = two_pi * u2;
        float sn, cs;
        cephes_sincosf(theta, &sn, &cs);
        d[j] = radius * cs;     /* fmadd(n, std=1, mean=0) is exact */
        d[j + 8] = radius * sn;
    }
}

static void torch_randn_cpu(mend_rng *rng, float *out, int64_t n)
{
    if (n < 16) {
        for (int64_t i = 0; i < n; i++)
            out[i] = (float)normal_f64(rng);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        out[i] = uniform_f32(rng);
    for (int64_t i = 0; i + 16 <= n; i += 16)
        normal_fill_16(out + i);
    if (n % 16 != 0) {
        /* torch recomputes the last 16 outputs from 16 fresh uniforms */
        float *tail = out + n - 16;
        for (int i = 0; i < 16; i++)
            tail[i] = uniform_f32(rng);
        normal_fill_16(tail);
    }
}

/* ----------------------------------------------------------------- philox */

static void philox4x32_10(uint32_t ctr[4], uint32_t k0, uint32_t k1)
{
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)ctr[0] * 0xD2511F53u;
        uint64_t p1 = (uint64_t)ctr[2] * 0xCD9E8D57u;
        uint32_t c0 = (uint32_t)(p1 >> 32) ^ ctr[1] ^ k0;
        uint32_t c1 = (uint32_t)p1;
        uint32_t c2 = (uint32_t)(p0 >> 32) ^ ctr[3] ^ k1;
        uint32_t c3 = (uint32_t)p0;
        ctr[0] = c0;
        ctr[1] = c1;
        ctr[2] = c2;
        ctr[3] = c3;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
}

static void philox_randn(mend_rng *rng, float *out, int64_t n)
{
    /* rng_philox.py keeps its constants as float32 arrays; numpy promotes
     * uint32 x float32 to float64, so the Box-Muller itself runs in double. */
    const double c = (double)2.3283064e-10f;
    const double c_half = (double)(2.3283064e-10f / 2.0f);
    const double c2 = (double)(float)(2.3283064e-10 * 6.2831855);
    const double c2_half = (double)((float)(2.3283064e-10 * 6.2831855) / 2.0f);
    uint32_t k0 = (uint32_t)(rng->seed & 0xffffffffu), k1 = (uint32_t)(rng->seed >> 32);
    for (int64_t i = 0; i < n; i++) {
        uint32_t ctr[4] = {rng->philox_offset, 0u, (uint32_t)i, 0u};
        philox4x32_10(ctr, k0, k1);
        double u = (double)ctr[0] * c + c_half;
        double v = (double)ctr[1] * c2 + c2_half;
        out[i] = (float)(sqrt(-2.0 * log(u)) * sin(v));
    }
    rng->philox_offset++;
}

/* ------------------------------------------------------------------ API */

void mend_rng_init(mend_rng *rng, mend_rng_kind kind, uint64_t seed)
{
    memset(rng, 0, sizeof *rng);
    rng->kind = kind;
    rng->seed = seed;
    if (kind == MEND_RNG_CPU)
        mt_seed(rng, seed);
}

void mend_rng_randn(mend_rng *rng, float *out, int64_t n)
{
    if (n <= 0)
        return;
    if (rng->kind == MEND_RNG_NV)
        philox_randn(rng, out, n);
    else
        torch_randn_cpu(rng, out, n);
}

mend_status mend_rng_kind_from_name(const char *name, mend_rng_kind *out, mend_err *err)
{
    if (name && strcasecmp(name, "CPU") == 0) {
        *out = MEND_RNG_CPU;
        return MEND_OK;
    }
    if (name && (strcasecmp(name, "NV") == 0 || strcasecmp(name, "GPU") == 0)) {
        *out = MEND_RNG_NV;
        return MEND_OK;
    }
    return mend_fail(err, MEND_E_ARG, "unknown RNG source '%s' (valid: CPU, NV, GPU)", name ? name : "(null)");
}

/* |column| along H of the (c, w) column at base: torch.norm(x, dim=1) in float32. */
static float column_norm(const float *x, int64_t base, int h, int w)
{
    float ss = 0;
    for (int y = 0; y < h; y++) {
        float a = x[base + (int64_t)y * w];
        ss += a * a;
    }
    return sqrtf(ss);
}

/* <low/|low|, high/|high|> of one column, as A1111's (low_norm * high_norm).sum(1) in float32. */
static float column_cos(const float *low, const float *high, int64_t base, int h, int w)
{
    float nl = column_norm(low, base, h, w), nh = column_norm(high, base, h, w), dot = 0;
    for (int y = 0; y < h; y++) {
        int64_t i = base + (int64_t)y * w;
        dot += (low[i] / nl) * (high[i] / nh);
    }
    return dot;
}

mend_status mend_rng_slerp(double v, const float *low, const float *high, float *out, int c, int h, int w,
                           mend_err *err)
{
    if (c <= 0 || h <= 0 || w <= 0)
        return mend_fail(err, MEND_E_ARG, "slerp: bad noise shape [%d,%d,%d]", c, h, w);
    /* A1111's slerp is float32 torch arithmetic throughout: the cosine of every (c, w) column along H,
     * their mean, acos, sin; only 1 - v is a Python double (v the float the user sent) */
    int64_t cols = (int64_t)c * w, n = cols * h;
    float dot_sum = 0;
    for (int ci = 0; ci < c; ci++)
        for (int wi = 0; wi < w; wi++)
            dot_sum += column_cos(low, high, (int64_t)ci * h * w + wi, h, w);
    if (dot_sum / (float)cols > 0.9995f) {
        for (int64_t i = 0; i < n; i++)
            out[i] = low[i] * (float)v + high[i] * (float)(1.0 - v);
        return MEND_OK;
    }
    double val = v;
    for (int ci = 0; ci < c; ci++)
        for (int wi = 0; wi < w; wi++) {
            int64_t base = (int64_t)ci * h * w + wi;
            float omega = acosf(column_cos(low, high, base, h, w)), so = sinf(omega);
            float wl = sinf((float)(1.0 - val) * omega) / so, wh = sinf((float)val * omega) / so;
            for (int y = 0; y < h; y++) {
                int64_t i = base + (int64_t)y * w;
                out[i] = wl * low[i] + wh * high[i];
            }
        }
    return MEND_OK;
}

int64_t mend_rng_fix_seed(int64_t seed)
{
    uint32_t r;
    if (seed >= 0)
        return seed;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
        r = (uint32_t)time(NULL) ^ (uint32_t)clock();
    return (int64_t)(r % 4294967294u);
}
