/* The k-diffusion samplers (k_diffusion/sampling.py at ab527a9a, as A1111
 * v1.10.1 calls them) and A1111's DDIM. Vector updates are float32 in the
 * same operation order as the torch code; scalar coefficients are computed
 * in double (torch uses float32 0-d tensors; the difference is ~1e-7
 * relative). Every sigma_{i+1} = 0 case takes its explicit branch. */
#include "sampling/sampler_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KS_BUFS 6

/* x += (x - D)/sigma * dt   (Euler step along d = to_d(x, sigma, D)) */
static void euler_update(float *x, const float *den, float sigma, float dt, int64_t n)
{
    for (int64_t k = 0; k < n; k++) {
        float d = (x[k] - den[k]) / sigma;
        x[k] = x[k] + d * dt;
    }
}

/* dst = x + (x - D)/sigma * dt */
static void euler_to(float *dst, const float *x, const float *den, float sigma, float dt, int64_t n)
{
    for (int64_t k = 0; k < n; k++) {
        float d = (x[k] - den[k]) / sigma;
        dst[k] = x[k] + d * dt;
    }
}

/* dst = a*x + b*D */
static void lincomb(float *dst, float a, const float *x, float b, const float *den, int64_t n)
{
    for (int64_t k = 0; k < n; k++)
        dst[k] = a * x[k] + b * den[k];
}

/* x += scale * noise */
static void add_noise(float *x, const float *noise, float scale, int64_t n)
{
    for (int64_t k = 0; k < n; k++)
        x[k] = x[k] + noise[k] * scale;
}

/* x += fresh noise from sigma_i to sigma_{i+1}, scaled (the SDE part of a step). */
static mend_status step_noise(ks_ctx *c, const float *sig, int i, float *x, float *noise, float scale)
{
    MEND_TRY(ks_noise(c, noise, sig[i], sig[i + 1]));
    add_noise(x, noise, scale, c->n);
    return MEND_OK;
}

/* The multistep samplers keep the previous prediction: this step's becomes it. */
static void swap_buffers(float **a, float **b)
{
    float *t = *a;
    *a = *b;
    *b = t;
}

/* Euler-family churn: sigma_hat = sigma*(1+gamma), noise added when gamma > 0. */
static mend_status churn(ks_ctx *c, float *x, float *noise, const float *sig, int n_sig, int i, float *sigma_hat)
{
    const mend_sampler_opts *o = &c->opts;
    float s = sig[i];
    double gamma = 0.0;
    if (o->s_tmin <= s && s <= o->s_tmax) {
        gamma = o->s_churn / (double)(n_sig - 1);
        if (gamma > sqrt(2.0) - 1.0)
            gamma = sqrt(2.0) - 1.0;
    }
    *sigma_hat = (float)(s * (gamma + 1.0));
    if (gamma > 0) {
        MEND_TRY(ks_noise(c, noise, s, sig[i + 1]));
        double sh = *sigma_hat;
        add_noise(x, noise, (float)(o->s_noise * sqrt(sh * sh - (double)s * s)), c->n);
    }
    return MEND_OK;
}

/* The first half of every Euler-family step: churn x to sigma_hat (*sh),
 * denoise there into den, report the step. */
static mend_status churned_denoise(ks_ctx *c, const float *sig, int ns, int i, float *x, float *noise, float *den,
                                   float *sh)
{
    MEND_TRY(churn(c, x, noise, sig, ns, i, sh));
    MEND_TRY(ks_denoise(c, x, *sh, den));
    return ks_step(c, i, x, den, sig[i], *sh);
}

/* The first half of every ancestral step: ks_denoise_at, and the step
 * split into *down and *up (ks_ancestral). */
static mend_status ancestral_denoise(ks_ctx *c, const float *sig, int i, const float *x, float *den, float *down,
                                     float *up)
{
    ks_ancestral(sig[i], sig[i + 1], c->opts.eta, down, up);
    return ks_denoise_at(c, sig, i, x, den);
}

static mend_status run_euler(ks_ctx *c, const float *sig, int ns, float *x)
{
    float *den = c->buf[0], *noise = c->buf[1];
    for (int i = 0; i < ns - 1; i++) {
        float sh;
        MEND_TRY(churned_denoise(c, sig, ns, i, x, noise, den, &sh));
        euler_update(x, den, sh, sig[i + 1] - sh, c->n);
    }
    return MEND_OK;
}

static mend_status run_heun(ks_ctx *c, const float *sig, int ns, float *x)
{
    float *den = c->buf[0], *noise = c->buf[1], *x2 = c->buf[2], *den2 = c->buf[3];
    int64_t n = c->n;
    for (int i = 0; i < ns - 1; i++) {
        float sh;
        MEND_TRY(churned_denoise(c, sig, ns, i, x, noise, den, &sh));
        float dt = sig[i + 1] - sh;
        if (sig[i + 1] == 0.0f) {
            euler_update(x, den, sh, dt, n);
            continue;
        }
        euler_to(x2, x, den, sh, dt, n);
        MEND_TRY(ks_denoise(c, x2, sig[i + 1], den2));
        for (int64_t k = 0; k < n; k++) {
            float d = (x[k] - den[k]) / sh;
            float d2 = (x2[k] - den2[k]) / sig[i + 1];
            x[k] = x[k] + (d + d2) / 2.0f * dt;
        }
    }
    return MEND_OK;
}

/* DPM2 midpoint from sigma_a towards sigma_b (both > 0): evaluates at the
 * log-midpoint and moves x by d(x2, mid) * (sigma_b - sigma_a). */
static mend_status dpm2_midpoint(ks_ctx *c, float *x, const float *den, float sa, float sb)
{
    float *x2 = c->buf[2], *den2 = c->buf[3];
    int64_t n = c->n;
    float mid = (float)exp(0.5 * (log((double)sa) + log((double)sb)));
    euler_to(x2, x, den, sa, mid - sa, n);
    MEND_TRY(ks_denoise(c, x2, mid, den2));
    float dt2 = sb - sa;
    for (int64_t k = 0; k < n; k++) {
        float d2 = (x2[k] - den2[k]) / mid;
        x[k] = x[k] + d2 * dt2;
    }
    return MEND_OK;
}

static mend_status run_dpm2(ks_ctx *c, const float *sig, int ns, float *x)
{
    float *den = c->buf[0], *noise = c->buf[1];
    for (int i = 0; i < ns - 1; i++) {
        float sh;
        MEND_TRY(churned_denoise(c, sig, ns, i, x, noise, den, &sh));
        if (sig[i + 1] == 0.0f)
            euler_update(x, den, sh, sig[i + 1] - sh, c->n);
        else
            MEND_TRY(dpm2_midpoint(c, x, den, sh, sig[i + 1]));
    }
    return MEND_OK;
}

static mend_status run_dpm2_a(ks_ctx *c, const float *sig, int ns, float *x)
{
    float *den = c->buf[0], *noise = c->buf[1];
    for (int i = 0; i < ns - 1; i++) {
        float down, up;
        MEND_TRY(ancestral_denoise(c, sig, i, x, den, &down, &up));
        if (down == 0.0f) {
            euler_update(x, den, sig[i], down - sig[i], c->n);
            continue;
        }
        MEND_TRY(dpm2_midpoint(c, x, den, sig[i], down));
        MEND_TRY(step_noise(c, sig, i, x, noise, c->opts.s_noise * up));
    }
    return MEND_OK;
}

static mend_status run_euler_a(ks_ctx *c, const float *sig, int ns, float *x)
{
    float *den = c->buf[0], *noise = c->buf[1];
    for (int i = 0; i < ns - 1; i++) {
        float down, up;
        MEND_TRY(ancestral_denoise(c, sig, i, x, den, &down, &up));
        euler_update(x, den, sig[i], down - sig[i], c->n);
        if (sig[i + 1] > 0.0f)
            MEND_TRY(step_noise(c, sig, i, x, noise, c->opts.s_noise * up));
    }
    return MEND_OK;
}

/* Integral over [lo, hi] of the Lagrange basis polynomial j on the nodes
 * t[i], t[i-1], ..., t[i-order+1] (k-diffusion linear_multistep_coeff, which
 * uses scipy quad; the polynomial is integrated exactly here). */
static double lms_coeff(int order, const float *t, int i, int j)
{
    double poly[5] = {1, 0, 0, 0, 0}; /* coefficients in tau, ascending */
    int deg = 0;
    for (int k = 0; k < order; k++) {
        if (k == j)
            continue;
        double root = t[i - k], scale = 1.0 / ((double)t[i - j] - (double)t[i - k]);
        double next[5] = {0, 0, 0, 0, 0};
        for (int p = 0; p <= deg; p++) {
            next[p + 1] += poly[p] * scale;
            next[p] -= poly[p] * root * scale;
        }
        deg++;
        memcpy(poly, next, sizeof poly);
    }
    double a = t[i], b = t[i + 1], sum = 0;
    for (int p = 0; p <= deg; p++)
        sum += poly[p] * (pow(b, p + 1) - pow(a, p + 1)) / (p + 1);
    return sum;
}

static mend_status run_lms(ks_ctx *c, const float *sig, int ns, float *x)
{
    enum { ORDER = 4 };
    float *den = c->buf[0];
    float *ds[ORDER] = {c->buf[1], c->buf[2], c->buf[3], c->buf[4]}; /* ds[0] = newest */
    int64_t n = c->n;
    for (int i = 0; i < ns - 1; i++) {
        MEND_TRY(ks_denoise_at(c, sig, i, x, den));
        float *newest = ds[ORDER - 1]; /* recycle the oldest buffer */
        memmove(ds + 1, ds, (ORDER - 1) * sizeof ds[0]);
        ds[0] = newest;
        for (int64_t k = 0; k < n; k++)
            newest[k] = (x[k] - den[k]) / sig[i];
        int order = i + 1 < ORDER ? i + 1 : ORDER;
        float coeff[ORDER];
        for (int j = 0; j < order; j++)
            coeff[j] = (float)lms_coeff(order, sig, i, j);
        for (int64_t k = 0; k < n; k++) {
            float acc = coeff[0] * ds[0][k];
            for (int j = 1; j < order; j++)
                acc = acc + coeff[j] * ds[j][k];
            x[k] = x[k] + acc;
        }
    }
    return MEND_OK;
}

static mend_status run_dpmpp_2m(ks_ctx *c, const float *sig, int ns, float *x)
{
    float *den = c->buf[0], *old = c->buf[1];
    int64_t n = c->n;
    for (int i = 0; i < ns - 1; i++) {
        MEND_TRY(ks_denoise_at(c, sig, i, x, den));
        if (sig[i + 1] == 0.0f) {
            memcpy(x, den, (size_t)n * sizeof *x); /* (0/sigma)*x + 1*D */
        } else {
            double t = -log((double)sig[i]), t_next = -log((double)sig[i + 1]);
            double h = t_next - t;
            float ratio = (float)((double)sig[i + 1] / sig[i]);
            float w = (float)-expm1(-h);
            if (i == 0) {
                lincomb(x, ratio, x, w, den, n);
            } else {
                double r = (t - -log((double)sig[i - 1])) / h;
                float a = (float)(1.0 + 1.0 / (2.0 * r)), b = (float)(1.0 / (2.0 * r));
                for (int64_t k = 0; k < n; k++) {
                    float dd = a * den[k] - b * old[k];
                    x[k] = ratio * x[k] + w * dd;
                }
            }
        }
        swap_buffers(&old, &den);
    }
    return MEND_OK;
}

static mend_status run_dpmpp_2s_a(ks_ctx *c, const float *sig, int ns, float *x)
{
    float *den = c->buf[0], *noise = c->buf[1], *x2 = c->buf[2], *den2 = c->buf[3];
    int64_t n = c->n;
    for (int i = 0; i < ns - 1; i++) {
        float down, up;
        MEND_TRY(ancestral_denoise(c, sig, i, x, den, &down, &up));
        if (down == 0.0f) {
            euler_update(x, den, sig[i], down - sig[i], n);
        } else {
            double t = -log((double)sig[i]), t_next = -log((double)down);
            double h = t_next - t, s = t + 0.5 * h;
            float sigma_s = (float)exp(-s);
            lincomb(x2, (float)(exp(-s) / sig[i]), x, (float)-expm1(-0.5 * h), den, n);
            MEND_TRY(ks_denoise(c, x2, sigma_s, den2));
            lincomb(x, (float)((double)down / sig[i]), x, (float)-expm1(-h), den2, n);
        }
        if (sig[i + 1] > 0.0f)
            MEND_TRY(step_noise(c, sig, i, x, noise, c->opts.s_noise * up));
    }
    return MEND_OK;
}

static mend_status run_dpmpp_sde(ks_ctx *c, const float *sig, int ns, float *x)
{
    const double r = 0.5;
    float *den = c->buf[0], *noise = c->buf[1], *x2 = c->buf[2], *den2 = c->buf[3];
    int64_t n = c->n;
    float eta = c->opts.eta, s_noise = c->opts.s_noise;
    for (int i = 0; i < ns - 1; i++) {
        MEND_TRY(ks_denoise_at(c, sig, i, x, den));
        if (sig[i + 1] == 0.0f) {
            euler_update(x, den, sig[i], sig[i + 1] - sig[i], n);
            continue;
        }
        double t = -log((double)sig[i]), t_next = -log((double)sig[i + 1]);
        double h = t_next - t, s = t + h * r, fac = 1.0 / (2.0 * r);
        float sigma_s = (float)exp(-s);
        /* step 1: to the midpoint sigma_s */
        float sd, su;
        ks_ancestral(sig[i], sigma_s, eta, &sd, &su);
        double s_ = -log((double)sd);
        lincomb(x2, (float)(exp(-s_) / sig[i]), x, (float)-expm1(t - s_), den, n);
        MEND_TRY(ks_noise(c, noise, sig[i], sigma_s));
        add_noise(x2, noise, s_noise * su, n);
        MEND_TRY(ks_denoise(c, x2, sigma_s, den2));
        /* step 2: to sigma_{i+1} with D' = (1-fac) D + fac D2 */
        ks_ancestral(sig[i], sig[i + 1], eta, &sd, &su);
        double tn_ = -log((double)sd);
        float ratio = (float)(exp(-tn_) / sig[i]), w = (float)-expm1(t - tn_);
        float a = (float)(1.0 - fac), b = (float)fac;
        for (int64_t k = 0; k < n; k++) {
            float dd = a * den[k] + b * den2[k];
            x[k] = ratio * x[k] + w * dd;
        }
        MEND_TRY(step_noise(c, sig, i, x, noise, s_noise * su));
    }
    return MEND_OK;
}

static mend_status run_dpmpp_2m_sde(ks_ctx *c, const float *sig, int ns, float *x, int heun)
{
    float *den = c->buf[0], *old = c->buf[1], *noise = c->buf[2];
    int64_t n = c->n;
    double eta = c->opts.eta, h_last = 0;
    int have_old = 0;
    for (int i = 0; i < ns - 1; i++) {
        MEND_TRY(ks_denoise_at(c, sig, i, x, den));
        if (sig[i + 1] == 0.0f) {
            memcpy(x, den, (size_t)n * sizeof *x);
        } else {
            double h = -log((double)sig[i + 1]) + log((double)sig[i]), eta_h = eta * h;
            double w = -expm1(-h - eta_h);
            lincomb(x, (float)((double)sig[i + 1] / sig[i] * exp(-eta_h)), x, (float)w, den, n);
            if (have_old) {
                double r = h_last / h;
                float corr = heun ? (float)((w / (-h - eta_h) + 1.0) * (1.0 / r)) : (float)(0.5 * w * (1.0 / r));
                for (int64_t k = 0; k < n; k++)
                    x[k] = x[k] + corr * (den[k] - old[k]);
            }
            if (eta != 0.0) {
                MEND_TRY(step_noise(c, sig, i, x, noise,
                                    (float)(sig[i + 1] * sqrt(-expm1(-2.0 * eta_h)) * c->opts.s_noise)));
            }
            h_last = h;
        }
        have_old = 1;
        swap_buffers(&old, &den);
    }
    return MEND_OK;
}

static mend_status run_dpmpp_3m_sde(ks_ctx *c, const float *sig, int ns, float *x)
{
    float *den = c->buf[0], *den1 = c->buf[1], *den2 = c->buf[2], *noise = c->buf[3];
    int64_t n = c->n;
    double eta = c->opts.eta, h = 0, h1 = 0, h2 = 0;
    int have1 = 0, have2 = 0;
    for (int i = 0; i < ns - 1; i++) {
        MEND_TRY(ks_denoise_at(c, sig, i, x, den));
        if (sig[i + 1] == 0.0f) {
            memcpy(x, den, (size_t)n * sizeof *x);
        } else {
            h = -log((double)sig[i + 1]) + log((double)sig[i]);
            double h_eta = h * (eta + 1.0);
            lincomb(x, (float)exp(-h_eta), x, (float)-expm1(-h_eta), den, n);
            double phi2 = expm1(-h_eta) / h_eta + 1.0;
            if (have2) {
                double r0 = h1 / h, r1 = h2 / h;
                float fr0 = (float)r0, fr1 = (float)r1, frs = (float)(r0 + r1);
                float p2 = (float)phi2, p3 = (float)(phi2 / h_eta - 0.5);
                for (int64_t k = 0; k < n; k++) {
                    float d10 = (den[k] - den1[k]) / fr0;
                    float d11 = (den1[k] - den2[k]) / fr1;
                    float d1 = d10 + (d10 - d11) * fr0 / frs;
                    float d2 = (d10 - d11) / frs;
                    x[k] = x[k] + p2 * d1 - p3 * d2;
                }
            } else if (have1) {
                float fr = (float)(h1 / h), p2 = (float)phi2;
                for (int64_t k = 0; k < n; k++)
                    x[k] = x[k] + p2 * ((den[k] - den1[k]) / fr);
            }
            if (eta != 0.0) {
                MEND_TRY(step_noise(c, sig, i, x, noise,
                                    (float)(sig[i + 1] * sqrt(-expm1(-2.0 * h * eta)) * c->opts.s_noise)));
            }
        }
        /* denoised_1, denoised_2 = denoised, denoised_1; h_1, h_2 = h, h_1 */
        float *tmp = den2;
        den2 = den1;
        den1 = den;
        den = tmp;
        have2 = have1;
        have1 = 1;
        h2 = h1;
        h1 = h;
    }
    return MEND_OK;
}

mend_status mend_sample(mend_sampler_kind kind, const mend_sampler_opts *opts, const float *sigmas, int n_sigmas,
                        float *x, int64_t n, const mend_sampler_callbacks *cb, mend_err *err)
{
    const mend_sampler_info *info = mend_sampler_get(kind);
    if (!info)
        return mend_fail(err, MEND_E_ARG, "sampler: unknown sampler id %d", (int)kind);
    if (info->flags & MEND_SAMPLER_TIMESTEPS)
        return mend_fail(err, MEND_E_ARG, "sampler %s is timestep based: use mend_sample_timesteps()", info->name);
    if (!sigmas || n_sigmas < 2)
        return mend_fail(err, MEND_E_ARG, "sampler %s: need at least 2 sigmas, got %d", info->name, n_sigmas);
    for (int i = 0; i < n_sigmas; i++)
        if (!(sigmas[i] >= 0.0f) || (i + 1 < n_sigmas && sigmas[i] == 0.0f))
            return mend_fail(err, MEND_E_ARG, "sampler %s: sigma[%d] = %g (must be > 0 except the last)",
                             info->name, i, (double)sigmas[i]);
    ks_ctx c;
    MEND_TRY(ks_init(&c, opts, kind, n, n_sigmas - 1, KS_BUFS, cb, err));
    mend_status st;
    switch (kind) {
    case MEND_SAMPLER_EULER: st = run_euler(&c, sigmas, n_sigmas, x); break;
    case MEND_SAMPLER_EULER_A: st = run_euler_a(&c, sigmas, n_sigmas, x); break;
    case MEND_SAMPLER_HEUN: st = run_heun(&c, sigmas, n_sigmas, x); break;
    case MEND_SAMPLER_DPM2: st = run_dpm2(&c, sigmas, n_sigmas, x); break;
    case MEND_SAMPLER_DPM2_A: st = run_dpm2_a(&c, sigmas, n_sigmas, x); break;
    case MEND_SAMPLER_LMS: st = run_lms(&c, sigmas, n_sigmas, x); break;
    case MEND_SAMPLER_DPMPP_2M: st = run_dpmpp_2m(&c, sigmas, n_sigmas, x); break;
    case MEND_SAMPLER_DPMPP_2S_A: st = run_dpmpp_2s_a(&c, sigmas, n_sigmas, x); break;
    case MEND_SAMPLER_DPMPP_SDE: st = run_dpmpp_sde(&c, sigmas, n_sigmas, x); break;
    case MEND_SAMPLER_DPMPP_2M_SDE: st = run_dpmpp_2m_sde(&c, sigmas, n_sigmas, x, 0); break;
    case MEND_SAMPLER_DPMPP_2M_SDE_HEUN: st = run_dpmpp_2m_sde(&c, sigmas, n_sigmas, x, 1); break;
    case MEND_SAMPLER_DPMPP_3M_SDE: st = run_dpmpp_3m_sde(&c, sigmas, n_sigmas, x); break;
    case MEND_SAMPLER_LCM: st = ks_run_lcm(&c, sigmas, n_sigmas, x); break;
    default: st = mend_fail(err, MEND_E_ARG, "sampler %s: not a k-diffusion sampler", info->name); break;
    }
    ks_free(&c);
    return st;
}

/* ------------------------------------------------------------------ DDIM */

int mend_ddim_timestep(int steps, int k)
{
    int stride = 1000 / steps;
    int t = 1 + k * stride;
    return t < 999 ? t : 999;
}

int mend_ddim_count(int steps)
{
    return 999 / (1000 / steps) + 1;
}

mend_status ks_check_ddim_args(const char *name, int steps, int first_index, mend_err *err)
{
    if (steps < 2 || steps > 1000)
        return mend_fail(err, MEND_E_ARG, "sampler %s: steps must be in 2..1000, got %d", name, steps);
    int last = mend_ddim_count(steps) - 1;
    if (first_index < 1 || first_index > last)
        return mend_fail(err, MEND_E_ARG, "sampler %s: first index %d outside 1..%d", name, first_index, last);
    return MEND_OK;
}

mend_status mend_sample_ddim(const mend_noise_schedule *s, int steps, int first_index, const mend_sampler_opts *opts,
                             float *x, int64_t n, const mend_sampler_callbacks *cb, mend_err *err)
{
    MEND_TRY(ks_check_ddim_args("DDIM", steps, first_index, err));
    ks_ctx c;
    MEND_TRY(ks_init(&c, opts, MEND_SAMPLER_DDIM, n, first_index, KS_BUFS, cb, err));
    float *xk = c.buf[0], *den = c.buf[1], *eps = c.buf[2], *noise = c.buf[3];
    mend_status st = MEND_OK;
    double eta = c.opts.eta;
    for (int idx = first_index, step = 0; idx >= 1 && st == MEND_OK; idx--, step++) {
        int tau = mend_ddim_timestep(steps, idx), tau_prev = mend_ddim_timestep(steps, idx - 1);
        double a = s->alphas_cumprod[tau], a_prev = s->alphas_cumprod[tau_prev];
        float sigma = s->sigmas[tau];
        /* eps(x, tau) through the k-diffusion denoiser: x_k = x / sqrt(a) */
        float to_k = (float)(1.0 / sqrt(a));
        for (int64_t k = 0; k < n; k++)
            xk[k] = x[k] * to_k;
        st = ks_denoise(&c, xk, sigma, den);
        if (st != MEND_OK)
            break;
        for (int64_t k = 0; k < n; k++)
            eps[k] = (xk[k] - den[k]) / sigma;
        st = ks_step(&c, step, x, den, sigma, sigma);
        if (st != MEND_OK)
            break;
        double sigma_eta = eta * sqrt((1.0 - a_prev) / (1.0 - a) * (1.0 - a / a_prev));
        float c_x0 = (float)sqrt(a_prev), sqrt_1ma = (float)sqrt(1.0 - a), inv_sqrt_a = (float)(1.0 / sqrt(a));
        float c_eps = (float)sqrt(1.0 - a_prev - sigma_eta * sigma_eta);
        for (int64_t k = 0; k < n; k++) {
            float x0 = (x[k] - sqrt_1ma * eps[k]) * inv_sqrt_a;
            x[k] = c_x0 * x0 + c_eps * eps[k];
        }
        if (sigma_eta != 0.0) {
            st = ks_noise(&c, noise, sigma, s->sigmas[tau_prev]);
            if (st == MEND_OK)
                add_noise(x, noise, (float)sigma_eta, n);
        }
    }
    ks_free(&c);
    return st;
}
