/* One job's networks: see lora_run.h. */
#include "inpaint/lora_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mend/mend.h"
#include "model/lora.h"

static char lora_dir[4096] = "models/Lora";

void mend_set_lora_dir(const char *dir)
{
    snprintf(lora_dir, sizeof lora_dir, "%s", dir && *dir ? dir : "models/Lora");
}

const char *mend_lora_dir(void)
{
    return lora_dir;
}

/* Opens the network of tag i (an earlier tag of the same name shares its
 * file: A1111 makes one network object per name). */
static mend_status open_net(mend_lora_run *r, const char *dir, int i, mend_err *err)
{
    const mend_lora_tag *t = &r->tags.tags[i];
    mend_lora_net *n = &r->nets[r->nnets];
    *n = (mend_lora_net){NULL, t->name, (float)t->te, (float)t->unet, t->dyn_dim, 0, 0};
    for (int k = 0; k < r->nnets; k++)
        if (strcmp(r->nets[k].name, t->name) == 0) {
            n->file = r->nets[k].file;
            r->nnets++;
            return MEND_OK;
        }
    char path[4096];
    mend_err e = {0};
    if (mend_lora_find(dir, t->name, path, sizeof path, &e) != MEND_OK)
        return MEND_OK; /* not found: a warning (the look-up listed it) */
    mend_tf *f = NULL;
    mend_status st = mend_tf_open(path, &f, &e);
    if (st == MEND_OK && mend_lora_is_peft(f))
        st = mend_lora_peft_to_kohya(f, &e);
    if (st != MEND_OK) {
        mend_tf_close(f);
        return mend_fail(err, st, "LoRA '%s': %s", t->name, e.msg);
    }
    r->files[i] = f;
    n->file = f;
    r->nnets++;
    return MEND_OK;
}

/* Appends "prefix item, item (n)" to the warnings for a list (NULL: none). */
static mend_status add_warning(mend_lora_run *r, const char *prefix, const char *list, mend_err *err)
{
    if (!list)
        return MEND_OK;
    size_t old = r->warnings ? strlen(r->warnings) : 0, add = strlen(prefix) + strlen(list) + 2;
    char *w = realloc(r->warnings, old + add);
    if (!w)
        return mend_fail(err, MEND_E_NOMEM, "LoRA: out of memory");
    snprintf(w + old, add, "%s%s\n", prefix, list);
    r->warnings = w;
    return MEND_OK;
}

/* "name (count), ..." of the networks with layer errors, each name once. */
static char *error_list(const mend_lora_run *r)
{
    size_t cap = 1;
    for (int k = 0; k < r->nnets; k++)
        cap += strlen(r->nets[k].name) + 24;
    char *s = calloc(cap, 1);
    for (int k = 0; s && k < r->nnets; k++) {
        int count = 0, first = 1;
        for (int j = 0; j < r->nnets; j++)
            if (strcmp(r->nets[j].name, r->nets[k].name) == 0) {
                count += r->nets[j].errors;
                first &= j >= k;
            }
        if (first && count)
            snprintf(s + strlen(s), cap - strlen(s), "%s%s (%d)", *s ? ", " : "", r->nets[k].name, count);
    }
    if (s && !*s) {
        free(s);
        return NULL;
    }
    return s;
}

static mend_status apply_found(mend_sd_model *m, mend_lora_run *r, mend_err *err)
{
    mend_lora_net *found = calloc((size_t)r->nnets + 1, sizeof *found);
    int nf = 0;
    if (!found)
        return mend_fail(err, MEND_E_NOMEM, "LoRA: out of memory");
    for (int k = 0; k < r->nnets; k++)
        if (r->nets[k].file)
            found[nf++] = r->nets[k];
    mend_status st = mend_lora_apply_model(m, found, nf, &r->applied, err);
    for (int k = 0, f = 0; st == MEND_OK && k < r->nnets; k++)
        if (r->nets[k].file)
            r->nets[k] = found[f++]; /* modules and errors counted */
    free(found);
    if (st == MEND_OK && r->applied.log) {
        r->log = r->applied.log;
        r->applied.log = NULL;
    }
    return st;
}

mend_status mend_lora_run_begin(mend_sd_model *m, const char *prompt, const char *dir, mend_lora_run *r,
                                mend_err *err)
{
    memset(r, 0, sizeof *r);
    if (mend_lora_tags_parse(prompt ? prompt : "", &r->tags, err) != MEND_OK)
        return mend_err_wrap(err, "prompt");
    if (r->tags.count == 0)
        return MEND_OK;
    char *missing = NULL;
    MEND_TRY(mend_lora_tags_lookup(&r->tags, dir, &r->hashes, &missing, err));
    mend_status st = add_warning(r, "Lora not found: ", missing, err);
    free(missing);
    r->files = calloc((size_t)r->tags.count, sizeof *r->files);
    r->nets = calloc((size_t)r->tags.count, sizeof *r->nets);
    if (st == MEND_OK && (!r->files || !r->nets))
        st = mend_fail(err, MEND_E_NOMEM, "LoRA: out of memory");
    for (int i = 0; st == MEND_OK && i < r->tags.count; i++)
        st = open_net(r, dir, i, err);
    if (st == MEND_OK)
        st = apply_found(m, r, err);
    char *errors = st == MEND_OK ? error_list(r) : NULL;
    if (st == MEND_OK)
        st = add_warning(r, "Networks with errors: ", errors, err);
    free(errors);
    return st;
}

void mend_lora_run_move_notes(mend_lora_run *r, char **warnings, char **log)
{
    *warnings = r->warnings;
    *log = r->log;
    r->warnings = r->log = NULL;
}

void mend_lora_run_end(mend_lora_run *r)
{
    mend_lora_restore_model(&r->applied);
    for (int i = 0; r->files && i < r->tags.count; i++)
        mend_tf_close(r->files[i]);
    free(r->files);
    free(r->nets);
    free(r->hashes);
    free(r->warnings);
    free(r->log);
    mend_lora_tags_free(&r->tags);
    memset(r, 0, sizeof *r);
}
