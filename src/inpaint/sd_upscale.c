/* A1111 1.10's "SD upscale" img2img script (scripts/sd_upscale.py): fix the
 * seeds, upscale the first init image, split it into the job's width x
 * height tiles, run img2img over them batch_size at a time (n_iter times,
 * the seed of each batch the previous batch's first seed + 1), and combine
 * each round's tiles into one image. */
#include "mend/scripts.h"

#include "core/rng.h"
#include "core/stop.h"
#include "inpaint/imageops.h"
#include "inpaint/sd_grid.h"
#include "mend/upscale.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mend_status alloc_out(mend_gen_output *out, int n, mend_err *err)
{
    memset(out, 0, sizeof *out);
    out->images = calloc((size_t)n, sizeof *out->images);
    out->seeds = calloc((size_t)n, sizeof *out->seeds);
    out->subseeds = calloc((size_t)n, sizeof *out->subseeds);
    out->infotexts = calloc((size_t)n, sizeof *out->infotexts);
    return out->images && out->seeds && out->subseeds && out->infotexts ? MEND_OK
                                                                         : mend_fail(err, MEND_E_NOMEM, "out of memory");
}

/* The tiles of one round through img2img, batch_size at a time; *seed moves on as A1111's p.seed. */
static mend_status run_round(mend_sd_model *m, const mend_gen_params *p, const mend_gen_inputs *in, mend_grid *g,
                             int64_t *seed, mend_gen_progress_fn progress, void *user, char **info,
                             mend_gen_output *out, mend_err *err)
{
    int n = g->rows * g->cols, bs = p->batch_size;
    mend_image *work = malloc((size_t)n * sizeof *work);
    if (!work)
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    for (int i = 0; i < n; i++)
        work[i] = g->tiles[i].img;
    mend_status s = MEND_OK;
    for (int i = 0; i < n && s == MEND_OK && !out->interrupted; i += bs) {
        int k = n - i < bs ? n - i : bs;
        mend_gen_params q = *p;
        q.batch_size = k;
        q.n_iter = 1;
        q.seed = *seed;
        mend_gen_inputs tin = *in;
        tin.init_image = &work[i];
        tin.more_init_images = k > 1 ? &work[i + 1] : NULL;
        tin.n_more_init_images = k - 1;
        tin.mask = NULL;
        mend_gen_output o;
        s = mend_generate(m, &q, &tin, progress, user, &o, err);
        if (s != MEND_OK)
            break;
        if (!*info && o.count && !(*info = strdup(o.infotexts[0])))
            s = mend_fail(err, MEND_E_NOMEM, "out of memory");
        for (int t = 0; t < o.count && s == MEND_OK; t++) { /* the tile is replaced by its result */
            mend_image_free(&g->tiles[i + t].img);
            g->tiles[i + t].img = o.images[t];
            o.images[t] = (mend_image){0};
        }
        *seed = (o.count ? o.seeds[0] : *seed) + 1;
        out->interrupted |= o.interrupted;
        mend_gen_output_free(&o);
    }
    free(work);
    return s;
}

static mend_status upscaled(const mend_image *init, const mend_sd_upscale *o, mend_image *img, mend_err *err)
{
    static const uint8_t white[3] = {255, 255, 255};
    mend_image flat;
    MEND_TRY(mend_flatten(init, white, &flat, err));
    if (!o->upscaler || !strcmp(o->upscaler, "None")) {
        *img = flat;
        return MEND_OK;
    }
    mend_status s = mend_upscale(&flat, o->upscaler, o->scale, img, err);
    mend_image_free(&flat);
    return s;
}

static mend_status sd_upscale(mend_sd_model *m, const mend_gen_params *p, const mend_gen_inputs *in,
                              const mend_sd_upscale *o, mend_gen_progress_fn progress, void *user,
                              mend_gen_output *out, mend_err *err)
{
    if (!in->init_image)
        return mend_fail(err, MEND_E_ARG, "SD upscale: an init image is needed");
    if (in->mask)
        return mend_fail(err, MEND_E_ARG, "SD upscale: a mask is not used by the script; send the image alone");
    if (o->upscaler && mend_upscaler_find(o->upscaler) < 0)
        return mend_fail(err, MEND_E_ARG, "SD upscale: upscaler '%s' not found (None, Lanczos, Nearest)", o->upscaler);
    mend_gen_params q = *p;
    q.seed = mend_rng_fix_seed(p->seed); /* processing.fix_seed */
    q.subseed = mend_rng_fix_seed(p->subseed);
    char keys[160];
    snprintf(keys, sizeof keys, "SD upscale overlap: %d, SD upscale upscaler: %s", o->overlap,
             o->upscaler ? o->upscaler : "None");
    mend_gen_inputs tin = *in;
    tin.script_infotext = keys;
    mend_image img;
    MEND_TRY(upscaled(in->init_image, o, &img, err));
    mend_grid g;
    mend_status s = alloc_out(out, p->n_iter, err);
    char *info = NULL;
    for (int n = 0; s == MEND_OK && n < p->n_iter && !out->interrupted; n++) {
        int64_t seed = q.seed + n;
        s = mend_grid_split(&img, p->width, p->height, o->overlap, &g, err);
        if (s == MEND_OK)
            s = run_round(m, &q, &tin, &g, &seed, progress, user, &info, out, err);
        if (s == MEND_OK)
            s = mend_grid_combine(&g, &out->images[n], err);
        mend_grid_free(&g);
        if (s == MEND_OK) {
            out->seeds[n] = q.seed + n;
            out->subseeds[n] = q.subseed;
            out->infotexts[n] = strdup(info ? info : "");
            s = out->infotexts[n] ? MEND_OK : mend_fail(err, MEND_E_NOMEM, "out of memory");
            out->count = n + 1;
        }
    }
    free(info);
    mend_image_free(&img);
    if (s != MEND_OK)
        mend_gen_output_free(out);
    return s;
}

mend_status mend_generate_sd_upscale(mend_sd_model *m, const mend_gen_params *p, const mend_gen_inputs *in,
                                     const mend_sd_upscale *o, mend_stop *stop, mend_gen_progress_fn progress,
                                     void *user, mend_gen_output *out, mend_err *err)
{
    mend_stop *caller_stop = mend_stop_bind(stop);
    mend_status s = sd_upscale(m, p, in, o, progress, user, out, err);
    mend_stop_bind(caller_stop);
    return s;
}
