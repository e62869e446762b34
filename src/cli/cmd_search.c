/* cmd_search.c - `cellforge search` and `cellforge tabulate`: many trials
 * through the controller, on every device found or on a benchmark table.
 *
 *   cellforge search --space nb201 --set C=8 --trials 20 --cpu-workers 2
 *   cellforge search --space nb201 --evaluator table:nb201-fmnist.tsv --trials 500
 *   cellforge tabulate --space nb201 --set C=8 --epochs 1 --sample 50 --out nb201.tsv
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cellforge/data.h"
#include "cellforge/sched.h"
#include "cellforge/search.h"
#include "cellforge/text.h"
#include "cellforge/thread.h"
#include "cli.h"

const char *const cmd_search_usage =
    "usage: cellforge search [--space NAME] [--set KEY=VALUE]... [--dataset NAME] [options]\n\n"
    "Searches a space: the strategy proposes architectures, each trial trains on a\n"
    "free device (or is looked up in a benchmark table), results go back to the\n"
    "strategy. A failed trial (out of memory, NaN, timeout) is recorded and the\n"
    "search goes on. One line per finished trial, the best trials at the end.\n\n"
    "what to search:\n"
    "  --space NAME          nb201 (default, with C=8 N=1), darts, nb101, mobile or a\n"
    "                        .json file; --set KEY=VALUE sets its skeleton options\n"
    "  --dataset NAME        fashion-mnist (default), mnist, cifar10, cifar100\n"
    "  --data-dir DIR        where the dataset files are\n"
    "  --strategy NAME       random (default), grid, evolution, local;\n"
    "                        --strategy-options K=V,... sets its options\n"
    "  --objectives LIST     acc (default) or acc plus any of macs,params,memory\n"
    "  --max-macs N          hard limits checked with the exact cost model before a\n"
    "  --max-params N        trial is dispatched (K/M/G suffixes); rejected proposals\n"
    "  --max-memory N        are counted, never run\n"
    "budget:\n"
    "  --trials N            stop after N trials\n"
    "  --time DURATION       stop proposing after this run time (90s, 10m, 2h); running\n"
    "                        trials are cut at the end of the budget. With neither, the\n"
    "                        budget is 10 minutes.\n"
    "training of each trial:\n"
    "  --epochs N            1\n"
    "  --fraction F          share of each epoch's batches, 1\n"
    "  --batch B             256 (halved on out of memory, down to --min-batch 16)\n"
    "  --lr LR               0.1, cosine to 0\n"
    "  --val-fraction F      share of the training set held out to score trials, 0.1\n"
    "devices:\n"
    "  --devices LIST        auto (default), cpu, cuda:0,1,...\n"
    "  --cpu-workers K       split the CPU into K workers running trials side by side, 1\n"
    "  --threads T           CPU threads in all (divided among the workers), all cores\n"
    "  --cpu-memory N        bytes the CPU workers may plan for trials, half the RAM\n"
    "  --replicas K          run every trial data-parallel over K workers\n"
    "  --oom-retries N       retries of an out-of-memory trial (bigger device or half\n"
    "                        the batch), 3\n"
    "  --evaluator E         train (default) or table:FILE (a `cellforge tabulate` table:\n"
    "                        results looked up, time simulated)\n"
    "  --seed S              0\n"
    "  --out FILE            write every finished trial as a table row (the format\n"
    "                        `--evaluator table:FILE` reads)\n";

const char *const cmd_tabulate_usage =
    "usage: cellforge tabulate --space NAME [--set KEY=VALUE]... [--dataset NAME] --epochs N\n"
    "                          [--sample N] --out FILE [options]\n\n"
    "Trains every architecture of a space (each canonical cell once), or --sample N\n"
    "random ones, at one fidelity and writes a benchmark table for\n"
    "`cellforge search --evaluator table:FILE`. Rows are written as trials finish.\n"
    "Takes the training and device options of `cellforge search`.\n";

typedef struct search_view {
    const cf_space *space;
    FILE *table;
    int64_t done, failed;
    double best;
    int64_t best_id;
    int quiet;
} search_view;

static int on_event(void *ctx, cf_search_event_kind kind, const cf_trial *t) {
    search_view *v = ctx;
    if (kind != CF_EVENT_FINISHED) return 0;
    v->done++;
    if (t->status != CF_TRIAL_OK) v->failed++;
    if (t->status == CF_TRIAL_OK && t->val_acc > v->best) {
        v->best = t->val_acc;
        v->best_id = t->id;
    }
    if (v->table) {
        cf_table_write_row(v->table, t);
        fflush(v->table);
    }
    if (v->quiet) return 0;
    char where[64] = "";
    for (int r = 0; r < t->replicas && r < 2; r++) {
        size_t len = strlen(where);
        snprintf(where + len, sizeof where - len, "%s%d", r ? "+" : "w", t->workers[r]);
    }
    if (t->replicas > 2) strncat(where, "+...", sizeof where - strlen(where) - 1);
    char result[300];
    if (t->status == CF_TRIAL_OK)
        snprintf(result, sizeof result, "val %.2f%%", 100 * t->val_acc);
    else
        snprintf(result, sizeof result, "%s: %.200s", cf_trial_status_name(t->status), t->reason);
    printf("trial %lld  %-4s %6.1fk params %7.2fM MACs  %6.1f s  %s  | best %.2f%% (trial %lld), %lld done, %lld "
           "failed, t=%.0f s\n",
           (long long)t->id, where, (double)t->cost.params / 1e3, (double)t->cost.macs / 1e6, t->train_seconds,
           result, v->best >= 0 ? 100 * v->best : 0.0, (long long)v->best_id, (long long)v->done,
           (long long)v->failed, t->end);
    fflush(stdout);
    return 0;
}

static int parse_objectives(const cli_args *a, cf_search_config *cfg) {
    const char *list = cli_value(a, "objectives");
    cfg->n_objectives = 1;
    if (!list) return -1;
    static const char *const names[] = {"macs", "params", "memory"};
    char buf[128];
    snprintf(buf, sizeof buf, "%s", list);
    int first = 1;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save), first = 0) {
        if (strcmp(t, "acc") == 0) {
            if (!first) return cli_usage_error(a, "--objectives: acc must come first");
            continue;
        }
        if (first) return cli_usage_error(a, "--objectives: the list starts with acc (e.g. acc,macs)");
        int k = -1;
        for (int i = 0; i < 3; i++)
            if (strcmp(t, names[i]) == 0) k = i;
        if (k < 0) {
            const char *near = cf_text_closest(t, names, 3);
            return cli_usage_error(a, "--objectives: unknown '%s'%s%s%s (acc, macs, params, memory)", t,
                                   near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
        }
        if (cfg->n_objectives >= CF_MAX_OBJECTIVES) return cli_usage_error(a, "--objectives: at most %d", CF_MAX_OBJECTIVES);
        cfg->objectives[cfg->n_objectives++] = k;
    }
    return -1;
}

/* Everything search and tabulate share, parsed and loaded. */
typedef struct run_setup {
    cf_space *space;
    cf_dataset *all, *train, *val;
    cf_evaluator *ev;
    cf_strategy *st;
    cf_worker_desc workers[CF_MAX_WORKERS];
    int n_workers;
    cf_search_config cfg;
    const char *dataset;
} run_setup;

static void setup_free(run_setup *r) {
    cf_strategy_destroy(r->st);
    cf_evaluator_destroy(r->ev);
    cf_dataset_destroy(r->all);
    cf_dataset_destroy(r->train);
    cf_dataset_destroy(r->val);
    cf_space_destroy(r->space);
}

#define SHARED_FLAGS                                                                                        \
    FLAG("space", 1, 0), FLAG("set", 1, 1), FLAG("dataset", 1, 0), FLAG("data-dir", 1, 0), FLAG("epochs", 1, 0), \
        FLAG("fraction", 1, 0), FLAG("batch", 1, 0), FLAG("min-batch", 1, 0), FLAG("lr", 1, 0),            \
        FLAG("val-fraction", 1, 0), FLAG("devices", 1, 0), FLAG("cpu-workers", 1, 0), FLAG("threads", 1, 0), \
        FLAG("cpu-memory", 1, 0), FLAG("replicas", 1, 0), FLAG("oom-retries", 1, 0), FLAG("seed", 1, 0),    \
        FLAG("out", 1, 0)

/* Parse the shared flags and load the space, data, evaluator and workers.
 * strategy: the strategy name (its options from --strategy-options). Returns -1
 * on success, else the exit code. */
static int setup(const cli_args *a, const char *strategy, const char *evaluator, run_setup *r) {
    int rc;
    memset(r, 0, sizeof *r);
    cf_search_config *cfg = &r->cfg;
    cf_search_config_default(cfg);
    long long epochs = 1, batch = cfg->batch, min_batch = cfg->min_batch, seed = 0, threads = 0, workers = 0,
              replicas = 0, retries = cfg->oom_retries, cpu_memory = 0;
    double lr = 0.1, fraction = 1, val_fraction = 0.1;
    if ((rc = cli_count(a, "epochs", 1, &epochs)) >= 0 || (rc = cli_count(a, "batch", 1, &batch)) >= 0 ||
        (rc = cli_count(a, "min-batch", 1, &min_batch)) >= 0 || (rc = cli_count(a, "seed", 0, &seed)) >= 0 ||
        (rc = cli_count(a, "threads", 1, &threads)) >= 0 || (rc = cli_count(a, "cpu-workers", 1, &workers)) >= 0 ||
        (rc = cli_count(a, "replicas", 1, &replicas)) >= 0 || (rc = cli_count(a, "oom-retries", 0, &retries)) >= 0 ||
        (rc = cli_count(a, "cpu-memory", 1, &cpu_memory)) >= 0 || (rc = cli_number(a, "lr", 0, 100, &lr)) >= 0 ||
        (rc = cli_number(a, "fraction", 0.001, 1, &fraction)) >= 0 ||
        (rc = cli_number(a, "val-fraction", 0.001, 0.9, &val_fraction)) >= 0)
        return rc;
    if (epochs > CF_TRAIN_MAX_EPOCHS) return cli_usage_error(a, "--epochs %lld: at most %d", epochs, CF_TRAIN_MAX_EPOCHS);
    if (workers > CF_MAX_WORKERS) return cli_usage_error(a, "--cpu-workers %lld: at most %d", workers, CF_MAX_WORKERS);
    if (replicas > CF_MAX_WORKERS) return cli_usage_error(a, "--replicas %lld: at most %d", replicas, CF_MAX_WORKERS);
    if (min_batch > batch) return cli_usage_error(a, "--min-batch %lld is above --batch %lld", min_batch, batch);
    cfg->epochs = (int)epochs;
    cfg->batch = (int)batch;
    cfg->min_batch = (int)min_batch;
    cfg->seed = (uint64_t)seed;
    cfg->oom_retries = (int)retries;
    cfg->replicas = (int)replicas;
    cfg->fraction = fraction;
    r->dataset = cli_value(a, "dataset");
    if (!r->dataset) r->dataset = "fashion-mnist";
    if (!cli_has(a, "space")) {
        /* the default space: cli_load_space reads --space, so give it one */
        cf_status st = cf_space_load("nb201", &r->space);
        if (st != CF_OK) return cli_fail(a->command);
        /* the default search: NB201 sized for 28x28 images, one cell per stage */
        if (cf_space_set(r->space, "C", "8") != CF_OK || cf_space_set(r->space, "N", "1") != CF_OK)
            return cli_fail(a->command);
        const cli_flag *sets = cli_get(a, "set");
        for (int i = 0; sets && i < sets->count; i++)
            if (cf_space_set_kv(r->space, sets->values[i]) != CF_OK) return cli_fail(a->command);
    } else if ((rc = cli_load_space(a, &r->space)) >= 0) {
        return rc;
    }

    cf_device_report report;
    cf_devices_discover(&report);
    const char *devices = cli_value(a, "devices");
    if (cf_workers_plan(devices ? devices : "auto", (int)workers, (int)threads, (size_t)cpu_memory, &report, r->workers,
                        &r->n_workers) != CF_OK)
        return cli_fail(a->command);
    if (replicas > r->n_workers)
        return cli_usage_error(a, "--replicas %lld: only %d workers (--cpu-workers K splits the CPU)", replicas,
                               r->n_workers);

    if (evaluator && strncmp(evaluator, "table:", 6) == 0) {
        if (cf_evaluator_table_create(evaluator + 6, r->space, &r->ev) != CF_OK) return cli_fail(a->command);
    } else if (!evaluator || strcmp(evaluator, "train") == 0) {
        if (cf_dataset_load(r->dataset, cli_value(a, "data-dir"), "train", &r->all) != CF_OK ||
            cf_dataset_split(r->all, val_fraction, cfg->seed, &r->train, &r->val) != CF_OK)
            return cli_fail(a->command);
        cf_train_config tc;
        cf_train_config_default(&tc);
        tc.epochs = cfg->epochs;
        tc.batch = cfg->batch;
        tc.lr = lr;
        tc.max_epoch_fraction = fraction;
        tc.seed = cfg->seed;
        double dp = cf_space_get_or(r->space, "drop_path", 0);
        tc.drop_path = dp > 0 ? dp : 0;
        if (cf_evaluator_train_create(r->space, r->train, r->val, &tc, &r->ev) != CF_OK) return cli_fail(a->command);
    } else {
        return cli_usage_error(a, "--evaluator '%s': train or table:FILE", evaluator);
    }

    cf_strategy_config sc;
    cf_strategy_config_default(&sc);
    sc.seed = cfg->seed;
    sc.n_objectives = cfg->n_objectives;
    sc.max_epochs = cfg->epochs;
    const char *opts = cli_value(a, "strategy-options");
    if (opts) snprintf(sc.options, sizeof sc.options, "%s", opts);
    cf_status st = cf_strategy_create(strategy, r->space, &sc, &r->st);
    /* a misspelt strategy or option is a usage error, named with a suggestion */
    if (st == CF_ERR_UNKNOWN_NAME || st == CF_ERR_INVALID_ARG) return cli_usage_error(a, "%s", cf_error_message());
    if (st != CF_OK) return cli_fail(a->command);
    return -1;
}

static FILE *open_table(const cli_args *a, const run_setup *r, const char *path, int *rc) {
    struct stat sb;
    *rc = -1;
    if (stat(path, &sb) == 0) {
        *rc = cli_usage_error(a, "--out %s exists; remove it or pick another name (nothing is overwritten)", path);
        return NULL;
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cellforge %s: %s: cannot create: %s\n", a->command, path, strerror(errno));
        *rc = EXIT_ERROR;
        return NULL;
    }
    cf_table_write_header(f, r->space, r->dataset, &r->ev->input);
    fflush(f);
    return f;
}

static void print_summary(const run_setup *r, const cf_search_summary *s) {
    printf("%lld trials: %lld ok, %lld failed, %lld rejected by the constraints, %lld retries\n",
           (long long)(s->proposed - s->rejected), (long long)s->ok, (long long)s->failed, (long long)s->rejected,
           (long long)s->retries);
    printf("run clock %.1f s%s, wall %.2f s, controller %.3f s (%.1f us per trial)\n", s->clock_s,
           r->ev->ops->simulated ? " (simulated)" : "", s->wall_s, s->controller_s,
           s->proposed ? 1e6 * s->controller_s / (double)s->proposed : 0.0);
    for (int i = 0; i < r->n_workers; i++)
        printf("  %-8s %2d threads  busy %5.1f%%\n", r->workers[i].name, r->workers[i].threads,
               s->clock_s > 0 ? 100 * s->busy_s[i] / s->clock_s : 0.0);
    if (s->best_trial >= 0) printf("best: trial %lld, val %.2f%%\n", (long long)s->best_trial, 100 * s->best_val_acc);
}

static int run(const cli_args *a, run_setup *r, const char *out_path, int quiet) {
    int rc = -1;
    search_view view = {r->space, NULL, 0, 0, -1, -1, quiet};
    if (out_path && !(view.table = open_table(a, r, out_path, &rc))) return rc;
    char opts[256];
    cf_space_format_options(r->space, opts, sizeof opts);
    printf("search %s (%s) with %s on %s, evaluator %s, %d worker%s:", r->space->name, opts, cf_strategy_name(r->st),
           r->dataset, r->ev->ops->name, r->n_workers, r->n_workers == 1 ? "" : "s");
    for (int i = 0; i < r->n_workers; i++) printf(" %s", r->workers[i].name);
    printf("\n");
    fflush(stdout);
    cf_search_summary sum;
    cf_status st = cf_search_run(&r->cfg, r->space, r->st, r->ev, r->workers, r->n_workers, on_event, &view, &sum);
    if (view.table && fclose(view.table) != 0) {
        fprintf(stderr, "cellforge %s: %s: %s\n", a->command, out_path, strerror(errno));
        return EXIT_ERROR;
    }
    if (st != CF_OK) return cli_fail(a->command);
    print_summary(r, &sum);
    if (out_path) printf("wrote %s\n", out_path);
    return sum.ok > 0 ? EXIT_OK : EXIT_ERROR;
}

int cmd_search(int argc, char **argv) {
    cli_flag flags[] = {SHARED_FLAGS,
                        FLAG("strategy", 1, 0),
                        FLAG("strategy-options", 1, 0),
                        FLAG("objectives", 1, 0),
                        FLAG("max-macs", 1, 0),
                        FLAG("max-params", 1, 0),
                        FLAG("max-memory", 1, 0),
                        FLAG("trials", 1, 0),
                        FLAG("time", 1, 0),
                        FLAG("evaluator", 1, 0),
                        FLAG("quiet", 0, 0)};
    cli_args args = {.command = "search", .usage = cmd_search_usage, .flags = flags,
                     .n_flags = (int)(sizeof flags / sizeof flags[0])};
    int rc = cli_parse(&args, argc, argv);
    if (rc >= 0) return rc;
    if (args.help) {
        fputs(cmd_search_usage, stdout);
        return EXIT_OK;
    }
    if (args.n_positional) return cli_usage_error(&args, "unexpected argument '%s'", args.positional[0]);
    long long trials = 0, max_macs = 0, max_params = 0, max_memory = 0;
    double time_s = 0;
    if ((rc = cli_count(&args, "trials", 1, &trials)) >= 0 || (rc = cli_count(&args, "max-macs", 1, &max_macs)) >= 0 ||
        (rc = cli_count(&args, "max-params", 1, &max_params)) >= 0 ||
        (rc = cli_count(&args, "max-memory", 1, &max_memory)) >= 0 || (rc = cli_duration(&args, "time", &time_s)) >= 0)
        return rc;
    const char *strategy = cli_value(&args, "strategy");
    run_setup r;
    rc = setup(&args, strategy ? strategy : "random", cli_value(&args, "evaluator"), &r);
    if (rc < 0) {
        r.cfg.max_trials = trials;
        r.cfg.time_budget_s = trials > 0 || time_s > 0 ? time_s : 600;
        r.cfg.limit[CF_LIMIT_MACS] = max_macs;
        r.cfg.limit[CF_LIMIT_PARAMS] = max_params;
        r.cfg.limit[CF_LIMIT_MEMORY] = max_memory;
        rc = parse_objectives(&args, &r.cfg);
    }
    if (rc < 0) rc = run(&args, &r, cli_value(&args, "out"), cli_has(&args, "quiet"));
    setup_free(&r);
    return rc;
}

int cmd_tabulate(int argc, char **argv) {
    cli_flag flags[] = {SHARED_FLAGS, FLAG("sample", 1, 0)};
    cli_args args = {.command = "tabulate", .usage = cmd_tabulate_usage, .flags = flags,
                     .n_flags = (int)(sizeof flags / sizeof flags[0])};
    int rc = cli_parse(&args, argc, argv);
    if (rc >= 0) return rc;
    if (args.help) {
        fputs(cmd_tabulate_usage, stdout);
        return EXIT_OK;
    }
    if (args.n_positional) return cli_usage_error(&args, "unexpected argument '%s'", args.positional[0]);
    if (!cli_has(&args, "out")) return cli_usage_error(&args, "--out FILE is required");
    if (!cli_has(&args, "space")) return cli_usage_error(&args, "--space NAME is required");
    long long sample = 0;
    if ((rc = cli_count(&args, "sample", 1, &sample)) >= 0) return rc;
    run_setup r;
    /* every canonical arch once (grid), or a sample of distinct ones (random) */
    rc = setup(&args, sample ? "random" : "grid", "train", &r);
    if (rc < 0) {
        r.cfg.max_trials = sample;
        rc = run(&args, &r, cli_value(&args, "out"), 0);
    }
    setup_free(&r);
    return rc;
}
