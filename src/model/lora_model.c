/* Applying networks to the live model: see lora_model.h. The model's
 * layers are found by their A1111 names (the checkpoint key of each weight
 * matrix the text encoder and UNet loaded, model/weights.h), a network's
 * file modules by the candidates A1111 tries (model/lora.h). */
#include "model/lora_model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/lora.h"

typedef struct layer {
    char name[MEND_LORA_NAME_MAX]; /* A1111 layer name */
    char key[MEND_TF_NAME_MAX];    /* checkpoint key (for messages) */
    mend_wmat *w;
    const mend_wname *info;
} layer;

typedef struct layer_table {
    layer *v;
    int n;
    const char ***mods; /* mods[net][layer]: the network's module for that layer, or NULL */
} layer_table;

static void add_store(layer_table *t, const mend_wstore *s, const char *prefix)
{
    for (int i = 0; i < s->nmats; i++) {
        layer *l = &t->v[t->n];
        mend_err e = {0};
        snprintf(l->key, sizeof l->key, "%s%s", prefix, s->names[i].name);
        if (mend_lora_layer_of_key(l->key, l->name, sizeof l->name, &e) != MEND_OK)
            continue;
        l->w = s->mats[i];
        l->info = &s->names[i];
        t->n++;
    }
}

static int find_layer(const layer_table *t, const char *name)
{
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->v[i].name, name) == 0)
            return i;
    return -1;
}

/* mods[layer] = the first file module whose candidate names that layer;
 * net->modules = how many layers matched (A1111's modules_matched). */
static mend_status map_modules(const layer_table *t, mend_lora_net *net, const char **mods, mend_err *err)
{
    char last[MEND_TF_NAME_MAX] = "";
    net->modules = 0;
    for (int i = 0; i < net->file->count; i++) {
        const char *name = net->file->tensors[i].name, *dot = strchr(name, '.');
        char mod[MEND_TF_NAME_MAX], cand[4][MEND_LORA_NAME_MAX];
        snprintf(mod, sizeof mod, "%.*s", dot ? (int)(dot - name) : (int)strlen(name), name);
        if (strcmp(mod, last) == 0)
            continue;
        snprintf(last, sizeof last, "%s", mod);
        int nc = mend_lora_layer_candidates(mod, cand), li = -1;
        for (int c = 0; c < nc && li < 0; c++)
            li = find_layer(t, cand[c]);
        if (li < 0 || mods[li])
            continue; /* A1111 drops keys that name no layer */
        if (!(mods[li] = strdup(mod)))
            return mend_fail(err, MEND_E_NOMEM, "LoRA: out of memory");
        net->modules++;
    }
    return MEND_OK;
}

static int log_add(char **log, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    size_t old = *log ? strlen(*log) : 0;
    char *s = n >= 0 ? realloc(*log, old + (size_t)n + 2) : NULL;
    if (!s)
        return 0;
    va_start(ap, fmt);
    vsnprintf(s + old, (size_t)n + 1, fmt, ap);
    va_end(ap);
    s[old + (size_t)n] = '\n';
    s[old + (size_t)n + 1] = 0;
    *log = s;
    return 1;
}

static mend_status keep_swap(mend_lora_applied *a, mend_wmat *w, float *merged, mend_err *err)
{
    mend_lora_saved *s = realloc(a->saved, (size_t)(a->count + 1) * sizeof *s);
    if (!s) {
        mend_big_free(merged);
        return mend_fail(err, MEND_E_NOMEM, "LoRA: out of memory");
    }
    a->saved = s;
    mend_lora_layer_swap(w, merged, &a->saved[a->count++]);
    return MEND_OK;
}

/* One layer: its live weight plus every network's delta for it, in order. */
static mend_status merge_layer(const layer_table *t, int li, mend_lora_net *nets, int n, mend_lora_applied *a,
                               mend_err *err)
{
    const layer *l = &t->v[li];
    float *w = NULL;
    int changed = 0;
    MEND_TRY(mend_lora_layer_f32(l->w, &w, err));
    for (int k = 0; k < n; k++) {
        const char *mod = t->mods[k][li];
        if (!mod)
            continue;
        float *d = NULL;
        mend_err e = {0};
        mend_status st = mend_lora_module_delta(nets[k].file, mod, l->info->shape, l->info->ndim, nets[k].dyn_dim, &d, &e);
        if (st == MEND_E_ARG) { /* A1111: this network leaves the layer alone and counts an error */
            nets[k].errors++;
            if (log_add(&a->log, "LoRA %s: layer %s left unchanged: %s", nets[k].name, l->key, e.msg))
                continue;
            st = mend_fail(&e, MEND_E_NOMEM, "out of memory");
        }
        if (st != MEND_OK) {
            mend_big_free(w);
            return mend_fail(err, st, "LoRA %s: %s", nets[k].name, e.msg);
        }
        float mult = mend_lora_layer_is_te(l->name) ? nets[k].te : nets[k].unet;
        mend_lora_merge(w, d, l->w->rows * l->w->cols, mult, mend_lora_module_merge_dtype(nets[k].file, mod));
        free(d);
        changed = 1;
    }
    if (!changed) {
        mend_big_free(w);
        return MEND_OK;
    }
    return keep_swap(a, l->w, w, err);
}

static void table_free(layer_table *t, int n)
{
    for (int k = 0; t->mods && k < n; k++) {
        for (int i = 0; t->mods[k] && i < t->n; i++)
            free((char *)t->mods[k][i]);
        free(t->mods[k]);
    }
    free(t->mods);
    free(t->v);
}

static mend_status table_build(mend_sd_model *m, mend_lora_net *nets, int n, layer_table *t, mend_err *err)
{
    const mend_wstore *te = m->clip ? mend_clip_weights(m->clip) : NULL, *un = m->unet ? mend_unet_weights(m->unet) : NULL;
    int cap = (te ? te->nmats : 0) + (un ? un->nmats : 0);
    t->v = calloc((size_t)(cap > 0 ? cap : 1), sizeof *t->v);
    t->mods = calloc((size_t)(n > 0 ? n : 1), sizeof *t->mods);
    if (!t->v || !t->mods)
        return mend_fail(err, MEND_E_NOMEM, "LoRA: out of memory");
    if (te)
        add_store(t, te, "cond_stage_model.transformer.");
    if (un)
        add_store(t, un, "model.diffusion_model.");
    for (int k = 0; k < n; k++) {
        nets[k].errors = 0;
        if (!(t->mods[k] = calloc((size_t)(t->n > 0 ? t->n : 1), sizeof **t->mods)))
            return mend_fail(err, MEND_E_NOMEM, "LoRA: out of memory");
        MEND_TRY(map_modules(t, &nets[k], t->mods[k], err));
    }
    return MEND_OK;
}

mend_status mend_lora_apply_model(mend_sd_model *m, mend_lora_net *nets, int n, mend_lora_applied *a, mend_err *err)
{
    layer_table t = {0};
    memset(a, 0, sizeof *a);
    mend_status st = table_build(m, nets, n, &t, err);
    for (int i = 0; st == MEND_OK && i < t.n; i++)
        st = merge_layer(&t, i, nets, n, a, err);
    table_free(&t, n);
    if (st != MEND_OK)
        mend_lora_restore_model(a);
    return st;
}

void mend_lora_restore_model(mend_lora_applied *a)
{
    for (int i = a->count - 1; i >= 0; i--)
        mend_lora_layer_restore(&a->saved[i]);
    free(a->saved);
    free(a->log);
    memset(a, 0, sizeof *a);
}
