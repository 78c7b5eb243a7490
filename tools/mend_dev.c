/* mend-dev: developer commands that stand on mend's internal headers and so
 * live outside the engine library and the user-facing `mend` binary:
 *   mend-dev eval COMPONENT ...     one component on reference inputs
 *   mend-dev make-model ...         a random-weight SD 1.x checkpoint
 * `mend eval` and `mend tools make-model` forward here (src/cli/main.c), so
 * the older spellings `mend-dev tools make-model` are accepted too. */
#include "cli/cli.h"
#include "dev.h"

#include <stdio.h>
#include <string.h>

static const char *usage =
    "mend-dev " MEND_VERSION " — mend's developer tool\n"
    "\n"
    "usage: mend-dev COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  eval COMPONENT --model PATH --in IN.safetensors --out OUT.safetensors [--vocab PATH] [--threads N]\n"
    "                                     run one component on reference inputs; COMPONENT is one of\n"
    "                                     tokenize (with --prompts FILE instead of --in), text-encoder, unet,\n"
    "                                     vae-encode, vae-decode, taesd-encode, taesd-decode\n"
    "  make-model --arch sd1|sd1-inpaint --size tiny|full --dtype f32|f16|bf16 [--seed N]\n"
    "             [--layout single|diffusers] OUT\n"
    "                                     write a random-weight SD 1.x checkpoint (single .safetensors file, or a\n"
    "                                     diffusers folder without tokenizer/: pass --vocab or add one)\n"
    "  make-lora --model MODEL [--rank 64] [--seed N] [--unet-only] OUT\n"
    "                                     a random fp16 kohya LoRA for every linear/conv layer of MODEL\n"
    "\n"
    "For taesd-*, --model is taesd_{encoder,decoder}.safetensors|.pth or a folder holding them.\n";

/* `mend-dev tools make-model ...`: the spelling `mend tools` forwards. */
static int tools(int argc, char **argv)
{
    if (argc < 2)
        return cli_errorf("tools: missing subcommand (make-model)");
    if (!strcmp(argv[1], "make-model"))
        return cmd_make_model(argc - 1, argv + 1);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
        return cmd_make_model(2, (char *[]){"make-model", "--help", NULL});
    return cli_errorf("tools: unknown subcommand '%s' (expected make-model)", argv[1]);
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    if (!strcmp(cmd, "eval"))
        return cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "make-model"))
        return cmd_make_model(argc - 1, argv + 1);
    if (!strcmp(cmd, "make-lora"))
        return cmd_make_lora(argc - 1, argv + 1);
    if (!strcmp(cmd, "tools"))
        return tools(argc - 1, argv + 1);
    if (!*cmd || !strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return *cmd ? 0 : 2;
    }
    fprintf(stderr, "mend-dev: unknown command '%s' (see mend-dev --help)\n", cmd);
    return 2;
}
