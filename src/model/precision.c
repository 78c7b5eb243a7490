/* The public face of the compute precision: what "auto" means on this CPU,
 * and applying a job's choice to a loaded model. */
#include "core/err.h"
#include "kernels/kernels.h"
#include "model/sd_model.h"

static mend_sd_prec engine_prec(mend_precision p)
{
    switch (p) {
    case MEND_PRECISION_FP32:
        return MEND_SD_PREC_FP32;
    case MEND_PRECISION_BF16:
        return MEND_SD_PREC_BF16;
    default:
        return MEND_SD_PREC_AUTO;
    }
}

const char *mend_precision_name(mend_precision p, mend_err *err)
{
    const char *missing = NULL;
    int has = mend_cpu_has_bf16(&missing);
    if (p == MEND_PRECISION_BF16 && !has) {
        mend_fail(err, MEND_E_ARG, "precision bf16: this CPU lacks %s; use --precision fp32 or auto", missing);
        return NULL;
    }
    return p == MEND_PRECISION_FP32 || !has ? "fp32" : "bf16";
}

mend_status mend_model_set_precision(mend_sd_model *m, mend_precision p, const char **chosen, mend_err *err)
{
    return mend_sd_set_precision(m, engine_prec(p), chosen, err);
}
