/* `mend txt2img | img2img | inpaint`: one A1111 generation job from the
 * command line. Options are named after A1111's API fields and default to
 * its UI values (mend_gen_params_default). Everything the user gave is
 * checked (options, numbers, ranges, images and their sizes) before the
 * model is loaded, so a bad input fails fast with one "mend: ..." line and
 * writes nothing. */
#include "cli/cli.h"
#include "cli/generate.h"
#include "mend/mend.h"
#include "mend/model.h"
#include "mend/params.h"
#include "mend/preview.h"
#include "mend/styles.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { CMD_TXT2IMG = 1, CMD_IMG2IMG = 2, CMD_INPAINT = 4 };

/* The options that are not generation parameters (those come from the
 * parameter table, include/mend/params.h). */
static const cli_gen_opt file_opts[] = {
    {"help", 0, MEND_SCOPE_ALL, NULL, 0},     {"model", 1, MEND_SCOPE_ALL, NULL, 0},
    {"vocab", 1, MEND_SCOPE_ALL, NULL, 0},    {"threads", 1, MEND_SCOPE_ALL, NULL, 0},
    {"output", 1, MEND_SCOPE_ALL, NULL, 0},   {"outdir", 1, MEND_SCOPE_ALL, NULL, 0},
    {"quiet", 0, MEND_SCOPE_ALL, NULL, 0},    {"init", 1, MEND_SCOPE_IMG2IMG, NULL, 0},
    {"image", 1, MEND_SCOPE_IMG2IMG, NULL, 0}, {"mask", 1, MEND_SCOPE_INPAINT, NULL, 0},
    {"sketch", 1, MEND_SCOPE_INPAINT, NULL, 0}, {"max-memory", 1, MEND_SCOPE_ALL, NULL, 0},
    {"init-img", 1, MEND_SCOPE_IMG2IMG, NULL, 0}, /* stable-diffusion.cpp's name */
    {"lora-dir", 1, MEND_SCOPE_ALL, NULL, 0}, {"lora-model-dir", 1, MEND_SCOPE_ALL, NULL, 0},
    {"max-pixels", 1, MEND_SCOPE_ALL, NULL, 0}, {"embeddings-dir", 1, MEND_SCOPE_ALL, NULL, 0},
    {"styles", 1, MEND_SCOPE_ALL, NULL, 0},   {"styles-file", 1, MEND_SCOPE_ALL, NULL, 0},
    {"vae", 1, MEND_SCOPE_ALL, NULL, 0},      {"taesd", 1, MEND_SCOPE_ALL, NULL, 0},
};
#define N_FILE_OPTS ((int)(sizeof file_opts / sizeof *file_opts))
#define MAX_GEN_OPTS 128
#define MAX_REPEATS 64 /* init images: the batch size's upper end */

static const char *usage_head =
    "usage: mend txt2img --model MODEL [options] [PROMPT]\n"
    "       mend img2img --model MODEL --init IMAGE [options] [PROMPT]\n"
    "       mend inpaint --model MODEL --init IMAGE (--mask MASK | --sketch SKETCH) [options] [PROMPT]\n"
    "\n"
    "Option names follow A1111's API fields; defaults (in brackets) are A1111's UI defaults.\n"
    "  --model PATH                 checkpoint (.safetensors) or diffusers folder (required)\n"
    "  --vocab PATH                 CLIP vocabulary when the model has no tokenizer/ folder\n"
    "  --threads N                  CPU threads, 0 = all (0)\n"
    "  -o, --output FILE            write here (replacing a file there); with several images, image i > 1 goes\n"
    "                               to FILE with -1, -2, ... before the extension (out.png, out-1.png, ...).\n"
    "                               The extension picks the format: .png (infotext in a text chunk), .jpg/.jpeg\n"
    "                               (quality 80) or .webp (lossy, quality 80), infotext in EXIF as A1111\n"
    "  --outdir DIR                 without -o, A1111's naming: DIR/{txt2img,img2img}-images/YYYY-MM-DD/\n"
    "                               NNNNN-SEED.png, NNNNN = the folder's highest number + 1 (./outputs)\n"
    "  -q, --quiet                  no progress bar\n"
    "  --lora-dir DIR               LoRA/LyCORIS networks for <lora:NAME:MULT> prompt tags (models/Lora);\n"
    "                               --lora-model-dir DIR is the same\n"
    "  --embeddings-dir DIR         textual-inversion embeddings named in prompts by file stem (embeddings)\n"
    "  --vae FILE                   a separate VAE (.safetensors/.pt/.ckpt, LDM or diffusers names; decoder-only:\n"
    "                               the checkpoint's own VAE encodes) in place of the checkpoint's own; None: the\n"
    "                               checkpoint's own (without --vae: NAME.vae.pt/.ckpt/.safetensors beside it)\n"
    "  --taesd PATH                 decode the images with TAESD (taesd_decoder.safetensors/.pth or its folder)\n"
    "  --max-memory SIZE            refuse a job whose estimated peak (beyond the model) is larger, e.g. 6G\n"
    "                               (what the machine has available when the job starts)\n"
    "  --styles NAME                apply the A1111 style NAME of the styles file to both prompts (once per\n"
    "                               style, in order: \"{prompt}\" in a style is replaced, else it is appended)\n"
    "  --styles-file FILE           A1111's styles.csv (./styles.csv); repeatable, and a * or ? in the file\n"
    "                               name matches its folder's files (A1111's several styles files)\n"
    CLI_MAX_PIXELS_HELP;

static void print_usage(void)
{
    fputs(usage_head, stdout);
    cli_param_help(stdout, MEND_SCOPE_ALL);
    fputs("txt2img hires fix (--enable-hr):\n", stdout);
    cli_param_help(stdout, MEND_SCOPE_TXT2IMG);
    fputs("img2img and inpaint:\n"
          "  --init IMAGE, --image IMAGE  the init image (PNG, JPEG or WebP; transparency is flattened on white);\n"
          "                               given k > 1 times, the batch is the k images, one each (A1111's\n"
          "                               init_images: --batch-size must be at least k and becomes k)\n",
          stdout);
    cli_param_help(stdout, MEND_SCOPE_IMG2IMG);
    fputs("inpaint:\n"
          "  --mask FILE                  white = repaint (greys partly); a mask with transparency uses its alpha\n"
          "                               (> 128 = repaint). Of another size than the image it is used as A1111\n"
          "                               does: resized to WxH (whole picture); only masked crops each image at the\n"
          "                               mask's region, in the mask's pixels\n"
          "  --sketch FILE                Inpaint sketch: the init image with coloured strokes, same size; the\n"
          "                               strokes are both the new content and the mask\n",
          stdout);
    cli_param_help(stdout, MEND_SCOPE_INPAINT);
    fputs("\nEach saved image's path and seed are printed; the PNG's \"parameters\" text is A1111's infotext\n"
          "(see mend png-info). Ctrl-C finishes the current batch from its latest prediction and saves it.\n",
          stdout);
}

typedef struct gen_args {
    int command;
    const char *kind; /* "txt2img" / "img2img": the default output folder */
    const char *model, *vocab, *init, *mask, *sketch, *output, *outdir, *vae, *taesd;
    int threads, quiet;
    mend_gen_params p;
    /* repeatable options: every --init (-i, --image, --init-img) and --styles, in order */
    const char *inits[MAX_REPEATS], *styles[MAX_REPEATS], *styles_files[MAX_REPEATS];
    int ninit, nstyles, nstyles_files;
    char *styled_prompt, *styled_negative; /* the prompts with the styles (p points at them) */
} gen_args;

/* ---------------- command line ---------------- */

typedef struct gen_opts {
    cli_gen_opt g[MAX_GEN_OPTS];
    cli_opt o[MAX_GEN_OPTS];
    int n, n_params;
} gen_opts;

/* The file options and the table's; 0 when out of memory. */
static int gen_opts_init(gen_opts *t)
{
    memcpy(t->g, file_opts, sizeof file_opts);
    t->n_params = cli_param_options(t->g + N_FILE_OPTS, MAX_GEN_OPTS - N_FILE_OPTS);
    if (t->n_params < 0)
        return 0;
    t->n = N_FILE_OPTS + t->n_params;
    for (int k = 0; k < t->n; k++)
        t->o[k] = (cli_opt){t->g[k].name, t->g[k].takes_value, NULL};
    return 1;
}

static int command_scope_ok(int command, int scope)
{
    return mend_param_scope_applies(scope, command != CMD_TXT2IMG, command == CMD_INPAINT);
}

void cli_generate_words(FILE *f, const char *command)
{
    int cmd = !strcmp(command, "txt2img") ? CMD_TXT2IMG : !strcmp(command, "img2img") ? CMD_IMG2IMG : CMD_INPAINT;
    gen_opts *t = malloc(sizeof *t);
    if (t && gen_opts_init(t)) {
        for (int k = 0; k < t->n; k++)
            if (command_scope_ok(cmd, t->g[k].scope))
                fprintf(f, " --%s", t->g[k].name);
        cli_param_options_free(t->g + N_FILE_OPTS, t->n_params);
    }
    free(t);
}

static int takes_value(const gen_opts *t, const char *arg)
{
    return cli_takes_value(t->o, t->n, arg);
}

/* "-X" as its long name, or NULL. */
static const char *long_name(const gen_opts *t, const char *arg)
{
    if (arg[0] != '-' || !arg[1] || arg[2])
        return NULL;
    /* -o -q -h, and stable-diffusion.cpp's -m -i -t -b (batch count) */
    static const char shorts[][2][16] = {{"o", "--output"}, {"q", "--quiet"},   {"h", "--help"},
                                         {"m", "--model"},  {"i", "--init"},    {"t", "--threads"},
                                         {"b", "--batch-count"}};
    for (size_t k = 0; k < sizeof shorts / sizeof *shorts; k++)
        if (arg[1] == shorts[k][0][0])
            return shorts[k][1];
    static char buf[72];
    for (int k = 0; k < t->n; k++)
        if (t->g[k].param && cli_param_short(t->g[k].name) == arg[1]) {
            snprintf(buf, sizeof buf, "--%s", t->g[k].name);
            return buf;
        }
    return NULL;
}

/* The short options (-o, -q, -h and the table's -W, -H, -s, -p, -n) as
 * their long names (cli_parse knows only "--name"); option values are
 * copied as they are, even "-o". Returns a malloc'd argv with malloc'd
 * strings in `owned`. */
static char **expand_short_options(const gen_opts *t, int argc, char **argv, char **owned)
{
    char **out = malloc((size_t)(argc + 1) * sizeof *out);
    if (!out)
        return NULL;
    int options_end = 0;
    for (int i = 0; i < argc; i++) {
        out[i] = argv[i];
        owned[i] = NULL;
        options_end |= i > 0 && !strcmp(argv[i], "--"); /* cli_parse takes the rest as arguments */
        const char *l = i > 0 && !options_end ? long_name(t, argv[i]) : NULL;
        if (l && !(out[i] = owned[i] = strdup(l))) {
            for (int k = 0; k < i; k++)
                free(owned[k]);
            free(out);
            return NULL;
        }
        if (i > 0 && !options_end && takes_value(t, out[i]) && i + 1 < argc) {
            i++;
            out[i] = argv[i];
            owned[i] = NULL;
        }
    }
    out[argc] = NULL;
    return out;
}

static int collect_repeats(const gen_opts *t, int argc, char **args, gen_args *a)
{
    static const char *const init_names[] = {"init", "image", "init-img"}, *const style_names[] = {"styles"},
                             *const file_names[] = {"styles-file"};
    return cli_collect(t->o, t->n, argc, args, init_names, 3, a->inits, &a->ninit, MAX_REPEATS) ||
                   cli_collect(t->o, t->n, argc, args, style_names, 1, a->styles, &a->nstyles, MAX_REPEATS) ||
                   cli_collect(t->o, t->n, argc, args, file_names, 1, a->styles_files, &a->nstyles_files,
                               MAX_REPEATS)
               ? 2
               : 0;
}

static int scan_args(gen_opts *t, int argc, char **argv, const char **pos, int *npos, gen_args *a)
{
    char **owned = calloc((size_t)argc + 1, sizeof *owned);
    char **args = owned ? expand_short_options(t, argc, argv, owned) : NULL;
    if (!args) {
        free(owned);
        return cli_errorf("out of memory") + 1;
    }
    int rc = cli_parse(argc, args, t->o, t->n, pos, 1, npos);
    if (rc == 0)
        rc = collect_repeats(t, argc, args, a);
    /* option values point into argv, not into the expanded copies */
    free(args);
    for (int i = 0; i < argc; i++)
        free(owned[i]);
    free(owned);
    return rc;
}

static int read_args(gen_opts *t, int argc, char **argv, gen_args *a)
{
    const char *pos[1];
    int npos;
    int rc = scan_args(t, argc, argv, pos, &npos, a);
    if (rc)
        return rc;
    if (cli_get(t->o, t->n, "help")) {
        print_usage();
        return 0;
    }
    for (int k = 0; k < t->n; k++)
        if (t->o[k].value && !command_scope_ok(a->command, t->g[k].scope)) {
            cli_errorf("%s: --%s is only for %s", argv[0], t->o[k].name,
                       t->g[k].scope == MEND_SCOPE_INPAINT   ? "inpaint"
                       : t->g[k].scope == MEND_SCOPE_TXT2IMG ? "txt2img"
                                                              : "img2img and inpaint");
            return 2;
        }
    if (!cli_param_apply(t->o + N_FILE_OPTS, t->g + N_FILE_OPTS, t->n_params, &a->p))
        return 2;
    if (cli_get(t->o, t->n, "prompt") && npos) {
        cli_errorf("%s: the prompt is given twice (--prompt and '%s')", argv[0], pos[0]);
        return 2;
    }
    if (npos)
        a->p.prompt = pos[0];
    a->model = cli_get(t->o, t->n, "model");
    a->vocab = cli_get(t->o, t->n, "vocab");
    a->init = a->ninit ? a->inits[0] : NULL;
    a->mask = cli_get(t->o, t->n, "mask");
    a->sketch = cli_get(t->o, t->n, "sketch");
    if (a->ninit > 1 && a->sketch) /* the sketch is drawn over one image */
        return cli_errorf("inpaint: --sketch takes one init image (%d given)", a->ninit) + 1;
    a->output = cli_get(t->o, t->n, "output");
    a->outdir = cli_get(t->o, t->n, "outdir");
    a->vae = cli_get(t->o, t->n, "vae");
    a->taesd = cli_get(t->o, t->n, "taesd");
    if (a->taesd) /* stable-diffusion.cpp's --taesd: TAESD decodes */
        a->p.vae_decode_method = MEND_VAE_DECODE_TAESD;
    a->quiet = cli_get(t->o, t->n, "quiet") != NULL;
    if (!a->outdir)
        a->outdir = "outputs";
    if (!cli_get_int(t->o, t->n, "threads", 0, 0, 1024, &a->threads))
        return 2;
    const char *maxmem = cli_get(t->o, t->n, "max-memory");
    uint64_t limit = 0;
    if (maxmem && !mend_parse_bytes(maxmem, &limit))
        return cli_errorf("%s: --max-memory '%s': expected a size such as 6G or 512M", argv[0], maxmem) + 1;
    mend_set_memory_limit(limit);
    if (cli_set_lora_dir(t->o, t->n) || cli_set_embeddings_dir(t->o, t->n))
        return 2;
    if (!cli_set_max_pixels(t->o, t->n))
        return 2;
    mend_err format_err = {0};
    mend_image_format format;
    if (a->output && cli_output_format(a->output, &format, &format_err) != MEND_OK)
        return cli_error(&format_err) + 1; /* before any work */
    if (!a->model)
        return cli_errorf("%s: --model is required (see mend %s --help)", argv[0], argv[0]) + 1;
    if (a->command != CMD_TXT2IMG && !a->init)
        return cli_errorf("%s: --init IMAGE is required", argv[0]) + 1;
    if (a->command == CMD_INPAINT && !a->mask == !a->sketch)
        return cli_errorf("inpaint: give exactly one of --mask FILE and --sketch FILE") + 1;
    return -1;
}

/* Parses argv into a; returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, gen_args *a)
{
    gen_opts *t = malloc(sizeof *t);
    if (!t || !gen_opts_init(t)) {
        free(t);
        return cli_errorf("out of memory") + 1;
    }
    int rc = read_args(t, argc, argv, a);
    cli_param_options_free(t->g + N_FILE_OPTS, t->n_params);
    free(t);
    return rc;
}

/* The folder of -o must exist: a typo in it is better reported than
 * silently created (--outdir folders are created, as A1111 does). Checked
 * before the model loads, so nothing waits on it. */
static int check_output_folder(const char *output)
{
    const char *slash = strrchr(output, '/');
    if (!slash || slash == output)
        return 0;
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - output), output);
    struct stat st;
    if (stat(dir, &st) != 0)
        return cli_errorf("-o '%s': the folder '%s' does not exist", output, dir);
    if (!S_ISDIR(st.st_mode))
        return cli_errorf("-o '%s': '%s' is not a folder", output, dir);
    return 0;
}

/* Range checks that need no file: the library's, the sampler and schedule
 * names, -o with a folder. */
static int check_params(gen_args *a)
{
    mend_err err = {0};
    a->p.sampler_name = cli_sampler_name(a->p.sampler_name);
    /* the registry's names: aliases (k_euler) and "DPM++ 2M Karras" resolve as in the API */
    if (mend_gen_params_validate(&a->p, a->command != CMD_TXT2IMG, &err) != MEND_OK ||
        mend_sampler_resolve(a->p.sampler_name, a->p.scheduler, &a->p.sampler_name, &a->p.scheduler, &err) != MEND_OK)
        return cli_error(&err);
    size_t n = a->output ? strlen(a->output) : 1;
    if (n == 0 || (a->output && a->output[n - 1] == '/'))
        return cli_errorf("-o '%s': give a file name (or --outdir DIR for a folder)", a->output);
    return 0;
}

/* ---------------- images ---------------- */

typedef struct gen_images {
    mend_image init[MAX_REPEATS], mask, sketch_init;
} gen_images;

static void gen_images_free(gen_images *g)
{
    for (int i = 0; i < MAX_REPEATS; i++)
        mend_image_free(&g->init[i]);
    mend_image_free(&g->mask);
    mend_image_free(&g->sketch_init);
}

static int load_images(const gen_args *a, gen_images *g, mend_gen_inputs *in)
{
    mend_err err = {0};
    *in = (mend_gen_inputs){0};
    if (!a->init)
        return 0;
    if (a->ninit > 1 && a->ninit > a->p.batch_size) /* A1111's init(): "bad number of images passed" */
        return cli_errorf("%d init images need --batch-size %d or more (each is one image of the batch; "
                          "--batch-size is %d)", a->ninit, a->ninit, a->p.batch_size);
    for (int i = 0; i < a->ninit; i++)
        if (mend_image_load(a->inits[i], &g->init[i], &err) != MEND_OK)
            return cli_errorf("init image %s", err.msg);
    in->init_image = &g->init[0];
    in->more_init_images = a->ninit > 1 ? &g->init[1] : NULL;
    in->n_more_init_images = a->ninit - 1;
    if (a->mask) { /* of any size: the library follows A1111 */
        if (mend_image_load(a->mask, &g->mask, &err) != MEND_OK)
            return cli_errorf("mask %s", err.msg);
        in->mask = &g->mask;
    } else if (a->sketch) {
        mend_image sketch = {0};
        if (mend_image_load(a->sketch, &sketch, &err) != MEND_OK)
            return cli_errorf("sketch %s", err.msg);
        mend_status s = cli_sketch_inputs(&g->init[0], &sketch, a->p.mask_blur_x, a->p.mask_alpha, &g->sketch_init,
                                          &g->mask, &err);
        mend_image_free(&sketch);
        if (s != MEND_OK)
            return cli_errorf("%s: %s", a->sketch, err.msg);
        in->init_image = &g->sketch_init;
        in->mask = &g->mask;
    }
    return 0;
}

/* ---------------- run and save ---------------- */

static volatile sig_atomic_t interrupt_requested;
static mend_stop stop_request; /* the same, seen inside the model's passes (an atomic store: signal-safe) */

static void on_sigint(int sig)
{
    interrupt_requested = 1;
    mend_stop_request(&stop_request, MEND_E_INTERRUPTED);
    signal(sig, SIG_DFL); /* a second Ctrl-C ends the process */
}

static int save_outputs(const gen_args *a, const mend_gen_output *out)
{
    for (int i = 0; i < out->count; i++) {
        mend_err err = {0};
        char *path = NULL;
        mend_status s = MEND_OK;
        if (a->output) {
            path = cli_numbered_path(a->output, i);
            s = path ? cli_make_parent_dirs(path, &err) : mend_fail(&err, MEND_E_NOMEM, "out of memory");
        } else {
            s = cli_default_path(a->outdir, a->kind, out->seeds[i], &path, &err);
        }
        if (s == MEND_OK)
            s = cli_save_image(path, &out->images[i], out->infotexts[i], &err);
        if (s == MEND_OK)
            printf("saved %s (seed %lld)\n", path, (long long)out->seeds[i]);
        free(path);
        if (s != MEND_OK)
            return cli_error(&err);
    }
    fflush(stdout);
    return 0;
}

/* The model with its VAE: --vae FILE; "None": the checkpoint's own; without
 * it A1111's "Automatic": NAME.vae.pt/.ckpt/.safetensors beside the
 * checkpoint when there is one. NULL after printing the error. */
static mend_sd_model *load_model(const gen_args *a)
{
    mend_err err = {0};
    mend_sd_model *m = NULL;
    char *near = a->vae ? NULL : mend_vae_near_checkpoint(a->model);
    const char *vae = a->vae && strcmp(a->vae, "None") != 0 ? a->vae : near;
    if (near && !a->quiet)
        fprintf(stderr, "mend: VAE %s (beside the checkpoint, A1111's Automatic; --vae None: the checkpoint's own)\n",
                near);
    if (mend_model_load(a->model, a->vocab, &m, &err) != MEND_OK ||
        (vae && mend_model_set_vae(m, vae, &err) != MEND_OK)) {
        cli_error(&err);
        mend_model_free(m);
        m = NULL;
    }
    free(near);
    return m;
}

static int run_job(const gen_args *a, const mend_gen_inputs *in)
{
    mend_err err = {0};
    mend_sd_model *m = NULL;
    const char *prec = mend_precision_name(a->p.precision, &err);
    if (!prec)
        return cli_error(&err);
    if (!a->quiet)
        fprintf(stderr, "mend: precision %s%s\n", prec,
                a->p.precision == MEND_PRECISION_AUTO ? " (auto: bf16 where the CPU has native bf16 dot products)" : "");
    if (!(m = load_model(a)))
        return 1;
    cli_progress prog;
    cli_progress_init(&prog, !a->quiet, &interrupt_requested);
    mend_gen_output out;
    interrupt_requested = 0;
    mend_stop_request(&stop_request, MEND_OK);
    void (*old)(int) = signal(SIGINT, on_sigint);
    mend_status s = mend_generate_stoppable(m, &a->p, in, &stop_request, cli_progress_step, &prog, &out, &err);
    signal(SIGINT, old);
    cli_progress_end(&prog);
    mend_model_free(m);
    if (s != MEND_OK)
        return cli_error(&err);
    if (out.comment)
        fprintf(stderr, "mend: note: %s\n", out.comment);
    cli_print_lines("mend: warning: ", out.warnings);
    cli_print_lines("mend: ", out.log);
    if (out.interrupted)
        fprintf(stderr, "mend: interrupted: saving %d image(s) finished from their latest prediction\n", out.count);
    int rc = save_outputs(a, &out);
    mend_gen_output_free(&out);
    return rc;
}

/* The checks, the images and the job. */
static int run_checked(gen_args *a)
{
    int rc;
    if ((rc = check_params(a)) != 0)
        return rc;
    mend_set_threads(a->threads);
    gen_images g = {0};
    mend_gen_inputs in;
    rc = load_images(a, &g, &in);
    if (rc == 0 && a->output) /* after the images: their errors come first */
        rc = check_output_folder(a->output);
    mend_preview_taesd *taesd = NULL;
    mend_err err = {0};
    if (rc == 0 && a->taesd && mend_preview_taesd_load(a->taesd, &taesd, &err) != MEND_OK)
        rc = cli_errorf("--taesd %s", err.msg);
    in.taesd = taesd;
    if (rc == 0)
        rc = run_job(a, &in);
    mend_preview_taesd_free(taesd);
    gen_images_free(&g);
    return rc;
}

/* --styles: A1111's setup_prompts merges them into both prompts before
 * anything else sees them (LoRA tags in a style count; the infotext has
 * the merged prompts). */
static int apply_styles(gen_args *a)
{
    if (!a->nstyles)
        return 0;
    static const char *const default_file[] = {"styles.csv"};
    const char *const *files = a->nstyles_files ? a->styles_files : default_file;
    int nfiles = a->nstyles_files ? a->nstyles_files : 1;
    mend_styles db;
    mend_err err = {0};
    if (mend_styles_load_files(files, nfiles, &db, &err) != MEND_OK)
        return cli_errorf("--styles-file %s", err.msg);
    mend_status s = mend_styles_apply(&db, a->styles, a->nstyles, a->p.prompt, a->p.negative_prompt,
                                      &a->styled_prompt, &a->styled_negative, &err);
    mend_styles_free(&db);
    if (s != MEND_OK)
        return cli_errorf("--styles (%s%s): %s", files[0], nfiles > 1 ? ", ..." : "", err.msg);
    a->p.prompt = a->styled_prompt;
    a->p.negative_prompt = a->styled_negative;
    return 0;
}

static int cmd_generate(int command, const char *kind, int argc, char **argv)
{
    gen_args a = {.command = command, .kind = kind};
    mend_gen_params_default(&a.p);
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    rc = apply_styles(&a);
    if (rc == 0)
        rc = run_checked(&a);
    free(a.styled_prompt);
    free(a.styled_negative);
    return rc;
}

int cmd_txt2img(int argc, char **argv)
{
    return cmd_generate(CMD_TXT2IMG, "txt2img", argc, argv);
}

int cmd_img2img(int argc, char **argv)
{
    return cmd_generate(CMD_IMG2IMG, "img2img", argc, argv);
}

int cmd_inpaint(int argc, char **argv)
{
    return cmd_generate(CMD_INPAINT, "img2img", argc, argv);
}
