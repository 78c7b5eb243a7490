/* `mend-dev make-model`: writes a random-weight SD 1.x checkpoint
 * (make_model.h) for tests and benchmarks. */
#include "cli/cli.h"
#include "dev.h"
#include "make_model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *make_model_usage =
    "usage: mend-dev make-model --arch sd1|sd1-inpaint --size tiny|full --dtype f32|f16|bf16 [--seed N]\n"
    "                           [--layout single|diffusers] [--part all|vae|vae-decoder [--vae-prefix]] OUT\n"
    "  single (default): OUT is a .safetensors file in the LDM/A1111 layout.\n"
    "  diffusers: OUT is a new folder (unet/, vae/, text_encoder/, scheduler/, model_index.json); no tokenizer/\n"
    "  is written, so pass --vocab to commands that tokenize, or copy a tokenizer/ folder into it.\n"
    "  --part vae / vae-decoder: OUT is a separate VAE file (.safetensors) with the model's VAE (all of it, or\n"
    "  decoder.* and post_quant_conv), the checkpoint's own weights for the same seed: LDM names as A1111's VAE\n"
    "  files (under first_stage_model. with --vae-prefix), or an AutoencoderKL's names with --layout diffusers.";

static int parse_seed(const char *v, uint64_t *out)
{
    if (!v) {
        *out = 0;
        return 1;
    }
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-') {
        cli_errorf("make-model: --seed '%s' is not a non-negative integer", v);
        return 0;
    }
    *out = x;
    return 1;
}

/* A required option whose value must be one of a set (checked by parse). */
#define REQUIRE_CHOICE(opt, parse, dst, choices)                                                     \
    do {                                                                                             \
        const char *v_ = cli_get(opts, nopts, opt);                                                  \
        if (!v_)                                                                                     \
            return cli_errorf("make-model: --%s is required (%s)\n%s", opt, choices, make_model_usage); \
        if (!parse(v_, dst))                                                                         \
            return cli_errorf("make-model: unknown --%s '%s' (expected %s)", opt, v_, choices);     \
    } while (0)

int cmd_make_model(int argc, char **argv)
{
    cli_opt opts[] = {{"arch", 1, NULL}, {"size", 1, NULL}, {"dtype", 1, NULL}, {"seed", 1, NULL},
                      {"layout", 1, NULL}, {"help", 0, NULL}, {"part", 1, NULL}, {"vae-prefix", 0, NULL}};
    int nopts = (int)(sizeof opts / sizeof *opts), npos;
    const char *pos[1];
    if (cli_parse(argc, argv, opts, nopts, pos, 1, &npos) != 0)
        return 2;
    if (cli_get(opts, nopts, "help")) {
        puts(make_model_usage);
        return 0;
    }
    mend_make_model_opts o = {.layout = MEND_MM_SINGLE};
    REQUIRE_CHOICE("arch", mend_mm_parse_arch, &o.arch, "sd1, sd1-inpaint");
    REQUIRE_CHOICE("size", mend_mm_parse_size, &o.size, "tiny, full");
    REQUIRE_CHOICE("dtype", mend_mm_parse_dtype, &o.dtype, "f32, f16, bf16");
    const char *layout = cli_get(opts, nopts, "layout");
    if (layout && !mend_mm_parse_layout(layout, &o.layout))
        return cli_errorf("make-model: unknown --layout '%s' (expected single, diffusers)", layout);
    const char *part = cli_get(opts, nopts, "part");
    if (part && !mend_mm_parse_part(part, &o.part))
        return cli_errorf("make-model: unknown --part '%s' (expected all, vae, vae-decoder)", part);
    o.vae_prefix = cli_get(opts, nopts, "vae-prefix") != NULL;
    if (!parse_seed(cli_get(opts, nopts, "seed"), &o.seed))
        return 1;
    if (npos != 1)
        return cli_errorf("make-model: missing the output path OUT\n%s", make_model_usage);
    mend_err err = {0};
    if (mend_make_model(&o, pos[0], &err) != MEND_OK)
        return cli_error(&err);
    return 0;
}
