/* `mend info MODEL [--vocab PATH]`: what a checkpoint is. Loads the text
 * encoder, UNet and VAE (so the architecture printed is the one the loaders
 * detected, and a model that would not load says why), and prints the
 * layout, files, per-component architecture, dtypes and parameter counts,
 * and whether it is an inpainting model. */
#include "cli/cli.h"
#include "model/sd_model.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char *info_usage = "usage: mend info MODEL [--vocab PATH]";

/* Tensor counts per dtype, over the tensors whose name starts with prefix. */
typedef struct dtype_counts {
    int n[MEND_DT_BOOL + 1];
} dtype_counts;

static void count_dtypes(const mend_tf *f, const char *prefix, dtype_counts *c)
{
    size_t pl = strlen(prefix);
    for (int i = 0; i < f->count; i++)
        if (!strncmp(f->tensors[i].name, prefix, pl) && (unsigned)f->tensors[i].dtype <= MEND_DT_BOOL)
            c->n[f->tensors[i].dtype]++;
}

static void print_dtypes(const dtype_counts *c)
{
    const char *sep = "";
    for (int d = 0; d <= MEND_DT_BOOL; d++) {
        if (c->n[d]) {
            printf("%s%s %d", sep, mend_dtype_name((mend_dtype)d), c->n[d]);
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

static void print_component_footer(const mend_tf *f, const char *prefix, int64_t params)
{
    dtype_counts c = {{0}};
    count_dtypes(f, prefix, &c);
    printf("              dtypes ");
    print_dtypes(&c);
    printf("; ");
    print_params(params);
    printf("\n");
}

static void print_unet(const mend_sd_model *m)
{
    const mend_unet_arch *a = mend_unet_get_arch(m->unet);
    printf("unet:         in_channels %d, out_channels %d, model_channels %d, channel_mult ", a->in_channels,
           a->out_channels, a->model_channels);
    print_list(a->mult, a->levels);
    printf(", %d res blocks, attention at levels", a->num_res_blocks);
    for (int i = 0; i < a->levels; i++)
        if (a->attn[i])
            printf(" %d", i);
    printf(", %d heads, context %d, transformer depth %d, %s projections\n", a->num_heads, a->context_dim,
           a->transformer_depth, a->linear_proj ? "linear" : "1x1 conv");
    print_component_footer(m->unet_file, m->unet_prefix, mend_unet_params(m->unet));
}

static void print_vae(const mend_sd_model *m)
{
    const mend_vae_arch *a = mend_vae_get_arch(m->vae);
    printf("vae:          ch %d, ch_mult ", a->ch);
    print_list(a->mult, a->levels);
    printf(", %d res blocks, z_channels %d, in_channels %d, %s\n", a->num_res_blocks, a->z_channels, a->in_channels,
           a->has_encoder && a->has_decoder ? "encoder + decoder" : a->has_encoder ? "encoder only" : "decoder only");
    print_component_footer(m->vae_file, m->vae_prefix, mend_vae_params(m->vae));
}

static void print_clip(const mend_sd_model *m)
{
    const mend_clip_arch *a = mend_clip_get_arch(m->clip);
    printf("text encoder: CLIP width %d, %d layers, %d heads, mlp %d, vocab %d, %d positions\n", a->width, a->layers,
           a->heads, a->mlp, a->vocab, a->max_pos);
    print_component_footer(m->te_file, m->te_prefix, mend_clip_params(m->clip));
}

static void print_files(const mend_sd_model *m)
{
    const mend_tf *files[3] = {m->unet_file, m->vae_file, m->te_file};
    dtype_counts all = {{0}};
    for (int i = 0; i < 3; i++) {
        int seen = 0;
        for (int k = 0; k < i; k++)
            seen |= files[k] == files[i];
        if (!files[i] || seen)
            continue;
        printf("file:         %s (%d tensors)\n", files[i]->path, files[i]->count);
        count_dtypes(files[i], "", &all);
    }
    printf("dtypes:       ");
    print_dtypes(&all);
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

static void print_model(const mend_sd_model *m)
{
    printf("model:        %s\n", m->path);
    printf("layout:       %s\n", m->diffusers ? "diffusers folder" : "single-file (LDM/A1111)");
    print_files(m);
    print_unet(m);
    print_vae(m);
    print_clip(m);
    int64_t total = mend_unet_params(m->unet) + mend_vae_params(m->vae) + mend_clip_params(m->clip);
    printf("total:        ");
    print_params(total);
    printf("\n");
    int in = mend_unet_get_arch(m->unet)->in_channels;
    printf("inpainting:   %s (UNet in_channels %d)\n", in == 9 ? "yes" : "no", in);
    if (m->tokenizer)
        printf("vocabulary:   %s (%d tokens)\n", m->vocab_path, mend_tokenizer_vocab_size(m->tokenizer));
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
    unsigned comps = MEND_COMP_CLIP | MEND_COMP_UNET | MEND_COMP_VAE;
    if (vocab || has_own_tokenizer(pos[0]))
        comps |= MEND_COMP_TOKENIZER;
    mend_err err = {0};
    mend_sd_model *m;
    if (mend_sd_load(pos[0], vocab, comps, &m, &err) != MEND_OK)
        return cli_error(&err);
    print_model(m);
    mend_sd_free(m);
    return 0;
}
