/* LoRA / LyCORIS against ../shared/testdata/lora: A1111 1.10's key mapping
 * (networks.json) and the merged weights of every apply_*.json case
 * (caseI/merged/KEY = base/weights/KEY + the networks' deltas in order). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "cJSON.h"
#include "core/half.h"
#include "inpaint/lora_tags.h"
#include "model/lora.h"
#include "model/lora_apply.h"
#include "model/weights.h"
#include "test.h"

static cJSON *load_json(const char *rel) {
    const char *p = test_shared(rel);
    char *text = p ? test_read_file(p, NULL) : NULL;
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    return j;
}

static int has_candidate(const char *module, const char *layer) {
    char cand[4][MEND_LORA_NAME_MAX];
    int n = mend_lora_layer_candidates(module, cand);
    for (int i = 0; i < n; i++)
        if (strcmp(cand[i], layer) == 0) return 1;
    return 0;
}

/* Every module A1111 built: file module -> layer name, checkpoint key ->
 * layer name, and which multiplier applies. */
TEST(key_mapping) {
    cJSON *j = load_json("lora/networks.json");
    if (!j) return;
    const cJSON *file;
    cJSON_ArrayForEach(file, test_json_need(j, "files", "networks.json")) {
        const cJSON *m;
        cJSON_ArrayForEach(m, test_json_need(file, "modules", file->string)) {
            const char *mod = test_json_string(m, "file_module", file->string);
            const char *layer = test_json_string(m, "network_layer_name", file->string);
            const char *key = test_json_string(m, "checkpoint_key", file->string);
            const char *mult = test_json_string(m, "multiplier", file->string);
            if (!mod || !layer || !key || !mult) continue;
            char got[MEND_LORA_NAME_MAX];
            mend_err err = {0};
            CHECK_MSG(has_candidate(mod, layer), "%s: %s not among the candidates", mod, layer);
            CHECK_OK(mend_lora_layer_of_key(key, got, sizeof got, &err), &err);
            CHECK_MSG(strcmp(got, layer) == 0, "%s -> %s, want %s", key, got, layer);
            CHECK_MSG(mend_lora_layer_is_te(layer) == (strcmp(mult, "te") == 0), "%s: multiplier %s", layer, mult);
        }
    }
    cJSON_Delete(j);
}

typedef struct net_ctx {
    mend_tf *f;
    float te, unet;
    int dyn, errors;
    int round_dtype; /* LoHa/LoKr merge in the file dtype: 0 none, 1 f16, 2 bf16 */
} net_ctx;

/* Adds every module of the network that names `layer` to w (A1111 order). */
static void apply_net(net_ctx *n, const char *layer, const mend_tf_tensor *t, float *w) {
    char last[MEND_TF_NAME_MAX] = "";
    int64_t numel = mend_tf_numel(t);
    for (int i = 0; i < n->f->count; i++) {
        const char *name = n->f->tensors[i].name, *dot = strchr(name, '.');
        char mod[MEND_TF_NAME_MAX];
        snprintf(mod, sizeof mod, "%.*s", (int)(dot ? dot - name : (long)strlen(name)), name);
        if (strcmp(mod, last) == 0 || !has_candidate(mod, layer)) continue;
        snprintf(last, sizeof last, "%s", mod);
        float *d = NULL;
        mend_err err = {0};
        mend_status st = mend_lora_module_delta(n->f, mod, t->shape, t->ndim, n->dyn, &d, &err);
        if (st == MEND_E_ARG) { /* A1111: the layer stays unchanged, the network counts an error */
            n->errors++;
            continue;
        }
        CHECK_OK(st, &err);
        if (st != MEND_OK) continue;
        int how = mend_lora_module_merge_dtype(n->f, mod);
        mend_lora_merge(w, d, numel, mend_lora_layer_is_te(layer) ? n->te : n->unet, how);
        if (how) n->round_dtype = how;
        free(d);
    }
}

/* Opens a network of a case; NAME_as_kohya (not stored) is NAME.safetensors
 * (a PEFT file) converted by mend_lora_peft_to_kohya. */
static int open_net(const cJSON *nj, net_ctx *n, const char *where) {
    const char *file = test_json_string(nj, "file", where);
    char path[1024];
    mend_err err = {0};
    memset(n, 0, sizeof *n);
    if (!file) return 0;
    const char *dir = test_shared("lora/files");
    if (!dir) return 0;
    const char *conv = strstr(file, "_as_kohya.safetensors");
    snprintf(path, sizeof path, "%s/%.*s%s", dir, conv ? (int)(conv - file) : (int)strlen(file), file,
             conv ? ".safetensors" : "");
    CHECK_OK(mend_tf_open(path, &n->f, &err), &err);
    if (n->f && conv) {
        CHECK(mend_lora_is_peft(n->f));
        CHECK_OK(mend_lora_peft_to_kohya(n->f, &err), &err);
    }
    const cJSON *dyn = cJSON_GetObjectItemCaseSensitive(nj, "dyn_dim");
    n->te = (float)test_json_number(nj, "te_multiplier", 1, where);
    n->unet = (float)test_json_number(nj, "unet_multiplier", 1, where);
    n->dyn = cJSON_IsNumber(dyn) ? dyn->valueint : 0;
    return n->f != NULL;
}

/* Compares every caseI/merged/KEY of one case. */
static void check_case(const mend_tf *g, const cJSON *c, const char *set) {
    const char *ck = test_json_string(c, "key", set);
    const cJSON *nets = test_json_need(c, "networks (in application order)", set);
    int nn = cJSON_GetArraySize(nets);
    net_ctx *n = calloc((size_t)(nn > 0 ? nn : 1), sizeof *n);
    int ok = n && ck;
    for (int i = 0; ok && i < nn; i++) ok = open_net(cJSON_GetArrayItem(nets, i), &n[i], set);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s/merged/", ck ? ck : "?");
    for (int t = 0; ok && t < g->count; t++) {
        const char *name = g->tensors[t].name;
        if (strncmp(name, prefix, strlen(prefix)) != 0) continue;
        const char *key = name + strlen(prefix);
        char layer[MEND_LORA_NAME_MAX], bname[MEND_TF_NAME_MAX];
        mend_err err = {0};
        int64_t numel = 0, bn = 0;
        snprintf(bname, sizeof bname, "base/weights/%s", key);
        float *want = test_load_f32(g, name, &numel), *w = test_load_f32(g, bname, &bn);
        CHECK_OK(mend_lora_layer_of_key(key, layer, sizeof layer, &err), &err);
        float *base = test_load_f32(g, bname, &bn);
        int how = 0;
        for (int i = 0; want && w && bn == numel && i < nn; i++) {
            apply_net(&n[i], layer, mend_tf_find(g, bname), w);
            how |= n[i].round_dtype;
            n[i].round_dtype = 0;
        }
        double maxw = 0, worst = 0;
        for (int64_t k = 0; want && w && k < numel; k++) maxw = fmax(maxw, fabs(want[k]));
        for (int64_t k = 0; want && w && k < numel; k++) {
            /* merges rounded to bf16/fp16 (LyCORIS files): the README's one ulp,
             * at the layer's largest weight (torch rounds each op; we round
             * the factors, the product, the scaled delta and the sum) */
            double ulp = ldexp(1.0, ilogb(maxw > 0 ? maxw : 1) - (how == 2 ? 7 : 10));
            double tol = how ? fmax(1e-6 * maxw, ulp) : 1e-6 * maxw;
            double e = fabs(want[k] - w[k]);
            if (e > tol && e > worst) worst = e;
        }
        CHECK_MSG(want && w && bn == numel && worst == 0, "%s %s %s: max err over tolerance %g (max|W| %g)", set, ck, key, worst, maxw);
        free(want);
        free(w);
        free(base);
    }
    for (int i = 0; n && i < nn; i++) mend_tf_close(n[i].f);
    free(n);
}

TEST(merged_weights) {
    char **sets = NULL;
    int ns = test_list_cases("lora", ".json", &sets);
    for (int s = 0; s < ns; s++) {
        if (strncmp(sets[s], "apply_", 6) != 0) continue;
        char rel[256];
        snprintf(rel, sizeof rel, "lora/%s.json", sets[s]);
        cJSON *j = load_json(rel);
        snprintf(rel, sizeof rel, "lora/%s.safetensors", sets[s]);
        const char *gp = test_shared(rel);
        mend_tf *g = NULL;
        mend_err err = {0};
        if (j && gp) CHECK_OK(mend_tf_open(gp, &g, &err), &err);
        const cJSON *idx, *cases = test_json_need(j, "cases", sets[s]);
        cJSON_ArrayForEach(idx, test_json_need(j, "merged_cases", sets[s])) {
            if (g && cJSON_IsNumber(idx)) check_case(g, cJSON_GetArrayItem(cases, idx->valueint), sets[s]);
        }
        mend_tf_close(g);
        cJSON_Delete(j);
    }
    test_free_list(sets, ns);
}

/* Every prompt of prompt_tags.json: text left, lora/lyco tags with their
 * multipliers (checked against what A1111 loaded where the file exists). */
TEST(prompt_tags) {
    cJSON *j = load_json("lora/prompt_tags.json");
    if (!j) return;
    const cJSON *c;
    cJSON_ArrayForEach(c, test_json_need(j, "cases", "prompt_tags.json")) {
        const char *prompt = test_json_string(c, "prompt", "prompt_tags.json");
        const char *want = test_json_string(c, "prompt_after_tags_removed", "prompt_tags.json");
        const cJSON *end = test_json_need(c, "extra_network_data", "prompt_tags.json");
        const cJSON *loaded = test_json_need(c, "loaded", "prompt_tags.json");
        if (!prompt || !want) continue;
        int nlora = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(end, "lora")) +
                    cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(end, "lyco"));
        mend_lora_tags t;
        mend_err err = {0};
        CHECK_OK(mend_lora_tags_parse(prompt, &t, &err), &err);
        CHECK_MSG(t.text && strcmp(t.text, want) == 0, "'%s' -> '%s', want '%s'", prompt, t.text, want);
        CHECK_MSG(t.count == nlora, "'%s': %d tags, want %d", prompt, t.count, nlora);
        int nl = cJSON_GetArraySize(loaded);
        for (int i = 0; i < nl && i < t.count; i++) {
            const cJSON *l = cJSON_GetArrayItem(loaded, i), *dyn = cJSON_GetObjectItemCaseSensitive(l, "dyn_dim");
            const char *name = test_json_string(l, "name", prompt);
            CHECK_MSG(name && strcmp(t.tags[i].name, name) == 0, "'%s': name %s", prompt, t.tags[i].name);
            CHECK_MSG(t.tags[i].te == test_json_number(l, "te_multiplier", NAN, prompt) &&
                          t.tags[i].unet == test_json_number(l, "unet_multiplier", NAN, prompt),
                      "'%s': te %g unet %g", prompt, t.tags[i].te, t.tags[i].unet);
            CHECK_MSG(t.tags[i].dyn_dim == (cJSON_IsNumber(dyn) ? dyn->valueint : 0), "'%s': dyn %d", prompt, t.tags[i].dyn_dim);
        }
        /* the folder look-up: infotext `Lora hashes` and A1111's "Lora not found" */
        const char *dir = test_shared("lora/files");
        char *hashes = NULL, *missing = NULL;
        if (dir) CHECK_OK(mend_lora_tags_lookup(&t, dir, &hashes, &missing, &err), &err);
        const cJSON *wh = cJSON_GetObjectItemCaseSensitive(c, "infotext_Lora_hashes");
        const char *whs = cJSON_IsString(wh) ? wh->valuestring : NULL;
        CHECK_MSG((!whs && !hashes) || (whs && hashes && strcmp(whs, hashes) == 0), "'%s': hashes '%s', want '%s'", prompt,
                  hashes ? hashes : "(none)", whs ? whs : "(none)");
        char want_missing[1024] = "";
        const cJSON *cm;
        cJSON_ArrayForEach(cm, cJSON_GetObjectItemCaseSensitive(c, "comments")) {
            if (cJSON_IsString(cm) && strncmp(cm->valuestring, "Lora not found: ", 16) == 0)
                snprintf(want_missing + strlen(want_missing), sizeof want_missing - strlen(want_missing), "%s%s",
                         want_missing[0] ? ", " : "", cm->valuestring + 16);
        }
        CHECK_MSG(strcmp(missing ? missing : "", want_missing) == 0, "'%s': missing '%s', want '%s'", prompt,
                  missing ? missing : "", want_missing);
        free(hashes);
        free(missing);
        mend_lora_tags_free(&t);
    }
    cJSON_Delete(j);
    /* A1111's float() raises on a non-number multiplier: an error, nothing kept */
    mend_lora_tags t;
    mend_err err = {0};
    CHECK(mend_lora_tags_parse("a <lora:x:abc> cat", &t, &err) == MEND_E_ARG && t.count == 0 && !t.text);
}

/* Every module of every network against its layer's shape (networks.json):
 * all compute, except those A1111 counted as errors (apply_stack.json's
 * "Networks with errors"), whose message names both shapes. */
TEST(module_shapes) {
    cJSON *j = load_json("lora/networks.json"), *st = load_json("lora/apply_stack.json");
    const char *dir = test_shared("lora/files");
    if (!j || !st || !dir) goto out;
    const cJSON *file, *c;
    cJSON_ArrayForEach(file, test_json_need(j, "files", "networks.json")) {
        char path[1024], stem[256];
        snprintf(stem, sizeof stem, "%.*s", (int)(strlen(file->string) - 12), file->string);
        snprintf(path, sizeof path, "%s/%s", dir, file->string);
        int want = 0;
        cJSON_ArrayForEach(c, test_json_need(st, "cases", "apply_stack.json")) {
            const cJSON *le = cJSON_GetObjectItemCaseSensitive(c, "layer_errors (A1111 reports 'Networks with errors: NAME (N)')");
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(le, stem);
            if (cJSON_IsNumber(v)) want = v->valueint;
        }
        mend_tf *f = NULL;
        mend_err err = {0};
        if (strstr(stem, "_as_kohya")) continue; /* not stored; covered by merged_weights */
        CHECK_OK(mend_tf_open(path, &f, &err), &err);
        if (f && mend_lora_is_peft(f)) CHECK_OK(mend_lora_peft_to_kohya(f, &err), &err);
        int errors = 0;
        const cJSON *m;
        cJSON_ArrayForEach(m, test_json_need(file, "modules", file->string)) {
            const cJSON *sh = cJSON_GetObjectItemCaseSensitive(m, "layer_weight_shape");
            const char *mod = test_json_string(m, "file_module", file->string);
            int64_t shape[4];
            int nd = cJSON_GetArraySize(sh);
            if (!f || !mod || nd < 1 || nd > 4) continue;
            for (int i = 0; i < nd; i++) shape[i] = (int64_t)cJSON_GetArrayItem(sh, i)->valuedouble;
            float *d = NULL;
            mend_status s2 = mend_lora_module_delta(f, mod, shape, nd, 0, &d, &err);
            if (s2 == MEND_E_ARG) {
                errors++;
                CHECK_MSG(strstr(err.msg, mod) && strstr(err.msg, "does not fit"), "message: %s", err.msg);
            } else {
                CHECK_OK(s2, &err);
            }
            free(d);
        }
        CHECK_MSG(errors == want, "%s: %d modules do not fit, A1111 counted %d", stem, errors, want);
        mend_tf_close(f);
    }
out:
    cJSON_Delete(j);
    cJSON_Delete(st);
}

/* A truncated network file is a clear error (nothing loaded), and the
 * folder look-up passes over it instead of failing. */
TEST(corrupt_file) {
    REQUIRE_SHARED(np, "lora/files/tiny_locon.safetensors");
    size_t len = 0;
    char *bytes = test_read_file(np, &len);
    char dir[1024], path[1100];
    snprintf(dir, sizeof dir, "%s/lora_corrupt", test_tmpdir());
    snprintf(path, sizeof path, "%s/broken.safetensors", dir);
    CHECK(mkdir(dir, 0755) == 0 || errno == EEXIST);
    FILE *fp = fopen(path, "wb");
    CHECK(bytes && fp);
    if (bytes && fp) fwrite(bytes, 1, len / 2, fp);
    if (fp) fclose(fp);
    mend_tf *f = NULL;
    mend_err err = {0};
    CHECK(mend_tf_open(path, &f, &err) != MEND_OK && !f && err.msg[0]);
    char found[1200];
    CHECK(mend_lora_find(dir, "tinystyle", found, sizeof found, &err) == MEND_E_IO && strstr(err.msg, "not found"));
    mend_tf_close(f);
    free(bytes);
}

/* One real layer (tiny-sd1 conv_in, f16) merged with tiny_locon through the
 * layer swap: the merged weight matches the golden, the conv output changes,
 * and after restore the same input gives bitwise the same output. */
TEST(swap_restore_exact) {
    REQUIRE_SHARED(mp, "models/tiny-sd1.f16.safetensors");
    REQUIRE_SHARED(np, "lora/files/tiny_locon.safetensors");
    REQUIRE_SHARED(gp, "lora/apply_tiny_locon.safetensors");
    const char *key = "model.diffusion_model.input_blocks.0.0.weight";
    mend_err err = {0};
    mend_tf *mf = NULL, *nf = NULL, *g = NULL;
    mend_wstore store = {0};
    CHECK_OK(mend_tf_open(mp, &mf, &err), &err);
    CHECK_OK(mend_tf_open(np, &nf, &err), &err);
    CHECK_OK(mend_tf_open(gp, &g, &err), &err);
    if (!mf || !nf || !g) goto done;
    const mend_tf_tensor *t = mend_tf_find(mf, key);
    CHECK(t && t->ndim == 4);
    if (!t || t->ndim != 4) goto done;
    mend_wload l = {mf, "model.diffusion_model.", &store, &err, MEND_OK};
    mend_wmat *w = mend_wl_mat(&l, 4, t->shape, "input_blocks.0.0.weight");
    CHECK_OK(l.status, &err);
    if (!w) goto done;
    mend_conv2d_desc d = {(int)t->shape[1], (int)t->shape[0], (int)t->shape[2], (int)t->shape[3], 1, 1, 1, 1, 1};
    int hw = 8, cin = d.cin, cout = d.cout;
    float *x = malloc(sizeof(float) * (size_t)(cin * hw * hw)), *y[3];
    for (int i = 0; i < 3; i++) y[i] = calloc((size_t)(cout * hw * hw), sizeof(float));
    for (int i = 0; x && i < cin * hw * hw; i++) x[i] = (float)((i * 37 % 101) - 50) / 50.0f;
    if (!x || !y[0] || !y[1] || !y[2]) goto done2;
    CHECK_OK(mend_conv2d(&d, x, 1, hw, hw, w, NULL, y[0]), &err);
    const void *orig_data = w->data;
    float *merged = NULL, *delta = NULL;
    CHECK_OK(mend_lora_layer_f32(w, &merged, &err), &err);
    CHECK_OK(mend_lora_module_delta(nf, "lora_unet_conv_in", t->shape, 4, 0, &delta, &err), &err);
    int64_t n = mend_tf_numel(t), gn = 0;
    float *want = test_load_f32(g, "case0/merged/model.diffusion_model.input_blocks.0.0.weight", &gn);
    if (merged && delta && want && gn == n) {
        double maxw = 0;
        for (int64_t i = 0; i < n; i++) merged[i] += delta[i] * 1.0f, maxw = fmax(maxw, fabs(want[i]));
        CHECK_MSG(test_max_abs_diff(merged, want, n) <= 1e-6 * maxw, "merged conv_in off by %g", test_max_abs_diff(merged, want, n));
        mend_lora_saved s = {0};
        mend_lora_layer_swap(w, merged, &s);
        CHECK_OK(mend_conv2d(&d, x, 1, hw, hw, w, NULL, y[1]), &err);
        CHECK(test_max_abs_diff(y[0], y[1], cout * hw * hw) > 1e-4); /* the network did something */
        mend_lora_layer_restore(&s);
        CHECK(w->data == orig_data && w->type == MEND_W_F16);
        CHECK_OK(mend_conv2d(&d, x, 1, hw, hw, w, NULL, y[2]), &err);
        CHECK_MSG(memcmp(y[0], y[2], sizeof(float) * (size_t)(cout * hw * hw)) == 0, "output after restore differs by %g",
                  test_max_abs_diff(y[0], y[2], cout * hw * hw));
    } else {
        CHECK(0 && "merge inputs missing");
        mend_big_free(merged);
    }
    free(delta);
    free(want);
done2:
    free(x);
    for (int i = 0; i < 3; i++) free(y[i]);
done:
    mend_wstore_free(&store);
    mend_tf_close(mf);
    mend_tf_close(nf);
    mend_tf_close(g);
}

int main(void) {
    RUN(key_mapping);
    RUN(prompt_tags);
    RUN(merged_weights);
    RUN(module_shapes);
    RUN(swap_restore_exact);
    RUN(corrupt_file);
    return test_summary();
}
