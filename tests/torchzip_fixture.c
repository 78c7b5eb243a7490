/* The torch.save writer of torchzip_fixture.h: bytes, a protocol 2 pickler,
 * a zip writer (zip64 optional), and the small fixture files. */
#include "torchzip_fixture.h"

#include "core/half.h"

#include <string.h>
#include <zlib.h>

/* ------------------------------------------------------------ bytes */

void put(buf *b, const void *p, size_t n)
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

void put_le(buf *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) {
        uint8_t c = (uint8_t)(v >> (8 * i));
        put(b, &c, 1);
    }
}

void put_u8(buf *b, unsigned v) { put_le(b, v, 1); }

/* ------------------------------------------------------------ pickle writer */

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
void make_pickle(pw *w, const fx_tensor *t, int n, int wrap)
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

/* string_to_param as the original textual-inversion code saved it: a
 * torch.nn.ParameterDict, pickled as a Module (NEWOBJ, then BUILD with a
 * __dict__ whose "_parameters" OrderedDict holds the term). */
static void pw_parameter_dict(pw *w, const fx_tensor *t)
{
    pw_global(w, "torch.nn.modules.container", "ParameterDict");
    pw_op(w, ')');
    pw_op(w, 0x81); /* NEWOBJ */
    pw_memoize(w);
    pw_op(w, '}');
    pw_memoize(w);
    pw_op(w, '(');
    pw_str(w, "training", 0);
    pw_op(w, 0x88);
    pw_str(w, "_parameters", 0);
    pw_empty_ordered_dict(w);
    pw_str(w, "*", 1);
    pw_tensor(w, t);
    pw_op(w, 's');
    pw_str(w, "_is_full_backward_hook", 0);
    pw_op(w, 'N');
    pw_op(w, 'u');
    pw_op(w, 'b'); /* BUILD */
}

/* An A1111 embedding as Embedding.save writes it: {"string_to_token":
 * {"*": 265}, "string_to_param": {"*": t}, "name", "step",
 * "sd_checkpoint" (checkpoint or None), "sd_checkpoint_name": None};
 * module: string_to_param is a ParameterDict (older files). */
void make_ti_pickle(pw *w, const fx_tensor *t, const char *name, int64_t step, const char *checkpoint, int module)
{
    pw_op(w, 0x80);
    put_u8(&w->b, 2);
    pw_op(w, '}');
    pw_memoize(w);
    pw_op(w, '(');
    pw_str(w, "string_to_token", 0);
    pw_op(w, '}');
    pw_memoize(w);
    pw_str(w, "*", 1);
    pw_int(w, 265);
    pw_op(w, 's');
    pw_str(w, "string_to_param", 0);
    if (module) {
        pw_parameter_dict(w, t);
    } else {
        pw_op(w, '}');
        pw_memoize(w);
        pw_str(w, "*", 1);
        pw_tensor(w, t);
        pw_op(w, 's');
    }
    pw_str(w, "name", 0);
    pw_str(w, name, 0);
    pw_str(w, "step", 0);
    pw_int(w, step);
    pw_str(w, "sd_checkpoint", 0);
    if (checkpoint)
        pw_str(w, checkpoint, 0);
    else
        pw_op(w, 'N');
    pw_str(w, "sd_checkpoint_name", 0);
    pw_op(w, 'N');
    pw_op(w, 'u');
    pw_op(w, '.');
}

/* ------------------------------------------------------------ zip writer */

typedef struct zfile {
    char name[160];
    const void *data;
    size_t n;
    unsigned method;
} zfile;

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

/* A torch.save archive "archive/..." around a pickle and its storages. */
void torch_zip(buf *z, const uint8_t *pkl, size_t pn, const fx_storage *s, int ns, int flags)
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

int write_torch_file(const char *path, const uint8_t *pkl, size_t pn, const fx_storage *s, int ns, int flags)
{
    buf z = {0};
    torch_zip(&z, pkl, pn, s, ns, flags);
    int ok = test_write_file(path, z.d, z.n);
    free(z.d);
    return ok;
}

int write_checkpoint(const char *path, const fx_tensor *t, int nt, const fx_storage *s, int ns, int wrap,
                     int flags)
{
    pw w = {0};
    make_pickle(&w, t, nt, wrap);
    int ok = write_torch_file(path, w.b.d, w.b.n, s, ns, flags);
    free(w.b.d);
    return ok;
}

uint32_t rng_state = 12345;
uint32_t rnd(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}
float rnd_unit(void) { return (float)(rnd() & 0xFFFF) / 65536.0f * 2.0f - 1.0f; }

/* ------------------------------------------------------------ small files */

const float A_VALUES[6] = {0.0f, 1.5f, -3.0f, 4.25f, 1e-3f, -65504.0f};
const float B_VALUES[4] = {1.0f, -2.0f, 0.5f, 65504.0f};

static uint16_t b_half[4];

/* {"a": FloatTensor[2, 3], "b": HalfTensor[4]}: torch.save(state_dict). */
const char *write_small(const char *name, int flags)
{
    for (int i = 0; i < 4; i++)
        b_half[i] = mend_f32_to_f16(B_VALUES[i]);
    fx_tensor t[] = {
        {.name = "a", .storage = "FloatStorage", .key = "0", .storage_numel = 6, .ndim = 2, .shape = {2, 3}},
        {.name = "b", .storage = "HalfStorage", .key = "1", .storage_numel = 4, .ndim = 1, .shape = {4}},
    };
    fx_storage s[] = {{"0", A_VALUES, sizeof A_VALUES}, {"1", b_half, sizeof b_half}};
    const char *path = test_tmp_path(name);
    return write_checkpoint(path, t, 2, s, 2, 0, flags) ? path : NULL;
}

mend_tf *open_ok(const char *path)
{
    mend_err err = {0};
    mend_tf *f = NULL;
    CHECK_OK(mend_tf_open(path, &f, &err), &err);
    return f;
}

/* The tensor's values as floats, after checking it lies inside the map. */
float *values_of(const mend_tf *f, const char *name, mend_dtype dt, int ndim, const int64_t *shape)
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

void check_values(const float *got, const float *want, int n, const char *what)
{
    for (int i = 0; got && i < n; i++)
        CHECK_MSG(got[i] == want[i], "%s[%d] = %g, expected %g", what, i, got[i], want[i]);
}
