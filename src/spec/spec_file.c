/* spec_file.c - search spec files (flat JSON objects of settings) and atomic
 * file writes. Format: include/cellforge/spec.h. Tests: tests/test_journal.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cellforge/spec.h"
#include "cellforge/text.h"
#include "json_read.h"

char *cf_file_read_text(const char *path, size_t limit, cf_status *st) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        *st = cf_error_set(CF_ERR_IO, __FILE__, __LINE__, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (limit && n > limit) break;
        if (n + 1 == cap) {
            char *p = realloc(buf, cap * 2);
            if (!p) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = p;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf) {
        *st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "%s: no memory to read it", path);
        return NULL;
    }
    if (limit && n > limit) {
        free(buf);
        *st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__, "%s: larger than %zu bytes", path, limit);
        return NULL;
    }
    buf[n] = 0;
    return buf;
}

static cf_status value_text(const cf_json_reader *r, const cJSON *v, char **out) {
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
    return CF_OK;
}

cf_status cf_spec_load(const char *path, const char *const *known, size_t n_known, int max_format, cf_spec **out) {
    *out = NULL;
    cf_status st = CF_OK;
    char *text = cf_file_read_text(path, 0, &st);
    if (!text) return st;
    cJSON *root = NULL;
    st = cf_json_parse(text, path, &root);
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
            while (k < n_known && strcmp(known[k], item->string) != 0) k++;
            if (k == n_known) {
                const char *near = cf_text_closest(item->string, known, n_known);
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
                    CF_TRY_GOTO(st, value_text(&r, e, &v->values[v->count]), fail);
                    v->count++;
                    cf_json_leave(&r, m2);
                }
            } else {
                CF_TRY_GOTO(st, value_text(&r, item, &v->values[0]), fail);
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

/* fsync the folder holding path, so the rename itself survives a power cut. */
static void sync_parent(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    (void)fsync(fd);
    close(fd);
}

cf_status cf_file_write_bytes_atomic(const char *path, const void *data, size_t n) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) CF_FAIL(CF_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, (const char *)data + done, n - done);
        if (w <= 0) {
            int e = w < 0 ? errno : ENOSPC;
            close(fd);
            unlink(tmp);
            CF_FAIL(CF_ERR_IO, "%s: cannot write: %s", tmp, strerror(e));
        }
        done += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        CF_FAIL(CF_ERR_IO, "%s: cannot flush: %s", tmp, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        CF_FAIL(CF_ERR_IO, "%s: cannot rename into place: %s", path, strerror(e));
    }
    sync_parent(path);
    return CF_OK;
}

cf_status cf_file_write_atomic(const char *path, const char *text) {
    return cf_file_write_bytes_atomic(path, text, strlen(text));
}
