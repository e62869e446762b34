/* json_read.c - the typed, path-tracking reader over cJSON (see json_read.h).
 * Tests: tests/test_space_load.c (through the space files and bad texts). */
#include "json_read.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cellforge/text.h"

/* ---- parsing ----------------------------------------------------------------- */

cf_status cf_json_parse(const char *text, const char *origin, cJSON **out) {
    if (!origin) origin = "<text>";
    if (!out) CF_FAIL(CF_ERR_INVALID_ARG, "cf_json_parse: out is NULL");
    *out = NULL;
    if (!text) CF_FAIL(CF_ERR_INVALID_ARG, "%s: no JSON text", origin);
    const char *p = text;
    while (*p && isspace((unsigned char)*p)) p++;
    if (!*p) CF_FAIL(CF_ERR_PARSE, "%s: empty file, expected a JSON object", origin);

    /* The end pointer, not cJSON_GetErrorPtr: the latter is one global shared
     * by every thread. */
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
    if (root) {
        *out = root;
        return CF_OK;
    }
    if (!end) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: cannot parse: out of memory", origin);
    int line = 1, col = 1;
    for (const char *c = text; c < end && *c; c++) {
        if (*c == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    if (!*end)
        CF_FAIL(CF_ERR_PARSE, "%s:%d:%d: invalid JSON: the text ends early (an unclosed string, [ or {?)",
                origin, line, col);
    char near[24];
    size_t n = 0;
    while (end[n] && end[n] != '\n' && end[n] != '\r' && n < 16) {
        near[n] = end[n];
        n++;
    }
    near[n] = '\0';
    CF_FAIL(CF_ERR_PARSE, "%s:%d:%d: invalid JSON near '%s'", origin, line, col, near);
}

/* ---- the path ---------------------------------------------------------------- */

void cf_json_reader_init(cf_json_reader *r, const char *origin) {
    r->origin = origin ? origin : "<text>";
    snprintf(r->path, sizeof r->path, "$");
    r->len = 1;
}

static void path_append(cf_json_reader *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void path_append(cf_json_reader *r, const char *fmt, ...) {
    if (r->len >= sizeof r->path - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->path + r->len, sizeof r->path - r->len, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    r->len += (size_t)n;
    if (r->len >= sizeof r->path) r->len = sizeof r->path - 1; /* truncated: still a string */
}

static int plain_key(const char *key) {
    if (!*key || isdigit((unsigned char)*key)) return 0;
    for (const char *c = key; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_') return 0;
    return 1;
}

size_t cf_json_enter_key(cf_json_reader *r, const char *key) {
    size_t mark = r->len;
    if (plain_key(key)) {
        path_append(r, ".%s", key);
    } else {
        path_append(r, "[\"%s\"]", key);
    }
    return mark;
}

size_t cf_json_enter_index(cf_json_reader *r, int index) {
    size_t mark = r->len;
    path_append(r, "[%d]", index);
    return mark;
}

void cf_json_leave(cf_json_reader *r, size_t mark) {
    if (mark < sizeof r->path) {
        r->len = mark;
        r->path[mark] = '\0';
    }
}

cf_status cf_json_fail(const cf_json_reader *r, cf_status status, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cf_error_set(status, __FILE__, __LINE__, "%s: %s: %s", r->origin, r->path, msg);
}

/* ---- describing values -------------------------------------------------------- */

const char *cf_json_describe(const cJSON *v, char *buf, size_t cap) {
    if (!cap) return buf;
    if (!v) {
        snprintf(buf, cap, "nothing");
    } else if (cJSON_IsString(v)) {
        /* Quoted, shortened, control characters shown as '?'. */
        const char *s = v->valuestring ? v->valuestring : "";
        size_t n = 0;
        if (n + 1 < cap) buf[n++] = '"';
        for (size_t i = 0; s[i] && n + 5 < cap; i++) {
            if (i == 40) {
                buf[n++] = '.';
                buf[n++] = '.';
                buf[n++] = '.';
                break;
            }
            buf[n++] = iscntrl((unsigned char)s[i]) ? '?' : s[i];
        }
        if (n + 1 < cap) buf[n++] = '"';
        buf[n] = '\0';
    } else if (cJSON_IsNumber(v)) {
        snprintf(buf, cap, "%.15g", v->valuedouble);
    } else if (cJSON_IsTrue(v)) {
        snprintf(buf, cap, "true");
    } else if (cJSON_IsFalse(v)) {
        snprintf(buf, cap, "false");
    } else if (cJSON_IsNull(v)) {
        snprintf(buf, cap, "null");
    } else if (cJSON_IsArray(v)) {
        snprintf(buf, cap, "an array");
    } else if (cJSON_IsObject(v)) {
        snprintf(buf, cap, "an object");
    } else {
        snprintf(buf, cap, "an unknown value");
    }
    return buf;
}

/* ---- values at the current path ------------------------------------------------- */

const cJSON *cf_json_has(const cJSON *obj, const char *key) {
    if (!cJSON_IsObject(obj)) return NULL;
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

cf_status cf_json_as_object(const cf_json_reader *r, const cJSON *v) {
    char got[64];
    if (!cJSON_IsObject(v))
        return cf_json_fail(r, CF_ERR_PARSE, "expected an object, got %s", cf_json_describe(v, got, sizeof got));
    return CF_OK;
}

cf_status cf_json_as_array(const cf_json_reader *r, const cJSON *v, int min_items, int max_items) {
    char got[64];
    if (!cJSON_IsArray(v))
        return cf_json_fail(r, CF_ERR_PARSE, "expected an array, got %s", cf_json_describe(v, got, sizeof got));
    int n = cJSON_GetArraySize(v);
    if (n < min_items || n > max_items) {
        if (min_items == max_items)
            return cf_json_fail(r, CF_ERR_PARSE, "expected an array of %d items, got %d", min_items, n);
        if (n < min_items)
            return cf_json_fail(r, CF_ERR_PARSE, "expected an array of at least %d item%s, got %d", min_items,
                                min_items == 1 ? "" : "s", n);
        return cf_json_fail(r, CF_ERR_PARSE, "expected an array of at most %d items, got %d (the limit)",
                            max_items, n);
    }
    return CF_OK;
}

cf_status cf_json_as_string(const cf_json_reader *r, const cJSON *v, size_t min_len, char *buf, size_t cap) {
    char got[64];
    if (!cJSON_IsString(v) || !v->valuestring)
        return cf_json_fail(r, CF_ERR_PARSE, "expected a string, got %s", cf_json_describe(v, got, sizeof got));
    size_t n = strlen(v->valuestring);
    if (n < min_len) {
        if (min_len == 1) return cf_json_fail(r, CF_ERR_PARSE, "expected a non-empty string");
        return cf_json_fail(r, CF_ERR_PARSE, "expected a string of at least %zu characters", min_len);
    }
    if (n >= cap)
        return cf_json_fail(r, CF_ERR_PARSE, "string of %zu bytes is too long (at most %zu)", n, cap - 1);
    memcpy(buf, v->valuestring, n + 1);
    return CF_OK;
}

cf_status cf_json_as_int(const cf_json_reader *r, const cJSON *v, int min, int max, int *out) {
    char got[64];
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || floor(v->valuedouble) != v->valuedouble)
        return cf_json_fail(r, CF_ERR_PARSE, "expected an integer, got %s", cf_json_describe(v, got, sizeof got));
    double d = v->valuedouble;
    if (d < (double)min || d > (double)max) {
        cf_json_describe(v, got, sizeof got);
        if (max == INT_MAX) return cf_json_fail(r, CF_ERR_PARSE, "expected an integer >= %d, got %s", min, got);
        if (min == max) return cf_json_fail(r, CF_ERR_PARSE, "expected %d, got %s", min, got);
        return cf_json_fail(r, CF_ERR_PARSE, "expected an integer in %d..%d, got %s", min, max, got);
    }
    *out = (int)d;
    return CF_OK;
}

cf_status cf_json_as_number(const cf_json_reader *r, const cJSON *v, double min, double max, double *out) {
    char got[64];
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return cf_json_fail(r, CF_ERR_PARSE, "expected a number, got %s", cf_json_describe(v, got, sizeof got));
    double d = v->valuedouble;
    if (d < min || d > max) {
        cf_json_describe(v, got, sizeof got);
        if (isinf(max)) return cf_json_fail(r, CF_ERR_PARSE, "expected a number >= %g, got %s", min, got);
        if (isinf(min)) return cf_json_fail(r, CF_ERR_PARSE, "expected a number <= %g, got %s", max, got);
        return cf_json_fail(r, CF_ERR_PARSE, "expected a number in %g..%g, got %s", min, max, got);
    }
    *out = d;
    return CF_OK;
}

cf_status cf_json_as_bool(const cf_json_reader *r, const cJSON *v, int *out) {
    char got[64];
    if (!cJSON_IsBool(v))
        return cf_json_fail(r, CF_ERR_PARSE, "expected true or false, got %s", cf_json_describe(v, got, sizeof got));
    *out = cJSON_IsTrue(v) ? 1 : 0;
    return CF_OK;
}

static void join_names(char *buf, size_t cap, const char *const *names, size_t n) {
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && len < cap; i++) {
        int w = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", names[i]);
        if (w < 0) break;
        len += (size_t)w;
    }
}

cf_status cf_json_as_choice(const cf_json_reader *r, const cJSON *v, const char *what, const char *const *names,
                            size_t n_names, int *out) {
    char got[64];
    if (!cJSON_IsString(v) || !v->valuestring)
        return cf_json_fail(r, CF_ERR_PARSE, "expected a %s name (a string), got %s", what,
                            cf_json_describe(v, got, sizeof got));
    for (size_t i = 0; i < n_names; i++) {
        if (strcmp(v->valuestring, names[i]) == 0) {
            *out = (int)i;
            return CF_OK;
        }
    }
    char known[384];
    join_names(known, sizeof known, names, n_names);
    cf_json_describe(v, got, sizeof got);
    const char *near = cf_text_closest(v->valuestring, names, n_names);
    if (near)
        return cf_json_fail(r, CF_ERR_PARSE, "unknown %s %s (did you mean \"%s\"?); expected one of %s", what, got,
                            near, known);
    return cf_json_fail(r, CF_ERR_PARSE, "unknown %s %s; expected one of %s", what, got, known);
}

/* ---- members of an object --------------------------------------------------------- */

cf_status cf_json_get_member(cf_json_reader *r, const cJSON *obj, const char *key, cf_json_need need,
                             const cJSON **out) {
    const cJSON *v = cf_json_has(obj, key);
    if (!v) {
        if (need == CF_JSON_REQUIRED) return cf_json_fail(r, CF_ERR_PARSE, "missing required key \"%s\"", key);
        return CF_OK;
    }
    *out = v;
    return CF_OK;
}

/* Look up key; on a present member run `check` with the path extended. */
#define GET_WITH(r, obj, key, need, check)                        \
    do {                                                          \
        const cJSON *v_ = NULL;                                   \
        CF_TRY(cf_json_get_member((r), (obj), (key), (need), &v_)); \
        if (!v_) return CF_OK;                                    \
        size_t mark_ = cf_json_enter_key((r), (key));             \
        cf_status s_ = (check);                                   \
        cf_json_leave((r), mark_);                                \
        return s_;                                                \
    } while (0)

cf_status cf_json_get_object(cf_json_reader *r, const cJSON *obj, const char *key, cf_json_need need,
                             const cJSON **out) {
    *out = NULL;
    const cJSON *v = NULL;
    CF_TRY(cf_json_get_member(r, obj, key, need, &v));
    if (!v) return CF_OK;
    size_t mark = cf_json_enter_key(r, key);
    cf_status s = cf_json_as_object(r, v);
    cf_json_leave(r, mark);
    if (s == CF_OK) *out = v;
    return s;
}

cf_status cf_json_get_array(cf_json_reader *r, const cJSON *obj, const char *key, cf_json_need need,
                            int min_items, int max_items, const cJSON **out) {
    *out = NULL;
    const cJSON *v = NULL;
    CF_TRY(cf_json_get_member(r, obj, key, need, &v));
    if (!v) return CF_OK;
    size_t mark = cf_json_enter_key(r, key);
    cf_status s = cf_json_as_array(r, v, min_items, max_items);
    cf_json_leave(r, mark);
    if (s == CF_OK) *out = v;
    return s;
}

cf_status cf_json_get_string(cf_json_reader *r, const cJSON *obj, const char *key, cf_json_need need,
                             size_t min_len, char *buf, size_t cap) {
    GET_WITH(r, obj, key, need, cf_json_as_string(r, v_, min_len, buf, cap));
}

cf_status cf_json_get_int(cf_json_reader *r, const cJSON *obj, const char *key, cf_json_need need, int min,
                          int max, int *out) {
    GET_WITH(r, obj, key, need, cf_json_as_int(r, v_, min, max, out));
}

cf_status cf_json_get_number(cf_json_reader *r, const cJSON *obj, const char *key, cf_json_need need,
                             double min, double max, double *out) {
    GET_WITH(r, obj, key, need, cf_json_as_number(r, v_, min, max, out));
}

cf_status cf_json_get_bool(cf_json_reader *r, const cJSON *obj, const char *key, cf_json_need need, int *out) {
    GET_WITH(r, obj, key, need, cf_json_as_bool(r, v_, out));
}

cf_status cf_json_check_keys(const cf_json_reader *r, const cJSON *obj, const char *const *allowed,
                             size_t n_allowed) {
    for (const cJSON *c = obj ? obj->child : NULL; c; c = c->next) {
        const char *key = c->string ? c->string : "";
        size_t i = 0;
        while (i < n_allowed && strcmp(key, allowed[i]) != 0) i++;
        if (i == n_allowed) {
            const char *near = cf_text_closest(key, allowed, n_allowed);
            if (near) return cf_json_fail(r, CF_ERR_PARSE, "unknown key \"%s\" (did you mean \"%s\"?)", key, near);
            char known[384];
            join_names(known, sizeof known, allowed, n_allowed);
            return cf_json_fail(r, CF_ERR_PARSE, "unknown key \"%s\"; expected %s%s", key,
                                n_allowed == 1 ? "" : "one of ", known);
        }
        /* cJSON keeps both copies of a repeated key and finds the first. */
        for (const cJSON *d = obj->child; d != c; d = d->next)
            if (d->string && strcmp(d->string, key) == 0)
                return cf_json_fail(r, CF_ERR_PARSE, "duplicate key \"%s\"", key);
    }
    return CF_OK;
}
