/* thread.h - threads, mutexes and condition variables that return cf_status.
 *
 * Thin wrappers over POSIX threads so that worker code reads the same as the
 * rest of the library and failures become values.
 *
 *   static void *work(void *arg) { ...; return NULL; }
 *   cf_thread t;
 *   CF_TRY(cf_thread_create(&t, "worker-cpu0", work, &ctx));
 *   CF_TRY(cf_thread_join(&t, NULL));
 */
#ifndef CELLFORGE_THREAD_H
#define CELLFORGE_THREAD_H

#include <pthread.h>

#include "cellforge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cf_thread {
    pthread_t handle;
    int started;
} cf_thread;

typedef struct cf_mutex {
    pthread_mutex_t m;
} cf_mutex;

typedef struct cf_cond {
    pthread_cond_t c;
} cf_cond;

/* Start fn(arg) on a new thread; `name` (<= 15 chars shown) labels it in
 * debuggers and top. */
cf_status cf_thread_create(cf_thread *t, const char *name, void *(*fn)(void *), void *arg);
/* Wait for the thread; *result (may be NULL) receives fn's return value. */
cf_status cf_thread_join(cf_thread *t, void **result);

cf_status cf_mutex_init(cf_mutex *m);
void cf_mutex_destroy(cf_mutex *m);
void cf_mutex_lock(cf_mutex *m);
void cf_mutex_unlock(cf_mutex *m);

cf_status cf_cond_init(cf_cond *c);
void cf_cond_destroy(cf_cond *c);
void cf_cond_wait(cf_cond *c, cf_mutex *m);
/* Wait at most `seconds`; returns 1 if signalled (or spurious), 0 on timeout. */
int cf_cond_timedwait(cf_cond *c, cf_mutex *m, double seconds);
void cf_cond_signal(cf_cond *c);
void cf_cond_broadcast(cf_cond *c);

/* Online CPU cores of this machine (>= 1). */
int cf_cpu_count(void);
/* Monotonic seconds, for timing and time limits. */
double cf_time_now(void);

#ifdef __cplusplus
}
#endif
#endif
