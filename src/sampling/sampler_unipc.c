/* A1111's UniPC (modules/models/diffusion/uni_pc, sd_samplers_timesteps_impl
 * .unipc) with A1111's settings: variant bh1, skip type time_uniform, order
 * 3, lower order final, data prediction, multistep.
 *
 * The noise schedule is NoiseScheduleVP('discrete'): log alpha_t piecewise
 * linear in t over t_i = (i + 1) / 1000, with log alpha = 0.5 log(abar);
 * sigma_t = sqrt(1 - alpha_t^2), lambda_t = log alpha_t - log sigma_t. The
 * model is eps at the fractional timestep (t - 1/1000) * 1000, reached
 * through the denoiser callback with that timestep given (ks_denoise_t):
 * x_k = x * sqrt(sigma^2 + 1) at sigma = the k-diffusion sigma of the
 * timestep, so the model sees x, and eps = (x_k - D) / sigma. Everything is
 * float32, as torch computes it. */
#include "sampling/sampler_impl.h"

#include <math.h>
#include <string.h>

#define UNIPC_ORDER 3
#define N_TRAIN 1000

typedef struct unipc_sched {
    float t[N_TRAIN];         /* t_array: linspace(0, 1, 1001)[1:] */
    float log_alpha[N_TRAIN]; /* 0.5 * log(alphas_cumprod) */
} unipc_sched;

static void sched_init(unipc_sched *u, const mend_noise_schedule *s)
{
    for (int i = 0; i < N_TRAIN; i++) {
        u->t[i] = mend_linspace_f32(0.0f, 1.0f, N_TRAIN + 1, i + 1);
        u->log_alpha[i] = 0.5f * logf(s->alphas_cumprod[i]);
    }
}

/* interpolate_fn: the segment whose keypoints bracket t (the outer ones beyond the ends). */
static float log_alpha_at(const unipc_sched *u, float t)
{
    int j = 0;
    while (j < N_TRAIN - 2 && u->t[j + 1] < t)
        j++;
    float x0 = u->t[j], x1 = u->t[j + 1], y0 = u->log_alpha[j], y1 = u->log_alpha[j + 1];
    return y0 + (t - x0) * (y1 - y0) / (x1 - x0);
}

static float std_at(const unipc_sched *u, float t)
{
    return sqrtf(1.0f - expf(2.0f * log_alpha_at(u, t)));
}

static float lambda_at(const unipc_sched *u, float t)
{
    float la = log_alpha_at(u, t);
    return la - 0.5f * logf(1.0f - expf(2.0f * la));
}

typedef struct unipc_run {
    ks_ctx *c;
    const mend_noise_schedule *s;
    unipc_sched u;
    float *tmp, *den; /* scratch for the model call */
    int index;        /* after_update's step counter */
} unipc_run;

/* data_prediction_fn: x0 = (x - sigma_t * eps(x, t)) / alpha_t into out. */
static mend_status x0_at(unipc_run *r, const float *x, float t, float *out)
{
    ks_ctx *c = r->c;
    float t_input = (t - 1.0f / (float)N_TRAIN) * 1000.0f;
    float sigma = mend_schedule_t_to_sigma(r->s, t_input), to_k = sqrtf(sigma * sigma + 1.0f);
    for (int64_t k = 0; k < c->n; k++)
        r->tmp[k] = x[k] * to_k;
    MEND_TRY(ks_denoise_t(c, r->tmp, sigma, t_input, r->den));
    float la = log_alpha_at(&r->u, t), alpha = expf(la), sd = sqrtf(1.0f - expf(2.0f * la));
    for (int64_t k = 0; k < c->n; k++) {
        float eps = (r->tmp[k] - r->den[k]) / sigma;
        out[k] = (x[k] - sd * eps) / alpha;
    }
    return MEND_OK;
}

/* torch.linalg.solve for n <= 3: Gaussian elimination with partial pivoting (LAPACK's sgesv). */
static void solve(int n, float a[3][3], float *b, float *x)
{
    for (int col = 0; col < n; col++) {
        int piv = col;
        for (int r = col + 1; r < n; r++)
            if (fabsf(a[r][col]) > fabsf(a[piv][col]))
                piv = r;
        for (int k = 0; k < n && piv != col; k++) {
            float t = a[col][k];
            a[col][k] = a[piv][k];
            a[piv][k] = t;
        }
        if (piv != col) {
            float t = b[col];
            b[col] = b[piv];
            b[piv] = t;
        }
        for (int r = col + 1; r < n; r++) {
            float f = a[r][col] / a[col][col];
            for (int k = col; k < n; k++)
                a[r][k] -= f * a[col][k];
            b[r] -= f * b[col];
        }
    }
    for (int r = n - 1; r >= 0; r--) {
        float v = b[r];
        for (int k = r + 1; k < n; k++)
            v -= a[r][k] * x[k];
        x[r] = v / a[r][r];
    }
}

/* The B(h) coefficients of one update: rhos_p (predictor) and rhos_c (corrector). */
static void coefficients(const float *rks, int order, float hh, float *rhos_p, float *rhos_c)
{
    float R[3][3], b[3], h_phi_k = expm1f(hh) / hh - 1.0f, factorial = 1.0f, B_h = hh; /* bh1 */
    for (int i = 1; i <= order; i++) {
        for (int k = 0; k < order; k++)
            R[i - 1][k] = powf(rks[k], (float)(i - 1));
        b[i - 1] = h_phi_k * factorial / B_h;
        factorial *= (float)(i + 1);
        h_phi_k = h_phi_k / hh - 1.0f / factorial;
    }
    if (order == 2) {
        rhos_p[0] = 0.5f;
    } else if (order == 3) {
        float a[3][3] = {{R[0][0], R[0][1]}, {R[1][0], R[1][1]}}, bb[3] = {b[0], b[1]};
        solve(2, a, bb, rhos_p);
    }
    if (order == 1) {
        rhos_c[0] = 0.5f;
    } else {
        float bb[3] = {b[0], b[1], b[2]};
        solve(order, R, bb, rhos_c);
    }
}

/* multistep_uni_pc_bh_update from the model values m[0..nprev) (oldest first) at times tp[]: x becomes x_t;
 * with the corrector, m_t gets the model value at t (else it is left alone). d1 holds 2 scratch buffers. */
static mend_status bh_update(unipc_run *r, float *x, float *const *m, const float *tp, int nprev, float t,
                             int order, int corrector, float *xt_, float *const *d1, float *m_t)
{
    const unipc_sched *u = &r->u;
    int64_t n = r->c->n;
    float t0 = tp[nprev - 1], lambda_0 = lambda_at(u, t0), lambda_t = lambda_at(u, t);
    const float *m0 = m[nprev - 1];
    float sigma_0 = std_at(u, t0), sigma_t = std_at(u, t), alpha_t = expf(log_alpha_at(u, t));
    float h = lambda_t - lambda_0, rks[3];
    for (int i = 1; i < order; i++) {
        rks[i - 1] = (lambda_at(u, tp[nprev - 1 - i]) - lambda_0) / h;
        const float *mi = m[nprev - 1 - i];
        for (int64_t k = 0; k < n; k++)
            d1[i - 1][k] = (mi[k] - m0[k]) / rks[i - 1];
    }
    rks[order - 1] = 1.0f;
    float hh = -h, rhos_p[3] = {0}, rhos_c[3] = {0};
    coefficients(rks, order, hh, rhos_p, rhos_c);
    float c_x = sigma_t / sigma_0, c_m = alpha_t * expm1f(hh), c_b = alpha_t * hh;
    for (int64_t k = 0; k < n; k++) {
        xt_[k] = c_x * x[k] - c_m * m0[k];
        float pred = 0.0f;
        for (int i = 0; i + 1 < order; i++)
            pred += rhos_p[i] * d1[i][k];
        x[k] = order > 1 ? xt_[k] - c_b * pred : xt_[k];
    }
    if (!corrector)
        return MEND_OK;
    MEND_TRY(x0_at(r, x, t, m_t));
    for (int64_t k = 0; k < n; k++) {
        float corr = 0.0f;
        for (int i = 0; i + 1 < order; i++)
            corr += rhos_c[i] * d1[i][k];
        x[k] = xt_[k] - c_b * (corr + rhos_c[order - 1] * (m_t[k] - m0[k]));
    }
    return MEND_OK;
}

/* after_update: A1111's callback with the step's x and model value. */
static mend_status after_update(unipc_run *r, const float *x, const float *model_x, float t)
{
    float sigma = mend_schedule_t_to_sigma(r->s, (t - 1.0f / (float)N_TRAIN) * 1000.0f);
    return ks_step(r->c, r->index++, x, model_x, sigma, sigma);
}

/* The index of the model value buffer that the list (pool indexes used[0..nprev)) does not hold. */
static int free_slot(const int *used, int nprev)
{
    for (int p = 0; p < UNIPC_ORDER; p++) {
        int taken = 0;
        for (int i = 0; i < nprev && i < UNIPC_ORDER; i++)
            taken |= used[i] == p;
        if (!taken)
            return p;
    }
    return UNIPC_ORDER; /* the pool has one more buffer than the list */
}

mend_status mend_sample_unipc(const mend_noise_schedule *s, int steps, int first_index, int img2img, float *x,
                              int64_t n, const mend_sampler_callbacks *cb, mend_err *err)
{
    int N = first_index + 1; /* len(timesteps) */
    if (N < UNIPC_ORDER) /* A1111 asserts "UniPC order must be < sampling steps" */
        return mend_fail(err, MEND_E_ARG, "sampler UniPC: %d timesteps to run, fewer than its order %d (more steps "
                         "or a higher denoising strength)", N > 0 ? N : 0, UNIPC_ORDER);
    MEND_TRY(ks_check_ddim_args("UniPC", steps, first_index, err));
    ks_ctx c;
    /* buffers: tmp, den, x_t_, 2 x D1, 4 model values (the list of 3 and the new one) */
    MEND_TRY(ks_init(&c, NULL, MEND_SAMPLER_UNIPC, n, N, 9, cb, err));
    unipc_run r = {&c, s, {{0}, {0}}, c.buf[0], c.buf[1], 0};
    sched_init(&r.u, s);
    float *xt_ = c.buf[2], *d1[2] = {c.buf[3], c.buf[4]};
    float *pool[UNIPC_ORDER + 1] = {c.buf[5], c.buf[6], c.buf[7], c.buf[8]}, *m[UNIPC_ORDER] = {pool[0], NULL, NULL};
    int used[UNIPC_ORDER] = {0, -1, -1}; /* pool index of each m[] */
    /* t_start: A1111's timesteps[-1] / 1000 + 1 / 1000 for img2img, else T = 1 */
    float t_T = img2img ? (float)mend_ddim_timestep(steps, first_index) / 1000.0f + 0.001f : 1.0f;
    float t_0 = 1.0f / (float)N_TRAIN, tp[UNIPC_ORDER] = {mend_linspace_f32(t_T, t_0, N + 1, 0)};
    mend_status st = x0_at(&r, x, tp[0], m[0]);
    int nprev = 1;
    for (int step = 1; st == MEND_OK && step <= N; step++) {
        float t = mend_linspace_f32(t_T, t_0, N + 1, step);
        /* lower orders while the list fills, and again at the end (lower_order_final) */
        int order = step < UNIPC_ORDER ? step : (UNIPC_ORDER < N + 1 - step ? UNIPC_ORDER : N + 1 - step);
        int corrector = step < N; /* no corrector, and no model call, at the last step */
        int slot = free_slot(used, nprev);
        float *m_t = pool[slot];
        st = bh_update(&r, x, m, tp, nprev, t, order, corrector, xt_, d1, m_t);
        if (st == MEND_OK)
            st = after_update(&r, x, corrector ? m_t : x, t);
        if (nprev == UNIPC_ORDER) { /* the oldest value leaves the list */
            for (int i = 0; i + 1 < UNIPC_ORDER; i++) {
                m[i] = m[i + 1];
                used[i] = used[i + 1];
                tp[i] = tp[i + 1];
            }
            nprev--;
        }
        m[nprev] = m_t;
        used[nprev] = slot;
        tp[nprev++] = t;
    }
    ks_free(&c);
    return st;
}
