/* TEMPORARY placeholder until this component lands; every call fails. Delete this file when it does. */
#include "model/clip.h"
#include "model/diffusers.h"
#include "model/taesd.h"
#include "model/tokenizer.h"
#include "model/unet.h"
#include "model/vae.h"

#define NYI(err) mend_fail(err, MEND_E_ARCH, "%s: not implemented yet", __func__)

mend_status mend_vae_load(const mend_wload *l, mend_vae **o, mend_err *e) { *o = NULL; return NYI(e); }
void mend_vae_free(mend_vae *v) { (void)v; }
const mend_vae_arch *mend_vae_get_arch(const mend_vae *v) { return NULL; }
int64_t mend_vae_params(const mend_vae *v) { return 0; }
mend_status mend_vae_encode(const mend_vae *v, const float *x, int N, int H, int W, float *m, mend_err *e) { return NYI(e); }
mend_status mend_vae_decode(const mend_vae *v, const float *z, int N, int h, int w, float *o, mend_err *e) { return NYI(e); }
double mend_vae_encode_flops(const mend_vae *v, int N, int H, int W) { return 0; }
double mend_vae_decode_flops(const mend_vae *v, int N, int h, int w) { return 0; }
