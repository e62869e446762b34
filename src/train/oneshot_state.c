/* oneshot_state.c - what a one-shot run keeps besides the trainer's state:
 * the sidecar STATE.oneshot (alpha after every epoch, Adam's moments and step
 * count after the last two saves) and the alpha history for the report.
 *
 * The sidecar is JSON written atomically with every number in 17 significant
 * digits, so a double comes back bit for bit:
 *   {"format": "cellforge-oneshot-1", "method": "darts", "rows": 6, "cols": 5,
 *    "alpha": [[...epoch 0...], [...epoch 1...]],
 *    "adam": [{"epoch": 1, "t": 780, "m": [...], "v": [...]}, {"epoch": 0, ...}]}
 * It is written before the trainer's state: after a crash between the two,
 * it still holds the record of the state's epoch. Tested by
 * tests/test_oneshot.c (resume after kill) and tests/cli_oneshot.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/file.h"
#include "core/json_read.h"
#include "oneshot_impl.h"

#define SIDECAR_MAX ((size_t)256 << 20)

/* Adam's state at the previous save, for the sidecar's second record. */
typedef struct adam_record {
    int epoch;
    int64_t t;
    double *m, *v;
} adam_record;

static void put_array(FILE *f, const double *v, size_t n) {
    fputc('[', f);
    for (size_t i = 0; i < n; i++) fprintf(f, "%s%.17g", i ? ", " : "", v[i]);
    fputc(']', f);
}

static void sidecar_path(const os_run *r, char *buf, size_t cap) {
    snprintf(buf, cap, "%s.oneshot", r->cfg->state_path);
}

/* The record of the previous save lives with the run's Adam arrays: the
 * sidecar reads it back from its own file instead of keeping a copy. */
static cf_status read_sidecar(const char *path, cJSON **out) {
    char *text = NULL;
    size_t n = 0;
    *out = NULL;
    CF_TRY(cf_file_read(path, SIDECAR_MAX, CF_FILE_NOFOLLOW, &text, &n));
    cJSON *root = cJSON_ParseWithLength(text, n);
    free(text);
    if (!root) CF_FAIL(CF_ERR_PARSE, "%s: not JSON (a damaged one-shot state)", path);
    *out = root;
    return CF_OK;
}

static cf_status number_array(const char *path, const cJSON *a, const char *what, double *out, size_t n) {
    if (!cJSON_IsArray(a) || (size_t)cJSON_GetArraySize(a) != n)
        CF_FAIL(CF_ERR_PARSE, "%s: %s is not an array of %zu numbers", path, what, n);
    size_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, a) {
        if (!cJSON_IsNumber(v)) CF_FAIL(CF_ERR_PARSE, "%s: %s[%zu] is not a number", path, what, i);
        out[i++] = v->valuedouble;
    }
    return CF_OK;
}

/* The Adam record of `epoch` in the sidecar root (NULL when absent). */
static const cJSON *adam_of(const cJSON *root, int epoch) {
    const cJSON *rec;
    cJSON_ArrayForEach(rec, cJSON_GetObjectItemCaseSensitive(root, "adam")) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(rec, "epoch");
        if (cJSON_IsNumber(e) && e->valueint == epoch) return rec;
    }
    return NULL;
}

cf_status os_state_save(const os_run *r, int epoch) {
    char path[1100];
    sidecar_path(r, path, sizeof path);
    const size_t cells = (size_t)r->rows * r->cols;
    /* the previous save's Adam record, kept for a crash before the trainer's state */
    adam_record prev = {-1, 0, NULL, NULL};
    cJSON *old = NULL;
    if (epoch > 0 && read_sidecar(path, &old) == CF_OK) {
        const cJSON *rec = adam_of(old, epoch - 1);
        prev.m = malloc(cells * sizeof *prev.m);
        prev.v = malloc(cells * sizeof *prev.v);
        const cJSON *t = rec ? cJSON_GetObjectItemCaseSensitive(rec, "t") : NULL;
        if (rec && prev.m && prev.v && cJSON_IsNumber(t) &&
            number_array(path, cJSON_GetObjectItemCaseSensitive(rec, "m"), "m", prev.m, cells) == CF_OK &&
            number_array(path, cJSON_GetObjectItemCaseSensitive(rec, "v"), "v", prev.v, cells) == CF_OK) {
            prev.epoch = epoch - 1;
            prev.t = (int64_t)t->valuedouble;
        }
    }
    cJSON_Delete(old);
    cf_file_writer w;
    cf_status st = cf_file_writer_open(&w, path);
    if (st != CF_OK) goto exit;
    fprintf(w.f, "{\"format\": \"cellforge-oneshot-1\", \"method\": \"%s\", \"rows\": %d, \"cols\": %d,\n \"alpha\": [",
            cf_oneshot_method_name(r->cfg->method), r->rows, r->cols);
    for (int e = 0; e <= epoch; e++) {
        fputs(e ? ",\n  " : "\n  ", w.f);
        put_array(w.f, r->hist + (size_t)e * cells, cells);
    }
    fprintf(w.f, "],\n \"adam\": [{\"epoch\": %d, \"t\": %lld, \"m\": ", epoch, (long long)r->adam_t);
    put_array(w.f, r->adam_m, cells);
    fputs(", \"v\": ", w.f);
    put_array(w.f, r->adam_v, cells);
    fputc('}', w.f);
    if (prev.epoch >= 0) {
        fprintf(w.f, ",\n  {\"epoch\": %d, \"t\": %lld, \"m\": ", prev.epoch, (long long)prev.t);
        put_array(w.f, prev.m, cells);
        fputs(", \"v\": ", w.f);
        put_array(w.f, prev.v, cells);
        fputc('}', w.f);
    }
    fputs("]}\n", w.f);
    st = cf_file_writer_commit(&w);
exit:
    free(prev.m);
    free(prev.v);
    return st;
}

cf_status os_state_load(os_run *r, int epoch) {
    char path[1100];
    sidecar_path(r, path, sizeof path);
    const size_t cells = (size_t)r->rows * r->cols;
    cJSON *root = NULL;
    CF_TRY(read_sidecar(path, &root));
    cf_status st = CF_OK;
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(root, "rows"),
                *cols = cJSON_GetObjectItemCaseSensitive(root, "cols"),
                *method = cJSON_GetObjectItemCaseSensitive(root, "method"),
                *alpha = cJSON_GetObjectItemCaseSensitive(root, "alpha");
    if (!cJSON_IsNumber(rows) || rows->valueint != r->rows || !cJSON_IsNumber(cols) || cols->valueint != r->cols ||
        !cJSON_IsString(method) || strcmp(method->valuestring, cf_oneshot_method_name(r->cfg->method)) != 0) {
        st = cf_error_set(CF_ERR_INVALID_ARG, __FILE__, __LINE__,
                          "%s: a one-shot state of another run (method or supernet differ: want %s, %d x %d)", path,
                          cf_oneshot_method_name(r->cfg->method), r->rows, r->cols);
        goto exit;
    }
    if (!cJSON_IsArray(alpha) || cJSON_GetArraySize(alpha) < epoch + 1) {
        st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__, "%s: alpha holds fewer than the %d epochs of the state",
                          path, epoch + 1);
        goto exit;
    }
    for (int e = 0; e <= epoch; e++) {
        char what[32];
        snprintf(what, sizeof what, "alpha[%d]", e);
        CF_TRY_GOTO(st, number_array(path, cJSON_GetArrayItem(alpha, e), what, r->hist + (size_t)e * cells, cells),
                    exit);
    }
    memcpy(r->alpha, r->hist + (size_t)epoch * cells, cells * sizeof *r->alpha);
    const cJSON *rec = adam_of(root, epoch), *t = rec ? cJSON_GetObjectItemCaseSensitive(rec, "t") : NULL;
    if (!cJSON_IsNumber(t)) {
        st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__, "%s: no optimizer record of epoch %d", path, epoch + 1);
        goto exit;
    }
    r->adam_t = (int64_t)t->valuedouble;
    CF_TRY_GOTO(st, number_array(path, cJSON_GetObjectItemCaseSensitive(rec, "m"), "adam.m", r->adam_m, cells), exit);
    CF_TRY_GOTO(st, number_array(path, cJSON_GetObjectItemCaseSensitive(rec, "v"), "adam.v", r->adam_v, cells), exit);
exit:
    cJSON_Delete(root);
    return st;
}

/* The name of row `row` for the report: nb201 "e0_1", darts "normal.n2.in0". */
static void row_name(const cf_space *s, int row, char *buf, size_t cap) {
    if (s->family == CF_SPACE_FAMILY_NB201) {
        for (int j = 1, k = 0; j < s->nodes; j++)
            for (int i = 0; i < j; i++, k++)
                if (k == row) {
                    snprintf(buf, cap, "e%d_%d", i, j);
                    return;
                }
    }
    const int per = s->nodes * (s->nodes + 3) / 2;
    int t = row / per, k = row % per;
    for (int j = 2; j < 2 + s->nodes; j++)
        for (int i = 0; i < j; i++, k--)
            if (k == 0) {
                snprintf(buf, cap, "%s.n%d.in%d", t ? "reduce" : "normal", j, i);
                return;
            }
    snprintf(buf, cap, "row%d", row);
}

cf_status os_alphas_write(const os_run *r, int epochs) {
    const size_t cells = (size_t)r->rows * r->cols;
    cf_file_writer w;
    CF_TRY(cf_file_writer_open(&w, r->cfg->alphas_path));
    fprintf(w.f, "{\"method\": \"%s\", \"rows\": %d, \"cols\": %d, \"ops\": [", cf_oneshot_method_name(r->cfg->method),
            r->rows, r->cols);
    for (int c = 0; c < r->cols; c++) fprintf(w.f, "%s\"%s\"", c ? ", " : "", r->s->ops[c].name);
    fputs("],\n \"edges\": [", w.f);
    for (int row = 0; row < r->rows; row++) {
        char name[64];
        row_name(r->s, row, name, sizeof name);
        fprintf(w.f, "%s\"%s\"", row ? ", " : "", name);
    }
    fputs("],\n \"alpha\": [", w.f);
    for (int e = 0; e < epochs; e++) {
        fputs(e ? ",\n  " : "\n  ", w.f);
        put_array(w.f, r->hist + (size_t)e * cells, cells);
    }
    fputs("]}\n", w.f);
    return cf_file_writer_commit(&w);
}
