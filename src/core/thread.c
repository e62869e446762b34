/* thread.c - POSIX thread wrappers. */
#include "cellforge/thread.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

cf_status cf_thread_create(cf_thread *t, const char *name, void *(*fn)(void *), void *arg) {
    t->started = 0;
    int rc = pthread_create(&t->handle, NULL, fn, arg);
    if (rc != 0) CF_FAIL(CF_ERR_INTERNAL, "thread '%s': pthread_create failed: %s", name ? name : "", strerror(rc));
    t->started = 1;
#if defined(__linux__)
    if (name) {
        char short_name[16];
        snprintf(short_name, sizeof short_name, "%s", name);
        pthread_setname_np(t->handle, short_name);
    }
#endif
    return CF_OK;
}

cf_status cf_thread_join(cf_thread *t, void **result) {
    if (!t->started) CF_FAIL(CF_ERR_INVALID_ARG, "thread: join of a thread that was not started");
    int rc = pthread_join(t->handle, result);
    t->started = 0;
    if (rc != 0) CF_FAIL(CF_ERR_INTERNAL, "thread: pthread_join failed: %s", strerror(rc));
    return CF_OK;
}

cf_status cf_mutex_init(cf_mutex *m) {
    int rc = pthread_mutex_init(&m->m, NULL);
    if (rc != 0) CF_FAIL(CF_ERR_INTERNAL, "mutex: init failed: %s", strerror(rc));
    return CF_OK;
}
void cf_mutex_destroy(cf_mutex *m) { pthread_mutex_destroy(&m->m); }
void cf_mutex_lock(cf_mutex *m) { CF_ASSERT(pthread_mutex_lock(&m->m) == 0); }
void cf_mutex_unlock(cf_mutex *m) { CF_ASSERT(pthread_mutex_unlock(&m->m) == 0); }

cf_status cf_cond_init(cf_cond *c) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&c->c, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0) CF_FAIL(CF_ERR_INTERNAL, "condition variable: init failed: %s", strerror(rc));
    return CF_OK;
}
void cf_cond_destroy(cf_cond *c) { pthread_cond_destroy(&c->c); }
void cf_cond_wait(cf_cond *c, cf_mutex *m) { pthread_cond_wait(&c->c, &m->m); }

int cf_cond_timedwait(cf_cond *c, cf_mutex *m, double seconds) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (seconds < 0) seconds = 0;
    long long ns = (long long)ts.tv_nsec + (long long)((seconds - (double)(long long)seconds) * 1e9);
    ts.tv_sec += (time_t)seconds + (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    return pthread_cond_timedwait(&c->c, &m->m, &ts) == ETIMEDOUT ? 0 : 1;
}
void cf_cond_signal(cf_cond *c) { pthread_cond_signal(&c->c); }
void cf_cond_broadcast(cf_cond *c) { pthread_cond_broadcast(&c->c); }

int cf_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

double cf_time_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
