#include "test.h"

#include "io/image.h"
#include "io/png_text.h"
#include "model/sd_model.h"
#include "model/tokenizer.h"

#include <cjson/cJSON.h>
#include <jpeglib.h>
#include <dirent.h>
#include <stdarg.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int test_failures, test_checks, test_skipped, test_ran;
const char *test_current = "";
static int subtests_skipped;

#ifndef MEND_SHARED_DIR
#define MEND_SHARED_DIR "../shared"
#endif

const char *test_shared(const char *rel)
{
    static char paths[16][1024];
    static int next;
    const char *root = getenv("MEND_SHARED_DIR");
    if (!root)
        root = MEND_SHARED_DIR;
    char *p = paths[next++ % 16];
    snprintf(p, sizeof paths[0], "%s/testdata/%s", root, rel);
    if (access(p, R_OK) != 0) {
        test_skip("%s not found", p);
        return NULL;
    }
    return p;
}

void test_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("skipped: ");
    vprintf(fmt, ap);
    printf(" (%s)\n", test_current);
    va_end(ap);
    test_skipped++;
}

void test_subtest_done(const char *name, int failed, int checks, int skipped)
{
    const char *verdict = failed ? "FAIL" : (skipped && checks == 0) ? "skip" : "ok  ";
    if (!failed && skipped && checks == 0)
        subtests_skipped++;
    printf("%s %s\n", verdict, name);
    fflush(stdout);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int test_list_cases(const char *dir_rel, const char *suffix, char ***names)
{
    *names = NULL;
    const char *dir = test_shared(dir_rel);
    DIR *d = dir ? opendir(dir) : NULL;
    if (!d)
        return 0;
    int n = 0, cap = 0;
    size_t ls = strlen(suffix);
    for (struct dirent *e; (e = readdir(d));) {
        size_t ln = strlen(e->d_name);
        if (ln <= ls || strcmp(e->d_name + ln - ls, suffix) != 0)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **grown = realloc(*names, (size_t)cap * sizeof *grown);
            CHECK(grown != NULL);
            if (!grown)
                break;
            *names = grown;
        }
        char *name = strndup(e->d_name, ln - ls);
        CHECK(name != NULL);
        if (name)
            (*names)[n++] = name;
    }
    closedir(d);
    if (n)
        qsort(*names, (size_t)n, sizeof **names, by_name);
    CHECK_MSG(n > 0, "no *%s cases in %s", suffix, dir);
    return n;
}

void test_free_list(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

const cJSON *test_json_need(const cJSON *obj, const char *key, const char *where)
{
    const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    CHECK_MSG(v != NULL, "%s: metadata key '%s' missing", where, key);
    return v;
}

double test_json_number(const cJSON *obj, const char *key, double fallback, const char *where)
{
    const cJSON *v = test_json_need(obj, key, where);
    CHECK_MSG(!v || cJSON_IsNumber(v), "%s: metadata key '%s' is not a number", where, key);
    return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

const char *test_json_string(const cJSON *obj, const char *key, const char *where)
{
    const cJSON *v = test_json_need(obj, key, where);
    CHECK_MSG(!v || cJSON_IsString(v), "%s: metadata key '%s' is not a string", where, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

double test_max_abs_diff(const float *a, const float *b, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || d != d)
            m = d != d ? INFINITY : d;
    }
    return m;
}

double test_max_rel_err(const float *got, const float *want, int64_t n)
{
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]), scale = fabs((double)want[i]);
        double e = scale > 0 ? d / scale : d;
        if (e > worst || e != e)
            worst = e != e ? INFINITY : e;
    }
    return worst;
}

mend_tf *test_open_shared(const char *rel)
{
    const char *path = test_shared(rel);
    if (!path)
        return NULL;
    mend_err err = {0};
    mend_tf *f = NULL;
    CHECK_OK(mend_tf_open(path, &f, &err), &err);
    return f;
}

float *test_load_f32(const mend_tf *f, const char *name, int64_t *numel)
{
    const mend_tf_tensor *t = mend_tf_find(f, name);
    CHECK_MSG(t != NULL, "reference tensor '%s' missing in %s", name, f->path);
    if (!t)
        return NULL;
    float *buf = malloc((size_t)(mend_tf_numel(t) + 1) * sizeof *buf);
    mend_err err = {0};
    if (!buf || mend_tf_read_f32(f, t, buf, &err) != MEND_OK) {
        free(buf);
        CHECK_MSG(0, "cannot read '%s': %s", name, err.msg);
        return NULL;
    }
    if (numel)
        *numel = mend_tf_numel(t);
    return buf;
}

const char *test_mend_bin(void)
{
    const char *b = getenv("MEND_BIN");
    return b ? b : "./mend";
}

int test_run(const char *cmd, const char *out_path)
{
    char full[8192];
    if (out_path)
        snprintf(full, sizeof full, "%s >'%s' 2>&1", cmd, out_path);
    else
        snprintf(full, sizeof full, "%s >/dev/null 2>&1", cmd);
    int st = system(full);
    if (st == -1 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

int test_make_tiny_model(const char *path, int seed)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' tools make-model --arch sd1 --size tiny --dtype f16 --seed %d '%s'", test_mend_bin(),
             seed, path);
    return test_run(cmd, NULL) == 0;
}

char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)(n < 0 ? 0 : n) + 1);
    size_t got = buf ? fread(buf, 1, (size_t)(n < 0 ? 0 : n), f) : 0;
    fclose(f);
    if (!buf)
        return NULL;
    buf[got] = '\0';
    if (len)
        *len = got;
    return buf;
}

int test_serve_stop(pid_t *pid)
{
    if (*pid <= 0)
        return 0;
    int st = 0;
    kill(*pid, SIGTERM);
    for (int i = 0; i < 500; i++) { /* up to 10 s, then SIGKILL */
        if (waitpid(*pid, &st, WNOHANG) == *pid) {
            *pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        poll(NULL, 0, 20);
    }
    kill(*pid, SIGKILL);
    waitpid(*pid, NULL, 0);
    *pid = 0;
    return 128 + SIGKILL;
}

pid_t test_serve_start(const char *const *args, int *port)
{
    int fds[2];
    *port = 0;
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        const char *argv[48] = {test_mend_bin(), "serve", "--port", "0", "--threads", "2"};
        int n = 6;
        for (int i = 0; args && args[i] && n < 47; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    char line[256] = "";
    size_t got = 0;
    for (int waited = 0; waited < 600 && !strchr(line, '\n'); waited++) { /* up to 60 s */
        struct pollfd p = {fds[0], POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t r = read(fds[0], line + got, sizeof line - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        line[got] = '\0';
    }
    close(fds[0]);
    const char *colon = strrchr(line, ':');
    *port = colon ? atoi(colon + 1) : 0;
    if (*port <= 0) {
        fprintf(stderr, "mend serve did not start: '%s'\n", line);
        test_serve_stop(&pid);
        return -1;
    }
    return pid;
}

const char *test_tmpdir(void)
{
    static char dir[256];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/mend-test-XXXXXX");
        if (!mkdtemp(dir))
            snprintf(dir, sizeof dir, "/tmp");
    }
    return dir;
}

cJSON *test_read_json(const char *path)
{
    char *text = test_read_file(path, NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK_MSG(j != NULL, "cannot read %s as JSON", path);
    return j;
}

cJSON *test_shared_json(const char *rel)
{
    const char *path = test_shared(rel);
    return path ? test_read_json(path) : NULL;
}

int test_open_golden(const char *stem, cJSON **json, mend_tf **tf)
{
    char rel[512];
    *json = NULL;
    *tf = NULL;
    snprintf(rel, sizeof rel, "%s.json", stem);
    const char *json_path = test_shared(rel);
    snprintf(rel, sizeof rel, "%s.safetensors", stem);
    *tf = json_path ? test_open_shared(rel) : NULL;
    *json = *tf ? test_read_json(json_path) : NULL;
    if (*json)
        return 1;
    mend_tf_close(*tf);
    *tf = NULL;
    return 0;
}

mend_tokenizer *test_shared_tokenizer(void)
{
    const char *vocab = test_shared("clip/bpe_simple_vocab_16e6.txt.gz");
    if (!vocab)
        return NULL;
    mend_tokenizer *t = NULL;
    mend_err err = {0};
    CHECK_OK(mend_tokenizer_load(vocab, &t, &err), &err);
    return t;
}

mend_sd_model *test_shared_text_model(void)
{
    const char *mp = test_shared("models/tiny-sd1.f16.safetensors");
    const char *vp = test_shared("clip/bpe_simple_vocab_16e6.txt.gz");
    mend_sd_model *m = NULL;
    mend_err err = {0};
    if (mp && vp)
        CHECK_OK(mend_sd_load(mp, vp, MEND_COMP_CLIP | MEND_COMP_TOKENIZER, &m, &err), &err);
    return m;
}

int test_tiny_inputs(const char *dir_rel, char *model, char *vocab, char *dir)
{
    const char *m = test_shared("models/tiny-sd1.f16.safetensors");
    const char *v = test_shared("clip/bpe_simple_vocab_16e6.txt.gz"), *d = test_shared(dir_rel);
    if (!m || !v || !d)
        return 0;
    snprintf(model, TEST_PATH_MAX, "%s", m);
    snprintf(vocab, TEST_PATH_MAX, "%s", v);
    snprintf(dir, TEST_PATH_MAX, "%s", d);
    return 1;
}

int test_tiny_txt2img(const char *opts, const char *prompt, const char *png, char **output)
{
    const char *m = test_shared("models/tiny-sd1.f16.safetensors");
    const char *v = test_shared("clip/bpe_simple_vocab_16e6.txt.gz");
    char args[6000];
    unlink(png);
    snprintf(args, sizeof args, "txt2img -q --model '%s' --vocab '%s' %s -W 64 -H 64 --steps 2 --seed 7 -o '%s' '%s'",
             m ? m : "", v ? v : "", opts, png, prompt);
    return test_run_mend(args, output);
}

int test_file_has(const char *path, const char *text)
{
    size_t len = 0, n = strlen(text);
    char *b = test_read_file(path, &len);
    int found = 0;
    for (size_t i = 0; b && !found && i + n <= len; i++)
        found = memcmp(b + i, text, n) == 0;
    free(b);
    return found;
}

double test_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void test_remove_tmpdir(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_tmpdir());
    test_run(cmd, NULL);
}

const char *test_tmp_path(const char *name)
{
    static char paths[16][1024];
    static int next;
    char *p = paths[next++ % 16];
    snprintf(p, sizeof paths[0], "%s/%s", test_tmpdir(), name);
    return p;
}

int test_path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int test_count_entries(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

int test_write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(data, 1, n, f) == n;
    if (f)
        ok = fclose(f) == 0 && ok;
    CHECK_MSG(ok, "cannot write %s", path);
    return ok;
}

int test_write_text(const char *path, const char *text)
{
    return test_write_file(path, text, strlen(text));
}

int test_run_mend(const char *args, char **output)
{
    size_t n = strlen(args) + strlen(test_mend_bin()) + 8; /* long prompts make long command lines */
    char *cmd = malloc(n), out[1024];
    if (!cmd)
        return -1;
    snprintf(out, sizeof out, "%s/mend-output.txt", test_tmpdir());
    snprintf(cmd, n, "'%s' %s", test_mend_bin(), args);
    int rc = test_run(cmd, out);
    free(cmd);
    if (output)
        *output = test_read_file(out, NULL);
    return rc;
}

void test_make_gradient(mend_image *img, int w, int h)
{
    mend_err err = {0};
    CHECK_OK(mend_image_alloc(img, w, h, 3, &err), &err);
    for (int y = 0; y < h && img->data; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img->data + 3 * (y * w + x);
            p[0] = (uint8_t)(x * 4), p[1] = (uint8_t)(y * 4), p[2] = (uint8_t)(100 + (x ^ y));
        }
}

void test_make_square_mask(mend_image *img, int w, int h)
{
    mend_err err = {0};
    CHECK_OK(mend_image_alloc(img, w, h, 1, &err), &err);
    for (int y = 24; y < 40 && y < h && img->data; y++)
        for (int x = 24; x < 40 && x < w; x++)
            img->data[y * w + x] = 255;
}

void test_make_sketch(const mend_image *init, mend_image *img)
{
    mend_err err = {0};
    CHECK_OK(mend_image_copy(init, img, &err), &err);
    for (int y = 26; y < 38 && y < img->height && img->data; y++)
        for (int x = 12; x < 52 && x < img->width; x++) {
            uint8_t *p = img->data + 3 * ((size_t)y * img->width + x);
            p[0] = 255, p[1] = 0, p[2] = 0;
        }
}

int test_summary(void)
{
    printf("%d subtests, %d skipped; %d checks, %d failed, %d skips\n", test_ran, subtests_skipped, test_checks,
           test_failures, test_skipped);
    if (test_failures)
        return 1;
    /* nothing was tested (every subtest skipped): CTest must say skipped */
    if (test_checks == 0 || (test_ran > 0 && subtests_skipped == test_ran))
        return 77;
    return 0;
}

char *test_png_parameters(const char *png)
{
    mend_png_text_list l = {0};
    mend_err err = {0};
    if (mend_png_text_read_file(png, MEND_PNG_CRC_CHECK, &l, &err) != MEND_OK)
        return NULL;
    const char *p = mend_png_text_get(&l, "parameters");
    char *copy = p ? strdup(p) : NULL;
    mend_png_text_list_free(&l);
    return copy;
}

uint8_t *test_encode_jpeg(const mend_image *img, int quality, int full_chroma, size_t *len)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    unsigned char *out = NULL;
    unsigned long out_len = 0;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, &out_len);
    c.image_width = (JDIMENSION)img->width;
    c.image_height = (JDIMENSION)img->height;
    c.input_components = img->channels;
    c.in_color_space = img->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    for (int i = 0; full_chroma && i < c.num_components; i++) /* 4:4:4, no chroma subsampling */
        c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = img->data + (size_t)c.next_scanline * img->width * img->channels;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *len = out_len;
    return out;
}
