/* report_data.c - a run directory read for the report: spec.json, every
 * journal event (per attempt, so the timeline shows retries and crashes),
 * a supernet's metrics (its derived architectures), and the retrained final
 * models under final/ID/ (test.json, train.cfs).
 *
 * The journal is read with cf_journal_read, the checks `cellforge status`
 * and --resume rely on: a torn last line is left out (and noted), a damaged
 * line before it fails naming the file and line. Problems with a final model's
 * files never stop the report; they become a note naming the file and the
 * position. Tests: tests/cli_report.sh.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../journal/journal_read.h"
#include "core/json_read.h"
#include "cellforge/file.h"
#include "cellforge/grow.h"
#include "report_impl.h"

/* ---- small readers --------------------------------------------------------------- */

/* A finite number member, else def. */
static double num(const cJSON *o, const char *key, double def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : def;
}

static const char *str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static char *dup_or_empty(const char *s) {
    char *d = strdup(s ? s : "");
    return d;
}

/* An accuracy in [0, 1], else -1. */
static double acc_of(const cJSON *o, const char *key) {
    double v = num(o, key, -1);
    return v >= 0 && v <= 1 ? v : -1;
}

static int read_curve(const cJSON *arr, cf_epoch_record **out) {
    *out = NULL;
    int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0;
    if (n <= 0) return 0;
    if (n > CF_TRAIN_MAX_EPOCHS) n = CF_TRAIN_MAX_EPOCHS;
    cf_epoch_record *c = calloc((size_t)n, sizeof *c);
    if (!c) return 0;
    int k = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        if (k == n) break;
        if (!cJSON_IsObject(e)) continue;
        c[k] = (cf_epoch_record){(int)num(e, "epoch", k), num(e, "train_loss", -1), acc_of(e, "train_acc"),
                                 acc_of(e, "val_acc"), num(e, "lr", 0), num(e, "seconds", 0)};
        k++;
    }
    if (k == 0) {
        free(c);
        return 0;
    }
    *out = c;
    return k;
}

int rp_read_state_curve(const char *path, cf_epoch_record **out) {
    *out = NULL;
    FILE *f = NULL;
    if (cf_file_fopen_read(path, SIZE_MAX, CF_FILE_NOFOLLOW, &f) != CF_OK) {
        cf_error_clear();
        return 0;
    }
    unsigned char head[16];
    int n = 0;
    if (fread(head, 1, 16, f) == 16 && (memcmp(head, "CFSTATE1", 8) == 0 || memcmp(head, "CFMODEL1", 8) == 0)) {
        uint64_t len = 0;
        for (int i = 7; i >= 0; i--) len = (len << 8) | head[8 + i];
        char *text = len > 0 && len < (64u << 20) ? malloc((size_t)len + 1) : NULL;
        if (text && fread(text, 1, (size_t)len, f) == (size_t)len) {
            text[len] = 0;
            cJSON *h = cJSON_ParseWithLength(text, (size_t)len);
            if (h) n = read_curve(cJSON_GetObjectItemCaseSensitive(h, "curve"), out);
            cJSON_Delete(h);
        }
        free(text);
    }
    fclose(f);
    return n;
}

const char *rp_spec(const rp_run *run, const char *key) {
    for (int i = 0; i < run->n_spec; i++)
        if (strcmp(run->spec[i].key, key) == 0) return run->spec[i].value;
    return NULL;
}

/* ---- spec.json and the space ----------------------------------------------------------- */

static cf_status load_spec(rp_run *run) {
    char path[1100];
    snprintf(path, sizeof path, "%s/spec.json", run->dir);
    char *text = NULL;
    CF_TRY(cf_file_read(path, 1 << 20, CF_FILE_NOFOLLOW, &text, NULL));
    cJSON *root = NULL;
    cf_status st = cf_json_parse(text, path, &root);
    free(text);
    if (st != CF_OK) return st;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        CF_FAIL(CF_ERR_PARSE, "%s: expected a JSON object of settings", path);
    }
    int count = cJSON_GetArraySize(root);
    run->spec = calloc((size_t)(count > 0 ? count : 1), sizeof *run->spec);
    if (!run->spec) {
        cJSON_Delete(root);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory", path);
    }
    const cJSON *v;
    cJSON_ArrayForEach(v, root) {
        rp_kv *kv = &run->spec[run->n_spec];
        char buf[64];
        kv->key = strdup(v->string ? v->string : "");
        if (cJSON_IsArray(v)) {
            kv->is_array = 1;
            int m = cJSON_GetArraySize(v);
            kv->items = calloc((size_t)(m > 0 ? m : 1), sizeof *kv->items);
            size_t total = 1;
            const cJSON *e;
            cJSON_ArrayForEach(e, v) {
                if (!kv->items) break;
                buf[0] = 0;
                if (cJSON_IsNumber(e)) snprintf(buf, sizeof buf, "%.17g", e->valuedouble);
                const char *s = cJSON_IsString(e) ? e->valuestring : buf;
                kv->items[kv->n_items] = strdup(s);
                if (kv->items[kv->n_items]) {
                    total += strlen(s) + 2;
                    kv->n_items++;
                }
            }
            kv->value = calloc(total, 1);
            for (int i = 0; kv->value && i < kv->n_items; i++) {
                if (i) strcat(kv->value, ", ");
                strcat(kv->value, kv->items[i]);
            }
        } else if (cJSON_IsString(v)) {
            kv->value = strdup(v->valuestring);
        } else if (cJSON_IsNumber(v)) {
            snprintf(buf, sizeof buf, "%.17g", v->valuedouble);
            kv->value = strdup(buf);
        } else if (cJSON_IsBool(v)) {
            kv->value = strdup(cJSON_IsTrue(v) ? "true" : "false");
        } else {
            kv->value = strdup("");
        }
        run->n_spec++;
        if (!kv->key || !kv->value) {
            cJSON_Delete(root);
            CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory", path);
        }
    }
    cJSON_Delete(root);
    return CF_OK;
}

/* The space as the run used it; a failure is kept as a note, since everything
 * but the cell diagrams can do without it. */
static void load_space(rp_run *run) {
    const char *name = rp_spec(run, "space");
    if (!name) name = "nb201";
    if (cf_space_load(name, &run->space) != CF_OK) {
        snprintf(run->space_error, sizeof run->space_error, "%s", cf_error_message());
        return;
    }
    for (int i = 0; i < run->n_spec; i++) {
        const rp_kv *kv = &run->spec[i];
        int search = strcmp(kv->key, "search") == 0;
        if (strcmp(kv->key, "set") != 0 && !search) continue;
        for (int k = 0; k < (kv->is_array ? kv->n_items : 1); k++) {
            const char *a = kv->is_array ? kv->items[k] : kv->value;
            if ((search ? cf_space_add_hparam_kv(run->space, a) : cf_space_set_kv(run->space, a)) != CF_OK) {
                snprintf(run->space_error, sizeof run->space_error, "spec.json: %s %s: %s", kv->key, a,
                         cf_error_message());
                cf_space_destroy(run->space);
                run->space = NULL;
                return;
            }
        }
    }
}

/* ---- the journal ------------------------------------------------------------------------ */

typedef struct loader {
    rp_run *run;
    const char *path;
} loader;

static cf_status add_bar(rp_run *run, int64_t trial, int attempt, int worker, int slot, double start, double end,
                         rp_bar_kind kind) {
    if (!isfinite(start) || !isfinite(end)) return CF_OK;
    if (end < start) end = start;
    if (cf_grow((void **)&run->bars, &run->cap_bars, run->n_bars + 1, sizeof *run->bars) != CF_OK)
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "report: no memory for the timeline");
    run->bars[run->n_bars++] = (rp_bar){trial, attempt, worker, slot, start, end, kind};
    if (worker + 1 > run->workers && worker < CF_MAX_WORKERS) run->workers = worker + 1;
    return CF_OK;
}

static rp_bar_kind kind_of(cf_trial_status s) {
    switch (s) {
    case CF_TRIAL_OK: return RP_BAR_OK;
    case CF_TRIAL_OOM: return RP_BAR_OOM;
    case CF_TRIAL_TIMEOUT: return RP_BAR_TIMEOUT;
    default: return RP_BAR_FAILED;
    }
}

static cf_status close_open(rp_run *run, rp_trial *t, double end, rp_bar_kind kind) {
    if (!t->open) return CF_OK;
    t->open = 0;
    for (int r = 0; r < t->open_replicas; r++)
        CF_TRY(add_bar(run, t->id, t->open_attempt, t->open_workers[r], t->open_slots[r], t->open_start, end, kind));
    return CF_OK;
}

static int read_workers(const cJSON *o, int *workers) {
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "workers"), *e;
    int k = 0;
    if (cJSON_IsNumber(w)) return 0;
    cJSON_ArrayForEach(e, w) {
        if (k < CF_MAX_WORKERS && cJSON_IsNumber(e) && e->valuedouble >= 0 && e->valuedouble < CF_MAX_WORKERS)
            workers[k++] = (int)e->valuedouble;
    }
    return k;
}

static cf_trial_status status_of(const char *name) {
    for (int s = CF_TRIAL_PENDING; s <= CF_TRIAL_CUT; s++)
        if (name && strcmp(name, cf_trial_status_name((cf_trial_status)s)) == 0) return (cf_trial_status)s;
    return CF_TRIAL_ERROR;
}

static rp_final *final_of(rp_run *run, int64_t id) {
    for (int i = 0; i < run->n_finals; i++)
        if (run->finals[i].trial == id) return &run->finals[i];
    if (cf_grow((void **)&run->finals, &run->cap_finals, (size_t)run->n_finals + 1, sizeof *run->finals) != CF_OK)
        return NULL;
    rp_final *f = &run->finals[run->n_finals++];
    memset(f, 0, sizeof *f);
    f->trial = id;
    f->val_acc = f->test_acc = f->seconds = -1;
    f->worker = -1;
    return f;
}

static cf_status on_final(loader *L, const char *ev, const cJSON *o, int64_t lineno, double clock) {
    rp_run *run = L->run;
    int64_t id = (int64_t)num(o, "id", -1);
    if (id < 0) CF_FAIL(CF_ERR_PARSE, "%s:%lld: %s without an id", L->path, (long long)lineno, ev);
    rp_final *f = final_of(run, id);
    if (!f) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory", L->path);
    if (strcmp(ev, "final_started") == 0) {
        f->started = 1;
        f->finished = 0;
        f->t_start = clock;
        int workers[CF_MAX_WORKERS];
        /* "worker": N, or a list of workers as the trial events write it */
        f->worker = read_workers(o, workers) > 0 ? workers[0] : (int)num(o, "worker", 0);
        if (f->worker < 0 || f->worker >= CF_MAX_WORKERS) f->worker = 0;
        if (run->final_start < 0 || clock < run->final_start) run->final_start = clock;
        return CF_OK;
    }
    /* final_epoch: the model goes on (its curve comes from test.json or train.cfs) */
    if (strcmp(ev, "final_finished") != 0) return CF_OK;
    f->finished = 1;
    f->t_end = clock;
    const char *status = str(o, "status");
    snprintf(f->status, sizeof f->status, "%s", status ? status : "ok");
    f->val_acc = acc_of(o, "val_acc");
    f->test_acc = acc_of(o, "test_acc");
    f->seconds = num(o, "seconds", -1);
    if (f->started)
        CF_TRY(add_bar(run, id, 1, f->worker, -1, f->t_start, clock,
                       strcmp(f->status, "ok") == 0 ? RP_BAR_FINAL : RP_BAR_FINAL_FAILED));
    return CF_OK;
}

/* trial_proposed: a new trial, pending, at the end of run->trials. */
static cf_status add_trial(loader *L, const cJSON *o, int64_t lineno, int64_t id, double clock) {
    rp_run *run = L->run;
    if (id != run->n_trials)
        CF_FAIL(CF_ERR_PARSE, "%s:%lld: trial ids must count up from 0 without gaps (got %lld)", L->path,
                (long long)lineno, (long long)id);
    size_t cap = (size_t)run->cap_trials;
    if (cf_grow((void **)&run->trials, &cap, (size_t)run->n_trials + 1, sizeof *run->trials) != CF_OK)
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory for %lld trials", L->path, (long long)run->n_trials + 1);
    run->cap_trials = (int64_t)cap;
    rp_trial *t = &run->trials[run->n_trials++];
    memset(t, 0, sizeof *t);
    t->id = id;
    t->arch = dup_or_empty(str(o, "arch"));
    t->reason = dup_or_empty("");
    if (!t->arch || !t->reason) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory", L->path);
    /* "supernet" is the one text cf_arch_parse reads as a supernet, in every space */
    t->supernet = strcmp(t->arch, "supernet") == 0;
    t->parent = (int64_t)num(o, "parent", -1);
    t->epochs = (int)num(o, "epochs", 0);
    t->fraction = num(o, "fraction", 1);
    t->params = (int64_t)num(o, "params", 0);
    t->macs = (int64_t)num(o, "macs", 0);
    t->status = CF_TRIAL_PENDING;
    t->val_acc = -1;
    t->seconds = -1;
    t->start = t->end = clock;
    return CF_OK;
}

/* A trial's attempt starts: its bar opens on its workers' lanes, and each
 * lane learns its node (a search over MPI ranks). */
static cf_status on_started(rp_run *run, rp_trial *t, const cJSON *o, double clock) {
    CF_TRY(close_open(run, t, clock, RP_BAR_OPEN));
    t->status = CF_TRIAL_RUNNING;
    t->open = 1;
    t->open_start = num(o, "start", clock);
    t->open_attempt = (int)num(o, "attempt", 1);
    t->open_replicas = read_workers(o, t->open_workers);
    cf_journal_read_slots(o, t->open_slots, t->open_replicas);
    const cJSON *rank = cJSON_GetObjectItemCaseSensitive(o, "rank"), *host = cJSON_GetObjectItemCaseSensitive(o, "host");
    for (int r = 0; r < t->open_replicas && cJSON_IsNumber(rank) && rank->valuedouble >= 0; r++) {
        int w = t->open_workers[r];
        run->lane_rank[w] = (int)rank->valuedouble;
        snprintf(run->lane_host[w], sizeof run->lane_host[w], "%s", cJSON_IsString(host) ? host->valuestring : "");
        if (run->lane_rank[w] + 1 > run->ranks_seen) run->ranks_seen = run->lane_rank[w] + 1;
    }
    t->attempts = t->open_attempt;
    t->start = t->open_start;
    return CF_OK;
}

/* A supernet's metrics (its method and derived architectures) as JSON text,
 * for the one-shot section; the last finish counts. */
static cf_status keep_metrics(loader *L, rp_trial *t, const cJSON *o) {
    free(t->metrics);
    t->metrics = NULL;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "metrics");
    if (!cJSON_IsObject(m)) return CF_OK;
    char *text = cJSON_PrintUnformatted(m);
    t->metrics = text ? strdup(text) : NULL;
    cJSON_free(text);
    if (!t->metrics) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory", L->path);
    return CF_OK;
}

static cf_status on_line(void *ctx, const cJSON *o, int64_t lineno) {
    loader *L = ctx;
    rp_run *run = L->run;
    const char *ev = str(o, "event");
    double clock = num(o, "clock", run->clock), wall = num(o, "time", 0);
    if (run->lines == 0) run->wall_first = wall;
    run->lines++;
    run->wall_last = wall;
    if (strcmp(ev, "run_started") == 0) {
        int w = (int)num(o, "workers", 0);
        if (w > run->workers && w <= CF_MAX_WORKERS) run->workers = w;
        cf_worker_desc devices[CF_MAX_WORKERS];
        int n = cf_journal_read_devices(o, devices, CF_MAX_WORKERS);
        if (n > 0) memcpy(run->devices, devices, sizeof devices); /* a resume may run on other devices */
        if (n > run->workers) run->workers = n;
        const cJSON *resumed = cJSON_GetObjectItemCaseSensitive(o, "resumed");
        if (cJSON_IsTrue(resumed)) {
            /* what was running when the previous process ended was cut there */
            for (int64_t i = 0; i < run->n_trials; i++) CF_TRY(close_open(run, &run->trials[i], run->clock, RP_BAR_OPEN));
            if (run->n_resumes < (int)(sizeof run->resume_at / sizeof run->resume_at[0]))
                run->resume_at[run->n_resumes++] = clock;
            run->stopped = 0;
        }
        run->clock = clock;
        return CF_OK;
    }
    run->clock = clock;
    if (strcmp(ev, "run_stopped") == 0) {
        run->stopped = 1;
        snprintf(run->stop_reason, sizeof run->stop_reason, "%s", str(o, "reason") ? str(o, "reason") : "");
        return CF_OK;
    }
    if (strncmp(ev, "final_", 6) == 0) return on_final(L, ev, o, lineno, clock);
    int64_t id = (int64_t)num(o, "id", -1);
    if (strcmp(ev, "trial_proposed") == 0) return add_trial(L, o, lineno, id, clock);
    if (strncmp(ev, "trial_", 6) != 0) return CF_OK; /* an event of a newer version */
    if (id < 0 || id >= run->n_trials)
        CF_FAIL(CF_ERR_PARSE, "%s:%lld: %s for trial %lld, which was never proposed", L->path, (long long)lineno, ev,
                (long long)id);
    rp_trial *t = &run->trials[id];
    if (strcmp(ev, "trial_started") == 0) {
        CF_TRY(on_started(run, t, o, clock));
    } else if (strcmp(ev, "trial_retry") == 0) {
        run->retries++;
        CF_TRY(close_open(run, t, clock, RP_BAR_RETRY));
        t->status = CF_TRIAL_PENDING;
        t->attempts = (int)num(o, "attempts", t->attempts);
    } else if (strcmp(ev, "trial_epoch") == 0) {
        int e = (int)num(o, "epoch", -1);
        if (e >= 0 && e < CF_TRAIN_MAX_EPOCHS && e <= t->n_curve) {
            if (e == t->n_curve) {
                cf_epoch_record *c = realloc(t->curve, (size_t)(e + 1) * sizeof *c);
                if (!c) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory", L->path);
                t->curve = c;
                t->n_curve = e + 1;
            }
            t->curve[e] = (cf_epoch_record){e, num(o, "train_loss", -1), acc_of(o, "train_acc"), acc_of(o, "val_acc"),
                                            num(o, "lr", 0), num(o, "seconds", 0)};
        }
    } else if (strcmp(ev, "trial_cut") == 0) {
        /* no result: the budget stopped it (its bar ends there) or it never started */
        t->status = CF_TRIAL_CUT;
        free(t->reason);
        t->reason = dup_or_empty(str(o, "reason"));
        if (!t->reason) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory", L->path);
        t->end = num(o, "end", clock);
        t->val_acc = -1;
        CF_TRY(close_open(run, t, t->end, RP_BAR_CUT));
    } else if (strcmp(ev, "trial_finished") == 0 || strcmp(ev, "trial_rejected") == 0) {
        int rejected = ev[6] == 'r';
        t->status = rejected ? CF_TRIAL_REJECTED : status_of(str(o, "status"));
        free(t->reason);
        t->reason = dup_or_empty(str(o, "reason"));
        if (!t->reason) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory", L->path);
        if (rejected) {
            t->start = t->end = clock;
            return CF_OK;
        }
        t->val_acc = acc_of(o, "val_acc");
        if (t->supernet) CF_TRY(keep_metrics(L, t, o));
        t->epochs_done = (int)num(o, "epochs_done", t->n_curve);
        t->seconds = num(o, "train_seconds", -1);
        t->start = num(o, "start", t->start);
        t->end = num(o, "end", clock);
        t->attempts = (int)num(o, "attempts", t->attempts);
        t->replicas = read_workers(o, t->workers);
        cf_journal_read_slots(o, t->slots, t->replicas);
        if (t->open) {
            t->open_start = t->start;
            CF_TRY(close_open(run, t, t->end, kind_of(t->status)));
        } else {
            for (int r = 0; r < t->replicas; r++)
                CF_TRY(add_bar(run, id, t->attempts, t->workers[r], t->slots[r], t->start, t->end, kind_of(t->status)));
        }
    }
    return CF_OK;
}

/* ---- final models ------------------------------------------------------------------------- */

static void note(rp_final *f, const char *fmt, const char *a, const char *b) {
    if (f->note[0]) return; /* the first problem is the one to fix */
    snprintf(f->note, sizeof f->note, fmt, a, b ? b : "");
}

/* test.json's $.confusion: n_classes rows of n_classes counts, into f->confusion. */
static void read_confusion(rp_final *f, const cJSON *conf, const char *path) {
    int ok = cJSON_IsArray(conf) && cJSON_GetArraySize(conf) == f->n_classes;
    int64_t *m = ok ? calloc((size_t)f->n_classes * (size_t)f->n_classes, sizeof *m) : NULL;
    for (int i = 0; m && ok && i < f->n_classes; i++) {
        const cJSON *row = cJSON_GetArrayItem(conf, i);
        ok = cJSON_IsArray(row) && cJSON_GetArraySize(row) == f->n_classes;
        for (int j = 0; ok && j < f->n_classes; j++) {
            const cJSON *c = cJSON_GetArrayItem(row, j);
            ok = cJSON_IsNumber(c) && c->valuedouble >= 0 && c->valuedouble < 1e15;
            if (ok) m[(size_t)i * (size_t)f->n_classes + (size_t)j] = (int64_t)c->valuedouble;
        }
    }
    if (m && ok) {
        f->confusion = m;
    } else {
        free(m);
        note(f, "%s: $.confusion: expected one row of counts per class, one count per class in each%s", path,
             NULL);
    }
}

static void read_test_json(rp_final *f, const char *dir) {
    char path[1300];
    snprintf(path, sizeof path, "%s/test.json", dir);
    struct stat sb;
    if (stat(path, &sb) != 0 && errno == ENOENT) {
        note(f, "%s: missing (the retrain has not finished, or it failed before testing)", path, NULL);
        return;
    }
    char *text = NULL;
    cf_status st = cf_file_read(path, 64u << 20, CF_FILE_NOFOLLOW, &text, NULL);
    if (st != CF_OK) {
        note(f, "%s%s", cf_error_message(), NULL);
        return;
    }
    cJSON *root = NULL;
    st = cf_json_parse(text, path, &root);
    free(text);
    if (st != CF_OK) {
        note(f, "%s%s", cf_error_message(), NULL);
        return;
    }
    if (!cJSON_IsObject(root)) {
        note(f, "%s: $: expected an object%s", path, NULL);
        cJSON_Delete(root);
        return;
    }
    f->have_test = 1;
    int64_t id = (int64_t)num(root, "trial", (double)f->trial);
    if (id != f->trial) note(f, "%s: $.trial: does not match the directory's trial id%s", path, NULL);
    const char *status = str(root, "status");
    snprintf(f->status, sizeof f->status, "%s", status ? status : "ok");
    free(f->reason);
    f->reason = dup_or_empty(str(root, "reason"));
    const char *arch = str(root, "arch");
    if (arch) {
        free(f->arch);
        f->arch = strdup(arch);
    }
    f->epochs = (int)num(root, "epochs", 0);
    f->val_acc = acc_of(root, "val_acc");
    f->test_acc = acc_of(root, "test_acc");
    f->seconds = num(root, "seconds", -1);
    f->params = (int64_t)num(root, "params", 0);
    f->macs = (int64_t)num(root, "macs", 0);
    const cJSON *classes = cJSON_GetObjectItemCaseSensitive(root, "classes");
    const cJSON *per = cJSON_GetObjectItemCaseSensitive(root, "per_class_acc");
    const cJSON *conf = cJSON_GetObjectItemCaseSensitive(root, "confusion");
    int k = cJSON_IsArray(classes) ? cJSON_GetArraySize(classes) : cJSON_IsArray(per) ? cJSON_GetArraySize(per) : 0;
    if (k > 1000) {
        note(f, "%s: $.classes: more than 1000 classes%s", path, NULL);
        k = 0;
    }
    if (k > 0) {
        f->classes = calloc((size_t)k, sizeof *f->classes);
        f->per_class = calloc((size_t)k, sizeof *f->per_class);
        if (f->classes && f->per_class) {
            f->n_classes = k;
            for (int i = 0; i < k; i++) {
                const cJSON *c = cJSON_GetArrayItem(classes, i);
                char name[32];
                snprintf(name, sizeof name, "%d", i);
                f->classes[i] = strdup(cJSON_IsString(c) ? c->valuestring : name);
                const cJSON *a = cJSON_GetArrayItem(per, i);
                f->per_class[i] = cJSON_IsNumber(a) && a->valuedouble >= 0 && a->valuedouble <= 1 ? a->valuedouble : -1;
                if (!f->classes[i]) {
                    f->n_classes = i; /* out of memory: the classes read so far */
                    break;
                }
            }
            if (cJSON_IsArray(per) && cJSON_GetArraySize(per) != k)
                note(f, "%s: $.per_class_acc: expected one accuracy per class%s", path, NULL);
        }
    }
    if (f->n_classes > 0 && conf) read_confusion(f, conf, path);
    /* per-class accuracy from the matrix's rows where the file has none */
    for (int i = 0; f->confusion && i < f->n_classes; i++) {
        if (f->per_class[i] >= 0) continue;
        int64_t total = 0, *row = &f->confusion[(size_t)i * (size_t)f->n_classes];
        for (int j = 0; j < f->n_classes; j++) total += row[j];
        if (total > 0) f->per_class[i] = (double)row[i] / (double)total;
    }
    f->n_curve = read_curve(cJSON_GetObjectItemCaseSensitive(root, "curve"), &f->curve);
    cJSON_Delete(root);
}

static int all_digits(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

static int cmp_final(const void *a, const void *b) {
    const rp_final *x = a, *y = b;
    if (x->val_acc != y->val_acc) return x->val_acc < y->val_acc ? 1 : -1;
    return x->trial < y->trial ? -1 : (x->trial > y->trial);
}

static cf_status load_finals(rp_run *run) {
    char path[1300];
    snprintf(path, sizeof path, "%s/final", run->dir);
    DIR *d = opendir(path);
    if (!d) {
        if (errno != ENOENT) snprintf(run->final_note, sizeof run->final_note, "%s: %s", path, strerror(errno));
    } else {
        run->have_final_dir = 1;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!all_digits(e->d_name)) continue;
            rp_final *f = final_of(run, strtoll(e->d_name, NULL, 10));
            if (!f) {
                closedir(d);
                CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory", path);
            }
        }
        closedir(d);
    }
    struct stat best;
    snprintf(path, sizeof path, "%s/best.cfm", run->dir);
    int have_best = stat(path, &best) == 0;
    int best_found = 0;
    for (int i = 0; i < run->n_finals; i++) {
        rp_final *f = &run->finals[i];
        char dir[1200];
        snprintf(dir, sizeof dir, "%s/final/%lld", run->dir, (long long)f->trial);
        if (run->have_final_dir) read_test_json(f, dir);
        if (!f->arch && f->trial >= 0 && f->trial < run->n_trials) f->arch = strdup(run->trials[f->trial].arch);
        if (!f->reason) f->reason = dup_or_empty("");
        if (!f->status[0]) snprintf(f->status, sizeof f->status, "%s", f->started && !f->finished ? "running" : "-");
        if (f->n_curve == 0) {
            snprintf(path, sizeof path, "%s/train.cfs", dir);
            f->n_curve = rp_read_state_curve(path, &f->curve);
        }
        snprintf(path, sizeof path, "%s/model.cfm", dir);
        struct stat sb;
        if (have_best && stat(path, &sb) == 0 && sb.st_ino == best.st_ino && sb.st_dev == best.st_dev) {
            f->is_best = 1;
            best_found = 1;
        }
    }
    if (run->n_finals > 1) qsort(run->finals, (size_t)run->n_finals, sizeof *run->finals, cmp_final);
    /* without a best.cfm to go by, the best is the highest validation accuracy */
    if (!best_found && run->n_finals > 0 && run->finals[0].val_acc >= 0 && strcmp(run->finals[0].status, "ok") == 0)
        run->finals[0].is_best = 1;
    return CF_OK;
}

/* The curves of the best trials and the supernets from their training state
 * files where the journal holds no epochs for them (a journal of an older
 * version). */
static void load_state_curves(rp_run *run) {
    if (run->simulated) return;
    const rp_trial **v = rp_sorted_trials(run);
    for (int64_t i = 0, k = 0; v && i < run->n_trials && v[i]->status == CF_TRIAL_OK; i++) {
        rp_trial *t = &run->trials[v[i]->id];
        if (!t->supernet && k++ >= 6) continue;
        if (t->n_curve > 0) continue;
        char path[1300];
        snprintf(path, sizeof path, "%s/trials/%lld/train.cfs", run->dir, (long long)t->id);
        t->n_curve = rp_read_state_curve(path, &t->curve);
    }
    free(v);
}

/* 1 when a search holds RUN/lock (as `cellforge status` tells a running search). */
static int run_is_live(const char *dir) {
    char path[1100];
    snprintf(path, sizeof path, "%s/lock", dir);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return 0;
    int live = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    return live;
}

/* ---- the whole run --------------------------------------------------------------------------- */

void rp_run_free(rp_run *run) {
    for (int i = 0; i < run->n_spec; i++) {
        free(run->spec[i].key);
        free(run->spec[i].value);
        for (int k = 0; k < run->spec[i].n_items; k++) free(run->spec[i].items[k]);
        free(run->spec[i].items);
    }
    free(run->spec);
    cf_space_destroy(run->space);
    for (int64_t i = 0; i < run->n_trials; i++) {
        free(run->trials[i].arch);
        free(run->trials[i].reason);
        free(run->trials[i].curve);
        free(run->trials[i].metrics);
    }
    free(run->trials);
    free(run->bars);
    for (int i = 0; i < run->n_finals; i++) {
        rp_final *f = &run->finals[i];
        for (int k = 0; k < f->n_classes; k++) free(f->classes[k]);
        free(f->classes);
        free(f->per_class);
        free(f->confusion);
        free(f->curve);
        free(f->reason);
        free(f->arch);
    }
    free(run->finals);
    memset(run, 0, sizeof *run);
}

cf_status rp_run_load(const char *dir, rp_run *run) {
    memset(run, 0, sizeof *run);
    snprintf(run->dir, sizeof run->dir, "%s", dir);
    run->final_start = -1;
    run->live = run_is_live(dir);
    cf_status st;
    CF_TRY_GOTO(st, load_spec(run), fail);
    load_space(run);
    const char *ev = rp_spec(run, "evaluator");
    run->simulated = ev && strncmp(ev, "table:", 6) == 0;
    const char *epochs = rp_spec(run, "epochs");
    run->fidelity = epochs ? atoi(epochs) : 0;
    char path[1100];
    snprintf(path, sizeof path, "%s/journal.jsonl", run->dir);
    loader L = {run, path};
    cf_journal_scan scan;
    CF_TRY_GOTO(st, cf_journal_read(path, on_line, &L, &scan), fail);
    if (scan.torn) {
        run->torn = 1;
        run->torn_line = scan.lines + 1;
    }
    for (int64_t i = 0; i < run->n_trials; i++) CF_TRY_GOTO(st, close_open(run, &run->trials[i], run->clock, RP_BAR_OPEN), fail);
    for (int i = 0; i < run->n_finals; i++) {
        rp_final *f = &run->finals[i];
        if (f->started && !f->finished) CF_TRY_GOTO(st, add_bar(run, f->trial, 1, f->worker, -1, f->t_start, run->clock, RP_BAR_OPEN), fail);
    }
    if (run->fidelity <= 0)
        for (int64_t i = 0; i < run->n_trials; i++)
            if (run->trials[i].epochs > run->fidelity) run->fidelity = run->trials[i].epochs;
    if (run->workers == 0) run->workers = 1;
    CF_TRY_GOTO(st, load_finals(run), fail);
    load_state_curves(run);
    return CF_OK;
fail:
    rp_run_free(run);
    return st;
}

/* ---- views ---------------------------------------------------------------------------------- */

int rp_trial_is_model(const rp_trial *t) { return t->status == CF_TRIAL_OK && !t->supernet; }

/* The display groups: models, supernets that finished ok, the others, the rejected. */
static int display_group(const rp_trial *t) {
    return rp_trial_is_model(t) ? 0 : t->status == CF_TRIAL_OK ? 1 : t->status == CF_TRIAL_REJECTED ? 3 : 2;
}

static int cmp_display(const void *a, const void *b) {
    const rp_trial *x = *(const rp_trial *const *)a, *y = *(const rp_trial *const *)b;
    int gx = display_group(x), gy = display_group(y);
    if (gx != gy) return gx - gy;
    if (gx == 0 && x->val_acc != y->val_acc) return x->val_acc < y->val_acc ? 1 : -1;
    return x->id < y->id ? -1 : (x->id > y->id);
}

const rp_trial **rp_sorted_trials(const rp_run *run) {
    if (run->n_trials <= 0) return NULL;
    const rp_trial **v = malloc((size_t)run->n_trials * sizeof *v);
    if (!v) return NULL;
    for (int64_t i = 0; i < run->n_trials; i++) v[i] = &run->trials[i];
    qsort(v, (size_t)run->n_trials, sizeof *v, cmp_display);
    return v;
}
