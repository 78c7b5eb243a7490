/* mend: command-line entry. Dispatches to one subcommand per file. */
#include "cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *usage =
    "mend " MEND_VERSION " — Stable Diffusion inpainting engine\n"
    "\n"
    "usage: mend COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  txt2img --model MODEL [options] PROMPT\n"
    "  img2img --model MODEL --init IMAGE [options] PROMPT\n"
    "  inpaint --model MODEL --init IMAGE (--mask MASK | --sketch SKETCH) [options] PROMPT\n"
    "                                     generate like A1111 (its API option names, its UI defaults); the PNGs\n"
    "                                     carry A1111's infotext; see mend txt2img --help for every option\n"
    "  png-info FILE [--all]              print the generation parameters (A1111 infotext) stored in a PNG\n"
    "  serve [--model PATH] [--models-dir DIR] [--port 7860] [--listen] [--api-auth U:P]\n"
    "                                     A1111-compatible HTTP API (/sdapi/v1/img2img, txt2img, progress, ...)\n"
    "  info MODEL [--vocab PATH]          print the detected architecture, dtypes and parameter counts\n"
    "  completion bash                    print a bash completion script (source it, or put it in\n"
    "                                     /etc/bash_completion.d/mend)\n"
    "  --version                          print the version\n"
    "  eval COMPONENT ...                 developer commands of mend-dev (built from tools/ beside mend):\n"
    "  tools make-model ...               one component on reference inputs; a random-weight checkpoint;\n"
    "                                     see mend-dev --help\n"
    "\n"
    "MODEL is a single-file checkpoint (.safetensors, or a .ckpt written by torch.save) or a diffusers folder\n"
    "(unet/, vae/, text_encoder/). .ckpt/.pth files are read without running any code from them: only tensors\n"
    "are taken. For taesd-*, --model is taesd_{encoder,decoder}.safetensors|.pth or a folder holding them.\n"
    "The CLIP vocabulary comes from the model's tokenizer/ folder, else --vocab (bpe_simple_vocab_16e6.txt.gz,\n"
    "or a folder / vocab.json with merges.txt beside it).\n"
    "\n"
    "Seeds follow A1111 (--rng gpu|nv|cpu, bit-exact). Exception: A1111 draws the noise of DPM++ SDE,\n"
    "DPM++ 2M SDE and DPM++ 3M SDE from torchsde's Brownian tree, which mend does not reproduce yet; those\n"
    "samplers use seed-generator noise here, so their images differ from A1111's for the same seed.\n";

/* `mend eval` and `mend tools`: run mend-dev from the folder of this
 * executable with the same arguments. Those commands stand on the engine's
 * internal headers, so they live in the developer tool, not in mend. */
static int forward_to_dev(char **argv)
{
    char self[PATH_MAX], dev[PATH_MAX + 16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return cli_errorf("%s: cannot find this executable's folder to run mend-dev", argv[0]);
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    snprintf(dev, sizeof dev, "%s/mend-dev", self);
    argv[-1] = dev;
    execv(dev, argv - 1);
    return cli_errorf("%s is a developer command of mend-dev, which is not beside mend (%s: %s)", argv[0], dev,
                      strerror(errno));
}

int main(int argc, char **argv)
{
    /* Keep freed activation buffers in the heap instead of returning them to
     * the kernel after every layer: the next layer reuses the same pages
     * instead of faulting in fresh zeroed ones. Peak memory is unchanged. */
    mallopt(M_MMAP_THRESHOLD, 512 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(usage, stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("mend %s\n", MEND_VERSION);
        return 0;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {{"info", cmd_info}, {"txt2img", cmd_txt2img}, {"img2img", cmd_img2img}, {"inpaint", cmd_inpaint},
                {"png-info", cmd_png_info}, {"serve", cmd_serve}, {"completion", cmd_completion}};
    if (!strcmp(argv[1], "eval") || !strcmp(argv[1], "tools"))
        return forward_to_dev(argv + 1);
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
        if (!strcmp(argv[1], cmds[i].name))
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "mend: unknown command '%s' (see mend --help)\n", argv[1]);
    return 2;
}
