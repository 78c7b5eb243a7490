/* The one error pattern of mend: functions return a mend_status and, on
 * failure, fill a mend_err with a message. mend_fail() does both at once:
 *     return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s' missing", path, name);
 */
#ifndef MEND_CORE_ERR_H
#define MEND_CORE_ERR_H

/* mend_fail, mend_err_wrap, mend_err_clear, MEND_TRY and MEND_PRINTF are
 * public (include/mend/err.h) so front ends report errors the same way. */
#include "mend/err.h"

#endif
