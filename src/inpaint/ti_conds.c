/* A job's conditionings with its embeddings: see ti_conds.h. */
#include "inpaint/ti_conds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* *dst = a + ", " + b (either may be NULL); 0 when out of memory. */
static int join_hashes(const char *a, const char *b, char **dst)
{
    *dst = NULL;
    if (!a && !b)
        return 1;
    size_t n = (a ? strlen(a) : 0) + (b ? strlen(b) : 0) + 3;
    if (!(*dst = malloc(n)))
        return 0;
    snprintf(*dst, n, "%s%s%s", a ? a : "", a && b ? ", " : "", b ? b : "");
    return 1;
}

mend_status mend_cond_build_job(const mend_clip *clip, const mend_tokenizer *tok, const char *prompt,
                                const char *negative, int steps, const mend_cond_opts *o, mend_cond_schedule *cond,
                                mend_cond_schedule *uncond, char **ti_hashes, char **log, mend_err *err)
{
    *ti_hashes = NULL;
    mend_ti_db *db = NULL;
    char *scan_log = NULL;
    mend_ti_lookup lookup = {0};
    mend_status s = mend_ti_db_acquire(mend_clip_get_arch(clip)->width, 0, &db, &scan_log, err);
    if (s == MEND_OK && scan_log && !mend_ti_log_append(log, scan_log))
        s = mend_fail(err, MEND_E_NOMEM, "out of memory");
    if (s == MEND_OK)
        s = mend_ti_lookup_build(db, tok, &lookup, err);
    mend_cond_opts with_ti = *o;
    with_ti.ti = &lookup;
    if (s == MEND_OK)
        s = mend_cond_build(clip, tok, prompt, steps, &with_ti, cond, err);
    if (s == MEND_OK)
        s = mend_cond_build(clip, tok, negative, steps, &with_ti, uncond, err);
    if (s == MEND_OK && !join_hashes(cond->ti_hashes, uncond->ti_hashes, ti_hashes))
        s = mend_fail(err, MEND_E_NOMEM, "out of memory");
    /* the vectors are in the conditionings now: the job needs the database no more */
    mend_ti_lookup_free(&lookup);
    if (db)
        mend_ti_db_release(db);
    free(scan_log);
    return s;
}
