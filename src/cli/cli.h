/* The mend command line: one file per subcommand, all sharing these helpers. */
#ifndef MEND_CLI_H
#define MEND_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "mend/err.h"

/* Subcommands: return the process exit code. */
int cmd_info(int argc, char **argv);
int cmd_txt2img(int argc, char **argv);
int cmd_img2img(int argc, char **argv);
int cmd_inpaint(int argc, char **argv);
int cmd_png_info(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* Option scanning. argv[0] is the subcommand. Options are "--name value" or
 * "--name=value"; flags are "--name". Unknown options are an error. */
typedef struct cli_opt {
    const char *name;   /* without the leading dashes */
    int takes_value;
    const char *value;  /* set when seen ("" for flags) */
} cli_opt;

/* Options are "--name value" or "--name=value"; a lone "--" ends them
 * (what follows is positional, even "-x"); any other argument starting
 * with '-' is an unknown option (short flags are expanded beforehand). */
/* Parses argv into opts; positional arguments are collected into pos
 * (up to max_pos). Returns 0 or prints a message and returns 2. */
int cli_parse(int argc, char **argv, cli_opt *opts, int nopts, const char **pos, int max_pos, int *npos);
const char *cli_get(const cli_opt *opts, int nopts, const char *name);
/* Whether arg is "--name" of an option that takes a value (not "--name=value"). */
int cli_takes_value(const cli_opt *opts, int nopts, const char *arg);
/* Every value of the options named (a repeatable option; cli_parse keeps the last), in order, from argv
 * (short flags already expanded); 0, or 2 after a message when there are more than max. */
int cli_collect(const cli_opt *opts, int nopts, int argc, char **argv, const char *const *names, int nnames,
                const char **out, int *n, int max);
/* Integer option in [lo, hi] or the default; returns 0 on error after printing. */
int cli_get_int(const cli_opt *opts, int nopts, const char *name, int def, int lo, int hi, int *out);

/* Shell completion (cmd_completion.c) from each command's own option
 * list: " --name" words written to f. */
void cli_generate_words(FILE *f, const char *command); /* txt2img, img2img, inpaint */
void cli_serve_words(FILE *f);
int cmd_completion(int argc, char **argv);

/* A1111's extra sampler alias and stable-diffusion.cpp's sampler names
 * (euler_a, dpm++2m, ...) as A1111 names; other names unchanged. */
const char *cli_sampler_name(const char *name);

/* --max-pixels (a count, 64M or WxH) into mend_set_max_pixels; the default
 * when absent. Returns 0 on error after printing. */
int cli_set_max_pixels(const cli_opt *opts, int nopts);
#define CLI_MAX_PIXELS_HELP                                                                            \
    "  --max-pixels N               refuse an input image with more pixels (a count, 64M or WxH; 64M =\n" \
    "                               8192x8192), from its header before decoding\n"

/* --lora-dir DIR (sd.cpp's --lora-model-dir as an alias): the LoRA folder
 * for the jobs; 0, or 2 after a message when the option is given twice or
 * empty. */
int cli_set_lora_dir(const cli_opt *opts, int nopts);
/* --embeddings-dir DIR: the textual-inversion folder (embeddings); 1 after
 * printing an error for an empty value. */
int cli_set_embeddings_dir(const cli_opt *opts, int nopts);

/* Each line of text (may be NULL) on stderr after prefix. */
void cli_print_lines(const char *prefix, const char *text);

/* Prints "mend: <message>" to stderr and returns 1. */
int cli_error(const mend_err *err);
int cli_errorf(const char *fmt, ...) MEND_PRINTF(1, 2);

#endif
