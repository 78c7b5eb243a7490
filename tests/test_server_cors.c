/* `mend serve --cors-allow-origins / --cors-allow-origins-regex` as A1111
 * (Starlette's CORSMiddleware): preflights answered before auth, the
 * allowed origin echoed with credentials, the regex matched against the
 * whole origin, nothing added for other origins or without the flags; a
 * regex that does not compile stops the server with a message. And
 * --api-server-stop: server-kill ends the process, server-restart is 501.
 * Needs no model. */
#include "test.h"

#include "http_client.h"

#include <signal.h>
#include <sys/wait.h>

static int port_cors, port_plain, port_star;
static pid_t pid_cors;

static const char *const PREFLIGHT_FMT = "Origin: %s\r\nAccess-Control-Request-Method: POST\r\n"
                                         "Access-Control-Request-Headers: content-type, authorization\r\n";

static hc_reply preflight(int port, const char *origin)
{
    char h[512];
    snprintf(h, sizeof h, PREFLIGHT_FMT, origin);
    return hc_request(port, "OPTIONS", "/sdapi/v1/img2img", NULL, h);
}

static int header_is(const hc_reply *r, const char *name, const char *want)
{
    char v[512];
    return want ? hc_header(r, name, v, sizeof v) && !strcmp(v, want) : !hc_header(r, name, v, sizeof v);
}

TEST(preflight_of_allowed_origins)
{
    const char *allowed[] = {"http://a.example", "http://b.example:8080", "https://abc.test"};
    for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++) {
        hc_reply r = preflight(port_cors, allowed[i]); /* no credentials: the middleware answers before auth */
        CHECK_MSG(r.status == 200 && r.body && !strcmp(r.body, "OK"), "%s -> %d %s", allowed[i], r.status, r.body);
        CHECK(header_is(&r, "Access-Control-Allow-Origin", allowed[i]));
        CHECK(header_is(&r, "Access-Control-Allow-Credentials", "true"));
        CHECK(header_is(&r, "Access-Control-Allow-Headers", "content-type, authorization"));
        CHECK(header_is(&r, "Access-Control-Allow-Methods", "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"));
        CHECK(header_is(&r, "Access-Control-Max-Age", "600"));
        CHECK(header_is(&r, "Vary", "Origin"));
        hc_free(&r);
    }
}

TEST(preflight_of_other_origins_is_refused)
{
    /* the regex must match the whole origin; list entries match exactly */
    const char *refused[] = {"https://abc.test.evil.com", "http://abc.test", "http://c.example",
                             "http://a.example.com", "http://b.example"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        hc_reply r = preflight(port_cors, refused[i]);
        CHECK_MSG(r.status == 400 && r.body && !strcmp(r.body, "Disallowed CORS origin"), "%s -> %d %s", refused[i],
                  r.status, r.body);
        CHECK(header_is(&r, "Access-Control-Allow-Origin", NULL));
        hc_free(&r);
    }
}

TEST(responses_carry_the_allowed_origin)
{
    hc_reply r = hc_request(port_cors, "GET", "/sdapi/v1/progress", NULL,
                            "Origin: http://a.example\r\nAuthorization: Basic dTpw\r\n"); /* u:p */
    CHECK_MSG(r.status == 200, "%d", r.status);
    CHECK(header_is(&r, "Access-Control-Allow-Origin", "http://a.example"));
    CHECK(header_is(&r, "Access-Control-Allow-Credentials", "true"));
    CHECK(header_is(&r, "Vary", "Origin"));
    hc_free(&r);
    /* errors too (the browser must be able to read a 401 or 422) */
    r = hc_request(port_cors, "GET", "/sdapi/v1/progress", NULL, "Origin: https://x.test\r\n");
    CHECK(r.status == 401 && header_is(&r, "Access-Control-Allow-Origin", "https://x.test"));
    hc_free(&r);
    r = hc_request(port_cors, "GET", "/sdapi/v1/progress", NULL, "Origin: http://evil.example\r\nAuthorization: Basic dTpw\r\n");
    CHECK(r.status == 200 && header_is(&r, "Access-Control-Allow-Origin", NULL));
    hc_free(&r);
    r = hc_request(port_cors, "GET", "/sdapi/v1/progress", NULL, "Authorization: Basic dTpw\r\n");
    CHECK(r.status == 200 && header_is(&r, "Access-Control-Allow-Origin", NULL));
    hc_free(&r);
}

TEST(no_cors_without_the_flags)
{
    hc_reply r = preflight(port_plain, "http://a.example");
    CHECK_MSG(r.status == 405, "OPTIONS without CORS -> %d", r.status);
    CHECK(header_is(&r, "Access-Control-Allow-Origin", NULL));
    hc_free(&r);
    r = hc_request(port_plain, "GET", "/sdapi/v1/progress", NULL, "Origin: http://a.example\r\n");
    CHECK(r.status == 200 && header_is(&r, "Access-Control-Allow-Origin", NULL) &&
          header_is(&r, "Access-Control-Allow-Credentials", NULL));
    hc_free(&r);
}

TEST(star_allows_every_origin)
{
    hc_reply r = hc_request(port_star, "GET", "/sdapi/v1/progress", NULL, "Origin: http://any.example\r\n");
    CHECK(header_is(&r, "Access-Control-Allow-Origin", "*"));
    hc_free(&r);
    /* with a cookie the origin itself, as credentials forbid "*" */
    r = hc_request(port_star, "GET", "/sdapi/v1/progress", NULL, "Origin: http://any.example\r\nCookie: a=b\r\n");
    CHECK(header_is(&r, "Access-Control-Allow-Origin", "http://any.example"));
    hc_free(&r);
    r = preflight(port_star, "http://any.example");
    CHECK(r.status == 200 && header_is(&r, "Access-Control-Allow-Origin", "http://any.example"));
    hc_free(&r);
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
    hc_reply r = hc_get(port_cors, "/openapi.json");
    CHECK(r.status == 401); /* auth covers it too */
    hc_free(&r);
    r = hc_request(port_cors, "GET", "/openapi.json", NULL, "Authorization: Basic dTpw\r\n");
    CHECK(hc_item(hc_item(r.json, "paths"), "/sdapi/v1/server-kill") != NULL);
    hc_free(&r);
    r = hc_request(port_cors, "POST", "/sdapi/v1/server-restart", "{}", "Authorization: Basic dTpw\r\n");
    CHECK_MSG(r.status == 501, "server-restart -> %d", r.status);
    hc_free(&r);
    r = hc_request(port_cors, "POST", "/sdapi/v1/server-kill", "{}", "Authorization: Basic dTpw\r\n");
    CHECK_MSG(r.status == 200 && r.body && !strcmp(r.body, "Stopping."), "server-kill -> %d %s", r.status, r.body);
    hc_free(&r);
    int status = -1, gone = 0;
    for (int i = 0; i < 100 && !gone; i++) { /* up to 10 s */
        gone = waitpid(pid_cors, &status, WNOHANG) == pid_cors;
        if (!gone)
            usleep(100 * 1000);
    }
    CHECK_MSG(gone && WIFEXITED(status) && WEXITSTATUS(status) == 0, "the server did not stop cleanly");
    if (gone)
        pid_cors = 0;
}

int main(void)
{
    const char *cors[] = {"--cors-allow-origins", "http://a.example,http://b.example:8080",
                          "--cors-allow-origins-regex", "https://[a-z]+\\.test", "--api-auth", "u:p",
                          "--api-server-stop", NULL};
    const char *star[] = {"--cors-allow-origins", "*", NULL};
    pid_cors = test_serve_start(cors, &port_cors);
    pid_t plain = test_serve_start(NULL, &port_plain), pstar = test_serve_start(star, &port_star);
    CHECK_MSG(pid_cors > 0 && plain > 0 && pstar > 0, "a server did not start");
    if (pid_cors > 0 && plain > 0 && pstar > 0) {
        RUN(preflight_of_allowed_origins);
        RUN(preflight_of_other_origins_is_refused);
        RUN(responses_carry_the_allowed_origin);
        RUN(no_cors_without_the_flags);
        RUN(star_allows_every_origin);
        RUN(a_bad_regex_stops_the_server);
        RUN(server_stop_routes_with_the_flag);
    }
    test_serve_stop(&pid_cors);
    test_serve_stop(&plain);
    test_serve_stop(&pstar);
    return test_summary();
}
