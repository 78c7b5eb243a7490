/* Restricted pickle reader (see pickle.h). The machine is the standard
 * pickle one: a value stack split by MARKs, and a memo of stored values.
 * Values live in one growing array and refer to each other by index, so
 * memo aliasing (a dict stored, then filled later) works without pointers
 * that a realloc could invalidate. Nothing recurses, so nesting depth
 * cannot exhaust the C stack. */
#include "io/pickle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PK_MAX_BYTES (1u << 30)     /* torch state-dict pickles are a few MB at most */
#define PK_MAX_VALUES (1 << 23)     /* every opcode makes at most one value */
#define PK_MAX_MARKS 1000           /* torch nests marks about three deep */
#define PK_MAX_GLOBAL_PART 256

typedef struct vm {
    const uint8_t *start, *p, *end;
    const char *what;
    pk_allow_fn allow;
    pk_graph *g;
    int32_t *stack;
    int sp, scap;
    int *marks;
    int nmarks, mcap;
    int32_t *memo; /* -1 where nothing is stored */
    int memo_cap, memo_count;
    size_t op_at; /* offset of the opcode being run, for messages */
    mend_err *err;
} vm;

static mend_status vm_fail(vm *m, const char *fmt, ...) MEND_PRINTF(2, 3);

static mend_status vm_fail(vm *m, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mend_fail(m->err, MEND_E_FORMAT, "%s: %s (pickle byte %zu)", m->what, msg, m->op_at);
}

static mend_status oom(vm *m) { return mend_fail(m->err, MEND_E_NOMEM, "%s: out of memory reading the pickle", m->what); }

static mend_status truncated(vm *m, int op)
{
    return vm_fail(m, "ends in the middle of opcode 0x%02x; the file is truncated or corrupt", op);
}

/* buf (cap elements of elsize) grown to hold at least `need`: the possibly
 * moved buffer, or NULL (buf still valid and unchanged) when out of memory. */
static void *grown(void *buf, int *cap, int64_t need, size_t elsize)
{
    if (need <= *cap)
        return buf;
    int64_t nc = *cap ? *cap : 16;
    while (nc < need)
        nc *= 2;
    if (nc > INT32_MAX)
        return NULL;
    void *nb = realloc(buf, (size_t)nc * elsize);
    if (nb)
        *cap = (int)nc;
    return nb;
}

static uint64_t read_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int has(const vm *m, size_t n) { return (size_t)(m->end - m->p) >= n; }

/* ------------------------------------------------------------ values */

static mend_status new_value(vm *m, pk_kind kind, int32_t *out)
{
    pk_graph *g = m->g;
    if (g->count >= PK_MAX_VALUES)
        return vm_fail(m, "builds more than %d objects; not a plausible checkpoint", PK_MAX_VALUES);
    pk_value *vals = grown(g->v, &g->cap, (int64_t)g->count + 1, sizeof *g->v);
    if (!vals)
        return oom(m);
    g->v = vals;
    pk_value *v = &g->v[g->count];
    memset(v, 0, sizeof *v);
    v->kind = (uint8_t)kind;
    *out = g->count++;
    return MEND_OK;
}


/* Appends items[0..n) to container `c`. */
static mend_status add_items(vm *m, int32_t c, const int32_t *items, int n)
{
    pk_value *v = &m->g->v[c];
    int32_t *held = grown(v->u.items, &v->cap, (int64_t)v->n + n, sizeof *v->u.items);
    if (!held)
        return oom(m);
    v->u.items = held;
    memcpy(v->u.items + v->n, items, (size_t)n * sizeof *items);
    v->n += n;
    return MEND_OK;
}

static mend_status new_container(vm *m, pk_kind kind, const int32_t *items, int n, int32_t *out)
{
    MEND_TRY(new_value(m, kind, out));
    return n ? add_items(m, *out, items, n) : MEND_OK;
}

/* ------------------------------------------------------------ stack */

static int fence(const vm *m) { return m->nmarks ? m->marks[m->nmarks - 1] : 0; }

static mend_status push(vm *m, int32_t v)
{
    int32_t *stack = grown(m->stack, &m->scap, (int64_t)m->sp + 1, sizeof *m->stack);
    if (!stack)
        return oom(m);
    m->stack = stack;
    m->stack[m->sp++] = v;
    return MEND_OK;
}

static mend_status pop(vm *m, int32_t *v)
{
    if (m->sp <= fence(m))
        return vm_fail(m, "pops from an empty stack");
    *v = m->stack[--m->sp];
    return MEND_OK;
}

static mend_status peek(vm *m, int32_t *v)
{
    if (m->sp <= fence(m))
        return vm_fail(m, "uses the top of an empty stack");
    *v = m->stack[m->sp - 1];
    return MEND_OK;
}

static mend_status push_mark(vm *m)
{
    if (m->nmarks >= PK_MAX_MARKS)
        return vm_fail(m, "nests MARKs more than %d deep", PK_MAX_MARKS);
    int *marks = grown(m->marks, &m->mcap, (int64_t)m->nmarks + 1, sizeof *m->marks);
    if (!marks)
        return oom(m);
    m->marks = marks;
    m->marks[m->nmarks++] = m->sp;
    return MEND_OK;
}

/* Removes the top mark; the items pushed since are stack[*base .. m->sp). */
static mend_status pop_mark(vm *m, int *base)
{
    if (!m->nmarks)
        return vm_fail(m, "has no MARK to pop");
    *base = m->marks[--m->nmarks];
    return MEND_OK;
}

static mend_status push_new(vm *m, pk_kind kind)
{
    int32_t v = -1;
    MEND_TRY(new_value(m, kind, &v));
    return push(m, v);
}

static mend_status push_int(vm *m, pk_kind kind, int64_t i)
{
    int32_t v = -1;
    MEND_TRY(new_value(m, kind, &v));
    m->g->v[v].u.i = i;
    return push(m, v);
}

/* ------------------------------------------------------------ opcodes */

/* BINUNICODE & co: a little-endian length of lenbytes, then the bytes. */
static mend_status op_string(vm *m, int op, int lenbytes, pk_kind kind)
{
    if (!has(m, (size_t)lenbytes))
        return truncated(m, op);
    uint64_t n = read_le(m->p, lenbytes);
    m->p += lenbytes;
    if (n > (uint64_t)(m->end - m->p))
        return truncated(m, op);
    int32_t v = -1;
    MEND_TRY(new_value(m, kind, &v));
    m->g->v[v].u.s.p = (const char *)m->p;
    m->g->v[v].u.s.len = (size_t)n;
    m->p += n;
    return push(m, v);
}

/* LONG1 / LONG4: little-endian two's complement of n bytes. */
static mend_status op_long(vm *m, int op, int lenbytes)
{
    if (!has(m, (size_t)lenbytes))
        return truncated(m, op);
    uint64_t n = read_le(m->p, lenbytes);
    m->p += lenbytes;
    if (lenbytes == 4 && n > INT32_MAX)
        return vm_fail(m, "has a LONG4 with a negative length");
    if (n > (uint64_t)(m->end - m->p))
        return truncated(m, op);
    const uint8_t *b = m->p;
    m->p += n;
    if (n > 8)
        return push_new(m, PK_BIGINT);
    uint64_t u = n ? read_le(b, (int)n) : 0;
    if (n && n < 8 && (b[n - 1] & 0x80))
        u |= ~0ull << (8 * n); /* sign-extend */
    int64_t i;
    memcpy(&i, &u, sizeof i);
    return push_int(m, PK_INT, i);
}

static mend_status op_fixed_int(vm *m, int op, int nbytes, int is_signed)
{
    if (!has(m, (size_t)nbytes))
        return truncated(m, op);
    uint64_t u = read_le(m->p, nbytes);
    m->p += nbytes;
    int64_t i = is_signed ? (int64_t)(int32_t)(uint32_t)u : (int64_t)u;
    return push_int(m, PK_INT, i);
}

static mend_status op_float(vm *m, int op)
{
    if (!has(m, 8))
        return truncated(m, op);
    uint64_t u = 0;
    for (int i = 0; i < 8; i++) /* big-endian */
        u = (u << 8) | m->p[i];
    m->p += 8;
    int32_t v = -1;
    MEND_TRY(new_value(m, PK_FLOAT, &v));
    memcpy(&m->g->v[v].u.f, &u, sizeof u);
    return push(m, v);
}

/* Checks the global against the caller's list, then pushes it. mod and name
 * are PK_STR values. */
static mend_status push_global(vm *m, int32_t mod, int32_t name)
{
    const pk_value *a = &m->g->v[mod], *b = &m->g->v[name];
    if (a->kind != PK_STR || b->kind != PK_STR)
        return vm_fail(m, "STACK_GLOBAL needs two strings");
    if (a->u.s.len > PK_MAX_GLOBAL_PART || b->u.s.len > PK_MAX_GLOBAL_PART)
        return vm_fail(m, "names a global longer than %d characters", PK_MAX_GLOBAL_PART);
    char q[2 * PK_MAX_GLOBAL_PART + 2];
    snprintf(q, sizeof q, "%.*s.%.*s", (int)a->u.s.len, a->u.s.p, (int)b->u.s.len, b->u.s.p);
    int clean = strlen(q) == a->u.s.len + 1 + b->u.s.len;
    for (char *c = q; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f) {
            *c = '?'; /* keep the message printable */
            clean = 0;
        }
    int id = clean ? m->allow(q) : -1;
    if (id < 0)
        return vm_fail(m, "refers to '%s', which is not allowed: only tensor data is read from checkpoints, and no "
                          "code in them is ever run",
                       q);
    int32_t v = -1;
    MEND_TRY(new_value(m, PK_GLOBAL, &v));
    m->g->v[v].n = id;
    m->g->v[v].u.ref.a = mod;
    m->g->v[v].u.ref.b = name;
    return push(m, v);
}

/* GLOBAL: "module\nname\n" in the opcode stream. */
static mend_status op_global(vm *m, int op)
{
    int32_t parts[2];
    for (int i = 0; i < 2; i++) {
        const uint8_t *nl = memchr(m->p, '\n', (size_t)(m->end - m->p));
        if (!nl)
            return truncated(m, op);
        MEND_TRY(new_value(m, PK_STR, &parts[i]));
        m->g->v[parts[i]].u.s.p = (const char *)m->p;
        m->g->v[parts[i]].u.s.len = (size_t)(nl - m->p);
        m->p = nl + 1;
    }
    return push_global(m, parts[0], parts[1]);
}

static mend_status op_stack_global(vm *m)
{
    int32_t mod = -1, name = -1;
    MEND_TRY(pop(m, &name));
    MEND_TRY(pop(m, &mod));
    return push_global(m, mod, name);
}

static int global_is(const pk_graph *g, int32_t gl, const char *mod, const char *name)
{
    const pk_value *v = &g->v[gl];
    return v->kind == PK_GLOBAL && pk_str_eq(g, v->u.ref.a, mod) && pk_str_eq(g, v->u.ref.b, name);
}

/* REDUCE / NEWOBJ: records the call; OrderedDict() becomes a real dict. */
static mend_status make_call(vm *m, int32_t fn, int32_t args)
{
    if (m->g->v[fn].kind != PK_GLOBAL)
        return vm_fail(m, "calls something that is not a named global");
    if (m->g->v[args].kind != PK_TUPLE)
        return vm_fail(m, "calls a global with arguments that are not a tuple");
    if (global_is(m->g, fn, "collections", "OrderedDict") && m->g->v[args].n == 0)
        return push_new(m, PK_DICT);
    int32_t v = -1;
    MEND_TRY(new_value(m, PK_CALL, &v));
    m->g->v[v].u.ref.a = fn;
    m->g->v[v].u.ref.b = args;
    return push(m, v);
}

static mend_status op_reduce(vm *m, int op)
{
    int32_t fn = -1, args = -1, kwargs = -1;
    if (op == 0x92) /* NEWOBJ_EX: keyword arguments are not used by anything we rebuild */
        MEND_TRY(pop(m, &kwargs));
    MEND_TRY(pop(m, &args));
    MEND_TRY(pop(m, &fn));
    return make_call(m, fn, args);
}

static mend_status op_persid(vm *m)
{
    int32_t pid = -1, v = -1;
    MEND_TRY(pop(m, &pid));
    MEND_TRY(new_value(m, PK_PERSID, &v));
    m->g->v[v].u.ref.a = pid;
    return push(m, v);
}

/* TUPLE, LIST, DICT, FROZENSET: everything since the last MARK. */
static mend_status op_collect(vm *m, pk_kind kind)
{
    int base = 0;
    MEND_TRY(pop_mark(m, &base));
    int n = m->sp - base;
    if (kind == PK_DICT && n % 2)
        return vm_fail(m, "builds a dict from an odd number of items");
    int32_t v = -1;
    /* the stack may never have been allocated ("(l."): no NULL + 0 */
    MEND_TRY(new_container(m, kind, n ? m->stack + base : NULL, n, &v));
    m->sp = base;
    return push(m, v);
}

static mend_status op_small_tuple(vm *m, int n)
{
    if (m->sp - fence(m) < n)
        return vm_fail(m, "builds a %d-tuple from a shorter stack", n);
    int32_t v = -1;
    MEND_TRY(new_container(m, PK_TUPLE, n ? m->stack + m->sp - n : NULL, n, &v));
    m->sp -= n;
    return push(m, v);
}

/* APPEND / SETITEM (n = 1 or 2 items from the stack) into the container below. */
static mend_status op_add_one(vm *m, pk_kind want, int n)
{
    if (m->sp - fence(m) < n + 1)
        return vm_fail(m, "adds to a container missing from the stack");
    int32_t c = m->stack[m->sp - n - 1];
    if (m->g->v[c].kind != want)
        return vm_fail(m, "%s something that is not a %s", want == PK_DICT ? "sets an item of" : "appends to",
                       want == PK_DICT ? "dict" : "list");
    MEND_TRY(add_items(m, c, n ? m->stack + m->sp - n : NULL, n));
    m->sp -= n;
    return MEND_OK;
}

/* APPENDS / SETITEMS / ADDITEMS: everything since the MARK into the container below it. */
static mend_status op_add_marked(vm *m, pk_kind want)
{
    int base = 0;
    MEND_TRY(pop_mark(m, &base));
    if (base <= fence(m))
        return vm_fail(m, "adds items to a container missing from the stack");
    int32_t c = m->stack[base - 1];
    int n = m->sp - base;
    if (m->g->v[c].kind != want)
        return vm_fail(m, "adds items to something that is not a %s",
                       want == PK_DICT ? "dict" : want == PK_SET ? "set" : "list");
    if (want == PK_DICT && n % 2)
        return vm_fail(m, "sets dict items from an odd number of values");
    MEND_TRY(add_items(m, c, m->stack + base, n));
    m->sp = base;
    return MEND_OK;
}

/* BINPUT / LONG_BINPUT / MEMOIZE. A real pickler numbers memo entries 0, 1,
 * 2, ... so an index beyond the pickle's length cannot be genuine. */
static mend_status memo_put(vm *m, uint64_t index)
{
    int32_t top = -1;
    MEND_TRY(peek(m, &top));
    if (index >= (uint64_t)(m->end - m->start))
        return vm_fail(m, "stores memo entry %llu, out of range for a %zu-byte pickle", (unsigned long long)index,
                       (size_t)(m->end - m->start));
    int old = m->memo_cap;
    int32_t *memo = grown(m->memo, &m->memo_cap, (int64_t)index + 1, sizeof *m->memo);
    if (!memo)
        return oom(m);
    m->memo = memo;
    for (int i = old; i < m->memo_cap; i++)
        m->memo[i] = -1;
    if (m->memo[index] < 0)
        m->memo_count++;
    m->memo[index] = top;
    return MEND_OK;
}

static mend_status memo_get(vm *m, uint64_t index)
{
    if (index >= (uint64_t)m->memo_cap || m->memo[index] < 0)
        return vm_fail(m, "reads memo entry %llu, which was never stored", (unsigned long long)index);
    return push(m, m->memo[index]);
}

static mend_status op_memo(vm *m, int op, int nbytes, int put)
{
    if (!has(m, (size_t)nbytes))
        return truncated(m, op);
    uint64_t index = read_le(m->p, nbytes);
    m->p += nbytes;
    return put ? memo_put(m, index) : memo_get(m, index);
}

static mend_status op_pop(vm *m)
{
    int base = 0;
    if (m->sp > fence(m)) {
        m->sp--;
        return MEND_OK;
    }
    MEND_TRY(pop_mark(m, &base)); /* POP with nothing above the mark drops the mark */
    return MEND_OK;
}

static mend_status op_pop_mark(vm *m)
{
    int base = 0;
    MEND_TRY(pop_mark(m, &base));
    m->sp = base;
    return MEND_OK;
}

/* BUILD sets an object's state: a call's (a Module such as the
 * ParameterDict of old textual-inversion files) is kept in its n, as
 * state + 1; anything else's (a state dict's _metadata, say) is dropped. */
static mend_status op_build(vm *m)
{
    int32_t state = -1, obj = -1;
    MEND_TRY(pop(m, &state));
    MEND_TRY(peek(m, &obj));
    if (m->g->v[obj].kind == PK_CALL)
        m->g->v[obj].n = state + 1;
    return MEND_OK;
}

static mend_status op_skip(vm *m, int op, size_t n)
{
    if (!has(m, n))
        return truncated(m, op);
    m->p += n;
    return MEND_OK;
}

static mend_status op_proto(vm *m, int op)
{
    if (!has(m, 1))
        return truncated(m, op);
    int version = *m->p++;
    if (version > 5)
        return vm_fail(m, "uses pickle protocol %d (at most 5 is known)", version);
    return MEND_OK;
}

/* The data-building opcodes. */
static mend_status step_data(vm *m, int op, int *handled)
{
    *handled = 1;
    switch (op) {
    case 'N': return push_new(m, PK_NONE);
    case 0x88: return push_int(m, PK_BOOL, 1);                /* NEWTRUE */
    case 0x89: return push_int(m, PK_BOOL, 0);                /* NEWFALSE */
    case 'J': return op_fixed_int(m, op, 4, 1);               /* BININT */
    case 'K': return op_fixed_int(m, op, 1, 0);               /* BININT1 */
    case 'M': return op_fixed_int(m, op, 2, 0);               /* BININT2 */
    case 0x8a: return op_long(m, op, 1);                      /* LONG1 */
    case 0x8b: return op_long(m, op, 4);                      /* LONG4 */
    case 'G': return op_float(m, op);                         /* BINFLOAT */
    case 'X': return op_string(m, op, 4, PK_STR);             /* BINUNICODE */
    case 0x8c: return op_string(m, op, 1, PK_STR);            /* SHORT_BINUNICODE */
    case 0x8d: return op_string(m, op, 8, PK_STR);            /* BINUNICODE8 */
    case 'T': return op_string(m, op, 4, PK_STR);             /* BINSTRING (Python 2 str) */
    case 'U': return op_string(m, op, 1, PK_STR);             /* SHORT_BINSTRING */
    case 'B': return op_string(m, op, 4, PK_BYTES);           /* BINBYTES */
    case 'C': return op_string(m, op, 1, PK_BYTES);           /* SHORT_BINBYTES */
    case 0x8e: return op_string(m, op, 8, PK_BYTES);          /* BINBYTES8 */
    case '}': return push_new(m, PK_DICT);                    /* EMPTY_DICT */
    case ']': return push_new(m, PK_LIST);                    /* EMPTY_LIST */
    case ')': return push_new(m, PK_TUPLE);                   /* EMPTY_TUPLE */
    case 0x8f: return push_new(m, PK_SET);                    /* EMPTY_SET */
    case 't': return op_collect(m, PK_TUPLE);                 /* TUPLE */
    case 'l': return op_collect(m, PK_LIST);                  /* LIST */
    case 'd': return op_collect(m, PK_DICT);                  /* DICT */
    case 0x91: return op_collect(m, PK_SET);                  /* FROZENSET */
    case 0x85: return op_small_tuple(m, 1);                   /* TUPLE1 */
    case 0x86: return op_small_tuple(m, 2);                   /* TUPLE2 */
    case 0x87: return op_small_tuple(m, 3);                   /* TUPLE3 */
    case 'a': return op_add_one(m, PK_LIST, 1);               /* APPEND */
    case 's': return op_add_one(m, PK_DICT, 2);               /* SETITEM */
    case 'e': return op_add_marked(m, PK_LIST);               /* APPENDS */
    case 'u': return op_add_marked(m, PK_DICT);               /* SETITEMS */
    case 0x90: return op_add_marked(m, PK_SET);               /* ADDITEMS */
    }
    *handled = 0;
    return MEND_OK;
}

/* Stack, memo, call and framing opcodes. */
static mend_status step_control(vm *m, int op)
{
    int32_t v = -1;
    switch (op) {
    case 0x80: return op_proto(m, op);                        /* PROTO */
    case 0x95: return op_skip(m, op, 8);                      /* FRAME: framing is transparent */
    case '(': return push_mark(m);                            /* MARK */
    case '0': return op_pop(m);                               /* POP */
    case '1': return op_pop_mark(m);                          /* POP_MARK */
    case '2': MEND_TRY(peek(m, &v)); return push(m, v);       /* DUP */
    case 'q': return op_memo(m, op, 1, 1);                    /* BINPUT */
    case 'r': return op_memo(m, op, 4, 1);                    /* LONG_BINPUT */
    case 'h': return op_memo(m, op, 1, 0);                    /* BINGET */
    case 'j': return op_memo(m, op, 4, 0);                    /* LONG_BINGET */
    case 0x94: return memo_put(m, (uint64_t)m->memo_count);   /* MEMOIZE */
    case 'c': return op_global(m, op);                        /* GLOBAL */
    case 0x93: return op_stack_global(m);                     /* STACK_GLOBAL */
    case 'R': return op_reduce(m, op);                        /* REDUCE */
    case 0x81: return op_reduce(m, op);                       /* NEWOBJ */
    case 0x92: return op_reduce(m, op);                       /* NEWOBJ_EX */
    case 'b': return op_build(m);                             /* BUILD */
    case 'Q': return op_persid(m);                            /* BINPERSID */
    }
    if (op >= 0x20 && op < 0x7f)
        return vm_fail(m, "uses opcode '%c' (0x%02x), which torch checkpoints do not contain", op, op);
    return vm_fail(m, "uses opcode 0x%02x, which torch checkpoints do not contain", op);
}

static mend_status run(vm *m)
{
    while (m->p < m->end) {
        m->op_at = (size_t)(m->p - m->start);
        int op = *m->p++;
        if (op == '.') /* STOP */
            return pop(m, &m->g->root);
        int handled;
        MEND_TRY(step_data(m, op, &handled));
        if (!handled)
            MEND_TRY(step_control(m, op));
    }
    m->op_at = (size_t)(m->end - m->start);
    return vm_fail(m, "ends without STOP; the file is truncated or corrupt");
}

mend_status pk_load(const uint8_t *data, size_t len, pk_allow_fn allow, const char *what, pk_graph *g,
                    mend_err *err)
{
    memset(g, 0, sizeof *g);
    g->root = -1;
    if (len > PK_MAX_BYTES)
        return mend_fail(err, MEND_E_FORMAT, "%s: pickle of %zu bytes is implausibly large", what, len);
    vm m = {.start = data, .p = data, .end = data + len, .what = what, .allow = allow, .g = g, .err = err};
    mend_status s = run(&m);
    if (s == MEND_OK && m.nmarks)
        s = vm_fail(&m, "stops with %d MARKs still open", m.nmarks);
    free(m.stack);
    free(m.marks);
    free(m.memo);
    if (s != MEND_OK)
        pk_free(g);
    return s;
}
