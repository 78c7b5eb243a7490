/* Path -> handler. Unknown paths get FastAPI's {"detail": "Not Found"}. */
#include "server/server.h"
#include "server/params_api.h"

#include <string.h>

typedef enum route_id {
    R_TXT2IMG, R_IMG2IMG, R_PROGRESS, R_INTERRUPT, R_SKIP, R_OPTIONS, R_SD_MODELS, R_REFRESH, R_SAMPLERS,
    R_SCHEDULERS, R_PNG_INFO, R_PARAMS, R_LORAS, R_REFRESH_LORAS
} route_id;

typedef struct route {
    const char *path;
    const char *methods; /* "GET", "POST" or "GET POST" */
    route_id id;
} route;

static const route routes[] = {
    {"/sdapi/v1/txt2img", "POST", R_TXT2IMG},
    {"/sdapi/v1/img2img", "POST", R_IMG2IMG},
    {"/sdapi/v1/progress", "GET", R_PROGRESS},
    {"/sdapi/v1/interrupt", "POST", R_INTERRUPT},
    {"/sdapi/v1/skip", "POST", R_SKIP},
    {"/sdapi/v1/options", "GET POST", R_OPTIONS},
    {"/sdapi/v1/sd-models", "GET", R_SD_MODELS},
    {"/sdapi/v1/refresh-checkpoints", "POST", R_REFRESH},
    {"/sdapi/v1/samplers", "GET", R_SAMPLERS},
    {"/sdapi/v1/schedulers", "GET", R_SCHEDULERS},
    {"/sdapi/v1/png-info", "POST", R_PNG_INFO},
    {"/sdapi/v1/loras", "GET", R_LORAS},
    {"/sdapi/v1/refresh-loras", "POST", R_REFRESH_LORAS},
    {"/mend/v1/params", "GET", R_PARAMS}, /* the parameter table (the page builds its controls from it) */
};

static int method_allowed(const char *methods, const char *method)
{
    size_t n = strlen(method);
    for (const char *m = methods; (m = strstr(m, method)); m += n)
        if ((m == methods || m[-1] == ' ') && (m[n] == '\0' || m[n] == ' '))
            return 1;
    return 0;
}

static int is_true(const char *v)
{
    return v && (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "1") || !strcmp(v, "yes") ||
                 !strcmp(v, "on"));
}

static const route *find_route(const char *url)
{
    size_t ulen = strlen(url);
    if (ulen > 1 && url[ulen - 1] == '/')
        ulen--;
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
        if (strlen(routes[i].path) == ulen && !strncmp(routes[i].path, url, ulen))
            return &routes[i];
    return NULL;
}

int srv_route_may_block(const char *method, const char *url)
{
    const route *rt = find_route(url);
    return rt && !strcmp(method, "POST") && method_allowed(rt->methods, method) && rt->id != R_INTERRUPT &&
           rt->id != R_SKIP;
}

void srv_route(srv_server *s, const char *method, const char *url, const char *query_skip_image, const char *body,
               size_t len, srv_response *r)
{
    const route *rt = find_route(url);
    if (!rt && srv_static(method, url, r)) /* the embedded web page (static.c) */
        return;
    if (!rt) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "detail", "Not Found");
        srv_reply_json(r, 404, o);
        return;
    }
    if (!method_allowed(rt->methods, method)) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "detail", "Method Not Allowed");
        srv_reply_json(r, 405, o);
        return;
    }
    int post = !strcmp(method, "POST");
    switch (rt->id) {
    case R_TXT2IMG: h_generate(s, 0, body, len, r); break;
    case R_IMG2IMG: h_generate(s, 1, body, len, r); break;
    case R_PROGRESS: h_progress(s, is_true(query_skip_image), r); break;
    case R_INTERRUPT: h_interrupt(s, 0, r); break;
    case R_SKIP: h_interrupt(s, 1, r); break;
    case R_OPTIONS:
        if (post)
            h_options_post(s, body, len, r);
        else
            h_options_get(s, r);
        break;
    case R_SD_MODELS: h_sd_models(s, r); break;
    case R_REFRESH: h_refresh_checkpoints(s, r); break;
    case R_SAMPLERS: h_samplers(r); break;
    case R_SCHEDULERS: h_schedulers(r); break;
    case R_PNG_INFO: h_png_info(body, len, r); break;
    case R_PARAMS: h_params(r); break;
    case R_LORAS: h_loras(r); break;
    case R_REFRESH_LORAS: h_refresh_loras(r); break;
    }
}
