#include "io/tensorfile.h"

#include "core/half.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

const char *mend_dtype_name(mend_dtype dt)
{
    static const char *names[] = {"F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL"};
    return (unsigned)dt < sizeof names / sizeof *names ? names[dt] : "?";
}

size_t mend_dtype_size(mend_dtype dt)
{
    static const size_t sizes[] = {4, 2, 2, 8, 8, 4, 2, 1, 1, 1};
    return (unsigned)dt < sizeof sizes / sizeof *sizes ? sizes[dt] : 0;
}

int mend_dtype_is_float(mend_dtype dt)
{
    return dt == MEND_DT_F32 || dt == MEND_DT_F16 || dt == MEND_DT_BF16 || dt == MEND_DT_F64;
}

int64_t mend_tf_numel(const mend_tf_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

static int cmp_tensor_name(const void *a, const void *b)
{
    return strcmp(((const mend_tf_tensor *)a)->name, ((const mend_tf_tensor *)b)->name);
}

mend_status mend_tf_new(const char *path, mend_tf **out, mend_err *err)
{
    mend_tf *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        *out = NULL;
        return mend_fail(err, MEND_E_NOMEM, "%s: out of memory", path);
    }
    *out = f;
    return MEND_OK;
}

mend_status mend_tf_finish(mend_tf *f, mend_err *err)
{
    qsort(f->tensors, (size_t)f->count, sizeof *f->tensors, cmp_tensor_name);
    for (int i = 1; i < f->count; i++)
        if (strcmp(f->tensors[i - 1].name, f->tensors[i].name) == 0)
            return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s' appears twice", f->path, f->tensors[i].name);
    return MEND_OK;
}

/* New names for every tensor, packed into one buffer; offs[i] is where
 * tensor i's name starts. */
static mend_status collect_new_names(const mend_tf *f, mend_tf_rename_fn fn, void *ctx, char **strings,
                                     size_t *offs, mend_err *err)
{
    size_t used = 0, cap = 4096;
    char *buf = malloc(cap);
    if (!buf)
        return mend_fail(err, MEND_E_NOMEM, "%s: out of memory renaming tensors", f->path);
    for (int i = 0; i < f->count; i++) {
        char name[MEND_TF_NAME_MAX];
        name[0] = '\0';
        mend_status s = fn(ctx, f->tensors[i].name, name, sizeof name, err);
        size_t len = strnlen(name, sizeof name);
        if (s == MEND_OK && (len == 0 || len == sizeof name))
            s = mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s': new name is empty or too long", f->path,
                          f->tensors[i].name);
        if (s == MEND_OK && used + len + 1 > cap) {
            while (used + len + 1 > cap)
                cap *= 2;
            char *grown = realloc(buf, cap);
            if (grown)
                buf = grown;
            else
                s = mend_fail(err, MEND_E_NOMEM, "%s: out of memory renaming tensors", f->path);
        }
        if (s != MEND_OK) {
            free(buf);
            return s;
        }
        memcpy(buf + used, name, len + 1);
        offs[i] = used;
        used += len + 1;
    }
    *strings = buf;
    return MEND_OK;
}

mend_status mend_tf_rename(mend_tf *f, mend_tf_rename_fn fn, void *ctx, mend_err *err)
{
    size_t n = (size_t)(f->count ? f->count : 1);
    size_t *offs = malloc(n * sizeof *offs);
    mend_tf_tensor *renamed = malloc(n * sizeof *renamed);
    char *strings = NULL;
    mend_status s = offs && renamed ? MEND_OK : mend_fail(err, MEND_E_NOMEM, "%s: out of memory", f->path);
    if (s == MEND_OK)
        s = collect_new_names(f, fn, ctx, &strings, offs, err);
    if (s == MEND_OK) {
        /* work on a copy so that a clash leaves the table untouched */
        memcpy(renamed, f->tensors, (size_t)f->count * sizeof *renamed);
        for (int i = 0; i < f->count; i++)
            renamed[i].name = strings + offs[i];
        qsort(renamed, (size_t)f->count, sizeof *renamed, cmp_tensor_name);
        for (int i = 1; s == MEND_OK && i < f->count; i++)
            if (strcmp(renamed[i - 1].name, renamed[i].name) == 0)
                s = mend_fail(err, MEND_E_FORMAT, "%s: two tensors would both be named '%s'", f->path,
                              renamed[i].name);
    }
    if (s == MEND_OK) {
        free(f->tensors);
        free(f->strings);
        f->tensors = renamed;
        f->strings = strings;
        renamed = NULL;
        strings = NULL;
    }
    free(renamed);
    free(strings);
    free(offs);
    return s;
}

mend_status mend_tf_open(const char *path, mend_tf **out, mend_err *err)
{
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return mend_fail(err, MEND_E_IO, "%s: cannot open: %s", path, strerror(errno));
    /* A safetensors file starts with its header length, then '{' at byte 8;
     * a zip with "PK\3\4" (or "PK\5\6" when empty), a pre-1.6 torch pickle
     * with PROTO 2 and the LONG1 of its magic number. */
    unsigned char magic[9] = {0};
    size_t got = fread(magic, 1, sizeof magic, fp);
    fclose(fp);
    int json_at_8 = got == sizeof magic && magic[8] == '{';
    if (got >= 4 && !json_at_8 && !memcmp(magic, "PK", 2) &&
        ((magic[2] == 3 && magic[3] == 4) || (magic[2] == 5 && magic[3] == 6)))
        return mend_torchzip_open(path, out, err);
    if (got >= 4 && !json_at_8 && !memcmp(magic, "\x80\x02\x8a\x0a", 4))
        return mend_fail(err, MEND_E_FORMAT,
                         "%s: a legacy (PyTorch < 1.6) pickle checkpoint; re-save it with a recent torch.save "
                         "or convert it to .safetensors",
                         path);
    return mend_safetensors_open(path, out, err);
}

void mend_tf_close(mend_tf *f)
{
    if (!f)
        return;
    if (f->map && f->map != MAP_FAILED)
        munmap(f->map, f->map_size);
    if (f->fd1 > 0)
        close(f->fd1 - 1);
    free(f->tensors);
    free(f->strings);
    free(f->metadata_json);
    free(f->path);
    free(f);
}

const mend_tf_tensor *mend_tf_find(const mend_tf *f, const char *name)
{
    mend_tf_tensor key = {.name = name};
    return bsearch(&key, f->tensors, (size_t)f->count, sizeof *f->tensors, cmp_tensor_name);
}

mend_status mend_tf_open_fd(mend_tf *f, mend_err *err)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mend_fail(err, MEND_E_IO, "%s: cannot open: %s", f->path, strerror(errno));
    f->fd1 = fd + 1;
    return MEND_OK;
}

static mend_status pread_all(const mend_tf *f, const char *what, void *dst, size_t n, uint64_t off, mend_err *err)
{
    uint8_t *p = dst;
    while (n > 0) {
        ssize_t got = f->fd1 > 0 ? pread(f->fd1 - 1, p, n, (off_t)off) : -1;
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return mend_fail(err, MEND_E_IO, "%s: reading '%s': %s", f->path, what,
                             f->fd1 > 0 ? strerror(errno) : "file not open");
        if (got == 0)
            return mend_fail(err, MEND_E_IO,
                             "%s: reading '%s': the file ended early; it was truncated or replaced while in use",
                             f->path, what);
        p += got;
        n -= (size_t)got;
        off += (uint64_t)got;
    }
    return MEND_OK;
}

mend_status mend_tf_read_raw(const mend_tf *f, const mend_tf_tensor *t, void *dst, mend_err *err)
{
    return pread_all(f, t->name, dst, t->nbytes, t->offset, err);
}

/* n elements of dtype dt at p (any alignment) to float. */
static void convert_to_f32(mend_dtype dt, const uint8_t *p, float *dst, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (dt) {
        case MEND_DT_F32: memcpy(&dst[i], p + 4 * i, 4); break;
        case MEND_DT_F16: { uint16_t h; memcpy(&h, p + 2 * i, 2); dst[i] = mend_f16_to_f32(h); break; }
        case MEND_DT_BF16: { uint16_t h; memcpy(&h, p + 2 * i, 2); dst[i] = mend_bf16_to_f32(h); break; }
        case MEND_DT_F64: { double d; memcpy(&d, p + 8 * i, 8); dst[i] = (float)d; break; }
        case MEND_DT_I64: { int64_t v; memcpy(&v, p + 8 * i, 8); dst[i] = (float)v; break; }
        case MEND_DT_I32: { int32_t v; memcpy(&v, p + 4 * i, 4); dst[i] = (float)v; break; }
        case MEND_DT_I16: { int16_t v; memcpy(&v, p + 2 * i, 2); dst[i] = (float)v; break; }
        case MEND_DT_I8: dst[i] = (float)(int8_t)p[i]; break;
        case MEND_DT_U8:
        case MEND_DT_BOOL: dst[i] = (float)p[i]; break;
        }
    }
}

#define READ_CHUNK (1u << 20) /* elements per pread when converting */

mend_status mend_tf_read_f32(const mend_tf *f, const mend_tf_tensor *t, float *dst, mend_err *err)
{
    size_t n = (size_t)mend_tf_numel(t), es = mend_dtype_size(t->dtype);
    if (!es)
        return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s' has an unsupported dtype", f->path, t->name);
    if (t->dtype == MEND_DT_F32)
        return mend_tf_read_raw(f, t, dst, err);
    size_t chunk = n < READ_CHUNK ? n : READ_CHUNK;
    uint8_t *buf = malloc(chunk * es + 1);
    if (!buf)
        return mend_fail(err, MEND_E_NOMEM, "%s: out of memory reading '%s'", f->path, t->name);
    mend_status s = MEND_OK;
    for (size_t i = 0; i < n && s == MEND_OK; i += chunk) {
        size_t m = n - i < chunk ? n - i : chunk;
        s = pread_all(f, t->name, buf, m * es, t->offset + i * es, err);
        if (s == MEND_OK && t->dtype == MEND_DT_F16)
            mend_f16_to_f32_n((const uint16_t *)(const void *)buf, dst + i, m);
        else if (s == MEND_OK)
            convert_to_f32(t->dtype, buf, dst + i, m);
    }
    free(buf);
    return s;
}

static mend_status find_checked(const mend_tf *f, const char *name, int64_t numel, const mend_tf_tensor **out,
                                mend_err *err)
{
    const mend_tf_tensor *t = mend_tf_find(f, name);
    if (!t)
        return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s' is missing", f->path, name);
    if (numel >= 0 && mend_tf_numel(t) != numel)
        return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s' has %lld elements, expected %lld", f->path, name,
                         (long long)mend_tf_numel(t), (long long)numel);
    *out = t;
    return MEND_OK;
}

mend_status mend_tf_load_f32(const mend_tf *f, const char *name, int64_t numel, float **out, mend_err *err)
{
    const mend_tf_tensor *t = NULL;
    *out = NULL;
    MEND_TRY(find_checked(f, name, numel, &t, err));
    float *buf = malloc((size_t)(mend_tf_numel(t) > 0 ? mend_tf_numel(t) : 1) * sizeof *buf);
    if (!buf)
        return mend_fail(err, MEND_E_NOMEM, "%s: out of memory reading '%s'", f->path, name);
    mend_status s = mend_tf_read_f32(f, t, buf, err);
    if (s != MEND_OK) {
        free(buf);
        return s;
    }
    *out = buf;
    return MEND_OK;
}

mend_status mend_tf_load_i32(const mend_tf *f, const char *name, int64_t numel, int32_t **out, mend_err *err)
{
    const mend_tf_tensor *t = NULL;
    *out = NULL;
    MEND_TRY(find_checked(f, name, numel, &t, err));
    if (t->dtype != MEND_DT_I32 && t->dtype != MEND_DT_I64)
        return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s' is %s, expected I32 or I64", f->path, name,
                         mend_dtype_name(t->dtype));
    size_t n = (size_t)mend_tf_numel(t);
    int32_t *buf = malloc((n ? n : 1) * sizeof *buf);
    uint8_t *raw = malloc(t->nbytes ? t->nbytes : 1);
    mend_status s = buf && raw ? mend_tf_read_raw(f, t, raw, err)
                               : mend_fail(err, MEND_E_NOMEM, "%s: out of memory reading '%s'", f->path, name);
    for (size_t i = 0; s == MEND_OK && i < n; i++) {
        if (t->dtype == MEND_DT_I32) {
            memcpy(&buf[i], raw + 4 * i, 4);
        } else {
            int64_t v;
            memcpy(&v, raw + 8 * i, 8);
            buf[i] = (int32_t)v;
        }
    }
    free(raw);
    if (s != MEND_OK) {
        free(buf);
        return s;
    }
    *out = buf;
    return MEND_OK;
}
