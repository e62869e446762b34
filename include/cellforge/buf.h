/* buf.h - a growable byte buffer: text pages (the HTML report) and binary
 * encodings (the ONNX exporter's protocol buffers) are built in one.
 *
 *   cf_buf b = {0};
 *   cf_buf_puts(&b, "<p>");
 *   cf_buf_printf(&b, "%d trials", n);
 *   if (b.failed) ...                  // out of memory somewhere above
 *   CF_TRY(cf_file_write_atomic(path, b.p));
 *   cf_buf_free(&b);
 *
 * An allocation failure sets `failed` and turns every later append into a
 * no-op, so a writer checks once at the end. Tested by tests/test_core_file.c.
 */
#ifndef CELLFORGE_BUF_H
#define CELLFORGE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cf_buf {
    char *p;       /* (n) bytes and a NUL after them once anything was appended; owned, NULL before */
    size_t n, cap; /* bytes held, bytes allocated */
    int failed;    /* an allocation failed: the contents are incomplete */
} cf_buf;

/* Room for `more` bytes past n (and the NUL): 1, or 0 once failed. */
int cf_buf_reserve(cf_buf *b, size_t more);
void cf_buf_append(cf_buf *b, const void *p, size_t n); /* p borrowed */
void cf_buf_puts(cf_buf *b, const char *s);
void cf_buf_printf(cf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for a wrapper's arguments (ap is consumed, as by vprintf). */
void cf_buf_vprintf(cf_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Frees the bytes and zeroes b (ready for reuse). */
void cf_buf_free(cf_buf *b);

#ifdef __cplusplus
}
#endif
#endif
