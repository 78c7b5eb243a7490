/* mend eval unet: out = unet(x, timesteps, context) on the tensors of a
 * reference file; also writes tap/ intermediates when the input file has
 * any, so a mismatch can be traced to the first block that differs. */
#include "cli/cli.h"
#include "eval.h"
#include "model/sd_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tap_ctx {
    mend_st_writer *w;
    mend_status status;
    mend_err err;
} tap_ctx;

static void tap_to_writer(void *user, const char *name, const float *data, int ndim, const int64_t *shape)
{
    tap_ctx *t = user;
    char full[128];
    if (t->status != MEND_OK)
        return;
    snprintf(full, sizeof full, "tap/%s", name);
    t->status = mend_st_writer_add_f32_as(t->w, full, MEND_DT_F32, ndim, shape, data, &t->err);
}

static int has_taps(const mend_tf *in)
{
    for (int i = 0; i < in->count; i++)
        if (!strncmp(in->tensors[i].name, "tap/", 4))
            return 1;
    return 0;
}

/* Checks the inputs against each other and the model. */
static int check_shapes(const eval_args *a, const mend_unet_arch *arch, const int64_t *xs, const int64_t *ts,
                        const int64_t *cs)
{
    if (xs[1] != arch->in_channels)
        return cli_errorf("%s: x has %lld channels, the UNet of %s takes %d", a->in, (long long)xs[1], a->model,
                          arch->in_channels);
    if (ts[0] != xs[0] || cs[0] != xs[0])
        return cli_errorf("%s: x, timesteps and context disagree on the batch size (%lld, %lld, %lld)", a->in,
                          (long long)xs[0], (long long)ts[0], (long long)cs[0]);
    if (cs[2] != arch->context_dim)
        return cli_errorf("%s: context has width %lld, the UNet of %s expects %d", a->in, (long long)cs[2],
                          a->model, arch->context_dim);
    return 0;
}

static int run(const eval_args *a, mend_sd_model *m, const mend_tf *in, float *x, float *ts, float *ctx,
               const int64_t *xs, const int64_t *cs)
{
    const mend_unet_arch *arch = mend_unet_get_arch(m->unet);
    int B = (int)xs[0], H = (int)xs[2], W = (int)xs[3];
    int64_t os[4] = {B, arch->out_channels, H, W};
    mend_err err = {0};
    tap_ctx tap = {mend_st_writer_new(), MEND_OK, {0}};
    float *out = malloc((size_t)(os[0] * os[1] * os[2] * os[3]) * sizeof *out);
    if (!tap.w || !out) {
        mend_st_writer_free(tap.w);
        free(out);
        return cli_errorf("out of memory");
    }
    if (has_taps(in))
        mend_unet_set_tap(m->unet, tap_to_writer, &tap);
    mend_status s = mend_unet_forward(m->unet, x, B, H, W, ts, ctx, (int)cs[1], out, &err);
    if (s == MEND_OK && tap.status != MEND_OK) {
        s = tap.status;
        err = tap.err;
    }
    if (s == MEND_OK)
        s = mend_st_writer_add(tap.w, "out", MEND_DT_F32, 4, os, out, 1, &err);
    else
        free(out);
    return eval_finish_after(a, tap.w, s, &err);
}

int eval_unet(const eval_args *a)
{
    mend_err err = {0};
    mend_tf *in = NULL;
    mend_sd_model *m = NULL;
    float *x = NULL, *ts = NULL, *ctx = NULL;
    int64_t xs[4], tss[1], cs[3];
    int rc = 1;
    if (mend_tf_open(a->in, &in, &err) != MEND_OK)
        return cli_error(&err);
    if (!(x = eval_input_f32(in, "x", 4, xs)) || !(ts = eval_input_f32(in, "timesteps", 1, tss)) ||
        !(ctx = eval_input_f32(in, "context", 3, cs)))
        goto done;
    if (mend_sd_load(a->model, NULL, MEND_COMP_UNET, &m, &err) != MEND_OK) {
        rc = cli_error(&err);
        goto done;
    }
    if (check_shapes(a, mend_unet_get_arch(m->unet), xs, tss, cs))
        goto done;
    rc = run(a, m, in, x, ts, ctx, xs, cs);
done:
    mend_sd_free(m);
    mend_tf_close(in);
    free(x);
    free(ts);
    free(ctx);
    return rc;
}
