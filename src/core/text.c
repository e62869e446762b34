/* text.c - edit distance, closest-name suggestions, counts with suffixes. */
#include "cellforge/text.h"

#include <ctype.h>
#include <errno.h>
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
