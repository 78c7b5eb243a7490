/* TEMPORARY placeholders until each component's eval lands. */
#include "cli/cli.h"
#include "cli/eval.h"

#define NYI() cli_errorf("eval %s: not implemented yet", a->component)
#ifndef HAVE_EVAL_TOKENIZE
int eval_tokenize(const eval_args *a) { return NYI(); }
#endif
#ifndef HAVE_EVAL_TEXT_ENCODER
int eval_text_encoder(const eval_args *a) { return NYI(); }
#endif
#ifndef HAVE_EVAL_UNET
int eval_unet(const eval_args *a) { return NYI(); }
#endif
#ifndef HAVE_EVAL_VAE
int eval_vae_encode(const eval_args *a) { return NYI(); }
int eval_vae_decode(const eval_args *a) { return NYI(); }
#endif
#ifndef HAVE_EVAL_TAESD
int eval_taesd_encode(const eval_args *a) { return NYI(); }
int eval_taesd_decode(const eval_args *a) { return NYI(); }
#endif
