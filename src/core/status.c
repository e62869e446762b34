/* status.c - status names and the per-thread error message. */
#include "cellforge/status.h"
#include "cellforge/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

static _Thread_local char tl_message[1024];

static const char *const status_names[CF_STATUS_COUNT] = {
    [CF_OK] = "ok",
    [CF_ERR_INVALID_ARG] = "invalid_arg",
    [CF_ERR_SHAPE] = "shape",
    [CF_ERR_ARITY] = "arity",
    [CF_ERR_UNKNOWN_NAME] = "unknown_name",
    [CF_ERR_PARSE] = "parse",
    [CF_ERR_IO] = "io",
    [CF_ERR_OUT_OF_MEMORY] = "out_of_memory",
    [CF_ERR_DEVICE_OOM] = "device_oom",
    [CF_ERR_DEVICE] = "device",
    [CF_ERR_NO_DEVICE] = "no_device",
    [CF_ERR_UNSUPPORTED] = "unsupported",
    [CF_ERR_INTERNAL] = "internal",
};

const char *cf_status_name(cf_status s) {
    if ((int)s < 0 || s >= CF_STATUS_COUNT) return "unknown_status";
    return status_names[s];
}

cf_status cf_error_set(cf_status s, const char *file, int line, const char *fmt, ...) {
    /* format into a copy: callers may pass cf_error_message() itself as an
     * argument, to wrap the previous message in context */
    char buf[sizeof tl_message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    memcpy(tl_message, buf, sizeof buf);
    cf_log_write(CF_LOG_LEVEL_DEBUG, file, line, "%s: %s", cf_status_name(s), tl_message);
    return s;
}

const char *cf_error_message(void) { return tl_message; }

void cf_error_clear(void) { tl_message[0] = '\0'; }

void cf_error_trace(cf_status s, const char *file, int line, const char *expr) {
    cf_log_write(CF_LOG_LEVEL_DEBUG, file, line, "  from %s -> %s", expr, cf_status_name(s));
}

void cf_assert_fail(const char *cond, const char *file, int line) {
    cf_log_write(CF_LOG_LEVEL_ERROR, file, line, "internal error: assertion failed: %s", cond);
    abort();
}
