/* safetensors reader: 8-byte little-endian header length, a JSON header
 * {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
 * then the data block. Everything in the header is validated before any
 * tensor is handed out: dtype known, shape non-negative, byte size equal to
 * the offsets span, spans inside the file and not overlapping. */
#include "io/tensorfile.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_HEADER_BYTES (100u << 20)

static int parse_dtype(const char *s, mend_dtype *dt)
{
    static const struct {
        const char *name;
        mend_dtype dt;
    } table[] = {
        {"F32", MEND_DT_F32}, {"F16", MEND_DT_F16}, {"BF16", MEND_DT_BF16}, {"F64", MEND_DT_F64},
        {"I64", MEND_DT_I64}, {"I32", MEND_DT_I32}, {"I16", MEND_DT_I16},   {"I8", MEND_DT_I8},
        {"U8", MEND_DT_U8},   {"BOOL", MEND_DT_BOOL},
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (strcmp(s, table[i].name) == 0) {
            *dt = table[i].dt;
            return 1;
        }
    return 0;
}

/* A JSON number that is a non-negative integer exactly representable. */
static int json_uint(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j))
        return 0;
    double d = j->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(uint64_t)d)
        return 0;
    *out = (uint64_t)d;
    return 1;
}

typedef struct span {
    uint64_t begin, end;
    int index;
} span;

static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end < y->end ? -1 : x->end > y->end);
}

static mend_status parse_entry(mend_tf *f, const cJSON *e, mend_tf_tensor *t, span *sp, const uint8_t *data,
                               uint64_t data_start, uint64_t data_size, mend_err *err)
{
    const char *name = t->name;
    if (!cJSON_IsObject(e))
        return mend_fail(err, MEND_E_FORMAT, "%s: header entry '%s' is not an object", f->path, name);
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(jd) || !cJSON_IsArray(js) || !cJSON_IsArray(jo))
        return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s' needs dtype, shape and data_offsets", f->path, name);
    if (!parse_dtype(jd->valuestring, &t->dtype))
        return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s' has unknown dtype '%s'", f->path, name,
                         jd->valuestring);
    int nd = cJSON_GetArraySize(js);
    if (nd > MEND_MAX_DIMS)
        return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s' has %d dimensions (max %d)", f->path, name, nd,
                         MEND_MAX_DIMS);
    t->ndim = nd;
    uint64_t numel = 1;
    for (int i = 0; i < nd; i++) {
        uint64_t d;
        if (!json_uint(cJSON_GetArrayItem(js, i), &d) || d > (1ull << 40))
            return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s' has an invalid shape", f->path, name);
        t->shape[i] = (int64_t)d;
        if (d && numel > (1ull << 50) / d)
            return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s' shape is too large", f->path, name);
        numel *= d;
    }
    uint64_t b, en;
    if (cJSON_GetArraySize(jo) != 2 || !json_uint(cJSON_GetArrayItem(jo, 0), &b) ||
        !json_uint(cJSON_GetArrayItem(jo, 1), &en) || b > en)
        return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s' has invalid data_offsets", f->path, name);
    if (en > data_size)
        return mend_fail(err, MEND_E_FORMAT,
                         "%s: tensor '%s' data_offsets [%llu, %llu] run past the end of the data (%llu bytes); "
                         "the file is truncated or corrupt",
                         f->path, name, (unsigned long long)b, (unsigned long long)en, (unsigned long long)data_size);
    uint64_t want = numel * mend_dtype_size(t->dtype);
    if (en - b != want)
        return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s' spans %llu bytes but its shape and dtype need %llu",
                         f->path, name, (unsigned long long)(en - b), (unsigned long long)want);
    t->data = data + b;
    t->offset = data_start + b;
    t->nbytes = (size_t)want;
    sp->begin = b;
    sp->end = en;
    return MEND_OK;
}

static mend_status parse_header(mend_tf *f, const char *text, size_t len, const uint8_t *data, uint64_t data_start,
                                uint64_t data_size, mend_err *err)
{
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return mend_fail(err, MEND_E_FORMAT, "%s: safetensors header is not a valid JSON object", f->path);
    }
    mend_status s = MEND_OK;
    int n = 0;
    size_t names_bytes = 0;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") != 0) {
            n++;
            names_bytes += strlen(e->string) + 1;
        }
    }
    f->tensors = calloc((size_t)(n ? n : 1), sizeof *f->tensors);
    f->strings = malloc(names_bytes ? names_bytes : 1);
    span *spans = calloc((size_t)(n ? n : 1), sizeof *spans);
    if (!f->tensors || !f->strings || !spans) {
        s = mend_fail(err, MEND_E_NOMEM, "%s: out of memory for the tensor table", f->path);
        goto done;
    }
    char *sp = f->strings;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(e) || f->metadata_json) {
                s = mend_fail(err, MEND_E_FORMAT, "%s: __metadata__ is %s", f->path,
                              f->metadata_json ? "given twice" : "not an object");
                goto done;
            }
            f->metadata_json = cJSON_PrintUnformatted(e);
            continue;
        }
        mend_tf_tensor *t = &f->tensors[f->count];
        size_t l = strlen(e->string) + 1;
        memcpy(sp, e->string, l);
        t->name = sp;
        sp += l;
        spans[f->count].index = f->count;
        s = parse_entry(f, e, t, &spans[f->count], data, data_start, data_size, err);
        if (s != MEND_OK)
            goto done;
        f->count++;
    }
    qsort(spans, (size_t)n, sizeof *spans, cmp_span);
    int widest = -1; /* the span reaching furthest so far */
    for (int i = 0; i < n; i++) {
        if (spans[i].end == spans[i].begin)
            continue; /* empty tensors occupy no bytes */
        if (widest >= 0 && spans[i].begin < spans[widest].end) {
            s = mend_fail(err, MEND_E_FORMAT, "%s: tensors '%s' and '%s' overlap in the data block", f->path,
                          f->tensors[spans[widest].index].name, f->tensors[spans[i].index].name);
            goto done;
        }
        if (widest < 0 || spans[i].end > spans[widest].end)
            widest = i;
    }
    s = mend_tf_finish(f, err);
done:
    free(spans);
    cJSON_Delete(root);
    return s;
}

mend_status mend_safetensors_open(const char *path, mend_tf **out, mend_err *err)
{
    *out = NULL;
    mend_tf *f;
    MEND_TRY(mend_tf_new(path, &f, err));
    mend_status s = MEND_OK;
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        s = mend_fail(err, MEND_E_IO, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        s = mend_fail(err, MEND_E_IO, "%s: not a regular file", path);
        goto fail;
    }
    if (st.st_size < 8) {
        s = mend_fail(err, MEND_E_FORMAT, "%s: too short for a safetensors file (%lld bytes)", path,
                      (long long)st.st_size);
        goto fail;
    }
    /* The header is read with pread; the mapping only backs t->data for
     * inspection (tools, tests), never the loaders. */
    f->map_size = (size_t)st.st_size;
    f->map = mmap(NULL, f->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (f->map == MAP_FAILED) {
        f->map = NULL;
        s = mend_fail(err, MEND_E_IO, "%s: cannot map: %s", path, strerror(errno));
        goto fail;
    }
    f->fd1 = fd + 1;
    fd = -1;
    uint8_t len8[8];
    mend_tf_tensor hdr = {.name = "header", .offset = 0, .nbytes = 8};
    s = mend_tf_read_raw(f, &hdr, len8, err);
    if (s != MEND_OK)
        goto fail;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | len8[i];
    if (hlen > (uint64_t)st.st_size - 8) {
        s = mend_fail(err, MEND_E_FORMAT,
                      "%s: header length %llu runs past the end of the file (%lld bytes); not a safetensors "
                      "file, or truncated",
                      path, (unsigned long long)hlen, (long long)st.st_size);
        goto fail;
    }
    if (hlen > MAX_HEADER_BYTES || hlen < 2) {
        s = mend_fail(err, MEND_E_FORMAT, "%s: implausible safetensors header length %llu", path,
                      (unsigned long long)hlen);
        goto fail;
    }
    char *text = malloc((size_t)hlen);
    hdr.offset = 8;
    hdr.nbytes = (size_t)hlen;
    s = text ? mend_tf_read_raw(f, &hdr, text, err) : mend_fail(err, MEND_E_NOMEM, "%s: out of memory", path);
    if (s == MEND_OK)
        s = parse_header(f, text, (size_t)hlen, (const uint8_t *)f->map + 8 + hlen, 8 + hlen,
                         (uint64_t)st.st_size - 8 - hlen, err);
    free(text);
    if (s != MEND_OK)
        goto fail;
    *out = f;
    return MEND_OK;
fail:
    if (fd >= 0)
        close(fd);
    mend_tf_close(f);
    return s;
}
