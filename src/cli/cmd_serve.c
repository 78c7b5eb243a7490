/* `mend serve`: the A1111-compatible HTTP API (/sdapi/v1/...) on one
 * machine: checkpoints from --model / --models-dir, one worker thread
 * running jobs in order, loopback only unless --listen. Prints
 * "mend serve: listening on http://HOST:PORT" once it answers. */
#include "cli/cli.h"
#include "server/server.h"

#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

static const char *serve_usage =
    "usage: mend serve [--model PATH] [--models-dir DIR] [--vocab PATH] [--taesd PATH] [--port 7860] [--listen]\n"
    "                  [--lora-dir DIR] [--embeddings-dir DIR] [--vae FILE] [--vae-dir DIR]\n"
    "                  [--api-auth user:pass[,user2:pass2]] [--outputs DIR] [--threads N]\n"
    "                  [--max-body SIZE] [--max-connections N] [--max-connections-per-ip N] [--timeout S]\n"
    "                  [--cors-allow-origins LIST] [--cors-allow-origins-regex RE] [--api-server-stop]\n"
    "                  [--max-pixels N] [--styles-file FILE]\n"
    "\n"
    "  --model PATH       checkpoint loaded at start (else the first of --models-dir)\n"
    "  --taesd PATH       TAESD decoder weights (taesd_decoder.safetensors|.pth, or a folder holding it) for\n"
    "                     full-resolution live previews (else a cheap latent->RGB projection), and the final\n"
    "                     decoder when the option sd_vae_decode_method is TAESD\n"
    "  --models-dir DIR   checkpoints (*.safetensors, diffusers folders) that sd_model_checkpoint can switch to\n"
    "  --vocab PATH       CLIP vocabulary for models without a tokenizer/ folder\n"
    "  --lora-dir DIR     LoRA/LyCORIS networks for <lora:NAME:MULT> prompt tags (models/Lora; alias\n"
    "                     --lora-model-dir)\n"
    "  --embeddings-dir DIR  textual-inversion embeddings named in prompts by file stem (embeddings)\n"
    "  --vae FILE         a separate VAE for every checkpoint, whatever sd_vae says (A1111's --vae-path, also\n"
    "                     accepted)\n"
    "  --vae-dir DIR      VAE files that the option sd_vae names (models/VAE; GET /sdapi/v1/sd-vae lists them)\n"
    "  --port N           TCP port (7860; 0 = any free port, printed at start)\n"
    "  --listen           listen on all interfaces (default: 127.0.0.1 only)\n"
    "  --api-auth U:P     HTTP Basic auth on every route\n"
    "  --outputs DIR      where save_images=true writes (A1111 naming; ./outputs)\n"
    "  --threads N        CPU threads, 0 = all (0)\n"
    "  --max-body SIZE    largest request body, bytes or with K/M/G (64M; 413 above)\n"
    "  --max-connections N         open connections in all (4096, less when the descriptor limit is lower)\n"
    "  --max-connections-per-ip N  open connections from one address (256; 0 = no limit)\n"
    "  --timeout S        seconds a connection may stay idle, headers and body included (30)\n"
    "  --cors-allow-origins LIST     browser origins allowed to call the API, comma separated ('*': any)\n"
    "  --cors-allow-origins-regex RE origins matching this POSIX extended regex (whole origin) too\n"
    "  --api-server-stop  enable POST /sdapi/v1/server-kill, server-stop (and server-restart: 501)\n"
    "  --api, --nowebui   accepted for A1111 command lines (mend serve is always the API)\n"
    "  --styles-file FILE A1111 styles.csv for the `styles` field and /sdapi/v1/prompt-styles (./styles.csv);\n"
    "                     repeatable, * or ? in the file name match its folder (A1111's several files)\n"
    CLI_MAX_PIXELS_HELP
    "Endpoints: A1111 1.10's /sdapi/v1 routes (but training); GET /openapi.json lists them, /docs shows it.\n";

/* serve's options (copied per run: cli_parse fills in their values) */
static const cli_opt serve_opts[] = {
    {"model", 1, NULL},          {"models-dir", 1, NULL},      {"vocab", 1, NULL},
    {"port", 1, NULL},           {"listen", 0, NULL},          {"api-auth", 1, NULL},
    {"outputs", 1, NULL},        {"threads", 1, NULL},         {"taesd", 1, NULL},
    {"help", 0, NULL},           {"max-body", 1, NULL},        {"max-connections", 1, NULL},
    {"max-connections-per-ip", 1, NULL},                       {"timeout", 1, NULL},
    {"lora-dir", 1, NULL},       {"lora-model-dir", 1, NULL},
    {"cors-allow-origins", 1, NULL},                           {"cors-allow-origins-regex", 1, NULL},
    {"api-server-stop", 0, NULL}, {"api", 0, NULL},            {"nowebui", 0, NULL},
    {"max-pixels", 1, NULL},     {"embeddings-dir", 1, NULL},  {"styles-file", 1, NULL},
    {"vae", 1, NULL},            {"vae-path", 1, NULL},        {"vae-dir", 1, NULL},
};

void cli_serve_words(FILE *f)
{
    for (size_t k = 0; k < sizeof serve_opts / sizeof *serve_opts; k++)
        fprintf(f, " --%s", serve_opts[k].name);
}

/* --model must load; without it the first checkpoint of --models-dir that
 * loads is used, and the ones that do not are named and skipped. */
static int start_model(srv_server *s, const char *model)
{
    mend_err err = {0};
    if (model)
        return srv_load_model(s, model, &err) != MEND_OK ? cli_error(&err) : 0;
    for (int i = 0; i < s->models.count; i++) {
        if (srv_load_model(s, s->models.items[i].filename, &err) == MEND_OK)
            return 0;
        fprintf(stderr, "mend serve: skipping %s: %s\n", s->models.items[i].filename, err.msg);
        mend_err_clear(&err);
    }
    fprintf(stderr, "mend serve: no model yet (the folder has no checkpoint that loads); generation answers 503 "
                    "until one is added and chosen\n");
    return 0;
}

/* "64M" -> bytes; 0 when not a size of 1 byte .. 16 GiB. */
static size_t parse_size(const char *t)
{
    char *end;
    unsigned long long v = strtoull(t, &end, 10);
    int shift = *end == 'K' || *end == 'k' ? 10 : *end == 'M' || *end == 'm' ? 20 : *end == 'G' || *end == 'g' ? 30 : 0;
    if (end == t || *t == '-' || (shift && end[1]) || (!shift && *end) || v == 0 || v > (16ull << 30) >> shift)
        return 0;
    return (size_t)(v << shift);
}

/* Each connection is a descriptor: raise the soft limit to the hard one,
 * and keep the connection limit under it (with room for model files and
 * the listening socket). */
static unsigned fit_connections(unsigned want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return want;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    rlim_t room = rl.rlim_cur > 128 ? rl.rlim_cur - 64 : 64;
    if (rl.rlim_cur != RLIM_INFINITY && want > room) {
        fprintf(stderr, "mend serve: --max-connections %u lowered to %u (descriptor limit %llu)\n", want,
                (unsigned)room, (unsigned long long)rl.rlim_cur);
        return (unsigned)room;
    }
    return want;
}

/* --max-body, --max-connections, --max-connections-per-ip, --timeout */
static int get_limits(const cli_opt *o, int n, srv_limits *lim)
{
    int conns, per_ip, timeout;
    const char *mb = cli_get(o, n, "max-body");
    lim->max_body = mb ? parse_size(mb) : SRV_MAX_BODY;
    if (!lim->max_body)
        return cli_errorf("--max-body '%s': expected a size such as 1048576, 512K or 64M (up to 16G)", mb);
    if (!cli_get_int(o, n, "max-connections", SRV_MAX_CONNECTIONS, 1, 1 << 20, &conns) ||
        !cli_get_int(o, n, "max-connections-per-ip", SRV_MAX_PER_IP, 0, 1 << 20, &per_ip) ||
        !cli_get_int(o, n, "timeout", SRV_TIMEOUT_S, 1, 86400, &timeout))
        return 2;
    lim->max_connections = fit_connections((unsigned)conns);
    lim->max_per_ip = (unsigned)per_ip;
    lim->timeout_s = (unsigned)timeout;
    return 0;
}

static void free_server(srv_server *s)
{
    srv_cors_free(&s->cors);
    srv_models_free(&s->models);
    srv_vaes_free(&s->vaes);
    cJSON_Delete(s->options);
    mend_model_free(s->model);
    free(s->model_title);
    free(s->model_path);
    mend_preview_taesd_free(s->taesd);
}

int cmd_serve(int argc, char **argv)
{
    cli_opt o[sizeof serve_opts / sizeof *serve_opts];
    memcpy(o, serve_opts, sizeof o);
    const int n = (int)(sizeof o / sizeof *o);
    const char *pos[1];
    int npos, port, threads;
    if (cli_parse(argc, argv, o, n, pos, 0, &npos))
        return 2;
    if (cli_get(o, n, "help")) {
        fputs(serve_usage, stdout);
        return 0;
    }
    if (!cli_get_int(o, n, "port", 7860, 0, 65535, &port) || !cli_get_int(o, n, "threads", 0, 0, 1024, &threads))
        return 2;
    srv_limits lim;
    if (get_limits(o, n, &lim) || cli_set_lora_dir(o, n) || cli_set_embeddings_dir(o, n) || !cli_set_max_pixels(o, n))
        return 2;
    const char *auth = cli_get(o, n, "api-auth");
    if (auth && !strchr(auth, ':'))
        return cli_errorf("--api-auth '%s': expected user:password", auth);
    srv_server s = {0};
    s.vocab = cli_get(o, n, "vocab");
    s.outputs = cli_get(o, n, "outputs") ? cli_get(o, n, "outputs") : "outputs";
    s.auth = auth;
    static const char *const styles_opt[] = {"styles-file"};
    if (cli_collect(o, n, argc, argv, styles_opt, 1, s.styles_files, &s.n_styles_files, SRV_MAX_STYLES_FILES))
        return 2;
    s.vae_dir = cli_get(o, n, "vae-dir") ? cli_get(o, n, "vae-dir") : "models/VAE";
    s.vae_forced = cli_get(o, n, "vae") ? cli_get(o, n, "vae") : cli_get(o, n, "vae-path");
    int stale = mend_outputs_clean_temp(s.outputs);
    if (stale)
        fprintf(stderr, "mend serve: removed %d unfinished temporary file(s) from %s\n", stale, s.outputs);
    s.models.dir = (char *)cli_get(o, n, "models-dir");
    s.models.extra = (char *)cli_get(o, n, "model");
    s.flags = (srv_flags){cli_get(o, n, "model"), cli_get(o, n, "models-dir"), cli_get(o, n, "taesd"), port,
                          cli_get(o, n, "listen") != NULL, threads, cli_get(o, n, "api-server-stop") != NULL};
    mend_set_threads(threads);
    mend_err err = {0};
    if (srv_cors_init(&s.cors, cli_get(o, n, "cors-allow-origins"), cli_get(o, n, "cors-allow-origins-regex"), &err) !=
        MEND_OK)
        return cli_error(&err);
    if (cli_get(o, n, "taesd") && mend_preview_taesd_load(cli_get(o, n, "taesd"), &s.taesd, &err) != MEND_OK) {
        srv_cors_free(&s.cors);
        return cli_error(&err);
    }
    if (srv_init(&s, &err) != MEND_OK) {
        mend_preview_taesd_free(s.taesd);
        srv_cors_free(&s.cors);
        return cli_error(&err);
    }
    int rc = start_model(&s, s.models.extra);
    /* signals go to sigwait() below, not to the server threads */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    srv_http *h = NULL;
    if (rc == 0 && !srv_start_worker(&s)) {
        rc = cli_errorf("serve: cannot start the worker thread");
    } else if (rc == 0) {
        h = srv_http_start(&s, port, cli_get(o, n, "listen") != NULL, &lim, &err);
        if (!h)
            rc = cli_error(&err);
        else {
            printf("mend serve: listening on http://%s:%d\n", cli_get(o, n, "listen") ? "0.0.0.0" : "127.0.0.1",
                   srv_http_port(h));
            fflush(stdout);
            int sig;
            sigwait(&set, &sig);
        }
        srv_http_stop(h);
        srv_shutdown(&s);
        mend_preview_taesd_free(s.taesd);
        srv_cors_free(&s.cors);
        return rc;
    }
    free_server(&s);
    return rc;
}
