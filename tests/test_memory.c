/* Memory admission (issue 12): the estimate grows with the job, a job over
 * the limit is refused before any work with MEND_E_LIMIT naming both
 * numbers, and — measured in a child process (peak RSS over the RSS after
 * loading) — the estimate stays above what jobs really take and within a
 * small factor of it. */
#include "test.h"

#include "io/image.h"
#include "mend/params.h"
#include "model/sd_model.h"

#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MODEL "models/tiny-sd1.f16.safetensors"
#define VOCAB "clip/bpe_simple_vocab_16e6.txt.gz"

static mend_gen_params job(int w, int h, int batch)
{
    mend_gen_params p;
    mend_gen_params_default(&p);
    p.prompt = "a cat";
    p.width = w, p.height = h, p.batch_size = batch;
    p.steps = 2;
    p.seed = 7;
    p.precision = MEND_PRECISION_FP32;
    return p;
}

static mend_sd_model *load(void)
{
    const char *mp = test_shared(MODEL), *vp = test_shared(VOCAB);
    if (!mp || !vp)
        return NULL;
    mend_sd_model *m = NULL;
    mend_err err = {0};
    CHECK_OK(mend_sd_load(mp, vp, MEND_COMP_ALL, &m, &err), &err);
    return m;
}

TEST(estimate_grows_with_the_job)
{
    mend_sd_model *m = load();
    if (!m)
        return;
    mend_gen_params a = job(512, 512, 1), b = job(1024, 512, 1), c = job(512, 512, 4);
    uint64_t ea = mend_gen_memory_estimate(m, &a, 0, 0), eb = mend_gen_memory_estimate(m, &b, 0, 0);
    uint64_t ec = mend_gen_memory_estimate(m, &c, 0, 0), ei = mend_gen_memory_estimate(m, &a, 4096, 4096);
    CHECK_MSG(ea < eb && ea < ec && ea < ei, "%llu %llu %llu %llu", (unsigned long long)ea, (unsigned long long)eb,
              (unsigned long long)ec, (unsigned long long)ei);
    /* A1111's largest request shape must not overflow */
    mend_gen_params huge = job(8192, 8192, 64);
    CHECK(mend_gen_memory_estimate(m, &huge, 16384, 16384) > ((uint64_t)64 << 30));
    mend_sd_free(m);
}

/* The API takes sizes and batches the UI sliders do not (the table's API
 * range); the largest it takes passes the table and is refused by memory
 * admission, before any work, on a machine with 32 GiB for jobs. */
TEST(largest_api_job_passes_the_table_and_is_refused_by_admission)
{
    mend_sd_model *m = load();
    if (!m)
        return;
    double lo, w, h, batch;
    mend_param_api_range(mend_param_find("width"), &lo, &w);
    mend_param_api_range(mend_param_find("height"), &lo, &h);
    mend_param_api_range(mend_param_find("batch_size"), &lo, &batch);
    mend_gen_params p = job((int)w, (int)h, (int)batch);
    mend_err err = {0};
    CHECK_OK(mend_params_validate(&p, 0, NULL, &err), &err);
    mend_set_memory_limit((uint64_t)32 << 30);
    mend_gen_inputs in = {0};
    mend_gen_output out;
    mend_status s = mend_generate(m, &p, &in, NULL, NULL, &out, &err);
    CHECK_MSG(s == MEND_E_LIMIT && strstr(err.msg, "GiB"), "%s: %s", mend_status_name(s), err.msg);
    CHECK(out.count == 0 && out.images == NULL);
    mend_set_memory_limit(0);
    mend_sd_free(m);
}

TEST(job_over_the_limit_is_refused_before_work)
{
    mend_sd_model *m = load();
    if (!m)
        return;
    mend_gen_params p = job(256, 256, 2);
    uint64_t need = mend_gen_memory_estimate(m, &p, 0, 0);
    mend_set_memory_limit(need - 1);
    CHECK(mend_memory_limit() == need - 1);
    mend_gen_inputs in = {0};
    mend_gen_output out;
    mend_err err = {0};
    mend_status s = mend_generate(m, &p, &in, NULL, NULL, &out, &err);
    CHECK_MSG(s == MEND_E_LIMIT && strstr(err.msg, "GiB") && strstr(err.msg, "--max-memory"), "%s: %s",
              mend_status_name(s), err.msg);
    CHECK(out.count == 0 && out.images == NULL);
    mend_set_memory_limit(need);
    CHECK_OK(mend_generate(m, &p, &in, NULL, NULL, &out, &err), &err);
    CHECK(out.count == 2);
    mend_gen_output_free(&out);
    mend_set_memory_limit(0);
    CHECK(mend_memory_limit() > 0);
    mend_sd_free(m);
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

/* The child side (this binary re-run with --measure W H BATCH IMG2IMG: a
 * fresh process, since a fork would inherit a busy thread pool): prints
 * "RSS_AFTER_LOAD_KB ESTIMATE_KB" and runs the job. */
static int child_measure(char **argv)
{
    const char *mp = test_shared(MODEL), *vp = test_shared(VOCAB);
    mend_gen_params p = job(atoi(argv[0]), atoi(argv[1]), atoi(argv[2]));
    p.denoising_strength = 0.5;
    int img2img = atoi(argv[3]);
    mend_sd_model *m = NULL;
    mend_err err = {0};
    mend_image init = {0};
    if (!mp || !vp || mend_sd_load(mp, vp, MEND_COMP_ALL, &m, &err) != MEND_OK ||
        (img2img && mend_image_alloc(&init, p.width, p.height, 3, &err) != MEND_OK))
        return 1;
    for (size_t i = 0; init.data && i < (size_t)p.width * p.height * 3; i++)
        init.data[i] = (uint8_t)(i * 7);
    printf("%ld %llu\n", rss_kb(), (unsigned long long)(mend_gen_memory_estimate(m, &p, init.width, init.height) >> 10));
    fflush(stdout);
    mend_gen_inputs in = {.init_image = img2img ? &init : NULL, .mask = NULL};
    mend_gen_output out;
    mend_status s = mend_generate(m, &p, &in, NULL, NULL, &out, &err);
    mend_gen_output_free(&out);
    mend_image_free(&init);
    mend_sd_free(m);
    return s == MEND_OK ? 0 : 1;
}

/* Runs one job in a child process; *grew_kb = its peak RSS over its RSS
 * after loading. Returns the job's estimate in kB, or -1. */
static long measure(int w, int h, int batch, int img2img, long *grew_kb)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "/proc/%d/exe --measure %d %d %d %d", (int)getpid(), w, h, batch, img2img);
    FILE *f = popen(cmd, "r");
    long after_load = -1, est = -1;
    if (!f || fscanf(f, "%ld %ld", &after_load, &est) != 2)
        est = -1;
    int st = f ? pclose(f) : -1;
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    if (st != 0)
        return -1;
    *grew_kb = ru.ru_maxrss - after_load; /* the children run largest last */
    return est;
}

TEST(estimate_bounds_what_jobs_take)
{
#if defined(__SANITIZE_ADDRESS__)
    test_skip("peak RSS under AddressSanitizer (shadow memory, quarantine) is not the engine's");
    return;
#endif
    const char *mp = test_shared(MODEL), *vp = test_shared(VOCAB);
    if (!mp || !vp)
        return;
    struct {
        int w, h, batch, img2img;
    } cases[] = {{256, 256, 1, 0}, {512, 384, 2, 0}, {512, 512, 1, 1}, {768, 768, 1, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        long grew = 0, est = measure(cases[i].w, cases[i].h, cases[i].batch, cases[i].img2img, &grew);
        printf("  %4dx%-4d batch %d %s: peak grew %6ld kB, estimate %6ld kB (%.2fx)\n", cases[i].w, cases[i].h,
               cases[i].batch, cases[i].img2img ? "img2img" : "txt2img", grew, est,
               grew > 0 ? (double)est / (double)grew : 0.0);
        CHECK_MSG(est > 0, "case %zu did not run", i);
        CHECK_MSG(est >= grew, "case %zu: estimate %ld kB below the measured %ld kB", i, est, grew);
        CHECK_MSG(est <= 4 * grew + (160 << 10), "case %zu: estimate %ld kB far above the measured %ld kB", i, est,
                  grew);
    }
}

TEST(cli_refuses_over_max_memory)
{
    const char *mp = test_shared(MODEL), *vp = test_shared(VOCAB);
    if (!mp || !vp)
        return;
    char out[512], log[512], cmd[2048];
    snprintf(out, sizeof out, "%s/limited.png", test_tmpdir());
    snprintf(log, sizeof log, "%s/limited.log", test_tmpdir());
    const char *limits[] = {"1M", "abc"};
    const char *want[] = {"--max-memory", "expected a size"};
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd, "'%s' txt2img --model '%s' --vocab '%s' --steps 1 -W 256 -H 256 -q --max-memory %s -o '%s' cat",
                 test_mend_bin(), mp, vp, limits[i], out);
        int rc = test_run(cmd, log);
        char *text = test_read_file(log, NULL);
        CHECK_MSG(rc != 0 && text && strstr(text, want[i]), "--max-memory %s: rc %d, '%s'", limits[i], rc,
                  text ? text : "");
        CHECK(access(out, F_OK) != 0);
        free(text);
    }
}

TEST(sizes_parse_and_bad_ones_are_refused)
{
    struct {
        const char *text;
        uint64_t want; /* 0: refused */
    } cases[] = {{"512M", 512ull << 20}, {"6G", 6ull << 30}, {"1.5GiB", 3ull << 29}, {"64k", 64ull << 10},
                 {"4096", 4096ull << 20}, {"2TB", 2ull << 40}, {"abc", 0}, {"", 0}, {"-1G", 0}, {"5Q", 0},
                 {"12i", 0}, {"3GiBx", 0}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint64_t got = 0;
        int ok = mend_parse_bytes(cases[i].text, &got);
        CHECK_MSG(cases[i].want ? ok && got == cases[i].want : !ok, "'%s' -> %d, %llu", cases[i].text, ok,
                  (unsigned long long)got);
    }
    mend_sd_model *m = load();
    if (!m)
        return;
    mend_gen_params p = job(64, 64, 1);
    mend_err err = {0};
    setenv("MEND_MAX_MEMORY", "lots", 1);
    mend_status s = mend_gen_memory_check(m, &p, 0, 0, &err);
    CHECK_MSG(s == MEND_E_ARG && strstr(err.msg, "MEND_MAX_MEMORY='lots'"), "%s: %s", mend_status_name(s), err.msg);
    setenv("MEND_MAX_MEMORY", "1M", 1);
    CHECK(mend_gen_memory_check(m, &p, 0, 0, &err) == MEND_E_LIMIT && strstr(err.msg, "--max-memory"));
    unsetenv("MEND_MAX_MEMORY");
    CHECK_OK(mend_gen_memory_check(m, &p, 0, 0, &err), &err);
    mend_sd_free(m);
}

int main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "--measure"))
        return child_measure(argv + 2);
    RUN(estimate_bounds_what_jobs_take);
    RUN(estimate_grows_with_the_job);
    RUN(job_over_the_limit_is_refused_before_work);
    RUN(largest_api_job_passes_the_table_and_is_refused_by_admission);
    RUN(cli_refuses_over_max_memory);
    RUN(sizes_parse_and_bad_ones_are_refused);
    return test_summary();
}
