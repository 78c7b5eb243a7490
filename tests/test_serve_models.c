/* `mend serve --models-dir`: a folder holding broken checkpoints still
 * starts the server with the ones that load, and each broken file is named
 * in a warning (issue 12 item 4). A file that is not a checkpoint at all is
 * left out of /sdapi/v1/sd-models; one whose tensor table reads but whose
 * weights do not load is skipped at start for the next one. */
#include "test.h"

#include "make_model.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

/* A safetensors file with one small tensor: readable, not an SD model. */
static void write_one_tensor(const char *path)
{
    const char json[] = "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}";
    unsigned char buf[128] = {0};
    size_t n = strlen(json);
    buf[0] = (unsigned char)n;
    memcpy(buf + 8, json, n);
    write_bytes(path, buf, 8 + n + 4);
}

/* GET path from 127.0.0.1:port; the body (malloc'd) or NULL. */
static char *http_get(int port, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    send(fd, req, (size_t)n, MSG_NOSIGNAL);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    ssize_t k;
    while (buf && len + 1 < cap && (k = recv(fd, buf + len, cap - 1 - len, 0)) > 0)
        len += (size_t)k;
    close(fd);
    if (buf)
        buf[len] = '\0';
    char *body = buf ? strstr(buf, "\r\n\r\n") : NULL;
    char *out = body ? strdup(body + 4) : NULL;
    free(buf);
    return out;
}

/* Starts mend serve with stdout and stderr in log; the port, or 0. */
static int start(pid_t *pid, const char *dir, const char *vocab, const char *log)
{
    *pid = fork();
    if (*pid == 0) {
        FILE *f = freopen(log, "w", stdout);
        if (f)
            dup2(fileno(stdout), 2);
        execl(test_mend_bin(), test_mend_bin(), "serve", "--port", "0", "--threads", "1", "--models-dir", dir,
              "--vocab", vocab, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; *pid > 0 && i < 600; i++) { /* up to 60 s */
        char *text = test_read_file(log, NULL);
        const char *at = text ? strstr(text, "listening on http://127.0.0.1:") : NULL;
        int port = at ? atoi(at + strlen("listening on http://127.0.0.1:")) : 0;
        free(text);
        if (port > 0)
            return port;
        if (waitpid(*pid, NULL, WNOHANG) == *pid) {
            *pid = 0;
            return 0;
        }
        usleep(100000);
    }
    return 0;
}

TEST(broken_checkpoints_are_skipped_with_a_warning)
{
    REQUIRE_SHARED(vocab, "clip/bpe_simple_vocab_16e6.txt.gz");
    char dir[1024], p[1200], log[1200];
    snprintf(dir, sizeof dir, "%s/models", test_tmpdir());
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(p, sizeof p, "%s/0-garbage.safetensors", dir);
    write_bytes(p, "\x10\0\0\0\0\0\0\0{not json", 17);
    snprintf(p, sizeof p, "%s/a-not-sd.safetensors", dir);
    write_one_tensor(p);
    snprintf(p, sizeof p, "%s/b-good.safetensors", dir);
    mend_make_model_opts o = {.arch = MEND_MM_SD1, .size = MEND_MM_TINY, .dtype = MEND_DT_F16, .seed = 5};
    mend_err err = {0};
    CHECK_OK(mend_make_model(&o, p, &err), &err);
    snprintf(log, sizeof log, "%s/serve.log", test_tmpdir());
    pid_t pid = 0;
    int port = start(&pid, dir, vocab, log);
    char *text = test_read_file(log, NULL);
    CHECK_MSG(port > 0, "the server did not start: %s", text ? text : "");
    CHECK_MSG(text && strstr(text, "skipping") && strstr(text, "0-garbage.safetensors"),
              "no warning naming the unreadable file: %s", text ? text : "");
    CHECK_MSG(text && strstr(text, "a-not-sd.safetensors"), "no warning naming the unloadable file: %s",
              text ? text : "");
    free(text);
    char *models = port > 0 ? http_get(port, "/sdapi/v1/sd-models") : NULL;
    CHECK_MSG(models && strstr(models, "b-good.safetensors") && !strstr(models, "0-garbage"), "sd-models: %s",
              models ? models : "(no answer)");
    char *opts = port > 0 ? http_get(port, "/sdapi/v1/options") : NULL;
    CHECK_MSG(opts && strstr(opts, "\"sd_model_checkpoint\":\"b-good.safetensors\""), "options: %s",
              opts ? opts : "(no answer)");
    free(models);
    free(opts);
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
}

int main(void)
{
    RUN(broken_checkpoints_are_skipped_with_a_warning);
    return test_summary();
}
