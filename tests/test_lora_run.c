/* LoRA on the live model: every case of ../shared/testdata/lora/apply_*.json
 * applied through a job's path (mend_lora_run_begin: tags, folder look-up,
 * the model's own layers) against A1111's merged weights, UNet eps and
 * text-encoder output; then whole jobs (mend_generate): the same image
 * before and after a LoRA run (fp32, and bf16 where the CPU has it), the
 * warnings for networks not found and layers that do not fit, and a
 * corrupt file that fails the job and leaves the model unchanged. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "cJSON.h"
#include "inpaint/lora_run.h"
#include "mend/mend.h"
#include "model/lora.h"
#include "test.h"

static cJSON *load_json(const char *rel)
{
    const char *p = test_shared(rel);
    char *text = p ? test_read_file(p, NULL) : NULL;
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    return j;
}

static mend_sd_model *load_model(const char *rel, mend_precision prec)
{
    const char *mp = test_shared(rel), *vp = test_shared("clip/bpe_simple_vocab_16e6.txt.gz");
    mend_sd_model *m = NULL;
    mend_err err = {0};
    if (mp && vp)
        CHECK_OK(mend_model_load(mp, vp, &m, &err), &err);
    if (m)
        CHECK_OK(mend_model_set_precision(m, prec, NULL, &err), &err);
    return m;
}

/* The live layer of checkpoint key `key` as fp32 (NULL when none). */
static float *live_layer(mend_sd_model *m, const char *key, int64_t *n)
{
    static const char te[] = "cond_stage_model.transformer.", un[] = "model.diffusion_model.";
    int is_te = strncmp(key, te, sizeof te - 1) == 0;
    mend_wstore *s = is_te ? mend_clip_weights(m->clip) : mend_unet_weights(m->unet);
    mend_wmat *w = mend_wstore_find(s, key + (is_te ? sizeof te - 1 : sizeof un - 1), NULL);
    float *f = w ? malloc((size_t)(w->rows * w->cols) * sizeof *f) : NULL;
    if (f && mend_wmat_read_f32(w, f) != MEND_OK)
        free(f), f = NULL;
    *n = w ? w->rows * w->cols : 0;
    return f;
}

/* caseI/merged/KEY against the live layers; LoRA/LyCORIS tolerance of the
 * README (1e-6 max|W|, one ulp where the file is bf16). */
static void check_merged(mend_sd_model *m, const mend_tf *g, const char *ck, const char *set)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s/merged/", ck);
    for (int t = 0; t < g->count; t++) {
        const char *name = g->tensors[t].name;
        if (strncmp(name, prefix, strlen(prefix)) != 0)
            continue;
        int64_t n = 0, gn = 0;
        float *got = live_layer(m, name + strlen(prefix), &n), *want = test_load_f32(g, name, &gn);
        double maxw = 0;
        for (int64_t i = 0; want && i < gn; i++)
            maxw = fmax(maxw, fabs(want[i]));
        double e = got && want && n == gn ? test_max_abs_diff(got, want, n) : 1e9;
        double tol = fmax(1e-6 * maxw, strstr(set, "lokr") ? ldexp(1.0, ilogb(maxw > 0 ? maxw : 1) - 7) : 0);
        CHECK_MSG(e <= tol, "%s %s: live layer off by %g (tol %g)", set, name, e, tol);
        free(got);
        free(want);
    }
}

/* Output tolerance: the README's (1e-3 UNet, 1e-4 text encoder), or where
 * the merge rounds to bf16/fp16 (LyCORIS files of those dtypes; the README
 * allows one ulp per merged weight there) 2^-7 of the output's scale. */
static double out_tol(double readme, int rounded, const float *want, int64_t n)
{
    double scale = 0;
    for (int64_t i = 0; rounded && i < n; i++)
        scale = fmax(scale, fabs(want[i]));
    return fmax(readme, ldexp(scale, -7));
}

/* Whether a network of the run merges in its file's bf16/fp16. */
static int merge_rounds(const mend_lora_run *r)
{
    for (int k = 0; k < r->nnets; k++)
        for (int i = 0; r->nets[k].file && i < r->nets[k].file->count; i++) {
            char mod[MEND_TF_NAME_MAX];
            const char *name = r->nets[k].file->tensors[i].name, *dot = strchr(name, '.');
            snprintf(mod, sizeof mod, "%.*s", dot ? (int)(dot - name) : (int)strlen(name), name);
            if (mend_lora_module_merge_dtype(r->nets[k].file, mod))
                return 1;
        }
    return 0;
}

/* UNet eps on the recorded x / timesteps / context, and the text encoder's
 * last hidden state of the recorded ids, for prefix "base" or "caseI". */
static void check_outputs(mend_sd_model *m, const mend_tf *g, const char *ck, const char *set, int rounded)
{
    const mend_tf_tensor *x = mend_tf_find(g, "x"), *ctx = mend_tf_find(g, "context"), *ids = mend_tf_find(g, "input_ids");
    char name[64];
    mend_err err = {0};
    if (x && ctx && x->ndim == 4 && ctx->ndim == 3) {
        int64_t n = 0;
        float *xv = test_load_f32(g, "x", NULL), *tv = test_load_f32(g, "timesteps", NULL), *cv = test_load_f32(g, "context", NULL);
        snprintf(name, sizeof name, "%s/unet_out", ck);
        float *want = test_load_f32(g, name, &n), *out = want ? calloc((size_t)n, sizeof *out) : NULL;
        if (xv && tv && cv && out)
            CHECK_OK(mend_unet_forward(m->unet, xv, (int)x->shape[0], (int)x->shape[2], (int)x->shape[3], tv, cv,
                                       (int)ctx->shape[1], out, &err), &err);
        double tol = want ? out_tol(1e-3, rounded, want, n) : 0;
        CHECK_MSG(out && test_max_abs_diff(out, want, n) <= tol, "%s %s: err %g (tol %g)", set, name,
                  out ? test_max_abs_diff(out, want, n) : -1, tol);
        free(xv), free(tv), free(cv), free(want), free(out);
    }
    snprintf(name, sizeof name, "%s/te_last_hidden_state", ck);
    if (!ids || ids->ndim != 2 || ids->dtype != MEND_DT_I32 || !mend_tf_find(g, name))
        return;
    int64_t n = 0;
    int32_t *iv = malloc((size_t)mend_tf_numel(ids) * sizeof *iv);
    float *want = test_load_f32(g, name, &n), *out = want ? calloc((size_t)n, sizeof *out) : NULL;
    if (iv && out && mend_tf_read_raw(g, ids, iv, &err) == MEND_OK)
        CHECK_OK(mend_clip_encode(m->clip, iv, (int)ids->shape[0], (int)ids->shape[1], 1, out, &err), &err);
    double tol = want ? out_tol(1e-4, rounded, want, n) : 0;
    CHECK_MSG(out && test_max_abs_diff(out, want, n) <= tol, "%s %s: err %g (tol %g)", set, name,
              out ? test_max_abs_diff(out, want, n) : -1, tol);
    free(iv), free(want), free(out);
}

/* A1111 1.10 matches no layer of a PEFT file; mend converts it, and the
 * case of the converted file (NAME_as_kohya) says what that gives. */
static int is_peft_file(const char *dir, const char *file)
{
    char path[2100];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    mend_tf *f = NULL;
    mend_err err = {0};
    int peft = mend_tf_open(path, &f, &err) == MEND_OK && mend_lora_is_peft(f);
    mend_tf_close(f);
    return peft;
}

/* One case: its prompt's networks through a job's path, A1111's counts
 * (modules matched, layer errors, hashes), weights and outputs; restored. */
static void run_case(mend_sd_model *m, const mend_tf *g, const cJSON *c, const char *dir, const char *set)
{
    const char *ck = test_json_string(c, "key", set), *prompt = test_json_string(c, "prompt", set);
    const cJSON *nets = test_json_need(c, "networks (in application order)", set), *nj;
    char text[1024];
    if (!ck || !prompt)
        return;
    snprintf(text, sizeof text, "%s", prompt);
    char *conv = strstr(text, "_as_kohya"); /* the same file, converted by mend */
    if (conv)
        memmove(conv, conv + 9, strlen(conv + 9) + 1);
    cJSON_ArrayForEach(nj, nets) {
        const char *file = test_json_string(nj, "file", set);
        if (file && !conv && is_peft_file(dir, file))
            return;
    }
    mend_lora_run r;
    mend_err err = {0};
    CHECK_OK(mend_lora_run_begin(m, text, dir, &r, &err), &err);
    CHECK_MSG(r.nnets == cJSON_GetArraySize(nets), "%s %s: %d networks", set, ck, r.nnets);
    for (int i = 0; i < r.nnets && i < cJSON_GetArraySize(nets); i++) {
        int want = (int)test_json_number(cJSON_GetArrayItem(nets, i), "modules_matched", -1, set);
        CHECK_MSG(r.nets[i].modules == want, "%s %s: %s matched %d, A1111 %d", set, ck, r.nets[i].name, r.nets[i].modules, want);
    }
    const cJSON *le = cJSON_GetObjectItemCaseSensitive(c, "layer_errors (A1111 reports 'Networks with errors: NAME (N)')");
    char want_warn[512] = "";
    for (const cJSON *e = le ? le->child : NULL; e; e = e->next)
        snprintf(want_warn + strlen(want_warn), sizeof want_warn - strlen(want_warn), "%s%s (%d)",
                 want_warn[0] ? ", " : "Networks with errors: ", e->string, e->valueint);
    if (want_warn[0])
        strcat(want_warn, "\n");
    CHECK_MSG(strcmp(r.warnings ? r.warnings : "", want_warn) == 0, "%s %s: warnings '%s', want '%s'", set, ck,
              r.warnings ? r.warnings : "", want_warn);
    CHECK_MSG(!want_warn[0] || (r.log && strstr(r.log, "does not fit") && strstr(r.log, "model.diffusion_model")),
              "%s %s: log '%s'", set, ck, r.log ? r.log : "");
    const char *hashes = test_json_string(c, "infotext_Lora_hashes", set);
    CHECK_MSG(conv || (hashes && r.hashes && !strcmp(hashes, r.hashes)), "%s %s: hashes %s", set, ck, r.hashes);
    check_merged(m, g, ck, set);
    check_outputs(m, g, ck, set, merge_rounds(&r));
    mend_lora_run_end(&r);
}

TEST(live_model_goldens)
{
    char **sets = NULL, dir[1024];
    int ns = test_list_cases("lora", ".json", &sets);
    const char *d = test_shared("lora/files"); /* test_shared's buffers are reused */
    snprintf(dir, sizeof dir, "%s", d ? d : "");
    for (int s = 0; d && s < ns; s++) {
        if (strncmp(sets[s], "apply_", 6) != 0)
            continue;
        char rel[256];
        snprintf(rel, sizeof rel, "lora/%s.json", sets[s]);
        cJSON *j = load_json(rel);
        snprintf(rel, sizeof rel, "lora/%s.safetensors", sets[s]);
        mend_tf *g = test_open_shared(rel);
        const char *model = test_json_string(j, "model", sets[s]);
        mend_sd_model *m = model ? load_model(strstr(model, "inpaint") ? "models/tiny-sd1-inpaint.f16.safetensors"
                                                                     : "models/tiny-sd1.f16.safetensors",
                                              MEND_PRECISION_FP32)
                                 : NULL;
        const cJSON *c;
        cJSON_ArrayForEach(c, test_json_need(j, "cases", sets[s])) if (m && g) run_case(m, g, c, dir, sets[s]);
        if (m && g) /* every run restored: the base outputs again */
            check_outputs(m, g, "base", sets[s], 0);
        mend_model_free(m);
        mend_tf_close(g);
        cJSON_Delete(j);
    }
    test_free_list(sets, ns);
}

/* ---- whole jobs ---------------------------------------------------------- */

static void job_params(mend_gen_params *p, const char *prompt, mend_precision prec)
{
    mend_gen_params_default(p);
    p->prompt = prompt;
    p->negative_prompt = "";
    p->width = p->height = 64;
    p->steps = 3;
    p->sampler_name = "Euler";
    p->seed = 1234;
    p->precision = prec;
}

/* One job; its first image's bytes (malloc'd) and the output's notes. */
static uint8_t *job(mend_sd_model *m, const char *prompt, const char *negative, mend_precision prec, char **infotext,
                    char **warnings, char **log)
{
    mend_gen_params p;
    job_params(&p, prompt, prec);
    if (negative)
        p.negative_prompt = negative;
    mend_gen_inputs in = {0};
    mend_gen_output out;
    mend_err err = {0};
    uint8_t *px = NULL;
    CHECK_OK(mend_generate(m, &p, &in, NULL, NULL, &out, &err), &err);
    if (out.count == 1) {
        size_t n = (size_t)out.images[0].width * out.images[0].height * out.images[0].channels;
        if ((px = malloc(n)))
            memcpy(px, out.images[0].data, n);
        if (infotext)
            *infotext = strdup(out.infotexts[0]);
        if (warnings)
            *warnings = out.warnings ? strdup(out.warnings) : NULL;
        if (log)
            *log = out.log ? strdup(out.log) : NULL;
        mend_gen_output_free(&out);
    }
    return px;
}

static int same(const uint8_t *a, const uint8_t *b)
{
    return a && b && memcmp(a, b, 64 * 64 * 3) == 0;
}

/* The same image before and after a run with a LoRA; with it, another
 * image and A1111's `Lora hashes`. bf16: the LoRA image is also the same
 * on its second run (the layers' bf16 copies are merged from then on). */
static void restore_in(mend_precision prec)
{
    mend_sd_model *m = load_model("models/tiny-sd1.f16.safetensors", prec);
    if (!m)
        return;
    char *info = NULL;
    uint8_t *before = job(m, "a photo of a cat", NULL, prec, NULL, NULL, NULL);
    uint8_t *with = job(m, "a photo of a cat <lora:tiny_locon:1>", NULL, prec, &info, NULL, NULL);
    uint8_t *after = job(m, "a photo of a cat", NULL, prec, NULL, NULL, NULL);
    uint8_t *again = job(m, "a photo of a cat <lora:tiny_locon:1>", NULL, prec, NULL, NULL, NULL);
    CHECK_MSG(same(before, after), "precision %d: the image after a LoRA run differs", (int)prec);
    CHECK_MSG(with && !same(before, with), "precision %d: the LoRA changed nothing", (int)prec);
    CHECK_MSG(same(with, again), "precision %d: the LoRA image differs on its second run", (int)prec);
    CHECK_MSG(info && strstr(info, ", Lora hashes: \"tiny_locon: 4bc618172724\", Version: "), "infotext: %s",
              info ? info : "");
    CHECK_MSG(info && strncmp(info, "a photo of a cat <lora:tiny_locon:1>\n", 37) == 0, "infotext prompt: %s",
              info ? info : "");
    free(before), free(with), free(after), free(again), free(info);
    mend_model_free(m);
}

TEST(same_image_after_a_lora_run)
{
    REQUIRE_SHARED(dir, "lora/files");
    mend_set_lora_dir(dir);
    restore_in(MEND_PRECISION_FP32);
    mend_err err = {0};
    if (mend_precision_name(MEND_PRECISION_BF16, &err))
        restore_in(MEND_PRECISION_BF16);
    else
        printf("bf16 restore not checked: %s\n", err.msg);
    mend_set_lora_dir(NULL);
}

/* Not found: the job runs without it (the image of the prompt without the
 * tag) and says so; a layer that does not fit: the rest applies, warning
 * and log; tags in the negative prompt stay text. */
TEST(warnings)
{
    REQUIRE_SHARED(dir, "lora/files");
    mend_set_lora_dir(dir);
    mend_sd_model *m = load_model("models/tiny-sd1.f16.safetensors", MEND_PRECISION_FP32);
    if (!m)
        return;
    char *info = NULL, *warn = NULL, *log = NULL;
    uint8_t *plain = job(m, "a cat , ", NULL, MEND_PRECISION_FP32, NULL, NULL, NULL);
    uint8_t *miss = job(m, "a cat <lora:nope:1>, <lora:gone:0.5>", NULL, MEND_PRECISION_FP32, &info, &warn, &log);
    CHECK_MSG(same(plain, miss), "a missing network changed the image");
    CHECK_MSG(warn && !strcmp(warn, "Lora not found: nope, gone\n"), "warnings: %s", warn);
    CHECK_MSG(info && !strstr(info, "Lora hashes") && !log, "infotext: %s", info);
    free(info), free(warn), free(log), info = warn = log = NULL;
    uint8_t *bad = job(m, "a cat , <lora:tiny_badshape:1>", NULL, MEND_PRECISION_FP32, &info, &warn, &log);
    CHECK_MSG(bad && !same(plain, bad), "the layer that fits was not applied");
    CHECK_MSG(warn && !strcmp(warn, "Networks with errors: tiny_badshape (1)\n"), "warnings: %s", warn);
    CHECK_MSG(log && strstr(log, "tiny_badshape") && strstr(log, "does not fit") && strstr(log, "768"), "log: %s", log);
    CHECK_MSG(info && strstr(info, "Lora hashes: \"tiny_badshape: cb370df814b8\""), "infotext: %s", info);
    free(info), free(warn), free(log), info = warn = log = NULL;
    uint8_t *neg = job(m, "a cat , ", "<lora:tiny_locon:1>", MEND_PRECISION_FP32, &info, &warn, &log);
    CHECK_MSG(neg && !same(plain, neg) && !warn && info && !strstr(info, "Lora hashes"), "negative prompt: %s", info);
    free(info), free(warn), free(log);
    uint8_t *after = job(m, "a cat , ", NULL, MEND_PRECISION_FP32, NULL, NULL, NULL);
    CHECK_MSG(same(plain, after), "the model changed");
    free(plain), free(miss), free(bad), free(neg), free(after);
    mend_set_lora_dir(NULL);
    mend_model_free(m);
}

static void write_bytes(const char *path, const char *bytes, size_t n)
{
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL);
    if (fp) {
        fwrite(bytes, 1, n, fp);
        fclose(fp);
    }
}

/* A truncated network file and a multiplier that is no number: the job
 * fails with a message naming them, and the model is as it was. */
TEST(bad_files_fail_cleanly)
{
    REQUIRE_SHARED(np, "lora/files/tiny_locon.safetensors");
    mend_sd_model *m = load_model("models/tiny-sd1.f16.safetensors", MEND_PRECISION_FP32);
    size_t len = 0;
    char *bytes = test_read_file(np, &len), dir[1024], path[1100];
    if (!m || !bytes)
        goto out;
    snprintf(dir, sizeof dir, "%s/lora_bad", test_tmpdir());
    CHECK(mkdir(dir, 0755) == 0 || errno == EEXIST);
    snprintf(path, sizeof path, "%s/broken.safetensors", dir);
    write_bytes(path, bytes, len - len / 3);
    snprintf(path, sizeof path, "%s/good.safetensors", dir);
    write_bytes(path, bytes, len);
    mend_set_lora_dir(dir);
    uint8_t *plain = job(m, "a cat", NULL, MEND_PRECISION_FP32, NULL, NULL, NULL);
    static const char *const prompts[] = {"a cat <lora:good:1> <lora:broken:1>", "a cat <lora:good:abc>"};
    static const char *const names[] = {"broken", "prompt"};
    for (int i = 0; i < 2; i++) {
        mend_gen_params p;
        job_params(&p, prompts[i], MEND_PRECISION_FP32);
        mend_gen_inputs in = {0};
        mend_gen_output out;
        mend_err err = {0};
        mend_status st = mend_generate(m, &p, &in, NULL, NULL, &out, &err);
        CHECK_MSG(st != MEND_OK && strstr(err.msg, names[i]), "'%s' -> %s: %s", prompts[i], mend_status_name(st), err.msg);
    }
    uint8_t *after = job(m, "a cat", NULL, MEND_PRECISION_FP32, NULL, NULL, NULL);
    CHECK_MSG(same(plain, after), "the model changed after a failed LoRA job");
    free(plain), free(after);
    mend_set_lora_dir(NULL);
out:
    free(bytes);
    mend_model_free(m);
}

int main(void)
{
    RUN(live_model_goldens);
    RUN(same_image_after_a_lora_run);
    RUN(warnings);
    RUN(bad_files_fail_cleanly);
    return test_summary();
}
