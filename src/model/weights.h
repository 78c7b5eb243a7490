/* Loading a component's weights by name.
 *
 * Model code asks for tensors under their canonical (LDM single-file) names
 * relative to the component, e.g. "input_blocks.1.0.in_layers.2.weight" with
 * prefix "model.diffusion_model.". Diffusers files are renamed to these
 * names when opened (model/diffusers.h), so model code knows one layout.
 * Vectors (biases, norms, embeddings) are converted to fp32; weight
 * matrices (mend_wl_mat) stay in the file's precision (f32/f16/bf16) and the
 * kernels widen or prepare them per use. All are owned by a mend_wstore,
 * freed in one go with the component.
 *
 * Errors are sticky: after the first failure every mend_wl_get returns NULL
 * and the loader's status/err keep the first message, so a component can
 * request all its tensors and check once. */
#ifndef MEND_MODEL_WEIGHTS_H
#define MEND_MODEL_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "io/tensorfile.h"
#include "kernels/kernels.h"

/* What a weight matrix was loaded as: its canonical name (relative to the
 * component, e.g. "input_blocks.1.1.proj_in.weight") and the file's shape,
 * so that LoRA can find a live layer by its checkpoint key. */
typedef struct mend_wname {
    char *name;
    int ndim;
    int64_t shape[4];
} mend_wname;

typedef struct mend_wstore {
    float **bufs;
    int count, cap;
    mend_wmat **mats; /* weight matrices, kept in their file precision */
    mend_wname *names; /* names[i] describes mats[i] */
    int nmats, mats_cap;
    int64_t params; /* total number of parameters held */
} mend_wstore;

void mend_wstore_free(mend_wstore *s);

/* The matrix loaded under canonical name `name` (NULL if none), and its
 * file shape in *info when info is not NULL. */
mend_wmat *mend_wstore_find(const mend_wstore *s, const char *name, const mend_wname **info);

/* Sets the compute precision of every matrix; MEND_E_ARG when fp32 is asked
 * after bf16 already replaced the exact weights (reload the model). */
mend_status mend_wstore_set_prec(mend_wstore *s, mend_kprec p, mend_err *err);

typedef struct mend_wload {
    const mend_tf *file;
    const char *prefix;
    mend_wstore *store;
    mend_err *err;
    mend_status status;
} mend_wload;

/* The loader a component uses: src's file and prefix, loading into store,
 * reporting into err, with no error yet. */
mend_wload mend_wl_into(const mend_wload *src, mend_wstore *store, mend_err *err);

/* The file's name of a canonical tensor name (prefix + name) into buf. */
void mend_wl_name(const mend_wload *l, const char *canonical, char *buf, size_t size);

/* The tensor, or NULL if absent (never sets an error). */
const mend_tf_tensor *mend_wl_find(const mend_wload *l, const char *fmt, ...) MEND_PRINTF(2, 3);

/* Loads a tensor whose shape must be `shape` (trailing 1-sized dims on
 * either side are ignored, so a [C,C] linear matches a [C,C,1,1] conv). */
float *mend_wl_get(mend_wload *l, int ndim, const int64_t *shape, const char *fmt, ...) MEND_PRINTF(4, 5);

/* A conv or linear weight of shape `shape`, as a matrix shape[0] x rest, in
 * the file's precision (f64 and other float types become f32). */
mend_wmat *mend_wl_mat(mend_wload *l, int ndim, const int64_t *shape, const char *fmt, ...) MEND_PRINTF(4, 5);

#define MEND_SHAPE(...) (sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), ((const int64_t[]){__VA_ARGS__})

#endif
