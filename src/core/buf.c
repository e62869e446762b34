/* buf.c - the growable byte buffer (see buf.h). Tested by
 * tests/test_core_file.c; the report (tests/cli_report.sh) and the ONNX
 * exporter (tests/test_export_onnx.c) build their output in it.
 */
#include "cellforge/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/grow.h"

int cf_buf_reserve(cf_buf *b, size_t more) {
    if (b->failed) return 0;
    if (more > (size_t)-1 - b->n - 1 || cf_grow((void **)&b->p, &b->cap, b->n + more + 1, 1) != CF_OK) {
        b->failed = 1;
        return 0;
    }
    return 1;
}

void cf_buf_append(cf_buf *b, const void *p, size_t n) {
    if (!cf_buf_reserve(b, n)) return;
    if (n) memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = 0;
}

void cf_buf_puts(cf_buf *b, const char *s) { cf_buf_append(b, s, strlen(s)); }

void cf_buf_vprintf(cf_buf *b, const char *fmt, va_list ap) {
    va_list again;
    va_copy(again, ap);
    char small[512];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n >= 0 && (size_t)n < sizeof small) {
        cf_buf_append(b, small, (size_t)n);
    } else if (n >= 0 && cf_buf_reserve(b, (size_t)n)) {
        /* too long for the stack: print again, straight into the buffer */
        vsnprintf(b->p + b->n, (size_t)n + 1, fmt, again);
        b->n += (size_t)n;
    }
    va_end(again);
}

void cf_buf_printf(cf_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    cf_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void cf_buf_free(cf_buf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}
