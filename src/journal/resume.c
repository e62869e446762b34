/* resume.c - a search's events as journal lines, and the journal read back
 * into the record cf_search_run resumes from.
 *
 * The controller's asks and tells are journaled in the order they happen
 * (trial_proposed is an ask; trial_finished and trial_rejected are tells), so
 * a new strategy fed the same sequence reaches the same state: no strategy
 * needs its own snapshot format, and replaying checks every proposal against
 * the record. trial_cut (a trial the time budget stopped, or did not start) is
 * no tell: the trial reads back as asked and not finished, and a resume runs it
 * again like one a crash interrupted, from its recorded start when it had
 * started. Tests: tests/test_journal.c, tests/test_sched.c.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/grow.h"
#include "cellforge/journal.h"
#include "cellforge/sched.h"
#include "journal_read.h"
#include "core/json_read.h"

/* ---- writing events ------------------------------------------------------------ */

/* ,"rank":R,"host":"H" of a trial that was dispatched (the journal names
 * where each trial ran); nothing for one that never was. */
static void where_json(const cf_trial *t, char *fields, size_t cap) {
    if (!t->host[0]) return;
    char esc[2 * CF_HOST_MAX + 8];
    size_t n = strlen(fields);
    snprintf(fields + n, cap - n, ",\"rank\":%d,\"host\":\"%s\"", t->rank, cf_journal_escape(t->host, esc, sizeof esc));
}

/* "[w0,w1,...]" of the trial's workers, with ",\"slots\":[s0,s1,...]" after it:
 * the slot of each worker it ran in. */
static int workers_json(const cf_trial *t, char *buf, size_t cap) {
    int n = snprintf(buf, cap, "[");
    for (int r = 0; r < t->replicas && (size_t)n < cap; r++) n += snprintf(buf + n, cap - (size_t)n, "%s%d", r ? "," : "", t->workers[r]);
    if ((size_t)n < cap) n += snprintf(buf + n, cap - (size_t)n, "],\"slots\":[");
    for (int r = 0; r < t->replicas && (size_t)n < cap; r++) n += snprintf(buf + n, cap - (size_t)n, "%s%d", r ? "," : "", t->slots[r]);
    if ((size_t)n < cap) n += snprintf(buf + n, cap - (size_t)n, "]");
    return n;
}

char *cf_journal_devices_json(const cf_worker_desc *w, int n, char *buf, size_t cap) {
    size_t len = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < n && len < cap; i++) {
        char name[2 * sizeof w[i].name + 8], device[2 * sizeof w[i].device + 8], host[2 * CF_HOST_MAX + 8];
        len += (size_t)snprintf(buf + len, cap - len,
                                "%s{\"worker\":%d,\"name\":\"%s\",\"device\":\"%s\",\"kind\":\"%s\",\"threads\":%d,"
                                "\"slots\":%d,\"rank\":%d,\"host\":\"%s\"}",
                                i ? "," : "", i, cf_journal_escape(w[i].name, name, sizeof name),
                                cf_journal_escape(w[i].device, device, sizeof device),
                                w[i].kind == CF_WORKER_CUDA ? "cuda" : "cpu", w[i].threads, w[i].slots, w[i].rank,
                                cf_journal_escape(w[i].host, host, sizeof host));
    }
    if (len < cap) snprintf(buf + len, cap - len, "]");
    return buf;
}

cf_status cf_journal_event(cf_journal *j, cf_search_event_kind kind, const cf_trial *t, double clock) {
    /* an arch text escaped for JSON takes at most twice its bytes */
    char fields[2 * CF_ARCH_TEXT_MAX + 2048], esc[2 * CF_ARCH_TEXT_MAX + 16], workers[512];
    switch (kind) {
    case CF_EVENT_PROPOSED:
        snprintf(fields, sizeof fields,
                 "\"id\":%lld,\"arch\":\"%s\",\"epochs\":%d,\"fraction\":%.17g,\"parent\":%lld,\"params\":%lld,"
                 "\"macs\":%lld,\"activation_bytes\":%zu,\"latency_ms\":%.17g",
                 (long long)t->id, cf_journal_escape(t->arch, esc, sizeof esc), t->cand.epochs, t->cand.fraction,
                 (long long)t->cand.parent, (long long)t->cost.params, (long long)t->cost.macs,
                 t->cost.activation_bytes, t->latency_ms);
        /* the zero-cost proxy objective's score; a non-finite one as null */
        if (!isnan(t->proxy)) {
            size_t n = strlen(fields);
            if (isfinite(t->proxy)) snprintf(fields + n, sizeof fields - n, ",\"proxy\":%.17g", t->proxy);
            else snprintf(fields + n, sizeof fields - n, ",\"proxy\":null");
        }
        return cf_journal_append(j, "trial_proposed", clock, fields);
    case CF_EVENT_REJECTED:
        snprintf(fields, sizeof fields, "\"id\":%lld,\"reason\":\"%s\"", (long long)t->id,
                 cf_journal_escape(t->reason, esc, sizeof esc));
        return cf_journal_append(j, "trial_rejected", clock, fields);
    case CF_EVENT_STARTED:
        workers_json(t, workers, sizeof workers);
        snprintf(fields, sizeof fields,
                 "\"id\":%lld,\"attempt\":%d,\"batch\":%d,\"replicas\":%d,\"workers\":%s,\"start\":%.17g,\"memory\":%zu",
                 (long long)t->id, t->attempts, t->batch, t->replicas, workers, t->start, t->memory);
        where_json(t, fields, sizeof fields);
        return cf_journal_append(j, "trial_started", clock, fields);
    case CF_EVENT_RETRY:
        snprintf(fields, sizeof fields, "\"id\":%lld,\"attempts\":%d,\"batch\":%d", (long long)t->id, t->attempts,
                 t->batch);
        return cf_journal_append(j, "trial_retry", clock, fields);
    case CF_EVENT_FINISHED:
        workers_json(t, workers, sizeof workers);
        snprintf(fields, sizeof fields,
                 "\"id\":%lld,\"status\":\"%s\",\"reason\":\"%s\",\"val_acc\":%.17g,\"epochs_done\":%d,"
                 "\"train_seconds\":%.17g,\"start\":%.17g,\"end\":%.17g,\"attempts\":%d,\"batch\":%d,"
                 "\"replicas\":%d,\"workers\":%s,\"memory\":%zu",
                 (long long)t->id, cf_trial_status_name(t->status), cf_journal_escape(t->reason, esc, sizeof esc),
                 t->val_acc, t->epochs_done, t->train_seconds, t->start, t->end, t->attempts, t->batch, t->replicas,
                 workers, t->memory);
        if (t->replicas > 0) where_json(t, fields, sizeof fields);
        if (t->metrics[0]) { /* a compact JSON object, checked by the evaluator that made it */
            size_t n = strlen(fields);
            snprintf(fields + n, sizeof fields - n, ",\"metrics\":%s", t->metrics);
        }
        return cf_journal_append(j, "trial_finished", clock, fields);
    case CF_EVENT_CUT:
        workers_json(t, workers, sizeof workers);
        snprintf(fields, sizeof fields,
                 "\"id\":%lld,\"reason\":\"%s\",\"epochs_done\":%d,\"train_seconds\":%.17g,\"start\":%.17g,"
                 "\"end\":%.17g,\"attempts\":%d,\"batch\":%d,\"replicas\":%d,\"workers\":%s,\"memory\":%zu",
                 (long long)t->id, cf_journal_escape(t->reason, esc, sizeof esc), t->epochs_done, t->train_seconds,
                 t->start, t->end, t->attempts, t->batch, t->replicas, workers, t->memory);
        return cf_journal_append(j, "trial_cut", clock, fields);
    }
    return CF_OK;
}

cf_status cf_journal_epoch(cf_journal *j, const cf_trial *t, const cf_epoch_record *r, double clock) {
    char fields[512];
    snprintf(fields, sizeof fields,
             "\"id\":%lld,\"epoch\":%d,\"train_loss\":%.9g,\"train_acc\":%.9g,\"val_acc\":%.9g,\"lr\":%.9g,"
             "\"seconds\":%.6g",
             (long long)t->id, r->epoch, r->train_loss, r->train_acc, r->val_acc, r->lr, r->seconds);
    return cf_journal_append(j, "trial_epoch", clock, fields);
}

/* ---- reading back --------------------------------------------------------------- */

typedef struct loader {
    const char *path;
    const cf_space *space;
    cf_search_replay *r;
    int64_t cap, steps_cap;
} loader;

static cf_status fail_line(const loader *L, int64_t lineno, const char *fmt, const char *what) {
    CF_FAIL(CF_ERR_PARSE, "%s:%lld: %s%s", L->path, (long long)lineno, fmt, what ? what : "");
}

static double num(const cJSON *o, const char *key, double def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

/* num as an integer type: def where the number is out of that type's range
 * (a damaged journal must not make the conversion undefined). */
static int num_int(const cJSON *o, const char *key, int def) {
    double v = num(o, key, def);
    return v >= INT_MIN && v <= INT_MAX ? (int)v : def;
}
static int64_t num_i64(const cJSON *o, const char *key, int64_t def) {
    double v = num(o, key, (double)def);
    return v >= -9.2e18 && v <= 9.2e18 ? (int64_t)v : def;
}
static size_t num_size(const cJSON *o, const char *key) {
    double v = num(o, key, 0);
    return v >= 0 && v <= 1.8e19 ? (size_t)v : 0;
}

static const char *str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static cf_status add_step(loader *L, int tell, int64_t trial) {
    cf_search_replay *r = L->r;
    size_t cap = (size_t)L->steps_cap;
    if (cf_grow((void **)&r->steps, &cap, (size_t)r->n_steps + 1, sizeof *r->steps) != CF_OK)
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory", L->path);
    L->steps_cap = (int64_t)cap;
    r->steps[r->n_steps++] = (cf_replay_step){tell, trial};
    return CF_OK;
}

/* "workers" and "slots". */
static void read_workers(const cJSON *o, cf_trial *t) {
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "workers");
    int k = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, w) {
        if (k < CF_MAX_WORKERS && cJSON_IsNumber(e) && e->valuedouble >= 0 && e->valuedouble <= INT_MAX)
            t->workers[k++] = (int)e->valuedouble;
    }
    t->replicas = k;
    cf_journal_read_slots(o, t->slots, k);
}

void cf_journal_read_slots(const cJSON *o, int *slots, int n) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "slots");
    for (int r = 0; r < n; r++) {
        const cJSON *v = cJSON_IsArray(arr) ? cJSON_GetArrayItem(arr, r) : NULL;
        slots[r] = cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < CF_MAX_SLOTS ? (int)v->valuedouble : -1;
    }
}

int cf_journal_read_devices(const cJSON *o, cf_worker_desc *w, int max) {
    memset(w, 0, (size_t)max * sizeof *w);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "devices"), *e;
    int n = 0;
    cJSON_ArrayForEach(e, arr) {
        int i = num_int(e, "worker", -1);
        if (i < 0 || i >= max || !cJSON_IsObject(e)) continue;
        cf_worker_desc *d = &w[i];
        const char *name = str(e, "name"), *device = str(e, "device"), *kind = str(e, "kind"), *host = str(e, "host");
        snprintf(d->name, sizeof d->name, "%s", name ? name : "");
        snprintf(d->device, sizeof d->device, "%s", device ? device : "");
        snprintf(d->host, sizeof d->host, "%s", host ? host : "");
        d->kind = kind && strcmp(kind, "cuda") == 0 ? CF_WORKER_CUDA : CF_WORKER_CPU;
        d->threads = num_int(e, "threads", 0);
        d->slots = num_int(e, "slots", 1);
        if (d->slots < 1 || d->slots > CF_MAX_SLOTS) d->slots = d->slots < 1 ? 1 : CF_MAX_SLOTS;
        d->rank = num_int(e, "rank", 0);
        if (d->rank < 0) d->rank = 0;
        if (i + 1 > n) n = i + 1;
    }
    return n;
}

static int cmp_span(const void *a, const void *b) {
    const cf_span *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

double cf_span_union(cf_span *s, size_t n) {
    if (n == 0) return 0;
    qsort(s, n, sizeof *s, cmp_span);
    double total = 0, lo = s[0].start, hi = s[0].end;
    for (size_t i = 1; i < n; i++) {
        if (s[i].start > hi) {
            total += hi - lo;
            lo = s[i].start;
            hi = s[i].end;
        } else if (s[i].end > hi) {
            hi = s[i].end;
        }
    }
    return total + (hi - lo);
}

static cf_trial_status status_of(const char *name) {
    cf_trial_status s;
    return name && cf_trial_status_parse(name, &s) ? s : CF_TRIAL_ERROR;
}

/* trial_proposed: a new trial, pending, and an ask. */
static cf_status on_proposed(loader *L, const cJSON *o, int64_t lineno) {
    cf_search_replay *r = L->r;
    int64_t id = num_i64(o, "id", -1);
    if (id != r->n) return fail_line(L, lineno, "trial ids must count up from 0 without gaps", NULL);
    if (r->n == L->cap) {
        /* two arrays of one capacity: both grow before it moves */
        size_t cap_t = (size_t)L->cap, cap_s = (size_t)L->cap, need = (size_t)r->n + 1;
        if (cf_grow((void **)&r->trials, &cap_t, need, sizeof *r->trials) != CF_OK ||
            cf_grow((void **)&r->started, &cap_s, need, sizeof *r->started) != CF_OK)
            CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory for %lld trials", L->path, (long long)need);
        L->cap = (int64_t)(cap_t < cap_s ? cap_t : cap_s);
    }
    cf_trial *t = &r->trials[r->n];
    memset(t, 0, sizeof *t);
    r->started[r->n] = 0;
    r->n++;
    t->id = id;
    const char *arch = str(o, "arch");
    if (!arch) return fail_line(L, lineno, "trial_proposed without an arch", NULL);
    snprintf(t->arch, sizeof t->arch, "%s", arch);
    if (cf_arch_parse(L->space, arch, &t->cand.arch) != CF_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", cf_error_message());
        return fail_line(L, lineno, "the recorded arch does not parse in this space: ", msg);
    }
    t->cand.epochs = num_int(o, "epochs", 0);
    t->cand.fraction = num(o, "fraction", 1);
    t->cand.parent = num_i64(o, "parent", -1);
    t->cost.params = num_i64(o, "params", 0);
    t->cost.macs = num_i64(o, "macs", 0);
    t->cost.activation_bytes = num_size(o, "activation_bytes");
    t->latency_ms = num(o, "latency_ms", -1);
    const cJSON *proxy = cJSON_GetObjectItemCaseSensitive(o, "proxy");
    t->proxy = cJSON_IsNumber(proxy) ? proxy->valuedouble : cJSON_IsNull(proxy) ? -INFINITY : NAN;
    t->val_acc = -1;
    t->status = CF_TRIAL_PENDING;
    return add_step(L, 0, id);
}

static cf_status on_line(void *ctx, const cJSON *o, int64_t lineno) {
    loader *L = ctx;
    cf_search_replay *r = L->r;
    const char *ev = str(o, "event");
    /* the zero-cost scores a search computed: read back by the scorer (scorer.h);
     * they carry the clock of the event before them */
    if (strcmp(ev, "proxy_scored") == 0) return CF_OK;
    r->clock = num(o, "clock", r->clock);
    if (strcmp(ev, "trial_proposed") == 0) return on_proposed(L, o, lineno);
    if (strcmp(ev, "run_started") == 0 || strcmp(ev, "run_stopped") == 0) return CF_OK;
    int64_t id = num_i64(o, "id", -1);
    if (id < 0 || id >= r->n) return fail_line(L, lineno, "an event for a trial that was never proposed", NULL);
    cf_trial *t = &r->trials[id];
    if (strcmp(ev, "trial_started") == 0) {
        t->status = CF_TRIAL_RUNNING;
        r->started[id] = 1;
        t->attempts = num_int(o, "attempt", 1);
        t->batch = num_int(o, "batch", 0);
        t->start = num(o, "start", 0);
        t->memory = num_size(o, "memory");
        read_workers(o, t);
    } else if (strcmp(ev, "trial_retry") == 0) {
        t->status = CF_TRIAL_PENDING;
        r->started[id] = 0;
        t->attempts = num_int(o, "attempts", t->attempts);
        t->batch = num_int(o, "batch", t->batch);
        t->retries++;
        r->retries++;
    } else if (strcmp(ev, "trial_epoch") == 0) {
        int e = num_int(o, "epoch", -1);
        if (e >= 0 && e < CF_TRAIN_MAX_EPOCHS && e == t->epochs_done) {
            cf_epoch_record *c = realloc(t->curve, (size_t)(e + 1) * sizeof *c);
            if (!c) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory", L->path);
            t->curve = c;
            c[e] = (cf_epoch_record){e, num(o, "train_loss", 0), num(o, "train_acc", 0), num(o, "val_acc", -1),
                                     num(o, "lr", 0), num(o, "seconds", 0)};
            t->epochs_done = e + 1;
        }
    } else if (strcmp(ev, "trial_finished") == 0 || strcmp(ev, "trial_rejected") == 0) {
        int rejected = ev[6] == 'r';
        t->status = rejected ? CF_TRIAL_REJECTED : status_of(str(o, "status"));
        const char *reason = str(o, "reason");
        snprintf(t->reason, sizeof t->reason, "%s", reason ? reason : "");
        r->started[id] = 0;
        const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(o, "metrics");
        char *text = cJSON_IsObject(metrics) ? cJSON_PrintUnformatted(metrics) : NULL;
        snprintf(t->metrics, sizeof t->metrics, "%s", text && strlen(text) < sizeof t->metrics ? text : "");
        free(text);
        if (!rejected) {
            t->val_acc = num(o, "val_acc", -1);
            t->epochs_done = num_int(o, "epochs_done", t->epochs_done);
            t->train_seconds = num(o, "train_seconds", 0);
            t->start = num(o, "start", t->start);
            t->end = num(o, "end", 0);
            t->attempts = num_int(o, "attempts", t->attempts);
            t->batch = num_int(o, "batch", t->batch);
            if (cf_json_has(o, "memory")) t->memory = num_size(o, "memory");
            read_workers(o, t);
        } else {
            t->start = t->end = r->clock;
        }
        return add_step(L, 1, id);
    } else if (strcmp(ev, "trial_cut") == 0) {
        /* no step: still asked, not told; r->started stays as trial_started or
         * trial_retry left it, so a trial that ran restarts at its start */
        t->status = CF_TRIAL_CUT;
        const char *reason = str(o, "reason");
        snprintf(t->reason, sizeof t->reason, "%s", reason ? reason : "");
        t->train_seconds = num(o, "train_seconds", 0);
        t->start = num(o, "start", t->start);
        t->end = num(o, "end", r->clock);
        t->attempts = num_int(o, "attempts", t->attempts);
        t->batch = num_int(o, "batch", t->batch);
    }
    /* unknown events from a newer version are skipped: they carry nothing this
     * version could act on, and spec.json's format guards incompatible changes */
    return CF_OK;
}

cf_status cf_search_replay_load(const char *journal, const cf_space *s, cf_search_replay *out, cf_journal_scan *scan) {
    memset(out, 0, sizeof *out);
    loader L = {journal, s, out, 0, 0};
    cf_status st = cf_journal_read(journal, on_line, &L, scan);
    /* every run's journal opens with run_started, written before the run
     * directory gets its name: an empty one lost its record (a resume would
     * start over and overwrite trials.tsv) */
    if (st == CF_OK && scan->lines == 0)
        st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__,
                          "%s: the journal is empty (not even its run_started line): the run's record is lost; "
                          "nothing can be resumed or shown from it",
                          journal);
    if (st != CF_OK) cf_search_replay_free(out);
    return st;
}

void cf_search_replay_free(cf_search_replay *r) {
    if (!r) return;
    for (int64_t i = 0; i < r->n; i++) free(r->trials[i].curve);
    free(r->trials);
    free(r->steps);
    free(r->started);
    memset(r, 0, sizeof *r);
}
