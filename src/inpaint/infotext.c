#include "inpaint/infotext.h"

#include "mend/params.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mend_py_float(double v, char *buf, int size)
{
    /* shortest repr that round-trips, as Python's repr/str of a float */
    int prec = 1;
    for (; prec <= 17; prec++) {
        snprintf(buf, (size_t)size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    /* Python uses an exponent only below 1e-4 or from 1e16 on: 10.0, not 1e+01 */
    double a = fabs(v);
    if (strchr(buf, 'e') && a >= 1e-4 && a < 1e16) {
        int decimals = prec - 1 - (int)floor(log10(a));
        snprintf(buf, (size_t)size, "%.*f", decimals > 0 ? decimals : 0, v);
    }
    if (!strpbrk(buf, ".eEn")) /* integral: Python prints "7.0" */
        strncat(buf, ".0", (size_t)size - strlen(buf) - 1);
}

void mend_float_repr(float v, char *buf, size_t size)
{
    /* the shortest decimal that reads back as this float is what the user
     * typed (0.6, not the double 0.6000000238418579 the float widens to) */
    char tmp[64];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, (double)v);
        if (strtof(tmp, NULL) == v)
            break;
    }
    mend_py_float(strtod(tmp, NULL), buf, (int)size);
}

double mend_float_as_sent(float v)
{
    char text[64];
    mend_float_repr(v, text, sizeof text);
    return strtod(text, NULL);
}

typedef struct sbuf {
    char *s;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || b->oom)
        return;
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* A value containing ',', ':' or a newline is written as a JSON string. */
static void sb_value(sbuf *b, const char *v)
{
    if (!strpbrk(v, ",:\n")) {
        sb_add(b, "%s", v);
        return;
    }
    sb_add(b, "\"");
    for (const char *c = v; *c; c++) {
        if (*c == '"' || *c == '\\')
            sb_add(b, "\\%c", *c);
        else if (*c == '\n')
            sb_add(b, "\\n");
        else
            sb_add(b, "%c", *c);
    }
    sb_add(b, "\"");
}

static void kv(sbuf *b, int *first, const char *key, const char *value)
{
    sb_add(b, "%s%s: ", *first ? "" : ", ", key);
    sb_value(b, value);
    *first = 0;
}

/* One "Key: value" pair of a table parameter: its infotext key and its
 * value as the table formats it (Python floats, choice labels). */
static void kv_param(sbuf *b, int *first, const mend_gen_params *p, const char *name)
{
    const mend_param_desc *d = mend_param_find(name);
    char buf[256];
    mend_param_format(p, d, buf, sizeof buf);
    kv(b, first, d->infotext_key, buf);
}

/* A1111 writes many keys only when the value is not the UI default. */
static int not_default(const mend_gen_params *p, const char *name)
{
    const mend_param_desc *d = mend_param_find(name);
    return mend_param_get_number(p, d) != d->ui_default;
}

static int differs(const char *hr, const char *first)
{
    return hr && *hr && strcmp(hr, first ? first : "") != 0;
}

/* A1111's txt2img init() and calculate_target_resolution, in the order they
 * fill extra_generation_params. */
static void hires_keys(sbuf *b, int *first, const mend_gen_params *p, const mend_infotext_ctx *c)
{
    if (c->hr_sampler)
        kv(b, first, "Hires sampler", c->hr_sampler);
    if (differs(p->hr_prompt, p->prompt))
        kv_param(b, first, p, "hr_prompt");
    if (differs(p->hr_negative_prompt, p->negative_prompt))
        kv_param(b, first, p, "hr_negative_prompt");
    if (c->hr_schedule)
        kv(b, first, "Hires schedule type", c->hr_schedule);
    if (p->hr_resize_x == 0 && p->hr_resize_y == 0) {
        kv_param(b, first, p, "hr_scale");
    } else {
        char size[32];
        snprintf(size, sizeof size, "%dx%d", p->hr_resize_x, p->hr_resize_y);
        kv(b, first, mend_param_find("hr_resize_x")->infotext_key, size);
    }
    if (p->hr_second_pass_steps > 0)
        kv_param(b, first, p, "hr_second_pass_steps");
    if (p->hr_upscaler) /* the API's null is not written; the UI always sends one */
        kv_param(b, first, p, "hr_upscaler");
}

char *mend_infotext_build(const mend_infotext_ctx *c)
{
    /* the job's resolved values: the seeds of this image, the sampler and schedule it ran */
    mend_gen_params q = *c->p;
    q.seed = c->seed;
    q.subseed = c->subseed;
    q.sampler_name = c->sampler;
    q.scheduler = c->schedule_label;
    const mend_gen_params *p = &q;
    sbuf b = {0};
    int first = 1;
    sb_add(&b, "%s", p->prompt ? p->prompt : "");
    if (p->negative_prompt && *p->negative_prompt)
        sb_add(&b, "\n%s: %s", mend_param_find("negative_prompt")->infotext_key, p->negative_prompt);
    sb_add(&b, "\n");
    /* A1111's order (processing.create_infotext) */
    kv_param(&b, &first, p, "steps");
    kv_param(&b, &first, p, "sampler_name");
    kv_param(&b, &first, p, "scheduler");
    /* A1111 writes str(p.cfg_scale): the UI's gr.Slider (step 0.5) hands
     * over the browser's JSON number, which is a Python int at whole values
     * ("CFG scale: 7") and a float otherwise ("7.5"); the API's pydantic
     * field is a float ("7.0"). mend's jobs come from the command line and
     * library callers, which are API-like, so the float rendering stays. */
    kv_param(&b, &first, p, "cfg_scale");
    kv_param(&b, &first, p, "seed");
    char size[32];
    snprintf(size, sizeof size, "%dx%d", p->width, p->height);
    kv(&b, &first, mend_param_find("width")->infotext_key, size);
    if (c->model_hash)
        kv(&b, &first, "Model hash", c->model_hash);
    if (c->model_name)
        kv(&b, &first, "Model", c->model_name);
    if (c->vae_hash) /* A1111: "VAE hash", "VAE" right after the model's */
        kv(&b, &first, "VAE hash", c->vae_hash);
    if (c->vae_name)
        kv(&b, &first, "VAE", c->vae_name);
    if (p->subseed_strength > 0) {
        kv_param(&b, &first, p, "subseed");
        kv_param(&b, &first, p, "subseed_strength");
    }
    if (c->img2img || c->hires)
        kv_param(&b, &first, p, "denoising_strength");
    if (c->inpainting_model)
        kv_param(&b, &first, p, "inpainting_mask_weight");
    if (not_default(p, "clip_skip"))
        kv_param(&b, &first, p, "clip_skip");
    if (c->uses_ensd && not_default(p, "eta_noise_seed_delta"))
        kv_param(&b, &first, p, "eta_noise_seed_delta");
    if (not_default(p, "rng"))
        kv_param(&b, &first, p, "rng");
    if (p->tiling)
        kv_param(&b, &first, p, "tiling");
    /* extra_generation_params in the order A1111 sets them: a script's run() (SD upscale), then
     * process_images' alpha schedule override, then init() (hires) */
    if (c->script_keys && *c->script_keys) {
        sb_add(&b, "%s%s", first ? "" : ", ", c->script_keys);
        first = 0;
    }
    if (p->noise_schedule)
        kv_param(&b, &first, p, "noise_schedule");
    if (c->hires)
        hires_keys(&b, &first, p, c);
    if (c->inpaint) {
        if (not_default(p, "inpainting_mask_invert"))
            kv_param(&b, &first, p, "inpainting_mask_invert");
        if ((p->mask_blur_x > 0 || p->mask_blur_y > 0) && p->mask_blur_x == p->mask_blur_y)
            kv_param(&b, &first, p, "mask_blur");
        if (c->only_masked) {
            mend_gen_params m = *p;
            m.inpaint_full_res = 1;
            kv_param(&b, &first, &m, "inpaint_full_res");
            kv_param(&b, &first, p, "inpaint_full_res_padding");
        }
        if (not_default(p, "inpainting_fill"))
            kv_param(&b, &first, p, "inpainting_fill");
    }
    if (c->lora_hashes) /* A1111 adds it per batch, after init()'s keys */
        kv(&b, &first, "Lora hashes", c->lora_hashes);
    if (c->ti_hashes) /* from the prompts' encoding, after the networks' activation */
        kv(&b, &first, "TI hashes", c->ti_hashes);
    if (c->img2img && not_default(p, "initial_noise_multiplier"))
        kv_param(&b, &first, p, "initial_noise_multiplier");
    /* extra_generation_params gets it after sampling, so after the keys above */
    if (not_default(p, "vae_decode_method"))
        kv_param(&b, &first, p, "vae_decode_method");
    kv(&b, &first, "Version", "mend-" MEND_VERSION);
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

/* ---------------- parsing ---------------- */

/* Unquotes a JSON-style quoted value in place ("a, b" -> a, b). */
static void unquote(char *v)
{
    size_t n = strlen(v);
    if (n < 2 || v[0] != '"' || v[n - 1] != '"')
        return;
    char *o = v;
    for (char *s = v + 1; s < v + n - 1; s++) {
        if (*s == '\\' && s + 1 < v + n - 1) {
            s++;
            *o++ = *s == 'n' ? '\n' : *s;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}

/* Splits "Key: value, Key: "quoted, value", ..." in place; calls f per pair. */
static mend_status each_pair(char *s, mend_status (*f)(void *, char *, char *, mend_err *), void *user, mend_err *err)
{
    while (*s) {
        while (*s == ' ' || *s == ',')
            s++;
        char *colon = strchr(s, ':');
        if (!colon)
            break;
        char *key = s, *val = colon + 1;
        *colon = '\0';
        while (*val == ' ')
            val++;
        s = val;
        if (*s == '"') {
            for (s++; *s && *s != '"'; s += (*s == '\\' && s[1]) ? 2 : 1)
                ;
            if (*s)
                s++;
        } else {
            s += strcspn(s, ",");
        }
        char *next = *s ? s + 1 : s;
        *s = '\0';
        for (char *e = s - 1; e >= val && *e == ' '; e--)
            *e = '\0';
        unquote(val);
        MEND_TRY(f(user, key, val, err));
        s = next;
    }
    return MEND_OK;
}

typedef struct pair_ctx {
    mend_gen_params *p;
    mend_param_keep_fn keep;
    void *user;
} pair_ctx;

static int kept(const pair_ctx *c, const mend_param_desc *d)
{
    return c->keep && c->keep(c->user, d);
}

/* Keys whose value "AxB" sets two parameters. */
static const char *const size_pairs[][2] = {{"width", "height"}, {"hr_resize_x", "hr_resize_y"}};
#define N_SIZE_PAIRS ((int)(sizeof size_pairs / sizeof *size_pairs))

static int second_of_pair(const mend_param_desc *d)
{
    for (int i = 0; i < N_SIZE_PAIRS; i++)
        if (!strcmp(d->name, size_pairs[i][1]))
            return 1;
    return 0;
}

static mend_status set_size_pair(const pair_ctx *c, int pair, int a, int b, mend_err *err)
{
    const mend_param_desc *ad = mend_param_find(size_pairs[pair][0]), *bd = mend_param_find(size_pairs[pair][1]);
    if (!kept(c, ad))
        MEND_TRY(mend_param_set_number(c->p, ad, a, err));
    return kept(c, bd) ? MEND_OK : mend_param_set_number(c->p, bd, b, err);
}

static mend_status set_pair(void *user, char *key, char *val, mend_err *err)
{
    pair_ctx *c = user;
    mend_gen_params *p = c->p;
    int w, h;
    char tail;
    /* A1111's paste of txt2img's hires checkbox: on when the text has a denoising strength (its parse
     * always adds "Hires resize-1", so the rest of the condition holds) */
    if (!strcmp(key, mend_param_find("denoising_strength")->infotext_key) && !kept(c, mend_param_find("enable_hr")))
        p->enable_hr = 1;
    for (int i = 0; i < N_SIZE_PAIRS; i++)
        if (!strcmp(key, mend_param_find(size_pairs[i][0])->infotext_key) &&
            sscanf(val, "%dx%d%c", &w, &h, &tail) == 2)
            return set_size_pair(c, i, w, h, err) == MEND_OK ? MEND_OK : mend_err_wrap(err, "infotext '%s'", key);
    for (int i = 0; i < mend_param_count(); i++) {
        const mend_param_desc *d = mend_param_at(i);
        /* Size is both width and height; Mask blur sets both axes */
        if (d->infotext_key && !strcmp(d->infotext_key, key) && !second_of_pair(d))
            return kept(c, d) ? MEND_OK : mend_param_set_text(p, d, val, err) == MEND_OK ? MEND_OK
                                                                  : mend_err_wrap(err, "infotext '%s'", key);
    }
    return MEND_OK; /* keys that are not parameters (Model hash, Version, ...) */
}

mend_status mend_params_from_infotext(const char *text, mend_gen_params *p, mend_param_keep_fn keep, void *user,
                                      char **storage, mend_err *err)
{
    pair_ctx ctx = {p, keep, user};
    char *s = strdup(text ? text : "");
    if (!s)
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    *storage = s;
    size_t n = strlen(s);
    while (n && s[n - 1] == '\n')
        s[--n] = '\0';
    char *last = strrchr(s, '\n');
    last = last ? last + 1 : s;
    char *head_end = s + n;
    if (strstr(last, "Steps:")) {
        head_end = last > s ? last - 1 : last;
        MEND_TRY(each_pair(last, set_pair, &ctx, err));
    }
    *head_end = '\0';
    const char *neg_key = mend_param_find("negative_prompt")->infotext_key;
    size_t k = strlen(neg_key);
    char *neg = NULL;
    for (char *line = s; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (!strncmp(line, neg_key, k) && line[k] == ':') {
            neg = line;
            break;
        }
    if (neg) {
        char *v = neg + k + 1;
        while (*v == ' ')
            v++;
        if (!kept(&ctx, mend_param_find("negative_prompt")))
            p->negative_prompt = v;
        if (neg > s)
            neg[-1] = '\0';
        else
            *neg = '\0';
    }
    if (!kept(&ctx, mend_param_find("prompt")))
        p->prompt = s;
    return MEND_OK;
}
