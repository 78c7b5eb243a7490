/* The parameter table (include/mend/params.h) on the API side: request
 * fields and options coerced as pydantic v1 does, then set and checked by
 * the library (one message format), the `parameters` echo, the options'
 * defaults and GET /mend/v1/params. */
#ifndef MEND_SERVER_PARAMS_API_H
#define MEND_SERVER_PARAMS_API_H

#include "mend/params.h"
#include "server/server.h"

#define SRV_MAX_PARAMS 64

typedef struct srv_param_state {
    char *owned[16]; /* copies of STRING values (p points at them) */
    int nowned;
    unsigned char sent[SRV_MAX_PARAMS]; /* by table index: the request gave the field */
    const mend_param_desc *bad;         /* first value the library refused, or NULL */
    mend_err bad_err;
} srv_param_state;

/* A table entry that is a request field of this endpoint. */
int srv_param_is_field(const mend_param_desc *d, int img2img);

/* Settings (the server's options, a request's override_settings) into p;
 * 0 after a 400 naming `what`. */
int srv_params_apply_settings(const cJSON *settings, const char *what, mend_gen_params *p, srv_param_state *st,
                              srv_response *resp);
/* The request's table fields into p: type errors are appended to errors
 * (FastAPI's list), the first range error goes to st->bad. */
void srv_params_read(const cJSON *body, int img2img, mend_gen_params *p, srv_param_state *st, cJSON *errors);
/* A float field as JSON: the number the user sent (0.6, 7.0), never its
 * float32 rounding (0.6000000238418579). */
cJSON *srv_float_json(float v);
/* A parameter's value as an option's JSON value. */
cJSON *srv_param_json(const mend_param_desc *d, const mend_gen_params *p);
/* Adds the table fields of `parameters` to o. */
void srv_params_echo(cJSON *o, int img2img, const mend_gen_params *p, const srv_param_state *st);
void srv_param_state_free(srv_param_state *st);

/* 422 with loc ["body", api key] and the library's message. */
void srv_reply_param_error(srv_response *resp, const mend_param_desc *d, const char *msg);
/* The table's settings with their API defaults, added to an options object. */
void srv_params_add_options(cJSON *options);
/* An OpenAPI property: type from t, title, default (taken, may be NULL). */
cJSON *srv_schema_property(srv_ftype t, const char *title, cJSON *dflt);
/* The table's request fields of txt2img (img2img = 0) or img2img as
 * OpenAPI properties: type, default, minimum/maximum, enum, description. */
void srv_params_schema(cJSON *props, int img2img);
/* The other request fields (h_generate.c) likewise. */
void srv_generate_schema(cJSON *props, int img2img);
/* What an applied infotext says about the sampler: A1111 takes its
 * Sampler and Schedule type (or DPM++ 2M and Automatic) for a request that
 * names none. NULL when the request has no infotext. */
typedef struct srv_infotext_names {
    const char *sampler, *scheduler;
    /* the settings the infotext changed ({option: value}, as A1111's
     * get_override_settings adds them to override_settings), or NULL;
     * the caller deletes it */
    cJSON *settings;
    /* txt2img: the styles of the styles file found in the text's prompts
     * (a list of names, for a request without `styles`), or NULL; the
     * caller deletes it */
    cJSON *styles;
} srv_infotext_names;
/* The request's `infotext` field into p (req_infotext.c); 0 after a 422
 * naming the field. Call it after the settings, before the fields. */
int srv_apply_infotext(const srv_server *s, const cJSON *body, int img2img, mend_gen_params *p, srv_param_state *st,
                       srv_infotext_names *names, srv_response *resp);
/* GET /mend/v1/params */
void h_params(srv_response *r);

#endif
