/* Textual inversion from the front ends, end to end on tiny-sd1 and the
 * embeddings of ../shared/testdata/embeddings/files: `mend txt2img
 * --embeddings-dir` (`TI hashes` in the PNG as A1111 writes it, a corrupt
 * file named on stderr while the job runs, an empty folder option
 * refused), and `mend serve --embeddings-dir` (GET /sdapi/v1/embeddings
 * exactly as db.json records A1111's answer, a file added to the folder
 * seen on the next listing and after POST /sdapi/v1/refresh-embeddings,
 * TI hashes in a job's infotext). */
#include "test.h"

#include "server_fixture.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_model[TEST_PATH_MAX], g_vocab[TEST_PATH_MAX], g_dir[TEST_PATH_MAX];

static int have_inputs(void) { return test_tiny_inputs("embeddings/files", g_model, g_vocab, g_dir); }

/* A folder with the golden tinycat.pt (a link) and a corrupt file. */
static const char *mixed_folder(void)
{
    static char dir[1100];
    char link[1200], bad[1200], target[1100];
    snprintf(dir, sizeof dir, "%s/mixed", test_tmpdir());
    snprintf(link, sizeof link, "%s/tinycat.pt", dir);
    snprintf(bad, sizeof bad, "%s/broken.safetensors", dir);
    snprintf(target, sizeof target, "%s/tinycat.pt", g_dir);
    mkdir(dir, 0755);
    CHECK(symlink(target, link) == 0);
    test_write_text(bad, "\x10\0\0\0\0\0\0\0{\"a\": broken");
    return dir;
}

TEST(cli)
{
    if (!have_inputs())
        return;
    char png[1100], opts[2200], *o = NULL;
    snprintf(png, sizeof png, "%s/ti.png", test_tmpdir());
    snprintf(opts, sizeof opts, "--embeddings-dir '%s' -n 'blurry, ti-dots'", g_dir);
    int rc = test_tiny_txt2img(opts, "(tinycat-xl:1.2), tinycat on a table, wideword", png, &o);
    CHECK_MSG(rc == 0 && o && !strstr(o, "warning") && !strstr(o, "Error"), "rc %d: %s", rc, o ? o : "");
    const char *want = "TI hashes: \"tinycat-xl: 6f907ea3109f, tinycat: ccf8c13a1690, ti-dots: 663f1c0573e8\"";
    CHECK_MSG(test_file_has(png, want), "no TI hashes (positive, then negative) in %s", png);
    free(o), o = NULL;
    snprintf(opts, sizeof opts, "--embeddings-dir '%s'", mixed_folder());
    rc = test_tiny_txt2img(opts, "a photo of tinycat", png, &o);
    CHECK_MSG(rc == 0 && o && strstr(o, "Error loading embedding broken.safetensors"), "rc %d: %s", rc, o ? o : "");
    CHECK_MSG(test_file_has(png, "TI hashes: \"tinycat: ccf8c13a1690\""), "the good file still works");
    free(o), o = NULL;
    rc = test_tiny_txt2img("--embeddings-dir ''", "a cat", png, &o);
    CHECK_MSG(rc == 2 && o && strstr(o, "--embeddings-dir") && access(png, F_OK) != 0, "rc %d: %s", rc, o ? o : "");
    free(o);
}

/* The answer against db.json's api_embeddings, key order included. */
static void check_answer(const cJSON *got, const cJSON *want)
{
    char *g = cJSON_PrintUnformatted(got), *w = cJSON_PrintUnformatted(want);
    CHECK_MSG(g && w && !strcmp(g, w), "embeddings answer\n got %s\nwant %s", g ? g : "", w ? w : "");
    free(g);
    free(w);
}

static const char *info_text0(const reply *h, cJSON **parsed)
{
    const cJSON *info = cJSON_GetObjectItemCaseSensitive(h->json, "info");
    *parsed = cJSON_IsString(info) ? cJSON_Parse(info->valuestring) : NULL;
    return cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(*parsed, "infotexts"), 0));
}

TEST(serve)
{
    cJSON *db = have_inputs() ? test_shared_json("embeddings/db.json") : NULL;
    if (!db)
        return;
    char dir[1100], src[1200], dst[1200];
    snprintf(dir, sizeof dir, "%s/served", test_tmpdir());
    mkdir(dir, 0755);
    static const char *const files[] = {"tinycat.pt", "tinycat-xl.safetensors", "ti-dots.bin", "wideword.pt"};
    for (int i = 0; i < 4; i++) { /* links to the golden files: the folder can change */
        snprintf(src, sizeof src, "%s/%s", g_dir, files[i]);
        snprintf(dst, sizeof dst, "%s/%s", dir, files[i]);
        CHECK(i == 2 || symlink(src, dst) == 0);
    }
    const char *args[] = {"--model", g_model, "--vocab", g_vocab, "--embeddings-dir", dir, NULL};
    int port = 0;
    pid_t pid = test_serve_start(args, &port);
    CHECK(pid > 0);
    if (pid <= 0) {
        cJSON_Delete(db);
        return;
    }
    server sv = {pid, port};
    reply h = http(&sv, "GET", "/sdapi/v1/embeddings", NULL);
    CHECK_MSG(h.status == 200 && h.json, "embeddings: %d", h.status);
    CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(h.json, "loaded"), "ti-dots") == NULL);
    reply_free(&h);
    sleep(1); /* the folder's mtime must move */
    snprintf(src, sizeof src, "%s/ti-dots.bin", g_dir);
    snprintf(dst, sizeof dst, "%s/ti-dots.bin", dir);
    CHECK(symlink(src, dst) == 0);
    h = http(&sv, "GET", "/sdapi/v1/embeddings", NULL);
    CHECK(h.status == 200);
    check_answer(h.json, cJSON_GetObjectItem(db, "api_embeddings"));
    reply_free(&h);
    h = http(&sv, "POST", "/sdapi/v1/refresh-embeddings", NULL);
    CHECK_MSG(h.status == 200 && h.body && !strcmp(h.body, "null"), "refresh: %d %s", h.status, h.body ? h.body : "");
    reply_free(&h);
    h = http(&sv, "GET", "/sdapi/v1/embeddings", NULL);
    check_answer(h.json, cJSON_GetObjectItem(db, "api_embeddings"));
    reply_free(&h);
    h = http(&sv, "POST", "/sdapi/v1/txt2img",
             "{\"prompt\": \"a tinycat-xltinycat\", \"negative_prompt\": \"ti-dots\", \"steps\": 1, \"width\": 64, "
             "\"height\": 64, \"seed\": 3}");
    cJSON *ij = NULL;
    const char *t0 = info_text0(&h, &ij);
    CHECK_MSG(h.status == 200 && t0 && strstr(t0, "TI hashes: \"tinycat: ccf8c13a1690, ti-dots: 663f1c0573e8\""),
              "txt2img: %d %s", h.status, t0 ? t0 : (h.body ? h.body : ""));
    cJSON_Delete(ij);
    reply_free(&h);
    test_serve_stop(&pid);
    cJSON_Delete(db);
}

int main(void)
{
    RUN(cli);
    RUN(serve);
    test_remove_tmpdir();
    return test_summary();
}
