/* The one error pattern of mend: functions return a mend_status and, on
 * failure, fill a mend_err with a message. mend_fail() does both at once:
 *     return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s' missing", path, name);
 */
#ifndef MEND_CORE_ERR_H
#define MEND_CORE_ERR_H

/* mend_fail, mend_err_wrap, mend_err_clear, MEND_TRY and MEND_PRINTF are
 * public (include/mend/err.h) so front ends report errors the same way. */
#include "mend/err.h"

/* The last step of a loader: on success *out takes the new object, else
 * free_fn frees it; the value is the status. `status` is read twice: pass a
 * variable. */
#define MEND_HAND_OVER(status, obj, out, free_fn) \
    ((status) == MEND_OK ? (*(out) = (obj), MEND_OK) : (free_fn(obj), (status)))

#endif
