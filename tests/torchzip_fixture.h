/* Writes torch.save zip checkpoints (.ckpt / .pth) the way Python does,
 * for the tests: there is no torch here, so the fixtures are written by
 * this small zip + pickle writer, byte for byte in the layout torch.save
 * produces (protocol 2 pickle, stored zip entries aligned to 64 bytes,
 * storages as ARCHIVE/data/KEY). Used by test_torchzip*.c. */
#ifndef MEND_TESTS_TORCHZIP_FIXTURE_H
#define MEND_TESTS_TORCHZIP_FIXTURE_H

#include "test.h"

#include <stddef.h>
#include <stdint.h>

typedef struct buf {
    uint8_t *d;
    size_t n, cap;
} buf;

/* a string literal's bytes, embedded NULs included */
#define PUT_LIT(b, lit) put((b), (lit), sizeof(lit) - 1)

/* Emulates Python's pickler at protocol 2: every string, tuple and
 * global is memoized with BINPUT; a global or a constant string seen
 * before ('storage', 'cpu') is fetched again with BINGET. */
typedef struct pw {
    buf b;
    int memo;
    struct {
        char key[128];
        int index;
    } seen[64];
    int nseen;
} pw;

enum { FX_V2, FX_PARAM, FX_V3 };

typedef struct fx_tensor {
    const char *name;
    const char *storage; /* "FloatStorage", ... or "UntypedStorage" */
    const char *key;
    int64_t storage_numel, offset;
    int ndim;
    int64_t shape[MEND_MAX_DIMS];
    const int64_t *stride; /* NULL: contiguous */
    int how;               /* FX_V2, FX_PARAM (a Parameter around v2), FX_V3 */
    const char *v3_dtype;  /* "float16", ... for FX_V3 */
} fx_tensor;

enum { Z_ZIP64 = 1, Z_COMPRESS_PKL = 2, Z_NO_PKL = 4, Z_BIG_ENDIAN = 8 };

typedef struct fx_storage {
    const char *key;
    const void *data;
    size_t nbytes;
} fx_storage;

/* The small fixture's values: "a" FloatTensor[2, 3], "b" HalfTensor[4]. */
extern const float A_VALUES[6];
extern const float B_VALUES[4];
/* The fixtures' pseudo-random numbers (LCG), reseeded by the fuzz test. */
extern uint32_t rng_state;

/* Growing byte buffers (abort() when out of memory: a test fixture). */
void put(buf *b, const void *p, size_t n);
void put_le(buf *b, uint64_t v, int n);
void put_u8(buf *b, unsigned v);

/* wrap 0: torch.save(model.state_dict()); wrap 1: an SD .ckpt,
 * {"state_dict": ..., "global_step": 5}. */
void make_pickle(pw *w, const fx_tensor *t, int n, int wrap);
/* An A1111 textual-inversion file's pickle (Embedding.save) around t;
 * module: its string_to_param a torch.nn.ParameterDict (older files). */
void make_ti_pickle(pw *w, const fx_tensor *t, const char *name, int64_t step, const char *checkpoint, int module);
/* A torch.save archive "archive/..." around a pickle and its storages;
 * flags are Z_*. */
void torch_zip(buf *z, const uint8_t *pkl, size_t pn, const fx_storage *s, int ns, int flags);
/* The writers return 1 on success, or fail the current check and return 0. */
int write_torch_file(const char *path, const uint8_t *pkl, size_t pn, const fx_storage *s, int ns, int flags);
int write_checkpoint(const char *path, const fx_tensor *t, int nt, const fx_storage *s, int ns, int wrap, int flags);
uint32_t rnd(void);
float rnd_unit(void); /* in [-1, 1) */

/* {"a": FloatTensor[2, 3], "b": HalfTensor[4]}: torch.save(state_dict);
 * returns its path or NULL. */
const char *write_small(const char *name, int flags);
mend_tf *open_ok(const char *path);
/* The tensor's values as floats, after checking it lies inside the map. */
float *values_of(const mend_tf *f, const char *name, mend_dtype dt, int ndim, const int64_t *shape);
void check_values(const float *got, const float *want, int n, const char *what);

#endif
