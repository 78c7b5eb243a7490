/* Stop requests: set from any thread, polled by the thread running a job. */
#include "core/stop.h"

static _Thread_local mend_stop *bound;

void mend_stop_request(mend_stop *s, mend_status request)
{
    if (s)
        __atomic_store_n(&s->request, (int)request, __ATOMIC_RELAXED);
}

mend_stop *mend_stop_bind(mend_stop *s)
{
    mend_stop *old = bound;
    bound = s;
    return old;
}

mend_status mend_stop_poll(int with_skip, mend_err *err)
{
    if (!bound)
        return MEND_OK;
    int r = __atomic_load_n(&bound->request, __ATOMIC_RELAXED);
    if (r == MEND_E_INTERRUPTED)
        return mend_fail(err, MEND_E_INTERRUPTED, "interrupted");
    if (r == MEND_E_SKIPPED && with_skip)
        return mend_fail(err, MEND_E_SKIPPED, "skipped");
    return MEND_OK;
}

mend_status mend_stop_honour(mend_status s, int *interrupted)
{
    if (s == MEND_E_SKIPPED) {
        int expected = MEND_E_SKIPPED;
        if (bound)
            __atomic_compare_exchange_n(&bound->request, &expected, MEND_OK, 0, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED);
        return MEND_OK;
    }
    if (s == MEND_E_INTERRUPTED) {
        *interrupted = 1;
        bound = NULL;
        return MEND_OK;
    }
    return s;
}
