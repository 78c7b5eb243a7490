#ifndef MEND_BENCH_H
#define MEND_BENCH_H

#include "model/sd_model.h"

double bench_now(void);
int bench_inpaint(mend_sd_model *m);

#endif
