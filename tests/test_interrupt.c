/* Interrupt and Skip through a mend_stop request (mend_generate_stoppable):
 * they take effect between the blocks of a UNet or VAE pass, not after a
 * whole model call. Measured by events, not time: the UNet's block tap
 * raises the request in the middle of the first call and counts the blocks
 * that still run, the progress callback counts completed steps. */
#include "test.h"

#include "io/image.h"
#include "model/sd_model.h"

#include <string.h>

static mend_sd_model *g_sd;

typedef struct block_log {
    mend_stop stop;      /* the job's Interrupt/Skip request (run's) */
    mend_status raise;   /* request raised at block `raise_at` of the first call */
    int raise_at;        /* -1: never */
    int blocks;          /* block taps so far */
    int after_raise;     /* block taps after the request */
    int raised;
    int steps;           /* completed sampler steps (progress callbacks) */
    int blocks_at_step1; /* block taps when the first step completed */
} block_log;

static void on_block(void *user, const char *name, const float *data, int ndim, const int64_t *shape)
{
    (void)name, (void)data, (void)ndim, (void)shape;
    block_log *l = user;
    l->after_raise += l->raised;
    if (l->steps == 0 && l->blocks == l->raise_at) {
        mend_stop_request(&l->stop, l->raise);
        l->raised = 1;
    }
    l->blocks++;
}

static mend_status on_step(void *user, const mend_gen_progress *g, mend_err *err)
{
    (void)g, (void)err;
    block_log *l = user;
    if (l->steps++ == 0)
        l->blocks_at_step1 = l->blocks;
    return MEND_OK;
}

static mend_gen_params params(int n_iter)
{
    mend_gen_params p;
    mend_gen_params_default(&p);
    p.prompt = "a lighthouse";
    p.width = p.height = 64;
    p.steps = 3;
    p.n_iter = n_iter;
    p.sampler_name = "Euler";
    p.seed = 5;
    return p;
}

/* Runs a txt2img job with the block tap on; returns its status. */
static mend_status run(block_log *l, const mend_gen_params *p, mend_gen_output *out)
{
    mend_err err = {0};
    mend_gen_inputs in = {0};
    mend_unet_set_tap(g_sd->unet, on_block, l);
    mend_status s = mend_generate_stoppable(g_sd, p, &in, &l->stop, on_step, l, out, &err);
    mend_unet_set_tap(g_sd->unet, NULL, NULL);
    CHECK_MSG(s == MEND_OK, "%s", err.msg);
    return s;
}

/* How many block taps one full UNet call makes (an uninterrupted job). */
static int blocks_per_call(void)
{
    mend_gen_params p = params(1);
    block_log l = {.raise_at = -1};
    mend_gen_output out;
    if (run(&l, &p, &out) == MEND_OK) {
        CHECK(out.count == 1 && !out.interrupted && l.steps == p.steps);
        mend_gen_output_free(&out);
    }
    return l.blocks_at_step1;
}

/* Interrupt raised after the second block of the first UNet call: not one
 * more block runs, no step completes, the batch is still finished (from
 * its latest prediction, as A1111) and the next batch never starts. */
TEST(interrupt_within_the_first_unet_call)
{
    int full = blocks_per_call();
    CHECK_MSG(full > 4, "a UNet call taps %d blocks", full);
    mend_gen_params p = params(2);
    block_log l = {.raise = MEND_E_INTERRUPTED, .raise_at = 2};
    mend_gen_output out;
    if (run(&l, &p, &out) != MEND_OK)
        return;
    CHECK_MSG(l.raised && l.after_raise == 0 && l.blocks < full, "%d blocks ran after the interrupt, %d in all of %d",
              l.after_raise, l.blocks, full);
    CHECK_MSG(l.steps == 0, "%d steps completed", l.steps);
    CHECK(out.interrupted == 1);
    CHECK_MSG(out.count == 1 && out.images[0].data && out.infotexts[0], "%d images", out.count);
    mend_gen_output_free(&out);
}

/* Skip raised in the first batch's first call ends that batch at once; the
 * second batch runs all its steps, and the request is used up. */
TEST(skip_within_a_unet_call_ends_one_batch)
{
    mend_gen_params p = params(2);
    block_log l = {.raise = MEND_E_SKIPPED, .raise_at = 2};
    mend_gen_output out;
    if (run(&l, &p, &out) != MEND_OK)
        return;
    CHECK_MSG(l.steps == p.steps, "%d steps completed of the second batch's %d", l.steps, p.steps);
    CHECK_MSG(out.count == 2 && !out.interrupted, "%d images, interrupted %d", out.count, out.interrupted);
    CHECK(l.stop.request == MEND_OK);
    mend_gen_output_free(&out);
}

/* An Interrupt raised after the last step of batch 2 lands in its VAE
 * decode: that batch's image is dropped, batch 1's is kept. */
static mend_status interrupt_at_last_step(void *user, const mend_gen_progress *g, mend_err *err)
{
    (void)err;
    mend_stop *stop = user;
    if (g->iteration == 1 && g->step + 1 == g->steps)
        mend_stop_request(stop, MEND_E_INTERRUPTED);
    return MEND_OK;
}

TEST(interrupt_during_the_decode_drops_that_batch)
{
    mend_gen_params p = params(3);
    mend_stop stop = {MEND_OK};
    mend_gen_inputs in = {0};
    mend_gen_output out;
    mend_err err = {0};
    CHECK_OK(mend_generate_stoppable(g_sd, &p, &in, &stop, interrupt_at_last_step, &stop, &out, &err), &err);
    CHECK_MSG(out.count == 1 && out.interrupted, "%d images, interrupted %d", out.count, out.interrupted);
    mend_gen_output_free(&out);
    /* the request stays raised but binds nothing once the job is over */
    CHECK(stop.request == MEND_E_INTERRUPTED);
    p.n_iter = 1;
    CHECK_OK(mend_generate(g_sd, &p, &in, NULL, NULL, &out, &err), &err);
    CHECK(out.count == 1 && !out.interrupted);
    mend_gen_output_free(&out);
}

/* img2img with the request already raised stops in the init image's VAE
 * encode, before any sampling: an interrupted status and no output. */
TEST(interrupt_during_the_encode_returns_nothing)
{
    mend_gen_params p = params(1);
    mend_image init = {0};
    mend_err err = {0};
    CHECK_OK(mend_image_alloc(&init, 64, 64, 3, &err), &err);
    memset(init.data, 128, mend_image_size(&init));
    mend_stop stop = {MEND_OK};
    mend_stop_request(&stop, MEND_E_INTERRUPTED);
    block_log l = {.raise_at = -1};
    mend_gen_inputs in = {.init_image = &init};
    mend_gen_output out;
    mend_unet_set_tap(g_sd->unet, on_block, &l);
    CHECK(mend_generate_stoppable(g_sd, &p, &in, &stop, on_step, &l, &out, &err) == MEND_E_INTERRUPTED);
    mend_unet_set_tap(g_sd->unet, NULL, NULL);
    CHECK(out.count == 0 && out.images == NULL);
    CHECK_MSG(l.blocks == 0, "%d UNet blocks ran", l.blocks);
    mend_image_free(&init);
}

int main(void)
{
    const char *vocab = test_shared("clip/bpe_simple_vocab_16e6.txt.gz");
    const char *model = vocab ? test_shared("models/tiny-sd1.f16.safetensors") : NULL;
    mend_err err = {0};
    if (!model)
        return test_summary();
    CHECK_OK(mend_sd_load(model, vocab, MEND_COMP_ALL, &g_sd, &err), &err);
    if (!g_sd)
        return test_summary();
    RUN(interrupt_within_the_first_unet_call);
    RUN(skip_within_a_unet_call_ends_one_batch);
    RUN(interrupt_during_the_decode_drops_that_batch);
    RUN(interrupt_during_the_encode_returns_nothing);
    mend_sd_free(g_sd);
    return test_summary();
}
