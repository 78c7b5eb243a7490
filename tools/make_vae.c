/* make-model --part vae|vae-decoder: the model's VAE alone, as the separate
 * VAE files people download (A1111's models/VAE, sd.cpp's --vae) hold it,
 * for the tests of mend_model_set_vae. The values are the checkpoint's for
 * the same seed (they are keyed by the LDM name), so a file written with the
 * checkpoint's seed holds exactly its own VAE. */
#include "make_model_impl.h"

#include "io/st_writer.h"

#include <string.h>

static const char vae_prefix[] = "first_stage_model.";

static int wanted(const mm_tensor *t, mend_mm_part part)
{
    if (t->comp != COMP_VAE)
        return 0;
    const char *rest = t->ldm + (sizeof vae_prefix - 1);
    return part == MEND_MM_PART_VAE || !strncmp(rest, "decoder.", 8) || !strncmp(rest, "post_quant_conv.", 16);
}

/* The name in the file: diffusers, LDM without the checkpoint's prefix
 * (A1111's VAE files), or LDM with it. */
static const char *file_name(const mm_tensor *t, const mend_make_model_opts *o)
{
    if (o->layout == MEND_MM_DIFFUSERS)
        return t->dif;
    return o->vae_prefix ? t->ldm : t->ldm + (sizeof vae_prefix - 1);
}

mend_status mm_write_vae_file(mm_list *L, const mend_make_model_opts *o, const char *path, mend_err *err)
{
    mend_st_writer *w = mend_st_writer_new();
    if (!w)
        return mend_fail(err, MEND_E_NOMEM, "%s: out of memory", path);
    mend_status s = MEND_OK;
    int diffusers = o->layout == MEND_MM_DIFFUSERS;
    for (int i = 0; i < L->n && s == MEND_OK; i++) {
        mm_tensor *t = &L->v[i];
        if (!wanted(t, o->part) || (diffusers && !t->dif[0]))
            continue;
        s = mend_st_writer_add_generated(w, file_name(t, o), t->dtype, diffusers ? t->dif_ndim : t->ndim, t->shape,
                                         mm_fill_tensor, t, err);
    }
    if (s == MEND_OK)
        s = mend_st_writer_set_meta(w, "generator", "mend tools make-model --part vae", err);
    if (s == MEND_OK)
        s = mend_st_writer_write(w, path, err);
    mend_st_writer_free(w);
    return s;
}
