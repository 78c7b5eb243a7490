/* Helpers of the generate commands (txt2img, img2img, inpaint): the Inpaint
 * sketch conversion, output file naming and the progress display. */
#ifndef MEND_CLI_GENERATE_H
#define MEND_CLI_GENERATE_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/cli.h"
#include "mend/image.h"
#include "mend/mend.h"
#include "mend/params.h"

/* ---------------- args.c: options from the parameter table ---------------- */

typedef struct cli_gen_opt {
    const char *name;  /* without "--" */
    int takes_value;
    int scope;         /* MEND_SCOPE_* (where the option applies) */
    const mend_param_desc *param; /* NULL: not a table parameter */
    int owned;         /* name is malloc'd */
} cli_gen_opt;

/* Appends one option per table flag and alias; returns the count or -1
 * when out of memory. Free with cli_param_options_free. */
int cli_param_options(cli_gen_opt *out, int max);
void cli_param_options_free(cli_gen_opt *opts, int n);
/* The short flag of a table option (-W for width), or 0. */
char cli_param_short(const char *name);
/* Applies the given options (o[k] matches g[k]) to p; 0 after printing. */
int cli_param_apply(const cli_opt *o, const cli_gen_opt *g, int n, mend_gen_params *p);
/* --help lines of the table's options of one scope. */
void cli_param_help(FILE *f, int scope);

/* ---------------- sketch.c, output.c: the library's, under CLI names ---------------- */

/* mend_sketch_inputs (include/mend/mend.h). */
mend_status cli_sketch_inputs(const mend_image *orig, const mend_image *sketch, int blur, float mask_alpha,
                              mend_image *init_out, mend_image *mask_out, mend_err *err);
/* mend_numbered_path, mend_output_path, mend_make_parent_dirs. */
char *cli_numbered_path(const char *file, int index);
mend_status cli_default_path(const char *outdir, const char *kind, int64_t seed, char **out, mend_err *err);
mend_status cli_make_parent_dirs(const char *path, mend_err *err);
/* The format of an output path from its extension (.png .jpg .jpeg .webp),
 * or MEND_E_ARG naming the path and its extension. */
mend_status cli_output_format(const char *path, mend_image_format *format, mend_err *err);
/* Saves in the path's format with the infotext (PNG text chunk or EXIF). */
mend_status cli_save_image(const char *path, const mend_image *img, const char *infotext, mend_err *err);

/* ---------------- progress.c ---------------- */

typedef struct cli_progress {
    int show;     /* 0: --quiet (the callback still honours interrupts) */
    int tty;      /* one updating line instead of one line per step */
    FILE *out;    /* stderr */
    double batch_start, first_step, last_event;
    int iteration;  /* of the bar being drawn, -1 before the first */
    int line_open;  /* a TTY line without its newline yet */
    volatile sig_atomic_t *interrupted;
} cli_progress;

void cli_progress_init(cli_progress *p, int show, volatile sig_atomic_t *interrupted);
/* mend_gen_progress_fn */
mend_status cli_progress_step(void *user, const mend_gen_progress *g, mend_err *err);
/* Ends an open TTY line (before any other output). */
void cli_progress_end(cli_progress *p);
/* "MM:SS" or "H:MM:SS", as tqdm prints times. */
void cli_format_duration(double seconds, char *buf, size_t size);

#endif
