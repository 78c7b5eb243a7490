/* TEMPORARY placeholder until this component lands; every call fails. Delete this file when it does. */
#include "model/clip.h"
#include "model/diffusers.h"
#include "model/taesd.h"
#include "model/tokenizer.h"
#include "model/unet.h"
#include "model/vae.h"

#define NYI(err) mend_fail(err, MEND_E_ARCH, "%s: not implemented yet", __func__)

mend_status mend_clip_load(const mend_wload *l, mend_clip **o, mend_err *e) { *o = NULL; return NYI(e); }
void mend_clip_free(mend_clip *c) { (void)c; }
const mend_clip_arch *mend_clip_get_arch(const mend_clip *c) { return NULL; }
int64_t mend_clip_params(const mend_clip *c) { return 0; }
mend_status mend_clip_encode(const mend_clip *c, const int32_t *ids, int n, int T, int k, float *o, mend_err *e) { return NYI(e); }
