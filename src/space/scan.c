/* scan.c - the column-aware cursor behind every architecture parser. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "scan.h"

void cf_scan_ws(cf_scan *sc) {
    while (*sc->p == ' ' || *sc->p == '\t' || *sc->p == '\n' || *sc->p == '\r') sc->p++;
}

const char *cf_scan_describe(const cf_scan *sc, char *buf, size_t cap) {
    unsigned char c = (unsigned char)*sc->p;
    if (c == 0) snprintf(buf, cap, "end of text");
    else if (isprint(c)) snprintf(buf, cap, "'%c'", c);
    else snprintf(buf, cap, "byte 0x%02x", c);
    return buf;
}

cf_status cf_scan_fail(const cf_scan *sc, int col, const char *fmt, ...) {
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__, "arch: column %d: %s",
                        col > 0 ? col : cf_scan_column(sc), msg);
}

cf_status cf_scan_expect(cf_scan *sc, char c) {
    cf_scan_ws(sc);
    if (*sc->p != c) {
        char got[32];
        return cf_scan_fail(sc, 0, "expected '%c', got %s", c, cf_scan_describe(sc, got, sizeof got));
    }
    sc->p++;
    return CF_OK;
}

int cf_scan_accept(cf_scan *sc, char c) {
    cf_scan_ws(sc);
    if (*sc->p != c) return 0;
    sc->p++;
    return 1;
}

cf_status cf_scan_word(cf_scan *sc, const char *word) {
    cf_scan_ws(sc);
    size_t n = strlen(word);
    if (strncmp(sc->p, word, n) != 0) {
        char got[32];
        return cf_scan_fail(sc, 0, "expected \"%s\", got %s", word,
                            cf_scan_describe(sc, got, sizeof got));
    }
    sc->p += n;
    return CF_OK;
}

/* The characters a space file allows in op names (space_load.c). */
static int name_char(char c) {
    return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

cf_status cf_scan_name(cf_scan *sc, char *buf, size_t cap) {
    cf_scan_ws(sc);
    const char *start = sc->p;
    while (name_char(*sc->p)) sc->p++;
    size_t n = (size_t)(sc->p - start);
    if (n == 0) {
        char got[32];
        return cf_scan_fail(sc, 0, "expected an op name, got %s",
                            cf_scan_describe(sc, got, sizeof got));
    }
    if (n >= cap) {
        int col = (int)(start - sc->text) + 1;
        return cf_scan_fail(sc, col, "name of %zu characters is too long (at most %zu)", n,
                            cap - 1);
    }
    memcpy(buf, start, n);
    buf[n] = 0;
    return CF_OK;
}

cf_status cf_scan_int(cf_scan *sc, int *out) {
    cf_scan_ws(sc);
    if (!isdigit((unsigned char)*sc->p)) {
        char got[32];
        return cf_scan_fail(sc, 0, "expected a number, got %s",
                            cf_scan_describe(sc, got, sizeof got));
    }
    const char *start = sc->p;
    long v = 0;
    while (isdigit((unsigned char)*sc->p)) {
        if (sc->p - start >= 9)
            return cf_scan_fail(sc, (int)(start - sc->text) + 1, "number too large");
        v = v * 10 + (*sc->p - '0');
        sc->p++;
    }
    *out = (int)v;
    return CF_OK;
}

cf_status cf_scan_end(cf_scan *sc) {
    cf_scan_ws(sc);
    if (*sc->p) {
        char got[32];
        return cf_scan_fail(sc, 0, "expected the end, got %s", cf_scan_describe(sc, got, sizeof got));
    }
    return CF_OK;
}
