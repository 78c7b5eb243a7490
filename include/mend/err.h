/* mend — the error pattern for code built on the library (front ends,
 * tools): the same helpers the engine uses. A function returns a
 * mend_status and, on failure, fills a mend_err with a message:
 *     return mend_fail(err, MEND_E_IO, "%s: cannot open", path); */
#ifndef MEND_ERR_H
#define MEND_ERR_H

#include "mend/mend.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef MEND_PRINTF
#if defined(__GNUC__)
#define MEND_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MEND_PRINTF(a, b)
#endif
#endif

/* Sets err (if non-NULL) and returns code. */
mend_status mend_fail(mend_err *err, mend_status code, const char *fmt, ...) MEND_PRINTF(3, 4);

/* Prepends "context: " to an existing message, keeps the code, returns it. */
mend_status mend_err_wrap(mend_err *err, const char *fmt, ...) MEND_PRINTF(2, 3);

void mend_err_clear(mend_err *err);

/* Propagate a failing status: MEND_TRY(f(x, err)); */
#ifndef MEND_TRY
#define MEND_TRY(expr)                        \
    do {                                      \
        mend_status mend_try_s_ = (expr);     \
        if (mend_try_s_ != MEND_OK)           \
            return mend_try_s_;               \
    } while (0)
#endif

#ifdef __cplusplus
}
#endif
#endif
