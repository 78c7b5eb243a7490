/* mend — the one table of generation parameters (public C API).
 *
 * Every field of mend_gen_params is described exactly once, in the
 * library (src/inpaint/params.c): its C name, A1111 API key, CLI flag and
 * aliases, type, UI and API defaults, range or choices, infotext key and
 * help text. The defaults, the validation, the CLI's options and --help,
 * the server's JSON fields and its GET /mend/v1/params all come from it.
 *
 * Errors use one message format, whoever sets the value:
 *     parameter 'steps': 0 is out of range 1..10000
 *     parameter 'width': 63 is out of range 64..2048 (multiples of 8)
 *     parameter 'inpainting_fill': 'paint' is not one of fill (0), original (1), ...
 *     parameter 'steps': 'abc' is not an integer */
#ifndef MEND_PARAMS_H
#define MEND_PARAMS_H

#include "mend/mend.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mend_param_type {
    MEND_PARAM_INT,    /* int field */
    MEND_PARAM_INT64,  /* int64_t field (seeds) */
    MEND_PARAM_FLOAT,  /* float field */
    MEND_PARAM_BOOL,   /* int field, 0 or 1; choices[0/1] name the two states */
    MEND_PARAM_CHOICE, /* int field: an index into choices */
    MEND_PARAM_STRING  /* const char * field, not owned by the struct */
} mend_param_type;

/* Where a parameter applies (scope). */
enum {
    MEND_SCOPE_ALL = 1,     /* txt2img, img2img and inpaint */
    MEND_SCOPE_IMG2IMG = 2, /* img2img and inpaint */
    MEND_SCOPE_INPAINT = 4, /* inpaint only */
    MEND_SCOPE_TXT2IMG = 8  /* txt2img only (hires fix) */
};

/* Whether parameters of `scope` apply to a job: has_init 0 txt2img, else
 * img2img; inpaint: a mask too. */
int mend_param_scope_applies(int scope, int has_init, int inpaint);

/* Flags. */
enum {
    MEND_PARAM_STRICT_STEP = 1, /* the value must be min + k * step (width, height) */
    MEND_PARAM_SETTING = 2,     /* api_key is an A1111 option (/sdapi/v1/options, override_settings) */
    MEND_PARAM_ALSO_SETTING = 4,/* api_key is a request field and an option (the field wins) */
    MEND_PARAM_API_NAME = 8,    /* CHOICE: the API passes the choice's label, not its index */
    MEND_PARAM_API_INT = 16,    /* BOOL: the API passes 0/1 as an integer (inpainting_mask_invert) */
    MEND_PARAM_API_NULL = 32,   /* the API's default is null: echoed as null unless sent */
    MEND_PARAM_API_CUSTOM = 64, /* the server resolves it itself (sampler and scheduler names) */
    MEND_PARAM_BOTH_AXES = 128, /* sets this int and the next one (mask_blur: x and y) */
    MEND_PARAM_NO_CHECK = 256   /* no range: sampler/scheduler names are checked by their registry */
};

typedef struct mend_param_desc {
    const char *name;        /* C field name, e.g. "steps" (also the JSON key of GET /mend/v1/params) */
    const char *api_key;     /* A1111 request field or option; NULL: not in the API */
    const char *cli_flag;    /* long flag without "--"; NULL: not on the command line. BOOL: a switch */
    const char *cli_aliases; /* other long flags (sd.cpp's, named variants), space separated, or NULL;
                                a BOOL's aliases take a value among cli_choices */
    char cli_short;          /* short flag (-W), or 0 */
    const char *label;       /* A1111's UI label */
    mend_param_type type;
    int scope;               /* MEND_SCOPE_* */
    int flags;               /* MEND_PARAM_* */
    double min, max, step;   /* numbers; step: the UI's slider step (enforced with STRICT_STEP) */
    const char *const *choices;     /* CHOICE/BOOL labels (A1111's), nchoices of them */
    const char *const *cli_choices; /* CLI names; NULL: the labels, lower case, '-' for ' ' */
    int nchoices;
    double ui_default, api_default;              /* numbers, bools, choice indexes */
    const char *ui_default_str, *api_default_str; /* STRING */
    const char *infotext_key; /* A1111's infotext key, or NULL when not written */
    const char *help;
    size_t offset;            /* of the field in mend_gen_params */
    /* The range the API and the CLI take where A1111's API takes more than
     * its UI sliders (min..max above, what the page offers); api_min >
     * api_max: the same as the UI's. Read it with mend_param_api_range. */
    double api_min, api_max;
} mend_param_desc;

int mend_param_count(void);
const mend_param_desc *mend_param_at(int i);
/* By C name, API key, CLI flag or alias (without dashes); NULL if none. */
const mend_param_desc *mend_param_find(const char *name);

/* The range values are checked against: the API range (the CLI's too). */
void mend_param_api_range(const mend_param_desc *d, double *min, double *max);

/* Value setters: each stores the value and checks it (API range, step or
 * choice). They fail with MEND_E_ARG and the one message format, leaving
 * the field unchanged. Text: integers, numbers, booleans (1/0, true/false,
 * yes/no, on/off), a choice's label or CLI name (case, '-', '_' and ' '
 * ignored) or its index. STRING fields keep the pointer (the caller owns
 * the text). */
mend_status mend_param_set_text(mend_gen_params *p, const mend_param_desc *d, const char *text, mend_err *err);
/* Numbers (also BOOL 0/1 and CHOICE indexes). */
mend_status mend_param_set_number(mend_gen_params *p, const mend_param_desc *d, double v, mend_err *err);

/* The field as a number (BOOL 0/1, CHOICE index); 0 for STRING. */
double mend_param_get_number(const mend_gen_params *p, const mend_param_desc *d);
/* The field as a string pointer (STRING), the choice label (CHOICE, BOOL) or NULL. */
const char *mend_param_get_label(const mend_gen_params *p, const mend_param_desc *d);
/* Text form (integers, Python-style floats "7.0", choice labels, the string). */
void mend_param_format(const mend_gen_params *p, const mend_param_desc *d, char *buf, size_t size);

/* A float as Python's repr of the number the user sent: the shortest
 * decimal that reads back as the same float ("0.6", "7.0", "0.001";
 * NaN/inf as Python's "nan"/"inf"). */
void mend_float_repr(float v, char *buf, size_t size);
/* That number as A1111 holds it: the Python float (double) of the decimal
 * mend_float_repr writes (0.7, not the float32 widening 0.69999998...). */
double mend_float_as_sent(float v);

/* Checks the field's current value. */
mend_status mend_param_check(const mend_gen_params *p, const mend_param_desc *d, mend_err *err);
/* Checks every parameter of the scope (has_init: img2img/inpaint too);
 * *bad (may be NULL) is the first failing one. */
mend_status mend_params_validate(const mend_gen_params *p, int has_init, const mend_param_desc **bad, mend_err *err);

/* Sets the parameters an A1111 infotext names: the prompt, the negative
 * prompt and every "Key: value" of its last line whose key is a table
 * entry's infotext key ("Size: 512x768" sets width and height). Other keys
 * are ignored. Strings point into *storage (malloc'd, the caller frees it,
 * also on failure). A value the table refuses fails with its message.
 * keep (may be NULL): entries for which it returns nonzero are left alone
 * (A1111's API: the fields the request gives itself). */
typedef int (*mend_param_keep_fn)(void *user, const mend_param_desc *d);
mend_status mend_params_from_infotext(const char *text, mend_gen_params *p, mend_param_keep_fn keep, void *user,
                                      char **storage, mend_err *err);

/* ------------------------------------------------------------------ */
/* Samplers and schedule types: the one registry (src/sampling/), in   */
/* A1111 1.10's UI order. sampler_name and scheduler take these names. */

typedef struct mend_sampler_entry {
    const char *name;              /* "DPM++ 2M" */
    const char *alias;             /* "k_dpmpp_2m" */
    const char *default_scheduler; /* schedule name "Automatic" means ("karras"), NULL: uniform / none */
    int second_order, brownian_noise, uses_ensd, discard_penultimate;
} mend_sampler_entry;

typedef struct mend_scheduler_entry {
    const char *name;  /* "karras" */
    const char *label; /* "Karras" */
    const char *alias; /* "SGMUniform" or NULL */
    double default_rho; /* -1: none */
    int need_inner_model;
} mend_scheduler_entry;

int mend_samplers_count(void);
mend_sampler_entry mend_samplers_at(int i);
int mend_schedulers_count(void);
mend_scheduler_entry mend_schedulers_at(int i);

/* A1111's get_sampler_and_scheduler: a sampler name or alias, possibly
 * with a schedule suffix ("DPM++ 2M Karras"), which wins over the explicit
 * scheduler (label, name or alias; NULL or "" = Automatic). *sampler and
 * *scheduler get the registry's names (label for the scheduler). Unknown
 * names fail with MEND_E_ARG listing the valid ones. */
mend_status mend_sampler_resolve(const char *name, const char *scheduler, const char **sampler_out,
                                 const char **scheduler_out, mend_err *err);

/* The table as JSON text (what GET /mend/v1/params returns), malloc'd;
 * NULL when out of memory. */
char *mend_params_json(void);

#ifdef __cplusplus
}
#endif
#endif
