/* torch.save zip checkpoints (.ckpt / .pth). There is no torch here, so the
 * fixtures are written by the small zip + pickle writer below, byte for
 * byte in the layout torch.save produces (protocol 2 pickle, stored zip
 * entries aligned to 64 bytes, storages as ARCHIVE/data/KEY):
 *   - small state dicts: names, shapes, dtypes and values;
 *   - an SD-style {"state_dict": ..., "global_step": 5} with zip64 records,
 *     shared storages with offsets, Parameters and _rebuild_tensor_v3;
 *   - a TAESD .pth and the same weights as .safetensors give identical
 *     outputs (library and `mend eval taesd-decode` with a folder of .pth);
 *   - the tiny SD model re-packed as .ckpt gives the same UNet output;
 *   - bad inputs, each with a message naming the file;
 *   - 2000 randomly damaged variants of a valid file never crash. */
#include "test.h"

#include "core/half.h"
#include "io/st_writer.h"
#include "model/sd_model.h"
#include "model/taesd.h"

#include <string.h>
#include <zlib.h>

/* ------------------------------------------------------------ bytes */

typedef struct buf {
    uint8_t *d;
    size_t n, cap;
} buf;

static void put(buf *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->n + n)
            c *= 2;
        uint8_t *d = realloc(b->d, c);
        if (!d)
            abort();
        b->d = d;
        b->cap = c;
    }
    if (n)
        memcpy(b->d + b->n, p, n);
    b->n += n;
}

static void put_le(buf *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) {
        uint8_t c = (uint8_t)(v >> (8 * i));
        put(b, &c, 1);
    }
}

static void put_u8(buf *b, unsigned v) { put_le(b, v, 1); }

/* a string literal's bytes, embedded NULs included */
#define PUT_LIT(b, lit) put((b), (lit), sizeof(lit) - 1)

/* ------------------------------------------------------------ pickle writer */

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

static void pw_op(pw *w, unsigned op) { put_u8(&w->b, op); }

static void pw_memoize(pw *w)
{
    if (w->memo < 256) {
        pw_op(w, 'q');
        put_u8(&w->b, (unsigned)w->memo);
    } else {
        pw_op(w, 'r');
        put_le(&w->b, (uint64_t)w->memo, 4);
    }
    w->memo++;
}

static int pw_recall(pw *w, const char *key)
{
    for (int i = 0; i < w->nseen; i++)
        if (!strcmp(w->seen[i].key, key)) {
            pw_op(w, 'h');
            put_u8(&w->b, (unsigned)w->seen[i].index);
            return 1;
        }
    if (w->nseen < 64 && w->memo < 256) {
        snprintf(w->seen[w->nseen].key, sizeof w->seen[0].key, "%s", key);
        w->seen[w->nseen++].index = w->memo;
    }
    return 0;
}

static void pw_str(pw *w, const char *s, int shared)
{
    char key[140];
    snprintf(key, sizeof key, "str:%s", s);
    if (shared && pw_recall(w, key))
        return;
    pw_op(w, 'X');
    put_le(&w->b, strlen(s), 4);
    put(&w->b, s, strlen(s));
    pw_memoize(w);
}

static void pw_global(pw *w, const char *mod, const char *name)
{
    char key[140];
    snprintf(key, sizeof key, "global:%s.%s", mod, name);
    if (pw_recall(w, key))
        return;
    pw_op(w, 'c');
    put(&w->b, mod, strlen(mod));
    pw_op(w, '\n');
    put(&w->b, name, strlen(name));
    pw_op(w, '\n');
    pw_memoize(w);
}

static void pw_int(pw *w, int64_t v)
{
    if (v >= 0 && v < 256) {
        pw_op(w, 'K');
        put_u8(&w->b, (unsigned)v);
    } else if (v >= 0 && v < 65536) {
        pw_op(w, 'M');
        put_le(&w->b, (uint64_t)v, 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        pw_op(w, 'J');
        put_le(&w->b, (uint64_t)v, 4);
    } else {
        pw_op(w, 0x8a); /* LONG1, as Python writes big ints */
        put_u8(&w->b, 8);
        put_le(&w->b, (uint64_t)v, 8);
    }
}

static void pw_int_tuple(pw *w, const int64_t *v, int n)
{
    if (n == 0) {
        pw_op(w, ')');
        return;
    }
    if (n > 3)
        pw_op(w, '(');
    for (int i = 0; i < n; i++)
        pw_int(w, v[i]);
    pw_op(w, n > 3 ? 't' : 0x85 + (unsigned)n - 1);
    pw_memoize(w);
}

static void pw_empty_ordered_dict(pw *w)
{
    pw_global(w, "collections", "OrderedDict");
    pw_op(w, ')');
    pw_op(w, 'R');
    pw_memoize(w);
}

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

static void pw_rebuild_v2(pw *w, const fx_tensor *t)
{
    int64_t stride[MEND_MAX_DIMS];
    for (int i = t->ndim - 1, s = 1; i >= 0; s *= (int)t->shape[i], i--)
        stride[i] = t->stride ? t->stride[i] : s;
    pw_global(w, "torch._utils", t->how == FX_V3 ? "_rebuild_tensor_v3" : "_rebuild_tensor_v2");
    pw_op(w, '(');
    pw_op(w, '('); /* the persistent id of the storage */
    pw_str(w, "storage", 1);
    pw_global(w, "torch", t->storage);
    pw_str(w, t->key, 0);
    pw_str(w, "cpu", 1);
    pw_int(w, t->storage_numel);
    pw_op(w, 't');
    pw_memoize(w);
    pw_op(w, 'Q');
    pw_int(w, t->offset);
    pw_int_tuple(w, t->shape, t->ndim);
    pw_int_tuple(w, stride, t->ndim);
    pw_op(w, 0x89); /* requires_grad False */
    pw_empty_ordered_dict(w);
    if (t->how == FX_V3)
        pw_global(w, "torch", t->v3_dtype);
    pw_op(w, 't');
    pw_memoize(w);
    pw_op(w, 'R');
    pw_memoize(w);
}

static void pw_tensor(pw *w, const fx_tensor *t)
{
    if (t->how != FX_PARAM) {
        pw_rebuild_v2(w, t);
        return;
    }
    pw_global(w, "torch._utils", "_rebuild_parameter");
    pw_rebuild_v2(w, t);
    pw_op(w, 0x88); /* requires_grad True */
    pw_empty_ordered_dict(w);
    pw_op(w, 0x87); /* TUPLE3 */
    pw_memoize(w);
    pw_op(w, 'R');
    pw_memoize(w);
}

/* The dict's items in batches of 1000, as pickle's batch_setitems. */
static void pw_items(pw *w, const fx_tensor *t, int n)
{
    for (int i = 0; i < n;) {
        int k = n - i < 1000 ? n - i : 1000;
        if (k > 1)
            pw_op(w, '(');
        for (int j = i; j < i + k; j++) {
            pw_str(w, t[j].name, 0);
            pw_tensor(w, &t[j]);
        }
        pw_op(w, k > 1 ? 'u' : 's');
        i += k;
    }
}

/* A module's state_dict(): an OrderedDict whose __dict__ holds _metadata. */
static void pw_state_dict(pw *w, const fx_tensor *t, int n)
{
    pw_empty_ordered_dict(w);
    pw_items(w, t, n);
    pw_op(w, '}');
    pw_memoize(w);
    pw_str(w, "_metadata", 0);
    pw_empty_ordered_dict(w);
    pw_op(w, 's');
    pw_op(w, 'b'); /* BUILD */
}

/* wrap 0: torch.save(model.state_dict()); wrap 1: an SD .ckpt,
 * {"state_dict": ..., "global_step": 5, "epoch": 0}. */
static void make_pickle(pw *w, const fx_tensor *t, int n, int wrap)
{
    pw_op(w, 0x80);
    put_u8(&w->b, 2);
    if (wrap) {
        pw_op(w, '}');
        pw_memoize(w);
        pw_op(w, '(');
        pw_str(w, "state_dict", 0);
    }
    pw_state_dict(w, t, n);
    if (wrap) {
        pw_str(w, "global_step", 0);
        pw_int(w, 5);
        pw_str(w, "epoch", 0);
        pw_int(w, 0);
        pw_op(w, 'u');
    }
    pw_op(w, '.');
}

/* ------------------------------------------------------------ zip writer */

enum { Z_ZIP64 = 1, Z_COMPRESS_PKL = 2, Z_NO_PKL = 4, Z_BIG_ENDIAN = 8 };

typedef struct zfile {
    char name[160];
    const void *data;
    size_t n;
    unsigned method;
} zfile;

typedef struct fx_storage {
    const char *key;
    const void *data;
    size_t nbytes;
} fx_storage;

static void local_header(buf *z, const zfile *f, uint32_t crc)
{
    size_t nl = strlen(f->name);
    /* torch pads the extra field so that every entry's data is 64-aligned */
    size_t pad = (64 - (z->n + 30 + nl + 4) % 64) % 64;
    put_le(z, 0x04034b50, 4);
    put_le(z, 20, 2);
    put_le(z, 0, 2);
    put_le(z, f->method, 2);
    put_le(z, 0, 2);
    put_le(z, 0x21, 2);
    put_le(z, crc, 4);
    put_le(z, f->n, 4);
    put_le(z, f->n, 4);
    put_le(z, nl, 2);
    put_le(z, 4 + pad, 2);
    put(z, f->name, nl);
    put_le(z, 0x4246, 2); /* "FB" */
    put_le(z, pad, 2);
    for (size_t i = 0; i < pad; i++)
        put_u8(z, 'Z');
}

static void central_header(buf *z, const zfile *f, uint32_t crc, uint64_t local, int zip64)
{
    size_t nl = strlen(f->name);
    put_le(z, 0x02014b50, 4);
    put_le(z, zip64 ? 45 : 20, 2);
    put_le(z, zip64 ? 45 : 20, 2);
    put_le(z, 0, 2);
    put_le(z, f->method, 2);
    put_le(z, 0, 2);
    put_le(z, 0x21, 2);
    put_le(z, crc, 4);
    put_le(z, zip64 ? 0xFFFFFFFFu : f->n, 4);
    put_le(z, zip64 ? 0xFFFFFFFFu : f->n, 4);
    put_le(z, nl, 2);
    put_le(z, zip64 ? 28 : 0, 2);
    put_le(z, 0, 2);
    put_le(z, 0, 2);
    put_le(z, 0, 2);
    put_le(z, 0, 4);
    put_le(z, zip64 ? 0xFFFFFFFFu : local, 4);
    put(z, f->name, nl);
    if (zip64) { /* zip64 extra: uncompressed size, compressed size, local header offset */
        put_le(z, 1, 2);
        put_le(z, 24, 2);
        put_le(z, f->n, 8);
        put_le(z, f->n, 8);
        put_le(z, local, 8);
    }
}

static void end_records(buf *z, int n, uint64_t cd_off, uint64_t cd_size, int zip64)
{
    if (zip64) {
        uint64_t e64 = z->n;
        put_le(z, 0x06064b50, 4);
        put_le(z, 44, 8);
        put_le(z, 45, 2);
        put_le(z, 45, 2);
        put_le(z, 0, 4);
        put_le(z, 0, 4);
        put_le(z, (uint64_t)n, 8);
        put_le(z, (uint64_t)n, 8);
        put_le(z, cd_size, 8);
        put_le(z, cd_off, 8);
        put_le(z, 0x07064b50, 4);
        put_le(z, 0, 4);
        put_le(z, e64, 8);
        put_le(z, 1, 4);
    }
    put_le(z, 0x06054b50, 4);
    put_le(z, 0, 2);
    put_le(z, 0, 2);
    put_le(z, zip64 ? 0xFFFF : (unsigned)n, 2);
    put_le(z, zip64 ? 0xFFFF : (unsigned)n, 2);
    put_le(z, zip64 ? 0xFFFFFFFFu : cd_size, 4);
    put_le(z, zip64 ? 0xFFFFFFFFu : cd_off, 4);
    put_le(z, 0, 2);
}

static void zip_bytes(buf *z, const zfile *f, int n, int zip64)
{
    uint64_t *local = calloc((size_t)n, sizeof *local);
    uint32_t *crc = calloc((size_t)n, sizeof *crc);
    if (!local || !crc)
        abort();
    for (int i = 0; i < n; i++) {
        crc[i] = (uint32_t)crc32(0L, f[i].data, (uInt)f[i].n);
        local[i] = z->n;
        local_header(z, &f[i], crc[i]);
        put(z, f[i].data, f[i].n);
    }
    uint64_t cd = z->n;
    for (int i = 0; i < n; i++)
        central_header(z, &f[i], crc[i], local[i], zip64);
    end_records(z, n, cd, z->n - cd, zip64);
    free(local);
    free(crc);
}

static int save_bytes(const char *path, const void *d, size_t n)
{
    FILE *fp = fopen(path, "wb");
    int ok = fp && fwrite(d, 1, n, fp) == n;
    if (fp)
        ok = fclose(fp) == 0 && ok;
    CHECK_MSG(ok, "cannot write %s", path);
    return ok;
}

/* A torch.save archive "archive/..." around a pickle and its storages. */
static void torch_zip(buf *z, const uint8_t *pkl, size_t pn, const fx_storage *s, int ns, int flags)
{
    zfile *f = calloc((size_t)ns + 3, sizeof *f);
    if (!f)
        abort();
    int n = 0;
    if (!(flags & Z_NO_PKL))
        f[n++] = (zfile){"archive/data.pkl", pkl, pn, flags & Z_COMPRESS_PKL ? 8u : 0u};
    f[n++] = (zfile){"archive/byteorder", flags & Z_BIG_ENDIAN ? "big" : "little", flags & Z_BIG_ENDIAN ? 3 : 6, 0};
    for (int i = 0; i < ns; i++) {
        f[n] = (zfile){.data = s[i].data, .n = s[i].nbytes};
        snprintf(f[n++].name, sizeof f[0].name, "archive/data/%s", s[i].key);
    }
    f[n++] = (zfile){"archive/version", "3\n", 2, 0};
    zip_bytes(z, f, n, flags & Z_ZIP64);
    free(f);
}

static int write_torch_file(const char *path, const uint8_t *pkl, size_t pn, const fx_storage *s, int ns, int flags)
{
    buf z = {0};
    torch_zip(&z, pkl, pn, s, ns, flags);
    int ok = save_bytes(path, z.d, z.n);
    free(z.d);
    return ok;
}

static int write_checkpoint(const char *path, const fx_tensor *t, int nt, const fx_storage *s, int ns, int wrap,
                            int flags)
{
    pw w = {0};
    make_pickle(&w, t, nt, wrap);
    int ok = write_torch_file(path, w.b.d, w.b.n, s, ns, flags);
    free(w.b.d);
    return ok;
}

static const char *tmp_path(const char *name)
{
    static char paths[8][512];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", test_tmpdir(), name);
    return p;
}

static uint32_t rng_state = 12345;
static uint32_t rnd(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}
static float rnd_unit(void) { return (float)(rnd() & 0xFFFF) / 65536.0f * 2.0f - 1.0f; }

/* ------------------------------------------------------------ small files */

static const float A_VALUES[6] = {0.0f, 1.5f, -3.0f, 4.25f, 1e-3f, -65504.0f};
static const float B_VALUES[4] = {1.0f, -2.0f, 0.5f, 65504.0f};

static uint16_t b_half[4];

/* {"a": FloatTensor[2, 3], "b": HalfTensor[4]}: torch.save(state_dict). */
static const char *write_small(const char *name, int flags)
{
    for (int i = 0; i < 4; i++)
        b_half[i] = mend_f32_to_f16(B_VALUES[i]);
    fx_tensor t[] = {
        {.name = "a", .storage = "FloatStorage", .key = "0", .storage_numel = 6, .ndim = 2, .shape = {2, 3}},
        {.name = "b", .storage = "HalfStorage", .key = "1", .storage_numel = 4, .ndim = 1, .shape = {4}},
    };
    fx_storage s[] = {{"0", A_VALUES, sizeof A_VALUES}, {"1", b_half, sizeof b_half}};
    const char *path = tmp_path(name);
    return write_checkpoint(path, t, 2, s, 2, 0, flags) ? path : NULL;
}

static mend_tf *open_ok(const char *path)
{
    mend_err err = {0};
    mend_tf *f = NULL;
    CHECK_OK(mend_tf_open(path, &f, &err), &err);
    return f;
}

/* The tensor's values as floats, after checking it lies inside the map. */
static float *values_of(const mend_tf *f, const char *name, mend_dtype dt, int ndim, const int64_t *shape)
{
    const mend_tf_tensor *t = mend_tf_find(f, name);
    CHECK_MSG(t != NULL, "tensor '%s' missing", name);
    if (!t)
        return NULL;
    CHECK_MSG(t->dtype == dt, "'%s' is %s, expected %s", name, mend_dtype_name(t->dtype), mend_dtype_name(dt));
    CHECK(t->ndim == ndim);
    for (int i = 0; i < ndim && i < t->ndim; i++)
        CHECK(t->shape[i] == shape[i]);
    const uint8_t *lo = f->map, *hi = lo + f->map_size;
    CHECK(t->data >= lo && t->data + t->nbytes <= hi);
    CHECK(t->nbytes == (size_t)mend_tf_numel(t) * mend_dtype_size(t->dtype));
    return test_load_f32(f, name, NULL);
}

static void check_values(const float *got, const float *want, int n, const char *what)
{
    for (int i = 0; got && i < n; i++)
        CHECK_MSG(got[i] == want[i], "%s[%d] = %g, expected %g", what, i, got[i], want[i]);
}

TEST(state_dict_of_float_and_half_tensors)
{
    const char *path = write_small("small.pth", 0);
    mend_tf *f = path ? open_ok(path) : NULL;
    if (!f)
        return;
    CHECK(f->count == 2);
    float *a = values_of(f, "a", MEND_DT_F32, 2, (const int64_t[]){2, 3});
    float *b = values_of(f, "b", MEND_DT_F16, 1, (const int64_t[]){4});
    check_values(a, A_VALUES, 6, "a");
    check_values(b, B_VALUES, 4, "b");
    free(a);
    free(b);
    mend_tf_close(f);
}

/* An SD-style checkpoint with zip64 records; storages shared between
 * tensors (with offsets), a Parameter, a _rebuild_tensor_v3 over an
 * untyped storage, bf16, int64 and a 0-d tensor. */
TEST(sd_ckpt_layout_with_zip64_and_shared_storages)
{
    float f32[8];
    uint16_t bf[4], h[3];
    int64_t ids[3] = {0, 1, -7000000000ll};
    for (int i = 0; i < 8; i++)
        f32[i] = (float)i * 0.25f - 1.0f;
    for (int i = 0; i < 4; i++)
        bf[i] = mend_f32_to_bf16((float)(i + 1) * 3.0f);
    for (int i = 0; i < 3; i++)
        h[i] = mend_f32_to_f16((float)i - 0.5f);
    static const int64_t col_major[2] = {1, 2}; /* shape (2, 1): stride of a size-1 dim does not matter */
    fx_tensor t[] = {
        {.name = "model.diffusion_model.w", .storage = "FloatStorage", .key = "0", .storage_numel = 8, .ndim = 2,
         .shape = {2, 2}},
        {.name = "model.diffusion_model.v", .storage = "FloatStorage", .key = "0", .storage_numel = 8, .offset = 5,
         .ndim = 2, .shape = {2, 1}, .stride = col_major},
        {.name = "model.scalar", .storage = "FloatStorage", .key = "0", .storage_numel = 8, .offset = 7},
        {.name = "first_stage_model.p", .storage = "BFloat16Storage", .key = "1", .storage_numel = 4, .ndim = 1,
         .shape = {4}, .how = FX_PARAM},
        {.name = "cond_stage_model.ids", .storage = "LongStorage", .key = "2", .storage_numel = 3, .ndim = 2,
         .shape = {1, 3}},
        {.name = "model.untyped_half", .storage = "UntypedStorage", .key = "3", .storage_numel = 6, .ndim = 1,
         .shape = {3}, .how = FX_V3, .v3_dtype = "float16"},
    };
    fx_storage s[] = {{"0", f32, sizeof f32}, {"1", bf, sizeof bf}, {"2", ids, sizeof ids}, {"3", h, sizeof h}};
    const char *path = tmp_path("sd.ckpt");
    if (!write_checkpoint(path, t, 6, s, 4, 1, Z_ZIP64))
        return;
    mend_tf *f = open_ok(path);
    if (!f)
        return;
    CHECK(f->count == 6);
    CHECK(mend_tf_find(f, "global_step") == NULL && mend_tf_find(f, "epoch") == NULL);
    CHECK(mend_tf_find(f, "_metadata") == NULL);
    float *w = values_of(f, "model.diffusion_model.w", MEND_DT_F32, 2, (const int64_t[]){2, 2});
    float *v = values_of(f, "model.diffusion_model.v", MEND_DT_F32, 2, (const int64_t[]){2, 1});
    float *sc = values_of(f, "model.scalar", MEND_DT_F32, 0, NULL);
    float *p = values_of(f, "first_stage_model.p", MEND_DT_BF16, 1, (const int64_t[]){4});
    float *id = values_of(f, "cond_stage_model.ids", MEND_DT_I64, 2, (const int64_t[]){1, 3});
    float *uh = values_of(f, "model.untyped_half", MEND_DT_F16, 1, (const int64_t[]){3});
    check_values(w, f32, 4, "w");
    check_values(v, f32 + 5, 2, "v");
    check_values(sc, f32 + 7, 1, "scalar");
    check_values(p, (const float[]){3, 6, 9, 12}, 4, "p");
    check_values(id, (const float[]){0, 1, -7e9f}, 3, "ids");
    check_values(uh, (const float[]){-0.5f, 0.5f, 1.5f}, 3, "untyped_half");
    free(w);
    free(v);
    free(sc);
    free(p);
    free(id);
    free(uh);
    mend_tf_close(f);
}

/* ------------------------------------------------------------ TAESD */

#define TAESD_WIDTH 8

typedef struct weights {
    fx_tensor t[128];
    fx_storage s[128];
    uint16_t *data[128];
    char names[128][48], keys[128][8];
    int n;
} weights;

static void add_weight(weights *w, const char *name, int ndim, const int64_t *shape)
{
    int i = w->n++;
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++)
        numel *= shape[d];
    w->data[i] = malloc((size_t)numel * sizeof(uint16_t));
    if (!w->data[i])
        abort();
    for (int64_t k = 0; k < numel; k++)
        w->data[i][k] = mend_f32_to_f16(rnd_unit() * 0.3f);
    snprintf(w->names[i], sizeof w->names[i], "%s", name);
    snprintf(w->keys[i], sizeof w->keys[i], "%d", i);
    w->t[i] = (fx_tensor){.name = w->names[i], .storage = "HalfStorage", .key = w->keys[i],
                          .storage_numel = numel, .ndim = ndim};
    memcpy(w->t[i].shape, shape, (size_t)ndim * sizeof *shape);
    w->s[i] = (fx_storage){w->keys[i], w->data[i], (size_t)numel * sizeof(uint16_t)};
}

static void add_conv(weights *w, const char *name, int cin, int cout, int bias)
{
    char n[40];
    snprintf(n, sizeof n, "%s.weight", name);
    add_weight(w, n, 4, (const int64_t[]){cout, cin, 3, 3});
    if (bias) {
        snprintf(n, sizeof n, "%s.bias", name);
        add_weight(w, n, 1, (const int64_t[]){cout});
    }
}

/* TAESD's Sequential layout (madebyollin/taesd) at a small width:
 * 'c' conv with bias, 's'/'n' conv without, 'b' block (conv.0/2/4),
 * anything else has no weights. */
static void make_taesd(weights *w, const char *layers, int cin, int cout)
{
    int count = (int)strlen(layers), c = cin;
    char name[32];
    for (int i = 0; i < count; i++) {
        int out = i == count - 1 ? cout : TAESD_WIDTH;
        snprintf(name, sizeof name, "%d", i);
        if (layers[i] == 'c' || layers[i] == 's' || layers[i] == 'n') {
            add_conv(w, name, c, out, layers[i] == 'c');
            c = out;
        } else if (layers[i] == 'b') {
            for (int k = 0; k < 3; k++) {
                snprintf(name, sizeof name, "%d.conv.%d", i, 2 * k);
                add_conv(w, name, k ? out : c, out, 1);
            }
            c = out;
        }
    }
}

static void free_weights(weights *w)
{
    for (int i = 0; i < w->n; i++)
        free(w->data[i]);
}

static int write_safetensors(const char *path, const weights *w)
{
    mend_st_writer *sw = mend_st_writer_new();
    mend_err err = {0};
    mend_status s = sw ? MEND_OK : MEND_E_NOMEM;
    for (int i = 0; s == MEND_OK && i < w->n; i++)
        s = mend_st_writer_add(sw, w->names[i], MEND_DT_F16, w->t[i].ndim, w->t[i].shape, w->data[i], 0, &err);
    if (s == MEND_OK)
        s = mend_st_writer_write(sw, path, &err);
    CHECK_OK(s, &err);
    mend_st_writer_free(sw);
    return s == MEND_OK;
}

static mend_taesd *load_taesd(const char *enc, const char *dec)
{
    mend_tf *e = open_ok(enc), *d = open_ok(dec);
    mend_taesd *t = NULL;
    mend_err err = {0};
    if (e && d)
        CHECK_OK(mend_taesd_load(e, d, &t, &err), &err);
    mend_tf_close(e);
    mend_tf_close(d);
    return t;
}

#define IMG 16
#define LAT (IMG / 8)

TEST(taesd_pth_matches_safetensors)
{
    weights enc = {0}, dec = {0};
    make_taesd(&enc, "cbsbbbsbbbsbbbc", 3, 4);
    make_taesd(&dec, "-c-bbb-nbbb-nbbb-nbc", 4, 3);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/taesd_pth", test_tmpdir());
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    CHECK(test_run(cmd, NULL) == 0);
    char enc_pth[600], dec_pth[600];
    snprintf(enc_pth, sizeof enc_pth, "%s/taesd_encoder.pth", dir);
    snprintf(dec_pth, sizeof dec_pth, "%s/taesd_decoder.pth", dir);
    const char *enc_st = tmp_path("taesd_encoder.safetensors"), *dec_st = tmp_path("taesd_decoder.safetensors");
    int ok = write_checkpoint(enc_pth, enc.t, enc.n, enc.s, enc.n, 0, 0) &&
             write_checkpoint(dec_pth, dec.t, dec.n, dec.s, dec.n, 0, 0) && write_safetensors(enc_st, &enc) &&
             write_safetensors(dec_st, &dec);
    mend_taesd *from_pth = ok ? load_taesd(enc_pth, dec_pth) : NULL;
    mend_taesd *from_st = ok ? load_taesd(enc_st, dec_st) : NULL;
    if (from_pth && from_st) {
        CHECK(mend_taesd_params(from_pth) == mend_taesd_params(from_st));
        float img[3 * IMG * IMG], lat[2][4 * LAT * LAT], out[2][3 * IMG * IMG];
        for (int i = 0; i < 3 * IMG * IMG; i++)
            img[i] = (rnd_unit() + 1) / 2;
        mend_err err = {0};
        CHECK_OK(mend_taesd_encode(from_pth, img, 1, IMG, IMG, lat[0], &err), &err);
        CHECK_OK(mend_taesd_encode(from_st, img, 1, IMG, IMG, lat[1], &err), &err);
        CHECK_OK(mend_taesd_decode(from_pth, lat[1], 1, LAT, LAT, out[0], &err), &err);
        CHECK_OK(mend_taesd_decode(from_st, lat[1], 1, LAT, LAT, out[1], &err), &err);
        double de = test_max_abs_diff(lat[0], lat[1], 4 * LAT * LAT);
        double dd = test_max_abs_diff(out[0], out[1], 3 * IMG * IMG);
        printf("  .pth vs .safetensors: encoder max abs diff %g, decoder %g (must be 0)\n", de, dd);
        CHECK(de == 0 && dd == 0);

        /* mend eval taesd-decode --model FOLDER picks taesd_decoder.pth */
        const char *in = tmp_path("taesd_in.safetensors"), *outp = tmp_path("taesd_out.safetensors");
        mend_st_writer *sw = mend_st_writer_new();
        CHECK_OK(mend_st_writer_add(sw, "x/latent", MEND_DT_F32, 4, (const int64_t[]){1, 4, LAT, LAT}, lat[1], 0,
                                    &err),
                 &err);
        CHECK_OK(mend_st_writer_write(sw, in, &err), &err);
        mend_st_writer_free(sw);
        snprintf(cmd, sizeof cmd, "'%s' eval taesd-decode --model '%s' --in '%s' --out '%s'", test_mend_bin(), dir,
                 in, outp);
        int rc = test_run(cmd, tmp_path("taesd_eval.log"));
        CHECK_MSG(rc == 0, "%s exited %d", cmd, rc);
        mend_tf *got = rc == 0 ? open_ok(outp) : NULL;
        float *cli = got ? test_load_f32(got, "x/decoded01", NULL) : NULL;
        if (cli) {
            double dc = test_max_abs_diff(cli, out[1], 3 * IMG * IMG);
            printf("  mend eval taesd-decode with a folder of .pth: max abs diff %g (tol 1e-6)\n", dc);
            CHECK(dc <= 1e-6);
        }
        free(cli);
        mend_tf_close(got);
    }
    mend_taesd_free(from_pth);
    mend_taesd_free(from_st);
    free_weights(&enc);
    free_weights(&dec);
}

/* ------------------------------------------------------------ tiny SD */

static const char *storage_of(mend_dtype dt)
{
    switch (dt) {
    case MEND_DT_F32: return "FloatStorage";
    case MEND_DT_F16: return "HalfStorage";
    case MEND_DT_BF16: return "BFloat16Storage";
    case MEND_DT_F64: return "DoubleStorage";
    case MEND_DT_I64: return "LongStorage";
    case MEND_DT_I32: return "IntStorage";
    default: return "ByteStorage";
    }
}

/* Every tensor of a safetensors file into {"state_dict": ..., "global_step": 5}. */
static int repack_as_ckpt(const mend_tf *st, const char *path)
{
    fx_tensor *t = calloc((size_t)st->count, sizeof *t);
    fx_storage *s = calloc((size_t)st->count, sizeof *s);
    char(*keys)[12] = calloc((size_t)st->count, sizeof *keys);
    int ok = t && s && keys;
    for (int i = 0; ok && i < st->count; i++) {
        const mend_tf_tensor *x = &st->tensors[i];
        snprintf(keys[i], sizeof keys[i], "%d", i);
        t[i] = (fx_tensor){.name = x->name, .storage = storage_of(x->dtype), .key = keys[i],
                           .storage_numel = mend_tf_numel(x), .ndim = x->ndim};
        memcpy(t[i].shape, x->shape, sizeof x->shape);
        s[i] = (fx_storage){keys[i], x->data, x->nbytes};
    }
    ok = ok && write_checkpoint(path, t, st->count, s, st->count, 1, 0);
    free(t);
    free(s);
    free(keys);
    return ok;
}

static float *unet_output(const char *path, int H, int W, int T, const float *x, const float *ctx)
{
    mend_err err = {0};
    mend_sd_model *m = NULL;
    CHECK_OK(mend_sd_load(path, NULL, MEND_COMP_UNET | MEND_COMP_VAE | MEND_COMP_CLIP, &m, &err), &err);
    if (!m)
        return NULL;
    const mend_unet_arch *a = mend_unet_get_arch(m->unet);
    float *out = malloc((size_t)(a->out_channels * H * W) * sizeof *out), ts = 500.0f;
    CHECK_OK(mend_unet_forward(m->unet, x, 1, H, W, &ts, ctx, T, out, &err), &err);
    mend_sd_free(m);
    return out;
}

TEST(tiny_sd_ckpt_matches_safetensors)
{
    REQUIRE_SHARED(st_path, "models/tiny-sd1.f16.safetensors");
    mend_tf *st = open_ok(st_path);
    const char *ckpt = tmp_path("tiny-sd1.ckpt");
    if (!st || !repack_as_ckpt(st, ckpt)) {
        mend_tf_close(st);
        return;
    }
    mend_tf *ck = open_ok(ckpt);
    if (ck) {
        CHECK(ck->count == st->count);
        for (int i = 0; i < st->count && i < ck->count; i++) {
            const mend_tf_tensor *a = &st->tensors[i], *b = &ck->tensors[i];
            CHECK_MSG(!strcmp(a->name, b->name) && a->dtype == b->dtype && a->nbytes == b->nbytes &&
                          !memcmp(a->data, b->data, a->nbytes),
                      "tensor '%s' differs", a->name);
        }
    }
    mend_tf_close(ck);
    mend_tf_close(st);
    enum { H = 16, W = 16, T = 5, C = 32 };
    float x[4 * H * W], ctx[T * C];
    for (int i = 0; i < 4 * H * W; i++)
        x[i] = rnd_unit();
    for (int i = 0; i < T * C; i++)
        ctx[i] = rnd_unit();
    float *a = unet_output(st_path, H, W, T, x, ctx), *b = unet_output(ckpt, H, W, T, x, ctx);
    if (a && b) {
        double d = test_max_abs_diff(a, b, 4 * H * W);
        printf("  tiny SD UNet, .ckpt vs .safetensors: max abs diff %g (must be 0)\n", d);
        CHECK(d == 0);
    }
    free(a);
    free(b);
    remove(ckpt);
}

/* ------------------------------------------------------------ bad input */

/* Opening must fail with MEND_E_FORMAT and a message naming the file and
 * containing `phrase`. */
static void expect_error(const char *path, const char *phrase)
{
    mend_err err = {0};
    mend_tf *f = NULL;
    mend_status s = mend_tf_open(path, &f, &err);
    CHECK_MSG(s == MEND_E_FORMAT, "%s opened (%s), expected an error about '%s'", path, mend_status_name(s), phrase);
    CHECK(f == NULL);
    CHECK_MSG(strstr(err.msg, path) != NULL, "message does not name the file: %s", err.msg);
    CHECK_MSG(strstr(err.msg, phrase) != NULL, "message lacks '%s': %s", phrase, err.msg);
    printf("  %-22s -> %s\n", strrchr(path, '/') + 1, err.msg + strlen(path));
    mend_tf_close(f);
}

/* A file with one pickle and the storages of the small fixture. */
static void expect_pickle_error(const char *name, const uint8_t *pkl, size_t n, const char *phrase)
{
    fx_storage s[] = {{"0", A_VALUES, sizeof A_VALUES}};
    const char *path = tmp_path(name);
    if (write_torch_file(path, pkl, n, s, 1, 0))
        expect_error(path, phrase);
}

/* One tensor "a" described by t, in a file that holds storage "0" of 6 floats. */
static void expect_tensor_error(const char *name, fx_tensor t, const char *phrase)
{
    fx_storage s[] = {{"0", A_VALUES, sizeof A_VALUES}};
    t.name = "a";
    const char *path = tmp_path(name);
    if (write_checkpoint(path, &t, 1, s, 1, 0, 0))
        expect_error(path, phrase);
}

TEST(damaged_archives_are_rejected)
{
    const char *good = write_small("good.pth", 0);
    size_t n = 0;
    char *bytes = good ? test_read_file(good, &n) : NULL;
    if (!bytes)
        return;
    const char *p = tmp_path("truncated.pth");
    if (save_bytes(p, bytes, n * 2 / 3))
        expect_error(p, "truncated");
    p = tmp_path("tiny.pth");
    if (save_bytes(p, bytes, 10))
        expect_error(p, "too short");
    free(bytes);

    pw w = {0};
    make_pickle(&w, (fx_tensor[]){{.name = "a", .storage = "FloatStorage", .key = "0", .storage_numel = 6,
                                   .ndim = 1, .shape = {6}}},
                1, 0);
    fx_storage s[] = {{"0", A_VALUES, sizeof A_VALUES}};
    p = tmp_path("no_pickle.pth");
    if (write_torch_file(p, w.b.d, w.b.n, s, 1, Z_NO_PKL))
        expect_error(p, "data.pkl");
    p = tmp_path("compressed.pth");
    if (write_torch_file(p, w.b.d, w.b.n, s, 1, Z_COMPRESS_PKL))
        expect_error(p, "is compressed");
    p = tmp_path("big_endian.pth");
    if (write_torch_file(p, w.b.d, w.b.n, s, 1, Z_BIG_ENDIAN))
        expect_error(p, "little-endian");
    expect_pickle_error("cut_pickle.pth", w.b.d, w.b.n - 40, "truncated");
    /* cut inside the BINUNICODE "storage" (its length is read, not all bytes) */
    for (size_t i = 0; i + 7 <= w.b.n; i++)
        if (!memcmp(w.b.d + i, "storage", 7)) {
            expect_pickle_error("cut_mid_opcode.pth", w.b.d, i + 3, "middle of opcode");
            break;
        }
    free(w.b.d);

    p = tmp_path("legacy.pt");
    if (save_bytes(p, "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15))
        expect_error(p, "legacy");
}

TEST(forbidden_globals_are_refused)
{
    /* GLOBAL posix.system called with "echo pwned" */
    static const char sys[] = "\x80\x02" "cposix\nsystem\nq\x00X\x0a\x00\x00\x00" "echo pwnedq\x01\x85q\x02Rq\x03.";
    expect_pickle_error("posix_system.pth", (const uint8_t *)sys, sizeof sys - 1, "'posix.system'");
    /* protocol 4: STACK_GLOBAL builtins.eval */
    static const char ev[] = "\x80\x04\x95\x20\x00\x00\x00\x00\x00\x00\x00\x8c\x08" "builtins\x94\x8c\x04"
                             "eval\x94\x93\x94\x8c\x04" "1+1)\x94\x85\x94R\x94.";
    expect_pickle_error("builtins_eval.pth", (const uint8_t *)ev, sizeof ev - 1, "'builtins.eval'");
    /* a state dict whose tensor is built by os.system instead of torch */
    static const char os[] = "\x80\x02}q\x00X\x01\x00\x00\x00" "aq\x01" "cos\nsystem\nq\x02X\x02\x00\x00\x00lsq\x03"
                             "\x85Rq\x04s.";
    expect_pickle_error("os_system.pth", (const uint8_t *)os, sizeof os - 1, "not allowed");
    mend_err err = {0};
    mend_tf *f = NULL;
    CHECK(mend_tf_open(tmp_path("os_system.pth"), &f, &err) == MEND_E_FORMAT);
    CHECK(strstr(err.msg, "no code in them is ever run") != NULL);
}

TEST(bad_tensors_are_rejected)
{
    fx_tensor base = {.storage = "FloatStorage", .key = "0", .storage_numel = 6, .ndim = 2, .shape = {2, 3}};
    fx_tensor t = base;
    t.key = "9";
    expect_tensor_error("missing_storage.pth", t, "storage 'archive/data/9' is missing");
    t = base;
    t.offset = 2;
    expect_tensor_error("past_storage.pth", t, "extends past the end of its storage");
    t = base;
    t.storage_numel = 7; /* 7 floats declared, 6 stored */
    expect_tensor_error("short_storage.pth", t, "holds 24 bytes");
    t = base;
    t.stride = (const int64_t[]){1, 2};
    expect_tensor_error("transposed.pth", t, "not contiguous");
    t = base;
    t.storage = "ComplexFloatStorage";
    expect_tensor_error("complex.pth", t, "storage type 'torch.ComplexFloatStorage'");
    t = base;
    t.storage = "QInt8Storage";
    expect_tensor_error("qint8.pth", t, "not supported");
    t = base;
    t.storage = "UntypedStorage";
    expect_tensor_error("untyped_v2.pth", t, "untyped storage");
    t = base;
    t.how = FX_V3;
    t.v3_dtype = "float16";
    expect_tensor_error("v3_mismatch.pth", t, "is F16 but its storage is F32");
}

TEST(hostile_pickle_structure_is_rejected)
{
    buf b = {0};
    PUT_LIT(&b, "\x80\x02");
    for (int i = 0; i < 5000; i++)
        put_u8(&b, '(');
    put_u8(&b, '.');
    expect_pickle_error("deep_marks.pth", b.d, b.n, "MARKs more than");
    b.n = 0;
    PUT_LIT(&b, "\x80\x02}r\xf0\xff\xff\xff."); /* LONG_BINPUT 0xfffffff0 */
    expect_pickle_error("huge_memo_put.pth", b.d, b.n, "memo entry 4294967280");
    b.n = 0;
    PUT_LIT(&b, "\x80\x02}q\x00j\x00\x00\x00\x10."); /* LONG_BINGET of nothing */
    expect_pickle_error("huge_memo_get.pth", b.d, b.n, "never stored");
    b.n = 0;
    /* 100000 nested lists: fine for the machine (no recursion), but not a dict */
    PUT_LIT(&b, "\x80\x02");
    for (int i = 0; i < 100000; i++)
        put(&b, "]q\x00", 3);
    for (int i = 0; i < 99999; i++)
        put_u8(&b, 'a');
    put_u8(&b, '.');
    expect_pickle_error("nested_lists.pth", b.d, b.n, "holds a list, not a dict");
    b.n = 0;
    /* a list that contains itself */
    PUT_LIT(&b, "\x80\x02]q\x00h\x00" "a.");
    expect_pickle_error("self_list.pth", b.d, b.n, "not a dict");
    b.n = 0;
    PUT_LIT(&b, "\x80\x02}q\x00" "X\x01\x00\x00\x00nK\x05s."); /* {"n": 5} */
    expect_pickle_error("no_tensors.pth", b.d, b.n, "holds no tensors");
    b.n = 0;
    PUT_LIT(&b, "\x80\x02" "0.");
    expect_pickle_error("pop_empty.pth", b.d, b.n, "no MARK");
    b.n = 0;
    PUT_LIT(&b, "\x80\x02I1\n.");
    expect_pickle_error("text_opcode.pth", b.d, b.n, "opcode 'I'");
    b.n = 0;
    /* an empty list from MARK before anything was pushed: under UBSan this
     * was NULL + 0 in the reader */
    PUT_LIT(&b, "\x80\x02(l.");
    expect_pickle_error("mark_list.pth", b.d, b.n, "not a dict");
    free(b.d);
}

/* ------------------------------------------------------------ fuzzing */

/* 2000 variants of a valid checkpoint with random bytes changed (or cut
 * short): each either loads, with every tensor readable, or fails with a
 * message naming the file. Under the sanitizer build any out-of-bounds
 * read shows up here. */
TEST(damaged_variants_never_crash)
{
    float f32[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint16_t h[2] = {0x3c00, 0xc000};
    fx_tensor t[] = {
        {.name = "model.w", .storage = "FloatStorage", .key = "0", .storage_numel = 8, .ndim = 2, .shape = {2, 4}},
        {.name = "model.v", .storage = "FloatStorage", .key = "0", .storage_numel = 8, .offset = 6, .ndim = 1,
         .shape = {2}, .how = FX_PARAM},
        {.name = "model.h", .storage = "UntypedStorage", .key = "1", .storage_numel = 4, .ndim = 1, .shape = {2},
         .how = FX_V3, .v3_dtype = "float16"},
    };
    fx_storage s[] = {{"0", f32, sizeof f32}, {"1", h, sizeof h}};
    pw w = {0};
    make_pickle(&w, t, 3, 1);
    buf z = {0};
    torch_zip(&z, w.b.d, w.b.n, s, 2, Z_ZIP64);
    free(w.b.d);
    const char *path = tmp_path("fuzz.ckpt");
    uint8_t *v = malloc(z.n);
    int loaded = 0, failed = 0, unnamed = 0;
    rng_state = 2024;
    for (int k = 0; v && k < 2000; k++) {
        memcpy(v, z.d, z.n);
        size_t n = z.n;
        int flips = 1 + (int)(rnd() % 8);
        for (int i = 0; i < flips; i++) {
            static const uint8_t special[] = {0x00, 0xff, 0x7f, 0x80, '(', '.', 'q', 'h', 'R', 't', 'u', 'Q'};
            size_t at = rnd() % n;
            v[at] = rnd() % 2 ? (uint8_t)rnd() : special[rnd() % sizeof special];
        }
        if (k % 10 == 9)
            n = 1 + rnd() % n;
        if (!save_bytes(path, v, n))
            break;
        mend_err err = {0};
        mend_tf *f = NULL;
        if (mend_tf_open(path, &f, &err) == MEND_OK) {
            loaded++;
            for (int i = 0; i < f->count; i++) {
                float *x = test_load_f32(f, f->tensors[i].name, NULL);
                free(x);
            }
            mend_tf_close(f);
        } else {
            failed++;
            unnamed += strstr(err.msg, path) == NULL;
        }
    }
    printf("  2000 damaged variants: %d loaded, %d rejected\n", loaded, failed);
    CHECK(loaded + failed == 2000);
    CHECK(failed > 0 && loaded > 0); /* the damage reaches both harmless and fatal bytes */
    CHECK_MSG(unnamed == 0, "%d error messages did not name the file", unnamed);
    free(v);
    free(z.d);
}

int main(void)
{
    RUN(state_dict_of_float_and_half_tensors);
    RUN(sd_ckpt_layout_with_zip64_and_shared_storages);
    RUN(taesd_pth_matches_safetensors);
    RUN(tiny_sd_ckpt_matches_safetensors);
    RUN(damaged_archives_are_rejected);
    RUN(forbidden_globals_are_refused);
    RUN(bad_tensors_are_rejected);
    RUN(hostile_pickle_structure_is_rejected);
    RUN(damaged_variants_never_crash);
    return test_summary();
}
