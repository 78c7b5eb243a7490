/* `mend serve`: the A1111-compatible HTTP API (spec/a1111-api.md).
 *
 * Layout: http.c (libmicrohttpd glue: epoll thread pool, connection and body
 * limits, the handler pool for requests that block, X-Process-Time),
 * auth.c (HTTP Basic auth), routes.c (path -> handler), json_req.c (pydantic-v1
 * style lenient field coercion and FastAPI/A1111 error bodies), b64.c,
 * models.c (checkpoint listing and name resolution), jobs.c (FIFO queue,
 * one worker thread that owns the model, progress state), h_generate.c
 * (txt2img / img2img), h_info.c (progress, options, listings, png-info),
 * static.c (the page). Live previews come from include/mend/preview.h. */
#ifndef MEND_SERVER_H
#define MEND_SERVER_H

#include <pthread.h>
#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "mend/err.h"
#include "mend/image.h"
#include "mend/mend.h"
#include "mend/model.h"
#include "mend/preview.h"
#include "mend/scripts.h"
#include "mend/styles.h"

/* Defaults of mend serve's connection flags (A1111 has none of these). */
#define SRV_MAX_BODY ((size_t)64 << 20)  /* --max-body */
#define SRV_MAX_CONNECTIONS 4096          /* --max-connections */
#define SRV_MAX_PER_IP 256                /* --max-connections-per-ip */
#define SRV_TIMEOUT_S 30                  /* --timeout: idle seconds on a connection */
#define SRV_MAX_STYLES_FILES 64           /* --styles-file, repeatable */

typedef struct srv_limits {
    size_t max_body;          /* bytes; 413 above */
    unsigned max_connections; /* in all */
    unsigned max_per_ip;      /* 0: no per-address limit */
    unsigned timeout_s;       /* a connection idle this long (headers, body, keep-alive) is closed */
} srv_limits;

/* ---------------- CORS (cors.c) ---------------- */

/* A1111's --cors-allow-origins / --cors-allow-origins-regex with
 * Starlette's CORSMiddleware semantics (methods and headers: all,
 * credentials allowed). Neither flag: no CORS headers at all. */
typedef struct srv_cors {
    const char *origins; /* comma list, or NULL; "*" allows every origin */
    const char *regex_text;
    int has_regex;
    regex_t regex; /* compiled REG_EXTENDED, matched against the whole origin */
} srv_cors;

typedef struct srv_header {
    const char *name, *value;
} srv_header;
#define SRV_CORS_MAX_HEADERS 6

mend_status srv_cors_init(srv_cors *c, const char *origins, const char *regex, mend_err *err);
void srv_cors_free(srv_cors *c);
int srv_cors_allowed(const srv_cors *c, const char *origin);
/* A preflight (OPTIONS with Origin and Access-Control-Request-Method):
 * 1 and status/body/out filled when CORS is on, else 0. */
int srv_cors_preflight(const srv_cors *c, const char *method, const char *origin, const char *req_method,
                       const char *req_headers, int *status, const char **body, srv_header *out, int *nout);
/* Headers for an ordinary response to a request with this Origin (may be NULL). */
int srv_cors_headers(const srv_cors *c, const char *origin, int has_cookie, srv_header *out);

/* ---------------- responses (http.c) ---------------- */

typedef struct srv_response {
    int status;
    char *body;               /* malloc'd JSON text */
    const char *content_type; /* default application/json */
} srv_response;

/* Takes ownership of json (deletes it). */
void srv_reply_json(srv_response *r, int status, cJSON *json);
/* A1111's HTTPException shape: {"error","detail","body","errors"}. */
void srv_reply_error(srv_response *r, int status, const char *error_class, const char *fmt, ...)
    MEND_PRINTF(4, 5);
/* FastAPI's validation shape (422): {"detail":[{"loc","msg","type"}...]}. */
void srv_reply_validation(srv_response *r, cJSON *detail_list);

/* ---------------- checkpoints (models.c) ---------------- */

typedef struct srv_checkpoint {
    char *filename;   /* absolute path */
    char *title;      /* "name.safetensors" (no hash: mend does not hash) */
    char *model_name; /* name without extension */
} srv_checkpoint;

typedef struct srv_models {
    char *dir;           /* --models-dir or NULL */
    char *extra;         /* --model outside the dir, or NULL */
    int count;
    srv_checkpoint *items;
} srv_models;

/* 1 when s ends with suffix (file extensions of the folders listed). */
int srv_ends_with(const char *s, const char *suffix);
/* Lists the checkpoints; a file in the folder that is not a readable
 * checkpoint is left out with a warning on stderr naming it. */
mend_status srv_models_scan(srv_models *m, mend_err *err);
void srv_models_free(srv_models *m);
/* Resolves a client's name (title, file name with or without extension,
 * model name). Names with path separators or ".." are MEND_E_ARG; unknown
 * names MEND_E_IO (-> 404). */
mend_status srv_models_find(const srv_models *m, const char *name, const srv_checkpoint **out, mend_err *err);

/* ---------------- jobs (jobs.c) ---------------- */

typedef enum srv_job_kind { SRV_JOB_GENERATE, SRV_JOB_LOAD_MODEL, SRV_JOB_UNLOAD_MODEL, SRV_JOB_SET_VAE } srv_job_kind;

typedef struct srv_job {
    srv_job_kind kind;
    /* generate */
    const char *name; /* "txt2img" / "img2img" (progress state.job) */
    const char *task_id; /* force_task_id, or NULL: one is made (progress current_task) */
    mend_gen_params params;
    mend_gen_inputs inputs;
    mend_gen_output out; /* all iterations together */
    const cJSON *override_settings; /* the request's (borrowed), or NULL */
    int restore_settings;           /* override_settings_restore_afterwards */
    int sd_upscale;                 /* run A1111's "SD upscale" script with `upscale` */
    mend_sd_upscale upscale;
    /* load model */
    const char *model_path;
    /* set VAE: the sd_vae value to load (and to set in the options once it loaded) */
    const char *vae_option;
    /* result */
    mend_status status;
    mend_err err;
    char *model_title; /* title of the model the job ran with (malloc'd) */
    int inpainting_model; /* the model has a 9-channel UNet */
    int done;
    struct srv_job *next;
} srv_job;

typedef struct srv_progress_state {
    int job_count; /* 0 idle; -1 starting */
    int job_no, sampling_step, sampling_steps;
    int interrupted, skipped;
    mend_stop stop; /* the same requests, polled inside the UNet and VAE passes */
    const char *job;
    char job_timestamp[16];
    char current_task[80]; /* "" when idle */
    unsigned task_serial;
    double started;
    mend_image preview; /* latest x0 preview (RGB), width 0 when none */
    int preview_serial;
} srv_progress_state;

/* ---------------- VAE files (vae.c) ---------------- */

/* A1111's VAE list (sd_vae.refresh_vae_list): *.safetensors, *.pt and *.ckpt
 * of --vae-dir and *.vae.{safetensors,pt,ckpt} of --models-dir, subfolders
 * too, by file name (a later file of the same name replaces the earlier). */
typedef struct srv_vae_file {
    char *name;     /* the file name: what sd_vae names */
    char *filename; /* absolute path */
} srv_vae_file;

typedef struct srv_vaes {
    int count;
    srv_vae_file *items;
} srv_vaes;

/* The command line as GET /sdapi/v1/cmd-flags shows it. */
typedef struct srv_flags {
    const char *model, *models_dir, *taesd;
    int port, listen, threads, api_server_stop;
} srv_flags;

typedef struct srv_server {
    /* configuration */
    srv_flags flags;
    srv_cors cors;
    const char *vocab;
    const char *outputs;
    const char *auth; /* "user:pass[,user2:pass2]" or NULL */
    const char *styles_files[SRV_MAX_STYLES_FILES]; /* every --styles-file; none: styles.csv of the working directory */
    int n_styles_files;
    int threads;
    mend_preview_taesd *taesd; /* live previews with the TAESD decoder when given (--taesd), else "Approx cheap";
                                  also the final decoder when sd_vae_decode_method is TAESD */
    const char *vae_dir;       /* --vae-dir (models/VAE) */
    const char *vae_forced;    /* --vae FILE: A1111's --vae-path, before any sd_vae */
    srv_vaes vaes;             /* under lock */
    /* the model: only the worker touches `model`; titles under `lock` */
    mend_sd_model *model;
    char *model_title, *model_path;
    srv_models models;
    /* options (GET/POST /options), under lock */
    cJSON *options;
    /* queue */
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    srv_job *head, *tail;
    int stopping;
    pthread_t worker;
    srv_progress_state prog;
} srv_server;

mend_status srv_init(srv_server *s, mend_err *err);
int srv_start_worker(srv_server *s); /* 0 when the thread cannot start */
void srv_shutdown(srv_server *s);
/* Queues the job and blocks until the worker has run it. */
void srv_run_job(srv_server *s, srv_job *j);
/* Loads a model synchronously in the calling thread (startup). */
mend_status srv_load_model(srv_server *s, const char *path, mend_err *err);

/* ---------------- override_settings (overrides.c) ---------------- */

/* Sets a request's override_settings in the options; returns the values
 * they replaced (to restore), or NULL when it changed nothing. */
cJSON *srv_options_override(srv_server *s, const cJSON *override_settings);
/* Puts the stored values back and deletes them (NULL: nothing). */
void srv_options_restore(srv_server *s, cJSON *stored);
/* Loads the checkpoint the sd_model_checkpoint option names when it is not
 * the loaded one (worker thread). */
mend_status srv_ensure_model(srv_server *s, mend_err *err);

/* ---------------- VAE choice (vae.c) ---------------- */

/* Rescans the VAE files (caller holds the lock). */
mend_status srv_vaes_scan(srv_server *s, mend_err *err);
void srv_vaes_free(srv_vaes *v);
/* v (an sd_vae value from `where`: options or override_settings) must be
 * "Automatic", "None" or a listed file name; else r gets the error (400 not
 * a string, 404 unknown) and 0 is returned. */
int srv_check_vae_value(srv_server *s, const cJSON *v, const char *where, srv_response *r);
/* The VAE the sd_vae option (and --vae) means for model m of checkpoint
 * ckpt, loaded into m when it is not the one in use (A1111's
 * reload_vae_weights); srv_ensure_vae: for the loaded model (worker). */
mend_status srv_vae_apply(srv_server *s, mend_sd_model *m, const char *ckpt, mend_err *err);
mend_status srv_ensure_vae(srv_server *s, mend_err *err);
/* Worker: SRV_JOB_SET_VAE. */
void srv_run_set_vae(srv_server *s, srv_job *j);
/* POST /sdapi/v1/options' sd_vae: loaded by the worker, then set; 0 with
 * r filled when the file cannot be used (the option and the VAE stay). */
int srv_set_vae_option(srv_server *s, const cJSON *v, srv_response *r);

/* ---------------- base64 (b64.c) ---------------- */

/* A base64 digit's value (the URL-safe '-' and '_' too), or -1. */
int srv_b64_value(unsigned char c);
/* Decodes standard base64 (padding optional, whitespace skipped). NULL when
 * the text is not base64. */
uint8_t *srv_b64_decode(const char *text, size_t len, size_t *out_len);
char *srv_b64_encode(const uint8_t *data, size_t len);
/* A request image (raw base64 or data URL) -> its file bytes (malloc'd), or
 * NULL with msg filled (URLs are refused, not fetched). */
uint8_t *srv_image_bytes(const char *text, const char *field, size_t *n, char *msg, size_t msg_size);
/* A request image -> decoded image. Returns 1, or 0 (HTTP 400) / -1 (413:
 * over --max-pixels, mend_max_pixels, checked from the header before any
 * pixel is decoded) with msg (the A1111 detail) filled. */
int srv_decode_image(const char *text, const char *field, mend_image *out, char *msg, size_t msg_size);
/* PNG with an optional "parameters" chunk, as base64 (malloc'd) or NULL. */
char *srv_png_b64(const mend_image *img, const char *parameters);
/* The same in A1111's samples_format: PNG text chunk, or JPEG/WebP with EXIF. */
char *srv_image_b64(const mend_image *img, const char *parameters, mend_image_format format);
/* The samples_format option ("png", "jpg", "jpeg" or "webp"; anything else
 * is PNG): a request's override_settings (may be NULL) first, else the
 * server's options (/sdapi/v1/options, read under the lock). */
mend_image_format srv_samples_format(srv_server *s, const cJSON *override_settings);
/* *path (A1111's NNNNN-SEED.png naming) with the format's extension. */
mend_status srv_path_for_format(char **path, mend_image_format format, mend_err *err);

/* ---------------- img2img images (gen_images.c) ---------------- */

#define SRV_MAX_INIT_IMAGES 64 /* the batch size's upper end */

typedef struct srv_gen_images {
    mend_image init[SRV_MAX_INIT_IMAGES], mask;
    int n;
} srv_gen_images;

/* init_images (at most batch_size when several: A1111's init()) and the
 * mask (may be NULL) decoded into g and set in `in`; 0 after filling resp
 * (404 none, 422 too many, 400/413 an image). Free g with
 * srv_gen_images_free whatever it returns. */
int srv_decode_gen_images(const cJSON *body, int batch_size, const char *mask, srv_gen_images *g,
                          mend_gen_inputs *in, srv_response *resp);
void srv_gen_images_free(srv_gen_images *g);

/* ---------------- lenient fields (json_req.c) ---------------- */

typedef enum srv_ftype { SRV_INT, SRV_INT64, SRV_FLOAT, SRV_BOOL, SRV_STR, SRV_STR_LIST, SRV_DICT, SRV_ANY } srv_ftype;

/* Coerces v as pydantic v1 would for the type. On failure appends a FastAPI
 * error entry for loc ["body", name] to errors and returns 0. Strings are
 * returned as malloc'd copies in *(char **)out. */
int srv_coerce(const cJSON *v, srv_ftype t, const char *name, void *out, cJSON *errors);
/* Appends one FastAPI error entry (loc ["body", name]) to errors. */
void srv_add_field_error(cJSON *errors, const char *name, const char *msg, const char *type);
/* JSON parse with a FastAPI-shaped error. NULL + filled response on failure. */
cJSON *srv_parse_body(const char *body, size_t len, int need_object, srv_response *r);

/* ---------------- preview (include/mend/preview.h) ---------------- */

static inline mend_status srv_latent_preview(const float *latent, int batch_index, int h, int w, mend_image *out,
                                             mend_err *err)
{
    return mend_preview_cheap(latent, batch_index, h, w, out, err);
}

static inline mend_status srv_taesd_preview(const mend_preview_taesd *t, const float *latent, int batch_index, int h,
                                            int w, mend_image *out, mend_err *err)
{
    return mend_preview_taesd_decode(t, latent, batch_index, h, w, out, err);
}

/* ---------------- handlers ---------------- */

/* One request as the table-driven handlers see it. */
typedef struct srv_call {
    const char *method;
    const char *body;
    size_t len;
} srv_call;
typedef void (*srv_handler)(srv_server *s, const srv_call *c, srv_response *r);

/* The routes (routes.c), for /openapi.json: index i < srv_route_count(). */
typedef struct srv_route_info {
    const char *path, *methods; /* "GET", "POST" or "GET POST" */
    const char *summary;
} srv_route_info;
int srv_route_count(const srv_server *s);
srv_route_info srv_route_at(const srv_server *s, int i);

/* h_misc.c: listings of what mend has (A1111's shapes), memory, cmd-flags,
 * interrogate, checkpoint unload/reload, server stop */
void h_upscalers(srv_server *s, const srv_call *c, srv_response *r);
void h_latent_upscale_modes(srv_server *s, const srv_call *c, srv_response *r);
void h_empty_list(srv_server *s, const srv_call *c, srv_response *r);
void h_null(srv_server *s, const srv_call *c, srv_response *r);
void h_embeddings(srv_server *s, const srv_call *c, srv_response *r);
void h_refresh_embeddings(srv_server *s, const srv_call *c, srv_response *r);
void h_scripts(srv_server *s, const srv_call *c, srv_response *r);
void h_cmd_flags(srv_server *s, const srv_call *c, srv_response *r);
void h_memory(srv_server *s, const srv_call *c, srv_response *r);
void h_interrogate(srv_server *s, const srv_call *c, srv_response *r);
void h_unload_checkpoint(srv_server *s, const srv_call *c, srv_response *r);
void h_reload_checkpoint(srv_server *s, const srv_call *c, srv_response *r);
void h_server_stop(srv_server *s, const srv_call *c, srv_response *r);
void h_server_restart(srv_server *s, const srv_call *c, srv_response *r);
/* vae.c: the VAE files (A1111's shape) and their rescan */
void h_sd_vae(srv_server *s, const srv_call *c, srv_response *r);
void h_refresh_vae(srv_server *s, const srv_call *c, srv_response *r);
/* styles.c: the styles file (--styles-file, else styles.csv of the working directory) */
void h_prompt_styles(srv_server *s, const srv_call *c, srv_response *r);
/* The styles file's styles (none when it does not exist). */
mend_status srv_styles_load(const srv_server *s, mend_styles *db, mend_err *err);
/* A request's `styles` (a JSON list of names, or NULL) applied to its
 * prompts: *prompt_out and *negative_out malloc'd, both NULL when it names
 * none. An unknown name is MEND_E_ARG naming it. */
mend_status srv_apply_styles(const srv_server *s, const cJSON *names, const char *prompt, const char *negative,
                             char **prompt_out, char **negative_out, mend_err *err);
/* h_extras.c */
void h_extra_single_image(srv_server *s, const srv_call *c, srv_response *r);
void h_extra_batch_images(srv_server *s, const srv_call *c, srv_response *r);
/* openapi.c */
void h_openapi(srv_server *s, const srv_call *c, srv_response *r);
void h_docs(srv_server *s, const srv_call *c, srv_response *r);

/* 1 for the routes that may wait on the worker or decode images (the POSTs
 * but /interrupt and /skip): http.c runs them off its polling threads. */
int srv_route_may_block(const srv_server *s, const char *method, const char *url);
/* --api-auth check of an Authorization header value (auth.c): 1 when creds
 * is NULL or the header carries one of them, byte for byte. */
int srv_auth_check(const char *creds, const char *header, size_t header_len);
void srv_route(srv_server *s, const char *method, const char *url, const char *query_skip_image, const char *body,
               size_t len, srv_response *r);
void h_generate(srv_server *s, int img2img, const char *body, size_t len, srv_response *r);
void h_progress(srv_server *s, int skip_image, srv_response *r);
void h_interrupt(srv_server *s, int skip, srv_response *r);
void h_options_get(srv_server *s, srv_response *r);
void h_options_post(srv_server *s, const char *body, size_t len, srv_response *r);
void h_sd_models(srv_server *s, srv_response *r);
void h_refresh_checkpoints(srv_server *s, srv_response *r);
void h_samplers(srv_response *r);
void h_schedulers(srv_response *r);
void h_png_info(const srv_server *s, const char *body, size_t len, srv_response *r);
void h_loras(srv_response *r);         /* h_networks.c */
void h_refresh_loras(srv_response *r);
/* GET / and /web/NAME: the embedded page (static.c). 1 when r was filled. */
int srv_static(const char *method, const char *url, srv_response *r);
/* Switches the model via the worker; fills r with an error and returns 0 on failure. */
int srv_switch_model(srv_server *s, const char *name, srv_response *r);

/* ---------------- http (http.c) ---------------- */

typedef struct srv_http srv_http;
srv_http *srv_http_start(srv_server *s, int port, int listen_all, const srv_limits *lim, mend_err *err);
int srv_http_port(const srv_http *h); /* the bound port (for --port 0) */
void srv_http_stop(srv_http *h);

#endif
