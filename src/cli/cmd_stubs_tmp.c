/* TEMPORARY placeholders for subcommands still being written. */
#include "cli/cli.h"

#ifndef HAVE_CMD_INFO
int cmd_info(int argc, char **argv) { return cli_errorf("info: not implemented yet"); }
#endif
#ifndef HAVE_CMD_TOOLS
int cmd_tools(int argc, char **argv) { return cli_errorf("tools: not implemented yet"); }
#endif
