/* Minimal test harness: each tests/test_*.c is one CTest executable.
 *   TEST(name) { CHECK(cond); CHECK_NEAR(a, b, tol); ... }
 *   int main(void) { RUN(name); ...; return test_summary(); }
 * A test that needs ../shared calls REQUIRE_SHARED(path) and is reported
 * as skipped (exit 77) when it is absent. */
#ifndef MEND_TEST_H
#define MEND_TEST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#include "core/err.h"
#include "io/tensorfile.h"

extern int test_failures, test_checks, test_skipped, test_ran;
extern const char *test_current;

/* Runs one subtest and prints ok / FAIL / skip for it. A subtest that
 * skipped something and checked nothing counts as skipped; a binary whose
 * subtests all skipped exits 77 (CTest's SKIP_RETURN_CODE), never 0. */
#define TEST(name) static void name(void)
#define RUN(name)                                                     \
    do {                                                              \
        int f0_ = test_failures, c0_ = test_checks, s0_ = test_skipped; \
        test_current = #name;                                         \
        test_ran++;                                                   \
        name();                                                       \
        test_subtest_done(#name, test_failures - f0_, test_checks - c0_, test_skipped - s0_); \
    } while (0)
void test_subtest_done(const char *name, int failed, int checks, int skipped);

/* Marks part of the current subtest skipped and prints why ("skipped: ..."). */
void test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        test_checks++;                                                                         \
        if (!(cond)) {                                                                         \
            test_failures++;                                                                   \
            fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__, __LINE__, test_current, #cond); \
        }                                                                                      \
    } while (0)

#define CHECK_MSG(cond, ...)                                                            \
    do {                                                                                \
        test_checks++;                                                                  \
        if (!(cond)) {                                                                  \
            test_failures++;                                                            \
            fprintf(stderr, "%s:%d: %s: check failed: %s: ", __FILE__, __LINE__, test_current, #cond); \
            fprintf(stderr, __VA_ARGS__);                                               \
            fputc('\n', stderr);                                                        \
        }                                                                               \
    } while (0)

#define CHECK_OK(expr, errp)                                                            \
    do {                                                                                \
        mend_status s_ = (expr);                                                        \
        CHECK_MSG(s_ == MEND_OK, "%s -> %s: %s", #expr, mend_status_name(s_), (errp)->msg); \
    } while (0)

#define CHECK_NEAR(a, b, tol) CHECK_MSG(fabs((double)(a) - (double)(b)) <= (tol), "%g vs %g (tol %g)", (double)(a), (double)(b), (double)(tol))

/* Returns the path of ../shared/testdata/<rel>, or NULL (and marks the test
 * binary as skipped) when it is not there. */
const char *test_shared(const char *rel);
#define REQUIRE_SHARED(var, rel)                                                  \
    const char *var = test_shared(rel);                                           \
    if (!var) {                                                                   \
        return;                                                                   \
    }

/* Max over i of |got - want| / |want| (absolute where want == 0; NaN -> inf). */
double test_max_rel_err(const float *got, const float *want, int64_t n);

/* Opens ../shared/testdata/<rel> as a tensor file: NULL with a skip when
 * absent, NULL with a failed check when it does not open. */
mend_tf *test_open_shared(const char *rel);

/* Max |a-b| over n floats. */
double test_max_abs_diff(const float *a, const float *b, int64_t n);

/* Loads a whole tensor of a reference file as float (NULL + CHECK failure if absent). */
float *test_load_f32(const mend_tf *f, const char *name, int64_t *numel);

/* Path of the mend binary (from the MEND_BIN environment variable). */
const char *test_mend_bin(void);

/* Runs a shell command, returns its exit status (or -1). Output goes to
 * out_path if non-NULL (stdout+stderr). */
int test_run(const char *cmd, const char *out_path);

/* Reads a whole file into a NUL-terminated buffer (caller frees). */
char *test_read_file(const char *path, size_t *len);

/* `$MEND_BIN serve --port 0 --threads 2 ARGS...` (args NULL-terminated) as
 * a child process; *port from the first line it prints, waited for up to
 * 60 s. Returns the pid, or -1 (the child stopped) when it did not start. */
pid_t test_serve_start(const char *const *args, int *port);
/* SIGTERM, then SIGKILL after 10 s; *pid becomes 0. Returns the exit
 * status (0: a clean shutdown; under ASan, LeakSanitizer makes a leak a
 * non-zero status), 128 + the signal that ended it, or 0 if none ran. */
int test_serve_stop(pid_t *pid);

/* Seconds on the monotonic clock. */
double test_now_s(void);

/* `$MEND_BIN tools make-model --arch sd1 --size tiny --dtype f16 --seed
 * SEED PATH`: a random-weight tiny checkpoint; 1 when it was written. */
int test_make_tiny_model(const char *path, int seed);

/* A fresh temporary directory for this test binary. */
const char *test_tmpdir(void);
/* Removes the temporary directory and all in it (at the end of main). */
void test_remove_tmpdir(void);
/* <tmpdir>/name in one of 16 rotating buffers (copy it to keep it longer). */
const char *test_tmp_path(const char *name);
int test_path_exists(const char *path);
/* Number of entries of dir whose name starts with prefix, -1 without dir. */
int test_count_entries(const char *dir, const char *prefix);
/* Writes n bytes (or a C string) to path: 1, or 0 with a failed check
 * naming the path. */
int test_write_file(const char *path, const void *data, size_t n);
int test_write_text(const char *path, const char *text);
/* Runs `$MEND_BIN ARGS` with stdout and stderr into one file; returns the
 * exit status and, when output is not NULL, *output = that text (freed by
 * the caller). */
int test_run_mend(const char *args, char **output);
/* The "parameters" text (A1111's infotext) of a PNG file, malloc'd; NULL
 * when it cannot be read or has none. */
char *test_png_parameters(const char *png);

/* Synthetic inputs shared by the CLI and server tests: an RGB gradient
 * (R = 4x, G = 4y, B = 100 + (x ^ y)) and a mask with a white square
 * x, y in [24, 40). */
void test_make_gradient(mend_image *img, int w, int h);
void test_make_square_mask(mend_image *img, int w, int h);
/* A copy of init with a red stroke y in [26, 38), x in [12, 52) (Inpaint sketch). */
void test_make_sketch(const mend_image *init, mend_image *img);

/* A baseline JPEG of img (1 or 3 channels) at quality 1..100, 4:4:4 when
 * full_chroma (else libjpeg's 4:2:0); free() it. The tests' own encoder,
 * independent of the library's decoder under test. */
uint8_t *test_encode_jpeg(const mend_image *img, int quality, int full_chroma, size_t *len);

/* Cases of a golden data set: the names (without `suffix`) of the files in
 * ../shared/testdata/<dir_rel> that end in `suffix`, sorted. Returns how
 * many (0 and a skip when the folder is absent); free with test_free_list. */
int test_list_cases(const char *dir_rel, const char *suffix, char ***names);
void test_free_list(char **names, int n);

/* JSON fields of a golden's metadata that fail the subtest cleanly (a
 * CHECK failure naming the key) instead of crashing when absent. */
struct cJSON;
const struct cJSON *test_json_need(const struct cJSON *obj, const char *key, const char *where);
double test_json_number(const struct cJSON *obj, const char *key, double fallback, const char *where);
const char *test_json_string(const struct cJSON *obj, const char *key, const char *where);

/* A JSON file parsed (free with cJSON_Delete), or NULL with a failed check
 * naming the file. test_shared_json: ../shared/testdata/<rel>, NULL with a
 * skip when absent. */
struct cJSON *test_read_json(const char *path);
struct cJSON *test_shared_json(const char *rel);

/* A golden case of ../shared/testdata: <stem>.json (its metadata) and
 * <stem>.safetensors (its tensors). Returns 1 with both open (the caller
 * closes them); 0 with a skip when one is absent or a failed check when one
 * does not open, *json and *tf then NULL. */
int test_open_golden(const char *stem, struct cJSON **json, mend_tf **tf);

/* The CLIP tokenizer of ../shared (clip/bpe_simple_vocab_16e6.txt.gz):
 * NULL with a skip when absent, NULL with a failed check when it does not
 * load. */
struct mend_tokenizer *test_shared_tokenizer(void);
/* Declares var = test_shared_tokenizer(), returning from the test (skipped
 * or failed) without it. */
#define REQUIRE_TOKENIZER(var)                           \
    struct mend_tokenizer *var = test_shared_tokenizer(); \
    if (!var)                                            \
    return

/* tiny-sd1's text encoder and the shared vocabulary (models/tiny-sd1.f16,
 * the A1111 conditioning goldens' encoder): NULL with a skip when absent,
 * NULL with a failed check when they do not load. Free with mend_sd_free. */
struct mend_sd_model *test_shared_text_model(void);

/* The paths an apps test runs tiny-sd1 with: the model, the shared
 * vocabulary and the folder ../shared/testdata/<dir_rel>, copied into the
 * three buffers (TEST_PATH_MAX bytes each); 0 with a skip when one is absent. */
#define TEST_PATH_MAX 1024
int test_tiny_inputs(const char *dir_rel, char *model, char *vocab, char *dir);

/* `mend txt2img -q` on tiny-sd1 with the shared vocabulary, 64x64, 2 steps,
 * seed 7, extra options opts (shell words), writing png (removed first);
 * the exit status, output as test_run_mend's. */
int test_tiny_txt2img(const char *opts, const char *prompt, const char *png, char **output);

/* Whether the file at path holds text anywhere (PNG chunks are binary around it). */
int test_file_has(const char *path, const char *text);

int test_summary(void);

#endif
