/* text.c - edit distance, closest-name suggestions, counts with suffixes. */
#include "cellforge/text.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t cf_text_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 255 || lb > 255) return la > lb ? la : lb;
    size_t row[256];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
            size_t best = diag + cost;
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *cf_text_closest(const char *name, const char *const *candidates, size_t count) {
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < count; i++) {
        size_t d = cf_text_distance(name, candidates[i]);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    if (!best) return NULL;
    size_t longer = strlen(name) > strlen(best) ? strlen(name) : strlen(best);
    if (best_d > 2 && best_d * 3 > longer) return NULL;
    return best;
}

cf_status cf_text_parse_count(const char *s, const char *what, uint64_t *out) {
    if (!s || !*s) CF_FAIL(CF_ERR_PARSE, "%s: empty value, expected a count such as 500, 20K or 5M", what);
    errno = 0;
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || errno != 0 || v < 0)
        CF_FAIL(CF_ERR_PARSE, "%s: '%s' is not a count (expected e.g. 500, 20K, 5M, 1.5G)", what, s);
    double mult = 1;
    if (*end) {
        switch (toupper((unsigned char)*end)) {
        case 'K': mult = 1e3; break;
        case 'M': mult = 1e6; break;
        case 'G': mult = 1e9; break;
        default:
            CF_FAIL(CF_ERR_PARSE, "%s: '%s' has an unknown suffix '%s' (expected K, M or G)", what, s, end);
        }
        if (end[1])
            CF_FAIL(CF_ERR_PARSE, "%s: '%s' has trailing characters after the suffix", what, s);
    }
    double total = v * mult;
    if (total > 1.8e19) CF_FAIL(CF_ERR_PARSE, "%s: '%s' is too large", what, s);
    *out = (uint64_t)(total + 0.5);
    return CF_OK;
}

/* ---- counts, durations and numbers within a range ------------------------------ */

/* "90s", "10m", "2h": the largest unit that divides the seconds. */
static void format_duration(double s, char *buf, size_t cap) {
    if (s >= 3600 && s == 3600 * (double)(long long)(s / 3600)) snprintf(buf, cap, "%.15gh", s / 3600);
    else if (s >= 60 && s == 60 * (double)(long long)(s / 60)) snprintf(buf, cap, "%.15gm", s / 60);
    else snprintf(buf, cap, "%.15gs", s);
}

/* 65536, 20K, 1G: a suffix where the count is a whole number of them. */
static void format_count(double v, char *buf, size_t cap) {
    if (v >= 1e9 && v == 1e9 * (double)(long long)(v / 1e9)) snprintf(buf, cap, "%.15gG", v / 1e9);
    else if (v >= 1e6 && v == 1e6 * (double)(long long)(v / 1e6)) snprintf(buf, cap, "%.15gM", v / 1e6);
    else snprintf(buf, cap, "%.17g", v);
}

const char *cf_value_range_text(const cf_value_range *r, char *buf, size_t cap) {
    char lo[48], hi[48];
    switch (r->kind) {
    case CF_VALUE_COUNT:
        format_count(r->min, lo, sizeof lo);
        format_count(r->max, hi, sizeof hi);
        break;
    case CF_VALUE_DURATION:
        format_duration(r->min, lo, sizeof lo);
        format_duration(r->max, hi, sizeof hi);
        break;
    case CF_VALUE_NUMBER:
        snprintf(lo, sizeof lo, "%.15g", r->min);
        snprintf(hi, sizeof hi, "%.15g", r->max);
        break;
    default:
        snprintf(buf, cap, "any");
        return buf;
    }
    snprintf(buf, cap, "[%s, %s]", lo, hi);
    return buf;
}

const char *cf_value_range_describe(const cf_value_range *r, char *buf, size_t cap) {
    char range[100];
    cf_value_range_text(r, range, sizeof range);
    switch (r->kind) {
    case CF_VALUE_COUNT:
        snprintf(buf, cap, "a whole number in %s (K/M/G suffixes allowed)", range);
        break;
    case CF_VALUE_DURATION:
        snprintf(buf, cap, "a duration in %s (e.g. 90s, 10m, 2h)", range);
        break;
    case CF_VALUE_NUMBER:
        snprintf(buf, cap, "a number in %s", range);
        break;
    default:
        snprintf(buf, cap, "text");
    }
    return buf;
}

/* The number at the start of s as strtod reads it, but only in plain decimal
 * notation: no hex, inf or nan, and a sign only where negative values may be. */
static int leading_number(const char *s, int allow_sign, double *v, const char **end) {
    const char *p = s;
    if (allow_sign && (*p == '-' || *p == '+')) p++;
    if (!isdigit((unsigned char)*p) && !(*p == '.' && isdigit((unsigned char)p[1]))) return 0;
    char *e = NULL;
    *v = strtod(s, &e);
    for (const char *c = s; c < e; c++)
        if (!strchr("0123456789.eE+-", *c)) return 0;
    *end = e;
    return 1; /* out of double's range (ERANGE) comes back as inf or 0: the range check decides */
}

cf_status cf_text_parse_value(const char *s, const cf_value_range *r, const char *what, double *out) {
    char expect[160];
    cf_value_range_describe(r, expect, sizeof expect);
    static const char *const noun[] = {"text", "a count", "a duration", "a number"};
    const char *kind = noun[r->kind <= CF_VALUE_NUMBER ? r->kind : 0];
    double v = 0, unit = 1;
    const char *end = NULL;
    if (!s || !leading_number(s, r->kind == CF_VALUE_NUMBER, &v, &end))
        CF_FAIL(CF_ERR_PARSE, "%s: '%s' is not %s; expected %s", what, s ? s : "", kind, expect);
    if (r->kind == CF_VALUE_COUNT && *end) {
        const char *units = "KMG";
        const char *u = strchr(units, toupper((unsigned char)*end));
        unit = u ? (u == units ? 1e3 : u == units + 1 ? 1e6 : 1e9) : 0;
        end++;
    } else if (r->kind == CF_VALUE_DURATION && *end) {
        unit = *end == 's' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600 : 0;
        end++;
    }
    if (unit == 0 || *end)
        CF_FAIL(CF_ERR_PARSE, "%s: '%s' is not %s; expected %s", what, s, kind, expect);
    v *= unit;
    if (r->kind == CF_VALUE_COUNT && v <= CF_VALUE_COUNT_MAX && v != (double)(long long)v)
        CF_FAIL(CF_ERR_PARSE, "%s: '%s' is not a whole number; expected %s", what, s, expect);
    if (!(v >= r->min && v <= r->max))
        CF_FAIL(CF_ERR_PARSE, "%s: '%s' is out of range; expected %s", what, s, expect);
    *out = v;
    return CF_OK;
}

const char *cf_text_exact(double v, char *buf, size_t cap) {
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, cap, "%.*g", digits, v);
        if (strtod(buf, NULL) == v) break;
    }
    return buf;
}
