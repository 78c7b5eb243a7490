/* TEMPORARY placeholder until this command lands. Delete this file when it does. */
#include "cli/cli.h"

int cmd_tools(int argc, char **argv) { return cli_errorf("tools: not implemented yet"); }
