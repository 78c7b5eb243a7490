/* SD1 noise schedule, sigma<->t and A1111 sigma schedules against
 * samplers/schedules.safetensors, and every sampler file's sigmas_schedule
 * rebuilt from its sampler name, steps and denoising strength
 * (tolerance: 1e-5 relative, from the jsons). */
#include "sampling_fixture.h"

#include "sampling/sampler.h"
#include "sampling/schedule.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#define REL_TOL 1e-5



static void check_table(const mend_tf *f, const char *name, const float *got, int64_t n, double tol)
{
    int64_t numel = 0;
    float *want = test_load_f32(f, name, &numel);
    if (!want)
        return;
    CHECK_MSG(numel == n, "%s: %lld values, expected %lld", name, (long long)numel, (long long)n);
    if (numel == n) {
        double e = test_max_rel_err(got, want, n);
        CHECK_MSG(e <= tol, "%s: max rel err %.3g > %.3g", name, e, tol);
        printf("  %-42s max rel err %.2e\n", name, e);
    }
    free(want);
}

TEST(model_schedule_matches)
{
    REQUIRE_SD1_REFERENCE(f, s, "samplers/schedules.safetensors");
    check_table(f, "alphas_cumprod", s.alphas_cumprod, MEND_TRAIN_STEPS, REL_TOL);
    check_table(f, "model_sigmas", s.sigmas, MEND_TRAIN_STEPS, REL_TOL);
    check_table(f, "model_log_sigmas", s.log_sigmas, MEND_TRAIN_STEPS, REL_TOL);
    mend_tf_close(f);
}

/* sigma_to_t / t_to_sigma on the recorded inputs. t near 0 is a small
 * difference of two logs; compare it relative to max(|t|, 1). */
TEST(sigma_t_conversions_match)
{
    REQUIRE_SD1_REFERENCE(f, s, "samplers/schedules.safetensors");
    int64_t n_in = 0, n_out = 0;
    float *in = test_load_f32(f, "sigma_to_t/sigmas_in", &n_in);
    float *want = test_load_f32(f, "sigma_to_t/t_out", &n_out);
    double worst = 0;
    for (int64_t i = 0; in && want && i < n_in && n_in == n_out; i++) {
        double t = mend_schedule_sigma_to_t(&s, in[i]);
        double e = fabs(t - want[i]) / fmax(fabs(want[i]), 1.0);
        worst = fmax(worst, e);
        CHECK_MSG(e <= REL_TOL, "sigma_to_t(%g) = %.9g, want %.9g", (double)in[i], t, (double)want[i]);
    }
    printf("  sigma_to_t: max rel err %.2e\n", worst);
    free(in);
    free(want);
    in = test_load_f32(f, "t_to_sigma/t_in", &n_in);
    want = test_load_f32(f, "t_to_sigma/sigma_out", &n_out);
    float got[64];
    for (int64_t i = 0; in && want && i < n_in && i < 64; i++)
        got[i] = mend_schedule_t_to_sigma(&s, in[i]);
    if (in && want && n_in == n_out && n_in <= 64) {
        double e = test_max_rel_err(got, want, n_in);
        CHECK_MSG(e <= REL_TOL, "t_to_sigma max rel err %.3g", e);
        printf("  t_to_sigma: max rel err %.2e\n", e);
    }
    free(in);
    free(want);
    mend_tf_close(f);
}

TEST(all_schedules_match)
{
    REQUIRE_SD1_REFERENCE(f, s, "samplers/schedules.safetensors");
    int compared = 0, listed = 0;
    for (int i = 0; i < f->count; i++) {
        char name[128];
        snprintf(name, sizeof name, "%s", f->tensors[i].name);
        int steps = 0;
        char *slash = strchr(name, '/');
        if (!slash || sscanf(slash + 1, "steps%d", &steps) != 1)
            continue;
        listed++;
        int discard = strstr(slash, "/discard_penultimate") != NULL;
        *slash = '\0';
        mend_scheduler sch;
        mend_err err = {0};
        CHECK_OK(mend_scheduler_from_name(name, &sch, &err), &err);
        float out[64];
        int n_out = 0;
        CHECK_OK(mend_schedule_sigmas(&s, sch, steps, discard, out, &n_out, &err), &err);
        check_table(f, f->tensors[i].name, out, n_out, REL_TOL);
        compared++;
    }
    CHECK_MSG(listed > 0 && compared == listed, "%d of %d schedules compared", compared, listed);
    mend_tf_close(f);
}

TEST(spec_values_karras_20)
{
    /* samplers.md §3, SD1 n = 20, rounded to 4 decimals */
    static const float karras[5] = {14.6146f, 11.7254f, 9.3402f, 7.3836f, 5.7894f};
    mend_noise_schedule s;
    mend_schedule_init_sd1(&s);
    float out[64];
    int n = 0;
    mend_err err = {0};
    CHECK_OK(mend_schedule_sigmas(&s, MEND_SCHED_KARRAS, 20, 0, out, &n, &err), &err);
    CHECK(n == 21 && out[20] == 0.0f);
    for (int i = 0; i < 5; i++)
        CHECK_NEAR(out[i], karras[i], 6e-5);
}

TEST(scheduler_names)
{
    static const char *const names[] = {"Karras", "sgm_uniform", "SGMUniform"};
    static const mend_scheduler want[] = {MEND_SCHED_KARRAS, MEND_SCHED_SGM_UNIFORM, MEND_SCHED_SGM_UNIFORM};
    check_scheduler_names(names, want, 3);
    mend_scheduler sch;
    mend_err err = {0};
    CHECK(mend_scheduler_from_name("karas", &sch, &err) == MEND_E_ARG);
    CHECK(strstr(err.msg, "karas") && strstr(err.msg, "Exponential"));
}

TEST(img2img_steps)
{
    CHECK(mend_img2img_t_enc(0.75, 10) == 7);
    CHECK(mend_img2img_t_enc(0.7, 10) == 7);  /* 0.7*10 = 7.000000000000001 in double */
    CHECK(mend_img2img_t_enc(1.0, 10) == 9);  /* capped at 0.999 */
    CHECK(mend_img2img_start_index(0.75, 10) == 2);
    CHECK(mend_img2img_start_index(1.0, 10) == 0);
}

/* Each sampler file: the full schedule from the sampler's name (Automatic
 * resolves to its default), sliced by the denoising strength. */
static void check_sampler_file(const char *name, void *unused)
{
    (void)unused;
    char stem[256];
    snprintf(stem, sizeof stem, "samplers/%s", name);
    cJSON *root;
    mend_tf *f;
    mend_err err = {0};
    if (test_open_golden(stem, &root, &f)) {
        const cJSON *c = cJSON_GetObjectItem(root, "case");
        const char *sampler_name = test_json_string(c, "sampler", name);
        int steps = (int)test_json_number(c, "steps", 0, name);
        const cJSON *strength = cJSON_GetObjectItem(c, "strength");
        const cJSON *chosen = cJSON_GetObjectItem(c, "scheduler"); /* absent = Automatic */
        const cJSON *opt_sched = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "a1111_sampler_options"), "scheduler");
        const mend_sampler_info *info = NULL;
        if (sampler_name)
            CHECK_OK(mend_sampler_from_name(sampler_name, &info, &err), &err);
        mend_noise_schedule s;
        mend_schedule_init_sd1(&s);
        float full[64];
        int n_full = 0;
        if (info) {
            mend_scheduler sch = MEND_SCHED_AUTOMATIC;
            if (cJSON_IsString(chosen))
                CHECK_OK(mend_scheduler_from_name(chosen->valuestring, &sch, &err), &err);
            CHECK_OK(mend_sampler_sigmas(info, &s, sch, steps, full, &n_full, &err), &err);
            /* the sampler's default schedule is what A1111 used ("Automatic") */
            if (cJSON_IsString(opt_sched) && !cJSON_IsString(chosen)) {
                mend_scheduler expect;
                CHECK_OK(mend_scheduler_from_name(opt_sched->valuestring, &expect, &err), &err);
                CHECK(expect == info->default_scheduler);
            }
            int start = strength ? mend_img2img_start_index(strength->valuedouble, steps) : 0;
            if (strength && mend_tf_find(f, "sigmas_full")) {
                char label[160];
                snprintf(label, sizeof label, "%s: sigmas_full", name);
                int64_t nf = 0;
                float *want = test_load_f32(f, "sigmas_full", &nf);
                CHECK(nf == n_full);
                if (want && nf == n_full) {
                    double e = test_max_rel_err(full, want, nf);
                    CHECK_MSG(e <= REL_TOL, "%s max rel err %.3g", label, e);
                }
                free(want);
            }
            int64_t ns = 0;
            float *want = test_load_f32(f, "sigmas_schedule", &ns);
            CHECK_MSG(ns == n_full - start, "%s: sigmas_schedule has %lld values, expected %d", name, (long long)ns,
                      n_full - start);
            if (want && ns == n_full - start) {
                double e = test_max_rel_err(full + start, want, ns);
                CHECK_MSG(e <= REL_TOL, "%s: sigmas_schedule max rel err %.3g", name, e);
                printf("  %-32s %-12s %2lld sigmas, max rel err %.2e\n", name, sampler_name, (long long)ns, e);
            }
            free(want);
        }
    }
    mend_tf_close(f);
    cJSON_Delete(root);
}

TEST(sampler_files_sigmas_match)
{
    int files = each_sampler_case(check_sampler_file, NULL);
    if (files >= 0)
        CHECK_MSG(files > 0, "samplers/index.json lists no sampler files");
}

/* A1111's rescale_zero_terminal_snr_abar, against the same steps in double. */
TEST(zero_terminal_snr_as_a1111)
{
    mend_noise_schedule s, z;
    mend_schedule_init_sd1(&s);
    z = s;
    mend_schedule_zero_terminal_snr(&z);
    double first = sqrt(s.alphas_cumprod[0]), last = sqrt(s.alphas_cumprod[MEND_TRAIN_STEPS - 1]), worst = 0;
    for (int i = 0; i < MEND_TRAIN_STEPS - 1; i++) {
        double v = (sqrt(s.alphas_cumprod[i]) - last) * first / (first - last);
        worst = fmax(worst, fabs(z.alphas_cumprod[i] - v * v) / (v * v));
        CHECK_MSG(i == 0 || z.alphas_cumprod[i] < z.alphas_cumprod[i - 1], "not decreasing at %d", i);
    }
    /* float32 loses digits where sqrt(abar) nears the last one; torch computes in float32 too */
    CHECK_MSG(worst < 1e-4, "relative error %g", worst);
    float ff = sqrtf(s.alphas_cumprod[0]), lf = sqrtf(s.alphas_cumprod[MEND_TRAIN_STEPS - 1]), sc = ff / (ff - lf);
    for (int i = 0; i < MEND_TRAIN_STEPS - 1; i += 37) {
        float v = (sqrtf(s.alphas_cumprod[i]) - lf) * sc;
        CHECK_MSG(z.alphas_cumprod[i] == v * v, "level %d: %.9g, float32 steps give %.9g", i, z.alphas_cumprod[i],
                  v * v);
    }
    CHECK(fabs(z.alphas_cumprod[0] - s.alphas_cumprod[0]) < 1e-6); /* the first level stays */
    CHECK(z.alphas_cumprod[MEND_TRAIN_STEPS - 1] == 4.8973451890853435e-08f);
    CHECK_NEAR(mend_schedule_sigma_max(&z), sqrt((1 - 4.8973451890853435e-08) / 4.8973451890853435e-08), 0.5);
    CHECK_NEAR(mend_schedule_sigma_to_t(&z, mend_schedule_t_to_sigma(&z, 500.0f)), 500.0f, 1e-2);
}

int main(void)
{
    RUN(model_schedule_matches);
    RUN(zero_terminal_snr_as_a1111);
    RUN(sigma_t_conversions_match);
    RUN(all_schedules_match);
    RUN(spec_values_karras_20);
    RUN(scheduler_names);
    RUN(img2img_steps);
    RUN(sampler_files_sigmas_match);
    return test_summary();
}
