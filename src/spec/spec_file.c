/* spec_file.c - search spec files (flat JSON objects of settings).
 * Format: include/cellforge/spec.h. Tests: tests/test_journal.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/file.h"
#include "cellforge/spec.h"
#include "cellforge/text.h"
#include "core/json_read.h"

/* The text of value v, checked against the key's range. */
static cf_status value_text(const cf_json_reader *r, const cJSON *v, const cf_value_range *range,
                            char **out) {
    char buf[64];
    if (cJSON_IsString(v)) {
        *out = strdup(v->valuestring);
    } else if (cJSON_IsNumber(v)) {
        snprintf(buf, sizeof buf, "%.17g", v->valuedouble);
        *out = strdup(buf);
    } else if (cJSON_IsBool(v)) {
        *out = strdup(cJSON_IsTrue(v) ? "true" : "false");
    } else {
        return cf_json_fail(r, CF_ERR_PARSE, "expected a string, number or boolean, got %s",
                            cf_json_describe(v, buf, sizeof buf));
    }
    if (!*out) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "spec: no memory");
    if (range->kind != CF_VALUE_TEXT) {
        char where[CF_JSON_PATH_MAX + 256];
        snprintf(where, sizeof where, "%s: %s", r->origin, r->path);
        double parsed;
        cf_status st = cf_text_parse_value(*out, range, where, &parsed);
        if (st != CF_OK) {
            free(*out);
            *out = NULL;
        }
        return st;
    }
    return CF_OK;
}

static const char *closest_key(const char *name, const cf_spec_key *known, size_t n_known) {
    const char *names[128];
    size_t n = 0;
    for (size_t i = 0; i < n_known && n < 128; i++) names[n++] = known[i].name;
    return cf_text_closest(name, names, n);
}

cf_status cf_spec_load(const char *path, const cf_spec_key *known, size_t n_known, int max_format, cf_spec **out) {
    *out = NULL;
    char *text = NULL;
    CF_TRY(cf_file_read(path, CF_SPEC_MAX_BYTES, 0, &text, NULL));
    cJSON *root = NULL;
    cf_status st = cf_json_parse(text, path, &root);
    free(text);
    if (st != CF_OK) return st;
    cf_json_reader r;
    cf_json_reader_init(&r, path);
    cf_spec *sp = calloc(1, sizeof *sp);
    if (!sp) {
        cJSON_Delete(root);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory", path);
    }
    CF_TRY_GOTO(st, cf_json_as_object(&r, root), fail);
    int count = cJSON_GetArraySize(root);
    sp->items = calloc((size_t)(count > 0 ? count : 1), sizeof *sp->items);
    if (!sp->items) {
        st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "%s: no memory", path);
        goto fail;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, root) {
        size_t mark = cf_json_enter_key(&r, item->string);
        if (strcmp(item->string, "format") == 0) {
            CF_TRY_GOTO(st, cf_json_as_int(&r, item, 1, 1000000, &sp->format), fail);
            if (sp->format > max_format) {
                st = cf_json_fail(&r, CF_ERR_UNSUPPORTED,
                                  "format %d is newer than this cellforge reads (%d): written by a newer version",
                                  sp->format, max_format);
                goto fail;
            }
        } else if (strcmp(item->string, "cellforge") == 0) {
            CF_TRY_GOTO(st, cf_json_as_string(&r, item, 0, sp->version, sizeof sp->version), fail);
        } else {
            size_t k = 0;
            while (k < n_known && strcmp(known[k].name, item->string) != 0) k++;
            if (k == n_known) {
                const char *near = closest_key(item->string, known, n_known);
                st = cf_json_fail(&r, CF_ERR_PARSE, "unknown setting \"%s\"%s%s%s", item->string,
                                  near ? " (did you mean \"" : "", near ? near : "", near ? "\"?)" : "");
                goto fail;
            }
            if (cf_spec_get(sp, item->string)) {
                st = cf_json_fail(&r, CF_ERR_PARSE, "given twice");
                goto fail;
            }
            cf_spec_value *v = &sp->items[sp->n++];
            snprintf(v->name, sizeof v->name, "%s", item->string);
            if (cJSON_IsArray(item)) {
                CF_TRY_GOTO(st, cf_json_as_array(&r, item, 0, CF_SPEC_MAX_VALUES), fail);
                int i = 0;
                const cJSON *e;
                cJSON_ArrayForEach(e, item) {
                    size_t m2 = cf_json_enter_index(&r, i++);
                    CF_TRY_GOTO(st, value_text(&r, e, &known[k].range, &v->values[v->count]), fail);
                    v->count++;
                    cf_json_leave(&r, m2);
                }
            } else {
                CF_TRY_GOTO(st, value_text(&r, item, &known[k].range, &v->values[0]), fail);
                v->count = 1;
            }
        }
        cf_json_leave(&r, mark);
    }
    cJSON_Delete(root);
    *out = sp;
    return CF_OK;
fail:
    cJSON_Delete(root);
    cf_spec_destroy(sp);
    return st;
}

const cf_spec_value *cf_spec_get(const cf_spec *s, const char *name) {
    for (int i = 0; s && i < s->n; i++)
        if (strcmp(s->items[i].name, name) == 0) return &s->items[i];
    return NULL;
}

void cf_spec_destroy(cf_spec *s) {
    if (!s) return;
    for (int i = 0; i < s->n; i++)
        for (int k = 0; k < s->items[i].count; k++) free(s->items[i].values[k]);
    free(s->items);
    free(s);
}
