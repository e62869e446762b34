/* spec.h - search specs as JSON files: a flat object of settings.
 *
 * A spec names settings by their command-line flag (without dashes); values
 * are strings, numbers or booleans, and a repeatable flag takes an array:
 *
 *   {"format": 1, "space": "nb201", "set": ["C=8", "N=1"], "trials": 50,
 *    "strategy": "evolution", "max-macs": "5M"}
 *
 * Every flag overrides the file. `cellforge search --print-spec` shows the
 * resolved spec, and a run directory keeps it as spec.json.
 *
 *   static const cf_spec_key keys[] = {{"space", {CF_VALUE_TEXT}},
 *                                      {"trials", {CF_VALUE_COUNT, 1, 1e9}}};
 *   cf_spec *sp = NULL;
 *   CF_TRY(cf_spec_load("spec.json", keys, 2, 1, &sp));
 *   const cf_spec_value *v = cf_spec_get(sp, "trials");   // NULL when absent
 *   cf_spec_destroy(sp);
 */
#ifndef CELLFORGE_SPEC_H
#define CELLFORGE_SPEC_H

#include <stddef.h>

#include "cellforge/status.h"
#include "cellforge/text.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CF_SPEC_MAX_VALUES 32
/* A spec file larger than this is refused (it is a few settings). */
#define CF_SPEC_MAX_BYTES (1u << 20)

typedef struct cf_spec_value {
    char name[48];
    int count;                           /* 1, or the array's length */
    char *values[CF_SPEC_MAX_VALUES];    /* as text: 50 -> "50", true -> "true"; owned */
} cf_spec_value;

typedef struct cf_spec {
    int format;                          /* "format", 0 when absent */
    char version[32];                    /* "cellforge": the version that wrote it, or "" */
    cf_spec_value *items;                /* (n) owned */
    int n;
} cf_spec;

/* A key a spec may hold, and what its values must be (every array item is
 * checked; CF_VALUE_TEXT: anything). */
typedef struct cf_spec_key {
    const char *name;
    cf_value_range range;
} cf_spec_key;

/* Read a spec file. Keys must be among known (plus "format" and "cellforge");
 * an unknown key, a nested object, a format newer than max_format, a value
 * outside its key's range (cf_text_parse_value's message, after the file and
 * the JSON path) or a syntax error fails with CF_ERR_PARSE naming the file and
 * the JSON path (and the closest known key). The caller frees *out with
 * cf_spec_destroy. */
cf_status cf_spec_load(const char *path, const cf_spec_key *known, size_t n_known, int max_format,
                       cf_spec **out);
const cf_spec_value *cf_spec_get(const cf_spec *s, const char *name);
void cf_spec_destroy(cf_spec *s); /* NULL is accepted */

#ifdef __cplusplus
}
#endif
#endif
