/* bench_dispatch.c - controller overhead: trials of the table evaluator through
 * the whole controller (strategy ask, exact cost, placement, worker queues,
 * tell, the journal).
 *
 * Every event goes to a journal file as a search's run directory holds it
 * (one checksummed JSON line per event, fsync'd in groups).
 *
 * The table lists every canonical NAS-Bench-201 cell with placeholder values
 * (accuracy and seconds drawn from the cell's hash): what is measured is the
 * machinery, not a search result. Random sampling runs without dedup so a
 * 10,000-trial run does not exhaust the 8,765 cells.
 *
 *   build/benchmarks/bench_dispatch [--trials 10000] [--workers 4]
 *
 * One JSON line per configuration; benchmarks/bench_dispatch.py puts Optuna's
 * ask/tell loop beside it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cellforge/log.h"
#include "cellforge/journal.h"
#include "cellforge/sched.h"
#include "cellforge/thread.h"

typedef struct writer {
    const cf_space *s;
    FILE *f;
    uint64_t *seen;
    size_t n, cap;
} writer;

static int write_row(const cf_arch *a, void *ctx) {
    writer *w = ctx;
    cf_arch canon;
    cf_arch_canonical(w->s, a, &canon);
    uint64_t h = cf_arch_hash(w->s, &canon);
    for (size_t i = 0; i < w->n; i++)
        if (w->seen[i] == h) return 0;
    if (w->n == w->cap) return 1;
    w->seen[w->n++] = h;
    char text[CF_ARCH_TEXT_MAX];
    cf_arch_format(w->s, &canon, text, sizeof text);
    fprintf(w->f, "%s\t1\t1\tok\t%.4f\t%.1f\n", text, 0.80 + (double)(h % 1000) / 10000.0,
            20.0 + (double)((h >> 10) % 400) / 10.0);
    return 0;
}

/* The run's journal, as `cellforge search` writes it: every event, grouped fsync. */
static int on_event(void *ctx, cf_search_event_kind kind, const cf_trial *t, double clock) {
    return cf_journal_event(ctx, kind, t, clock) != CF_OK;
}

int main(int argc, char **argv) {
    int64_t trials = 10000;
    int workers = 4;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--trials") == 0) trials = atoll(argv[i + 1]);
        else if (strcmp(argv[i], "--workers") == 0) workers = atoi(argv[i + 1]);
    }
    cf_log_set_level(CF_LOG_LEVEL_WARN);
    cf_space *s = NULL;
    if (cf_space_load("nb201", &s) != CF_OK) {
        fprintf(stderr, "bench_dispatch: %s\n", cf_error_message());
        return 1;
    }
    char table[] = "/tmp/cf_dispatch_XXXXXX";
    int fd = mkstemp(table);
    writer w = {s, fdopen(fd, "w"), calloc(16384, sizeof(uint64_t)), 0, 16384};
    fprintf(w.f, "# space nb201\narch\tepochs\tfraction\tstatus\tval_acc\ttrain_seconds\n");
    cf_space_enumerate(s, 100000, write_row, &w);
    fclose(w.f);
    cf_evaluator *ev = NULL;
    if (cf_evaluator_table_create(table, s, &ev) != CF_OK) {
        fprintf(stderr, "bench_dispatch: %s\n", cf_error_message());
        return 1;
    }
    const char *strategies[][2] = {{"random", "dedup=0"}, {"evolution", "population=100,sample=25,dedup=0"}};
    for (size_t k = 0; k < 2; k++) {
        cf_device_report rep;
        cf_devices_discover(&rep);
        cf_worker_desc wd[CF_MAX_WORKERS];
        int n = 0;
        cf_workers_plan("cpu", workers, workers, 0, &rep, wd, &n);
        cf_strategy_config sc;
        cf_strategy_config_default(&sc);
        sc.seed = 1;
        snprintf(sc.options, sizeof sc.options, "%s", strategies[k][1]);
        cf_strategy *st = NULL;
        if (cf_strategy_create(strategies[k][0], s, &sc, &st) != CF_OK) {
            fprintf(stderr, "bench_dispatch: %s\n", cf_error_message());
            return 1;
        }
        cf_search_config cfg;
        cf_search_config_default(&cfg);
        cfg.max_trials = trials;
        cfg.seed = 1;
        char jpath[] = "/tmp/cf_dispatch_journal_XXXXXX";
        close(mkstemp(jpath));
        unlink(jpath);
        cf_journal *j = NULL;
        if (cf_journal_open(jpath, 0, 0, &j) != CF_OK) {
            fprintf(stderr, "bench_dispatch: %s\n", cf_error_message());
            return 1;
        }
        cf_search_summary sum;
        cf_search_hooks hooks = {on_event, NULL, j, NULL};
        cf_status st_run = cf_search_run(&cfg, s, st, ev, wd, n, &hooks, NULL, &sum);
        cf_journal_close(j);
        unlink(jpath);
        cf_strategy_destroy(st);
        if (st_run != CF_OK) {
            fprintf(stderr, "bench_dispatch: %s\n", cf_error_message());
            return 1;
        }
        printf("{\"bench\": \"dispatch\", \"impl\": \"cellforge\", \"strategy\": \"%s\", \"workers\": %d, "
               "\"trials\": %lld, \"wall_s\": %.4f, \"us_per_trial\": %.2f, \"controller_us_per_trial\": %.2f, "
               "\"best_val_acc\": %.4f}\n",
               strategies[k][0], n, (long long)sum.finished, sum.wall_s, 1e6 * sum.wall_s / (double)sum.finished,
               1e6 * sum.controller_s / (double)sum.finished, sum.best_val_acc);
        fflush(stdout);
    }
    unlink(table);
    cf_evaluator_destroy(ev);
    cf_space_destroy(s);
    free(w.seen);
    return 0;
}
