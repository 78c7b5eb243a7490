/* The object graph a pickle leaves (pickle.h): freeing it and the typed
 * queries the checkpoint reader asks of it. */
#include "io/pickle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pk_free(pk_graph *g)
{
    for (int32_t i = 0; i < g->count; i++)
        if (pk_is_container_kind(g->v[i].kind))
            free(g->v[i].u.items);
    free(g->v);
    memset(g, 0, sizeof *g);
    g->root = -1;
}

const pk_value *pk_get(const pk_graph *g, int32_t index)
{
    return index >= 0 && index < g->count ? &g->v[index] : NULL;
}

int pk_is(const pk_graph *g, int32_t index, pk_kind kind)
{
    const pk_value *v = pk_get(g, index);
    return v && v->kind == kind;
}

int pk_str_eq(const pk_graph *g, int32_t index, const char *s)
{
    const pk_value *v = pk_get(g, index);
    return v && v->kind == PK_STR && v->u.s.len == strlen(s) && memcmp(v->u.s.p, s, v->u.s.len) == 0;
}

const char *pk_global_name(const pk_graph *g, int32_t index, char *buf, size_t size)
{
    const pk_value *v = pk_get(g, index);
    const pk_value *a = v && v->kind == PK_GLOBAL ? pk_get(g, v->u.ref.a) : NULL;
    const pk_value *b = v && v->kind == PK_GLOBAL ? pk_get(g, v->u.ref.b) : NULL;
    if (a && b)
        snprintf(buf, size, "%.*s.%.*s", (int)a->u.s.len, a->u.s.p, (int)b->u.s.len, b->u.s.p);
    else
        snprintf(buf, size, "?");
    return buf;
}
