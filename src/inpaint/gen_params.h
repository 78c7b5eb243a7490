/* Everything a txt2img / img2img / inpaint job takes, named after A1111's
 * API fields. The struct is public (include/mend/mend.h); its defaults,
 * ranges and names come from the one parameter table (include/mend/params.h,
 * src/inpaint/params_table.c). */
#ifndef MEND_INPAINT_GEN_PARAMS_H
#define MEND_INPAINT_GEN_PARAMS_H

#include <stdint.h>

#include "core/err.h"
#include "core/rng.h"
#include "mend/params.h"

#endif
