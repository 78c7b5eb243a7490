/* CLIP text encoder against the reference outputs of the tiny model
 * (clip_text.json: fp32 max abs err <= 1e-4 for every output). */
#include "test.h"

#include <cjson/cJSON.h>

#include "model/clip.h"

#include <string.h>

#define TOL 1e-4 /* clip_text.json "tolerance" */
#define TINY_PREFIX "cond_stage_model.transformer."

typedef struct fixture {
    mend_tf *model, *ref;
    mend_clip *clip;
    int32_t *ids;
    int n, T;
} fixture;

static void fixture_free(fixture *f)
{
    mend_clip_free(f->clip);
    mend_tf_close(f->model);
    mend_tf_close(f->ref);
    free(f->ids);
    memset(f, 0, sizeof *f);
}

static int fixture_open(fixture *f)
{
    memset(f, 0, sizeof *f);
    const char *model = test_shared("models/tiny-sd1.f16.safetensors");
    const char *ref = test_shared("text_encoder/clip_text.safetensors");
    if (!model || !ref)
        return 0;
    mend_err err = {0};
    CHECK_OK(mend_tf_open(model, &f->model, &err), &err);
    CHECK_OK(mend_tf_open(ref, &f->ref, &err), &err);
    if (!f->model || !f->ref)
        return 0;
    mend_wload l = {.file = f->model, .prefix = TINY_PREFIX};
    CHECK_OK(mend_clip_load(&l, &f->clip, &err), &err);
    const mend_tf_tensor *t = mend_tf_find(f->ref, "input_ids");
    CHECK(t && t->ndim == 2);
    if (!f->clip || !t)
        return 0;
    f->n = (int)t->shape[0];
    f->T = (int)t->shape[1];
    CHECK_OK(mend_tf_load_i32(f->ref, "input_ids", (int64_t)f->n * f->T, &f->ids, &err), &err);
    return f->ids != NULL;
}

/* max |out - reference[name]| over the whole tensor, reported. */
static void check_against(const fixture *f, const char *name, const float *out)
{
    int64_t numel = 0;
    float *want = test_load_f32(f->ref, name, &numel);
    if (!want)
        return;
    const int64_t expect = (int64_t)f->n * f->T * mend_clip_get_arch(f->clip)->width;
    CHECK(numel == expect);
    double d = numel == expect ? test_max_abs_diff(out, want, numel) : INFINITY;
    printf("  %-18s max abs err %.3g (tol %g)\n", name, d, TOL);
    CHECK_MSG(d <= TOL, "%s: max abs err %g > %g", name, d, TOL);
    free(want);
}

TEST(arch_from_shapes)
{
    fixture f;
    if (fixture_open(&f)) {
        const mend_clip_arch *a = mend_clip_get_arch(f.clip);
        /* the topology the generator wrote into tiny-models.json */
        cJSON *j = test_shared_json("models/tiny-models.json");
        const cJSON *hf = test_json_need(j, "text_encoder_config_hf", "tiny-models.json");
        const char *w = "text_encoder_config_hf";
        int64_t W = (int64_t)test_json_number(hf, "hidden_size", 0, w);
        int64_t L = (int64_t)test_json_number(hf, "num_hidden_layers", 0, w);
        int64_t H = (int64_t)test_json_number(hf, "num_attention_heads", 0, w);
        int64_t M = (int64_t)test_json_number(hf, "intermediate_size", 0, w);
        int64_t V = (int64_t)test_json_number(hf, "vocab_size", 0, w);
        int64_t P = (int64_t)test_json_number(hf, "max_position_embeddings", 0, w);
        CHECK_MSG(a->width == W && a->layers == L && a->heads == H && a->mlp == M, "width %d layers %d heads %d mlp %d",
                  a->width, a->layers, a->heads, a->mlp);
        CHECK(a->vocab == V && a->max_pos == P);
        int64_t per_layer = 4 * (W * W + W) + 2 * 2 * W + (M * W + M) + (W * M + W);
        CHECK(mend_clip_params(f.clip) == V * W + P * W + L * per_layer + 2 * W);
        cJSON_Delete(j);
    }
    fixture_free(&f);
}

TEST(encode_matches_reference)
{
    fixture f;
    if (fixture_open(&f)) {
        size_t numel = (size_t)f.n * f.T * mend_clip_get_arch(f.clip)->width;
        float *out = malloc(numel * sizeof *out);
        mend_err err = {0};
        CHECK_OK(mend_clip_encode(f.clip, f.ids, f.n, f.T, 1, out, &err), &err);
        check_against(&f, "last_hidden_state", out);
        CHECK_OK(mend_clip_encode(f.clip, f.ids, f.n, f.T, 2, out, &err), &err);
        check_against(&f, "clip_skip2", out);
        free(out);
    }
    fixture_free(&f);
}

TEST(hidden_states_match_reference)
{
    fixture f;
    if (fixture_open(&f)) {
        const int L = mend_clip_get_arch(f.clip)->layers;
        size_t numel = (size_t)f.n * f.T * mend_clip_get_arch(f.clip)->width;
        float *hidden[16] = {0};
        for (int i = 0; i <= L; i++)
            hidden[i] = malloc(numel * sizeof(float));
        mend_err err = {0};
        CHECK_OK(mend_clip_hidden_states(f.clip, f.ids, f.n, f.T, hidden, &err), &err);
        for (int i = 0; i <= L; i++) {
            char name[32];
            snprintf(name, sizeof name, "hidden_states.%d", i);
            check_against(&f, name, hidden[i]);
        }
        /* final norm of the last hidden state is the clip-skip-1 output */
        mend_clip_final_norm(f.clip, hidden[L], (int64_t)f.n * f.T, hidden[L]);
        check_against(&f, "last_hidden_state", hidden[L]);
        for (int i = 0; i <= L; i++)
            free(hidden[i]);
    }
    fixture_free(&f);
}

/* One sequence alone gives the same rows as inside the batch, and a shorter
 * T gives the prefix (the mask is causal). */
TEST(batch_and_length_independence)
{
    fixture f;
    if (fixture_open(&f)) {
        const int W = mend_clip_get_arch(f.clip)->width;
        float *all = malloc((size_t)f.n * f.T * W * sizeof(float));
        float *one = malloc((size_t)f.T * W * sizeof(float));
        mend_err err = {0};
        CHECK_OK(mend_clip_encode(f.clip, f.ids, f.n, f.T, 1, all, &err), &err);
        int b = f.n - 1;
        CHECK_OK(mend_clip_encode(f.clip, f.ids + (size_t)b * f.T, 1, 10, 1, one, &err), &err);
        CHECK(test_max_abs_diff(one, all + (size_t)b * f.T * W, 10 * W) <= 1e-5);
        free(all);
        free(one);
    }
    fixture_free(&f);
}

TEST(bad_arguments)
{
    fixture f;
    if (fixture_open(&f)) {
        const int W = mend_clip_get_arch(f.clip)->width;
        float *out = malloc((size_t)78 * W * sizeof(float));
        int32_t ids[78] = {0};
        mend_err err = {0};
        ids[5] = 49408;
        CHECK(mend_clip_encode(f.clip, ids, 1, 77, 1, out, &err) == MEND_E_ARG);
        CHECK_MSG(strstr(err.msg, "49408") && strstr(err.msg, "position 5"), "%s", err.msg);
        ids[5] = -3;
        CHECK(mend_clip_encode(f.clip, ids, 1, 77, 1, out, &err) == MEND_E_ARG);
        CHECK(strstr(err.msg, "-3") != NULL);
        ids[5] = 0;
        CHECK(mend_clip_encode(f.clip, ids, 1, 78, 1, out, &err) == MEND_E_ARG); /* longer than max_pos */
        CHECK(mend_clip_encode(f.clip, ids, 1, 77, 0, out, &err) == MEND_E_ARG);
        CHECK(mend_clip_encode(f.clip, ids, 1, 77, 5, out, &err) == MEND_E_ARG); /* 3 layers: 1..4 */
        CHECK_OK(mend_clip_encode(f.clip, ids, 1, 77, 4, out, &err), &err);   /* embeddings + final norm */
        free(out);
    }
    fixture_free(&f);
}

TEST(wrong_prefix_names_the_tensor)
{
    fixture f;
    if (fixture_open(&f)) {
        mend_wload l = {.file = f.model, .prefix = "model.diffusion_model."};
        mend_clip *c = NULL;
        mend_err err = {0};
        CHECK(mend_clip_load(&l, &c, &err) == MEND_E_ARCH);
        CHECK_MSG(strstr(err.msg, "model.diffusion_model.text_model.embeddings.token_embedding.weight") &&
                      strstr(err.msg, f.model->path),
                  "%s", err.msg);
        CHECK(c == NULL);
    }
    fixture_free(&f);
}

int main(void)
{
    RUN(arch_from_shapes);
    RUN(encode_matches_reference);
    RUN(hidden_states_match_reference);
    RUN(batch_and_length_independence);
    RUN(bad_arguments);
    RUN(wrong_prefix_names_the_tensor);
    return test_summary();
}
