/* status.h - error values, the CF_TRY family and the library check macro.
 *
 * Library code never exits: every fallible function returns a cf_status. The
 * function that detects a failure records a one-line message (what, where,
 * what was expected) with CF_FAIL; callers pass the status upward with CF_TRY,
 * which logs one debug line per level so that CELLFORGE_LOG=debug shows the
 * failure as a backtrace. The message lives in thread-local storage, so two
 * worker threads never see each other's errors.
 *
 *   cf_status load(const char *path) {
 *       FILE *f = fopen(path, "rb");
 *       if (!f) CF_FAIL(CF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
 *       ...
 *   }
 *   cf_status run(void) {
 *       CF_TRY(load("spec.json"));
 *       return CF_OK;
 *   }
 *   if (run() != CF_OK) fprintf(stderr, "error: %s\n", cf_error_message());
 */
#ifndef CELLFORGE_STATUS_H
#define CELLFORGE_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cf_status {
    CF_OK = 0,
    CF_ERR_INVALID_ARG,   /* a value out of range, a NULL where data is needed */
    CF_ERR_SHAPE,         /* tensor shapes that do not fit the op */
    CF_ERR_ARITY,         /* wrong number of inputs for an op */
    CF_ERR_UNKNOWN_NAME,  /* a name (op, space, command, flag) that is not known */
    CF_ERR_PARSE,         /* malformed text or file contents */
    CF_ERR_IO,            /* a file that cannot be opened, read or written */
    CF_ERR_OUT_OF_MEMORY, /* host allocation failed */
    CF_ERR_DEVICE_OOM,    /* device allocation failed: the scheduler may retry */
    CF_ERR_DEVICE,        /* any other CUDA / cuDNN / cuBLAS / NCCL failure */
    CF_ERR_NO_DEVICE,     /* asked for a device that is not there */
    CF_ERR_UNSUPPORTED,   /* valid request this build cannot serve */
    CF_ERR_INTERNAL,      /* a bug: should never reach a user */
    CF_STATUS_COUNT
} cf_status;

/* Stable lower-case name of a status ("ok", "shape", "device_oom", ...). */
const char *cf_status_name(cf_status s);

/* Record the current thread's error message and return `s` unchanged, so it
 * can be used as `return cf_error_set(...)`. The message is printf-formatted;
 * file and line are kept for the debug log only. */
cf_status cf_error_set(cf_status s, const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* The last message recorded on this thread ("" if none). Borrowed: valid until
 * the next cf_error_set on this thread. */
const char *cf_error_message(void);

/* Clear this thread's message. */
void cf_error_clear(void);

/* Log one backtrace line (debug level) for a status passing through file:line. */
void cf_error_trace(cf_status s, const char *file, int line, const char *expr);

/* Fail with a message: `CF_FAIL(CF_ERR_SHAPE, "conv2d: x has %d channels", c);` */
#define CF_FAIL(status, ...) return cf_error_set((status), __FILE__, __LINE__, __VA_ARGS__)

/* Evaluate a cf_status expression; on failure log a trace line and return it. */
#define CF_TRY(expr)                                                  \
    do {                                                              \
        cf_status cf_try_s_ = (expr);                                 \
        if (cf_try_s_ != CF_OK) {                                     \
            cf_error_trace(cf_try_s_, __FILE__, __LINE__, #expr);     \
            return cf_try_s_;                                         \
        }                                                             \
    } while (0)

/* Same, but store the status in `var` and jump to `label` (single cleanup path). */
#define CF_TRY_GOTO(var, expr, label)                                 \
    do {                                                              \
        (var) = (expr);                                               \
        if ((var) != CF_OK) {                                         \
            cf_error_trace((var), __FILE__, __LINE__, #expr);         \
            goto label;                                               \
        }                                                             \
    } while (0)

/* The one generic macro behind CF_CUDA_CHECK, CF_CUDNN_CHECK, CF_CUBLAS_CHECK
 * and CF_NCCL_CHECK (defined in src/backend/cuda/cuda_check.h, which needs the
 * CUDA headers). `to_status` maps the library's code to a cf_status (so an
 * out-of-memory becomes CF_ERR_DEVICE_OOM), `to_string` names it. */
#define CF_CHECK_LIB(lib, code_type, ok_value, to_status, to_string, expr)        \
    do {                                                                          \
        code_type cf_chk_c_ = (expr);                                             \
        if (cf_chk_c_ != (ok_value)) {                                            \
            return cf_error_set(to_status(cf_chk_c_), __FILE__, __LINE__,         \
                                "%s: %s failed: %s (%d)", lib, #expr,             \
                                to_string(cf_chk_c_), (int)cf_chk_c_);            \
        }                                                                         \
    } while (0)

/* Always-on assertion for bugs (never for bad input): logs and aborts. */
#define CF_ASSERT(cond)                                                           \
    do {                                                                          \
        if (!(cond)) cf_assert_fail(#cond, __FILE__, __LINE__);                   \
    } while (0)

void cf_assert_fail(const char *cond, const char *file, int line)
#if defined(__GNUC__)
    __attribute__((noreturn))
#endif
    ;

#ifdef __cplusplus
}
#endif
#endif
