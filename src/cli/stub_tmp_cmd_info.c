/* TEMPORARY placeholder until this command lands. Delete this file when it does. */
#include "cli/cli.h"

int cmd_info(int argc, char **argv) { return cli_errorf("info: not implemented yet"); }
