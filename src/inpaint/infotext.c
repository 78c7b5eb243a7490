#include "inpaint/infotext.h"

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

static void kv_float(sbuf *b, int *first, const char *key, double v)
{
    char buf[64];
    mend_py_float(v, buf, sizeof buf);
    kv(b, first, key, buf);
}

static void kv_int(sbuf *b, int *first, const char *key, long long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    kv(b, first, key, buf);
}

char *mend_infotext_build(const mend_infotext_ctx *c)
{
    const mend_gen_params *p = c->p;
    sbuf b = {0};
    int first = 1;
    sb_add(&b, "%s", p->prompt ? p->prompt : "");
    if (p->negative_prompt && *p->negative_prompt)
        sb_add(&b, "\nNegative prompt: %s", p->negative_prompt);
    sb_add(&b, "\n");
    kv_int(&b, &first, "Steps", p->steps);
    kv(&b, &first, "Sampler", c->sampler);
    kv(&b, &first, "Schedule type", c->schedule_label);
    /* A1111 writes str(p.cfg_scale): the UI's gr.Slider (step 0.5) hands
     * over the browser's JSON number, which is a Python int at whole values
     * ("CFG scale: 7") and a float otherwise ("7.5"); the API's pydantic
     * field is a float ("7.0"). mend's jobs come from the command line and
     * library callers, which are API-like, so the float rendering stays. */
    kv_float(&b, &first, "CFG scale", p->cfg_scale);
    kv_int(&b, &first, "Seed", (long long)c->seed);
    char size[32];
    snprintf(size, sizeof size, "%dx%d", p->width, p->height);
    kv(&b, &first, "Size", size);
    if (c->model_hash)
        kv(&b, &first, "Model hash", c->model_hash);
    if (c->model_name)
        kv(&b, &first, "Model", c->model_name);
    if (p->subseed_strength > 0) {
        kv_int(&b, &first, "Variation seed", (long long)c->subseed);
        kv_float(&b, &first, "Variation seed strength", p->subseed_strength);
    }
    if (c->img2img)
        kv_float(&b, &first, "Denoising strength", p->denoising_strength);
    if (c->inpainting_model)
        kv_float(&b, &first, "Conditional mask weight", p->inpainting_mask_weight);
    if (p->clip_skip > 1)
        kv_int(&b, &first, "Clip skip", p->clip_skip);
    if (c->uses_ensd && p->eta_noise_seed_delta)
        kv_int(&b, &first, "ENSD", p->eta_noise_seed_delta);
    if (p->rng != MEND_RNG_SOURCE_GPU)
        kv(&b, &first, "RNG", p->rng == MEND_RNG_SOURCE_CPU ? "CPU" : "NV");
    if (c->inpaint) {
        if (p->inpainting_mask_invert)
            kv(&b, &first, "Mask mode", "Inpaint not masked");
        if ((p->mask_blur_x > 0 || p->mask_blur_y > 0) && p->mask_blur_x == p->mask_blur_y)
            kv_int(&b, &first, "Mask blur", p->mask_blur_x);
        if (c->only_masked) {
            kv(&b, &first, "Inpaint area", "Only masked");
            kv_int(&b, &first, "Masked area padding", p->inpaint_full_res_padding);
        }
        static const char *fills[] = {"fill", NULL, "latent noise", "latent nothing"};
        if (p->inpainting_fill != MEND_FILL_ORIGINAL && fills[p->inpainting_fill])
            kv(&b, &first, "Masked content", fills[p->inpainting_fill]);
    }
    if (c->img2img && p->initial_noise_multiplier != 1.0f)
        kv_float(&b, &first, "Noise multiplier", p->initial_noise_multiplier);
    kv(&b, &first, "Version", "mend-" MEND_VERSION);
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}
