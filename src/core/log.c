/* log.c - leveled logging; one locked fputs per message so threads never interleave. */
#include "cellforge/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static _Atomic int log_level = CF_LOG_LEVEL_INFO;
static FILE *log_stream; /* NULL means stderr; guarded by log_mutex */

static const char *const level_names[] = {"debug", "info ", "warn ", "error"};

int cf_log_parse_level(const char *name, cf_log_level *out) {
    static const struct { const char *name; cf_log_level level; } table[] = {
        {"debug", CF_LOG_LEVEL_DEBUG}, {"info", CF_LOG_LEVEL_INFO},
        {"warn", CF_LOG_LEVEL_WARN},   {"warning", CF_LOG_LEVEL_WARN},
        {"error", CF_LOG_LEVEL_ERROR}, {"off", CF_LOG_LEVEL_OFF},
    };
    if (!name) return -1;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcasecmp(name, table[i].name) == 0) {
            *out = table[i].level;
            return 0;
        }
    }
    return -1;
}

static void log_init_from_env(void) {
    const char *env = getenv("CELLFORGE_LOG");
    cf_log_level level;
    if (env && *env) {
        if (cf_log_parse_level(env, &level) == 0) {
            atomic_store(&log_level, (int)level);
        } else {
            fprintf(stderr, "[cellforge warn ] CELLFORGE_LOG=%s is not one of debug|info|warn|error|off; using info\n", env);
        }
    }
}

void cf_log_set_level(cf_log_level level) {
    pthread_once(&log_once, log_init_from_env);
    atomic_store(&log_level, (int)level);
}

cf_log_level cf_log_get_level(void) {
    pthread_once(&log_once, log_init_from_env);
    return (cf_log_level)atomic_load(&log_level);
}

void cf_log_set_stream(FILE *stream) {
    pthread_mutex_lock(&log_mutex);
    log_stream = stream;
    pthread_mutex_unlock(&log_mutex);
}

void cf_log_write(cf_log_level level, const char *file, int line, const char *fmt, ...) {
    if (level < cf_log_get_level() || level >= CF_LOG_LEVEL_OFF) return;

    char buf[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    int n = snprintf(buf, sizeof buf, "[cellforge %s %02d:%02d:%02d.%03d] ", level_names[level],
                     tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < sizeof buf) n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    if (level == CF_LOG_LEVEL_DEBUG && file) {
        const char *base = strrchr(file, '/');
        size_t used = strlen(buf);
        snprintf(buf + used, sizeof buf - used, " (%s:%d)", base ? base + 1 : file, line);
    }
    size_t used = strlen(buf);
    if (used + 1 >= sizeof buf) used = sizeof buf - 2;
    buf[used] = '\n';
    buf[used + 1] = '\0';

    pthread_mutex_lock(&log_mutex);
    FILE *out = log_stream ? log_stream : stderr;
    fputs(buf, out);
    fflush(out);
    pthread_mutex_unlock(&log_mutex);
}
