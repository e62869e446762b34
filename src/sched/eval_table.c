/* eval_table.c - the `table:FILE` evaluator: results looked up in a benchmark
 * table, with the recorded training time advancing a simulated clock.
 *
 * Table format (what `cellforge tabulate` writes; tab-separated UTF-8 text):
 *
 *   # cellforge-table 1
 *   # space nb201
 *   # options C=16,N=1
 *   # dataset fashion-mnist
 *   # input 28x28x1 classes 10
 *   arch  epochs  fraction  status  val_acc  train_seconds  params  macs
 *   |nor_conv_3x3~0|+|...|  1  1  ok  0.8712  41.8  73498  12345678
 *
 * Lines starting with '#' are metadata ("# key value") or comments; the first
 * other line names the columns, in any order. arch, epochs, val_acc and
 * train_seconds are required; fraction (default 1) and status (ok, nan,
 * diverged, timeout, oom, error; default ok) are optional; other columns are
 * kept for people and ignored here. A repeated column header line is skipped,
 * so tables of several fidelities can be joined with cat. One row per (arch, epochs, fraction): an
 * arch is matched by its canonical form, so isomorphic cells share rows.
 * Several rows of one key (several training seeds) are all kept and a trial
 * takes row (trial id mod count), so repeated trials see the recorded spread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cellforge/file.h"
#include "cellforge/grow.h"
#include "cellforge/sched.h"

typedef struct table_row {
    uint64_t key;
    int epochs;
    int fraction_milli;
    cf_trial_status status;
    double val_acc, seconds;
    int next;                 /* next row of the same key, -1 */
} table_row;

typedef struct table_eval {
    char path[512];
    const cf_space *space;
    table_row *rows;
    size_t n, cap;
    int *slots;               /* open addressing over row heads: index or -1 */
    size_t n_slots;
} table_eval;

static uint64_t row_key(uint64_t arch_hash, int epochs, int fraction_milli) {
    uint64_t k = arch_hash ^ (0x9E3779B97F4A7C15ull * (uint64_t)(epochs + 1));
    k ^= (uint64_t)fraction_milli * 0xC2B2AE3D27D4EB4Full;
    k ^= k >> 33;
    return k * 0xFF51AFD7ED558CCDull;
}

static int find_head(const table_eval *t, uint64_t key, int epochs, int fm, size_t *slot) {
    size_t mask = t->n_slots - 1, i = (size_t)key & mask;
    for (;; i = (i + 1) & mask) {
        int r = t->slots[i];
        if (r < 0) {
            if (slot) *slot = i;
            return -1;
        }
        const table_row *row = &t->rows[r];
        if (row->key == key && row->epochs == epochs && row->fraction_milli == fm) return r;
    }
}

/* A table row records how a trial ended: ok up to error. */
static int parse_status(const char *s, cf_trial_status *out) {
    return cf_trial_status_parse(s, out) && *out >= CF_TRIAL_OK && *out <= CF_TRIAL_ERROR;
}

enum { COL_ARCH, COL_EPOCHS, COL_FRACTION, COL_STATUS, COL_VAL, COL_SECONDS, COL_N };
static const char *const col_names[COL_N] = {"arch", "epochs", "fraction", "status", "val_acc", "train_seconds"};

/* Split a line on tabs in place; returns the number of fields. */
static int split_tabs(char *line, char **f, int cap) {
    int n = 0;
    for (char *p = line;;) {
        if (n < cap) f[n] = p;
        n++;
        char *tab = strchr(p, '\t');
        if (!tab) break;
        *tab = 0;
        p = tab + 1;
    }
    return n < cap ? n : cap;
}

static cf_status parse_number(const char *path, long line, const char *col, const char *text, double *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (!*text || *end || errno)
        CF_FAIL(CF_ERR_PARSE, "%s:%ld: column '%s': '%s' is not a number", path, line, col, text);
    *out = v;
    return CF_OK;
}

static cf_status add_row(table_eval *t, const table_row *r) {
    if (cf_grow((void **)&t->rows, &t->cap, t->n + 1, sizeof *t->rows) != CF_OK)
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory for %zu rows", t->path, t->n + 1);
    t->rows[t->n++] = *r;
    return CF_OK;
}

static cf_status build_index(table_eval *t) {
    t->n_slots = 16;
    while (t->n_slots < 2 * t->n) t->n_slots *= 2;
    t->slots = malloc(t->n_slots * sizeof *t->slots);
    if (!t->slots) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory for the index", t->path);
    for (size_t i = 0; i < t->n_slots; i++) t->slots[i] = -1;
    /* chain rows of one key in file order */
    for (size_t i = 0; i < t->n; i++) {
        table_row *r = &t->rows[i];
        r->next = -1;
        size_t slot;
        int head = find_head(t, r->key, r->epochs, r->fraction_milli, &slot);
        if (head < 0) {
            t->slots[slot] = (int)i;
        } else {
            while (t->rows[head].next >= 0) head = t->rows[head].next;
            t->rows[head].next = (int)i;
        }
    }
    return CF_OK;
}

static cf_status read_table(table_eval *t, FILE *f, cf_net_input *input) {
    char *line = NULL;
    size_t cap = 0, len = 0;
    long lineno = 0;
    int col[COL_N], have_header = 0;
    cf_status st = CF_OK;
    char meta_space[64] = "", header[1024] = "";
    for (;;) {
        st = cf_file_read_line(f, t->path, CF_TABLE_LINE_MAX, &line, &cap, &len);
        if (st != CF_OK) goto exit;
        if (len == 0) break;
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len == 0) continue;
        if (line[0] == '#') {
            int h, w, c, k;
            if (sscanf(line, "# input %dx%dx%d classes %d", &h, &w, &c, &k) == 4 && h > 0 && w > 0 && c > 0 && k > 1)
                *input = (cf_net_input){c, h, w, k};
            sscanf(line, "# space %63s", meta_space);
            continue;
        }
        if (have_header && strcmp(line, header) == 0) continue; /* tables concatenated with cat */
        if (!have_header) snprintf(header, sizeof header, "%s", line);
        char *fields[64];
        int nf = split_tabs(line, fields, 64);
        if (!have_header) {
            for (int c = 0; c < COL_N; c++) {
                col[c] = -1;
                for (int i = 0; i < nf; i++)
                    if (strcmp(fields[i], col_names[c]) == 0) col[c] = i;
            }
            const int required[] = {COL_ARCH, COL_EPOCHS, COL_VAL, COL_SECONDS};
            for (size_t r = 0; r < sizeof required / sizeof required[0]; r++)
                if (col[required[r]] < 0) {
                    st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__,
                                      "%s:%ld: the column header has no '%s' column (needs arch, epochs, "
                                      "val_acc, train_seconds)",
                                      t->path, lineno, col_names[required[r]]);
                    goto exit;
                }
            have_header = 1;
            continue;
        }
        for (int c = 0; c < COL_N; c++)
            if (col[c] >= nf) {
                st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__, "%s:%ld: %d fields, column '%s' is field %d",
                                  t->path, lineno, nf, col_names[c], col[c] + 1);
                goto exit;
            }
        table_row r = {0};
        cf_arch a, canon;
        if (cf_arch_parse(t->space, fields[col[COL_ARCH]], &a) != CF_OK) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", cf_error_message());
            st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__, "%s:%ld: column 'arch': %s", t->path, lineno, msg);
            goto exit;
        }
        cf_arch_canonical(t->space, &a, &canon);
        double epochs = 0, fraction = 1;
        CF_TRY_GOTO(st, parse_number(t->path, lineno, "epochs", fields[col[COL_EPOCHS]], &epochs), exit);
        if (col[COL_FRACTION] >= 0)
            CF_TRY_GOTO(st, parse_number(t->path, lineno, "fraction", fields[col[COL_FRACTION]], &fraction), exit);
        CF_TRY_GOTO(st, parse_number(t->path, lineno, "val_acc", fields[col[COL_VAL]], &r.val_acc), exit);
        CF_TRY_GOTO(st, parse_number(t->path, lineno, "train_seconds", fields[col[COL_SECONDS]], &r.seconds), exit);
        if (epochs < 1 || epochs > CF_TRAIN_MAX_EPOCHS || epochs != (int)epochs || fraction <= 0 || fraction > 1 ||
            r.seconds < 0 || r.val_acc > 1) {
            st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__,
                              "%s:%ld: out of range (epochs 1..%d whole, fraction (0, 1], train_seconds >= 0, "
                              "val_acc <= 1)",
                              t->path, lineno, CF_TRAIN_MAX_EPOCHS);
            goto exit;
        }
        r.status = CF_TRIAL_OK;
        if (col[COL_STATUS] >= 0 && !parse_status(fields[col[COL_STATUS]], &r.status)) {
            st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__,
                              "%s:%ld: column 'status': '%s' (ok, nan, diverged, timeout, oom, error)", t->path,
                              lineno, fields[col[COL_STATUS]]);
            goto exit;
        }
        r.epochs = (int)epochs;
        r.fraction_milli = (int)(fraction * 1000 + 0.5);
        r.key = row_key(cf_arch_hash(t->space, &canon), r.epochs, r.fraction_milli);
        CF_TRY_GOTO(st, add_row(t, &r), exit);
    }
    if (!have_header) {
        st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__, "%s: no column header line (arch, epochs, val_acc, "
                          "train_seconds, ...): is this a table written by `cellforge tabulate`?", t->path);
        goto exit;
    }
    if (meta_space[0] && strcmp(meta_space, t->space->name) != 0) {
        st = cf_error_set(CF_ERR_INVALID_ARG, __FILE__, __LINE__,
                          "%s: the table is for space '%s', the search is in '%s'", t->path, meta_space,
                          t->space->name);
        goto exit;
    }
    st = build_index(t);
exit:
    free(line);
    return st;
}

static cf_status table_open(void *self, const cf_worker_desc *w, void **state) {
    (void)self;
    (void)w;
    *state = NULL;
    return CF_OK;
}

static void table_close(void *self, void *state) {
    (void)self;
    (void)state;
}

static cf_status table_run(void *self, void *state, const cf_trial_task *task, cf_trial_outcome *out) {
    (void)state;
    table_eval *t = self;
    const cf_trial *tr = task->trial;
    memset(out, 0, sizeof *out);
    out->val_acc = -1;
    int epochs = tr->cand.epochs > 0 ? tr->cand.epochs : 1;
    double fraction = tr->cand.fraction > 0 ? tr->cand.fraction : 1;
    int fm = (int)(fraction * 1000 + 0.5);
    cf_arch canon;
    cf_arch_canonical(t->space, &tr->cand.arch, &canon);
    int r = find_head(t, row_key(cf_arch_hash(t->space, &canon), epochs, fm), epochs, fm, NULL);
    if (r < 0) {
        out->status = CF_TRIAL_ERROR;
        snprintf(out->reason, sizeof out->reason, "not in the table %.180s at %d epochs, fraction %g", t->path, epochs,
                 fraction);
        return CF_OK;
    }
    int count = 0;
    for (int k = r; k >= 0; k = t->rows[k].next) count++;
    for (int64_t pick = tr->id % count; pick > 0; pick--) r = t->rows[r].next;
    const table_row *row = &t->rows[r];
    out->status = row->status;
    if (row->status != CF_TRIAL_OK) snprintf(out->reason, sizeof out->reason, "recorded as %s in the table",
                                             cf_trial_status_name(row->status));
    out->val_acc = row->status == CF_TRIAL_OK || row->status == CF_TRIAL_TIMEOUT ? row->val_acc : -1;
    out->epochs_done = row->status == CF_TRIAL_OK ? epochs : 0;
    out->seconds = row->seconds;
    return CF_OK;
}

static void table_destroy(void *self) {
    table_eval *t = self;
    if (!t) return;
    free(t->rows);
    free(t->slots);
    free(t);
}

static const cf_evaluator_ops table_ops = {
    .name = "table",
    .simulated = 1,
    .open = table_open,
    .close = table_close,
    .run = table_run,
    .destroy = table_destroy,
};

cf_status cf_evaluator_table_create(const char *path, const cf_space *s, cf_evaluator **out) {
    *out = NULL;
    FILE *f = NULL;
    if (s->n_hparams > 0) {
        char names[256] = "";
        for (int i = 0, len = 0; i < s->n_hparams && len < (int)sizeof names; i++)
            len += snprintf(names + len, sizeof names - (size_t)len, "%s%s", i ? ", " : "", s->hparams[i].name);
        CF_FAIL(CF_ERR_UNSUPPORTED, "%s: a table holds one training of each architecture, so it cannot score the "
                "hyperparameters space %s searches (%s); search them with the train or cmd: evaluator", path,
                s->name, names);
    }
    if (access(path, F_OK) != 0)
        CF_FAIL(CF_ERR_IO, "%s: cannot open the table: %s (write one with `cellforge tabulate`)", path, strerror(errno));
    CF_TRY(cf_file_fopen_read(path, CF_TABLE_MAX_BYTES, 0, &f));
    table_eval *t = calloc(1, sizeof *t);
    cf_evaluator *ev = calloc(1, sizeof *ev);
    cf_status st = CF_OK;
    if (!t || !ev) {
        st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "%s: no memory", path);
        goto fail;
    }
    snprintf(t->path, sizeof t->path, "%s", path);
    t->space = s;
    ev->input = (cf_net_input){1, 28, 28, 10}; /* Fashion-MNIST unless the table says */
    CF_TRY_GOTO(st, read_table(t, f, &ev->input), fail);
    fclose(f);
    ev->ops = &table_ops;
    ev->self = t;
    ev->with_aux = cf_space_get_or(s, "auxiliary", 0) != 0;
    *out = ev;
    return CF_OK;
fail:
    fclose(f);
    table_destroy(t);
    free(ev);
    return st;
}

/* The distinct values of one fidelity column among the rows, as text ("1, 4, 12"). */
static void list_values(const table_eval *t, int fractions, char *buf, size_t cap) {
    int seen[16];
    int n = 0;
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < t->n && n < 16; i++) {
        int v = fractions ? t->rows[i].fraction_milli : t->rows[i].epochs;
        int dup = 0;
        for (int k = 0; k < n; k++) dup |= seen[k] == v;
        if (dup) continue;
        seen[n++] = v;
        if (len < cap)
            len += fractions ? (size_t)snprintf(buf + len, cap - len, "%s%g", n > 1 ? ", " : "", v / 1000.0)
                             : (size_t)snprintf(buf + len, cap - len, "%s%d", n > 1 ? ", " : "", v);
    }
    if (n == 16 && len < cap) snprintf(buf + len, cap - len, ", ...");
}

cf_status cf_evaluator_table_check_fidelity(const cf_evaluator *ev, int epochs, double fraction) {
    if (!ev || ev->ops != &table_ops) return CF_OK;
    const table_eval *t = ev->self;
    const int fm = (int)(fraction * 1000 + 0.5);
    int at_fraction = 0, at_both = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (t->rows[i].fraction_milli != fm) continue;
        at_fraction = 1;
        at_both |= t->rows[i].epochs == epochs;
    }
    char held[160];
    if (!at_fraction) {
        list_values(t, 1, held, sizeof held);
        CF_FAIL(CF_ERR_INVALID_ARG, "%s: no rows at fraction %g, which this search trains with (the table holds "
                "fractions %s: pass --fraction with one of them)", t->path, fraction, held);
    }
    if (epochs > 0 && !at_both) {
        list_values(t, 0, held, sizeof held);
        CF_FAIL(CF_ERR_INVALID_ARG, "%s: no rows at %d epochs and fraction %g, which this search trains with (the "
                "table holds epochs %s: pass --epochs with one of them)", t->path, epochs, fraction, held);
    }
    return CF_OK;
}

/* ---- writing ------------------------------------------------------------------ */

void cf_table_write_header(FILE *f, const cf_space *s, const char *dataset, const cf_net_input *in) {
    char opts[256];
    cf_space_format_options(s, opts, sizeof opts);
    fprintf(f, "# cellforge-table 1\n# space %s\n# options %s\n# dataset %s\n# input %dx%dx%d classes %d\n", s->name,
            opts, dataset, in->h, in->w, in->c, in->classes);
    fprintf(f, "arch\tepochs\tfraction\tstatus\tval_acc\ttrain_seconds\tparams\tmacs\n");
}

void cf_table_write_row(FILE *f, const cf_trial *t) {
    fprintf(f, "%s\t%d\t%g\t%s\t%.6f\t%.3f\t%lld\t%lld\n", t->arch, t->cand.epochs > 0 ? t->cand.epochs : 1,
            t->cand.fraction > 0 ? t->cand.fraction : 1.0, cf_trial_status_name(t->status), t->val_acc,
            t->train_seconds, (long long)t->cost.params, (long long)t->cost.macs);
}
