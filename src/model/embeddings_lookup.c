/* A job's name look-up (A1111's ids_lookup / find_embedding_at_position):
 * each loaded embedding's name tokenized as prompt text is, sorted by its
 * first id and then longest first, so that "tinycat-xl" wins over
 * "tinycat" where both match. */
#include "model/embeddings.h"

#include <stdlib.h>
#include <string.h>

void mend_ti_lookup_free(mend_ti_lookup *l)
{
    if (!l)
        return;
    for (int i = 0; i < l->count; i++)
        free(l->names[i].ids);
    free(l->names);
    memset(l, 0, sizeof *l);
}

/* First id ascending, then more ids first; equal keys keep the database
 * order (the index breaks ties, as Python's stable sort does). */
static int by_first_id(const void *pa, const void *pb)
{
    const mend_ti_name *a = pa, *b = pb;
    if (a->ids[0] != b->ids[0])
        return a->ids[0] < b->ids[0] ? -1 : 1;
    if (a->n != b->n)
        return a->n > b->n ? -1 : 1;
    return a->e < b->e ? -1 : a->e > b->e;
}

mend_status mend_ti_lookup_build(const mend_ti_db *db, const mend_tokenizer *tok, mend_ti_lookup *out, mend_err *err)
{
    memset(out, 0, sizeof *out);
    if (!db || db->nloaded == 0)
        return MEND_OK;
    out->names = calloc((size_t)db->nloaded, sizeof *out->names);
    if (!out->names)
        return mend_fail(err, MEND_E_NOMEM, "embeddings: out of memory");
    for (int i = 0; i < db->nloaded; i++) {
        mend_ti_name *nm = &out->names[out->count];
        mend_status s = mend_tokenize(tok, db->loaded[i].name, &nm->ids, &nm->n, err);
        if (s != MEND_OK) {
            mend_ti_lookup_free(out);
            return mend_err_wrap(err, "embedding '%s'", db->loaded[i].name);
        }
        nm->e = &db->loaded[i];
        if (nm->n > 0) {
            out->count++;
        } else { /* a name of no tokens matches nothing */
            free(nm->ids);
            nm->ids = NULL;
        }
    }
    if (out->count > 1)
        qsort(out->names, (size_t)out->count, sizeof *out->names, by_first_id);
    return MEND_OK;
}

const mend_ti_embedding *mend_ti_lookup_find(const mend_ti_lookup *l, const int32_t *ids, int n, int pos, int *len)
{
    if (!l || l->count == 0 || pos >= n)
        return NULL;
    int lo = 0, hi = l->count; /* the first name whose first id is ids[pos] */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (l->names[mid].ids[0] < ids[pos])
            lo = mid + 1;
        else
            hi = mid;
    }
    for (int i = lo; i < l->count && l->names[i].ids[0] == ids[pos]; i++) {
        const mend_ti_name *nm = &l->names[i];
        if (pos + nm->n <= n && memcmp(ids + pos, nm->ids, (size_t)nm->n * sizeof *ids) == 0) {
            *len = nm->n;
            return nm->e;
        }
    }
    return NULL;
}
