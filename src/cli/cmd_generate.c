/* `mend txt2img | img2img | inpaint`: one A1111 generation job from the
 * command line. Options are named after A1111's API fields and default to
 * its UI values (mend_gen_params_default). Everything the user gave is
 * checked (options, numbers, ranges, images and their sizes) before the
 * model is loaded, so a bad input fails fast with one "mend: ..." line and
 * writes nothing. */
#include "cli/cli.h"
#include "cli/generate.h"
#include "inpaint/gen_params.h"
#include "inpaint/pipeline.h"
#include "model/sd_model.h"
#include "sampling/sampler.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CMD_TXT2IMG = 1, CMD_IMG2IMG = 2, CMD_INPAINT = 4, CMD_ALL = 7, CMD_INIT = CMD_IMG2IMG | CMD_INPAINT };

typedef struct gen_opt {
    const char *name;
    int takes_value;
    int commands; /* CMD_* where the option applies */
} gen_opt;

static const gen_opt gen_opts[] = {
    {"help", 0, CMD_ALL},
    {"model", 1, CMD_ALL},
    {"vocab", 1, CMD_ALL},
    {"prompt", 1, CMD_ALL},
    {"negative-prompt", 1, CMD_ALL},
    {"width", 1, CMD_ALL},
    {"height", 1, CMD_ALL},
    {"steps", 1, CMD_ALL},
    {"cfg-scale", 1, CMD_ALL},
    {"seed", 1, CMD_ALL},
    {"subseed", 1, CMD_ALL},
    {"subseed-strength", 1, CMD_ALL},
    {"sampler", 1, CMD_ALL},
    {"scheduler", 1, CMD_ALL},
    {"batch-size", 1, CMD_ALL},
    {"n-iter", 1, CMD_ALL},
    {"clip-skip", 1, CMD_ALL},
    {"rng", 1, CMD_ALL},
    {"eta-noise-seed-delta", 1, CMD_ALL},
    {"threads", 1, CMD_ALL},
    {"output", 1, CMD_ALL},
    {"outdir", 1, CMD_ALL},
    {"quiet", 0, CMD_ALL},
    {"init", 1, CMD_INIT},
    {"image", 1, CMD_INIT},
    {"denoising-strength", 1, CMD_INIT},
    {"resize-mode", 1, CMD_INIT},
    {"initial-noise-multiplier", 1, CMD_INIT},
    {"inpainting-mask-weight", 1, CMD_INIT},
    {"color-correction", 0, CMD_INIT},
    {"mask", 1, CMD_INPAINT},
    {"sketch", 1, CMD_INPAINT},
    {"mask-alpha", 1, CMD_INPAINT},
    {"mask-blur", 1, CMD_INPAINT},
    {"mask-blur-x", 1, CMD_INPAINT},
    {"mask-blur-y", 1, CMD_INPAINT},
    {"inpainting-fill", 1, CMD_INPAINT},
    {"inpaint-full-res", 0, CMD_INPAINT},
    {"inpaint-area", 1, CMD_INPAINT},
    {"inpaint-full-res-padding", 1, CMD_INPAINT},
    {"inpainting-mask-invert", 0, CMD_INPAINT},
    {"mask-mode", 1, CMD_INPAINT},
};
#define N_GEN_OPTS ((int)(sizeof gen_opts / sizeof *gen_opts))

static const char *generate_usage =
    "usage: mend txt2img --model MODEL [options] [PROMPT]\n"
    "       mend img2img --model MODEL --init IMAGE [options] [PROMPT]\n"
    "       mend inpaint --model MODEL --init IMAGE (--mask MASK | --sketch SKETCH) [options] [PROMPT]\n"
    "\n"
    "Option names follow A1111's API fields; defaults are A1111's UI defaults.\n"
    "  --model PATH                checkpoint (.safetensors) or diffusers folder (required)\n"
    "  --vocab PATH                CLIP vocabulary when the model has no tokenizer/ folder\n"
    "  --prompt TEXT               the prompt (or as the one positional argument); any length (75-token chunks)\n"
    "  --negative-prompt TEXT      ('')\n"
    "  --width N, --height N       processing size, multiples of 8 (512 x 512)\n"
    "  --steps N                   sampling steps 1..150 (20)\n"
    "  --cfg-scale X               (7)\n"
    "  --seed N                    -1 = random (-1); image i of the job gets seed + i\n"
    "  --subseed N, --subseed-strength X   variation seed (-1) and strength 0..1 (0)\n"
    "  --sampler NAME              A1111 sampler name (\"DPM++ 2M\"): DPM++ 2M, DPM++ SDE, DPM++ 2M SDE,\n"
    "                              DPM++ 2M SDE Heun, DPM++ 2S a, DPM++ 3M SDE, Euler a, Euler, LMS, Heun,\n"
    "                              DPM2, DPM2 a, DDIM (the SDE samplers' noise is not seed-compatible\n"
    "                              with A1111's yet)\n"
    "  --scheduler NAME            Automatic, Uniform, Karras, Exponential, Polyexponential, SGM Uniform,\n"
    "                              KL Optimal, Align Your Steps, Simple, Normal, DDIM (Automatic)\n"
    "  --batch-size N, --n-iter N  images per batch (1), batches (1)\n"
    "  --clip-skip N               1 = last CLIP layer (1)\n"
    "  --rng gpu|nv|cpu            noise source: gpu (A1111's default: CUDA's Philox stream, as nv), cpu\n"
    "                              (torch CPU generator); only nv and cpu are named in the infotext\n"
    "  --eta-noise-seed-delta N    ENSD (0)\n"
    "  --threads N                 CPU threads, 0 = all (0)\n"
    "  -o, --output FILE           write here (replacing a file there); with several images, image i > 1 goes\n"
    "                              to FILE with -1, -2, ... before the extension (out.png, out-1.png, ...)\n"
    "  --outdir DIR                without -o, A1111's naming: DIR/{txt2img,img2img}-images/YYYY-MM-DD/\n"
    "                              NNNNN-SEED.png, NNNNN = the folder's highest number + 1 (./outputs)\n"
    "  -q, --quiet                 no progress bar\n"
    "img2img and inpaint:\n"
    "  --init IMAGE, --image IMAGE the init image (PNG or JPEG; transparency is flattened on white)\n"
    "  --denoising-strength X      0..1 (0.75)\n"
    "  --resize-mode M             0 just-resize, 1 crop-and-resize, 2 resize-and-fill (0)\n"
    "  --initial-noise-multiplier X  0..1.5 (1)\n"
    "  --inpainting-mask-weight X  conditioning mask strength of inpainting models, 0..1 (1)\n"
    "  --color-correction          match the result's colours to the init image (A1111 setting\n"
    "                              img2img_color_correction; off by default)\n"
    "inpaint:\n"
    "  --mask FILE                 white = repaint (greys partly); a mask with transparency uses its alpha\n"
    "                              (> 128 = repaint). It must have the init image's size: a different size\n"
    "                              is refused (A1111 would crop the image with the mask's coordinates)\n"
    "  --sketch FILE               Inpaint sketch: the init image with coloured strokes, same size; the strokes\n"
    "                              are both the new content and the mask\n"
    "  --mask-alpha N              sketch mask transparency 0..100 (0)\n"
    "  --mask-blur N               0..64, both axes (4); --mask-blur-x N, --mask-blur-y N per axis\n"
    "                              (the sketch composite blurs with --mask-blur-x)\n"
    "  --inpainting-fill MODE      fill, original, latent-noise, latent-nothing, or 0..3 (original)\n"
    "  --inpaint-full-res          inpaint area \"Only masked\" (also --inpaint-area whole|only-masked)\n"
    "  --inpaint-full-res-padding N  only-masked padding in pixels, 0..256 (32)\n"
    "  --inpainting-mask-invert    inpaint the unmasked area (also --mask-mode masked|not-masked)\n"
    "\n"
    "Each saved image's path and seed are printed; the PNG's \"parameters\" text is A1111's infotext\n"
    "(see mend png-info). Ctrl-C finishes the current batch from its latest prediction and saves it.\n";

typedef struct gen_args {
    int command;
    const char *kind; /* "txt2img" / "img2img": the default output folder */
    const char *model, *vocab, *init, *mask, *sketch, *output, *outdir;
    float mask_alpha;
    int threads, quiet;
    mend_gen_params p;
} gen_args;

/* ---------------- option values ---------------- */

static int parse_int(const char *name, const char *v, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        cli_errorf("--%s: '%s' is not an integer in [%lld, %lld]", name, v, lo, hi);
        return 0;
    }
    *out = x;
    return 1;
}

static int parse_float(const char *name, const char *v, float *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x) || fabs(x) > 1e30) {
        cli_errorf("--%s: '%s' is not a number", name, v);
        return 0;
    }
    *out = (float)x;
    return 1;
}

/* A name from `names` (case-insensitive, '_' or ' ' for '-') or its index. */
static int parse_choice(const char *name, const char *v, const char *const *names, int n, int *out)
{
    char norm[64];
    size_t len = strlen(v);
    if (len < sizeof norm) {
        for (size_t i = 0; i <= len; i++)
            norm[i] = (v[i] == '_' || v[i] == ' ') ? '-' : (char)(v[i] >= 'A' && v[i] <= 'Z' ? v[i] + 32 : v[i]);
        for (int i = 0; i < n; i++)
            if (!strcmp(norm, names[i])) {
                *out = i;
                return 1;
            }
        if (len == 1 && v[0] >= '0' && v[0] < '0' + n) {
            *out = v[0] - '0';
            return 1;
        }
    }
    char list[256] = "";
    for (int i = 0; i < n; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s (%d)", i ? ", " : "", names[i], i);
    cli_errorf("--%s: '%s' is not one of %s", name, v, list);
    return 0;
}

/* Option readers for read_common / read_inpaint (locals o, s, v). */
#define INT_OPT(name, lo, hi, field)                                  \
    if ((s = cli_get(o, N_GEN_OPTS, name))) {                         \
        if (!parse_int(name, s, lo, hi, &v))                          \
            return 0;                                                 \
        field = v;                                                    \
    }
#define FLOAT_OPT(name, field)                                        \
    if ((s = cli_get(o, N_GEN_OPTS, name)) && !parse_float(name, s, &field)) \
        return 0;

/* Reads the options of all commands and of img2img into a->p; 0 after
 * printing a message on error. */
static int read_common(const cli_opt *o, gen_args *a)
{
    mend_gen_params *p = &a->p;
    long long v;
    const char *s;
    /* wide integer ranges here: mend_gen_params_validate names the field when out of range */
    INT_OPT("width", 0, 1 << 20, p->width);
    INT_OPT("height", 0, 1 << 20, p->height);
    INT_OPT("steps", -1000000, 1000000, p->steps);
    INT_OPT("seed", -1, 0xffffffffLL, p->seed);
    INT_OPT("subseed", -1, 0xffffffffLL, p->subseed);
    INT_OPT("batch-size", -1000000, 1000000, p->batch_size);
    INT_OPT("n-iter", -1000000, 1000000, p->n_iter);
    INT_OPT("clip-skip", -1000000, 1000000, p->clip_skip);
    INT_OPT("eta-noise-seed-delta", 0, 0x7fffffff, p->eta_noise_seed_delta);
    INT_OPT("threads", 0, 1024, a->threads);
    FLOAT_OPT("cfg-scale", p->cfg_scale);
    FLOAT_OPT("subseed-strength", p->subseed_strength);
    if ((s = cli_get(o, N_GEN_OPTS, "rng"))) {
        static const char *const rngs[] = {"gpu", "nv", "cpu"};
        int r;
        if (!parse_choice("rng", s, rngs, 3, &r))
            return 0;
        p->rng = (mend_rng_source)r;
    }
    if ((s = cli_get(o, N_GEN_OPTS, "sampler")))
        p->sampler_name = s;
    if ((s = cli_get(o, N_GEN_OPTS, "scheduler")))
        p->scheduler = s;
    if ((s = cli_get(o, N_GEN_OPTS, "negative-prompt")))
        p->negative_prompt = s;
    /* img2img / inpaint */
    FLOAT_OPT("denoising-strength", p->denoising_strength);
    FLOAT_OPT("initial-noise-multiplier", p->initial_noise_multiplier);
    FLOAT_OPT("inpainting-mask-weight", p->inpainting_mask_weight);
    if (cli_get(o, N_GEN_OPTS, "color-correction"))
        p->color_correction = 1;
    if ((s = cli_get(o, N_GEN_OPTS, "resize-mode"))) {
        static const char *const modes[] = {"just-resize", "crop-and-resize", "resize-and-fill"};
        if (!parse_choice("resize-mode", s, modes, 3, &p->resize_mode))
            return 0;
    }
    return 1;
}

/* An on/off choice given by a flag and by a named option: both must agree. */
static int read_switch(const cli_opt *o, const char *flag, const char *named, const char *const names[2], int *out)
{
    int by_flag = cli_get(o, N_GEN_OPTS, flag) != NULL, by_name = -1;
    const char *s = cli_get(o, N_GEN_OPTS, named);
    if (s && !parse_choice(named, s, names, 2, &by_name))
        return 0;
    if (by_flag && by_name == 0) {
        cli_errorf("--%s conflicts with --%s %s", flag, named, s);
        return 0;
    }
    if (by_flag || by_name >= 0)
        *out = by_flag || by_name == 1;
    return 1;
}

static int read_inpaint(const cli_opt *o, gen_args *a)
{
    mend_gen_params *p = &a->p;
    long long v;
    const char *s;
    INT_OPT("mask-blur", -1000, 1000, p->mask_blur_x);
    p->mask_blur_y = p->mask_blur_x;
    INT_OPT("mask-blur-x", -1000, 1000, p->mask_blur_x);
    INT_OPT("mask-blur-y", -1000, 1000, p->mask_blur_y);
    INT_OPT("inpaint-full-res-padding", -100000, 100000, p->inpaint_full_res_padding);
    if ((s = cli_get(o, N_GEN_OPTS, "mask-alpha"))) {
        if (!parse_float("mask-alpha", s, &a->mask_alpha))
            return 0;
        if (!(a->mask_alpha >= 0 && a->mask_alpha <= 100)) {
            cli_errorf("--mask-alpha %s: the sketch mask transparency must be between 0 and 100", s);
            return 0;
        }
    }
    if ((s = cli_get(o, N_GEN_OPTS, "inpainting-fill"))) {
        static const char *const fills[] = {"fill", "original", "latent-noise", "latent-nothing"};
        if (!parse_choice("inpainting-fill", s, fills, 4, &p->inpainting_fill))
            return 0;
    }
    static const char *const areas[] = {"whole", "only-masked"};
    static const char *const modes[] = {"masked", "not-masked"};
    return read_switch(o, "inpaint-full-res", "inpaint-area", areas, &p->inpaint_full_res) &&
           read_switch(o, "inpainting-mask-invert", "mask-mode", modes, &p->inpainting_mask_invert);
}
#undef INT_OPT
#undef FLOAT_OPT

/* ---------------- command line ---------------- */

static int takes_value(const char *arg)
{
    if (strncmp(arg, "--", 2) != 0 || strchr(arg, '='))
        return 0;
    for (int k = 0; k < N_GEN_OPTS; k++)
        if (gen_opts[k].takes_value && !strcmp(arg + 2, gen_opts[k].name))
            return 1;
    return 0;
}

/* The short options -o, -q, -h as their long names (cli_parse knows only
 * "--name"); option values are copied as they are, even "-o". Returns a
 * malloc'd copy of argv. */
static char **expand_short_options(int argc, char **argv)
{
    char **out = malloc((size_t)(argc + 1) * sizeof *out);
    if (!out)
        return NULL;
    for (int i = 0; i < argc; i++) {
        out[i] = argv[i];
        if (i > 0 && !strcmp(argv[i], "-o"))
            out[i] = "--output";
        else if (i > 0 && !strcmp(argv[i], "-q"))
            out[i] = "--quiet";
        else if (i > 0 && !strcmp(argv[i], "-h"))
            out[i] = "--help";
        if (i > 0 && takes_value(out[i]) && i + 1 < argc) {
            i++;
            out[i] = argv[i];
        }
    }
    out[argc] = NULL;
    return out;
}

/* Parses argv into a; returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, gen_args *a)
{
    cli_opt o[N_GEN_OPTS];
    for (int k = 0; k < N_GEN_OPTS; k++)
        o[k] = (cli_opt){gen_opts[k].name, gen_opts[k].takes_value, NULL};
    const char *pos[1];
    int npos;
    char **args = expand_short_options(argc, argv);
    if (!args)
        return cli_errorf("out of memory");
    int rc = cli_parse(argc, args, o, N_GEN_OPTS, pos, 1, &npos);
    free(args);
    if (rc)
        return rc;
    if (cli_get(o, N_GEN_OPTS, "help")) {
        fputs(generate_usage, stdout);
        return 0;
    }
    for (int k = 0; k < N_GEN_OPTS; k++)
        if (o[k].value && !(gen_opts[k].commands & a->command)) {
            cli_errorf("%s: --%s is only for %s", argv[0], o[k].name,
                       gen_opts[k].commands == CMD_INPAINT ? "inpaint" : "img2img and inpaint");
            return 2;
        }
    const char *prompt = cli_get(o, N_GEN_OPTS, "prompt");
    if (prompt && npos) {
        cli_errorf("%s: the prompt is given twice (--prompt and '%s')", argv[0], pos[0]);
        return 2;
    }
    a->p.prompt = prompt ? prompt : npos ? pos[0] : "";
    a->model = cli_get(o, N_GEN_OPTS, "model");
    a->vocab = cli_get(o, N_GEN_OPTS, "vocab");
    a->init = cli_get(o, N_GEN_OPTS, "init");
    if (a->init && cli_get(o, N_GEN_OPTS, "image")) {
        cli_errorf("%s: give the init image once (--init or --image)", argv[0]);
        return 2;
    }
    if (!a->init)
        a->init = cli_get(o, N_GEN_OPTS, "image");
    a->mask = cli_get(o, N_GEN_OPTS, "mask");
    a->sketch = cli_get(o, N_GEN_OPTS, "sketch");
    a->output = cli_get(o, N_GEN_OPTS, "output");
    a->outdir = cli_get(o, N_GEN_OPTS, "outdir");
    a->quiet = cli_get(o, N_GEN_OPTS, "quiet") != NULL;
    if (!a->outdir)
        a->outdir = "outputs";
    if (!read_common(o, a) || !read_inpaint(o, a))
        return 2;
    if (!a->model)
        return cli_errorf("%s: --model is required (see mend %s --help)", argv[0], argv[0]) + 1;
    if (a->command != CMD_TXT2IMG && !a->init)
        return cli_errorf("%s: --init IMAGE is required", argv[0]) + 1;
    if (a->command == CMD_INPAINT && !a->mask == !a->sketch)
        return cli_errorf("inpaint: give exactly one of --mask FILE and --sketch FILE") + 1;
    return -1;
}

/* Range checks that need no file: the library's, the sampler and schedule
 * names, -o with a folder. */
static int check_params(const gen_args *a)
{
    mend_err err = {0};
    const mend_sampler_info *si;
    mend_scheduler sch;
    if (mend_gen_params_validate(&a->p, a->command != CMD_TXT2IMG, &err) != MEND_OK ||
        mend_sampler_from_name(a->p.sampler_name, &si, &err) != MEND_OK ||
        mend_scheduler_from_name(a->p.scheduler, &sch, &err) != MEND_OK)
        return cli_error(&err);
    size_t n = a->output ? strlen(a->output) : 1;
    if (n == 0 || (a->output && a->output[n - 1] == '/'))
        return cli_errorf("-o '%s': give a file name (or --outdir DIR for a folder)", a->output);
    return 0;
}

/* ---------------- images ---------------- */

typedef struct gen_images {
    mend_image init, mask, sketch_init;
} gen_images;

static void gen_images_free(gen_images *g)
{
    mend_image_free(&g->init);
    mend_image_free(&g->mask);
    mend_image_free(&g->sketch_init);
}

static int load_images(const gen_args *a, gen_images *g, mend_gen_inputs *in)
{
    mend_err err = {0};
    *in = (mend_gen_inputs){0};
    if (!a->init)
        return 0;
    if (mend_image_load(a->init, &g->init, &err) != MEND_OK)
        return cli_errorf("init image %s", err.msg);
    in->init_image = &g->init;
    if (a->mask) {
        if (mend_image_load(a->mask, &g->mask, &err) != MEND_OK)
            return cli_errorf("mask %s", err.msg);
        if (g->mask.width != g->init.width || g->mask.height != g->init.height)
            return cli_errorf("mask %s is %dx%d but the init image %s is %dx%d: they must have the same size",
                              a->mask, g->mask.width, g->mask.height, a->init, g->init.width, g->init.height);
        in->mask = &g->mask;
    } else if (a->sketch) {
        mend_image sketch = {0};
        if (mend_image_load(a->sketch, &sketch, &err) != MEND_OK)
            return cli_errorf("sketch %s", err.msg);
        mend_status s = cli_sketch_inputs(&g->init, &sketch, a->p.mask_blur_x, a->mask_alpha, &g->sketch_init,
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

static void on_sigint(int sig)
{
    interrupt_requested = 1;
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
        mend_png_text text = {"parameters", out->infotexts[i]};
        if (s == MEND_OK)
            s = mend_image_save_png(path, &out->images[i], &text, 1, &err);
        if (s == MEND_OK)
            printf("saved %s (seed %lld)\n", path, (long long)out->seeds[i]);
        free(path);
        if (s != MEND_OK)
            return cli_error(&err);
    }
    fflush(stdout);
    return 0;
}

static int run_job(const gen_args *a, const mend_gen_inputs *in)
{
    mend_err err = {0};
    mend_sd_model *m = NULL;
    if (mend_sd_load(a->model, a->vocab, MEND_COMP_ALL, &m, &err) != MEND_OK)
        return cli_error(&err);
    cli_progress prog;
    cli_progress_init(&prog, !a->quiet, &interrupt_requested);
    mend_gen_output out;
    interrupt_requested = 0;
    void (*old)(int) = signal(SIGINT, on_sigint);
    mend_status s = mend_generate(m, &a->p, in, cli_progress_step, &prog, &out, &err);
    signal(SIGINT, old);
    cli_progress_end(&prog);
    mend_sd_free(m);
    if (s != MEND_OK)
        return cli_error(&err);
    if (out.comment)
        fprintf(stderr, "mend: note: %s\n", out.comment);
    if (out.interrupted)
        fprintf(stderr, "mend: interrupted: saving %d image(s) finished from their latest prediction\n", out.count);
    int rc = save_outputs(a, &out);
    mend_gen_output_free(&out);
    return rc;
}

static int cmd_generate(int command, const char *kind, int argc, char **argv)
{
    gen_args a = {.command = command, .kind = kind};
    mend_gen_params_default(&a.p);
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    if ((rc = check_params(&a)) != 0)
        return rc;
    mend_set_threads(a.threads);
    gen_images g = {0};
    mend_gen_inputs in;
    rc = load_images(&a, &g, &in);
    if (rc == 0)
        rc = run_job(&a, &in);
    gen_images_free(&g);
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
