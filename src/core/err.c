#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

mend_status mend_fail(mend_err *err, mend_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

mend_status mend_err_wrap(mend_err *err, const char *fmt, ...)
{
    if (!err)
        return MEND_E_ARG;
    char old[sizeof err->msg];
    memcpy(old, err->msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n + 2 < sizeof err->msg) {
        size_t room = sizeof err->msg - (size_t)n;
        memcpy(err->msg + n, ": ", 2);
        size_t copy = strlen(old) < room - 3 ? strlen(old) : room - 3;
        memcpy(err->msg + n + 2, old, copy);
        err->msg[n + 2 + copy] = '\0';
    }
    return err->code;
}

void mend_err_clear(mend_err *err)
{
    if (err) {
        err->code = MEND_OK;
        err->msg[0] = '\0';
    }
}

const char *mend_status_name(mend_status s)
{
    switch (s) {
    case MEND_OK: return "ok";
    case MEND_E_IO: return "io";
    case MEND_E_FORMAT: return "format";
    case MEND_E_ARCH: return "architecture";
    case MEND_E_ARG: return "argument";
    case MEND_E_NOMEM: return "out of memory";
    case MEND_E_INTERRUPTED: return "interrupted";
    case MEND_E_SKIPPED: return "skipped";
    case MEND_E_LIMIT: return "limit";
    }
    return "unknown";
}
