/* SD discrete noise schedule and A1111 sigma schedules; see schedule.h.
 * Arithmetic follows the float32/float64 split of the torch code it mirrors
 * so that results agree to float32 rounding. */
#include "sampling/schedule.h"

#include "sampling/beta.h"

#include "mend/params.h"

#include <math.h>
#include <string.h>
#include <strings.h>

/* torch.linspace element i (CPU kernel): the first half counts up from
 * start, the second half counts down from end. float32 version. */
float mend_linspace_f32(float start, float end, int n, int i)
{
    if (n == 1)
        return start;
    float step = (end - start) / (float)(n - 1);
    if (i < n / 2)
        return start + step * (float)i;
    return end - step * (float)(n - 1 - i);
}

static double linspace_f64(double start, double end, int n, int i)
{
    if (n == 1)
        return start;
    double step = (end - start) / (double)(n - 1);
    if (i < n / 2)
        return start + step * (double)i;
    return end - step * (double)(n - 1 - i);
}

mend_status mend_schedule_init_linear(mend_noise_schedule *s, double linear_start, double linear_end, mend_err *err)
{
    if (!(linear_start > 0 && linear_end > linear_start && linear_end < 1))
        return mend_fail(err, MEND_E_ARG, "noise schedule: need 0 < linear_start (%g) < linear_end (%g) < 1",
                         linear_start, linear_end);
    double a = sqrt(linear_start), b = sqrt(linear_end), cumprod = 1.0;
    for (int i = 0; i < MEND_TRAIN_STEPS; i++) {
        double root_beta = linspace_f64(a, b, MEND_TRAIN_STEPS, i);
        cumprod *= 1.0 - root_beta * root_beta; /* numpy cumprod in float64 */
        float ac = (float)cumprod;
        s->alphas_cumprod[i] = ac;
        s->sigmas[i] = sqrtf((1.0f - ac) / ac);
        s->log_sigmas[i] = logf(s->sigmas[i]);
    }
    return MEND_OK;
}

void mend_schedule_init_sd1(mend_noise_schedule *s)
{
    mend_schedule_init_linear(s, 0.00085, 0.012, NULL);
}

void mend_schedule_zero_terminal_snr(mend_noise_schedule *s)
{
    float sq[MEND_TRAIN_STEPS];
    for (int i = 0; i < MEND_TRAIN_STEPS; i++)
        sq[i] = sqrtf(s->alphas_cumprod[i]);
    float first = sq[0], last = sq[MEND_TRAIN_STEPS - 1], scale = first / (first - last);
    for (int i = 0; i < MEND_TRAIN_STEPS; i++) {
        float v = (sq[i] - last) * scale;
        s->alphas_cumprod[i] = v * v;
    }
    s->alphas_cumprod[MEND_TRAIN_STEPS - 1] = 4.8973451890853435e-08f; /* A1111's stand-in for 0 */
    for (int i = 0; i < MEND_TRAIN_STEPS; i++) {
        float ac = s->alphas_cumprod[i];
        s->sigmas[i] = sqrtf((1.0f - ac) / ac);
        s->log_sigmas[i] = logf(s->sigmas[i]);
    }
}

float mend_schedule_sigma_to_t(const mend_noise_schedule *s, float sigma)
{
    float log_sigma = logf(sigma);
    int lo = 0;
    for (int i = 0; i < MEND_TRAIN_STEPS; i++)
        if (log_sigma - s->log_sigmas[i] >= 0.0f)
            lo = i; /* last index with log_sigmas[i] <= ln sigma */
    if (lo > MEND_TRAIN_STEPS - 2)
        lo = MEND_TRAIN_STEPS - 2;
    int hi = lo + 1;
    float low = s->log_sigmas[lo], high = s->log_sigmas[hi];
    float w = (low - log_sigma) / (low - high);
    w = w < 0.0f ? 0.0f : w > 1.0f ? 1.0f : w;
    return (1.0f - w) * (float)lo + w * (float)hi;
}

float mend_log_sigma_at(const float *log_sigmas, int n, float u)
{
    if (u <= 0.0f)
        u = 0.0f;
    if (u >= (float)(n - 1))
        u = (float)(n - 1);
    int lo = (int)floorf(u), hi = (int)ceilf(u);
    float w = u - (float)lo;
    float log_sigma = (1.0f - w) * log_sigmas[lo] + w * log_sigmas[hi];
    return expf(log_sigma);
}

float mend_schedule_t_to_sigma(const mend_noise_schedule *s, float t)
{
    return mend_log_sigma_at(s->log_sigmas, MEND_TRAIN_STEPS, t);
}

/* ---------------------------------------------------------------- names */

/* The one list of schedule types: A1111's name, label, alias and its
 * sd_schedulers.py default_rho (-1: none) and need_inner_model. */
static const struct {
    const char *name, *label, *alias;
    double rho;
    int inner;
} sched_names[MEND_SCHED_COUNT] = {
    [MEND_SCHED_AUTOMATIC] = {"automatic", "Automatic", NULL, -1, 0},
    [MEND_SCHED_UNIFORM] = {"uniform", "Uniform", NULL, -1, 1},
    [MEND_SCHED_KARRAS] = {"karras", "Karras", NULL, 7, 0},
    [MEND_SCHED_EXPONENTIAL] = {"exponential", "Exponential", NULL, -1, 0},
    [MEND_SCHED_POLYEXPONENTIAL] = {"polyexponential", "Polyexponential", NULL, 1, 0},
    [MEND_SCHED_SGM_UNIFORM] = {"sgm_uniform", "SGM Uniform", "SGMUniform", -1, 1},
    [MEND_SCHED_KL_OPTIMAL] = {"kl_optimal", "KL Optimal", NULL, -1, 0},
    [MEND_SCHED_ALIGN_YOUR_STEPS] = {"align_your_steps", "Align Your Steps", NULL, -1, 0},
    [MEND_SCHED_SIMPLE] = {"simple", "Simple", NULL, -1, 1},
    [MEND_SCHED_NORMAL] = {"normal", "Normal", NULL, -1, 1},
    [MEND_SCHED_DDIM] = {"ddim", "DDIM", NULL, -1, 1},
    [MEND_SCHED_BETA] = {"beta", "Beta", NULL, -1, 0},
};

int mend_schedulers_count(void)
{
    return MEND_SCHED_COUNT;
}

mend_scheduler_entry mend_schedulers_at(int i)
{
    mend_scheduler_entry e = {0};
    if (i >= 0 && i < MEND_SCHED_COUNT)
        e = (mend_scheduler_entry){sched_names[i].name, sched_names[i].label, sched_names[i].alias, sched_names[i].rho,
                                   sched_names[i].inner};
    return e;
}

const char *mend_scheduler_label(mend_scheduler sch)
{
    return (unsigned)sch < MEND_SCHED_COUNT ? sched_names[sch].label : "?";
}

const char *mend_scheduler_name(mend_scheduler sch)
{
    return (unsigned)sch < MEND_SCHED_COUNT ? sched_names[sch].name : "?";
}

void mend_names_list(char *list, size_t size, int count, const char *(*name_at)(int i))
{
    list[0] = '\0';
    for (int i = 0; i < count; i++) {
        strncat(list, name_at(i), size - strlen(list) - 1);
        if (i + 1 < count)
            strncat(list, ", ", size - strlen(list) - 1);
    }
}

static const char *sched_label_at(int i) { return sched_names[i].label; }

mend_status mend_scheduler_from_name(const char *name, mend_scheduler *out, mend_err *err)
{
    for (int i = 0; name && i < MEND_SCHED_COUNT; i++)
        if (strcmp(name, sched_names[i].name) == 0 || strcmp(name, sched_names[i].label) == 0) {
            *out = (mend_scheduler)i;
            return MEND_OK;
        }
    for (int i = 0; name && i < MEND_SCHED_COUNT; i++)
        if (sched_names[i].alias && strcmp(name, sched_names[i].alias) == 0) {
            *out = (mend_scheduler)i;
            return MEND_OK;
        }
    char list[512];
    mend_names_list(list, sizeof list, MEND_SCHED_COUNT, sched_label_at);
    return mend_fail(err, MEND_E_ARG, "unknown schedule type '%s' (valid: %s)",
                     name ? name : "(null)", list);
}

/* -------------------------------------------------------------- schedules
 * Each writes n (+1) values and returns how many. */

static int sched_uniform(const mend_noise_schedule *s, int n, float *out)
{
    for (int i = 0; i < n; i++)
        out[i] = mend_schedule_t_to_sigma(s, mend_linspace_f32((float)(MEND_TRAIN_STEPS - 1), 0.0f, n, i));
    out[n] = 0.0f;
    return n + 1;
}

static int sched_karras(double smin, double smax, int n, float *out)
{
    const double rho = 7.0;
    float min_inv = (float)pow(smin, 1.0 / rho), max_inv = (float)pow(smax, 1.0 / rho);
    for (int i = 0; i < n; i++) {
        float ramp = mend_linspace_f32(0.0f, 1.0f, n, i);
        out[i] = powf(max_inv + ramp * (min_inv - max_inv), (float)rho);
    }
    out[n] = 0.0f;
    return n + 1;
}

static int sched_exponential(double smin, double smax, int n, float *out)
{
    for (int i = 0; i < n; i++)
        out[i] = expf(mend_linspace_f32((float)log(smax), (float)log(smin), n, i));
    out[n] = 0.0f;
    return n + 1;
}

static int sched_polyexponential(double smin, double smax, int n, float *out)
{
    const float rho = 1.0f;
    float span = (float)(log(smax) - log(smin)), base = (float)log(smin);
    for (int i = 0; i < n; i++) {
        float ramp = powf(mend_linspace_f32(1.0f, 0.0f, n, i), rho);
        out[i] = expf(ramp * span + base);
    }
    out[n] = 0.0f;
    return n + 1;
}

/* A1111 normal_scheduler: t_to_sigma over linspace(t(smax), t(smin), ...);
 * SGM Uniform takes n of n+1 points, Normal takes n points. */
static int sched_normal(const mend_noise_schedule *s, double smin, double smax, int n, int sgm, float *out)
{
    float start = mend_schedule_sigma_to_t(s, (float)smax), end = mend_schedule_sigma_to_t(s, (float)smin);
    int points = sgm ? n + 1 : n;
    for (int i = 0; i < n; i++)
        out[i] = mend_schedule_t_to_sigma(s, mend_linspace_f32(start, end, points, i));
    out[n] = 0.0f;
    return n + 1;
}

static int sched_kl_optimal(double smin, double smax, int n, float *out)
{
    float amin = atanf((float)smin), amax = atanf((float)smax);
    for (int i = 0; i <= n; i++) {
        float frac = (float)i / (float)n;
        out[i] = tanf(frac * amin + (1.0f - frac) * amax);
    }
    return n + 1;
}

static int sched_align_your_steps(int n, float *out)
{
    static const double sd1[11] = {14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029};
    if (n == 11) {
        for (int i = 0; i < 11; i++)
            out[i] = (float)sd1[i];
    } else {
        /* numpy interp of ln(sigma) (ascending order) on linspace(0, 1) */
        for (int i = 0; i < n; i++) {
            double x = linspace_f64(0.0, 1.0, n, i);
            double pos = x * 10.0;
            int k = (int)floor(pos);
            if (k >= 10)
                k = 9;
            double xk = linspace_f64(0.0, 1.0, 11, k), xk1 = linspace_f64(0.0, 1.0, 11, k + 1);
            double yk = log(sd1[10 - k]), yk1 = log(sd1[10 - (k + 1)]);
            double slope = (yk1 - yk) / (xk1 - xk);
            double y = x >= 1.0 ? log(sd1[0]) : slope * (x - xk) + yk;
            out[n - 1 - i] = (float)exp(y);
        }
    }
    out[n] = 0.0f;
    return n + 1;
}

static int sched_simple(const mend_noise_schedule *s, int n, float *out)
{
    double ss = (double)MEND_TRAIN_STEPS / n;
    for (int i = 0; i < n; i++)
        out[i] = s->sigmas[MEND_TRAIN_STEPS - 1 - (int)(i * ss)];
    out[n] = 0.0f;
    return n + 1;
}

static int sched_ddim(const mend_noise_schedule *s, int n, float *out)
{
    int ss = MEND_TRAIN_STEPS / n > 1 ? MEND_TRAIN_STEPS / n : 1;
    int count = 0;
    for (int x = 1; x < MEND_TRAIN_STEPS; x += ss)
        count++;
    int k = count - 1;
    for (int x = 1; x < MEND_TRAIN_STEPS; x += ss)
        out[k--] = s->sigmas[x];
    out[count] = 0.0f;
    return count + 1;
}

int mend_schedule_range_sigmas(mend_scheduler sch, double smin, double smax, int n, float *out)
{
    switch (sch) {
    case MEND_SCHED_KARRAS: return sched_karras(smin, smax, n, out);
    case MEND_SCHED_EXPONENTIAL: return sched_exponential(smin, smax, n, out);
    case MEND_SCHED_POLYEXPONENTIAL: return sched_polyexponential(smin, smax, n, out);
    case MEND_SCHED_KL_OPTIMAL: return sched_kl_optimal(smin, smax, n, out);
    case MEND_SCHED_ALIGN_YOUR_STEPS: return sched_align_your_steps(n, out);
    case MEND_SCHED_BETA: return mend_beta_schedule(smin, smax, n, MEND_BETA_DIST_ALPHA, MEND_BETA_DIST_BETA, out, NULL);
    default: return -1;
    }
}

mend_status mend_schedule_sigmas(const mend_noise_schedule *s, mend_scheduler sch, int steps, int discard_penultimate,
                                 float *out, int *n_out, mend_err *err)
{
    if (steps < 1 || steps > 100000)
        return mend_fail(err, MEND_E_ARG, "schedule: steps must be in 1..100000, got %d", steps);
    int n = steps + (discard_penultimate ? 1 : 0);
    double smin = s->sigmas[0], smax = s->sigmas[MEND_TRAIN_STEPS - 1];
    int count = mend_schedule_range_sigmas(sch, smin, smax, n, out);
    if (count < 0) {
        switch (sch) {
        case MEND_SCHED_AUTOMATIC:
        case MEND_SCHED_UNIFORM: count = sched_uniform(s, n, out); break;
        case MEND_SCHED_SGM_UNIFORM: count = sched_normal(s, smin, smax, n, 1, out); break;
        case MEND_SCHED_NORMAL: count = sched_normal(s, smin, smax, n, 0, out); break;
        case MEND_SCHED_SIMPLE: count = sched_simple(s, n, out); break;
        case MEND_SCHED_DDIM: count = sched_ddim(s, n, out); break;
        default: return mend_fail(err, MEND_E_ARG, "schedule: unknown scheduler id %d", (int)sch);
        }
    }
    if (discard_penultimate && count >= 2) {
        out[count - 2] = out[count - 1];
        count--;
    }
    *n_out = count;
    return MEND_OK;
}

int mend_img2img_t_enc(double strength, int steps)
{
    double s = strength < 0.999 ? strength : 0.999;
    if (s < 0)
        s = 0;
    return (int)(s * (double)steps);
}

int mend_img2img_start_index(double strength, int steps)
{
    return steps - mend_img2img_t_enc(strength, steps) - 1;
}
