/* The timestep samplers against A1111's own code run under torch with a
 * closed-form model in place of the UNet: UniPC (src/sampling/sampler_unipc.c)
 * against A1111's uni_pc.py trajectories (tests/data/unipc_a1111.json, from
 * tools/gen_unipc_reference.py; the model evaluated at the fractional
 * timesteps UniPC asks for, every step's x and model value must agree) and
 * PLMS against sd_samplers_timesteps_impl.plms (tests/data/plms_a1111.json,
 * tools/gen_plms_reference.py). Then UniPC in a job on tiny-sd1 from
 * ../shared (skipped without it). */
#include "pipeline_fixture.h"

#include "sampling/sampler.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_N 64
#define MAX_STEPS 64

typedef struct toy_run {
    mend_noise_schedule sched;
    int calls, steps_seen, bad_call;
    int64_t n;
    float x[MAX_STEPS][MAX_N], model_x[MAX_STEPS][MAX_N];
} toy_run;

static float toy_eps(float x, float t)
{
    return 0.5f * tanhf(0.9f * x + 0.002f * t - 0.3f) + 0.05f * x;
}

/* D(x_k) with x_k = x_vp * sqrt(sigma^2 + 1), as the CFG denoiser sees it. */
static mend_status toy_denoise_t(void *user, const float *x, float sigma, float t, float *out, mend_err *err)
{
    toy_run *r = user;
    (void)err;
    r->calls++;
    float s = sqrtf(sigma * sigma + 1.0f);
    for (int64_t k = 0; k < r->n; k++)
        out[k] = x[k] - sigma * toy_eps(x[k] / s, t);
    return MEND_OK;
}

/* UniPC must give the timestep: the sigma-only path would round it. */
static mend_status toy_denoise(void *user, const float *x, float sigma, float *out, mend_err *err)
{
    (void)x, (void)sigma, (void)out;
    ((toy_run *)user)->bad_call = 1;
    return mend_fail(err, MEND_E_ARG, "UniPC called the model without its timestep");
}

static mend_status toy_step(void *user, int step, int total, const float *x, const float *den, float sigma,
                            float sigma_hat, mend_err *err)
{
    toy_run *r = user;
    (void)total, (void)sigma, (void)sigma_hat, (void)err;
    if (step < MAX_STEPS) {
        memcpy(r->x[step], x, (size_t)r->n * sizeof *x);
        memcpy(r->model_x[step], den, (size_t)r->n * sizeof *den);
    }
    r->steps_seen = step + 1;
    return MEND_OK;
}

static int read_floats(const cJSON *a, float *out, int max)
{
    int n = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, a)
    {
        if (n == max || !cJSON_IsNumber(v))
            return -1;
        out[n++] = (float)v->valuedouble;
    }
    return n;
}

static double max_diff(const float *a, const float *b, int n)
{
    double d = 0;
    for (int i = 0; i < n; i++)
        d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

static void check_case(const cJSON *c, const mend_noise_schedule *s, int index)
{
    int steps = (int)test_json_number(c, "steps", -1, "unipc case");
    int first = (int)test_json_number(c, "first_index", -1, "unipc case");
    int img2img = (int)test_json_number(c, "img2img", 0, "unipc case");
    const cJSON *trace = test_json_need(c, "trace", "unipc case");
    static toy_run r;
    memset(&r, 0, sizeof r);
    float x[MAX_N], want[MAX_N];
    int n = read_floats(test_json_need(c, "x_in", "unipc case"), x, MAX_N);
    CHECK_MSG(n > 0 && steps > 0 && first >= 0 && trace, "case %d: bad reference", index);
    if (n <= 0 || !trace)
        return;
    r.n = n;
    mend_sampler_callbacks cb = {toy_denoise, NULL, toy_step, &r, toy_denoise_t};
    mend_err err = {0};
    CHECK_OK(mend_sample_unipc(s, steps, first, img2img, x, n, &cb, &err), &err);
    int nsteps = cJSON_GetArraySize(trace);
    CHECK_MSG(!r.bad_call && r.calls == first + 1 && r.steps_seen == nsteps,
              "case %d: %d model calls, %d steps reported; A1111 %d steps", index, r.calls, r.steps_seen, nsteps);
    double worst = 0;
    for (int i = 0; i < nsteps && i < r.steps_seen && i < MAX_STEPS; i++) {
        const cJSON *st = cJSON_GetArrayItem(trace, i), *mx = cJSON_GetObjectItem(st, "model_x");
        CHECK(read_floats(cJSON_GetObjectItem(st, "x"), want, MAX_N) == n);
        worst = fmax(worst, max_diff(r.x[i], want, n));
        if (cJSON_IsArray(mx) && read_floats(mx, want, MAX_N) == n)
            worst = fmax(worst, max_diff(r.model_x[i], want, n));
    }
    CHECK(read_floats(test_json_need(c, "x_out", "unipc case"), want, MAX_N) == n);
    worst = fmax(worst, max_diff(x, want, n));
    CHECK_MSG(worst <= 1e-4, "case %d (steps %d, first index %d, img2img %d): max abs err %.3g", index, steps, first,
              img2img, worst);
    printf("  case %d: %d steps%s, max abs err %.2g\n", index, nsteps, img2img ? " (img2img)" : "", worst);
}

TEST(unipc_matches_a1111)
{
    cJSON *ref = test_read_json(MEND_TEST_DATA_DIR "/unipc_a1111.json");
    if (!ref)
        return;
    mend_noise_schedule s;
    mend_schedule_init_sd1(&s);
    int k = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(ref, "cases"))
        check_case(c, &s, k++);
    CHECK_MSG(k > 0, "no cases in unipc_a1111.json");
    cJSON_Delete(ref);
}

/* PLMS reaches the model through D(x_k, sigma) at the integer timesteps: the toy eps there. */
static mend_status toy_denoise_sigma(void *user, const float *x, float sigma, float *out, mend_err *err)
{
    toy_run *r = user;
    (void)err;
    r->calls++;
    float s = sqrtf(sigma * sigma + 1.0f), t = mend_schedule_sigma_to_t(&r->sched, sigma);
    for (int64_t k = 0; k < r->n; k++)
        out[k] = x[k] - sigma * toy_eps(x[k] / s, t);
    return MEND_OK;
}

TEST(plms_matches_a1111)
{
    cJSON *ref = test_read_json(MEND_TEST_DATA_DIR "/plms_a1111.json");
    if (!ref)
        return;
    int k = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(ref, "cases"))
    {
        static toy_run r;
        memset(&r, 0, sizeof r);
        mend_schedule_init_sd1(&r.sched);
        int steps = (int)test_json_number(c, "steps", -1, "plms case");
        int first = (int)test_json_number(c, "first_index", -1, "plms case");
        int calls = (int)test_json_number(c, "calls", -1, "plms case");
        float x[MAX_N], want[MAX_N];
        int n = read_floats(test_json_need(c, "x_in", "plms case"), x, MAX_N);
        CHECK(n > 0 && read_floats(test_json_need(c, "x_out", "plms case"), want, MAX_N) == n);
        if (n <= 0)
            break;
        r.n = n;
        mend_sampler_callbacks cb = {toy_denoise_sigma, NULL, NULL, &r, NULL};
        mend_err err = {0};
        CHECK_OK(mend_sample_plms(&r.sched, steps, first, x, n, &cb, &err), &err);
        double d = max_diff(x, want, n);
        CHECK_MSG(d <= 1e-4 && r.calls == calls, "case %d (steps %d, first index %d): max abs err %.3g, %d model calls "
                  "(A1111 %d)", k, steps, first, d, r.calls, calls);
        printf("  PLMS case %d: %d model calls, max abs err %.2g\n", k, r.calls, d);
        k++;
    }
    CHECK_MSG(k > 0, "no cases in plms_a1111.json");
    cJSON_Delete(ref);
}

TEST(unipc_refuses_fewer_steps_than_its_order)
{
    mend_noise_schedule s;
    mend_schedule_init_sd1(&s);
    static toy_run r;
    memset(&r, 0, sizeof r);
    r.n = 4;
    float x[4] = {0};
    mend_sampler_callbacks cb = {toy_denoise, NULL, toy_step, &r, toy_denoise_t};
    mend_err err = {0};
    CHECK(mend_sample_unipc(&s, 20, 1, 1, x, 4, &cb, &err) == MEND_E_ARG && strstr(err.msg, "UniPC") &&
          strstr(err.msg, "order 3"));
    CHECK(r.calls == 0);
}

TEST(unipc_in_a_job)
{
    REQUIRE_MODEL(m, sd_model);
    mend_gen_params p = base_params();
    p.sampler_name = "UniPC";
    p.steps = 4;
    mend_gen_output a, b;
    mend_err err = {0};
    CHECK_OK(gen(m, &p, NULL, NULL, &a, &err), &err);
    CHECK_OK(gen(m, &p, NULL, NULL, &b, &err), &err);
    CHECK(a.count == 1 && b.count == 1 && same_image(&a.images[0], &b.images[0]));
    CHECK_MSG(a.count && strstr(a.infotexts[0], "Sampler: UniPC, "), "%s", a.count ? a.infotexts[0] : "");
    mend_gen_output_free(&a), mend_gen_output_free(&b);
    /* img2img with too low a strength leaves fewer timesteps than the order: a clear error */
    mend_image init = make_image(64, 64);
    p.denoising_strength = 0.2f;
    mend_status st = gen(m, &p, &init, NULL, &a, &err);
    CHECK_MSG(st == MEND_E_ARG && strstr(err.msg, "UniPC"), "%d %s", st, err.msg);
    mend_image_free(&init);
}

int main(void)
{
    RUN(unipc_matches_a1111);
    RUN(plms_matches_a1111);
    RUN(unipc_refuses_fewer_steps_than_its_order);
    RUN(unipc_in_a_job);
    pipeline_models_free();
    return test_summary();
}
