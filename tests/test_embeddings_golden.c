/* Textual inversion against A1111 1.10.1 run unmodified on the tiny text
 * encoder (shared/testdata/embeddings): the database it builds from
 * embeddings/files (db.json: /sdapi/v1/embeddings answer, hashes, name
 * ids, ids_lookup; exact), and prompt -> tokens, multipliers, fixes and
 * conditioning with the vectors spliced in (a1111_ti_cond; tokens and
 * multipliers exact, cond <= 1e-4), TI hashes per prompt. */
#include "test.h"

#include "inpaint/conditioning.h"
#include "mend/mend.h"
#include "model/embeddings.h"
#include "model/sd_model.h"

#include <cjson/cJSON.h>
#include <string.h>

/* The golden folder's database for m's text encoder, or NULL (skipped). */
static mend_ti_db *golden_db(const mend_sd_model *m)
{
    const char *dir = test_shared("embeddings/files");
    if (!dir || !m)
        return NULL;
    mend_set_embeddings_dir(dir);
    mend_ti_db *db = NULL;
    mend_err err = {0};
    char *log = NULL;
    CHECK_OK(mend_ti_db_acquire(mend_clip_get_arch(m->clip)->width, 1, &db, &log, &err), &err);
    CHECK_MSG(!log, "the golden files load without errors: %s", log ? log : "");
    free(log);
    return db;
}

static int json_ids_equal(const cJSON *a, const int32_t *ids, int n)
{
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n)
        return 0;
    for (int i = 0; i < n; i++)
        if ((int32_t)cJSON_GetNumberValue(cJSON_GetArrayItem(a, i)) != ids[i])
            return 0;
    return 1;
}

static int same_text(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

static int str_or_null_eq(const cJSON *j, const char *s)
{
    return cJSON_IsNull(j) ? s == NULL : cJSON_IsString(j) && s && !strcmp(j->valuestring, s);
}

/* The /sdapi/v1/embeddings part: names in order, then every field. */
static void check_listing(const cJSON *api)
{
    mend_embedding_info *list = NULL;
    int count = 0, at = 0;
    mend_err err = {0};
    CHECK_OK(mend_embeddings_list(0, &list, &count, NULL, &err), &err);
    for (int part = 0; part < 2; part++) {
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(api, part ? "skipped" : "loaded"))
        {
            const mend_embedding_info *g = at < count ? &list[at++] : NULL;
            CHECK_MSG(g && !strcmp(g->name, e->string) && g->skipped == part, "entry %d: %s, want %s (%s)", at,
                      g ? g->name : "none", e->string, part ? "skipped" : "loaded");
            if (!g)
                continue;
            const cJSON *step = cJSON_GetObjectItem(e, "step");
            CHECK_MSG(cJSON_IsNull(step) ? !g->has_step : g->has_step && g->step == (int64_t)step->valuedouble,
                      "%s: step", e->string);
            CHECK_MSG(str_or_null_eq(cJSON_GetObjectItem(e, "sd_checkpoint"), g->sd_checkpoint), "%s: sd_checkpoint",
                      e->string);
            CHECK_MSG(str_or_null_eq(cJSON_GetObjectItem(e, "sd_checkpoint_name"), g->sd_checkpoint_name),
                      "%s: sd_checkpoint_name", e->string);
            CHECK(g->shape == (int)test_json_number(e, "shape", -1, e->string));
            CHECK(g->vectors == (int)test_json_number(e, "vectors", -1, e->string));
        }
    }
    CHECK_MSG(at == count, "%d embeddings listed, the golden has %d", count, at);
    mend_embeddings_list_free(list, count);
}

static const mend_ti_embedding *find_in(const mend_ti_db *db, const char *name)
{
    for (int i = 0; i < db->nloaded + db->nskipped; i++) {
        const mend_ti_embedding *e = i < db->nloaded ? &db->loaded[i] : &db->skipped[i - db->nloaded];
        if (!strcmp(e->name, name))
            return e;
    }
    return NULL;
}

/* embeddings: file, hash, shorthash, vectors, name ids. */
static void check_entries(const cJSON *embs, const mend_ti_db *db, const mend_tokenizer *tok)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, embs)
    {
        const mend_ti_embedding *g = find_in(db, e->string);
        CHECK_MSG(g != NULL, "%s not in the database", e->string);
        if (!g)
            continue;
        const char *file = test_json_string(e, "file", e->string);
        CHECK_MSG(file && strlen(g->path) >= strlen(file) && !strcmp(g->path + strlen(g->path) - strlen(file), file),
                  "%s: file %s", e->string, g->path);
        CHECK_MSG(same_text(g->hash, test_json_string(e, "hash_sha256", e->string)), "%s: hash", e->string);
        CHECK_MSG(same_text(g->shorthash, test_json_string(e, "shorthash", e->string)), "%s: shorthash", e->string);
        int32_t *ids = NULL;
        int n = 0;
        mend_err err = {0};
        CHECK_OK(mend_tokenize(tok, g->name, &ids, &n, &err), &err);
        CHECK_MSG(json_ids_equal(cJSON_GetObjectItem(e, "name_token_ids"), ids, n), "%s: name ids", e->string);
        free(ids);
    }
}

/* ids_lookup: per first id, (ids, name) longest first. */
static void check_lookup(const cJSON *golden, const mend_ti_lookup *l)
{
    int total = 0;
    const cJSON *first;
    cJSON_ArrayForEach(first, golden)
    {
        int32_t id = (int32_t)atoi(first->string);
        int at = 0;
        while (at < l->count && l->names[at].ids[0] != id)
            at++;
        const cJSON *pair;
        cJSON_ArrayForEach(pair, first)
        {
            const mend_ti_name *nm = at < l->count ? &l->names[at++] : NULL;
            const char *name = cJSON_GetStringValue(cJSON_GetArrayItem(pair, 1));
            CHECK_MSG(nm && name && !strcmp(nm->e->name, name) &&
                          json_ids_equal(cJSON_GetArrayItem(pair, 0), nm->ids, nm->n),
                      "ids_lookup[%s]: %s, want %s", first->string, nm ? nm->e->name : "none", name ? name : "?");
            total++;
        }
    }
    CHECK_MSG(total == l->count, "%d names in the look-up, the golden has %d", l->count, total);
}

TEST(database)
{
    cJSON *j = test_shared_json("embeddings/db.json");
    mend_sd_model *m = j ? test_shared_text_model() : NULL;
    mend_ti_db *db = golden_db(m);
    if (db) {
        CHECK(db->expected_shape == (int)test_json_number(j, "expected_shape", -2, "db.json"));
        check_listing(cJSON_GetObjectItem(j, "api_embeddings"));
        check_entries(cJSON_GetObjectItem(j, "embeddings"), db, m->tokenizer);
        mend_ti_lookup l;
        mend_err err = {0};
        CHECK_OK(mend_ti_lookup_build(db, m->tokenizer, &l, &err), &err);
        check_lookup(cJSON_GetObjectItem(j, "ids_lookup"), &l);
        mend_ti_lookup_free(&l);
        mend_ti_db_release(db);
    }
    cJSON_Delete(j);
    mend_sd_free(m);
}

/* The vectors as A1111 holds them (float32 of the file's values): exact. */
static void check_vectors(const mend_tf *ref, const mend_ti_db *db)
{
    int checked = 0;
    for (int i = 0; i < ref->count; i++) {
        const char *n = ref->tensors[i].name;
        if (strncmp(n, "embedding/", 10) != 0)
            continue;
        const mend_ti_embedding *e = find_in(db, n + 10);
        int64_t count = 0;
        float *want = test_load_f32(ref, n, &count);
        CHECK_MSG(e && e->vec && want && count == (int64_t)e->vectors * e->shape, "%s: missing or sized wrong", n);
        if (e && e->vec && want && count == (int64_t)e->vectors * e->shape)
            CHECK_MSG(test_max_abs_diff(e->vec, want, count) == 0, "%s: vectors differ", n);
        free(want);
        checked++;
    }
    CHECK(checked > 0);
}

static void check_chunks(const cJSON *c, const mend_tf *ref, const mend_prompt_chunks *got, const char *key)
{
    char name[128];
    CHECK_MSG(got->n_chunks == (int)test_json_number(c, "chunks", -1, key), "%s: %d chunks", key, got->n_chunks);
    CHECK_MSG(got->token_count == (int)test_json_number(c, "token_count", -1, key), "%s: count %d", key,
              got->token_count);
    snprintf(name, sizeof name, "%s/tokens", key);
    int64_t n = 0;
    float *tokens = test_load_f32(ref, name, &n);
    snprintf(name, sizeof name, "%s/multipliers", key);
    int64_t nm = 0;
    float *mult = test_load_f32(ref, name, &nm);
    int same = tokens && mult && n == (int64_t)got->n_chunks * MEND_CHUNK_LEN && nm == n;
    for (int64_t i = 0; same && i < n; i++)
        same = (int32_t)tokens[i] == got->tokens[i] && mult[i] == got->multipliers[i];
    CHECK_MSG(same, "%s: tokens or multipliers differ", key);
    free(tokens);
    free(mult);
    const cJSON *fixes = cJSON_GetObjectItem(c, "fixes (chunk, offset, embedding; vectors go to positions offset+1 .. "
                                                "offset+vectors)");
    CHECK_MSG(cJSON_GetArraySize(fixes) == got->n_fixes, "%s: %d fixes", key, got->n_fixes);
    for (int f = 0; f < got->n_fixes && f < cJSON_GetArraySize(fixes); f++) {
        const cJSON *w = cJSON_GetArrayItem(fixes, f);
        const mend_chunk_fix *g = &got->fixes[f];
        CHECK_MSG(g->chunk == (int)cJSON_GetNumberValue(cJSON_GetArrayItem(w, 0)) &&
                      g->offset == (int)cJSON_GetNumberValue(cJSON_GetArrayItem(w, 1)) &&
                      same_text(g->emb->name, cJSON_GetStringValue(cJSON_GetArrayItem(w, 2))),
                  "%s: fix %d is (%d, %d, %s)", key, f, g->chunk, g->offset, g->emb->name);
    }
}

static void check_cond(const cJSON *c, const mend_tf *ref, const mend_sd_model *m, const mend_cond_opts *o,
                       const char *key, double *worst)
{
    const char *prompt = test_json_string(c, "prompt", key);
    mend_cond_schedule s = {0};
    mend_err err = {0};
    CHECK_OK(mend_cond_build(m->clip, m->tokenizer, prompt, 20, o, &s, &err), &err);
    char name[128];
    snprintf(name, sizeof name, "%s/cond", key);
    int64_t n = 0;
    float *want = test_load_f32(ref, name, &n);
    CHECK_MSG(s.n == 1 && want && n == (int64_t)s.tokens * s.width, "%s: cond size", key);
    if (s.n == 1 && want && n == (int64_t)s.tokens * s.width) {
        double e = test_max_abs_diff(s.items[0].cond, want, n);
        *worst = e > *worst ? e : *worst;
        CHECK_MSG(e <= 1e-4, "%s ('%s'): cond err %g", key, prompt, e);
    }
    const char *hashes = test_json_string(c, "infotext_TI_hashes", key);
    CHECK_MSG(hashes && s.ti_hashes && !strcmp(hashes, s.ti_hashes), "%s: TI hashes '%s', want '%s'", key,
              s.ti_hashes ? s.ti_hashes : "(none)", hashes ? hashes : "?");
    free(want);
    mend_cond_free(&s);
}

TEST(conditioning)
{
    const char *jp = "embeddings/a1111_ti_cond";
    cJSON *j;
    mend_tf *ref;
    if (!test_open_golden(jp, &j, &ref))
        return;
    mend_sd_model *m = test_shared_text_model();
    mend_ti_db *db = golden_db(m);
    mend_ti_lookup l = {0};
    mend_err err = {0};
    int cases = 0;
    double worst = 0;
    if (db) {
        check_vectors(ref, db);
        CHECK_OK(mend_ti_lookup_build(db, m->tokenizer, &l, &err), &err);
    }
    const cJSON *c, *all = db ? cJSON_GetObjectItem(j, "cases") : NULL;
    cJSON_ArrayForEach(c, all)
    {
        const char *key = test_json_string(c, "key", jp), *prompt = test_json_string(c, "prompt", jp);
        const char *emphasis = test_json_string(c, "emphasis", jp);
        if (!key || !prompt || !emphasis)
            continue;
        mend_cond_opts o;
        mend_cond_opts_default(&o);
        o.clip_skip = (int)test_json_number(c, "clip_skip", 1, key);
        o.ti = &l;
        CHECK(mend_emphasis_from_name(emphasis, &o.emphasis) == 0);
        mend_chunk_opts co;
        mend_chunk_opts_default(&co);
        co.emphasis = o.emphasis;
        co.ti = &l;
        mend_prompt_chunks got;
        CHECK_OK(mend_prompt_chunks_build(prompt, &co, mend_prompt_tokenize_clip, m->tokenizer, &got, &err), &err);
        check_chunks(c, ref, &got, key);
        mend_prompt_chunks_free(&got);
        check_cond(c, ref, m, &o, key, &worst);
        cases++;
    }
    printf("%d a1111_ti_cond cases, worst cond err %.2e\n", cases, worst);
    CHECK_MSG(!db || cases > 0, "no cases in %s", jp);
    mend_ti_lookup_free(&l);
    if (db)
        mend_ti_db_release(db);
    cJSON_Delete(j);
    mend_tf_close(ref);
    mend_sd_free(m);
}

int main(void)
{
    RUN(database);
    RUN(conditioning);
    return test_summary();
}
