/* Fixtures of the sampling tests (test_schedules, test_samplers, test_lcm,
 * test_beta, test_a1111_pipeline): reference files with the SD1 schedule,
 * the sampler cases of samplers/index.json, error relative to a tensor's
 * scale, scheduler names. */
#ifndef MEND_TESTS_SAMPLING_FIXTURE_H
#define MEND_TESTS_SAMPLING_FIXTURE_H

#include "test.h"

#include "sampling/schedule.h"

/* test_open_shared(rel), and *s = the SD1 noise schedule the references
 * were recorded with. */
mend_tf *open_with_sd1_schedule(const char *rel, mend_noise_schedule *s);
/* Declares both for a test, returning from it (skipped or failed) when the
 * file does not open. */
#define REQUIRE_SD1_REFERENCE(f, s, rel)         \
    mend_noise_schedule s;                        \
    mend_tf *f = open_with_sd1_schedule(rel, &s); \
    if (!f)                                       \
    return

/* fn(name, user) for every case of samplers/index.json (a case without a
 * "name" fails a check instead); returns how many cases it lists, -1 with a
 * skip when the index is absent. */
int each_sampler_case(void (*fn)(const char *name, void *user), void *user);

/* max |got - want| / max |want| (absolute when want is all 0). */
double rel_err_to_scale(const float *got, const float *want, int64_t n);

/* Each names[i] resolves to scheduler want[i]. */
void check_scheduler_names(const char *const *names, const mend_scheduler *want, int n);

#endif
