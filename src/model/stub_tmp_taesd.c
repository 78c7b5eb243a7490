/* TEMPORARY placeholder until this component lands; every call fails. Delete this file when it does. */
#include "model/clip.h"
#include "model/diffusers.h"
#include "model/taesd.h"
#include "model/tokenizer.h"
#include "model/unet.h"
#include "model/vae.h"

#define NYI(err) mend_fail(err, MEND_E_ARCH, "%s: not implemented yet", __func__)

mend_status mend_taesd_load(const mend_tf *a, const mend_tf *b, mend_taesd **o, mend_err *e) { *o = NULL; return NYI(e); }
void mend_taesd_free(mend_taesd *t) { (void)t; }
int64_t mend_taesd_params(const mend_taesd *t) { return 0; }
mend_status mend_taesd_encode(const mend_taesd *t, const float *i, int N, int H, int W, float *l, mend_err *e) { return NYI(e); }
mend_status mend_taesd_decode(const mend_taesd *t, const float *l, int N, int h, int w, float *i, mend_err *e) { return NYI(e); }
