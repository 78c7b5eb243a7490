/* A1111's sd_noise_schedule "Zero Terminal SNR" in a job (the schedule is
 * tested in test_schedules): the picture changes, the infotext says so and
 * reads back; the default writes nothing. On tiny-sd1 from ../shared
 * (skipped without it). */
#include "pipeline_fixture.h"

#include <stdlib.h>
#include <string.h>

TEST(zero_terminal_snr_in_a_job)
{
    REQUIRE_MODEL(m, sd_model);
    mend_gen_params p = base_params();
    mend_gen_output a, b;
    mend_err err = {0};
    CHECK_OK(gen(m, &p, NULL, NULL, &a, &err), &err);
    p.noise_schedule = 1;
    CHECK_OK(gen(m, &p, NULL, NULL, &b, &err), &err);
    CHECK(a.count == 1 && b.count == 1 && !same_image(&a.images[0], &b.images[0]));
    CHECK_MSG(a.count && !strstr(a.infotexts[0], "Noise Schedule"), "%s", a.count ? a.infotexts[0] : "");
    CHECK_MSG(b.count && strstr(b.infotexts[0], ", Noise Schedule: Zero Terminal SNR, "), "%s",
              b.count ? b.infotexts[0] : "");
    mend_gen_params back;
    mend_gen_params_default(&back);
    char *storage = NULL;
    CHECK_OK(mend_params_from_infotext(b.count ? b.infotexts[0] : "", &back, NULL, NULL, &storage, &err), &err);
    CHECK(back.noise_schedule == 1);
    free(storage);
    mend_gen_output_free(&a), mend_gen_output_free(&b);
}

int main(void)
{
    RUN(zero_terminal_snr_in_a_job);
    pipeline_models_free();
    return test_summary();
}
