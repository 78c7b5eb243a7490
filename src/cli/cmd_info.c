/* `mend info MODEL [--vocab PATH]`: what a checkpoint is. Loads the text
 * encoder, UNet and VAE (so the architecture printed is the one the loaders
 * detected, and a model that would not load says why), and prints the
 * layout, files, per-component architecture, dtypes and parameter counts,
 * and whether it is an inpainting model. */
#include "cli/cli.h"
#include "mend/model.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char *info_usage = "usage: mend info MODEL [--vocab PATH]";

static void print_dtypes(const int *n)
{
    const char *sep = "";
    for (int d = 0; d < MEND_INFO_DTYPES; d++) {
        if (n[d]) {
            printf("%s%s %d", sep, mend_info_dtype_name(d), n[d]);
            sep = ", ";
        }
    }
    if (!*sep)
        printf("none");
}

static void print_list(const int *v, int n)
{
    for (int i = 0; i < n; i++)
        printf("%s%d", i ? " " : "", v[i]);
}

static void print_params(int64_t n)
{
    printf("%lld parameters (%.1fM)", (long long)n, (double)n / 1e6);
}

static void print_part_footer(const mend_part_info *p)
{
    printf("              dtypes ");
    print_dtypes(p->dtypes);
    printf("; ");
    print_params(p->params);
    printf("\n");
}

static void print_unet(const mend_model_info *m)
{
    printf("unet:         in_channels %d, out_channels %d, model_channels %d, channel_mult ", m->unet_arch.in_channels,
           m->unet_arch.out_channels, m->unet_arch.model_channels);
    print_list(m->unet_arch.mult, m->unet_arch.levels);
    printf(", %d res blocks, attention at levels", m->unet_arch.num_res_blocks);
    for (int i = 0; i < m->unet_arch.levels; i++)
        if (m->unet_arch.attn[i])
            printf(" %d", i);
    printf(", %d heads, context %d, transformer depth %d, %s projections\n", m->unet_arch.num_heads,
           m->unet_arch.context_dim, m->unet_arch.transformer_depth,
           m->unet_arch.linear_proj ? "linear" : "1x1 conv");
    print_part_footer(&m->unet);
}

static void print_vae(const mend_model_info *m)
{
    printf("vae:          ch %d, ch_mult ", m->vae_arch.ch);
    print_list(m->vae_arch.mult, m->vae_arch.levels);
    int enc = m->vae_arch.has_encoder, dec = m->vae_arch.has_decoder;
    printf(", %d res blocks, z_channels %d, in_channels %d, %s\n", m->vae_arch.num_res_blocks,
           m->vae_arch.z_channels, m->vae_arch.in_channels,
           enc && dec ? "encoder + decoder" : enc ? "encoder only" : "decoder only");
    print_part_footer(&m->vae);
}

static void print_clip(const mend_model_info *m)
{
    printf("text encoder: CLIP width %d, %d layers, %d heads, mlp %d, vocab %d, %d positions\n", m->clip_arch.width,
           m->clip_arch.layers, m->clip_arch.heads, m->clip_arch.mlp, m->clip_arch.vocab, m->clip_arch.max_pos);
    print_part_footer(&m->text_encoder);
}

static void print_files(const mend_model_info *m)
{
    for (int i = 0; i < m->nfiles; i++)
        printf("file:         %s (%d tensors)\n", m->files[i].path, m->files[i].tensors);
    printf("dtypes:       ");
    print_dtypes(m->dtypes);
    printf(" (tensors per dtype, all files)\n");
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* A vocabulary is looked for (and the tokenizer loaded) only where one is
 * named or the model has a tokenizer/ folder; otherwise info says none. */
static int has_own_tokenizer(const char *model)
{
    char p[4096];
    struct stat st;
    if (stat(model, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(p, sizeof p, "%s/tokenizer/vocab.json", model);
        return file_exists(p);
    }
    const char *slash = strrchr(model, '/');
    if (slash)
        snprintf(p, sizeof p, "%.*s/tokenizer/vocab.json", (int)(slash - model), model);
    else
        snprintf(p, sizeof p, "./tokenizer/vocab.json");
    return file_exists(p);
}

static void print_model(const mend_model_info *m)
{
    printf("model:        %s\n", m->path);
    printf("layout:       %s\n", m->diffusers ? "diffusers folder" : "single-file (LDM/A1111)");
    print_files(m);
    print_unet(m);
    print_vae(m);
    print_clip(m);
    printf("total:        ");
    print_params(m->unet.params + m->vae.params + m->text_encoder.params);
    printf("\n");
    int in = m->unet_arch.in_channels;
    printf("inpainting:   %s (UNet in_channels %d)\n", in == 9 ? "yes" : "no", in);
    if (m->vocab_path)
        printf("vocabulary:   %s (%d tokens)\n", m->vocab_path, m->vocab_size);
    else
        printf("vocabulary:   none (pass --vocab PATH to check one)\n");
}

int cmd_info(int argc, char **argv)
{
    cli_opt opts[] = {{"vocab", 1, NULL}};
    const char *pos[1];
    int npos;
    if (cli_parse(argc, argv, opts, 1, pos, 1, &npos) != 0)
        return 2;
    if (npos != 1)
        return cli_errorf("info: missing MODEL\n%s", info_usage);
    const char *vocab = cli_get(opts, 1, "vocab");
    unsigned parts = MEND_PART_TEXT_ENCODER | MEND_PART_UNET | MEND_PART_VAE;
    if (vocab || has_own_tokenizer(pos[0]))
        parts |= MEND_PART_TOKENIZER;
    mend_err err = {0};
    mend_sd_model *m;
    if (mend_model_load_parts(pos[0], vocab, parts, &m, &err) != MEND_OK)
        return cli_error(&err);
    mend_model_info info;
    mend_model_get_info(m, &info);
    print_model(&info);
    mend_model_free(m);
    return 0;
}
