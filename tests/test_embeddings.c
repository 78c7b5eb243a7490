/* Textual inversion on files written here: every format (A1111 .pt, with
 * a plain dict or an old ParameterDict, an A1111 embedding PNG,
 * diffusers .bin 1-D f16, safetensors emb_params f16/f32, subfolders), the
 * bad ones reported and left out (corrupt, truncated, wrong width, several
 * terms, too many vectors), the rescan when the folder changes while an
 * older snapshot stays usable, the chunking rules with a hand-made look-up
 * (longest match, emphasis, overflow into the next chunk, BREAK, A1111's
 * comma back-off that leaves a fix behind), the splice (an embedding made
 * of a word's own token embedding encodes exactly as that word), and a
 * whole job's infotext `TI hashes` on a random tiny model. */
#include "test.h"

#include "torchzip_fixture.h"

#include "core/half.h"
#include "core/sha256.h"
#include "inpaint/conditioning.h"
#include "io/st_writer.h"
#include "mend/mend.h"
#include "model/embeddings.h"
#include "model/sd_model.h"
#include "server/server.h" /* srv_b64_encode, compiled into the test fixtures */

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define W 32 /* the tiny model's text encoder width */

static mend_sd_model *g_model;

/* A random tiny checkpoint (mend-dev make-model) with the shared vocabulary. */
static mend_sd_model *model(void)
{
    const char *vocab = test_shared("clip/bpe_simple_vocab_16e6.txt.gz");
    if (g_model || !vocab)
        return g_model;
    const char *path = test_tmp_path("tiny.safetensors");
    mend_err err = {0};
    CHECK(test_make_tiny_model(path, 3));
    CHECK_OK(mend_model_load(path, vocab, &g_model, &err), &err);
    if (g_model)
        CHECK(mend_clip_get_arch(g_model->clip)->width == W);
    return g_model;
}

static void write_st(const char *path, const char *const *keys, int nkeys, mend_dtype dt, int vectors, int width,
                     const float *v)
{
    mend_st_writer *w = mend_st_writer_new();
    mend_err err = {0};
    int64_t shape[2] = {vectors, width};
    for (int k = 0; k < nkeys; k++)
        CHECK_OK(mend_st_writer_add_f32_as(w, keys[k], dt, 2, shape, v, &err), &err);
    CHECK_OK(mend_st_writer_write(w, path, &err), &err);
    mend_st_writer_free(w);
}

static void write_emb_params(const char *path, mend_dtype dt, int vectors, int width, const float *v)
{
    static const char *const key[] = {"emb_params"};
    write_st(path, key, 1, dt, vectors, width, v);
}

/* Embedding.save's layout, float32 [vectors, width]. */
static void write_a1111_pt(const char *path, const char *name, int vectors, const float *v, int64_t step,
                           const char *checkpoint, int module)
{
    fx_tensor t = {"*", "FloatStorage", "0", (int64_t)vectors * W, 0, 2, {vectors, W}, NULL, module ? FX_PARAM : FX_V2,
                   NULL};
    pw w = {0};
    make_ti_pickle(&w, &t, name, step, checkpoint, module);
    fx_storage s = {"0", v, (size_t)vectors * W * sizeof *v};
    CHECK(write_torch_file(path, w.b.d, w.b.n, &s, 1, 0));
    free(w.b.d);
}

/* diffusers' learned_embeds.bin: {"<token>": HalfTensor[width]} (1-D). */
static void write_diffusers_bin(const char *path, const float *v)
{
    uint16_t half[W];
    for (int i = 0; i < W; i++)
        half[i] = mend_f32_to_f16(v[i]);
    fx_tensor t = {"<beta>", "HalfStorage", "0", W, 0, 1, {W}, NULL, FX_V2, NULL};
    fx_storage s = {"0", half, sizeof half};
    CHECK(write_checkpoint(path, &t, 1, &s, 1, 0, 0));
}

/* An embedding image as A1111 saves it: a PNG whose "sd-ti-embedding" text
 * is base64 of the embedding's JSON, tensors as {"TORCHTENSOR": lists}. */
static void write_png_embedding(const char *path, const char *name, int vectors, const float *v)
{
    cJSON *d = cJSON_CreateObject(), *param = cJSON_AddObjectToObject(d, "string_to_param");
    cJSON *rows = cJSON_AddArrayToObject(cJSON_AddObjectToObject(param, "*"), "TORCHTENSOR");
    for (int r = 0; r < vectors; r++) {
        cJSON *row = cJSON_CreateArray();
        for (int k = 0; k < W; k++)
            cJSON_AddItemToArray(row, cJSON_CreateNumber(v[r * W + k]));
        cJSON_AddItemToArray(rows, row);
    }
    cJSON_AddStringToObject(d, "name", name);
    cJSON_AddNumberToObject(d, "step", 3);
    cJSON_AddNullToObject(d, "sd_checkpoint");
    char *json = cJSON_PrintUnformatted(d), *b64 = json ? srv_b64_encode((const uint8_t *)json, strlen(json)) : NULL;
    mend_image img = {0};
    mend_err err = {0};
    test_make_gradient(&img, 8, 8);
    mend_png_text text = {"sd-ti-embedding", b64};
    CHECK_OK(mend_image_save_png(path, &img, &text, b64 ? 1 : 0, &err), &err);
    mend_image_free(&img);
    free(b64);
    free(json);
    cJSON_Delete(d);
}

/* Values f16 holds exactly, different per embedding. */
static void fill(float *v, int n, int seed)
{
    for (int i = 0; i < n; i++)
        v[i] = (float)((i * 7 + seed * 13) % 33 - 16) / 8.0f;
}

static const char *folder(const char *name)
{
    static char path[1100];
    snprintf(path, sizeof path, "%s/%s", test_tmpdir(), name);
    mkdir(path, 0755);
    return path;
}

static const char *in(const char *dir, const char *file)
{
    static char path[2300];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return path;
}

/* The folder of TEST(formats): good files of every kind and bad ones. */
static void write_folder(const char *dir)
{
    float a[2 * W], b[W], g[3 * W], wide[W + 16], many[76 * W];
    fill(a, 2 * W, 1), fill(b, W, 2), fill(g, 3 * W, 3), fill(wide, W + 16, 4), fill(many, 76 * W, 5);
    mkdir(in(dir, "sub"), 0755);
    write_a1111_pt(in(dir, "alpha.pt"), "not-the-name", 2, a, 7, "abc123", 0);
    write_a1111_pt(in(dir, "sub/epsilon.pt"), "eps", 2, a, 12, NULL, 1); /* a ParameterDict */
    write_diffusers_bin(in(dir, "beta.bin"), b);
    write_png_embedding(in(dir, "zeta.png"), "zeta-from-data", 2, a);
    write_png_embedding(in(dir, "zeta.preview.png"), "a-preview", 1, b); /* previews are never read */
    mend_image plain = {0};
    mend_err err = {0};
    test_make_gradient(&plain, 8, 8);
    CHECK_OK(mend_image_save_png(in(dir, "picture.png"), &plain, NULL, 0, &err), &err); /* no embedding in it */
    mend_image_free(&plain);
    write_emb_params(in(dir, "Gamma.safetensors"), MEND_DT_F16, 3, W, g);
    write_emb_params(in(dir, "sub/delta.safetensors"), MEND_DT_F32, 1, W, b);
    write_emb_params(in(dir, "wide.safetensors"), MEND_DT_F32, 1, W + 16, wide);
    write_emb_params(in(dir, "many.safetensors"), MEND_DT_F32, 76, W, many);
    static const char *const two[] = {"emb_params", "other"};
    write_st(in(dir, "multi.safetensors"), two, 2, MEND_DT_F32, 1, W, b);
    test_write_text(in(dir, "empty.pt"), "");
    test_write_text(in(dir, "notes.txt"), "not an embedding");
    test_write_text(in(dir, "corrupt.pt"), "PK\003\004 this is no zip archive at all, just text");
    size_t n = 0;
    char *whole = test_read_file(in(dir, "alpha.pt"), &n);
    if (whole)
        test_write_file(in(dir, "trunc.pt"), whole, n / 2);
    free(whole);
}

static const mend_ti_embedding *named(const mend_ti_db *db, const char *name)
{
    for (int i = 0; i < db->nloaded; i++)
        if (!strcmp(db->loaded[i].name, name))
            return &db->loaded[i];
    return NULL;
}

static void check_vectors(const mend_ti_db *db, const char *name, int vectors, int seed)
{
    const mend_ti_embedding *e = named(db, name);
    float want[3 * W];
    fill(want, vectors * W, seed);
    CHECK_MSG(e && e->vectors == vectors && e->shape == W && e->vec, "%s: %d vectors", name, e ? e->vectors : -1);
    if (e && e->vectors == vectors && e->vec)
        CHECK_MSG(test_max_abs_diff(e->vec, want, vectors * W) == 0, "%s: values differ", name);
    char hex[65];
    mend_err err = {0};
    CHECK_OK(mend_sha256_file(e ? e->path : "", hex, &err), &err);
    CHECK_MSG(e && !strcmp(e->hash, hex) && strlen(e->shorthash) == 12 && !strncmp(e->shorthash, hex, 12),
              "%s: hash", name);
}

TEST(formats)
{
    const char *dir = folder("formats");
    write_folder(dir);
    mend_set_embeddings_dir(dir);
    mend_ti_db *db = NULL;
    char *log = NULL;
    mend_err err = {0};
    CHECK_OK(mend_ti_db_acquire(W, 1, &db, &log, &err), &err);
    if (!db)
        return;
    /* loaded by lower-case name, the subfolder's too; wrong width: skipped */
    const char *order[] = {"alpha", "beta", "delta", "epsilon", "Gamma", "zeta-from-data"};
    CHECK_MSG(db->nloaded == 6, "%d loaded", db->nloaded);
    for (int i = 0; i < 6 && i < db->nloaded; i++)
        CHECK_MSG(!strcmp(db->loaded[i].name, order[i]), "loaded[%d] = %s", i, db->loaded[i].name);
    CHECK(db->nskipped == 1 && !strcmp(db->skipped[0].name, "wide") && db->skipped[0].shape == W + 16);
    check_vectors(db, "alpha", 2, 1);
    check_vectors(db, "epsilon", 2, 1);
    check_vectors(db, "zeta-from-data", 2, 1);
    check_vectors(db, "beta", 1, 2);
    check_vectors(db, "Gamma", 3, 3);
    const mend_ti_embedding *a = named(db, "alpha"), *b = named(db, "beta");
    CHECK(a && a->has_step && a->step == 7 && a->sd_checkpoint && !strcmp(a->sd_checkpoint, "abc123") &&
          !a->sd_checkpoint_name);
    CHECK(b && !b->has_step && !b->sd_checkpoint);
    /* each bad file named once in the log, the empty and foreign ones not at all */
    const char *bad[] = {"corrupt.pt", "trunc.pt", "multi.safetensors", "many.safetensors"};
    for (int i = 0; i < 4; i++)
        CHECK_MSG(log && strstr(log, bad[i]), "log does not name %s: %s", bad[i], log ? log : "(none)");
    CHECK(log && strstr(log, "multiple terms") && strstr(log, "Error loading embedding "));
    CHECK(log && !strstr(log, "empty.pt") && !strstr(log, "notes.txt") && !strstr(log, ".png"));
    free(log);
    mend_ti_db_release(db);
    /* the public listing: loaded, then skipped */
    mend_embedding_info *list = NULL;
    int count = 0;
    CHECK_OK(mend_embeddings_list(0, &list, &count, NULL, &err), &err);
    CHECK(count == 7 && list && !strcmp(list[0].name, "alpha") && list[0].step == 7 && list[0].vectors == 2 &&
          !list[0].skipped && list[6].skipped && !strcmp(list[6].name, "wide") && list[6].shape == W + 16);
    CHECK(count == 7 && !strcmp(list[3].name, "epsilon") && list[3].has_step && list[3].step == 12);
    CHECK(count == 7 && !strcmp(list[5].name, "zeta-from-data") && list[5].step == 3 && !list[5].sd_checkpoint);
    mend_embeddings_list_free(list, count);
    /* a model of another width loaded: the listing follows it */
    mend_ti_set_default_width(W + 16);
    CHECK_OK(mend_embeddings_list(0, &list, &count, NULL, &err), &err);
    CHECK(count == 7 && list && !strcmp(list[0].name, "wide") && !list[0].skipped && list[1].skipped);
    mend_embeddings_list_free(list, count);
    mend_ti_set_default_width(-1);
}

TEST(rescan)
{
    const char *dir = folder("rescan");
    float v[W];
    fill(v, W, 9);
    write_emb_params(in(dir, "one.safetensors"), MEND_DT_F32, 1, W, v);
    mend_set_embeddings_dir(dir);
    mend_ti_db *first = NULL, *again = NULL, *second = NULL;
    mend_err err = {0};
    CHECK_OK(mend_ti_db_acquire(W, 0, &first, NULL, &err), &err);
    CHECK_OK(mend_ti_db_acquire(W, 0, &again, NULL, &err), &err);
    CHECK(first && first == again); /* nothing changed: the same snapshot */
    sleep(1); /* a coarse file system's mtime must move */
    write_emb_params(in(dir, "two.safetensors"), MEND_DT_F32, 1, W, v);
    CHECK_OK(mend_ti_db_acquire(W, 0, &second, NULL, &err), &err);
    CHECK(second && second != first && second->nloaded == 2);
    CHECK(first && first->nloaded == 1 && first->loaded[0].vec[3] == v[3]); /* still held, still whole */
    mend_ti_db_release(first);
    mend_ti_db_release(again);
    mend_ti_db_release(second);
    /* a folder that is not there holds nothing and is no error */
    mend_set_embeddings_dir(in(dir, "absent"));
    CHECK_OK(mend_ti_db_acquire(W, 0, &first, NULL, &err), &err);
    CHECK(first && first->nloaded == 0 && first->nskipped == 0);
    mend_ti_db_release(first);
}

/* The fake tokenizer of the chunk tests: a word of k letters is id 1000 + k,
 * a lone comma the CLIP comma. */
static mend_status fake_tokenize(void *user, const char *text, int32_t **ids, int *n, mend_err *err)
{
    (void)user;
    size_t len = strlen(text);
    *n = 0;
    if (!(*ids = malloc((len + 1) * sizeof **ids)))
        return mend_fail(err, MEND_E_NOMEM, "fake tokenizer");
    for (size_t i = 0; i < len;) {
        size_t j = i + strspn(text + i, " ");
        size_t k = j + strcspn(text + j, " ");
        if (k > j)
            (*ids)[(*n)++] = k - j == 1 && text[j] == ',' ? MEND_CLIP_COMMA : (int32_t)(1000 + (k - j));
        i = k;
    }
    return MEND_OK;
}

static char *words(int count, const char *tail)
{
    char *s = malloc((size_t)count * 2 + strlen(tail) + 1);
    if (!s)
        return NULL;
    for (int i = 0; i < count; i++)
        memcpy(s + 2 * i, "x ", 2);
    strcpy(s + 2 * count, tail);
    return s;
}

static mend_prompt_chunks chunk(const char *prompt, const mend_ti_lookup *l)
{
    mend_chunk_opts o;
    mend_chunk_opts_default(&o);
    o.ti = l;
    mend_prompt_chunks c = {0};
    mend_err err = {0};
    CHECK_OK(mend_prompt_chunks_build(prompt, &o, fake_tokenize, NULL, &c, &err), &err);
    return c;
}

static int fix_is(const mend_prompt_chunks *c, int i, int chunk_index, int offset, const mend_ti_embedding *e)
{
    return i < c->n_fixes && c->fixes[i].chunk == chunk_index && c->fixes[i].offset == offset && c->fixes[i].emb == e;
}

TEST(chunking)
{
    mend_ti_embedding three = {.name = "aaa", .vectors = 3, .shape = W}, two = {.name = "aaa bb", .vectors = 2};
    int32_t ids3[] = {1003}, ids2[] = {1003, 1002};
    mend_ti_name names[] = {{ids2, 2, &two}, {ids3, 1, &three}}; /* first id, longest first */
    mend_ti_lookup l = {names, 2};
    /* the longest name wins; its vectors are placeholder zeros */
    mend_prompt_chunks c = chunk("x aaa bb aaa", &l);
    CHECK(c.token_count == 6 && c.tokens[1] == 1001 && c.tokens[2] == 0 && c.tokens[3] == 0 && c.tokens[4] == 0);
    CHECK(c.n_fixes == 2 && fix_is(&c, 0, 0, 1, &two) && fix_is(&c, 1, 0, 3, &three));
    mend_prompt_chunks_free(&c);
    /* emphasis weights every vector */
    c = chunk("(aaa:1.5) [aaa]", &l);
    CHECK(c.multipliers[1] == 1.5f && c.multipliers[3] == 1.5f && c.multipliers[4] == (float)(1 / 1.1));
    mend_prompt_chunks_free(&c);
    /* three vectors after 74 tokens do not fit: the next chunk takes them */
    char *p = words(74, "aaa");
    c = chunk(p, &l);
    CHECK(c.n_chunks == 2 && c.token_count == 78 && fix_is(&c, 0, 1, 0, &three));
    CHECK(c.tokens[75] == MEND_CLIP_EOS && c.tokens[77 + 1] == 0 && c.tokens[77 + 4] == MEND_CLIP_EOS);
    mend_prompt_chunks_free(&c);
    free(p);
    /* BREAK */
    c = chunk("aaa BREAK aaa", &l);
    CHECK(c.n_chunks == 2 && fix_is(&c, 0, 0, 0, &three) && fix_is(&c, 1, 1, 0, &three));
    mend_prompt_chunks_free(&c);
    /* A1111's comma back-off moves the tokens only: the fix stays behind */
    p = words(70, ", aaa x x");
    c = chunk(p, &l);
    CHECK(c.n_chunks == 2 && c.n_fixes == 1 && fix_is(&c, 0, 0, 71, &three));
    CHECK(c.tokens[77 + 1] == 0 && c.tokens[77 + 3] == 0 && c.tokens[77 + 4] == 1001 && c.tokens[72] == MEND_CLIP_EOS);
    mend_prompt_chunks_free(&c);
    free(p);
}

/* An embedding made of a word's own token embedding row: its name in a
 * prompt encodes exactly as the word does (emphasis and clip skip too). */
TEST(splice)
{
    mend_sd_model *m = model();
    if (!m)
        return;
    mend_err err = {0};
    int32_t *ids = NULL;
    int n = 0;
    CHECK_OK(mend_tokenize(m->tokenizer, "dog", &ids, &n, &err), &err);
    char key[256];
    snprintf(key, sizeof key, "%stext_model.embeddings.token_embedding.weight", m->te_prefix);
    float *table = NULL;
    CHECK_OK(mend_tf_load_f32(m->te_file, key, -1, &table, &err), &err);
    if (!table || n != 1)
        goto done;
    const char *dir = folder("splice");
    write_emb_params(in(dir, "mydog.safetensors"), MEND_DT_F32, 1, W, table + (size_t)ids[0] * W);
    mend_set_embeddings_dir(dir);
    mend_ti_db *db = NULL;
    CHECK_OK(mend_ti_db_acquire(W, 1, &db, NULL, &err), &err);
    mend_ti_lookup l = {0};
    CHECK_OK(mend_ti_lookup_build(db, m->tokenizer, &l, &err), &err);
    const char *pairs[][2] = {{"a photo of mydog", "a photo of dog"}, {"(mydog:1.3), grass", "(dog:1.3), grass"}};
    for (int clip_skip = 1; clip_skip <= 2; clip_skip++)
        for (int i = 0; i < 2; i++) {
            mend_cond_opts o;
            mend_cond_opts_default(&o);
            o.clip_skip = clip_skip;
            o.ti = &l;
            float *with = NULL, *word = NULL;
            int t1 = 0, t2 = 0;
            CHECK_OK(mend_cond_encode_texts(m->clip, m->tokenizer, &pairs[i][0], 1, &o, &with, &t1, NULL, &err), &err);
            CHECK_OK(mend_cond_encode_texts(m->clip, m->tokenizer, &pairs[i][1], 1, &o, &word, &t2, NULL, &err), &err);
            CHECK_MSG(with && word && t1 == t2 && test_max_abs_diff(with, word, (int64_t)t1 * W) <= 1e-6,
                      "'%s' vs '%s' (clip skip %d)", pairs[i][0], pairs[i][1], clip_skip);
            free(with);
            free(word);
        }
    mend_ti_lookup_free(&l);
    mend_ti_db_release(db);
done:
    free(ids);
    free(table);
}

static char *job_infotext(mend_sd_model *m, const char *prompt, const char *negative, char **log)
{
    mend_gen_params p;
    mend_gen_params_api_default(&p);
    p.prompt = prompt;
    p.negative_prompt = negative;
    p.width = p.height = 64;
    p.steps = 1;
    p.seed = 5;
    mend_gen_inputs in = {0};
    mend_gen_output out = {0};
    mend_err err = {0};
    CHECK_OK(mend_generate(m, &p, &in, NULL, NULL, &out, &err), &err);
    char *info = out.count == 1 ? strdup(out.infotexts[0]) : NULL;
    *log = out.log ? strdup(out.log) : NULL;
    mend_gen_output_free(&out);
    return info;
}

/* TI hashes: the positive prompt's embeddings, then the negative's; a
 * corrupt file in the folder is reported in the job's log, the job runs. */
TEST(job)
{
    mend_sd_model *m = model();
    if (!m)
        return;
    const char *dir = folder("job");
    float v[W];
    fill(v, W, 6);
    write_emb_params(in(dir, "shiny.safetensors"), MEND_DT_F16, 1, W, v);
    write_emb_params(in(dir, "dull.safetensors"), MEND_DT_F32, 1, W, v);
    test_write_text(in(dir, "broken.pt"), "garbage");
    mend_set_embeddings_dir(dir);
    mend_embedding_info *list = NULL;
    int count = 0;
    mend_err err = {0};
    CHECK_OK(mend_embeddings_list(1, &list, &count, NULL, &err), &err);
    mend_embeddings_list_free(list, count);
    mend_ti_db *db = NULL;
    CHECK_OK(mend_ti_db_acquire(W, 0, &db, NULL, &err), &err);
    const mend_ti_embedding *shiny = db ? named(db, "shiny") : NULL, *dull = db ? named(db, "dull") : NULL;
    char want[200];
    snprintf(want, sizeof want, "TI hashes: \"shiny: %s, dull: %s\"", shiny ? shiny->shorthash : "?",
             dull ? dull->shorthash : "?");
    sleep(1);
    test_write_text(in(dir, "broken2.pt"), "more garbage"); /* a rescan for the job, whose log names it */
    char *log = NULL, *info = job_infotext(m, "a shiny cat", "dull, blurry", &log);
    CHECK_MSG(info && strstr(info, want), "infotext lacks %s: %s", want, info ? info : "(none)");
    CHECK_MSG(log && strstr(log, "broken2.pt"), "log: %s", log ? log : "(none)");
    free(info);
    free(log);
    info = job_infotext(m, "a plain cat", "", &log);
    CHECK_MSG(info && !strstr(info, "TI hashes"), "no embedding, no TI hashes: %s", info ? info : "(none)");
    CHECK(!log); /* nothing changed: no rescan, nothing reported again */
    free(info);
    free(log);
    mend_ti_db_release(db);
}

int main(void)
{
    RUN(formats);
    RUN(rescan);
    RUN(chunking);
    RUN(splice);
    RUN(job);
    mend_model_free(g_model);
    test_remove_tmpdir();
    return test_summary();
}
