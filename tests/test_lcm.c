/* LCM sigma machinery against samplers/lcm_schedules.safetensors: the 50
 * levels, sigma -> t (exact integers), t -> sigma, the default schedule for
 * 1..50 steps and every A1111 scheduler under LCM (1e-5 relative); and the
 * LCM sampler on a perfect denoiser (it must land on the target). */
#include "sampling_fixture.h"

#include "sampling/lcm.h"
#include "sampling/sampler.h"

#include <stdlib.h>
#include <string.h>



TEST(levels_and_conversions)
{
    REQUIRE_SD1_REFERENCE(f, s, "samplers/lcm_schedules.safetensors");
    mend_lcm_schedule l;
    mend_lcm_init(&l, &s);
    int64_t n = 0, m = 0;
    float *want = test_load_f32(f, "lcm/model_sigmas", &n);
    CHECK(want && n == MEND_LCM_LEVELS && test_max_rel_err(l.sigmas, want, n) <= 1e-6);
    free(want);
    want = test_load_f32(f, "lcm/log_sigmas", &n);
    CHECK(want && n == MEND_LCM_LEVELS && test_max_rel_err(l.log_sigmas, want, n) <= 1e-6);
    free(want);
    float *in = test_load_f32(f, "lcm/sigma_to_t/sigmas_in", &n), *out = test_load_f32(f, "lcm/sigma_to_t/t_out", &m);
    int exact = in && out && n == m;
    for (int64_t i = 0; exact && i < n; i++)
        CHECK_MSG(mend_lcm_sigma_to_t(&l, in[i]) == out[i], "sigma_to_t(%g) = %g, A1111 %g", (double)in[i],
                  (double)mend_lcm_sigma_to_t(&l, in[i]), (double)out[i]);
    CHECK(exact);
    free(in);
    free(out);
    in = test_load_f32(f, "lcm/t_to_sigma/t_in", &n);
    out = test_load_f32(f, "lcm/t_to_sigma/sigma_out", &m);
    CHECK(in && out && n == m && n <= 256);
    float got[256];
    for (int64_t i = 0; in && out && n == m && i < n && i < 256; i++)
        got[i] = mend_lcm_t_to_sigma(&l, in[i]);
    if (in && out && n == m && n <= 256)
        CHECK_MSG(test_max_rel_err(got, out, n) <= 1e-5, "t_to_sigma max rel err %g", test_max_rel_err(got, out, n));
    free(in);
    free(out);
    mend_tf_close(f);
}

TEST(schedules_match)
{
    REQUIRE_SD1_REFERENCE(f, s, "samplers/lcm_schedules.safetensors");
    const mend_sampler_info *lcm = NULL;
    mend_err err = {0};
    CHECK_OK(mend_sampler_from_name("LCM", &lcm, &err), &err);
    int compared = 0;
    for (int i = 0; lcm && i < f->count; i++) {
        char name[128], sched[64];
        int steps = 0;
        snprintf(name, sizeof name, "%s", f->tensors[i].name);
        if (sscanf(name, "lcm/%63[a-z_]/steps%d", sched, &steps) != 2)
            continue;
        mend_scheduler sch;
        CHECK_OK(mend_scheduler_from_name(sched, &sch, &err), &err);
        float out[1024];
        int n = 0;
        CHECK_OK(mend_sampler_sigmas(lcm, &s, sch, steps, out, &n, &err), &err);
        int64_t nw = 0;
        float *want = test_load_f32(f, name, &nw);
        double e = want && nw == n ? test_max_rel_err(out, want, n) : INFINITY;
        CHECK_MSG(nw == n && e <= 1e-5, "%s: %d sigmas (want %lld), max rel err %g", name, n, (long long)nw, e);
        printf("  %-30s %2d sigmas, max rel err %.2e\n", name, n, e);
        free(want);
        compared++;
    }
    CHECK_MSG(compared >= 30, "only %d LCM schedules compared", compared);
    mend_tf_close(f);
}

/* A perfect denoiser (D = target): one LCM step lands on it, later steps
 * re-noise with sigma_next * noise and denoise back. */
typedef struct {
    const float *target;
    int calls, draws;
} perfect;

static mend_status perfect_d(void *u, const float *x, float sigma, float *d, mend_err *err)
{
    (void)x, (void)sigma, (void)err;
    perfect *p = u;
    memcpy(d, p->target, 8 * sizeof *d);
    p->calls++;
    return MEND_OK;
}

static void ones(void *u, float *out, int64_t n, float s, float sn)
{
    (void)s, (void)sn;
    ((perfect *)u)->draws++;
    for (int64_t i = 0; i < n; i++)
        out[i] = 1.0f;
}

TEST(sampler_perfect_denoiser)
{
    mend_noise_schedule s;
    mend_schedule_init_sd1(&s);
    const mend_sampler_info *lcm = mend_sampler_get(MEND_SAMPLER_LCM);
    CHECK(lcm && !strcmp(lcm->name, "LCM") && !strcmp(lcm->alias, "k_lcm"));
    float sig[16], x[8], target[8] = {0.5f, -1, 2, 0, 0.25f, -0.75f, 1.5f, -2};
    int ns = 0;
    mend_err err = {0};
    CHECK_OK(mend_sampler_sigmas(lcm, &s, MEND_SCHED_AUTOMATIC, 4, sig, &ns, &err), &err);
    CHECK(ns == 5 && sig[4] == 0.0f && sig[0] > sig[1]);
    for (int i = 0; i < 8; i++)
        x[i] = 3.0f * sig[0];
    perfect p = {target, 0, 0};
    mend_sampler_callbacks cb = {perfect_d, ones, NULL, &p, NULL};
    CHECK_OK(mend_sample(MEND_SAMPLER_LCM, NULL, sig, ns, x, 8, &cb, &err), &err);
    CHECK(p.calls == 4 && p.draws == 3);
    for (int i = 0; i < 8; i++)
        CHECK_NEAR(x[i], target[i], 1e-6);
}

TEST(scalings)
{
    mend_noise_schedule s;
    mend_schedule_init_sd1(&s);
    mend_lcm_schedule l;
    mend_lcm_init(&l, &s);
    float cs, co;
    mend_lcm_scalings(&l, l.sigmas[0], &cs, &co); /* t = 19: scaled 190 */
    CHECK(mend_lcm_sigma_to_t(&l, l.sigmas[0]) == 19.0f && mend_lcm_sigma_to_t(&l, l.sigmas[49]) == 999.0f);
    CHECK_NEAR(cs, 0.25 / (190.0 * 190.0 + 0.25), 1e-9);
    CHECK_NEAR(co, 190.0 / sqrt(190.0 * 190.0 + 0.25), 1e-6);
}

int main(void)
{
    RUN(levels_and_conversions);
    RUN(schedules_match);
    RUN(sampler_perfect_denoiser);
    RUN(scalings);
    return test_summary();
}
