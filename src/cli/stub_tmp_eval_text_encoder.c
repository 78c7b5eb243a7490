/* TEMPORARY placeholder until this eval lands. Delete this file when it does. */
#include "cli/cli.h"
#include "cli/eval.h"

#define NYI() cli_errorf("eval %s: not implemented yet", a->component)
int eval_text_encoder(const eval_args *a) { return NYI(); }
