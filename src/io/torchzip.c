/* torch.save checkpoints (.ckpt, .pth, .pt since PyTorch 1.6): a zip
 * archive whose entries are stored, not compressed:
 *     ARCHIVE/data.pkl     the pickled object (a state dict)
 *     ARCHIVE/data/KEY     the raw bytes of each storage
 *     ARCHIVE/byteorder    "little" (absent in older files)
 * The zip itself is read by zip.c, the pickle by the inert reader in
 * pickle.c; each tensor is
 *     _rebuild_tensor_v2(BINPERSID ('storage', torch.FloatStorage, KEY,
 *                        location, numel), offset, size, stride, ...)
 * and becomes a table entry pointing into the mapped storage bytes, after
 * checking that the entry and the tensor's span lie inside the file.
 * SD .ckpt files wrap the weights as {"state_dict": {...}, "global_step"..};
 * the "state_dict" dict is used when present, else the top-level dict. */
#include "io/pickle.h"
#include "io/tensorfile.h"
#include "io/zip.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_STORAGE_KEY 128

/* ------------------------------------------------------------ globals */

typedef enum role {
    R_INERT,        /* allowed, never a tensor: left alone */
    R_REBUILD_V1,   /* _rebuild_tensor(storage, offset, size, stride) */
    R_REBUILD_V2,   /* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]) */
    R_REBUILD_V3,   /* _rebuild_tensor_v3(..., hooks, dtype[, metadata]) */
    R_PARAM,        /* _rebuild_parameter(data, requires_grad, hooks[, state]) */
    R_STORAGE,      /* torch.FloatStorage, ... */
    R_UNTYPED,      /* torch.UntypedStorage: bytes, dtype from _rebuild_tensor_v3 */
    R_DTYPE,        /* torch.float32, ... */
    R_BAD_STORAGE,  /* some other torch.*Storage: a clear error when used */
} role;

typedef struct global_def {
    const char *name;
    role role;
    mend_dtype dt;
} global_def;

/* Everything a checkpoint may name. Nothing here is ever called; the
 * inert entries are harmless helpers that real SD .ckpt files use outside
 * the state dict (Lightning callbacks, numpy scalars, byte strings). */
static const global_def known_globals[] = {
    {"collections.OrderedDict", R_INERT, 0},
    {"torch._utils._rebuild_tensor", R_REBUILD_V1, 0},
    {"torch._utils._rebuild_tensor_v2", R_REBUILD_V2, 0},
    {"torch._utils._rebuild_tensor_v3", R_REBUILD_V3, 0},
    {"torch._utils._rebuild_parameter", R_PARAM, 0},
    {"torch._utils._rebuild_parameter_with_state", R_PARAM, 0},
    {"torch.FloatStorage", R_STORAGE, MEND_DT_F32},
    {"torch.HalfStorage", R_STORAGE, MEND_DT_F16},
    {"torch.BFloat16Storage", R_STORAGE, MEND_DT_BF16},
    {"torch.DoubleStorage", R_STORAGE, MEND_DT_F64},
    {"torch.LongStorage", R_STORAGE, MEND_DT_I64},
    {"torch.IntStorage", R_STORAGE, MEND_DT_I32},
    {"torch.ShortStorage", R_STORAGE, MEND_DT_I16},
    {"torch.CharStorage", R_STORAGE, MEND_DT_I8},
    {"torch.ByteStorage", R_STORAGE, MEND_DT_U8},
    {"torch.BoolStorage", R_STORAGE, MEND_DT_BOOL},
    {"torch.UntypedStorage", R_UNTYPED, 0},
    {"torch.storage.UntypedStorage", R_UNTYPED, 0},
    {"torch.float32", R_DTYPE, MEND_DT_F32},
    {"torch.float16", R_DTYPE, MEND_DT_F16},
    {"torch.bfloat16", R_DTYPE, MEND_DT_BF16},
    {"torch.float64", R_DTYPE, MEND_DT_F64},
    {"torch.int64", R_DTYPE, MEND_DT_I64},
    {"torch.int32", R_DTYPE, MEND_DT_I32},
    {"torch.int16", R_DTYPE, MEND_DT_I16},
    {"torch.int8", R_DTYPE, MEND_DT_I8},
    {"torch.uint8", R_DTYPE, MEND_DT_U8},
    {"torch.bool", R_DTYPE, MEND_DT_BOOL},
    {"torch.device", R_INERT, 0},
    {"torch.Size", R_INERT, 0},
    {"torch.nn.modules.container.ParameterDict", R_INERT, 0},
    {"_codecs.encode", R_INERT, 0},
    {"builtins.set", R_INERT, 0},
    {"__builtin__.set", R_INERT, 0},
    {"numpy.core.multiarray.scalar", R_INERT, 0},
    {"numpy._core.multiarray.scalar", R_INERT, 0},
    {"numpy.core.multiarray._reconstruct", R_INERT, 0},
    {"numpy._core.multiarray._reconstruct", R_INERT, 0},
    {"numpy.dtype", R_INERT, 0},
    {"numpy.ndarray", R_INERT, 0},
    {"pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint", R_INERT, 0},
};
#define N_KNOWN ((int)(sizeof known_globals / sizeof *known_globals))

static int allow_global(const char *q)
{
    for (int i = 0; i < N_KNOWN; i++)
        if (!strcmp(q, known_globals[i].name))
            return i;
    size_t n = strlen(q);
    /* any other torch.XStorage class is a data type we cannot read: say so
     * when a tensor uses it rather than refusing the name itself */
    if (!strncmp(q, "torch.", 6) && n > 13 && !strcmp(q + n - 7, "Storage") && !strchr(q + 6, '.'))
        return N_KNOWN;
    return -1;
}

static role role_of(const pk_graph *g, int32_t index)
{
    const pk_value *v = pk_get(g, index);
    if (!v || v->kind != PK_GLOBAL)
        return R_INERT;
    return v->n < N_KNOWN ? known_globals[v->n].role : R_BAD_STORAGE;
}

static mend_dtype dtype_of(const pk_graph *g, int32_t index)
{
    const pk_value *v = pk_get(g, index);
    return v && v->kind == PK_GLOBAL && v->n < N_KNOWN ? known_globals[v->n].dt : MEND_DT_F32;
}

/* ------------------------------------------------------------ tensors */

typedef struct reader {
    mend_tf *f;
    zip z;
    pk_graph g;
    const char *archive; /* the top-level folder, not NUL-terminated */
    size_t archive_len;
} reader;

/* The n-th item of a tuple, or -1. */
static int32_t item(const pk_graph *g, int32_t tuple, int n)
{
    const pk_value *v = pk_get(g, tuple);
    return v && v->kind == PK_TUPLE && n < v->n ? v->u.items[n] : -1;
}

static int get_int(const pk_graph *g, int32_t index, int64_t *out)
{
    const pk_value *v = pk_get(g, index);
    if (!v || v->kind != PK_INT)
        return 0;
    *out = v->u.i;
    return 1;
}

static int is_rebuild(role r) { return r == R_REBUILD_V1 || r == R_REBUILD_V2 || r == R_REBUILD_V3 || r == R_PARAM; }

static int is_tensor_value(const pk_graph *g, int32_t index)
{
    const pk_value *v = pk_get(g, index);
    return v && v->kind == PK_CALL && is_rebuild(role_of(g, v->u.ref.a));
}

typedef struct storage {
    int untyped;        /* elems counts bytes, dtype comes from the tensor */
    mend_dtype dt;
    const uint8_t *data;
    uint64_t elems;
} storage;

/* The storage behind a BINPERSID ('storage', type, key, location, numel). */
static mend_status resolve_storage(reader *r, int32_t persid, const char *name, storage *st, mend_err *err)
{
    const pk_graph *g = &r->g;
    const char *path = r->f->path;
    const pk_value *p = pk_get(g, persid);
    int32_t pid = p && p->kind == PK_PERSID ? p->u.ref.a : -1;
    const pk_value *key = pk_get(g, item(g, pid, 2));
    int64_t numel = 0;
    if (!pk_str_eq(g, item(g, pid, 0), "storage") || !pk_is(g, item(g, pid, 1), PK_GLOBAL) || !key ||
        key->kind != PK_STR || !get_int(g, item(g, pid, 4), &numel) || numel < 0)
        return mend_fail(err, MEND_E_FORMAT,
                         "%s: tensor '%s' does not refer to its storage as ('storage', type, key, location, numel)",
                         path, name);
    char tname[600];
    role type = role_of(g, item(g, pid, 1));
    if (type != R_STORAGE && type != R_UNTYPED)
        return mend_fail(err, MEND_E_FORMAT,
                         "%s: tensor '%s' has storage type '%s', which is not supported (float, half, bfloat16, "
                         "double and integer storages are)",
                         path, name, pk_global_name(g, item(g, pid, 1), tname, sizeof tname));
    st->untyped = type == R_UNTYPED;
    st->dt = st->untyped ? MEND_DT_U8 : dtype_of(g, item(g, pid, 1));
    if (key->u.s.len == 0 || key->u.s.len > MAX_STORAGE_KEY || memchr(key->u.s.p, '/', key->u.s.len) ||
        memchr(key->u.s.p, '\0', key->u.s.len))
        return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s' has an invalid storage key", path, name);
    char entry[MAX_STORAGE_KEY + 1024];
    snprintf(entry, sizeof entry, "%.*s/data/%.*s", (int)r->archive_len, r->archive, (int)key->u.s.len,
             key->u.s.p);
    const zentry *e = zip_find(&r->z, entry);
    if (!e)
        return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s': its storage '%s' is missing from the archive", path,
                         name, entry);
    MEND_TRY(zip_data(&r->z, e, &st->data, err));
    size_t es = mend_dtype_size(st->dt);
    if ((uint64_t)numel > (UINT64_MAX >> 4) / es || (uint64_t)numel * es > e->usize)
        return mend_fail(err, MEND_E_FORMAT,
                         "%s: tensor '%s': storage '%s' holds %llu bytes, less than its %lld %s elements need", path,
                         name, entry, (unsigned long long)e->usize, (long long)numel, mend_dtype_name(st->dt));
    st->elems = (uint64_t)numel;
    return MEND_OK;
}

/* size and stride tuples -> t->shape; fails unless row-major contiguous. */
static mend_status read_layout(reader *r, int32_t size, int32_t stride, mend_tf_tensor *t, uint64_t *numel,
                               mend_err *err)
{
    const pk_graph *g = &r->g;
    const pk_value *sz = pk_get(g, size), *sd = pk_get(g, stride);
    if (!sz || !sd || sz->kind != PK_TUPLE || sd->kind != PK_TUPLE || sz->n != sd->n)
        return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s' needs size and stride tuples of the same length",
                         r->f->path, t->name);
    if (sz->n > MEND_MAX_DIMS)
        return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s' has %d dimensions (max %d)", r->f->path, t->name,
                         sz->n, MEND_MAX_DIMS);
    t->ndim = sz->n;
    uint64_t n = 1;
    for (int i = 0; i < sz->n; i++) {
        if (!get_int(g, sz->u.items[i], &t->shape[i]) || t->shape[i] < 0 || t->shape[i] > (1ll << 40))
            return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s' has an invalid size", r->f->path, t->name);
        if (t->shape[i] && n > (1ull << 50) / (uint64_t)t->shape[i])
            return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s' is too large", r->f->path, t->name);
        n *= (uint64_t)t->shape[i];
    }
    int64_t expect = 1;
    for (int i = sz->n - 1; i >= 0 && n > 0; i--) {
        int64_t s;
        if (!get_int(g, sd->u.items[i], &s))
            return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s' has an invalid stride", r->f->path, t->name);
        if (t->shape[i] != 1 && s != expect)
            return mend_fail(err, MEND_E_FORMAT,
                             "%s: tensor '%s' is not contiguous (stride %lld in dimension %d, expected %lld); only "
                             "row-major tensors are supported: save .contiguous() tensors",
                             r->f->path, t->name, (long long)s, i, (long long)expect);
        expect *= t->shape[i];
    }
    *numel = n;
    return MEND_OK;
}

/* The element type: the storage's, or for _rebuild_tensor_v3 its dtype
 * argument (which an untyped storage needs). */
static mend_status tensor_dtype(reader *r, int32_t args, role rb, storage *st, const char *name, mend_dtype *dt,
                                mend_err *err)
{
    const pk_graph *g = &r->g;
    if (rb == R_REBUILD_V3) {
        char gn[600];
        int32_t d = item(g, args, 6);
        if (role_of(g, d) != R_DTYPE)
            return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s' has dtype '%s', which is not supported",
                             r->f->path, name, pk_is(g, d, PK_GLOBAL) ? pk_global_name(g, d, gn, sizeof gn) : "?");
        *dt = dtype_of(g, d);
        if (!st->untyped && st->dt != *dt)
            return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s' is %s but its storage is %s", r->f->path, name,
                             mend_dtype_name(*dt), mend_dtype_name(st->dt));
        if (st->untyped) {
            size_t es = mend_dtype_size(*dt);
            if (st->elems % es)
                return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s': storage of %llu bytes is not a whole "
                                 "number of %s elements", r->f->path, name, (unsigned long long)st->elems,
                                 mend_dtype_name(*dt));
            st->elems /= es;
            st->untyped = 0;
        }
        return MEND_OK;
    }
    if (st->untyped)
        return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s' has an untyped storage and no dtype", r->f->path,
                         name);
    *dt = st->dt;
    return MEND_OK;
}

/* One REDUCE of a rebuild function -> t (t->name already set). */
static mend_status rebuild_tensor(reader *r, int32_t call, mend_tf_tensor *t, mend_err *err)
{
    const pk_graph *g = &r->g;
    const char *path = r->f->path;
    for (int depth = 0; depth < 4 && role_of(g, pk_get(g, call)->u.ref.a) == R_PARAM; depth++) {
        call = item(g, pk_get(g, call)->u.ref.b, 0); /* a Parameter wraps the tensor it holds */
        if (!is_tensor_value(g, call))
            return mend_fail(err, MEND_E_FORMAT, "%s: parameter '%s' does not hold a tensor", path, t->name);
    }
    role rb = role_of(g, pk_get(g, call)->u.ref.a);
    int32_t args = pk_get(g, call)->u.ref.b;
    int nargs = pk_get(g, args)->n;
    int min = rb == R_REBUILD_V1 ? 4 : rb == R_REBUILD_V2 ? 6 : 7;
    if (rb == R_PARAM || nargs < min || nargs > min + 1)
        return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s' is rebuilt with %d arguments, which is not a layout "
                         "torch.save writes", path, t->name, nargs);
    storage st = {0};
    int64_t offset = 0;
    uint64_t numel = 0;
    MEND_TRY(resolve_storage(r, item(g, args, 0), t->name, &st, err));
    MEND_TRY(tensor_dtype(r, args, rb, &st, t->name, &t->dtype, err));
    if (!get_int(g, item(g, args, 1), &offset) || offset < 0)
        return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s' has an invalid storage offset", path, t->name);
    MEND_TRY(read_layout(r, item(g, args, 2), item(g, args, 3), t, &numel, err));
    if ((uint64_t)offset > st.elems || numel > st.elems - (uint64_t)offset)
        return mend_fail(err, MEND_E_FORMAT,
                         "%s: tensor '%s' (%llu elements from offset %lld) extends past the end of its storage "
                         "(%llu elements)",
                         path, t->name, (unsigned long long)numel, (long long)offset, (unsigned long long)st.elems);
    size_t es = mend_dtype_size(t->dtype);
    t->data = st.data + (uint64_t)offset * es;
    t->offset = (uint64_t)(t->data - (const uint8_t *)r->f->map);
    t->nbytes = (size_t)(numel * es);
    return MEND_OK;
}

static const char *kind_name(const pk_graph *g, int32_t index)
{
    static const char *names[] = {"None", "bool", "int", "int", "float", "str", "bytes", "tuple",
                                  "list", "set", "dict", "global", "object", "storage"};
    const pk_value *v = pk_get(g, index);
    return v && v->kind < sizeof names / sizeof *names ? names[v->kind] : "?";
}

/* The dict holding the weights: root["state_dict"] if it is a dict, else root. */
static mend_status weights_dict(reader *r, int32_t *out, mend_err *err)
{
    const pk_graph *g = &r->g;
    const pk_value *root = pk_get(g, g->root);
    if (!root || root->kind != PK_DICT)
        return mend_fail(err, MEND_E_FORMAT, "%s: the checkpoint holds a %s, not a dict of tensors", r->f->path,
                         kind_name(g, g->root));
    *out = g->root;
    for (int i = 0; i + 1 < root->n; i += 2)
        if (pk_str_eq(g, root->u.items[i], "state_dict") && pk_is(g, root->u.items[i + 1], PK_DICT))
            *out = root->u.items[i + 1];
    return MEND_OK;
}

/* A tensor of the weights dict: its key, and the key of the dict it sits
 * in when it is one level down (-1 at the top). */
typedef struct tensor_ref {
    int32_t outer, key, value;
} tensor_ref;

/* The tensors of dict (refs may be NULL: count only). When it holds none
 * itself, those of its dict (or ParameterDict) values one level down: A1111
 * embeddings keep theirs as {"string_to_param": {"*": tensor}, "step": 500}. */
/* value itself, or for a torch.nn.ParameterDict (pickled as a Module:
 * NEWOBJ, then BUILD with its __dict__) the dict of its "_parameters". */
static const pk_value *module_parameters(const pk_graph *g, int32_t value)
{
    const pk_value *v = pk_get(g, value), *state = v && v->kind == PK_CALL && v->n > 0 ? pk_get(g, v->n - 1) : NULL;
    char name[600];
    if (!state || state->kind != PK_DICT ||
        strcmp(pk_global_name(g, v->u.ref.a, name, sizeof name), "torch.nn.modules.container.ParameterDict") != 0)
        return v;
    for (int i = 0; i + 1 < state->n; i += 2)
        if (pk_str_eq(g, state->u.items[i], "_parameters"))
            return pk_get(g, state->u.items[i + 1]);
    return v;
}

static int collect_tensors(const pk_graph *g, int32_t dict, tensor_ref *refs)
{
    const pk_value *d = pk_get(g, dict);
    int n = 0;
    for (int i = 0; i + 1 < d->n; i += 2) {
        if (!is_tensor_value(g, d->u.items[i + 1]))
            continue;
        if (refs)
            refs[n] = (tensor_ref){-1, d->u.items[i], d->u.items[i + 1]};
        n++;
    }
    const int top_level = n;
    for (int i = 0; top_level == 0 && i + 1 < d->n; i += 2) {
        const pk_value *sub = module_parameters(g, d->u.items[i + 1]);
        if (!pk_is(g, d->u.items[i], PK_STR) || !sub || sub->kind != PK_DICT)
            continue;
        for (int k = 0; k + 1 < sub->n; k += 2) {
            if (!is_tensor_value(g, sub->u.items[k + 1]))
                continue;
            if (refs)
                refs[n] = (tensor_ref){d->u.items[i], sub->u.items[k], sub->u.items[k + 1]};
            n++;
        }
    }
    return n;
}

/* A key as a tensor name part: a non-empty string without NULs, else 0. */
static size_t key_len(const pk_graph *g, int32_t key)
{
    const pk_value *k = pk_get(g, key);
    if (!k || k->kind != PK_STR || k->u.s.len == 0 || memchr(k->u.s.p, '\0', k->u.s.len))
        return 0;
    return k->u.s.len;
}

/* The top level's plain values (str, int, float, bool, None) as a JSON
 * object text, for a file whose tensors sit one level down (an A1111
 * embedding's step and sd_checkpoint); NULL when out of memory. */
static char *scalars_json(const pk_graph *g, int32_t dict)
{
    const pk_value *d = pk_get(g, dict);
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; o && i + 1 < d->n; i += 2) {
        const pk_value *k = pk_get(g, d->u.items[i]), *v = pk_get(g, d->u.items[i + 1]);
        char key[256];
        if (!key_len(g, d->u.items[i]) || k->u.s.len >= sizeof key || !v)
            continue;
        snprintf(key, sizeof key, "%.*s", (int)k->u.s.len, k->u.s.p);
        cJSON *j = v->kind == PK_INT     ? cJSON_CreateNumber((double)v->u.i)
                   : v->kind == PK_FLOAT ? cJSON_CreateNumber(v->u.f)
                   : v->kind == PK_BOOL  ? cJSON_CreateBool(v->u.i != 0)
                   : v->kind == PK_NONE  ? cJSON_CreateNull()
                                         : NULL;
        if (v->kind == PK_STR) {
            char *text = strndup(v->u.s.p, v->u.s.len);
            j = text ? cJSON_CreateString(text) : NULL;
            free(text);
        }
        if (j)
            cJSON_AddItemToObject(o, key, j);
    }
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return text;
}

static mend_status build_table(reader *r, mend_err *err)
{
    const pk_graph *g = &r->g;
    mend_tf *f = r->f;
    int32_t dict = -1;
    MEND_TRY(weights_dict(r, &dict, err));
    int n = collect_tensors(g, dict, NULL);
    if (!n)
        return mend_fail(err, MEND_E_FORMAT, "%s: the checkpoint holds no tensors", f->path);
    tensor_ref *refs = calloc((size_t)n, sizeof *refs);
    if (!refs)
        return mend_fail(err, MEND_E_NOMEM, "%s: out of memory for the tensor table", f->path);
    collect_tensors(g, dict, refs);
    size_t name_bytes = 0;
    mend_status s = MEND_OK;
    for (int i = 0; i < n && s == MEND_OK; i++) {
        size_t outer = refs[i].outer >= 0 ? key_len(g, refs[i].outer) + 1 : 0, inner = key_len(g, refs[i].key);
        if (!inner)
            s = mend_fail(err, MEND_E_FORMAT, "%s: a tensor's key is a %s, not a tensor name", f->path,
                          pk_is(g, refs[i].key, PK_STR) ? "malformed string" : kind_name(g, refs[i].key));
        else if (outer == 1) /* a nested dict under a key that is not a name: its length is unknown */
            s = mend_fail(err, MEND_E_FORMAT, "%s: a nested tensor dict's key is not a name", f->path);
        name_bytes += outer + inner + 1;
    }
    f->tensors = s == MEND_OK ? calloc((size_t)n, sizeof *f->tensors) : NULL;
    f->strings = s == MEND_OK ? malloc(name_bytes) : NULL;
    if (s == MEND_OK && refs[0].outer >= 0 && !(f->metadata_json = scalars_json(g, dict)))
        s = mend_fail(err, MEND_E_NOMEM, "%s: out of memory", f->path);
    if (s == MEND_OK && (!f->tensors || !f->strings))
        s = mend_fail(err, MEND_E_NOMEM, "%s: out of memory for the tensor table", f->path);
    char *sp = f->strings;
    for (int i = 0; i < n && s == MEND_OK; i++) {
        const pk_value *k = pk_get(g, refs[i].key);
        mend_tf_tensor *t = &f->tensors[f->count++];
        t->name = sp;
        if (refs[i].outer >= 0) {
            const pk_value *o = pk_get(g, refs[i].outer);
            memcpy(sp, o->u.s.p, o->u.s.len);
            sp += o->u.s.len;
            *sp++ = '.';
        }
        memcpy(sp, k->u.s.p, k->u.s.len);
        sp[k->u.s.len] = '\0';
        sp += k->u.s.len + 1;
        s = rebuild_tensor(r, refs[i].value, t, err);
    }
    free(refs);
    return s == MEND_OK ? mend_tf_finish(f, err) : s;
}

/* ------------------------------------------------------------ archive */

/* ARCHIVE/data.pkl, where ARCHIVE is a single top-level folder. */
static mend_status find_pickle(reader *r, const zentry **out, mend_err *err)
{
    static const char tail[] = "/data.pkl";
    const size_t tl = sizeof tail - 1;
    for (int i = 0; i < r->z.n; i++) {
        const zentry *e = &r->z.e[i];
        if (e->name_len > tl && !memcmp(e->name + e->name_len - tl, tail, tl) &&
            !memchr(e->name, '/', e->name_len - tl)) {
            r->archive = e->name;
            r->archive_len = e->name_len - tl;
            *out = e;
            return MEND_OK;
        }
    }
    return mend_fail(err, MEND_E_FORMAT,
                     "%s: zip archive without ARCHIVE/data.pkl; not a checkpoint written by torch.save", r->f->path);
}

/* Storages are mapped as they are, so they must be little-endian. */
static mend_status check_byteorder(reader *r, mend_err *err)
{
    char name[1100];
    snprintf(name, sizeof name, "%.*s/byteorder", (int)r->archive_len, r->archive);
    const zentry *e = zip_find(&r->z, name);
    const uint8_t *d = NULL;
    if (!e)
        return MEND_OK; /* older torch: always the writer's (little-endian) order */
    MEND_TRY(zip_data(&r->z, e, &d, err));
    if (e->usize != 6 || memcmp(d, "little", 6) != 0)
        return mend_fail(err, MEND_E_FORMAT, "%s: the checkpoint's storages are not little-endian (%s says '%.*s')",
                         r->f->path, name, (int)(e->usize < 16 ? e->usize : 16), (const char *)d);
    return MEND_OK;
}

static mend_status read_checkpoint(reader *r, mend_err *err)
{
    const zentry *pkl = NULL;
    const uint8_t *bytes = NULL;
    MEND_TRY(zip_open(&r->z, err));
    MEND_TRY(find_pickle(r, &pkl, err));
    MEND_TRY(check_byteorder(r, err));
    MEND_TRY(zip_data(&r->z, pkl, &bytes, err));
    size_t wl = strlen(r->f->path) + pkl->name_len + 3;
    char *what = malloc(wl);
    if (!what)
        return mend_fail(err, MEND_E_NOMEM, "%s: out of memory", r->f->path);
    snprintf(what, wl, "%s: %.*s", r->f->path, (int)pkl->name_len, pkl->name);
    mend_status s = pk_load(bytes, (size_t)pkl->usize, allow_global, what, &r->g, err);
    free(what);
    MEND_TRY(s);
    return build_table(r, err);
}

static mend_status map_file(mend_tf *f, mend_err *err)
{
    int fd = open(f->path, O_RDONLY);
    struct stat st;
    mend_status s = MEND_OK;
    if (fd < 0 || fstat(fd, &st) != 0)
        s = mend_fail(err, MEND_E_IO, "%s: cannot open: %s", f->path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        s = mend_fail(err, MEND_E_IO, "%s: not a regular file", f->path);
    else if (st.st_size < 22)
        s = mend_fail(err, MEND_E_FORMAT, "%s: too short to be a zip archive (%lld bytes)", f->path,
                      (long long)st.st_size);
    if (s == MEND_OK) {
        f->map_size = (size_t)st.st_size;
        f->map = mmap(NULL, f->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (f->map == MAP_FAILED) {
            f->map = NULL;
            s = mend_fail(err, MEND_E_IO, "%s: cannot map: %s", f->path, strerror(errno));
        }
    }
    if (s == MEND_OK)
        f->fd1 = fd + 1; /* kept for pread of the tensor data */
    else if (fd >= 0)
        close(fd);
    return s;
}

mend_status mend_torchzip_open(const char *path, mend_tf **out, mend_err *err)
{
    *out = NULL;
    mend_tf *f;
    MEND_TRY(mend_tf_new(path, &f, err));
    reader r = {.f = f};
    mend_status s = map_file(f, err);
    if (s == MEND_OK) {
        r.z = (zip){.path = f->path, .base = f->map, .size = f->map_size};
        s = read_checkpoint(&r, err);
    }
    pk_free(&r.g);
    free(r.z.e);
    return MEND_HAND_OVER(s, f, out, mend_tf_close);
}
