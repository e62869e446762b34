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
#include <unistd.h>

#include "cellforge/file.h"
#include "cellforge/journal.h"
#include "cellforge/sched.h"
#include "cli.h"

const char *const cmd_status_usage =
    "usage: cellforge status RUN [--top N]\n\n"
    "Shows a search's progress from its run directory: whether it is running,\n"
    "trials finished, running, failed, cut by the time budget and rejected, the\n"
    "best trials, what each running trial has reached, and the failures with\n"
    "their reasons. Works while the search runs (read-only) and after it stopped\n"
    "or crashed, and the final phase: the models retrained and their test accuracy.\n";

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

/* Where each running trial has got to. */
static void print_running(const cf_search_replay *rep, const status_counts *c) {
    if (c->running) printf("running\n");
    for (int64_t i = 0; i < rep->n; i++) {
        const cf_trial *t = &rep->trials[i];
        if (t->status != CF_TRIAL_RUNNING) continue;
        printf("  trial %-5lld on worker", (long long)t->id);
        for (int r = 0; r < t->replicas; r++) printf("%s%d", r ? "+" : " ", t->workers[r]);
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
    if (print_best(&rep, top) != 0) {
        fprintf(stderr, "cellforge status: no memory to sort %lld trials\n", (long long)rep.n);
        goto exit;
    }
    print_running(&rep, &counts);
    print_failed(&rep, &counts, top);
    print_chance(&rep, top);
    print_final(path);
    rc = EXIT_OK;
exit:
    cf_search_replay_free(&rep);
    cf_space_destroy(space);
    cf_spec_destroy(spec);
    return rc;
}
