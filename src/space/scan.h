/* scan.h - a cursor over architecture text that knows its column (private to src/space).
 *
 * Every failure records "arch: column N: expected X, got Y" (CF_ERR_PARSE)
 * with N 1-based, so a user pasting a string from a paper sees which
 * character broke it.
 */
#ifndef CF_SPACE_SCAN_H
#define CF_SPACE_SCAN_H

#include <stddef.h>

#include "cellforge/status.h"

typedef struct cf_scan {
    const char *text; /* whole string, borrowed */
    const char *p;    /* next character */
} cf_scan;

static inline int cf_scan_column(const cf_scan *sc) { return (int)(sc->p - sc->text) + 1; }

/* Skip spaces, tabs and newlines. */
void cf_scan_ws(cf_scan *sc);
/* Consume c (after optional whitespace when skip_ws) or fail. */
cf_status cf_scan_expect(cf_scan *sc, char c);
/* Consume c if it is next (after whitespace); returns 1 if it was. */
int cf_scan_accept(cf_scan *sc, char c);
/* Consume a literal word such as "Genotype" or fail. */
cf_status cf_scan_word(cf_scan *sc, const char *word);
/* A name of letters, digits, '_' and '-' (at least one) into buf. */
cf_status cf_scan_name(cf_scan *sc, char *buf, size_t cap);
/* A non-negative decimal integer (at most 9 digits). */
cf_status cf_scan_int(cf_scan *sc, int *out);
/* Fail unless only whitespace remains. */
cf_status cf_scan_end(cf_scan *sc);
/* Record "arch: column N: <message>" and return CF_ERR_PARSE; col 0 = current. */
cf_status cf_scan_fail(const cf_scan *sc, int col, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Describe the next character for messages: "'x'", "end of text". */
const char *cf_scan_describe(const cf_scan *sc, char *buf, size_t cap);

#endif
