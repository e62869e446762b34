/* report_buf.c - the report's text (a cf_buf): HTML escaping and number
 * formatting that never prints NaN or inf (a bad value shows as "-").
 * Tests: tests/cli_report.sh (checks the whole page for such strings).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_impl.h"

int rp_finite(double v) { return isfinite(v); }

void rp_buf_free(rp_buf *b) { cf_buf_free(b); }

void rp_printf(rp_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    cf_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void rp_puts(rp_buf *b, const char *s) { cf_buf_puts(b, s); }

void rp_esc(rp_buf *b, const char *s) {
    if (!s) return;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&': rp_puts(b, "&amp;"); break;
        case '<': rp_puts(b, "&lt;"); break;
        case '>': rp_puts(b, "&gt;"); break;
        case '"': rp_puts(b, "&quot;"); break;
        case '\'': rp_puts(b, "&#39;"); break;
        default:
            if (c < 0x20 && c != '\n' && c != '\t') {
                rp_puts(b, " "); /* control characters are not allowed in HTML or SVG */
            } else {
                char ch = (char)c;
                cf_buf_append(b, &ch, 1);
            }
        }
    }
}

void rp_num(rp_buf *b, double v, int digits) {
    if (!isfinite(v)) {
        rp_puts(b, "-");
        return;
    }
    rp_printf(b, "%.*f", digits, v);
}

void rp_xy(rp_buf *b, double v) {
    if (!isfinite(v) || fabs(v) > 1e7) v = 0;
    double r = round(v * 10) / 10;
    if (r == 0) r = 0; /* no "-0" */
    if (r == floor(r)) rp_printf(b, "%.0f", r);
    else rp_printf(b, "%.1f", r);
}

char *rp_fmt_si(double v, char *buf, size_t cap) {
    if (!isfinite(v)) {
        snprintf(buf, cap, "-");
        return buf;
    }
    static const struct { double div; const char *suffix; } units[] = {
        {1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}};
    double a = fabs(v);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (a >= units[i].div * 0.9995) {
            double x = v / units[i].div;
            /* three significant digits, trailing zeros dropped */
            int digits = fabs(x) >= 100 ? 0 : fabs(x) >= 10 ? 1 : 2;
            snprintf(buf, cap, "%.*f", digits, x);
            char *dot = strchr(buf, '.');
            if (dot) {
                char *e = buf + strlen(buf) - 1;
                while (e > dot && *e == '0') *e-- = 0;
                if (e == dot) *e = 0;
            }
            snprintf(buf + strlen(buf), cap - strlen(buf), "%s", units[i].suffix);
            return buf;
        }
    }
    if (a >= 1 || a == 0) snprintf(buf, cap, "%.0f", v);
    else snprintf(buf, cap, "%.3g", v);
    return buf;
}

char *rp_fmt_pct(double frac, int digits, char *buf, size_t cap) {
    if (!isfinite(frac) || frac < 0) snprintf(buf, cap, "-");
    else snprintf(buf, cap, "%.*f%%", digits, 100 * frac);
    return buf;
}

char *rp_fmt_duration(double s, char *buf, size_t cap) {
    if (!isfinite(s) || s < 0) {
        snprintf(buf, cap, "-");
    } else if (s < 100) {
        snprintf(buf, cap, "%.1f s", s);
    } else if (s < 3600) {
        long t = (long)(s + 0.5);
        snprintf(buf, cap, "%ld min %ld s", t / 60, t % 60);
    } else {
        long t = (long)(s / 60 + 0.5);
        snprintf(buf, cap, "%ld h %ld min", t / 60, t % 60);
    }
    return buf;
}
