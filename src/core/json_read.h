/* json_read.h - a typed reader over cJSON that tracks the JSON path.
 *
 * The file readers (search spaces, search specs) walk a cJSON tree through
 * these calls, which check each value's type and range and, on a mismatch,
 * fail with CF_ERR_PARSE and one line that names the origin (the file), the
 * JSON path and what was expected:
 *
 *   nb201.json: $.cell.ops[2].kernel: expected an integer, got "3"
 *   nb201.json: $.skeleton: unknown key "chanels" (did you mean "channels"?)
 *   nb201.json:3:14: invalid JSON near "]," (expected a value)
 *
 *   cJSON *root = NULL;
 *   CF_TRY(cf_json_parse(text, "nb201.json", &root));
 *   cf_json_reader r;
 *   cf_json_reader_init(&r, "nb201.json");                 // path "$"
 *   int nodes = 4;                                          // the default stays if absent
 *   cf_status st = cf_json_get_int(&r, root, "nodes", CF_JSON_OPTIONAL, 2, 12, &nodes);
 *   cJSON_Delete(root);
 *
 * Ownership: the reader borrows `origin` and owns nothing else; every cJSON
 * pointer handed out is borrowed from the tree the caller parsed and frees.
 * cJSON stays inside src/: no public header includes it, which is why this
 * header, shared by spec, space, journal, report and train, lives here and
 * not in include/cellforge/ (modules include it as "core/json_read.h").
 *
 * Getters named cf_json_get_* read the member `key` of an object, with the
 * path extended by ".key" for the check and restored afterwards. An absent
 * optional member leaves *out untouched (preset the default) and returns
 * CF_OK; a caller that needs to know whether it was there tests cf_json_has
 * first. Getters named
 * cf_json_as_* check a value already at the reader's current path (an array
 * element after cf_json_enter_index, for instance).
 */
#ifndef CF_CORE_JSON_READ_H
#define CF_CORE_JSON_READ_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "cellforge/status.h"

#define CF_JSON_PATH_MAX 256

typedef struct cf_json_reader {
    const char *origin;          /* names the text in messages; borrowed */
    char path[CF_JSON_PATH_MAX]; /* "$", "$.cell.ops[2]", ... */
    size_t len;                  /* strlen(path) */
} cf_json_reader;

typedef enum cf_json_need {
    CF_JSON_OPTIONAL = 0,
    CF_JSON_REQUIRED = 1,
} cf_json_need;

/* Parse text into a tree the caller frees with cJSON_Delete. A syntax error
 * fails with CF_ERR_PARSE as "ORIGIN:LINE:COLUMN: invalid JSON near ...". */
cf_status cf_json_parse(const char *text, const char *origin, cJSON **out);

/* Start at path "$". origin NULL reads as "<text>". */
void cf_json_reader_init(cf_json_reader *r, const char *origin);

/* Extend the path by ".key" (or ["key"] for keys that are not plain names) or
 * by "[index]"; both return a mark for cf_json_leave, which restores it. */
size_t cf_json_enter_key(cf_json_reader *r, const char *key);
size_t cf_json_enter_index(cf_json_reader *r, int index);
void cf_json_leave(cf_json_reader *r, size_t mark);

/* Fail with `status` and "ORIGIN: PATH: message"; returns `status`. */
cf_status cf_json_fail(const cf_json_reader *r, cf_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Describe a value for messages: "3.5", "\"3\"", "true", "null", "an array",
 * "an object". Writes at most cap bytes; returns buf. */
const char *cf_json_describe(const cJSON *v, char *buf, size_t cap);

/* The member `key` of obj, or NULL (no error). */
const cJSON *cf_json_has(const cJSON *obj, const char *key);

/* Check the value at the current path. */
cf_status cf_json_as_object(const cf_json_reader *r, const cJSON *v);
cf_status cf_json_as_array(const cf_json_reader *r, const cJSON *v, int min_items, int max_items);
/* A string of at most cap-1 bytes (min_len bytes at least), copied into buf. */
cf_status cf_json_as_string(const cf_json_reader *r, const cJSON *v, size_t min_len, char *buf,
                            size_t cap);
/* A whole number (3 or 3.0; not 3.5, not "3") in min..max. */
cf_status cf_json_as_int(const cf_json_reader *r, const cJSON *v, int min, int max, int *out);
/* Any finite number in min..max. */
cf_status cf_json_as_number(const cf_json_reader *r, const cJSON *v, double min, double max,
                            double *out);
/* true or false, as 1 or 0. */
cf_status cf_json_as_bool(const cf_json_reader *r, const cJSON *v, int *out);

/* The member `key` of obj. Required and absent: "PATH: missing required key
 * "key"". Optional and absent: CF_OK, with *out untouched by get_member and
 * the value getters, set to NULL by get_object and get_array. */
cf_status cf_json_get_member(cf_json_reader *r, const cJSON *obj, const char *key, cf_json_need need,
                             const cJSON **out);
cf_status cf_json_get_object(cf_json_reader *r, const cJSON *obj, const char *key, cf_json_need need,
                             const cJSON **out);
cf_status cf_json_get_array(cf_json_reader *r, const cJSON *obj, const char *key, cf_json_need need,
                            int min_items, int max_items, const cJSON **out);
cf_status cf_json_get_string(cf_json_reader *r, const cJSON *obj, const char *key, cf_json_need need,
                             size_t min_len, char *buf, size_t cap);
cf_status cf_json_get_int(cf_json_reader *r, const cJSON *obj, const char *key, cf_json_need need,
                          int min, int max, int *out);
cf_status cf_json_get_number(cf_json_reader *r, const cJSON *obj, const char *key, cf_json_need need,
                             double min, double max, double *out);
cf_status cf_json_get_bool(cf_json_reader *r, const cJSON *obj, const char *key, cf_json_need need,
                           int *out);

/* Check that every key of the object at the current path is in `allowed` and
 * appears once: "PATH: unknown key "chanels" (did you mean "channels"?)". */
cf_status cf_json_check_keys(const cf_json_reader *r, const cJSON *obj, const char *const *allowed,
                             size_t n_allowed);

/* The name among `names` equal to the string at the current path, as an
 * index: "PATH: unknown family "nb210" (did you mean "nb201"?); expected one
 * of nb201, darts, ...". `what` names the kind of thing. */
cf_status cf_json_as_choice(const cf_json_reader *r, const cJSON *v, const char *what,
                            const char *const *names, size_t n_names, int *out);

#endif
