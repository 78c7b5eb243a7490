/* mend-dev: the developer tool (not part of libmend). Subcommands return the
 * process exit code. */
#ifndef MEND_TOOLS_DEV_H
#define MEND_TOOLS_DEV_H

int cmd_eval(int argc, char **argv);
/* argv[0] is "make-model". */
int cmd_make_model(int argc, char **argv);
/* argv[0] is "make-lora": a random kohya LoRA for a model (benchmarks). */
int cmd_make_lora(int argc, char **argv);

#endif
