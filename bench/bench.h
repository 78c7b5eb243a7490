/* mend-bench's own helpers (bench.c, bench_inpaint.c). */
#ifndef MEND_BENCH_BENCH_H
#define MEND_BENCH_BENCH_H

#include "mend/mend.h"

double bench_now(void);
/* lora: a network of the LoRA folder for the LCM-LoRA rows, or NULL. */
int bench_inpaint(mend_sd_model *m, const char *lora);

#endif
