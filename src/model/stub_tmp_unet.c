/* TEMPORARY placeholder until this component lands; every call fails. Delete this file when it does. */
#include "model/clip.h"
#include "model/diffusers.h"
#include "model/taesd.h"
#include "model/tokenizer.h"
#include "model/unet.h"
#include "model/vae.h"

#define NYI(err) mend_fail(err, MEND_E_ARCH, "%s: not implemented yet", __func__)

mend_status mend_unet_load(const mend_wload *l, mend_unet **o, mend_err *e) { *o = NULL; return NYI(e); }
void mend_unet_free(mend_unet *u) { (void)u; }
const mend_unet_arch *mend_unet_get_arch(const mend_unet *u) { return NULL; }
int64_t mend_unet_params(const mend_unet *u) { return 0; }
void mend_unet_set_tap(mend_unet *u, mend_unet_tap_fn fn, void *user) { }
mend_status mend_unet_forward(mend_unet *u, const float *x, int B, int H, int W, const float *t, const float *c, int T, float *o, mend_err *e) { return NYI(e); }
double mend_unet_flops(const mend_unet *u, int B, int H, int W, int T) { return 0; }
