/* log.h - leveled, thread-safe logging to stderr.
 *
 * The level comes from CELLFORGE_LOG (debug|info|warn|error|off, default info)
 * on first use, or from cf_log_set_level(). Each message is formatted into one
 * buffer and written with a single locked write, so lines from worker threads
 * never interleave.
 *
 *   CF_LOG_INFO("trial %d finished: acc %.3f", id, acc);
 *   // [cellforge info  12:03:55.120] trial 7 finished: acc 0.912
 */
#ifndef CELLFORGE_LOG_H
#define CELLFORGE_LOG_H

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cf_log_level {
    CF_LOG_LEVEL_DEBUG = 0,
    CF_LOG_LEVEL_INFO,
    CF_LOG_LEVEL_WARN,
    CF_LOG_LEVEL_ERROR,
    CF_LOG_LEVEL_OFF
} cf_log_level;

/* Parse "debug", "info", "warn"/"warning", "error", "off" (case-insensitive).
 * Returns 0 and sets *out on success, -1 for an unknown name. */
int cf_log_parse_level(const char *name, cf_log_level *out);

void cf_log_set_level(cf_log_level level);
cf_log_level cf_log_get_level(void);

/* Redirect output (NULL restores stderr). Borrowed: the caller keeps the FILE
 * open while it is set. */
void cf_log_set_stream(FILE *stream);

void cf_log_write(cf_log_level level, const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#define CF_LOG_DEBUG(...) cf_log_write(CF_LOG_LEVEL_DEBUG, __FILE__, __LINE__, __VA_ARGS__)
#define CF_LOG_INFO(...)  cf_log_write(CF_LOG_LEVEL_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define CF_LOG_WARN(...)  cf_log_write(CF_LOG_LEVEL_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define CF_LOG_ERROR(...) cf_log_write(CF_LOG_LEVEL_ERROR, __FILE__, __LINE__, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
