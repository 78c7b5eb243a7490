/* Fixtures of the pipeline property tests (test_pipeline*.c): the tiny
 * random-weight models of ../shared, loaded once per test binary, small
 * structured pictures and box masks, the parameters the tests start from,
 * image comparisons and a progress callback that logs every step. */
#ifndef MEND_TESTS_PIPELINE_FIXTURE_H
#define MEND_TESTS_PIPELINE_FIXTURE_H

#include "test.h"

#include "inpaint/mask_prep.h"
#include "inpaint/pipeline.h"
#include "model/sd_model.h"

#define SD_MODEL "models/tiny-sd1.f16.safetensors"
#define INPAINT_MODEL "models/tiny-sd1-inpaint.f16.safetensors"

/* tiny-sd1 and tiny-sd1-inpaint (loaded once), or NULL (skipped) without ../shared. */
mend_sd_model *sd_model(void);
mend_sd_model *inpaint_model(void);
void pipeline_models_free(void);
/* The pipeline tests' REQUIRE_SHARED: declares var = loader() (sd_model or
 * inpaint_model), returning from the test (skipped) without it. */
#define REQUIRE_MODEL(var, loader)  \
    mend_sd_model *var = loader(); \
    if (!var)                      \
    return

/* A picture with structure on every scale: gradients, a disc, stripes. */
mend_image make_image(int w, int h);
/* The same picture, the disc left out when disc_on is 0. */
mend_image make_image_disc(int w, int h, int disc_on);
/* 1-channel mask, white (repaint) inside the box x0 <= x < x1, y0 <= y < y1. */
mend_image make_mask(int w, int h, int x0, int y0, int x1, int y1);
/* 64x64, 3 Euler steps, seed 1234, a prompt and a negative prompt. */
mend_gen_params base_params(void);
/* mend_generate without progress callback. */
mend_status gen(mend_sd_model *m, const mend_gen_params *p, const mend_image *init, const mend_image *mask,
                mend_gen_output *out, mend_err *err);

int same_image(const mend_image *a, const mend_image *b);
/* The same picture up to float reordering (a few bytes one level off). */
int near_image(const mend_image *a, const mend_image *b);
int pixel_equal(const mend_image *a, const mend_image *b, int x, int y);
mend_mask_opts mask_opts(const mend_gen_params *p);
/* The init latent of a job (and its latent mask when nmask is not NULL). */
float *init_latent(mend_sd_model *m, const mend_gen_params *p, const mend_image *img, const mend_image *mask,
                   float **nmask);

typedef struct step_log {
    int calls, last_total, finite;
    float last[4 * 64]; /* image 0's latest x0 prediction (64x64 jobs) */
    int interrupt_at; /* step at which to return MEND_E_INTERRUPTED, -1 never */
    mend_status fail_with;
} step_log;
/* A mend_progress_fn logging into a step_log; it interrupts or fails at
 * step interrupt_at. */
mend_status log_step(void *user, const mend_gen_progress *pr, mend_err *err);

#endif
