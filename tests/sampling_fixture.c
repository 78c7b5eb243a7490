#include "sampling_fixture.h"

#include <cjson/cJSON.h>

mend_tf *open_with_sd1_schedule(const char *rel, mend_noise_schedule *s)
{
    mend_schedule_init_sd1(s);
    return test_open_shared(rel);
}

int each_sampler_case(void (*fn)(const char *name, void *user), void *user)
{
    const char *index_path = test_shared("samplers/index.json");
    if (!index_path)
        return -1;
    cJSON *index = test_read_json(index_path);
    const cJSON *e;
    int listed = 0;
    cJSON_ArrayForEach(e, index)
    {
        const char *name = test_json_string(e, "name", index_path);
        if (name)
            fn(name, user);
        listed++;
    }
    cJSON_Delete(index);
    return listed;
}

double rel_err_to_scale(const float *got, const float *want, int64_t n)
{
    double scale = 0;
    for (int64_t i = 0; i < n; i++)
        scale = fmax(scale, fabs((double)want[i]));
    double d = test_max_abs_diff(got, want, n);
    return scale > 0 ? d / scale : d;
}

void check_scheduler_names(const char *const *names, const mend_scheduler *want, int n)
{
    for (int i = 0; i < n; i++) {
        mend_scheduler sch = MEND_SCHED_COUNT;
        mend_err err = {0};
        CHECK_OK(mend_scheduler_from_name(names[i], &sch, &err), &err);
        CHECK_MSG(sch == want[i], "'%s' -> scheduler %d, want %d", names[i], (int)sch, (int)want[i]);
    }
}
