/* TEMPORARY: placeholders until each component lands; every call fails. */
#include "model/clip.h"
#include "model/diffusers.h"
#include "model/taesd.h"
#include "model/tokenizer.h"
#include "model/unet.h"
#include "model/vae.h"

#define NYI(err) mend_fail(err, MEND_E_ARCH, "%s: not implemented yet", __func__)

#ifndef HAVE_TOKENIZER
mend_status mend_tokenizer_load(const char *p, mend_tokenizer **o, mend_err *e) { *o = NULL; return NYI(e); }
void mend_tokenizer_free(mend_tokenizer *t) { (void)t; }
mend_status mend_tokenize(const mend_tokenizer *t, const char *s, int32_t **i, int *n, mend_err *e) { return NYI(e); }
mend_status mend_tokenize77(const mend_tokenizer *t, const char *s, int32_t o[MEND_CLIP_CTX], mend_err *e) { return NYI(e); }
const char *mend_token_text(const mend_tokenizer *t, int32_t id) { return NULL; }
int mend_tokenizer_vocab_size(const mend_tokenizer *t) { return 0; }
#endif
#ifndef HAVE_CLIP
mend_status mend_clip_load(const mend_wload *l, mend_clip **o, mend_err *e) { *o = NULL; return NYI(e); }
void mend_clip_free(mend_clip *c) { (void)c; }
const mend_clip_arch *mend_clip_get_arch(const mend_clip *c) { return NULL; }
int64_t mend_clip_params(const mend_clip *c) { return 0; }
mend_status mend_clip_encode(const mend_clip *c, const int32_t *ids, int n, int T, int k, float *o, mend_err *e) { return NYI(e); }
#endif
#ifndef HAVE_UNET
mend_status mend_unet_load(const mend_wload *l, mend_unet **o, mend_err *e) { *o = NULL; return NYI(e); }
void mend_unet_free(mend_unet *u) { (void)u; }
const mend_unet_arch *mend_unet_get_arch(const mend_unet *u) { return NULL; }
int64_t mend_unet_params(const mend_unet *u) { return 0; }
void mend_unet_set_tap(mend_unet *u, mend_unet_tap_fn fn, void *user) { }
mend_status mend_unet_forward(mend_unet *u, const float *x, int B, int H, int W, const float *t, const float *c, int T, float *o, mend_err *e) { return NYI(e); }
double mend_unet_flops(const mend_unet *u, int B, int H, int W, int T) { return 0; }
#endif
#ifndef HAVE_VAE
mend_status mend_vae_load(const mend_wload *l, mend_vae **o, mend_err *e) { *o = NULL; return NYI(e); }
void mend_vae_free(mend_vae *v) { (void)v; }
const mend_vae_arch *mend_vae_get_arch(const mend_vae *v) { return NULL; }
int64_t mend_vae_params(const mend_vae *v) { return 0; }
mend_status mend_vae_encode(const mend_vae *v, const float *x, int N, int H, int W, float *m, mend_err *e) { return NYI(e); }
mend_status mend_vae_decode(const mend_vae *v, const float *z, int N, int h, int w, float *o, mend_err *e) { return NYI(e); }
double mend_vae_encode_flops(const mend_vae *v, int N, int H, int W) { return 0; }
double mend_vae_decode_flops(const mend_vae *v, int N, int h, int w) { return 0; }
#endif
#ifndef HAVE_TAESD
mend_status mend_taesd_load(const mend_tf *a, const mend_tf *b, mend_taesd **o, mend_err *e) { *o = NULL; return NYI(e); }
void mend_taesd_free(mend_taesd *t) { (void)t; }
int64_t mend_taesd_params(const mend_taesd *t) { return 0; }
mend_status mend_taesd_encode(const mend_taesd *t, const float *i, int N, int H, int W, float *l, mend_err *e) { return NYI(e); }
mend_status mend_taesd_decode(const mend_taesd *t, const float *l, int N, int h, int w, float *i, mend_err *e) { return NYI(e); }
#endif
#ifndef HAVE_DIFFUSERS
mend_status mend_diffusers_rename_unet(mend_tf *f, mend_err *e) { return NYI(e); }
mend_status mend_diffusers_rename_vae(mend_tf *f, mend_err *e) { return NYI(e); }
#endif
