/* TEMPORARY placeholder until this component lands; every call fails. Delete this file when it does. */
#include "model/clip.h"
#include "model/diffusers.h"
#include "model/taesd.h"
#include "model/tokenizer.h"
#include "model/unet.h"
#include "model/vae.h"

#define NYI(err) mend_fail(err, MEND_E_ARCH, "%s: not implemented yet", __func__)

mend_status mend_diffusers_rename_unet(mend_tf *f, mend_err *e) { return NYI(e); }
mend_status mend_diffusers_rename_vae(mend_tf *f, mend_err *e) { return NYI(e); }
