/* `mend serve --cors-allow-origins / --cors-allow-origins-regex` as A1111
 * (Starlette's CORSMiddleware): preflights answered before auth, the
 * allowed origin echoed with credentials, the regex matched against the
 * whole origin, nothing added for other origins or without the flags; a
 * regex that does not compile stops the server with a message. And
 * --api-server-stop: server-kill ends the process, server-restart is 501.
 * Needs no model. */
#include "test.h"

#include "server_fixture.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static server sv_cors, sv_plain, sv_star;

/* A request with extra headers ("" or lines ending in \r\n). */
static reply req(const server *sv, const char *method, const char *path, const char *body, const char *headers)
{
    return http_ex(sv, method, path, body, -1, headers, 120);
}

static const char *const PREFLIGHT_FMT = "Origin: %s\r\nAccess-Control-Request-Method: POST\r\n"
                                         "Access-Control-Request-Headers: content-type, authorization\r\n";

static reply preflight(const server *sv, const char *origin)
{
    char h[512];
    snprintf(h, sizeof h, PREFLIGHT_FMT, origin);
    return req(sv, "OPTIONS", "/sdapi/v1/img2img", NULL, h);
}

static int header_is(const reply *r, const char *name, const char *want)
{
    char v[512];
    return want ? reply_header(r, name, v, sizeof v) && !strcmp(v, want) : !reply_header(r, name, v, sizeof v);
}

TEST(preflight_of_allowed_origins)
{
    const char *allowed[] = {"http://a.example", "http://b.example:8080", "https://abc.test"};
    for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++) {
        reply r = preflight(&sv_cors, allowed[i]); /* no credentials: the middleware answers before auth */
        CHECK_MSG(r.status == 200 && r.body && !strcmp(r.body, "OK"), "%s -> %d %s", allowed[i], r.status, r.body);
        CHECK(header_is(&r, "Access-Control-Allow-Origin", allowed[i]));
        CHECK(header_is(&r, "Access-Control-Allow-Credentials", "true"));
        CHECK(header_is(&r, "Access-Control-Allow-Headers", "content-type, authorization"));
        CHECK(header_is(&r, "Access-Control-Allow-Methods", "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"));
        CHECK(header_is(&r, "Access-Control-Max-Age", "600"));
        CHECK(header_is(&r, "Vary", "Origin"));
        reply_free(&r);
    }
}

TEST(preflight_of_other_origins_is_refused)
{
    /* the regex must match the whole origin; list entries match exactly */
    const char *refused[] = {"https://abc.test.evil.com", "http://abc.test", "http://c.example",
                             "http://a.example.com", "http://b.example"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        reply r = preflight(&sv_cors, refused[i]);
        CHECK_MSG(r.status == 400 && r.body && !strcmp(r.body, "Disallowed CORS origin"), "%s -> %d %s", refused[i],
                  r.status, r.body);
        CHECK(header_is(&r, "Access-Control-Allow-Origin", NULL));
        reply_free(&r);
    }
}

TEST(responses_carry_the_allowed_origin)
{
    reply r = req(&sv_cors, "GET", "/sdapi/v1/progress", NULL,
                            "Origin: http://a.example\r\nAuthorization: Basic dTpw\r\n"); /* u:p */
    CHECK_MSG(r.status == 200, "%d", r.status);
    CHECK(header_is(&r, "Access-Control-Allow-Origin", "http://a.example"));
    CHECK(header_is(&r, "Access-Control-Allow-Credentials", "true"));
    CHECK(header_is(&r, "Vary", "Origin"));
    reply_free(&r);
    /* errors too (the browser must be able to read a 401 or 422) */
    r = req(&sv_cors, "GET", "/sdapi/v1/progress", NULL, "Origin: https://x.test\r\n");
    CHECK(r.status == 401 && header_is(&r, "Access-Control-Allow-Origin", "https://x.test"));
    reply_free(&r);
    r = req(&sv_cors, "GET", "/sdapi/v1/progress", NULL, "Origin: http://evil.example\r\nAuthorization: Basic dTpw\r\n");
    CHECK(r.status == 200 && header_is(&r, "Access-Control-Allow-Origin", NULL));
    reply_free(&r);
    r = req(&sv_cors, "GET", "/sdapi/v1/progress", NULL, "Authorization: Basic dTpw\r\n");
    CHECK(r.status == 200 && header_is(&r, "Access-Control-Allow-Origin", NULL));
    reply_free(&r);
}

TEST(no_cors_without_the_flags)
{
    reply r = preflight(&sv_plain, "http://a.example");
    CHECK_MSG(r.status == 405, "OPTIONS without CORS -> %d", r.status);
    CHECK(header_is(&r, "Access-Control-Allow-Origin", NULL));
    reply_free(&r);
    r = req(&sv_plain, "GET", "/sdapi/v1/progress", NULL, "Origin: http://a.example\r\n");
    CHECK(r.status == 200 && header_is(&r, "Access-Control-Allow-Origin", NULL) &&
          header_is(&r, "Access-Control-Allow-Credentials", NULL));
    reply_free(&r);
}

TEST(star_allows_every_origin)
{
    reply r = req(&sv_star, "GET", "/sdapi/v1/progress", NULL, "Origin: http://any.example\r\n");
    CHECK(header_is(&r, "Access-Control-Allow-Origin", "*"));
    reply_free(&r);
    /* with a cookie the origin itself, as credentials forbid "*" */
    r = req(&sv_star, "GET", "/sdapi/v1/progress", NULL, "Origin: http://any.example\r\nCookie: a=b\r\n");
    CHECK(header_is(&r, "Access-Control-Allow-Origin", "http://any.example"));
    reply_free(&r);
    r = preflight(&sv_star, "http://any.example");
    CHECK(r.status == 200 && header_is(&r, "Access-Control-Allow-Origin", "http://any.example"));
    reply_free(&r);
}

TEST(a_bad_regex_stops_the_server)
{
    char out[1200], cmd[1400];
    snprintf(out, sizeof out, "%s/bad_regex.txt", test_tmpdir());
    snprintf(cmd, sizeof cmd, "'%s' serve --port 0 --cors-allow-origins-regex 'http://(a'", test_mend_bin());
    CHECK(test_run(cmd, out) != 0);
    char *text = test_read_file(out, NULL);
    CHECK_MSG(text && strstr(text, "--cors-allow-origins-regex"), "message: %s", text ? text : "(none)");
    free(text);
}

TEST(server_stop_routes_with_the_flag)
{
    reply r = http(&sv_cors, "GET", "/openapi.json", NULL);
    CHECK(r.status == 401); /* auth covers it too */
    reply_free(&r);
    r = req(&sv_cors, "GET", "/openapi.json", NULL, "Authorization: Basic dTpw\r\n");
    CHECK(get(get(r.json, "paths"), "/sdapi/v1/server-kill") != NULL);
    reply_free(&r);
    r = req(&sv_cors, "POST", "/sdapi/v1/server-restart", "{}", "Authorization: Basic dTpw\r\n");
    CHECK_MSG(r.status == 501, "server-restart -> %d", r.status);
    reply_free(&r);
    r = req(&sv_cors, "POST", "/sdapi/v1/server-kill", "{}", "Authorization: Basic dTpw\r\n");
    CHECK_MSG(r.status == 200 && r.body && !strcmp(r.body, "Stopping."), "server-kill -> %d %s", r.status, r.body);
    reply_free(&r);
    int status = -1, gone = 0;
    for (int i = 0; i < 100 && !gone; i++) { /* up to 10 s */
        gone = waitpid(sv_cors.pid, &status, WNOHANG) == sv_cors.pid;
        if (!gone)
            usleep(100 * 1000);
    }
    CHECK_MSG(gone && WIFEXITED(status) && WEXITSTATUS(status) == 0, "the server did not stop cleanly");
    if (gone)
        sv_cors.pid = 0;
}

int main(void)
{
    const char *cors[] = {"--cors-allow-origins", "http://a.example,http://b.example:8080",
                          "--cors-allow-origins-regex", "https://[a-z]+\\.test", "--api-auth", "u:p",
                          "--api-server-stop", NULL};
    const char *star[] = {"--cors-allow-origins", "*", NULL};
    int up = start_server(&sv_cors, cors) & start_server(&sv_plain, NULL) & start_server(&sv_star, star);
    CHECK_MSG(up, "a server did not start");
    if (up) {
        RUN(preflight_of_allowed_origins);
        RUN(preflight_of_other_origins_is_refused);
        RUN(responses_carry_the_allowed_origin);
        RUN(no_cors_without_the_flags);
        RUN(star_allows_every_origin);
        RUN(a_bad_regex_stops_the_server);
        RUN(server_stop_routes_with_the_flag);
    }
    stop_server(&sv_cors);
    stop_server(&sv_plain);
    stop_server(&sv_star);
    return test_summary();
}
