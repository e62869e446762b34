/* cmd_status.c - `cellforge status RUN`: a search's progress read from its run
 * directory, while it runs or after it stopped (the journal is the record).
 *
 *   cellforge status runs/nb201-20261123-181500
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cellforge/file.h"
#include "cellforge/grow.h"
#include "cellforge/journal.h"
#include "cellforge/sched.h"
#include "cli.h"
#include "journal/journal_read.h"

const char *const cmd_status_usage =
    "usage: cellforge status RUN [--top N]\n\n"
    "Shows a search's progress from its run directory: whether it is running,\n"
    "trials finished, running, failed, cut by the time budget and rejected, the\n"
    "best trials, what each running trial has reached, and the failures with\n"
    "their reasons. Works while the search runs (read-only) and after it stopped\n"
    "or crashed, and the final phase: the models retrained and their test accuracy.\n"
    "The devices section names each worker's device (its rank and host when the\n"
    "search spans MPI ranks), the trials running on it with the slot of each, and\n"
    "how busy it was: the share of the run clock with at least one trial on it.\n";

/* 1 when a search holds the run's lock. */
static int run_is_live(const char *dir, long *pid) {
    char path[1100];
    snprintf(path, sizeof path, "%s/lock", dir);
    *pid = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat sb;
    if (fd >= 0 && (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))) {
        close(fd);
        fd = -1;
    }
    if (fd < 0) return 0;
    char buf[32] = "";
    if (read(fd, buf, sizeof buf - 1) > 0) *pid = atol(buf);
    int live = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    return live;
}

/* A number field of a journal line ("key":value), or def. */
static double field(const char *line, const char *key, double def) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(line, pat);
    return p ? strtod(p + strlen(pat), NULL) : def;
}

/* The final phase (search_final.c) from its journal events: each model's
 * state, last epoch and, when done, its validation and test accuracy. */
static void print_final(const char *journal) {
    FILE *f = NULL;
    if (cf_file_fopen_read(journal, CF_JOURNAL_MAX_BYTES, CF_FILE_NOFOLLOW, &f) != CF_OK) {
        cf_error_clear(); /* the replay read the same journal and said why */
        return;
    }
    enum { MAX = 64 };
    struct {
        long long id;
        int started, finished, ok, epoch, epochs;
        double val, test;
    } m[MAX];
    int n = 0;
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        const char *ev = strstr(line, "\"event\":\"final_");
        if (!ev) continue;
        long long id = (long long)field(line, "id", -1);
        int k = 0;
        while (k < n && m[k].id != id) k++;
        if (k == n) {
            if (n == MAX) continue;
            memset(&m[n], 0, sizeof m[n]);
            m[n].id = id;
            m[n].epoch = -1;
            n++;
        }
        ev += strlen("\"event\":\"final_");
        if (strncmp(ev, "started", 7) == 0) {
            m[k].started = 1;
            m[k].epochs = (int)field(line, "epochs", 0);
        } else if (strncmp(ev, "epoch", 5) == 0) {
            m[k].epoch = (int)field(line, "epoch", -1);
            m[k].val = field(line, "val_acc", -1);
        } else if (strncmp(ev, "finished", 8) == 0) {
            m[k].finished = 1;
            m[k].ok = strstr(line, "\"status\":\"ok\"") != NULL;
            m[k].val = field(line, "val_acc", -1);
            m[k].test = field(line, "test_acc", -1);
        }
    }
    fclose(f);
    if (n == 0) return;
    /* tested means a test accuracy: a model that failed (a full disk, out of
     * memory) finished without one */
    int tested = 0, failed = 0;
    for (int k = 0; k < n; k++) {
        tested += m[k].finished && m[k].ok;
        failed += m[k].finished && !m[k].ok;
    }
    printf("final     %d of %d models retrained and tested", tested, n);
    if (failed) printf(", %d failed", failed);
    printf("\n");
    for (int k = 0; k < n; k++) {
        if (m[k].finished && m[k].ok)
            printf("  trial %-5lld val %6.2f%%  test %6.2f%%\n", m[k].id, 100 * m[k].val, 100 * m[k].test);
        else if (m[k].finished)
            printf("  trial %-5lld failed (see the journal's final_finished event)\n", m[k].id);
        else if (m[k].epoch >= 0)
            printf("  trial %-5lld epoch %d of %d, val %.2f%%\n", m[k].id, m[k].epoch + 1, m[k].epochs, 100 * m[k].val);
        else
            printf("  trial %-5lld started\n", m[k].id);
    }
}

/* ---- devices: each worker's device, what runs on it, how busy it was ---------- */

/* An attempt of a trial (or of a final model) that started and has not ended. */
typedef struct attempt {
    int64_t id;
    int final;                           /* a final model of trial id */
    int n;
    int workers[CF_MAX_WORKERS], slots[CF_MAX_WORKERS];
    double start;
} attempt;

typedef struct dev_scan {
    cf_worker_desc desc[CF_MAX_WORKERS]; /* the last run_started's "devices" */
    int n_desc;
    int lanes;                           /* workers named by run_started or a trial */
    cf_span *spans[CF_MAX_WORKERS];      /* (n_spans) each worker's ended attempts; owned */
    size_t n_spans[CF_MAX_WORKERS], cap_spans[CF_MAX_WORKERS];
    attempt *open;                       /* (n_open) the attempts running; owned */
    size_t n_open, cap_open;
    double clock, time;                  /* run clock and wall time of the last line */
} dev_scan;

static double jnum(const cJSON *o, const char *key, double def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) && v->valuedouble == v->valuedouble ? v->valuedouble : def;
}

static cf_status add_span(dev_scan *d, int w, double start, double end) {
    if (w < 0 || w >= CF_MAX_WORKERS || !(end >= start)) return CF_OK;
    CF_TRY(cf_grow((void **)&d->spans[w], &d->cap_spans[w], d->n_spans[w] + 1, sizeof *d->spans[w]));
    d->spans[w][d->n_spans[w]++] = (cf_span){start, end};
    if (w + 1 > d->lanes) d->lanes = w + 1;
    return CF_OK;
}

/* The attempt of trial (or final model) id that is running; NULL when none. */
static attempt *find_open(dev_scan *d, int64_t id, int final) {
    for (size_t k = 0; k < d->n_open; k++)
        if (d->open[k].id == id && d->open[k].final == final) return &d->open[k];
    return NULL;
}

/* The attempt ends at `end`: its workers were busy since its start. */
static cf_status close_attempt(dev_scan *d, attempt *a, double end) {
    if (!a) return CF_OK;
    for (int r = 0; r < a->n; r++) CF_TRY(add_span(d, a->workers[r], a->start, end));
    *a = d->open[--d->n_open];
    return CF_OK;
}

/* An attempt starting on the line's "workers" (or "worker") and "slots". */
static cf_status open_attempt(dev_scan *d, const cJSON *o, int64_t id, int final, double start) {
    CF_TRY(close_attempt(d, find_open(d, id, final), start));
    CF_TRY(cf_grow((void **)&d->open, &d->cap_open, d->n_open + 1, sizeof *d->open));
    attempt *a = &d->open[d->n_open++];
    memset(a, 0, sizeof *a);
    a->id = id;
    a->final = final;
    a->start = start;
    const cJSON *ws = cJSON_GetObjectItemCaseSensitive(o, "workers"), *e;
    cJSON_ArrayForEach(e, ws) {
        if (a->n < CF_MAX_WORKERS && cJSON_IsNumber(e) && e->valuedouble >= 0 && e->valuedouble < CF_MAX_WORKERS)
            a->workers[a->n++] = (int)e->valuedouble;
    }
    double w = jnum(o, "worker", -1);
    if (a->n == 0 && w >= 0 && w < CF_MAX_WORKERS) a->workers[a->n++] = (int)w;
    cf_journal_read_slots(o, a->slots, a->n);
    for (int r = 0; r < a->n; r++)
        if (a->workers[r] + 1 > d->lanes) d->lanes = a->workers[r] + 1;
    return CF_OK;
}

static cf_status dev_run_started(dev_scan *d, const cJSON *o) {
    /* what ran when the previous process ended was cut there */
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "resumed")))
        while (d->n_open) CF_TRY(close_attempt(d, &d->open[d->n_open - 1], d->clock));
    cf_worker_desc w[CF_MAX_WORKERS];
    int n = cf_journal_read_devices(o, w, CF_MAX_WORKERS);
    if (n > 0) { /* a resume may run on other devices: the last word counts */
        memcpy(d->desc, w, sizeof w);
        d->n_desc = n;
    }
    double k = jnum(o, "workers", 0);
    if (k > d->lanes && k <= CF_MAX_WORKERS) d->lanes = (int)k;
    if (n > d->lanes) d->lanes = n;
    return CF_OK;
}

static cf_status dev_line(void *ctx, const cJSON *o, int64_t lineno) {
    (void)lineno;
    dev_scan *d = ctx;
    const cJSON *evj = cJSON_GetObjectItemCaseSensitive(o, "event");
    const char *ev = cJSON_IsString(evj) ? evj->valuestring : "";
    double clock = jnum(o, "clock", d->clock), idn = jnum(o, "id", -1);
    d->time = jnum(o, "time", d->time);
    if (strcmp(ev, "run_started") == 0) {
        CF_TRY(dev_run_started(d, o));
        d->clock = clock;
        return CF_OK;
    }
    d->clock = clock;
    if (!(idn >= 0 && idn < 9e15)) return CF_OK;
    const int64_t id = (int64_t)idn;
    double start = jnum(o, "start", clock), end = jnum(o, "end", clock);
    if (strcmp(ev, "final_started") == 0) return open_attempt(d, o, id, 1, clock);
    if (strcmp(ev, "final_finished") == 0) return close_attempt(d, find_open(d, id, 1), clock);
    if (strcmp(ev, "trial_started") == 0) return open_attempt(d, o, id, 0, start);
    if (strcmp(ev, "trial_retry") == 0) return close_attempt(d, find_open(d, id, 0), clock);
    if (strcmp(ev, "trial_cut") == 0) return close_attempt(d, find_open(d, id, 0), end);
    if (strcmp(ev, "trial_finished") == 0) {
        if (!find_open(d, id, 0)) CF_TRY(open_attempt(d, o, id, 0, start)); /* no trial_started before it */
        return close_attempt(d, find_open(d, id, 0), end);
    }
    return CF_OK;
}

static void dev_scan_free(dev_scan *d) {
    if (!d) return;
    for (int w = 0; w < CF_MAX_WORKERS; w++) free(d->spans[w]);
    free(d->open);
    free(d);
}

/* Worker w's busy seconds up to end: its ended attempts and those still open. */
static double dev_busy(dev_scan *d, int w, double end) {
    for (size_t k = 0; k < d->n_open; k++)
        for (int r = 0; r < d->open[k].n; r++)
            if (d->open[k].workers[r] == w && add_span(d, w, d->open[k].start, end) != CF_OK) return -1;
    return cf_span_union(d->spans[w], d->n_spans[w]);
}

typedef struct on_slot {
    int slot, final;
    int64_t id;
} on_slot;

static int cmp_on_slot(const void *a, const void *b) {
    const on_slot *x = a, *y = b;
    if (x->slot != y->slot) return (unsigned)x->slot < (unsigned)y->slot ? -1 : 1; /* -1 (not known) last */
    return x->id < y->id ? -1 : (x->id > y->id);
}

/* "  running trial 40 (slot 1), trial 44 (slot 2)" of the attempts on worker w, by slot. */
static void print_on(const dev_scan *d, int w) {
    on_slot v[64];
    size_t n = 0;
    for (size_t k = 0; k < d->n_open; k++)
        for (int r = 0; r < d->open[k].n && n < 64; r++)
            if (d->open[k].workers[r] == w) v[n++] = (on_slot){d->open[k].slots[r], d->open[k].final, d->open[k].id};
    qsort(v, n, sizeof *v, cmp_on_slot);
    for (size_t i = 0; i < n; i++) {
        printf("%s %strial %lld", i ? "," : "  running", v[i].final ? "final model of " : "", (long long)v[i].id);
        if (v[i].slot >= 0) printf(" (slot %d)", v[i].slot);
    }
}

/* The devices as the journal tells them; NULL when it cannot be read (the
 * replay read it first and said why) or memory runs out. Free with dev_scan_free. */
static dev_scan *load_devices(const char *journal) {
    dev_scan *d = calloc(1, sizeof *d);
    cf_journal_scan scan;
    if (d && cf_journal_read(journal, dev_line, d, &scan) != CF_OK) {
        cf_error_clear();
        dev_scan_free(d);
        d = NULL;
    }
    return d;
}

/* Worker w's name: "cuda:0", or "worker 3" in a journal of an older version. */
static const char *worker_name(const dev_scan *d, int w, char *buf, size_t cap) {
    if (d && w >= 0 && w < d->n_desc && d->desc[w].name[0]) snprintf(buf, cap, "%s", d->desc[w].name);
    else snprintf(buf, cap, "worker %d", w);
    return buf;
}

/* One line per worker: name, device (rank and host over MPI ranks), busy
 * share, what runs on it. The run clock goes on to now while a trained
 * search runs; a stopped one ends at its last line. */
static void print_devices(dev_scan *d, int live, int simulated) {
    double end = d->clock;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double now = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec; /* the journal's "time" is Unix seconds */
    if (live && !simulated && d->time > 0 && now > d->time) end += now - d->time;
    int ranks = 1;
    for (int w = 0; w < d->n_desc; w++)
        if (d->desc[w].rank + 1 > ranks) ranks = d->desc[w].rank + 1;
    printf("devices   busy: the share of the run clock (%.1f s) with a trial on the device\n", end);
    for (int w = 0; w < d->lanes; w++) {
        const cf_worker_desc *x = w < d->n_desc && d->desc[w].name[0] ? &d->desc[w] : NULL;
        char name[32], what[128];
        if (!x) snprintf(what, sizeof what, "(device not recorded)");
        else if (x->kind == CF_WORKER_CUDA) snprintf(what, sizeof what, "%s, %d slots", x->device[0] ? x->device : "GPU", x->slots);
        else snprintf(what, sizeof what, "%s, %d thread%s", x->device[0] ? x->device : "CPU", x->threads, x->threads == 1 ? "" : "s");
        printf("  %-10s %-30s", worker_name(d, w, name, sizeof name), what);
        if (x && ranks > 1) printf("  rank %d, host %s", x->rank, x->host);
        double busy = dev_busy(d, w, end);
        printf("  busy %5.1f%%", end > 0 && busy >= 0 ? 100 * busy / end : 0.0);
        print_on(d, w);
        printf("\n");
    }
}

static int cmp_val_desc(const void *a, const void *b) {
    const cf_trial *x = *(const cf_trial *const *)a, *y = *(const cf_trial *const *)b;
    if (x->val_acc != y->val_acc) return x->val_acc < y->val_acc ? 1 : -1;
    return x->id < y->id ? -1 : (x->id > y->id);
}

/* How many trials of a replayed run are in each state. */
typedef struct status_counts {
    int64_t ok, failed, rejected, running, pending, cut;
} status_counts;

static void count_trials(const cf_search_replay *rep, status_counts *c) {
    memset(c, 0, sizeof *c);
    for (int64_t i = 0; i < rep->n; i++) {
        switch (rep->trials[i].status) {
        case CF_TRIAL_OK: c->ok++; break;
        case CF_TRIAL_REJECTED: c->rejected++; break;
        case CF_TRIAL_RUNNING: c->running++; break;
        case CF_TRIAL_PENDING: c->pending++; break;
        case CF_TRIAL_CUT: c->cut++; break; /* no failure: a resume with more time runs it */
        default: c->failed++; break;
        }
    }
}

/* The heading lines: run, state, pid, search, trials, clock. */
static void print_summary(const char *dir, const cf_spec *spec, const cf_space *space, const cf_search_replay *rep,
                          const cf_journal_scan *scan, const status_counts *c) {
    long pid = 0;
    int live = run_is_live(dir, &pid);
    const cf_spec_value *strategy = cf_spec_get(spec, "strategy"), *evaluator = cf_spec_get(spec, "evaluator");
    char opts[256];
    cf_space_format_options(space, opts, sizeof opts);
    printf("run       %s\n", dir);
    printf("state     %s%s%s\n",
           live ? "running" : (c->running || c->pending) ? "stopped before the end (resume with --resume)" : "stopped",
           !live && c->cut ? "; trials cut by the time budget run again with --resume and a larger --time" : "",
           scan->torn ? " (the journal's last line is torn: the search was killed while writing)" : "");
    if (live && pid) printf("pid       %ld\n", pid);
    printf("search    %s (%s), strategy %s, evaluator %s\n", space->name, opts,
           strategy ? strategy->values[0] : "random", evaluator ? evaluator->values[0] : "train");
    printf("trials    %lld: %lld ok, %lld failed, %lld running, %lld waiting, %lld cut by the budget; %lld rejected "
           "by the constraints; %lld retries\n",
           (long long)(rep->n - c->rejected), (long long)c->ok, (long long)c->failed, (long long)c->running,
           (long long)c->pending, (long long)c->cut, (long long)c->rejected, (long long)rep->retries);
    printf("clock     %.1f s%s, %lld journal lines\n", rep->clock,
           evaluator && strncmp(evaluator->values[0], "table:", 6) == 0 ? " (simulated)" : "", (long long)scan->lines);
}

/* The top trials that finished ok, by validation accuracy. */
static int print_best(const cf_search_replay *rep, long long top) {
    cf_trial **order = malloc((size_t)(rep->n > 0 ? rep->n : 1) * sizeof *order);
    if (!order) return -1;
    int64_t n_ok = 0;
    for (int64_t i = 0; i < rep->n; i++)
        if (rep->trials[i].status == CF_TRIAL_OK) order[n_ok++] = &rep->trials[i];
    qsort(order, (size_t)n_ok, sizeof *order, cmp_val_desc);
    if (n_ok) printf("best\n");
    for (int64_t i = 0; i < n_ok && i < top; i++) {
        const cf_trial *t = order[i];
        printf("  trial %-5lld val %6.2f%%  %8lld params %10.2fM MACs  %5.1f s  %s\n", (long long)t->id,
               100 * t->val_acc, (long long)t->cost.params, (double)t->cost.macs / 1e6, t->train_seconds, t->arch);
    }
    free(order);
    return 0;
}

/* Where each running trial has got to, and on which devices (slots). */
static void print_running(const cf_search_replay *rep, const status_counts *c, const dev_scan *d) {
    if (c->running) printf("running\n");
    for (int64_t i = 0; i < rep->n; i++) {
        const cf_trial *t = &rep->trials[i];
        if (t->status != CF_TRIAL_RUNNING) continue;
        printf("  trial %-5lld on", (long long)t->id);
        for (int r = 0; r < t->replicas; r++) {
            char name[32];
            printf("%s%s", r ? " + " : " ", worker_name(d, t->workers[r], name, sizeof name));
            if (t->slots[r] >= 0) printf(" slot %d", t->slots[r]);
        }
        printf(", epoch %d of %d", t->epochs_done, t->cand.epochs);
        if (t->epochs_done > 0) printf(", val %.2f%%", 100 * t->curve[t->epochs_done - 1].val_acc);
        printf(", since %.1f s  %s\n", t->start, t->arch);
    }
}

/* The first failed trials with their reasons. */
static void print_failed(const cf_search_replay *rep, const status_counts *c, long long top) {
    if (c->failed) printf("failed\n");
    for (int64_t i = 0, shown = 0; i < rep->n && shown < top; i++) {
        const cf_trial *t = &rep->trials[i];
        if (t->status == CF_TRIAL_OK || t->status == CF_TRIAL_REJECTED || t->status == CF_TRIAL_RUNNING ||
            t->status == CF_TRIAL_PENDING || t->status == CF_TRIAL_CUT)
            continue;
        printf("  trial %-5lld %s: %s\n", (long long)t->id, cf_trial_status_name(t->status), t->reason);
        shown++;
    }
    /* no failures: asked and not finished, so a resume with more time runs them */
    if (c->cut) printf("cut by the time budget (--resume with a larger --time runs them)\n");
    for (int64_t i = 0, shown = 0; i < rep->n && shown < top; i++) {
        const cf_trial *t = &rep->trials[i];
        if (t->status != CF_TRIAL_CUT) continue;
        printf("  trial %-5lld %s\n", (long long)t->id, t->reason);
        shown++;
    }
}

/* Trials that finished at chance level, with their causes. */
static void print_chance(const cf_search_replay *rep, long long top) {
    for (int64_t i = 0, shown = 0; i < rep->n && shown < top; i++) {
        const cf_trial *t = &rep->trials[i];
        if (t->status != CF_TRIAL_OK || strncmp(t->reason, "chance level", 12) != 0) continue;
        if (!shown++) printf("at chance level\n");
        printf("  trial %-5lld val %.2f%%: %s\n", (long long)t->id, 100 * t->val_acc, t->reason);
    }
}

/* The run's spec, read with the search's own knobs, and its space. */
static int load_run(const char *dir, cf_spec **spec, cf_space **space) {
    char path[1100];
    snprintf(path, sizeof path, "%s/spec.json", dir);
    if (cf_file_check_plain(path) != CF_OK) return cli_fail("status");
    /* the spec's keys are the search's flags */
    cli_flag sflags[64];
    cli_args sargs = {.command = "status", .usage = cmd_status_usage, .flags = sflags,
                      .n_flags = cli_knob_flags(KNOB_SEARCH, sflags)};
    int rc = cli_knob_load_spec(&sargs, path, spec);
    if (rc >= 0) return rc;
    cli_knob_merge(&sargs, *spec, 0);
    return cli_load_space(&sargs, space);
}

int cmd_status(int argc, char **argv) {
    cli_flag flags[] = {FLAG("top", 1, 0)};
    cli_args args = {.command = "status", .usage = cmd_status_usage, .flags = flags, .n_flags = 1};
    int rc = cli_parse(&args, argc, argv);
    if (rc >= 0) return rc;
    if (args.help) {
        fputs(cmd_status_usage, stdout);
        return EXIT_OK;
    }
    if (args.n_positional != 1) return cli_usage_error(&args, "expected one run directory");
    long long top = 5;
    if ((rc = cli_count(&args, "top", 1, 1e6, &top)) >= 0) return rc;
    const char *dir = args.positional[0];
    cf_spec *spec = NULL;
    cf_space *space = NULL;
    cf_search_replay rep;
    memset(&rep, 0, sizeof rep);
    dev_scan *devices = NULL;
    if ((rc = load_run(dir, &spec, &space)) >= 0) goto exit;
    rc = EXIT_ERROR;
    char path[1100];
    snprintf(path, sizeof path, "%s/journal.jsonl", dir);
    cf_journal_scan scan;
    if (cf_search_replay_load(path, space, &rep, &scan) != CF_OK) {
        rc = cli_fail("status");
        goto exit;
    }
    status_counts counts;
    count_trials(&rep, &counts);
    print_summary(dir, spec, space, &rep, &scan, &counts);
    long pid = 0;
    const cf_spec_value *evaluator = cf_spec_get(spec, "evaluator");
    devices = load_devices(path);
    if (devices)
        print_devices(devices, run_is_live(dir, &pid), evaluator && strncmp(evaluator->values[0], "table:", 6) == 0);
    if (print_best(&rep, top) != 0) {
        fprintf(stderr, "cellforge status: no memory to sort %lld trials\n", (long long)rep.n);
        goto exit;
    }
    print_running(&rep, &counts, devices);
    print_failed(&rep, &counts, top);
    print_chance(&rep, top);
    print_final(path);
    rc = EXIT_OK;
exit:
    dev_scan_free(devices);
    cf_search_replay_free(&rep);
    cf_space_destroy(space);
    cf_spec_destroy(spec);
    return rc;
}
