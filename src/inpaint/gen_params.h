/* Everything a txt2img / img2img / inpaint job takes, named after A1111's
 * API fields, with A1111's UI defaults (mend_gen_params_default) or its
 * API defaults (mend_gen_params_api_default). */
#ifndef MEND_INPAINT_GEN_PARAMS_H
#define MEND_INPAINT_GEN_PARAMS_H

#include <stdint.h>

#include "core/err.h"
#include "core/rng.h"

/* The parameter struct and its defaults are part of the public API:
 * include/mend/mend.h. */

#endif
