/* A read-only table of named tensors from one weights file, whatever its
 * format (safetensors, or torch.save zip checkpoints: .ckpt / .pth / .pt).
 * Tensor bytes are read with pread (mend_tf_read_raw / mend_tf_read_f32), never
 * through the mapping, so a file truncated or replaced while in use gives a
 * clear error instead of SIGBUS. */
#ifndef MEND_IO_TENSORFILE_H
#define MEND_IO_TENSORFILE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define MEND_MAX_DIMS 8

typedef enum mend_dtype {
    MEND_DT_F32,
    MEND_DT_F16,
    MEND_DT_BF16,
    MEND_DT_F64,
    MEND_DT_I64,
    MEND_DT_I32,
    MEND_DT_I16,
    MEND_DT_I8,
    MEND_DT_U8,
    MEND_DT_BOOL,
} mend_dtype;

typedef struct mend_tf_tensor {
    const char *name;
    mend_dtype dtype;
    int ndim;
    int64_t shape[MEND_MAX_DIMS];
    const uint8_t *data; /* in the mapping, for inspection only: not aligned, and reading it after the
                          * file was truncated would fault; loaders use mend_tf_read_raw (pread) */
    uint64_t offset;     /* of the first byte in the file */
    size_t nbytes;
} mend_tf_tensor;

typedef struct mend_tf {
    char *path;
    void *map;
    size_t map_size;
    int fd1;                 /* open descriptor + 1 (0: none), for pread */
    mend_tf_tensor *tensors; /* sorted by name */
    int count;
    char *strings;           /* owns names and metadata text */
    char *metadata_json;     /* the "__metadata__" object as JSON, or NULL */
} mend_tf;

const char *mend_dtype_name(mend_dtype dt);
size_t mend_dtype_size(mend_dtype dt);
int mend_dtype_is_float(mend_dtype dt);
int64_t mend_tf_numel(const mend_tf_tensor *t);

/* Opens a weights file, detecting its format from its first bytes. */
mend_status mend_tf_open(const char *path, mend_tf **out, mend_err *err);
void mend_tf_close(mend_tf *f);

/* safetensors specifically (also used by mend_tf_open). */
mend_status mend_safetensors_open(const char *path, mend_tf **out, mend_err *err);

/* torch.save zip checkpoints specifically (also used by mend_tf_open): the
 * tensors of the pickled state dict ("state_dict" inside it when present),
 * read by an inert pickle reader that never runs code from the file. */
mend_status mend_torchzip_open(const char *path, mend_tf **out, mend_err *err);

const mend_tf_tensor *mend_tf_find(const mend_tf *f, const char *name);

/* The tensor's bytes as stored (t->nbytes) into dst, via pread; a short read
 * (file truncated or changed since it was opened) is MEND_E_IO naming it. */
mend_status mend_tf_read_raw(const mend_tf *f, const mend_tf_tensor *t, void *dst, mend_err *err);

/* Opens f->path for pread into f->fd1 (used by the format parsers). */
mend_status mend_tf_open_fd(mend_tf *f, mend_err *err);

/* Converts a floating tensor (f32/f16/bf16/f64) or integer tensor to float. */
mend_status mend_tf_read_f32(const mend_tf *f, const mend_tf_tensor *t, float *dst, mend_err *err);

/* Finds `name`, checks its element count is `numel` (if >= 0), allocates and
 * converts. The message names the file and tensor on failure. */
mend_status mend_tf_load_f32(const mend_tf *f, const char *name, int64_t numel, float **out, mend_err *err);

/* Same for int32 (accepts I32/I64 tensors). */
mend_status mend_tf_load_i32(const mend_tf *f, const char *name, int64_t numel, int32_t **out, mend_err *err);

/* Renames every tensor of the table: fn(ctx, old_name, out, size, err) writes
 * the new name into out (size bytes) or fails. The names are rebuilt into a
 * new strings buffer and the table re-sorted. All or nothing: on any error
 * (a callback failure, a name too long, two tensors given the same name) the
 * table is left exactly as it was. */
#define MEND_TF_NAME_MAX 512
typedef mend_status (*mend_tf_rename_fn)(void *ctx, const char *name, char *out, size_t size, mend_err *err);
mend_status mend_tf_rename(mend_tf *f, mend_tf_rename_fn fn, void *ctx, mend_err *err);

/* The start of every format parser: *out = an empty table named path
 * (*out NULL on failure). */
mend_status mend_tf_new(const char *path, mend_tf **out, mend_err *err);

/* Table builder shared by the format parsers. */
mend_status mend_tf_finish(mend_tf *f, mend_err *err);

#endif
