/* Prompt -> conditioning against A1111 run unmodified on the tiny encoder
 * (shared/testdata/text_encoder/a1111_cond and a1111_schedules): chunking,
 * emphasis modes, BREAK, clip skip, and prompt editing schedules. */
#include "test.h"

#include "inpaint/conditioning.h"
#include "model/sd_model.h"

#include <cjson/cJSON.h>
#include <string.h>

/* A golden of text_encoder/ with the model it was recorded with. */
typedef struct golden {
    const char *stem;
    cJSON *json;
    mend_tf *ref;
    mend_sd_model *model;
} golden;

static void golden_close(golden *g)
{
    cJSON_Delete(g->json);
    mend_tf_close(g->ref);
    mend_sd_free(g->model);
}

/* 1 with all three open; 0 (a skip or a failed check) with none. */
static int golden_open(const char *stem, golden *g)
{
    *g = (golden){.stem = stem};
    if (test_open_golden(stem, &g->json, &g->ref) && (g->model = test_shared_text_model()))
        return 1;
    golden_close(g);
    return 0;
}

TEST(a1111_cond)
{
    golden g;
    if (!golden_open("text_encoder/a1111_cond", &g))
        return;
    mend_err err = {0};
    int cases = 0, width = mend_clip_get_arch(g.model->clip)->width;
    double worst = 0;
    cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(g.json, "cases"))
    {
        const char *key = test_json_string(c, "key", g.stem), *prompt = test_json_string(c, "prompt", g.stem);
        const char *emphasis = test_json_string(c, "emphasis", g.stem);
        if (!key || !prompt || !emphasis)
            continue;
        mend_cond_opts o;
        mend_cond_opts_default(&o);
        o.clip_skip = (int)test_json_number(c, "clip_skip", 1, key);
        CHECK(mend_emphasis_from_name(emphasis, &o.emphasis) == 0);
        float *cond = NULL;
        int tokens = 0, count = 0;
        CHECK_OK(mend_cond_encode_texts(g.model->clip, g.model->tokenizer, &prompt, 1, &o, &cond, &tokens, &count,
                                        &err),
                 &err);
        char name[256];
        snprintf(name, sizeof name, "%s/cond", key);
        int64_t nref = 0;
        float *want = test_load_f32(g.ref, name, &nref);
        CHECK_MSG(cond && want && nref == (int64_t)tokens * width, "%s: %d tokens vs %lld values", key, tokens,
                  (long long)nref);
        CHECK_MSG(count == (int)test_json_number(c, "token_count", -1, key), "%s: token count %d", key, count);
        if (cond && want && nref == (int64_t)tokens * width) {
            double e = test_max_abs_diff(cond, want, nref);
            worst = e > worst ? e : worst;
            CHECK_MSG(e <= 1e-4, "%s ('%s'): cond err %g", key, prompt, e);
        }
        free(want);
        free(cond);
        cases++;
    }
    printf("%d a1111_cond cases, worst cond err %.2e\n", cases, worst);
    CHECK_MSG(cases > 0, "no cases in %s", g.stem);
    golden_close(&g);
}

TEST(a1111_schedules)
{
    golden g;
    if (!golden_open("text_encoder/a1111_schedules", &g))
        return;
    mend_err err = {0};
    cJSON *c;
    int cases = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(g.json, "cases"))
    {
        int idx = (int)test_json_number(c, "prompt_index", -1, g.stem);
        const char *prompt = cJSON_GetStringValue(cJSON_GetArrayItem(test_json_need(c, "prompts", g.stem), idx));
        int steps = (int)test_json_number(c, "steps", 0, g.stem), case_id = (int)test_json_number(c, "case", -1, g.stem);
        const cJSON *ends = test_json_need(c, "end_at_step", g.stem);
        CHECK_MSG(prompt && cJSON_IsArray(ends), "%s: case %d: no prompt %d or end_at_step", g.stem, case_id, idx);
        if (!prompt || !cJSON_IsArray(ends))
            continue;
        mend_cond_opts o;
        mend_cond_opts_default(&o);
        mend_cond_schedule s = {0};
        CHECK_OK(mend_cond_build(g.model->clip, g.model->tokenizer, prompt, steps, &o, &s, &err), &err);
        CHECK_MSG(s.n == cJSON_GetArraySize(ends), "'%s': %d entries, want %d", prompt, s.n, cJSON_GetArraySize(ends));
        for (int e = 0; e < s.n && e < cJSON_GetArraySize(ends); e++) {
            CHECK(s.items[e].end_at_step == (int)cJSON_GetNumberValue(cJSON_GetArrayItem(ends, e)));
            char name[128];
            snprintf(name, sizeof name, "case%d/prompt%d/entry%d", case_id, idx, e);
            int64_t nref = 0;
            float *want = test_load_f32(g.ref, name, &nref);
            CHECK_MSG(want && nref == (int64_t)s.tokens * s.width, "%s: size", name);
            if (want && nref == (int64_t)s.tokens * s.width)
                CHECK_MSG(test_max_abs_diff(s.items[e].cond, want, nref) <= 1e-4, "%s ('%s'): err %g", name, prompt,
                          test_max_abs_diff(s.items[e].cond, want, nref));
            free(want);
        }
        mend_cond_free(&s);
        cases++;
    }
    CHECK(cases > 0);
    golden_close(&g);
}

int main(void)
{
    RUN(a1111_cond);
    RUN(a1111_schedules);
    return test_summary();
}
