/* TEMPORARY placeholder until this component lands; every call fails. Delete this file when it does. */
#include "model/clip.h"
#include "model/diffusers.h"
#include "model/taesd.h"
#include "model/tokenizer.h"
#include "model/unet.h"
#include "model/vae.h"

#define NYI(err) mend_fail(err, MEND_E_ARCH, "%s: not implemented yet", __func__)

mend_status mend_tokenizer_load(const char *p, mend_tokenizer **o, mend_err *e) { *o = NULL; return NYI(e); }
void mend_tokenizer_free(mend_tokenizer *t) { (void)t; }
mend_status mend_tokenize(const mend_tokenizer *t, const char *s, int32_t **i, int *n, mend_err *e) { return NYI(e); }
mend_status mend_tokenize77(const mend_tokenizer *t, const char *s, int32_t o[MEND_CLIP_CTX], mend_err *e) { return NYI(e); }
const char *mend_token_text(const mend_tokenizer *t, int32_t id) { return NULL; }
int mend_tokenizer_vocab_size(const mend_tokenizer *t) { return 0; }
