/* `mend eval COMPONENT`: runs one component on the inputs of a reference
 * file and writes its outputs under the reference names, so outside tools
 * (and our tests) can compare file to file. One function per component,
 * each in its own eval_*.c. They return the process exit code. */
#ifndef MEND_TOOLS_EVAL_H
#define MEND_TOOLS_EVAL_H

#include "io/st_writer.h"
#include "io/tensorfile.h"

typedef struct eval_args {
    const char *component;
    const char *model;   /* checkpoint, diffusers folder, or TAESD weights */
    const char *vocab;   /* CLIP vocabulary (tokenize) */
    const char *in;      /* input .safetensors */
    const char *out;     /* output .safetensors (written atomically) */
    const char *prompts; /* tokenize: text file, one prompt per line */
    int clip_skip;       /* text-encoder: also written as clip_skip2 (default 2) */
} eval_args;

int eval_tokenize(const eval_args *a);
int eval_text_encoder(const eval_args *a);
int eval_unet(const eval_args *a);
int eval_vae_encode(const eval_args *a);
int eval_vae_decode(const eval_args *a);
int eval_taesd_encode(const eval_args *a);
int eval_taesd_decode(const eval_args *a);

/* Helpers shared by the eval_*.c files. */

/* Finds a float tensor in the input file, checks its rank, returns its data
 * as a malloc'd float array and its shape. Prints the error and returns NULL. */
float *eval_input_f32(const mend_tf *in, const char *name, int ndim, int64_t *shape);

/* Writes the writer's tensors to a->out; prints errors. Returns exit code. */
int eval_finish(const eval_args *a, mend_st_writer *w);
/* The same after a run with status s: on failure prints err, frees w and
 * writes nothing. */
int eval_finish_after(const eval_args *a, mend_st_writer *w, mend_status s, const mend_err *err);

#endif
