/* check.c - the counters behind check.h's CHECK, shared by a test executable
 * and the helpers linked into it (op_harness.c), and the closing line. */
#include "check.h"

int check_passed, check_failed;

int test_finish(const char *name) {
    printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
    return check_failed ? 1 : 0;
}
