/* text.h - small string helpers shared by the parsers and the CLI. */
#ifndef CELLFORGE_TEXT_H
#define CELLFORGE_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "cellforge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Edit distance (insert, delete, substitute; case-insensitive). */
size_t cf_text_distance(const char *a, const char *b);

/* The candidate closest to `name`, or NULL if none is plausibly meant
 * (distance more than a third of the longer length, and more than 2). */
const char *cf_text_closest(const char *name, const char *const *candidates, size_t count);

/* Parse a count with an optional K/M/G suffix (powers of 1000): "5M" -> 5000000.
 * `what` names the value in the error message. */
cf_status cf_text_parse_count(const char *s, const char *what, uint64_t *out);

#ifdef __cplusplus
}
#endif
#endif
