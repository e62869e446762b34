/* text.h - small string helpers shared by the parsers and the CLI. */
#ifndef CELLFORGE_TEXT_H
#define CELLFORGE_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "cellforge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* v as the shortest of 15..17 significant digits that reads back as the same
 * double ("0.1" for 0.1, all 17 where they are needed), into buf (at least 32
 * bytes); returns buf. v must be finite. Files that a run reads back to
 * compare or continue (checkpoints, the ranks' messages, exports) write their
 * numbers this way. */
const char *cf_text_exact(double v, char *buf, size_t cap);

/* Edit distance (insert, delete, substitute; case-insensitive). */
size_t cf_text_distance(const char *a, const char *b);

/* The candidate closest to `name`, or NULL if none is plausibly meant
 * (distance more than a third of the longer length, and more than 2). */
const char *cf_text_closest(const char *name, const char *const *candidates, size_t count);

/* Parse a count with an optional K/M/G suffix (powers of 1000): "5M" -> 5000000.
 * `what` names the value in the error message. */
cf_status cf_text_parse_count(const char *s, const char *what, uint64_t *out);

/* What a numeric setting holds, and the inclusive range it must fall in: the
 * one parser of counts, durations and numbers that flags and spec files share,
 * so both refuse the same values with the same message. */
typedef enum cf_value_kind {
    CF_VALUE_TEXT = 0,  /* not a number: not checked here */
    CF_VALUE_COUNT,     /* a whole number, K/M/G suffixes (powers of 1000): 500, 20K, 1.5G */
    CF_VALUE_DURATION,  /* seconds, or with a suffix s/m/h: 90, 90s, 10m, 2h */
    CF_VALUE_NUMBER,    /* a decimal number: 0.1, 1e-3 */
} cf_value_kind;

/* Counts stay at or below 2^53 - 1, the whole numbers a double (and so a JSON
 * number) holds exactly. */
#define CF_VALUE_COUNT_MAX 9007199254740991.0

typedef struct cf_value_range {
    cf_value_kind kind;
    double min, max;    /* inclusive; a duration's in seconds */
} cf_value_range;

/* Parse s as r->kind within [r->min, r->max] into *out (a count comes back as a
 * whole number, a duration in seconds). On failure CF_ERR_PARSE with
 * "<what>: '<s>' is not a count; expected a whole number in [1, 65536]
 * (K/M/G suffixes allowed)", or "... is out of range; expected ...": `what`
 * names where the value came from ("--batch", "spec.json: $.batch"). */
cf_status cf_text_parse_value(const char *s, const cf_value_range *r, const char *what, double *out);

/* The bounds alone: "[1, 65536]", "[1s, 8760h]", "[0.001, 1]", "[1, 1G]". */
const char *cf_value_range_text(const cf_value_range *r, char *buf, size_t cap);
/* The range as text: "a whole number in [1, 65536] (K/M/G suffixes allowed)". */
const char *cf_value_range_describe(const cf_value_range *r, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
