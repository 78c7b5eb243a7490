/* Beta scheduler and the inverse regularized incomplete beta it needs,
 * against samplers/lcm_schedules.safetensors: scipy beta.ppf(x, 0.6, 0.6)
 * on a grid (<= 1e-9 absolute) and A1111's Beta schedules for several step
 * counts (float32: 1e-5 relative; the float64 values before rounding:
 * 1e-12 relative). */
#include "sampling_fixture.h"

#include "sampling/beta.h"
#include "sampling/schedule.h"

#include <stdlib.h>
#include <string.h>

static double *load_f64(const mend_tf *f, const char *name, int64_t *n)
{
    const mend_tf_tensor *t = mend_tf_find(f, name);
    CHECK_MSG(t && t->dtype == MEND_DT_F64, "%s: missing or not float64", name);
    if (!t || t->dtype != MEND_DT_F64)
        return NULL;
    *n = mend_tf_numel(t);
    double *v = malloc((size_t)*n * sizeof *v);
    mend_err err = {0};
    if (v)
        CHECK_OK(mend_tf_read_raw(f, t, v, &err), &err);
    return v;
}


TEST(ppf_matches_scipy)
{
    mend_tf *f = test_open_shared("samplers/lcm_schedules.safetensors");
    if (!f)
        return;
    int64_t nx = 0, nv = 0;
    double *x = load_f64(f, "beta/ppf/x", &nx), *want = load_f64(f, "beta/ppf/value", &nv);
    CHECK(x && want && nx == nv && nx > 10);
    double worst = 0;
    for (int64_t i = 0; x && want && nx == nv && i < nx; i++) {
        double e = fabs(mend_beta_ppf(x[i], 0.6, 0.6) - want[i]);
        worst = e > worst || e != e ? e : worst;
    }
    CHECK_MSG(worst <= 1e-9, "beta.ppf max abs err %.3g", worst);
    printf("  beta.ppf: %lld points, max abs err %.2e\n", (long long)nx, worst);
    free(x);
    free(want);
    mend_tf_close(f);
}

TEST(incomplete_beta_properties)
{
    /* symmetric a = b: I_0.5 = 1/2; a = b = 1: I_x = x; I_x(a,b) = 1 - I_{1-x}(b,a) */
    CHECK_NEAR(mend_beta_inc(0.6, 0.6, 0.5), 0.5, 1e-14);
    CHECK_NEAR(mend_beta_inc(1, 1, 0.3), 0.3, 1e-14);
    CHECK_NEAR(mend_beta_inc(2.5, 0.7, 0.2) + mend_beta_inc(0.7, 2.5, 0.8), 1.0, 1e-13);
    /* a = 2, b = 1: I_x = x^2 */
    CHECK_NEAR(mend_beta_ppf(0.25, 2, 1), 0.5, 1e-14);
    CHECK(isnan(mend_beta_ppf(1.5, 0.6, 0.6)) && isnan(mend_beta_ppf(0.5, -1, 0.6)));
    CHECK(mend_beta_ppf(0, 0.6, 0.6) == 0 && mend_beta_ppf(1, 0.6, 0.6) == 1);
}

TEST(beta_schedules_match)
{
    REQUIRE_SD1_REFERENCE(f, s, "samplers/lcm_schedules.safetensors");
    int compared = 0;
    for (int i = 0; i < f->count; i++) {
        const char *name = f->tensors[i].name;
        int steps = 0;
        char tail[32] = "";
        if (sscanf(name, "beta/steps%d%31s", &steps, tail) < 1)
            continue;
        float out[128];
        double out64[128];
        int n = 0;
        mend_err err = {0};
        CHECK_OK(mend_schedule_sigmas(&s, MEND_SCHED_BETA, steps, 0, out, &n, &err), &err);
        int n64 = mend_beta_schedule(s.sigmas[0], s.sigmas[MEND_TRAIN_STEPS - 1], steps, 0.6, 0.6, out, out64);
        CHECK(n == steps + 1 && n64 == n);
        int64_t nw = 0;
        double worst = 0;
        if (strcmp(tail, "/float64") == 0) {
            double *want = load_f64(f, name, &nw);
            for (int64_t k = 0; want && nw == n && k < nw; k++) {
                double e = fabs(out64[k] - want[k]) / (want[k] != 0 ? fabs(want[k]) : 1);
                worst = e > worst || e != e ? e : worst;
            }
            CHECK_MSG(nw == n && worst <= 1e-12, "%s: max rel err %.3g", name, worst);
            free(want);
        } else {
            float *want = test_load_f32(f, name, &nw);
            for (int64_t k = 0; want && nw == n && k < nw; k++) {
                double e = fabs((double)out[k] - want[k]) / (want[k] != 0 ? fabs(want[k]) : 1);
                worst = e > worst || e != e ? e : worst;
            }
            CHECK_MSG(nw == n && worst <= 1e-5, "%s: max rel err %.3g", name, worst);
            free(want);
        }
        printf("  %-24s max rel err %.2e\n", name, worst);
        compared++;
    }
    CHECK_MSG(compared >= 10, "only %d beta schedules compared", compared);
    mend_tf_close(f);
}

TEST(beta_scheduler_name)
{
    static const char *const names[] = {"Beta", "beta"};
    static const mend_scheduler want[] = {MEND_SCHED_BETA, MEND_SCHED_BETA};
    check_scheduler_names(names, want, 2);
}

int main(void)
{
    RUN(ppf_matches_scipy);
    RUN(incomplete_beta_properties);
    RUN(beta_scheduler_name);
    RUN(beta_schedules_match);
    return test_summary();
}
