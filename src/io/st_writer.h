/* safetensors writer. Tensors are added by reference (the caller keeps the
 * data alive until write) or handed over (the writer frees them). The file
 * appears atomically: it is written to PATH.tmp-PID and renamed, so a failed
 * run never leaves a partial output. */
#ifndef MEND_IO_ST_WRITER_H
#define MEND_IO_ST_WRITER_H

#include "io/tensorfile.h"

typedef struct mend_st_writer mend_st_writer;

mend_st_writer *mend_st_writer_new(void);
void mend_st_writer_free(mend_st_writer *w);

/* take_ownership: the writer free()s data when it is freed. */
mend_status mend_st_writer_add(mend_st_writer *w, const char *name, mend_dtype dt, int ndim, const int64_t *shape,
                               const void *data, int take_ownership, mend_err *err);

/* Adds a float tensor converted to dt (F32, F16 or BF16). */
mend_status mend_st_writer_add_f32_as(mend_st_writer *w, const char *name, mend_dtype dt, int ndim,
                                      const int64_t *shape, const float *data, mend_err *err);

/* Adds a tensor whose bytes are produced only while the file is written:
 * fill(ctx, name, dst, nbytes, err) must fill dst (nbytes, little-endian dt).
 * One tensor's worth of memory is held at a time, so multi-GB files can be
 * streamed out with bounded memory. */
typedef mend_status (*mend_st_fill_fn)(void *ctx, const char *name, void *dst, size_t nbytes, mend_err *err);
mend_status mend_st_writer_add_generated(mend_st_writer *w, const char *name, mend_dtype dt, int ndim,
                                         const int64_t *shape, mend_st_fill_fn fill, void *ctx, mend_err *err);

mend_status mend_st_writer_set_meta(mend_st_writer *w, const char *key, const char *value, mend_err *err);

mend_status mend_st_writer_write(mend_st_writer *w, const char *path, mend_err *err);

#endif
