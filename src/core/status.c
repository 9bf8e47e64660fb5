/* status.c — status names and us_fail, the one way library code reports an
 * error: a code plus a formatted message in a caller-owned us_error. */
#include <stdarg.h>
#include <stdio.h>

#include "unseal.h"

const char *us_status_name(us_status s) {
    switch (s) {
    case US_OK: return "US_OK";
    case US_ERR_INVALID_ARG: return "US_ERR_INVALID_ARG";
    case US_ERR_OOM: return "US_ERR_OOM";
    case US_ERR_SHAPE: return "US_ERR_SHAPE";
    case US_ERR_DTYPE: return "US_ERR_DTYPE";
    case US_ERR_FORMAT: return "US_ERR_FORMAT";
    case US_ERR_NOT_FOUND: return "US_ERR_NOT_FOUND";
    case US_ERR_RANGE: return "US_ERR_RANGE";
    case US_ERR_HOOK: return "US_ERR_HOOK";
    }
    return "US_ERR_UNKNOWN";
}

/* err is borrowed and may be NULL; the message is truncated to fit (always
 * NUL-terminated). Returns `code` unchanged. */
us_status us_fail(us_error *err, us_status code, const char *fmt, ...) {
    if (err) {
        err->code = code;
        err->message[0] = '\0';
        if (fmt) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err->message, sizeof err->message, fmt, ap);
            va_end(ap);
        }
    }
    return code;
}
