/* cmd_search.c - `cellforge search` and `cellforge tabulate`: many trials
 * through the controller, on every device found or on a benchmark table.
 *
 *   cellforge search --space nb201 --set C=8 --trials 20 --cpu-workers 2
 *   cellforge search --space nb201 --evaluator table:nb201-fmnist.tsv --trials 500
 *   cellforge tabulate --space nb201 --set C=8 --epochs 1 --sample 50 --out nb201.tsv
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cellforge/data.h"
#include "cellforge/file.h"
#include "cellforge/journal.h"
#include "cellforge/pareto.h"
#include "cellforge/sched.h"
#include "cellforge/strategy.h"
#include "cellforge/text.h"
#include "cellforge/thread.h"
#include "cli.h"

typedef struct search_view {
    const cf_space *space;
    FILE *table;
    cf_journal *journal;
    cf_status journal_st;      /* the first journal failure: the search stops on it */
    char journal_err[512];
    int64_t done, failed, cut;
    char first_failure[400];   /* "trial 3 (error): why", for a run where none succeeds */
    double best;
    int64_t best_id;
    int quiet;
    const cf_search_config *cfg;
    /* the live status line (a terminal only) */
    int tty, status_shown, n_workers;
    int64_t running, started, rejected;
    int64_t busy[CF_MAX_WORKERS];  /* trials running on each worker */
    double clock;
    /* multi-objective runs: every finished ok trial's objectives, and the front */
    cf_pareto_live front;
    int joined_front;          /* the last trial kept entered the front */
} search_view;

static void keep_point(search_view *v, const cf_trial *t) {
    const int k = v->cfg ? v->cfg->n_objectives : 1;
    /* the front compares trials at the run's fidelity, not the lower rungs of a
     * multi-fidelity strategy */
    if (k < 2 || t->status != CF_TRIAL_OK || t->cand.epochs != v->cfg->epochs || t->cand.arch.supernet) return;
    double point[CF_MAX_OBJECTIVES];
    for (int j = 0; j < k; j++) point[j] = cf_trial_objective(v->cfg, t, j);
    /* out of memory: the trial is left out of the front shown, nothing else */
    (void)cf_pareto_live_add(&v->front, point, t->id, &v->joined_front);
}

/* The non-dominated trials and their hypervolume. Objectives after the error are
 * divided by their largest value in the run, and the reference point is
 * (error 1, 1.1 for each of those): a run's hypervolume lies in [0, 1.1^(k-1)]. */
static void print_front(const search_view *v) {
    const int k = v->cfg ? v->cfg->n_objectives : 1;
    const cf_pareto_live *f = &v->front;
    if (k < 2 || f->n == 0 || k > 3) return;
    /* by cf_constraint_kind, then CF_OBJECTIVE_PROXY (minimized as its negative) */
    static const char *const names[] = {"MACs", "params", "activation bytes", "latency ms", "-proxy"};
    double scale[CF_MAX_OBJECTIVES] = {1, 0, 0, 0}, low[CF_MAX_OBJECTIVES] = {0, 0, 0, 0};
    /* a proxy's negated score can be any sign: it is shifted by its minimum
     * first, so it too spans [0, 1] */
    for (int j = 1; j < k; j++)
        for (size_t i = 0; i < f->n && v->cfg->objectives[j] == CF_OBJECTIVE_PROXY; i++)
            if (i == 0 || f->points[i * (size_t)k + (size_t)j] < low[j]) low[j] = f->points[i * (size_t)k + (size_t)j];
    for (size_t i = 0; i < f->n; i++)
        for (int j = 1; j < k; j++)
            if (f->points[i * (size_t)k + (size_t)j] - low[j] > scale[j])
                scale[j] = f->points[i * (size_t)k + (size_t)j] - low[j];
    double *norm = malloc(f->n * (size_t)k * sizeof *norm);
    size_t *front = malloc(f->n * sizeof *front);
    if (!norm || !front) {
        free(norm);
        free(front);
        return;
    }
    for (size_t i = 0; i < f->n; i++)
        for (int j = 0; j < k; j++)
            norm[i * (size_t)k + (size_t)j] = (f->points[i * (size_t)k + (size_t)j] - low[j]) / (scale[j] > 0 ? scale[j] : 1);
    double ref[CF_MAX_OBJECTIVES] = {1.0, 1.1, 1.1, 1.1}, hv = 0;
    size_t m = cf_pareto_front(norm, f->n, k, front);
    cf_pareto_hypervolume(norm, f->n, k, ref, &hv);
    printf("pareto front: %zu of %zu trials; hypervolume %.4f (error and %s / its maximum, reference (1, 1.1))\n", m,
           f->n, hv, names[v->cfg->objectives[1] <= CF_OBJECTIVE_PROXY ? v->cfg->objectives[1] : 2]);
    for (size_t a = 0; a < m; a++) {
        size_t i = front[a];
        printf("  trial %-5lld val %6.2f%%", (long long)f->ids[i], 100 * (1 - f->points[i * (size_t)k]));
        for (int j = 1; j < k; j++)
            printf("  %s %.4g", names[v->cfg->objectives[j] <= CF_OBJECTIVE_PROXY ? v->cfg->objectives[j] : 2],
                   f->points[i * (size_t)k + (size_t)j]);
        printf("\n");
    }
    free(norm);
    free(front);
}

static void journal_failed(search_view *v, cf_status st) {
    if (v->journal_st != CF_OK) return;
    v->journal_st = st;
    snprintf(v->journal_err, sizeof v->journal_err, "%s", cf_error_message());
}

static void on_epoch(void *ctx, const cf_trial *t, const cf_epoch_record *r) {
    search_view *v = ctx;
    if (!v->journal) return;
    cf_status st = cf_journal_epoch(v->journal, t, r, t->start + r->seconds);
    if (st != CF_OK) journal_failed(v, st);
}

static void fmt_time(double s, char *buf, size_t cap) {
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

/* One line at the bottom of a terminal, redrawn at every event: counts, the best
 * so far, busy workers, the run clock and what is left of the budget. */
static void draw_status(search_view *v) {
    if (!v->tty || v->quiet) return;
    char line[512], t0[32], t1[32];
    int n = snprintf(line, sizeof line, "[%lld done, %lld running, %lld failed", (long long)v->done,
                     (long long)v->running, (long long)v->failed);
    if (v->cut) n += snprintf(line + n, sizeof line - (size_t)n, ", %lld cut", (long long)v->cut);
    if (v->rejected) n += snprintf(line + n, sizeof line - (size_t)n, ", %lld rejected", (long long)v->rejected);
    if (v->best >= 0)
        n += snprintf(line + n, sizeof line - (size_t)n, " | best %.2f%% (trial %lld)", 100 * v->best,
                      (long long)v->best_id);
    if (v->front.n_front) n += snprintf(line + n, sizeof line - (size_t)n, ", front %zu", v->front.n_front);
    n += snprintf(line + n, sizeof line - (size_t)n, " | busy ");
    for (int w = 0; w < v->n_workers && (size_t)n + 4 < sizeof line; w++) line[n++] = v->busy[w] ? '#' : '.';
    line[n] = 0;
    fmt_time(v->clock, t0, sizeof t0);
    n += snprintf(line + n, sizeof line - (size_t)n, " | %s", t0);
    const cf_search_config *cfg = v->cfg;
    if (cfg->time_budget_s > 0) {
        fmt_time(cfg->time_budget_s > v->clock ? cfg->time_budget_s - v->clock : 0, t1, sizeof t1);
        n += snprintf(line + n, sizeof line - (size_t)n, ", %s left", t1);
    } else if (cfg->max_trials > 0 && v->done > 0) {
        /* the trials left at the pace so far */
        double left = v->clock / (double)v->done * (double)(cfg->max_trials - v->done);
        fmt_time(left > 0 ? left : 0, t1, sizeof t1);
        n += snprintf(line + n, sizeof line - (size_t)n, ", about %s left", t1);
    }
    snprintf(line + n, sizeof line - (size_t)n, "]");
    printf("\r\033[K%s", line);
    fflush(stdout);
    v->status_shown = 1;
}

static void clear_status(search_view *v) {
    if (v->status_shown) printf("\r\033[K");
    v->status_shown = 0;
}

static int on_event(void *ctx, cf_search_event_kind kind, const cf_trial *t, double clock) {
    search_view *v = ctx;
    v->clock = clock;
    const search_external *x = search_external_get();
    if (x && kind == CF_EVENT_STARTED && x->on_started) x->on_started(x->ctx, t->id);
    if (kind == CF_EVENT_STARTED) {
        v->running++;
        for (int r = 0; r < t->replicas; r++)
            if (t->workers[r] >= 0 && t->workers[r] < CF_MAX_WORKERS) v->busy[t->workers[r]]++;
    } else if ((kind == CF_EVENT_RETRY || kind == CF_EVENT_FINISHED || kind == CF_EVENT_CUT) && t->attempts > 0 &&
               t->replicas > 0) {
        /* the end of a run gives its workers back (a trial found too small at
         * placement, failed before dispatch, or not started, never had any) */
        v->running--;
        for (int r = 0; r < t->replicas; r++)
            if (t->workers[r] >= 0 && t->workers[r] < CF_MAX_WORKERS && v->busy[t->workers[r]]) v->busy[t->workers[r]]--;
    } else if (kind == CF_EVENT_REJECTED) {
        v->rejected++;
    }
    if (v->journal) {
        cf_status st = cf_journal_event(v->journal, kind, t, clock);
        if (st != CF_OK) journal_failed(v, st);
    }
    /* a journal that cannot be written stops the search: nothing new starts that
     * could not be resumed */
    if (x && x->on_recorded && (kind == CF_EVENT_FINISHED || kind == CF_EVENT_CUT)) x->on_recorded(x->ctx, t->id);
    if (v->journal_st != CF_OK || (x && x->stop && *x->stop)) return 1;
    if (kind == CF_EVENT_CUT && !v->quiet) {
        clear_status(v);
        printf("trial %lld  cut by the budget: %s, t=%.0f s\n", (long long)t->id, t->reason, t->end);
    }
    v->cut += kind == CF_EVENT_CUT;
    if (kind != CF_EVENT_FINISHED) {
        draw_status(v);
        return 0;
    }
    v->done++;
    if (t->status != CF_TRIAL_OK) v->failed++;
    if (t->status != CF_TRIAL_OK && !v->first_failure[0])
        snprintf(v->first_failure, sizeof v->first_failure, "trial %lld (%s): %s", (long long)t->id,
                 cf_trial_status_name(t->status), t->reason[0] ? t->reason : "no reason recorded");
    if (t->status == CF_TRIAL_OK && t->val_acc > v->best && !t->cand.arch.supernet) {
        v->best = t->val_acc;
        v->best_id = t->id;
    }
    if (v->table) {
        cf_table_write_row(v->table, t);
        fflush(v->table);
    }
    v->joined_front = 0;
    keep_point(v, t);
    if (v->quiet) return 0;
    clear_status(v);
    char where[64] = "";
    for (int r = 0; r < t->replicas && r < 2; r++) {
        size_t len = strlen(where);
        snprintf(where + len, sizeof where - len, "%s%d", r ? "+" : "w", t->workers[r]);
    }
    if (t->replicas > 2) strncat(where, "+...", sizeof where - strlen(where) - 1);
    char result[300];
    if (t->status == CF_TRIAL_OK)
        snprintf(result, sizeof result, "val %.2f%%%s%s%.200s", 100 * t->val_acc, v->joined_front ? " *" : "  ",
                 t->reason[0] ? " " : "", t->reason);
    else
        snprintf(result, sizeof result, "%s: %.200s", cf_trial_status_name(t->status), t->reason);
    char front[32] = "";
    if (v->front.n_front) snprintf(front, sizeof front, ", front %zu", v->front.n_front);
    printf("trial %lld  %-4s %6.1fk params %7.2fM MACs  %6.1f s  %s  | best %.2f%% (trial %lld)%s, %lld done, %lld "
           "failed, t=%.0f s\n",
           (long long)t->id, where, (double)t->cost.params / 1e3, (double)t->cost.macs / 1e6, t->train_seconds,
           result, v->best >= 0 ? 100 * v->best : 0.0, (long long)v->best_id, front, (long long)v->done,
           (long long)v->failed, t->end);
    draw_status(v);
    fflush(stdout);
    return 0;
}

static void print_summary(const run_setup *r, const cf_search_summary *s) {
    char cut[64] = "";
    if (s->cut || r->cfg.time_budget_s > 0) snprintf(cut, sizeof cut, ", %lld cut by the budget", (long long)s->cut);
    printf("%lld trials: %lld ok, %lld failed%s, %lld rejected by the constraints, %lld retries\n",
           (long long)(s->proposed - s->rejected), (long long)s->ok, (long long)s->failed, cut, (long long)s->rejected,
           (long long)s->retries);
    printf("run clock %.1f s%s, wall %.2f s, controller %.3f s (%.1f us per trial)\n", s->clock_s,
           r->ev->ops->simulated ? " (simulated)" : "", s->wall_s, s->controller_s,
           s->proposed ? 1e6 * s->controller_s / (double)s->proposed : 0.0);
    for (int i = 0; i < r->n_workers; i++) {
        char at_once[48] = "";
        if (r->workers[i].kind == CF_WORKER_CUDA) snprintf(at_once, sizeof at_once, "  %d trials at once", s->slots[i]);
        printf("  %-8s %2d threads  busy %5.1f%%%s\n", r->workers[i].name, r->workers[i].threads,
               s->clock_s > 0 ? 100 * s->busy_s[i] / s->clock_s : 0.0, at_once);
    }
    if (s->best_trial >= 0) printf("best: trial %lld, val %.2f%%\n", (long long)s->best_trial, 100 * s->best_val_acc);
    if (r->scorer) {
        size_t computed = 0, cached = 0;
        double secs = 0;
        cf_scorer_stats(r->scorer, &computed, &cached, &secs);
        printf("zero-cost proxies: %zu architectures scored in %.1f s (%.1f ms each), %zu answers from the cache\n",
               computed, secs, computed ? 1e3 * secs / (double)computed : 0.0, cached);
    }
}

/* trials.tsv rewritten from the journal's record, so it matches the journal
 * even when a crash came between the two writes: written atomically, then
 * opened again to append the rows of this run's trials (a symlink planted
 * there since is refused). NULL after cf_error_set. */
static FILE *rewrite_table(const run_setup *r, const char *path, const cf_search_replay *rep) {
    cf_file_writer w;
    if (cf_file_writer_open(&w, path) != CF_OK) return NULL;
    cf_table_write_header(w.f, r->space, r->dataset, &r->ev->input);
    /* in the order they finished, as the run that wrote them appended them */
    for (int64_t k = 0; rep && k < rep->n_steps; k++) {
        const cf_trial *t = &rep->trials[rep->steps[k].trial];
        if (rep->steps[k].tell && t->status != CF_TRIAL_REJECTED) cf_table_write_row(w.f, t);
    }
    if (cf_file_writer_commit(&w) != CF_OK) return NULL;
    int fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
    FILE *f = fd >= 0 ? fdopen(fd, "a") : NULL;
    if (!f) {
        cf_error_set(CF_ERR_IO, __FILE__, __LINE__, "%s: cannot open to append: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
    }
    return f;
}

/* DIR/best.cfs: the training state (weights included) of the best trial so
 * far, linked to trials/ID/train.cfs. A table evaluator leaves no state. */
static void link_best(const char *dir, int64_t id, int quiet) {
    char src[1100], dst[1100];
    snprintf(src, sizeof src, "%.1000s/trials/%lld/train.cfs", dir, (long long)id);
    snprintf(dst, sizeof dst, "%.1000s/best.cfs", dir);
    if (access(src, R_OK) != 0 || cli_link_atomic(src, dst) != 0) return;
    if (!quiet) printf("best model: %s (trial %lld)\n", dst, (long long)id);
}

typedef struct run_opts {
    const char *dir;          /* run directory, NULL: none */
    int resuming;
    int quiet;
    const char *table_path;   /* tabulate: the table file */
    const char *spec_json;    /* the resolved spec */
    int retrain, retrain_epochs; /* the final phase (search_final.c); 0: none; epochs 0: planned */
    double retrain_fraction;
    const search_final_setup_out *final; /* its network and trainer */
    double budget_s;             /* --budget: the whole run's; 0: none */
} run_opts;

/* The run directory of a search: locked, the journal replayed (resume) or the
 * spec written (a new run), the journal opened and run_started appended,
 * trials.tsv rewritten; *hooks learn where trial states go (state_dir, room
 * for 1100). -1, or an exit code after a message; *lock_fd is the caller's to
 * close either way. */
static int open_run(const cli_args *a, run_setup *r, const run_opts *o, search_view *view, cf_search_replay *replay,
                    int *have_replay, int *lock_fd, char *state_dir, cf_search_hooks *hooks) {
    char work[1100], path[1200];
    int rc = cli_open_run_dir(a, o->dir, o->resuming, lock_fd, work, sizeof work);
    if (rc >= 0) return rc;
    snprintf(path, sizeof path, "%s/journal.jsonl", work);
    cf_journal_scan scan = {0};
    if (o->resuming) {
        if (cf_search_replay_load(path, r->space, replay, &scan) != CF_OK) return cli_fail(a->command);
        *have_replay = 1;
        if (scan.torn) printf("resume: the journal's last line was torn by the crash and is dropped\n");
        size_t scores = 0;
        if (r->scorer && cf_scorer_load(r->scorer, path, &scores) != CF_OK) return cli_fail(a->command);
        if (scores) printf("resume: %zu zero-cost scores read back from the journal\n", scores);
        view->clock = replay->clock;
    } else {
        snprintf(state_dir, 1100, "%.1080s/spec.json", work);
        if (cf_file_write_atomic(state_dir, o->spec_json) != CF_OK) goto fail;
    }
    if (cf_journal_open(path, scan.next_seq, scan.valid_bytes, &view->journal) != CF_OK) goto fail;
    /* the workers as they are now (a resume may run on other devices): each one's
     * name, device, slots, rank and host, for `status` and the report */
    char fields[CF_MAX_WORKERS * 400 + 256], devices[CF_MAX_WORKERS * 400];
    snprintf(fields, sizeof fields, "\"cellforge\":\"%s\",\"resumed\":%s,\"workers\":%d,\"pid\":%ld,\"devices\":%s",
             cf_version(), o->resuming ? "true" : "false", r->n_workers, (long)getpid(),
             cf_journal_devices_json(r->workers, r->n_workers, devices, sizeof devices));
    if (cf_journal_append(view->journal, "run_started", *have_replay ? replay->clock : 0, fields) != CF_OK) goto fail;
    /* a new run gets its name only now: whole, or not at all */
    if ((rc = cli_publish_run_dir(a, work, o->dir)) >= 0) return rc;
    snprintf(path, sizeof path, "%s/journal.jsonl", o->dir);
    cf_journal_rename(view->journal, path);
    snprintf(path, sizeof path, "%s/trials.tsv", o->dir);
    if (!(view->table = rewrite_table(r, path, *have_replay ? replay : NULL))) return cli_fail(a->command);
    snprintf(state_dir, 1100, "%s/trials", o->dir);
    hooks->state_dir = state_dir;
    if (r->scorer) cf_scorer_set_journal(r->scorer, view->journal, &view->clock);
    return -1;
fail:
    rc = cli_fail(a->command);
    if (!o->resuming) cli_discard_run_dir(work);
    return rc;
}

/* tabulate --out FILE: a new table file, never one that exists. -1, or an exit code. */
static int open_table(const cli_args *a, run_setup *r, const run_opts *o, search_view *view) {
    struct stat sb;
    if (stat(o->table_path, &sb) == 0)
        return cli_usage_error(a, "--out %s exists; remove it or pick another name (nothing is overwritten)",
                               o->table_path);
    int fd = open(o->table_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 || !(view->table = fdopen(fd, "w"))) {
        if (fd >= 0) close(fd);
        fprintf(stderr, "cellforge %s: %s: cannot create: %s\n", a->command, o->table_path, strerror(errno));
        return EXIT_ERROR;
    }
    cf_table_write_header(view->table, r->space, r->dataset, &r->ev->input);
    fflush(view->table);
    return -1;
}

/* The search's first lines: what runs where, and what a resume picks up
 * (the replayed trials also fill the view's counts, best and front). */
static void print_start(const run_setup *r, const run_opts *o, search_view *view, const cf_search_replay *replay) {
    char opts[256];
    cf_space_format_options(r->space, opts, sizeof opts);
    printf("%s %s (%s) with %s on %s, evaluator %s, %d worker%s:", o->resuming ? "resume" : "search", r->space->name,
           opts, cf_strategy_name(r->st), r->dataset, r->ev->ops->name, r->n_workers, r->n_workers == 1 ? "" : "s");
    for (int i = 0; i < r->n_workers; i++) printf(" %s", r->workers[i].name);
    printf("\n");
    if (o->dir) printf("run directory %s%s\n", o->dir, replay ? "" : " (cellforge status DIR shows progress)");
    if (r->cfg.n_objectives > 1 && !o->quiet) printf("(* marks a trial that joins the Pareto front)\n");
    if (replay) {
        int64_t done = 0, open = 0, rejected = 0, cut = 0;
        for (int64_t i = 0; i < replay->n; i++) {
            const cf_trial *t = &replay->trials[i];
            /* a trial cut by the budget runs again, like one a crash interrupted */
            cut += t->status == CF_TRIAL_CUT;
            if (t->status == CF_TRIAL_PENDING || t->status == CF_TRIAL_RUNNING || t->status == CF_TRIAL_CUT) {
                open++;
                continue;
            }
            done++;
            if (t->status == CF_TRIAL_REJECTED) {
                rejected++;
                continue;
            }
            view->done++;
            if (t->status != CF_TRIAL_OK) view->failed++;
            if (t->status == CF_TRIAL_OK && t->val_acc > view->best && !t->cand.arch.supernet) {
                view->best = t->val_acc;
                view->best_id = t->id;
            }
            keep_point(view, t);
        }
        char cuts[64] = "";
        if (cut) snprintf(cuts, sizeof cuts, " (%lld cut by the budget)", (long long)cut);
        printf("resume: %lld trials recorded, %lld unfinished %s%s\n", (long long)done, (long long)open,
               open == 1 ? "trial restarts" : "trials restart", cuts);
        /* budgets count from the run's start: say so when this one is already spent */
        const cf_search_config *c = &r->cfg;
        if (c->time_budget_s > 0 && replay->clock >= c->time_budget_s)
            printf("resume: the time budget is spent (run clock %.0f s of --time %.0f s): no new trial starts; "
                   "give a larger --time, which counts from the run's start\n", replay->clock, c->time_budget_s);
        else if (c->max_trials > 0 && replay->n - rejected >= c->max_trials)
            printf("resume: the trial budget is spent (%lld of --trials %lld): no new trial starts; give a larger "
                   "--trials, which counts from the run's start\n", (long long)(replay->n - rejected),
                   (long long)c->max_trials);
    }
    fflush(stdout);
}

/* After the search: the summary, the best model's link and the final phase.
 * The exit code of the run so far. */
static int after_search(const cli_args *a, run_setup *r, const run_opts *o, search_view *view, cf_status st,
                        const cf_search_summary *sum) {
    if (st != CF_OK) return cli_fail(a->command);
    if (view->journal_st != CF_OK) {
        fprintf(stderr, "cellforge %s: %s\ncellforge %s: the search stopped; what was recorded is kept and "
                        "--resume %s goes on once the cause is fixed\n",
                a->command, view->journal_err, a->command, o->dir ? o->dir : "DIR");
        return EXIT_ERROR;
    }
    print_summary(r, sum);
    print_front(view);
    if (o->dir && view->best_id >= 0) link_best(o->dir, view->best_id, o->retrain > 0);
    int rc = sum->ok > 0 ? EXIT_OK : EXIT_ERROR;
    if (rc != EXIT_OK) {
        char why[600];
        if (view->first_failure[0])
            snprintf(why, sizeof why, "every trial failed; first failure: %s", view->first_failure);
        else if (sum->rejected > 0)
            snprintf(why, sizeof why, "no trial ran: all %lld proposals were rejected by the constraints",
                     (long long)sum->rejected);
        else
            snprintf(why, sizeof why, "no trial finished within the budget");
        fprintf(stderr, "cellforge %s: %s\n", a->command, why);
        cf_error_set(CF_ERR_INVALID_ARG, __FILE__, __LINE__, "%s", why); /* for the library API's callers */
    }
    if (rc == EXIT_OK && o->dir && o->retrain > 0) {
        search_final_args fa = {.dir = o->dir, .space = r->space, .ev = r->ev, .workers = r->workers,
                                .n_workers = r->n_local, .cfg = &r->cfg, .dataset = r->dataset,
                                .data_dir = cli_value(a, "data-dir"), .journal = view->journal,
                                .final_space = o->final ? o->final->space : NULL,
                                .final_ev = o->final ? o->final->ev : NULL, .deadline_s = o->budget_s,
                                .n_train = r->train ? r->train->n : 0, .n_val = r->val ? r->val->n : 0,
                                .train = r->train, .final_tc = o->final && o->final->ev ? &o->final->tc : &r->tc,
                                .count = o->retrain, .epochs = o->retrain_epochs, .fraction = o->retrain_fraction,
                                .quiet = o->quiet, .clock0 = sum->clock_s};
        int frc = search_final(&fa);
        if (frc >= 0) rc = frc;
    }
    return rc;
}

/* run_stopped into the journal, then the run directory's report and export,
 * which read the whole record, run_stopped included. */
static int finish_run(const run_opts *o, search_view *view, cf_status st, const cf_search_summary *sum, int rc) {
    if (view->journal) {
        char fields[512];
        snprintf(fields, sizeof fields,
                 "\"reason\":\"%s\",\"trials\":%lld,\"ok\":%lld,\"failed\":%lld,\"cut\":%lld,\"rejected\":%lld,"
                 "\"best_trial\":%lld,\"best_val_acc\":%.17g",
                 st != CF_OK ? "error" : view->journal_st != CF_OK ? "journal" : "budget",
                 (long long)(sum->proposed - sum->rejected), (long long)sum->ok, (long long)sum->failed,
                 (long long)sum->cut, (long long)sum->rejected, (long long)sum->best_trial, sum->best_val_acc);
        if (st == CF_OK && view->journal_st == CF_OK) cf_journal_append(view->journal, "run_stopped", sum->clock_s, fields);
    }
    if (st == CF_OK && view->journal_st == CF_OK && o->dir && !o->table_path) {
        if (view->journal) cf_journal_sync(view->journal);
        int frc = cli_finish_run_dir(o->dir);
        if (frc >= 0 && rc == EXIT_OK) rc = frc;
    }
    return rc;
}

static int run(const cli_args *a, run_setup *r, const run_opts *o) {
    int rc = -1, lock_fd = -1;
    search_view view;
    memset(&view, 0, sizeof view);
    view.space = r->space;
    view.best = -1;
    view.best_id = -1;
    view.quiet = o->quiet;
    view.cfg = &r->cfg;
    view.tty = isatty(STDOUT_FILENO);
    view.n_workers = r->n_workers;
    cf_pareto_live_init(&view.front, r->cfg.n_objectives);
    cf_search_replay replay;
    memset(&replay, 0, sizeof replay);
    int have_replay = 0;
    char state_dir[1100];
    cf_search_hooks hooks = {on_event, on_epoch, &view, NULL};
    if (o->dir) rc = open_run(a, r, o, &view, &replay, &have_replay, &lock_fd, state_dir, &hooks);
    else if (o->table_path && (rc = open_table(a, r, o, &view)) >= 0) return rc;
    if (rc >= 0) goto exit;
    print_start(r, o, &view, have_replay ? &replay : NULL);
    if (!o->table_path) search_preflight(r);
    cf_search_summary sum;
    cf_status st = cf_search_run(&r->cfg, r->space, r->st, r->ev, r->workers, r->n_workers, &hooks,
                                 have_replay ? &replay : NULL, &sum);
    clear_status(&view);
    rc = after_search(a, r, o, &view, st, &sum);
    rc = finish_run(o, &view, st, &sum, rc);
    if (o->dir && rc != EXIT_USAGE) printf("run directory %s: `cellforge status %s`\n", o->dir, o->dir);
    if (o->table_path) printf("wrote %s\n", o->table_path);
exit:
    if (r->scorer) cf_scorer_set_journal(r->scorer, NULL, NULL);
    if (view.journal && cf_journal_close(view.journal) != CF_OK && rc == EXIT_OK) rc = cli_fail(a->command);
    if (view.table && fclose(view.table) != 0 && rc == EXIT_OK) {
        fprintf(stderr, "cellforge %s: cannot write the trials table: %s\n", a->command, strerror(errno));
        rc = EXIT_ERROR;
    }
    if (lock_fd >= 0) close(lock_fd);
    cf_pareto_live_free(&view.front);
    cf_search_replay_free(&replay);
    return rc;
}

/* Parse argv, merge a spec file or a resumed run's spec, fill the defaults.
 * Returns -1 with *spec_out (the resolved spec text, caller frees) or an exit code. */
static int resolve(cli_args *args, int argc, char **argv, char **spec_out) {
    *spec_out = NULL;
    int rc = cli_parse(args, argc, argv);
    if (rc >= 0) return rc;
    if (args->help) {
        if (!cli_usage_muted()) fputs(args->usage, stdout);
        return EXIT_OK;
    }
    if (cli_has(args, "spec-reference")) {
        char *md = cli_knob_markdown();
        if (md && !cli_usage_muted()) fputs(md, stdout);
        free(md);
        return md ? EXIT_OK : EXIT_ERROR;
    }
    /* flags first, so a bad value is named by its flag; a spec file's values
     * are checked as it loads */
    if ((rc = cli_knob_check(args)) >= 0) return rc;
    const char *resume = cli_value(args, "resume");
    const char *spec_path = NULL;
    char buf[1100];
    if (args->n_positional > 1) return cli_usage_error(args, "unexpected argument '%s'", args->positional[1]);
    if (args->n_positional == 1) spec_path = args->positional[0];
    if (resume) {
        if (spec_path) return cli_usage_error(args, "give a spec file or --resume, not both");
        if (cli_has(args, "out")) return cli_usage_error(args, "--resume DIR is the run directory; drop --out");
        snprintf(buf, sizeof buf, "%s/spec.json", resume);
        spec_path = buf;
        if (cf_file_check_plain(buf) != CF_OK) return cli_fail(args->command);
    }
    if (spec_path) {
        cf_spec *spec = NULL;
        if ((rc = cli_knob_load_spec(args, spec_path, &spec)) >= 0) return rc;
        /* the values stay borrowed from spec for the run: keep it alive */
        rc = cli_knob_merge(args, spec, resume != NULL);
        if (rc >= 0) {
            cf_spec_destroy(spec);
            return rc;
        }
        args->spec = spec;
    }
    cli_knob_defaults(args);
    /* files named in the spec are kept as absolute paths, so a run resumes from anywhere */
    for (int i = 0; i < args->n_flags; i++) {
        cli_flag *f = &args->flags[i];
        if (f->count == 0) continue;
        const char *v = f->values[f->count - 1];
        const char *file = NULL;
        if (strcmp(f->name, "space") == 0 && strchr(v, '/')) file = v;
        else if (strcmp(f->name, "data-dir") == 0) file = v;
        else if (strcmp(f->name, "evaluator") == 0 && strncmp(v, "table:", 6) == 0) file = v + 6;
        char *abs = file ? realpath(file, NULL) : NULL;
        if (!abs) continue;
        int slot = -1;
        for (int k = 0; k < CLI_MAX_VALUES && slot < 0; k++)
            if (!args->abs_paths[k]) slot = k;
        if (slot < 0) {
            free(abs);
            continue;
        }
        if (file != v) {
            char *tagged = malloc(strlen(abs) + 7);
            if (tagged) sprintf(tagged, "table:%s", abs);
            free(abs);
            abs = tagged;
        }
        args->abs_paths[slot] = abs;
        if (abs) f->values[f->count - 1] = abs;
    }
    *spec_out = cli_knob_spec_json(args);
    return -1;
}

int cmd_search(int argc, char **argv) {
    cli_flag flags[64];
    cli_args args = {.command = "search", .usage = cmd_search_usage_text(), .flags = flags,
                     .n_flags = cli_knob_flags(KNOB_SEARCH, flags)};
    char *spec_json = NULL;
    cf_ranks *rk = NULL; /* one rank of an MPI job, or NULL */
    int rc = search_ranks_begin(argc, argv, &rk);
    if (rc >= 0) return rc;
    cli_usage_mute(cf_ranks_rank(rk) > 0);
    rc = resolve(&args, argc, argv, &spec_json);
    run_setup r;
    memset(&r, 0, sizeof r);
    if (rc >= 0) goto exit;
    if (cli_has(&args, "print-spec")) {
        if (cf_ranks_rank(rk) == 0) fputs(spec_json, stdout);
        rc = EXIT_OK;
        goto exit;
    }
    long long trials = 0, max_macs = 0, max_params = 0, max_memory = 0;
    double time_s = 0, max_latency = 0, budget_s = 0;
    search_final_setup_out fin = {0};
    if ((rc = cli_knob_count(&args, "trials", &trials)) >= 0 || (rc = cli_knob_count(&args, "max-macs", &max_macs)) >= 0 ||
        (rc = cli_knob_count(&args, "max-params", &max_params)) >= 0 ||
        (rc = cli_knob_count(&args, "max-memory", &max_memory)) >= 0 || (rc = cli_knob_number(&args, "time", &time_s)) >= 0 ||
        (rc = cli_knob_number(&args, "max-latency", &max_latency)) >= 0 ||
        (rc = cli_knob_number(&args, "budget", &budget_s)) >= 0)
        goto exit;
    if (budget_s > 0 && time_s > budget_s)
    {
        rc = cli_usage_error(&args, "--time %.0f s is longer than the whole --budget %.0f s", time_s, budget_s);
        goto exit;
    }
    rc = search_setup(&args, cli_value(&args, "strategy"), cli_value(&args, "evaluator"), &r);
    if (rc < 0) rc = search_final_setup(&args, &r, &fin);
    if (rc < 0) {
        r.cfg.max_trials = trials;
        /* with neither budget, six minutes (--time 0 is refused by its range);
         * a planned run searches for a third of its budget */
        r.cfg.time_budget_s = trials > 0 || time_s > 0 ? time_s : budget_s > 0 ? budget_s / 3 : 360;
        r.cfg.limit[CF_LIMIT_MACS] = max_macs;
        r.cfg.limit[CF_LIMIT_PARAMS] = max_params;
        r.cfg.limit[CF_LIMIT_MEMORY] = max_memory;
        r.cfg.limit[CF_LIMIT_LATENCY] = (int64_t)(max_latency * 1e3);
    }
    rc = search_ranks_join(&args, rk, rc, &r); /* ranks above 0 serve trials in it */
    if (rc < 0) {
        char dir[1024];
        const char *out = cli_value(&args, "out"), *resume = cli_value(&args, "resume");
        long long retrain = 0, retrain_epochs = 1;
        double retrain_fraction = 1;
        if ((rc = cli_knob_count(&args, "retrain", &retrain)) >= 0 ||
            (rc = cli_knob_number(&args, "retrain-fraction", &retrain_fraction)) >= 0 ||
            (rc = cli_knob_count(&args, "retrain-epochs", &retrain_epochs)) >= 0)
            goto exit;
        if (!cli_value(&args, "retrain-epochs")) retrain_epochs = 0; /* planned from --budget */
        run_opts o = {NULL, resume != NULL, cli_has(&args, "quiet"), NULL, spec_json, (int)retrain,
                      (int)retrain_epochs, retrain_fraction, &fin, budget_s};
        if (resume) {
            o.dir = resume;
        } else if (!out) {
            cli_default_run_dir(r.space, dir, sizeof dir);
            o.dir = dir;
        } else if (strcmp(out, "none") != 0) {
            o.dir = out;
        }
        rc = run(&args, &r, &o);
    }
exit:
    search_final_setup_free(&fin);
    search_setup_free(&r);
    free(spec_json);
    cf_spec_destroy(args.spec);
    for (int k = 0; k < CLI_MAX_VALUES; k++) free(args.abs_paths[k]);
    cf_ranks_finish(rk, rc);
    return rc;
}

int cmd_tabulate(int argc, char **argv) {
    cli_flag flags[64];
    cli_args args = {.command = "tabulate", .usage = cmd_tabulate_usage_text(), .flags = flags,
                     .n_flags = cli_knob_flags(KNOB_TABULATE, flags)};
    cf_ranks *rk = NULL; /* one rank of an MPI job (rank 0 writes the table), or NULL */
    int rc = search_ranks_begin(argc, argv, &rk);
    if (rc >= 0) return rc;
    cli_usage_mute(cf_ranks_rank(rk) > 0);
    run_setup r;
    memset(&r, 0, sizeof r);
    long long sample = 0;
    rc = cli_parse(&args, argc, argv);
    if (rc < 0 && args.help) {
        if (!cli_usage_muted()) fputs(args.usage, stdout);
        rc = EXIT_OK;
    }
    if (rc < 0 && args.n_positional) rc = cli_usage_error(&args, "unexpected argument '%s'", args.positional[0]);
    if (rc < 0 && !cli_has(&args, "out")) rc = cli_usage_error(&args, "--out FILE is required");
    if (rc < 0 && !cli_has(&args, "space")) rc = cli_usage_error(&args, "--space NAME is required");
    if (rc < 0 && (rc = cli_knob_check(&args)) < 0) rc = cli_knob_count(&args, "sample", &sample);
    if (rc < 0) {
        cli_knob_defaults(&args);
        /* every canonical arch once (grid), or a sample of distinct ones (random) */
        rc = search_setup(&args, sample ? "random" : "grid", "train", &r);
        r.cfg.max_trials = sample;
    }
    rc = search_ranks_join(&args, rk, rc, &r); /* ranks above 0 serve trials in it */
    if (rc < 0) {
        run_opts o = {NULL, 0, cli_has(&args, "quiet"), cli_value(&args, "out"), NULL, 0, 0, 0, NULL, 0};
        rc = run(&args, &r, &o);
    }
    search_setup_free(&r);
    cf_ranks_finish(rk, rc);
    return rc;
}
