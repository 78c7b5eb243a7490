/* A restricted, inert pickle reader for torch checkpoints.
 *
 * It runs the opcodes that torch.save emits (protocols 2 to 5, binary
 * opcodes only) into a graph of plain values. Nothing is ever executed:
 * GLOBAL only names a callable, and only names the caller allows (any other
 * is a clear error); REDUCE / NEWOBJ just record "call F with ARGS" for the
 * caller to interpret, except collections.OrderedDict() which becomes a
 * dict so that SETITEMS can fill it. BINPERSID records the persistent id.
 *
 * Every read is bounds-checked; memo indices, nesting and the number of
 * objects are limited so a hostile pickle fails cleanly. */
#ifndef MEND_IO_PICKLE_H
#define MEND_IO_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef enum pk_kind {
    PK_NONE,
    PK_BOOL,   /* u.i */
    PK_INT,    /* u.i */
    PK_BIGINT, /* an integer wider than 64 bits: value not kept */
    PK_FLOAT,  /* u.f */
    PK_STR,    /* u.s: UTF-8 text inside the pickle bytes, not NUL-terminated */
    PK_BYTES,  /* u.s */
    PK_TUPLE,  /* u.items[0..n) */
    PK_LIST,   /* u.items[0..n) */
    PK_SET,    /* u.items[0..n) */
    PK_DICT,   /* u.items[0..n): key, value, key, value, ... in insertion order */
    PK_GLOBAL, /* n: the id the allow callback gave; u.ref.a / u.ref.b: module / name PK_STR values */
    PK_CALL,   /* u.ref.a: callable (a PK_GLOBAL), u.ref.b: arguments (a PK_TUPLE); n: 1 + the
                  state a BUILD gave it, 0 without */
    PK_PERSID, /* u.ref.a: the persistent id */
} pk_kind;

/* Containers (tuple, list, set, dict) own an item array; other values
 * point into the pickle's bytes. */
static inline int pk_is_container_kind(int kind)
{
    return kind == PK_TUPLE || kind == PK_LIST || kind == PK_SET || kind == PK_DICT;
}

typedef struct pk_value {
    uint8_t kind;
    int32_t n, cap;
    union {
        int64_t i;
        double f;
        struct {
            const char *p;
            size_t len;
        } s;
        int32_t *items;
        struct {
            int32_t a, b;
        } ref;
    } u;
} pk_value;

typedef struct pk_graph {
    pk_value *v;
    int32_t count, cap;
    int32_t root; /* the object STOP returned */
} pk_graph;

/* Decides whether GLOBAL "module.name" may appear: returns an id >= 0 that
 * is stored in the PK_GLOBAL value, or < 0 to refuse the pickle. */
typedef int (*pk_allow_fn)(const char *qualified_name);

/* Reads the pickle data[0..len). `what` names it in messages (e.g.
 * "model.ckpt: archive/data.pkl"). On failure the graph is freed. */
mend_status pk_load(const uint8_t *data, size_t len, pk_allow_fn allow, const char *what, pk_graph *g,
                    mend_err *err);
void pk_free(pk_graph *g);

/* Convenience accessors; all tolerate any index and kind. */
const pk_value *pk_get(const pk_graph *g, int32_t index);
int pk_is(const pk_graph *g, int32_t index, pk_kind kind);
int pk_str_eq(const pk_graph *g, int32_t index, const char *s);
/* "module.name" of a PK_GLOBAL into buf (or "?"). */
const char *pk_global_name(const pk_graph *g, int32_t index, char *buf, size_t size);

#endif
