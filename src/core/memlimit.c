/* memlimit.c - the address-space limit checked before memory is mapped (see
 * memlimit.h). Tested by tests/cli_memlimit.sh.
 */
#include "cellforge/memlimit.h"

#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

static size_t mapped_now(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long pages = 0;
    if (f) {
        if (fscanf(f, "%llu", &pages) != 1) pages = 0;
        fclose(f);
    }
    long page = sysconf(_SC_PAGESIZE);
    return (size_t)pages * (size_t)(page > 0 ? page : 4096);
}

static size_t limit_now(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= SIZE_MAX) return SIZE_MAX;
    return (size_t)rl.rlim_cur;
}

size_t cf_mem_headroom(void) {
    size_t limit = limit_now();
    if (limit == SIZE_MAX) return SIZE_MAX;
    size_t used = mapped_now();
    return used < limit ? limit - used : 0;
}

static double mib(size_t b) { return (double)b / (1024.0 * 1024.0); }

cf_status cf_mem_check(const char *what, size_t bytes) {
    size_t limit = limit_now();
    if (limit == SIZE_MAX) return CF_OK;
    size_t room = cf_mem_headroom();
    if (room >= bytes) return CF_OK;
    CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: %.1f MiB do not fit under the address-space limit (ulimit -v, %.0f MiB): %.1f MiB are free",
            what, mib(bytes), mib(limit), mib(room));
}
