/* fuzz_util.h - what the fuzz targets share: quiet logs, the input as a file.
 *
 * Readers of user files take a path, so each target writes its input into a
 * temporary file (made once, rewritten per input) and hands the reader its name. Built only with CF_FUZZ=ON; run by
 * tools/fuzz.sh.
 */
#ifndef CF_FUZZ_UTIL_H
#define CF_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cellforge/log.h"
#include "cellforge/status.h"

/* Errors are the expected outcome for most inputs: keep them off stderr. */
static inline void cf_fuzz_quiet(void) {
    static int done;
    if (done) return;
    done = 1;
    cf_log_set_level(CF_LOG_LEVEL_OFF);
}

/* A temporary file holding data, its name in path (cap >= 64); slot picks
 * one of a few files, for readers that take several. The files are made once
 * per process (a real name: readers that refuse symlinks take it) and removed
 * at exit. */
static char cf_fuzz_names[4][64];
static void cf_fuzz_cleanup(void) {
    for (int i = 0; i < 4; i++)
        if (cf_fuzz_names[i][0]) unlink(cf_fuzz_names[i]);
}
static inline int cf_fuzz_file(int slot, const uint8_t *data, size_t n, char *path, size_t cap) {
    static int fds[4] = {-1, -1, -1, -1};
    if (fds[slot] < 0) {
        const char *dir = getenv("TMPDIR");
        snprintf(cf_fuzz_names[slot], sizeof cf_fuzz_names[slot], "%s/cf_fuzz_%d_XXXXXX",
                 dir && strlen(dir) < 32 ? dir : "/tmp", slot);
        fds[slot] = mkstemp(cf_fuzz_names[slot]);
        if (fds[slot] < 0) abort();
        static int registered;
        if (!registered++) atexit(cf_fuzz_cleanup);
    }
    int fd = fds[slot];
    if (ftruncate(fd, 0) != 0) abort();
    size_t off = 0;
    while (off < n) {
        ssize_t w = pwrite(fd, data + off, n - off, (off_t)off);
        if (w <= 0) abort();
        off += (size_t)w;
    }
    snprintf(path, cap, "%s", cf_fuzz_names[slot]);
    return fd;
}

/* data as a NUL-terminated string (the caller frees it). */
static inline char *cf_fuzz_text(const uint8_t *data, size_t n) {
    char *s = malloc(n + 1);
    if (!s) abort();
    memcpy(s, data, n);
    s[n] = 0;
    return s;
}

#endif
