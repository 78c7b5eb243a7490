/* mend tools make-model (mend-dev), and the diffusers layout it writes
 * (the writer and renaming rules: test_st_rename.c). Nothing here needs the UNet/VAE/CLIP loaders (see test_tools_e2e.c for
 * the tests that do). */
#include "test.h"

#include "io/st_writer.h"
#include "model/diffusers.h"
#include "make_model.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int make_model(const char *arch, const char *dtype, const char *layout, const char *seed, const char *out)
{
    char args[2048];
    snprintf(args, sizeof args, "tools make-model --arch %s --size tiny --dtype %s --layout %s --seed %s '%s'", arch,
             dtype, layout, seed, out);
    char *text = NULL;
    int rc = test_run_mend(args, &text);
    CHECK_MSG(rc == 0, "make-model %s %s %s -> %d: %s", arch, dtype, layout, rc, text ? text : "");
    free(text);
    return rc;
}

static int same_shape(const mend_tf_tensor *a, const mend_tf_tensor *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    return 1;
}

/* Same shape once trailing 1-sized dims are dropped ([C,C,1,1] ~ [C,C]). */
static int same_shape_mod_ones(const mend_tf_tensor *a, const mend_tf_tensor *b)
{
    int na = a->ndim, nb = b->ndim;
    while (na > 1 && a->shape[na - 1] == 1)
        na--;
    while (nb > 1 && b->shape[nb - 1] == 1)
        nb--;
    if (na != nb)
        return 0;
    for (int i = 0; i < na; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    return 1;
}

/* ---- make-model: layout against the reference tiny checkpoints ---------- */

static void check_same_table(const char *ours_path, const char *ref_path)
{
    mend_err err = {0};
    mend_tf *ours = NULL, *ref = NULL;
    CHECK_OK(mend_tf_open(ours_path, &ours, &err), &err);
    CHECK_OK(mend_tf_open(ref_path, &ref, &err), &err);
    if (!ours || !ref) {
        mend_tf_close(ours);
        mend_tf_close(ref);
        return;
    }
    CHECK_MSG(ours->count == ref->count, "%d tensors, reference has %d", ours->count, ref->count);
    int missing = 0, extra = 0, differ = 0;
    for (int i = 0; i < ref->count; i++) {
        const mend_tf_tensor *r = &ref->tensors[i], *o = mend_tf_find(ours, r->name);
        if (!o) {
            if (missing++ < 5)
                fprintf(stderr, "  missing: %s\n", r->name);
        } else if (!same_shape(o, r) || o->dtype != r->dtype) {
            if (differ++ < 5)
                fprintf(stderr, "  differs: %s (%s vs %s)\n", r->name, mend_dtype_name(o->dtype),
                        mend_dtype_name(r->dtype));
        }
    }
    for (int i = 0; i < ours->count; i++)
        if (!mend_tf_find(ref, ours->tensors[i].name) && extra++ < 5)
            fprintf(stderr, "  extra: %s\n", ours->tensors[i].name);
    CHECK_MSG(missing == 0 && extra == 0 && differ == 0, "%d missing, %d extra, %d differ in shape or dtype",
              missing, extra, differ);
    mend_tf_close(ours);
    mend_tf_close(ref);
}

/* make-model's ARCH output has the reference tiny checkpoint's table. */
static void matches_reference(const char *arch, const char *seed)
{
    char rel[160], name[128];
    snprintf(name, sizeof name, "tiny-%s.f16.safetensors", arch);
    snprintf(rel, sizeof rel, "models/%s", name);
    REQUIRE_SHARED(ref, rel);
    const char *out = test_tmp_path(name);
    if (make_model(arch, "f16", "single", seed, out) == 0)
        check_same_table(out, ref);
    remove(out);
}

TEST(tiny_sd1_matches_reference_layout)
{
    matches_reference("sd1", "1");
}

TEST(tiny_sd1_inpaint_matches_reference_layout)
{
    matches_reference("sd1-inpaint", "2");
}

/* The DDPM buffers are computed, not random: they must equal LDM's. */
TEST(schedule_buffers_match_reference)
{
    REQUIRE_SHARED(ref_path, "models/tiny-sd1.f16.safetensors");
    const char *out = test_tmp_path("sched.safetensors");
    mend_make_model_opts o = {.arch = MEND_MM_SD1, .size = MEND_MM_TINY, .dtype = MEND_DT_F16, .seed = 3};
    mend_err err = {0};
    CHECK_OK(mend_make_model(&o, out, &err), &err);
    mend_tf *ours = NULL, *ref = NULL;
    CHECK_OK(mend_tf_open(out, &ours, &err), &err);
    CHECK_OK(mend_tf_open(ref_path, &ref, &err), &err);
    static const char *const names[] = {
        "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod",
        "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod",
        "posterior_variance", "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2"};
    double worst = 0;
    for (size_t k = 0; ours && ref && k < sizeof names / sizeof *names; k++) {
        int64_t na = 0, nb = 0;
        float *a = test_load_f32(ours, names[k], &na), *b = test_load_f32(ref, names[k], &nb);
        CHECK(na == 1000 && nb == 1000);
        for (int64_t i = 0; a && b && i < na && i < nb; i++) {
            double rel = fabs((double)a[i] - b[i]) / fmax(fabs((double)b[i]), 1e-30);
            if (rel > worst || rel != rel)
                worst = rel != rel ? INFINITY : rel;
        }
        free(a);
        free(b);
    }
    printf("  schedule buffers: max relative error %.3g (tolerance 1e-5)\n", worst);
    CHECK_MSG(worst <= 1e-5, "max relative error %g", worst);
    mend_tf_close(ours);
    mend_tf_close(ref);
    remove(out);
}

/* ---- make-model: values ------------------------------------------------- */

TEST(same_seed_same_bytes_other_seed_other_values)
{
    const char *a = test_tmp_path("seed-a.safetensors"), *b = test_tmp_path("seed-b.safetensors"),
               *c = test_tmp_path("seed-c.safetensors");
    mend_make_model_opts o = {.arch = MEND_MM_SD1, .size = MEND_MM_TINY, .dtype = MEND_DT_F16, .seed = 7};
    mend_err err = {0};
    CHECK_OK(mend_make_model(&o, a, &err), &err);
    mend_set_threads(1); /* the values must not depend on the thread count */
    CHECK_OK(mend_make_model(&o, b, &err), &err);
    mend_set_threads(0);
    o.seed = 8;
    CHECK_OK(mend_make_model(&o, c, &err), &err);
    size_t la = 0, lb = 0, lc = 0;
    char *da = test_read_file(a, &la), *db = test_read_file(b, &lb), *dc = test_read_file(c, &lc);
    CHECK(da && db && dc && la > 1000000);
    CHECK(la == lb && da && db && memcmp(da, db, la) == 0);
    mend_tf *fa = NULL, *fc = NULL;
    CHECK_OK(mend_tf_open(a, &fa, &err), &err);
    CHECK_OK(mend_tf_open(c, &fc, &err), &err);
    const char *w = "model.diffusion_model.input_blocks.1.0.in_layers.2.weight";
    const mend_tf_tensor *ta = fa ? mend_tf_find(fa, w) : NULL, *tc = fc ? mend_tf_find(fc, w) : NULL;
    CHECK(ta && tc && ta->nbytes == tc->nbytes && memcmp(ta->data, tc->data, ta->nbytes) != 0);
    mend_tf_close(fa);
    mend_tf_close(fc);
    free(da);
    free(db);
    free(dc);
    remove(a);
    remove(b);
    remove(c);
}

static void check_stats(const mend_tf *f, const char *name, double mean, double std)
{
    int64_t n = 0;
    float *v = test_load_f32(f, name, &n);
    if (!v)
        return;
    double s = 0, s2 = 0;
    int finite = 1;
    for (int64_t i = 0; i < n; i++) {
        s += v[i];
        s2 += (double)v[i] * v[i];
        finite &= isfinite(v[i]);
    }
    double m = s / n, sd = sqrt(fmax(s2 / n - m * m, 0));
    CHECK_MSG(finite, "%s has non-finite values", name);
    CHECK_MSG(fabs(m - mean) <= 0.1 * std + 1e-3, "%s: mean %g, expected %g", name, m, mean);
    CHECK_MSG(fabs(sd - std) <= 0.1 * std, "%s: std %g, expected %g", name, sd, std);
    free(v);
}

/* Weights ~1/sqrt(fan_in), norms ~1, small biases; dtypes as asked, with
 * the schedule in F32 and position_ids I64 0..76; the f16 and bf16 files
 * hold the same numbers rounded. */
TEST(weight_statistics_and_dtypes)
{
    const char *p32 = test_tmp_path("stats.f32.safetensors"), *pbf = test_tmp_path("stats.bf16.safetensors");
    mend_make_model_opts o = {.arch = MEND_MM_SD1_INPAINT, .size = MEND_MM_TINY, .dtype = MEND_DT_F32, .seed = 11};
    mend_err err = {0};
    CHECK_OK(mend_make_model(&o, p32, &err), &err);
    o.dtype = MEND_DT_BF16;
    CHECK_OK(mend_make_model(&o, pbf, &err), &err);
    mend_tf *f = NULL, *fb = NULL;
    CHECK_OK(mend_tf_open(p32, &f, &err), &err);
    CHECK_OK(mend_tf_open(pbf, &fb, &err), &err);
    if (!f || !fb)
        return;
    /* in_layers.2 of output_blocks.3: [128, 256, 3, 3], fan_in 2304 */
    check_stats(f, "model.diffusion_model.output_blocks.3.0.in_layers.2.weight", 0, 1 / sqrt(2304.0));
    check_stats(f, "model.diffusion_model.output_blocks.3.0.out_layers.3.weight", 0, 0.5 / sqrt(1152.0));
    check_stats(f, "model.diffusion_model.input_blocks.0.0.weight", 0, 1 / sqrt(81.0));
    check_stats(f, "first_stage_model.decoder.up.3.block.0.conv1.weight", 0, 1 / sqrt(1152.0));
    check_stats(f, "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight", 0, 0.02);
    int64_t n = 0;
    float *g = test_load_f32(f, "model.diffusion_model.middle_block.1.norm.weight", &n);
    for (int64_t i = 0; g && i < n; i++)
        CHECK_NEAR(g[i], 1.0, 0.04);
    free(g);
    int wrong = 0;
    for (int i = 0; i < f->count; i++) {
        const mend_tf_tensor *t = &f->tensors[i];
        const char *nm = t->name;
        mend_dtype want = strstr(nm, "position_ids") ? MEND_DT_I64 : MEND_DT_F32;
        wrong += t->dtype != want;
        const mend_tf_tensor *tb = mend_tf_find(fb, nm);
        /* the schedule buffers (names without a dot) stay F32 */
        mend_dtype want_b = strstr(nm, "position_ids") ? MEND_DT_I64 : strchr(nm, '.') ? MEND_DT_BF16 : MEND_DT_F32;
        wrong += !tb || tb->dtype != want_b;
    }
    CHECK_MSG(wrong == 0, "%d tensors with an unexpected dtype", wrong);
    /* bf16 = the f32 values rounded (8 bits of mantissa) */
    const char *w = "first_stage_model.encoder.mid.attn_1.q.weight";
    int64_t n32 = 0, nb = 0;
    float *a = test_load_f32(f, w, &n32), *b = test_load_f32(fb, w, &nb);
    CHECK(n32 == nb && n32 == 128 * 128);
    double worst = 0;
    for (int64_t i = 0; a && b && i < n32; i++)
        worst = fmax(worst, fabs((double)a[i] - b[i]) / fmax(fabs((double)a[i]), 1e-6));
    CHECK_MSG(worst <= 1.0 / 256, "bf16 vs f32 relative difference %g", worst);
    free(a);
    free(b);
    int32_t *ids = NULL;
    CHECK_OK(mend_tf_load_i32(f, "cond_stage_model.transformer.text_model.embeddings.position_ids", 77, &ids, &err),
             &err);
    for (int i = 0; ids && i < 77; i++)
        CHECK(ids[i] == i);
    free(ids);
    mend_tf_close(f);
    mend_tf_close(fb);
    remove(p32);
    remove(pbf);
}

/* ---- make-model: command line errors and atomic output ------------------ */

static void expect_failure(const char *args, const char *what)
{
    char *text = NULL;
    int rc = test_run_mend(args, &text);
    CHECK_MSG(rc != 0, "'%s' exited 0", args);
    CHECK_MSG(text && strstr(text, "mend: ") && strstr(text, what), "'%s' said: %s (expected '%s')", args,
              text ? text : "", what);
    free(text);
}

TEST(bad_arguments_fail_with_a_message)
{
    char out[1024], a[2048];
    snprintf(out, sizeof out, "%s", test_tmp_path("never.safetensors")); /* tmp_path's buffers get reused */
    static const struct {
        const char *options, *message;
    } bad[] = {
        {"--arch sd3 --size tiny --dtype f16", "unknown --arch 'sd3'"},
        {"--arch sd1 --size huge --dtype f16", "unknown --size 'huge'"},
        {"--arch sd1 --size tiny --dtype f64", "unknown --dtype 'f64'"},
        {"--arch sd1 --size tiny --dtype f16 --layout ckpt", "unknown --layout 'ckpt'"},
        {"--arch sd1 --size tiny --dtype f16 --seed -4", "--seed"},
        {"--size tiny --dtype f16", "--arch is required"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(a, sizeof a, "tools make-model %s '%s'", bad[i].options, out);
        expect_failure(a, bad[i].message);
    }
    expect_failure("tools make-model --arch sd1 --size tiny --dtype f16", "missing the output path");
    expect_failure("tools make-model --arch sd1 --size tiny --dtype f16 --bogus x y", "unknown option '--bogus'");
    expect_failure("tools frobnicate", "unknown subcommand 'frobnicate'");
    CHECK(!test_path_exists(out));
}

TEST(no_partial_output_when_writing_fails)
{
    /* the output folder does not exist */
    char dir[1024], out[1200], args[2048];
    snprintf(dir, sizeof dir, "%s/no-such-dir", test_tmpdir());
    snprintf(out, sizeof out, "%s/m.safetensors", dir);
    snprintf(args, sizeof args, "tools make-model --arch sd1 --size tiny --dtype f16 '%s'", out);
    expect_failure(args, "m.safetensors");
    CHECK(!test_path_exists(dir));
    snprintf(out, sizeof out, "%s/m-diffusers", dir);
    snprintf(args, sizeof args, "tools make-model --arch sd1 --size tiny --dtype f16 --layout diffusers '%s'", out);
    expect_failure(args, "m-diffusers");
    CHECK(!test_path_exists(dir));

    /* the disk "fills up" half-way (file size limit; SIGXFSZ ignored so that
     * the write fails with EFBIG instead of killing the process) */
    char sub[1024];
    snprintf(sub, sizeof sub, "%s/fsize", test_tmpdir());
    mkdir(sub, 0777);
    const char *kinds[] = {"single", "diffusers"};
    for (int k = 0; k < 2; k++) {
        char cmd[4096], *text;
        snprintf(out, sizeof out, "%s/full-%s", sub, kinds[k]);
        snprintf(cmd, sizeof cmd,
                 "sh -c \"trap '' XFSZ; ulimit -f 1024; exec '%s' tools make-model --arch sd1 --size tiny "
                 "--dtype f32 --layout %s '%s'\"",
                 test_mend_bin(), kinds[k], out);
        const char *log = test_tmp_path("fsize.txt");
        int rc = test_run(cmd, log);
        text = test_read_file(log, NULL);
        CHECK_MSG(rc == 1 && text && strstr(text, "mend: "), "%s: rc %d: %s", kinds[k], rc, text ? text : "");
        free(text);
        CHECK_MSG(test_count_entries(sub, "") == 2, "%s: something was left in %s", kinds[k], sub); /* . and .. */
    }
    rmdir(sub);
}

TEST(diffusers_output_folder_must_be_new)
{
    char out[1024], args[2048], keep[1200];
    snprintf(out, sizeof out, "%s/existing", test_tmpdir());
    mkdir(out, 0777);
    snprintf(keep, sizeof keep, "%s/keep.txt", out);
    test_write_text(keep, "x");
    snprintf(args, sizeof args, "tools make-model --arch sd1 --size tiny --dtype f16 --layout diffusers '%s'", out);
    expect_failure(args, "already exists");
    CHECK(test_path_exists(keep));
    CHECK(test_count_entries(out, "") == 3);
    remove(keep);
    rmdir(out);
}

/* ---- mend info: errors that need no component ---------------------------- */

static void expect_one_line_error(const char *args, const char *what)
{
    char *text = NULL;
    int rc = test_run_mend(args, &text);
    CHECK_MSG(rc == 1, "'%s' exited %d", args, rc);
    CHECK_MSG(text && !strncmp(text, "mend: ", 6) && strstr(text, what) && strchr(text, '\n') == text + strlen(text) - 1,
              "'%s' said: %s (expected one 'mend: ...%s...' line)", args, text ? text : "", what);
    free(text);
}

TEST(info_errors_on_missing_and_corrupt_files)
{
    char args[2048], path[1024];
    snprintf(path, sizeof path, "%s/absent.safetensors", test_tmpdir());
    snprintf(args, sizeof args, "info '%s'", path);
    expect_one_line_error(args, "absent.safetensors");
    snprintf(path, sizeof path, "%s/corrupt.safetensors", test_tmpdir());
    static const char corrupt[] = "\x10\x00\x00\x00\x00\x00\x00\x00{not json at all";
    test_write_file(path, corrupt, sizeof corrupt - 1);
    snprintf(args, sizeof args, "info '%s'", path);
    expect_one_line_error(args, "corrupt.safetensors");
    remove(path);
    char *text = NULL;
    CHECK(test_run_mend("info", &text) != 0 && text && strstr(text, "mend: info: missing MODEL"));
    free(text);
}


/* Every tensor of component `prefix` in the single file has exactly one
 * counterpart, same bytes, in the (renamed) diffusers table, and vice versa. */
static void check_component_equal(const mend_tf *single, const char *prefix, const mend_tf *dif, int *flat_2d)
{
    size_t pl = strlen(prefix);
    int matched = 0, bad = 0;
    for (int i = 0; i < single->count; i++) {
        const mend_tf_tensor *s = &single->tensors[i];
        if (strncmp(s->name, prefix, pl) != 0)
            continue;
        const mend_tf_tensor *d = mend_tf_find(dif, s->name + pl);
        int ok = d && d->dtype == s->dtype && same_shape_mod_ones(s, d) && d->nbytes == s->nbytes &&
                 memcmp(d->data, s->data, s->nbytes) == 0;
        if (ok && !same_shape(s, d))
            (*flat_2d)++;
        if (!ok && bad++ < 5)
            fprintf(stderr, "  %s: %s in the diffusers file\n", s->name, d ? "different" : "missing");
        matched += ok;
    }
    CHECK_MSG(bad == 0, "%s: %d tensors without an identical diffusers counterpart", prefix, bad);
    CHECK_MSG(matched == dif->count, "%s: %d matched, diffusers file has %d", prefix, matched, dif->count);
}

static mend_tf *open_part(const char *dir, const char *file)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    mend_err err = {0};
    mend_tf *f = NULL;
    CHECK_OK(mend_tf_open(p, &f, &err), &err);
    return f;
}

static void check_layouts_agree(const char *arch)
{
    char single[1024], dir[1024];
    snprintf(single, sizeof single, "%s/agree-%s.safetensors", test_tmpdir(), arch);
    snprintf(dir, sizeof dir, "%s/agree-%s-diffusers", test_tmpdir(), arch);
    if (make_model(arch, "f16", "single", "42", single) || make_model(arch, "f16", "diffusers", "42", dir))
        return;
    static const char *const files[] = {"model_index.json", "unet/config.json", "vae/config.json",
                                        "text_encoder/config.json", "scheduler/scheduler_config.json"};
    for (int i = 0; i < 5; i++) {
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        char *text = test_read_file(p, NULL);
        CHECK_MSG(text && text[0] == '{', "%s missing or not JSON", p);
        free(text);
    }
    mend_err err = {0};
    mend_tf *s = NULL, *u = open_part(dir, "unet/diffusion_pytorch_model.safetensors"),
            *v = open_part(dir, "vae/diffusion_pytorch_model.safetensors"),
            *t = open_part(dir, "text_encoder/model.safetensors");
    CHECK_OK(mend_tf_open(single, &s, &err), &err);
    if (s && u && v && t) {
        CHECK(mend_tf_find(u, "down_blocks.0.attentions.1.transformer_blocks.0.attn2.to_k.weight") != NULL);
        CHECK(mend_tf_find(v, "encoder.mid_block.attentions.0.to_q.weight") != NULL);
        CHECK_OK(mend_diffusers_rename_unet(u, &err), &err);
        CHECK_OK(mend_diffusers_rename_vae(v, &err), &err);
        int flat = 0;
        check_component_equal(s, "model.diffusion_model.", u, &flat);
        CHECK_MSG(flat == 0, "%d UNet tensors differ in shape", flat);
        check_component_equal(s, "first_stage_model.", v, &flat);
        CHECK_MSG(flat == 8, "%d VAE tensors are [C,C] in diffusers, expected the 8 mid-block attention "
                             "q/k/v/proj_out weights", flat);
        flat = 0;
        check_component_equal(s, "cond_stage_model.transformer.", t, &flat);
        CHECK(flat == 0);
    }
    mend_tf_close(s);
    mend_tf_close(u);
    mend_tf_close(v);
    mend_tf_close(t);
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", dir, single);
    test_run(cmd, NULL);
}

TEST(diffusers_layout_renames_to_the_single_file_tensors)
{
    check_layouts_agree("sd1");
    check_layouts_agree("sd1-inpaint");
}

int main(void)
{
    RUN(tiny_sd1_matches_reference_layout);
    RUN(tiny_sd1_inpaint_matches_reference_layout);
    RUN(schedule_buffers_match_reference);
    RUN(same_seed_same_bytes_other_seed_other_values);
    RUN(weight_statistics_and_dtypes);
    RUN(bad_arguments_fail_with_a_message);
    RUN(no_partial_output_when_writing_fails);
    RUN(diffusers_output_folder_must_be_new);
    RUN(info_errors_on_missing_and_corrupt_files);
    RUN(diffusers_layout_renames_to_the_single_file_tensors);
    test_remove_tmpdir();
    return test_summary();
}
