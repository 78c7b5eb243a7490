/* LoRA from the front ends, end to end on tiny-sd1 and the networks of
 * ../shared/testdata/lora/files: `mend txt2img --lora-dir` (warnings on
 * stderr, `Lora hashes` in the PNG, the --lora-model-dir alias, bad folder
 * options and a corrupt file refused), and `mend serve --lora-dir`
 * (GET /sdapi/v1/loras in A1111's shape, POST /sdapi/v1/refresh-loras, the
 * warnings in a job's info). */
#include "test.h"

#include "server_fixture.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_model[TEST_PATH_MAX], g_vocab[TEST_PATH_MAX], g_dir[TEST_PATH_MAX];

static int have_inputs(void) { return test_tiny_inputs("lora/files", g_model, g_vocab, g_dir); }

TEST(cli)
{
    if (!have_inputs())
        return;
    char png[1100], opts[2200], *o = NULL;
    snprintf(png, sizeof png, "%s/lora.png", test_tmpdir());
    snprintf(opts, sizeof opts, "--lora-dir '%s'", g_dir);
    int rc = test_tiny_txt2img(opts, "a cat <lora:nope:1> <lora:tiny_badshape:0.5>", png, &o);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, o ? o : "");
    CHECK_MSG(o && strstr(o, "mend: warning: Lora not found: nope\n"), "%s", o ? o : "");
    CHECK_MSG(o && strstr(o, "mend: warning: Networks with errors: tiny_badshape (1)\n"), "%s", o ? o : "");
    CHECK_MSG(o && strstr(o, "does not fit") && strstr(o, "model.diffusion_model."), "%s", o ? o : "");
    CHECK_MSG(test_file_has(png, "Lora hashes: \"tiny_badshape: cb370df814b8\""), "no Lora hashes in %s", png);
    free(o), o = NULL;
    snprintf(opts, sizeof opts, "--lora-model-dir '%s'", g_dir);
    rc = test_tiny_txt2img(opts, "a cat <lora:tinystyle:0.8>", png, &o);
    CHECK_MSG(rc == 0 && o && !strstr(o, "warning"), "rc %d: %s", rc, o ? o : "");
    CHECK_MSG(test_file_has(png, "Lora hashes: \"tinystyle: 4bc618172724\""), "alias folder: no hashes");
    free(o), o = NULL;
    static const char *const bad[][2] = {{"--lora-dir a --lora-model-dir b", "once"}, {"--lora-dir ''", "--lora-dir"}};
    for (int i = 0; i < 2; i++) {
        rc = test_tiny_txt2img(bad[i][0], "a cat", png, &o);
        CHECK_MSG(rc == 2 && o && strstr(o, bad[i][1]) && access(png, F_OK) != 0, "%s -> rc %d: %s", bad[i][0], rc,
                  o ? o : "");
        free(o), o = NULL;
    }
}

/* A network file cut short: the job fails naming it and writes nothing. */
TEST(cli_corrupt_file)
{
    if (!have_inputs())
        return;
    char src[1200], dir[1100], path[1200], png[1100], opts[1200], *o = NULL;
    size_t len = 0;
    snprintf(src, sizeof src, "%s/tiny_locon.safetensors", g_dir);
    char *bytes = test_read_file(src, &len);
    snprintf(dir, sizeof dir, "%s/lora_cut", test_tmpdir());
    snprintf(path, sizeof path, "%s/cut.safetensors", dir);
    snprintf(png, sizeof png, "%s/cut.png", test_tmpdir());
    CHECK(bytes && (mkdir(dir, 0755) == 0 || errno == EEXIST));
    FILE *fp = bytes ? fopen(path, "wb") : NULL;
    if (fp) {
        fwrite(bytes, 1, len / 2, fp);
        fclose(fp);
    }
    snprintf(opts, sizeof opts, "--lora-dir '%s'", dir);
    int rc = test_tiny_txt2img(opts, "a cat <lora:cut:1>", png, &o);
    CHECK_MSG(rc != 0 && o && strstr(o, "cut") && access(png, F_OK) != 0, "rc %d: %s", rc, o ? o : "");
    free(o);
    free(bytes);
}

static const cJSON *lora_named(const cJSON *list, const char *name)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, list) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "name");
        if (cJSON_IsString(n) && !strcmp(n->valuestring, name))
            return e;
    }
    return NULL;
}

TEST(serve)
{
    if (!have_inputs())
        return;
    const char *args[] = {"--model", g_model, "--vocab", g_vocab, "--lora-dir", g_dir, NULL};
    int port = 0;
    pid_t pid = test_serve_start(args, &port);
    CHECK(pid > 0);
    if (pid <= 0)
        return;
    server sv = {pid, port};
    reply h = http(&sv, "GET", "/sdapi/v1/loras", NULL);
    const cJSON *list = h.json, *e = lora_named(list, "tiny_locon");
    CHECK_MSG(h.status == 200 && cJSON_IsArray(list) && cJSON_GetArraySize(list) >= 6, "loras: %d %s", h.status,
              h.body ? h.body : "");
    const cJSON *alias = cJSON_GetObjectItemCaseSensitive(e, "alias"), *path = cJSON_GetObjectItemCaseSensitive(e, "path");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(e, "metadata");
    CHECK_MSG(cJSON_IsString(alias) && !strcmp(alias->valuestring, "tinystyle"), "tiny_locon alias");
    CHECK_MSG(cJSON_IsString(path) && strstr(path->valuestring, "/tiny_locon.safetensors"), "tiny_locon path");
    const cJSON *on = cJSON_GetObjectItemCaseSensitive(meta, "ss_output_name");
    CHECK_MSG(cJSON_IsObject(meta) && cJSON_IsString(on) && !strcmp(on->valuestring, "tinystyle"), "metadata");
    const cJSON *peft = lora_named(list, "tiny_peft");
    CHECK_MSG(peft && !strcmp(cJSON_GetObjectItemCaseSensitive(peft, "alias")->valuestring, "tiny_peft"),
              "alias without ss_output_name: the name");
    reply_free(&h);
    h = http(&sv, "POST", "/sdapi/v1/refresh-loras", NULL);
    CHECK_MSG(h.status == 200 && h.body && !strcmp(h.body, "null"), "refresh-loras: %d %s", h.status, h.body ? h.body : "");
    reply_free(&h);
    h = http(&sv, "GET", "/sdapi/v1/refresh-loras", NULL);
    CHECK_MSG(h.status == 405, "GET refresh-loras: %d", h.status);
    reply_free(&h);
    h = http(&sv, "POST", "/sdapi/v1/txt2img",
                "{\"prompt\": \"a cat <lora:nope:1> <lora:tiny_locon:0.5>\", \"steps\": 2, \"width\": 64, "
                "\"height\": 64, \"seed\": 3}");
    const cJSON *info = cJSON_GetObjectItemCaseSensitive(h.json, "info");
    cJSON *ij = cJSON_IsString(info) ? cJSON_Parse(info->valuestring) : NULL;
    const cJSON *comments = cJSON_GetObjectItemCaseSensitive(ij, "comments");
    const cJSON *texts = cJSON_GetObjectItemCaseSensitive(ij, "infotexts");
    const cJSON *t0 = cJSON_GetArrayItem(texts, 0);
    CHECK_MSG(h.status == 200 && cJSON_IsString(comments) && !strcmp(comments->valuestring, "Lora not found: nope\n"),
              "txt2img: %d %s", h.status, h.body ? h.body : "");
    CHECK_MSG(cJSON_IsString(t0) && strstr(t0->valuestring, "Lora hashes: \"tiny_locon: 4bc618172724\""), "infotext");
    cJSON_Delete(ij);
    reply_free(&h);
    test_serve_stop(&pid);
}

int main(void)
{
    RUN(cli);
    RUN(cli_corrupt_file);
    RUN(serve);
    return test_summary();
}
