/* check.h - the tiny assertion kit of the test executables.
 *
 * CHECK records a failure with file and line and carries on, so one run shows
 * every broken case; test_finish() prints "N passed, N failed" and turns the
 * count into the exit status ctest reads. A test that needs a GPU and finds
 * none exits with CF_TEST_SKIP (77), which ctest reports as skipped. The
 * counters live in check.c (linked into every test), so helpers compiled on
 * their own (op_harness.c) count into the same totals.
 */
#ifndef CF_TESTS_CHECK_H
#define CF_TESTS_CHECK_H

#include <stdio.h>

#define CF_TEST_SKIP 77

extern int check_passed, check_failed;

#define CHECK(cond, ...)                                                          \
    do {                                                                          \
        if (cond) {                                                               \
            check_passed++;                                                       \
        } else {                                                                  \
            check_failed++;                                                       \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                         \
            fputc('\n', stderr);                                                  \
        }                                                                         \
    } while (0)

/* A call that must succeed. */
#define CHECK_OK(expr)                                                            \
    do {                                                                          \
        cf_status check_s_ = (expr);                                              \
        CHECK(check_s_ == CF_OK, "%s -> %s: %s", #expr, cf_status_name(check_s_), \
              cf_error_message());                                                \
    } while (0)

/* A call that must fail with `want` and a message containing both texts
 * (check.h's includer provides <string.h>). */
#define CHECK_FAILS(call, want, text1, text2)                                     \
    do {                                                                          \
        cf_status check_s_ = (call);                                              \
        CHECK(check_s_ == (want), "%s: got %s, expected %s (%s)", #call,          \
              cf_status_name(check_s_), cf_status_name(want), cf_error_message()); \
        CHECK(strstr(cf_error_message(), (text1)) != NULL, "message '%s' lacks '%s'", \
              cf_error_message(), (text1));                                       \
        CHECK(strstr(cf_error_message(), (text2)) != NULL, "message '%s' lacks '%s'", \
              cf_error_message(), (text2));                                       \
    } while (0)

/* Print "name: N passed, N failed"; the exit status: 1 where a check failed. */
int test_finish(const char *name);

#endif
