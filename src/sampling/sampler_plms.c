/* A1111's PLMS (sd_samplers_timesteps_impl.plms) on DDIM's timesteps:
 * the first step is a pseudo improved Euler step (two model calls, eps
 * averaged), then Adams-Bashforth of order 2, 3, 4 on the eps history.
 * The model is reached through the k-diffusion denoiser exactly as in
 * mend_sample_ddim (x_k = x / sqrt(abar), eps = (x_k - D) / sigma). */
#include "sampling/sampler_impl.h"

#include <math.h>
#include <string.h>

/* eps(x, tau) through the denoiser callback; tmp and den are scratch. */
static mend_status eps_at(ks_ctx *c, const mend_noise_schedule *s, int tau, const float *x, float *tmp, float *den,
                          float *eps)
{
    float to_k = (float)(1.0 / sqrt((double)s->alphas_cumprod[tau])), sigma = s->sigmas[tau];
    for (int64_t k = 0; k < c->n; k++)
        tmp[k] = x[k] * to_k;
    MEND_TRY(ks_denoise(c, tmp, sigma, den));
    for (int64_t k = 0; k < c->n; k++)
        eps[k] = (tmp[k] - den[k]) / sigma;
    return MEND_OK;
}

/* get_x_prev_and_pred_x0: the DDIM (eta 0) update with eps e. */
static void x_prev(const float *x, const float *e, double a, double a_prev, float *out, int64_t n)
{
    float sqrt_1ma = (float)sqrt(1.0 - a), sqrt_a = (float)sqrt(a);
    float sqrt_ap = (float)sqrt(a_prev), dir = (float)sqrt(1.0 - a_prev);
    for (int64_t k = 0; k < n; k++) {
        float x0 = (x[k] - sqrt_1ma * e[k]) / sqrt_a;
        out[k] = sqrt_ap * x0 + dir * e[k];
    }
}

mend_status mend_sample_plms(const mend_noise_schedule *s, int steps, int first_index, float *x, int64_t n,
                             const mend_sampler_callbacks *cb, mend_err *err)
{
    MEND_TRY(ks_check_ddim_args("PLMS", steps, first_index, err));
    ks_ctx c;
    /* buffers: tmp, den, e_t, e_prime, old[0..2] (newest first), next x */
    MEND_TRY(ks_init(&c, NULL, MEND_SAMPLER_PLMS, n, first_index, 8, cb, err));
    float *tmp = c.buf[0], *den = c.buf[1], *et = c.buf[2], *ep = c.buf[3], *xn = c.buf[7];
    float *old[3] = {c.buf[4], c.buf[5], c.buf[6]};
    int n_old = 0;
    mend_status st = MEND_OK;
    for (int idx = first_index, step = 0; idx >= 1 && st == MEND_OK; idx--, step++) {
        int tau = mend_ddim_timestep(steps, idx), tau_prev = mend_ddim_timestep(steps, idx - 1);
        double a = s->alphas_cumprod[tau], a_prev = s->alphas_cumprod[tau_prev];
        st = eps_at(&c, s, tau, x, tmp, den, et);
        if (st == MEND_OK)
            st = ks_step(&c, step, x, den, s->sigmas[tau], s->sigmas[tau]);
        if (st != MEND_OK)
            break;
        if (n_old == 0) {
            x_prev(x, et, a, a_prev, xn, n);
            st = eps_at(&c, s, tau_prev, xn, tmp, den, ep);
            for (int64_t k = 0; st == MEND_OK && k < n; k++)
                ep[k] = (et[k] + ep[k]) / 2;
        } else {
            for (int64_t k = 0; k < n; k++) {
                if (n_old == 1)
                    ep[k] = (3 * et[k] - old[0][k]) / 2;
                else if (n_old == 2)
                    ep[k] = (23 * et[k] - 16 * old[0][k] + 5 * old[1][k]) / 12;
                else
                    ep[k] = (55 * et[k] - 59 * old[0][k] + 37 * old[1][k] - 9 * old[2][k]) / 24;
            }
        }
        if (st != MEND_OK)
            break;
        x_prev(x, ep, a, a_prev, x, n);
        /* keep the last three eps, newest first */
        float *oldest = old[2];
        old[2] = old[1];
        old[1] = old[0];
        old[0] = oldest;
        memcpy(old[0], et, (size_t)n * sizeof *et);
        n_old = n_old < 3 ? n_old + 1 : 3;
    }
    ks_free(&c);
    return st;
}
