/* wait_policy.c - how long the OpenMP threads of the `cellforge` binary spin
 * before they sleep, when the user did not say.
 *
 * libgomp (GCC's OpenMP) reads OMP_WAIT_POLICY and GOMP_SPINCOUNT once, when
 * it is loaded, before main runs; by default a thread that waits for work or
 * at a barrier spins for 300,000 iterations first. On a machine that other
 * programs share, spinning threads take the time slices the working ones need:
 * training beside two busy processes on two cores ran 3.2x slower than alone
 * with the default, 2.0x with a spin of 3,000, at the same speed alone
 * (README, "Threads on a shared machine"; benchmarks/bench_contention.py).
 *
 * So a command that trains or runs networks starts itself again, once (the
 * binary /proc/self/exe names), with the setting in its environment, unless OMP_WAIT_POLICY
 * or GOMP_SPINCOUNT is set already (the user's choice is kept). The process
 * started again finds the variable set, so it cannot loop; a marker variable
 * tells it the setting is cellforge's, and both are removed from its
 * environment at once, so the programs it starts (a cmd: evaluator) see the
 * user's environment unchanged. Where the exec fails (no /proc) the command
 * runs on with libgomp's default. OpenBLAS (Debian's pthread build) needs
 * nothing: the fast backend calls it single-threaded, and its one pool thread
 * sleeps after a short spin at startup. Tests: tests/cli_wait_policy.sh.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cellforge/log.h"
#include "cli.h"

/* The setting: measured with benchmarks/bench_contention.py (README). */
#define WAIT_VAR "GOMP_SPINCOUNT"
#define WAIT_VALUE "3000"
/* Names the variable cellforge set in the process it started again. */
#define WAIT_MARK "CELLFORGE_WAIT_SET"

const char *cli_wait_policy_setting(void) { return WAIT_VAR "=" WAIT_VALUE; }

void cli_wait_policy_apply(char **argv) {
    const char *mark = getenv(WAIT_MARK);
    if (mark) {
        /* started again by the code below (or a marker left by hand): libgomp
         * has read the setting; the environment goes back to the user's */
        if (strcmp(mark, WAIT_VAR) == 0) unsetenv(WAIT_VAR);
        unsetenv(WAIT_MARK);
        return;
    }
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return; /* the user's choice */
    if (setenv(WAIT_VAR, WAIT_VALUE, 1) != 0 || setenv(WAIT_MARK, WAIT_VAR, 1) != 0) return;
    /* by its own path, so the process keeps its name ("cellforge", not "exe")
     * in ps and top; through /proc/self/exe where that path is gone */
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
        execv(self, argv);
    }
    execv("/proc/self/exe", argv);
    /* still here: the exec failed; run on as started */
    unsetenv(WAIT_VAR);
    unsetenv(WAIT_MARK);
    CF_LOG_DEBUG("cannot start again through /proc/self/exe to set %s=%s for OpenMP: waiting threads spin",
                 WAIT_VAR, WAIT_VALUE);
}
