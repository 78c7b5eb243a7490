/* TEMPORARY placeholder until this eval lands. Delete this file when it does. */
#include "cli/cli.h"
#include "cli/eval.h"

#define NYI() cli_errorf("eval %s: not implemented yet", a->component)
int eval_vae_encode(const eval_args *a) { return NYI(); }
int eval_vae_decode(const eval_args *a) { return NYI(); }
