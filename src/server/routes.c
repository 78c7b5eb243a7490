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

/* The routes added since: one line each, handler and all. */
typedef struct call_route {
    const char *path, *methods;
    srv_handler fn;
    const char *summary; /* /openapi.json */
} call_route;

static const call_route call_routes[] = {
    {"/sdapi/v1/extra-single-image", "POST", h_extra_single_image, "Upscale one image (None, Lanczos, Nearest)"},
    {"/sdapi/v1/extra-batch-images", "POST", h_extra_batch_images, "Upscale a list of images"},
    {"/sdapi/v1/upscalers", "GET", h_upscalers, "Upscalers that extras and hires fix can run"},
    {"/sdapi/v1/latent-upscale-modes", "GET", h_latent_upscale_modes, "Latent upscale modes"},
    {"/sdapi/v1/sd-modules", "GET", h_empty_list, "Text encoder / VAE modules (none apart from the checkpoint)"},
    {"/sdapi/v1/sd-vae", "GET", h_sd_vae, "VAE files of --vae-dir (and NAME.vae.* of --models-dir)"},
    {"/sdapi/v1/refresh-vae", "POST", h_refresh_vae, "Rescan VAE files"},
    {"/sdapi/v1/hypernetworks", "GET", h_empty_list, "Hypernetworks (none)"},
    {"/sdapi/v1/face-restorers", "GET", h_empty_list, "Face restorers (none)"},
    {"/sdapi/v1/realesrgan-models", "GET", h_empty_list, "RealESRGAN models (none)"},
    {"/sdapi/v1/prompt-styles", "GET", h_prompt_styles, "Styles of styles.csv in the working directory"},
    {"/sdapi/v1/embeddings", "GET", h_embeddings, "Textual inversion embeddings"},
    {"/sdapi/v1/refresh-embeddings", "POST", h_refresh_embeddings, "Rescan embeddings"},
    {"/sdapi/v1/cmd-flags", "GET", h_cmd_flags, "The command line under A1111's flag names"},
    {"/sdapi/v1/memory", "GET", h_memory, "RAM use of the process (and CUDA: unavailable)"},
    {"/sdapi/v1/scripts", "GET", h_scripts, "Scripts of txt2img and img2img"},
    {"/sdapi/v1/script-info", "GET", h_empty_list, "Script arguments"},
    {"/sdapi/v1/extensions", "GET", h_empty_list, "Extensions (none)"},
    {"/sdapi/v1/interrogate", "POST", h_interrogate, "Caption an image (no interrogator in mend)"},
    {"/sdapi/v1/unload-checkpoint", "POST", h_unload_checkpoint, "Free the loaded checkpoint"},
    {"/sdapi/v1/reload-checkpoint", "POST", h_reload_checkpoint, "Load the unloaded checkpoint again"},
    {"/openapi.json", "GET", h_openapi, "This schema"},
    {"/docs", "GET", h_docs, "The schema as a page"},
};
#define N_CALL_ROUTES ((int)(sizeof call_routes / sizeof *call_routes))

/* Only with --api-server-stop, as in A1111 (404 without it). */
static const call_route stop_routes[] = {
    {"/sdapi/v1/server-kill", "POST", h_server_stop, "Stop the server"},
    {"/sdapi/v1/server-restart", "POST", h_server_restart, "Restart (501: mend cannot restart itself)"},
    {"/sdapi/v1/server-stop", "POST", h_server_stop, "Stop the server"},
};
#define N_STOP_ROUTES ((int)(sizeof stop_routes / sizeof *stop_routes))

static const char *const summaries[] = {
    [R_TXT2IMG] = "Text to image",
    [R_IMG2IMG] = "Image to image and inpainting",
    [R_PROGRESS] = "Progress of the running job",
    [R_INTERRUPT] = "Interrupt the running job",
    [R_SKIP] = "Skip the current batch",
    [R_OPTIONS] = "Settings",
    [R_SD_MODELS] = "Checkpoints",
    [R_REFRESH] = "Rescan checkpoints",
    [R_SAMPLERS] = "Samplers",
    [R_SCHEDULERS] = "Schedule types",
    [R_PNG_INFO] = "Read the infotext of an image",
    [R_PARAMS] = "mend's parameter table",
    [R_LORAS] = "LoRA networks of --lora-dir",
    [R_REFRESH_LORAS] = "Rescan LoRA networks",
};
#define N_SUMMARIES (sizeof summaries / sizeof *summaries)

static int n_routes(void)
{
    return (int)(sizeof routes / sizeof *routes);
}

int srv_route_count(const srv_server *s)
{
    return n_routes() + N_CALL_ROUTES + (s->flags.api_server_stop ? N_STOP_ROUTES : 0);
}

srv_route_info srv_route_at(const srv_server *s, int i)
{
    (void)s;
    if (i < n_routes())
        return (srv_route_info){routes[i].path, routes[i].methods,
                                (size_t)routes[i].id < N_SUMMARIES ? summaries[routes[i].id] : NULL};
    i -= n_routes();
    const call_route *c = i < N_CALL_ROUTES ? &call_routes[i] : &stop_routes[i - N_CALL_ROUTES];
    return (srv_route_info){c->path, c->methods, c->summary};
}

static int same_path(const char *path, const char *url, size_t ulen)
{
    return strlen(path) == ulen && !strncmp(path, url, ulen);
}

static size_t url_len(const char *url)
{
    size_t ulen = strlen(url);
    return ulen > 1 && url[ulen - 1] == '/' ? ulen - 1 : ulen;
}

static const call_route *find_call_route(const srv_server *s, const char *url)
{
    size_t ulen = url_len(url);
    for (int i = 0; i < N_CALL_ROUTES; i++)
        if (same_path(call_routes[i].path, url, ulen))
            return &call_routes[i];
    for (int i = 0; s->flags.api_server_stop && i < N_STOP_ROUTES; i++)
        if (same_path(stop_routes[i].path, url, ulen))
            return &stop_routes[i];
    return NULL;
}

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
    size_t ulen = url_len(url);
    for (int i = 0; i < n_routes(); i++)
        if (same_path(routes[i].path, url, ulen))
            return &routes[i];
    return NULL;
}

int srv_route_may_block(const srv_server *s, const char *method, const char *url)
{
    const route *rt = find_route(url);
    const call_route *cr = rt ? NULL : find_call_route(s, url);
    if (cr) /* the POSTs here decode images or wait on the worker */
        return !strcmp(method, "POST") && method_allowed(cr->methods, method);
    return rt && !strcmp(method, "POST") && method_allowed(rt->methods, method) && rt->id != R_INTERRUPT &&
           rt->id != R_SKIP;
}

static void reply_detail(srv_response *r, int status, const char *detail)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "detail", detail);
    srv_reply_json(r, status, o);
}

/* 1 when the url is one of call_routes (r filled). */
static int route_call(srv_server *s, const char *method, const char *url, const char *body, size_t len,
                      srv_response *r)
{
    const call_route *cr = find_call_route(s, url);
    if (!cr)
        return 0;
    if (!method_allowed(cr->methods, method)) {
        reply_detail(r, 405, "Method Not Allowed");
        return 1;
    }
    srv_call c = {method, body, len};
    cr->fn(s, &c, r);
    return 1;
}

void srv_route(srv_server *s, const char *method, const char *url, const char *query_skip_image, const char *body,
               size_t len, srv_response *r)
{
    const route *rt = find_route(url);
    if (!rt && route_call(s, method, url, body, len, r))
        return;
    if (!rt && srv_static(method, url, r)) /* the embedded web page (static.c) */
        return;
    if (!rt) {
        reply_detail(r, 404, "Not Found");
        return;
    }
    if (!method_allowed(rt->methods, method)) {
        reply_detail(r, 405, "Method Not Allowed");
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
    case R_PNG_INFO: h_png_info(s, body, len, r); break;
    case R_PARAMS: h_params(r); break;
    case R_LORAS: h_loras(r); break;
    case R_REFRESH_LORAS: h_refresh_loras(r); break;
    }
}
