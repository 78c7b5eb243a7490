/* mend — timing one stage of a model on synthetic inputs, for mend-bench:
 * the text encoder (2 x 77 tokens), one UNet step with CFG (batch 2), VAE
 * encode and VAE decode at size x size. */
#ifndef MEND_BENCH_H
#define MEND_BENCH_H

#include "mend/mend.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mend_bench_stage {
    MEND_BENCH_TEXT_ENCODER,
    MEND_BENCH_UNET_STEP,
    MEND_BENCH_VAE_ENCODE,
    MEND_BENCH_VAE_DECODE,
} mend_bench_stage;

typedef struct mend_bench_result {
    double seconds; /* best of the repetitions */
    double gflop;   /* work of one run (multiply-add = 2 FLOP) */
} mend_bench_result;

/* Runs the stage `reps` times; MEND_E_ARG when the model lacks the part or
 * size is not a positive multiple of 8. */
mend_status mend_bench_run(mend_sd_model *m, mend_bench_stage stage, int size, int reps, mend_bench_result *out,
                           mend_err *err);

/* Runs fn(ctx, thread) once on each of mend_get_threads() threads of the
 * engine's pool and returns when all are done (the bench's peak loop). */
void mend_bench_on_threads(void (*fn)(void *ctx, int thread), void *ctx);

#ifdef __cplusplus
}
#endif
#endif
