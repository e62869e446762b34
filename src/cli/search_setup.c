/* search_setup.c - what `cellforge search` and `tabulate` load before a run:
 * the flags parsed into the search configuration, the space, the data, the
 * evaluator, the workers and the strategy; and the function evaluator that
 * the library API (src/api) lends a search run in process.
 */
#include <stdlib.h>
#include <string.h>

#include "cellforge/data.h"
#include "cellforge/proxy.h"
#include "cellforge/sched.h"
#include "cellforge/scorer.h"
#include "cellforge/strategy.h"
#include "cellforge/text.h"
#include "cli.h"

static const search_external *external;

void search_external_set(const search_external *x) {
    external = x;
}

const search_external *search_external_get(void) {
    return external;
}

int search_parse_objectives(const cli_args *a, cf_search_config *cfg, int *proxy) {
    const char *list = cli_value(a, "objectives");
    cfg->n_objectives = 1;
    *proxy = -1;
    if (!list) return -1;
    /* in the order of cf_constraint_kind; then the zero-cost proxies */
    static const char *const names[] = {"macs", "params", "memory", "latency"};
    const char *known[4 + CF_PROXY_COUNT];
    for (int i = 0; i < 4 + CF_PROXY_COUNT; i++) known[i] = i < 4 ? names[i] : cf_proxy_name(i - 4);
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
        cf_proxy_kind pk;
        for (int i = 0; i < 4; i++)
            if (strcmp(t, names[i]) == 0) k = i;
        if (k < 0 && cf_proxy_parse(t, &pk)) {
            if (*proxy >= 0) return cli_usage_error(a, "--objectives: one zero-cost proxy at most");
            *proxy = (int)pk;
            k = CF_OBJECTIVE_PROXY;
        }
        if (k < 0) {
            const char *near = cf_text_closest(t, known, 4 + CF_PROXY_COUNT);
            return cli_usage_error(a, "--objectives: unknown '%s'%s%s%s (acc, macs, params, memory, latency, or one "
                                   "zero-cost proxy: synflow, snip, naswot, ...)", t,
                                   near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
        }
        if (cfg->n_objectives >= CF_MAX_OBJECTIVES) return cli_usage_error(a, "--objectives: at most %d", CF_MAX_OBJECTIVES);
        cfg->objectives[cfg->n_objectives++] = k;
    }
    return -1;
}

/* The zero-cost scorer when the run ranks by a proxy (--proxy, --warmup,
 * --proxy-pool) or has one as an objective, and what it feeds: the strategy's
 * ranking (sc) and the proxy objective (r->cfg.proxy). */
static int setup_proxies(const cli_args *a, run_setup *r, int objective_proxy, int threads, cf_strategy_config *sc) {
    long long warmup = 0, keep = 0, pool = 1, batch = 64;
    int rc;
    if ((rc = cli_knob_count(a, "warmup", &warmup)) >= 0 || (rc = cli_knob_count(a, "warmup-keep", &keep)) >= 0 ||
        (rc = cli_knob_count(a, "proxy-pool", &pool)) >= 0 || (rc = cli_knob_count(a, "proxy-batch", &batch)) >= 0)
        return rc;
    const char *rank_by = cli_value(a, "proxy");
    if (keep > 0 && warmup == 0) return cli_usage_error(a, "--warmup-keep %lld: without --warmup N", keep);
    if (keep > warmup) return cli_usage_error(a, "--warmup-keep %lld is more than --warmup %lld", keep, warmup);
    if (!rank_by && (warmup > 0 || pool > 1)) rank_by = "vote";
    if (!rank_by && objective_proxy < 0) return -1;
    const cf_dataset *ds = r->all;
    if (!ds && cf_dataset_load(r->dataset, cli_value(a, "data-dir"), "train", &r->proxy_data) != CF_OK)
        return cli_fail(a->command);
    if (!ds) ds = r->proxy_data;
    if (cf_scorer_create(r->space, ds, (int)batch, r->cfg.seed, threads, &r->scorer) != CF_OK)
        return cli_usage_error(a, "--proxy-batch: %s", cf_error_message());
    if (objective_proxy >= 0) {
        cf_proxy_kind k = (cf_proxy_kind)objective_proxy;
        r->cfg.proxy = cf_scorer_for_strategy(r->scorer, &k, 1);
    }
    if (rank_by) {
        cf_proxy_kind kinds[CF_STRATEGY_MAX_SCORES];
        int n = 0;
        if (cf_scorer_parse(rank_by, kinds, CF_STRATEGY_MAX_SCORES, &n) != CF_OK)
            return cli_usage_error(a, "--proxy: %s", cf_error_message());
        sc->scorer = cf_scorer_for_strategy(r->scorer, kinds, n);
        sc->warmup = (int)warmup;
        sc->warmup_keep = (int)keep;
        sc->pool = (int)pool;
    }
    return -1;
}

void search_setup_free(run_setup *r) {
    cf_strategy_destroy(r->st);
    cf_scorer_destroy(r->scorer); /* after the strategy, which borrows it */
    cf_dataset_destroy(r->proxy_data);
    cf_evaluator_destroy(r->ev);
    cf_dataset_destroy(r->all);
    cf_dataset_destroy(r->train);
    cf_dataset_destroy(r->val);
    cf_space_destroy(r->space);
    free(r->admit);
}

/* The data's geometry for an evaluator that trains its own way: a named
 * set's, or read from the images of an npz: or folder: set (kept in r->all). */
static int external_input(const cli_args *a, run_setup *r, cf_net_input *in) {
    if (strncmp(r->dataset, "npz:", 4) != 0 && strncmp(r->dataset, "folder:", 7) != 0) {
        char what[128];
        return cli_input(a, in, what, sizeof what);
    }
    if (cf_dataset_load(r->dataset, cli_value(a, "data-dir"), "train", &r->all) != CF_OK) return cli_fail(a->command);
    *in = (cf_net_input){r->all->c, r->all->h, r->all->w, r->all->classes};
    return -1;
}

/* --slots auto (the default: cfg->slots stays 0) or a count. */
static int parse_slots(const cli_args *a, cf_search_config *cfg) {
    const char *slots = cli_value(a, "slots");
    if (!slots || strcmp(slots, "auto") == 0) return -1;
    char *end = NULL;
    long v = strtol(slots, &end, 10);
    if (!*slots || *end || v < 1 || v > CF_MAX_SLOTS)
        return cli_usage_error(a, "--slots %s: auto, or a count from 1 to %d", slots, CF_MAX_SLOTS);
    cfg->slots = (int)v;
    return -1;
}

/* Parse the shared flags and load the space, data, evaluator and workers.
 * strategy: the strategy name (its options from --strategy-options). Returns -1
 * on success, else the exit code. */
int search_setup(const cli_args *a, const char *strategy, const char *evaluator, run_setup *r) {
    int rc;
    memset(r, 0, sizeof *r);
    cf_search_config *cfg = &r->cfg;
    cf_search_config_default(cfg);
    long long epochs = 1, batch = cfg->batch, min_batch = cfg->min_batch, seed = 0, threads = 0, workers = 0,
              replicas = 0, retries = cfg->oom_retries, cpu_memory = 0;
    double lr = 0.1, fraction = 1, val_fraction = 0.1;
    cf_dtype precision = CF_DTYPE_F32;
    /* ranges from the knob table (search_knobs.c) */
    if ((rc = cli_knob_count(a, "epochs", &epochs)) >= 0 || (rc = cli_knob_count(a, "batch", &batch)) >= 0 ||
        (rc = cli_knob_count(a, "min-batch", &min_batch)) >= 0 || (rc = cli_knob_count(a, "seed", &seed)) >= 0 ||
        (rc = cli_knob_count(a, "threads", &threads)) >= 0 || (rc = cli_knob_count(a, "cpu-workers", &workers)) >= 0 ||
        (rc = cli_knob_count(a, "replicas", &replicas)) >= 0 || (rc = cli_knob_count(a, "oom-retries", &retries)) >= 0 ||
        (rc = cli_knob_count(a, "cpu-memory", &cpu_memory)) >= 0 || (rc = cli_knob_number(a, "lr", &lr)) >= 0 ||
        (rc = cli_knob_number(a, "fraction", &fraction)) >= 0 || (rc = cli_precision(a, &precision)) >= 0 ||
        (rc = cli_knob_number(a, "val-fraction", &val_fraction)) >= 0)
        return rc;
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
    if ((rc = cli_load_space(a, &r->space)) >= 0) return rc;

    cf_device_report report;
    cf_devices_discover(&report);
    const char *devices = cli_value(a, "devices");
    if (cf_workers_plan(devices ? devices : "auto", (int)workers, (int)threads, (size_t)cpu_memory, &report, r->workers,
                        &r->n_workers) != CF_OK)
        return cli_fail(a->command);
    r->n_local = r->n_workers;
    cfg->span_ranks = cli_has(a, "span-ranks");
    if ((rc = parse_slots(a, cfg)) >= 0) return rc;
    /* over MPI ranks, rank 0 checks against every rank's workers once they joined */
    if (replicas > r->n_workers && !cf_ranks_wanted(cli_has(a, "mpi")))
        return cli_usage_error(a, "--replicas %lld: only %d workers (--cpu-workers K splits the CPU)", replicas,
                               r->n_workers);

    if (evaluator && strncmp(evaluator, "table:", 6) == 0) {
        if (cf_evaluator_table_create(evaluator + 6, r->space, &r->ev) != CF_OK ||
            cf_evaluator_table_check_fidelity(r->ev, (int)cfg->epochs, fraction) != CF_OK)
            return cli_fail(a->command);
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
        tc.precision = precision;
        double dp = cf_space_get_or(r->space, "drop_path", 0);
        tc.drop_path = dp > 0 ? dp : 0;
        r->tc = tc;
        if (cf_evaluator_train_create(r->space, r->train, r->val, &tc, &r->ev) != CF_OK) return cli_fail(a->command);
    } else if (strncmp(evaluator, "cmd:", 4) == 0 || strcmp(evaluator, "callback") == 0) {
        const search_external *x = search_external_get();
        int is_cmd = evaluator[0] == 'c' && evaluator[1] == 'm';
        if (!is_cmd && !x)
            return cli_usage_error(a, "--evaluator callback: only through the library (cellforge.search or "
                                      "cellforge.Study in Python, cellforge_search in C)");
        cf_net_input in;
        if ((rc = external_input(a, r, &in)) >= 0) return rc;
        cf_status st = is_cmd ? cf_evaluator_cmd_create(evaluator + 4, r->space, &in, r->dataset, lr, cfg->seed, &r->ev)
                              : cf_evaluator_fn_create(x->fn, x->ctx, r->space, &in, r->dataset, lr, cfg->seed, &r->ev);
        if (st != CF_OK) return cli_usage_error(a, "--evaluator: %s", cf_error_message());
    } else {
        return cli_usage_error(a, "--evaluator '%s': train, table:FILE or cmd:COMMAND", evaluator);
    }

    int objective_proxy = -1;
    if ((rc = search_parse_objectives(a, cfg, &objective_proxy)) >= 0) return rc;
    cf_strategy_config sc;
    cf_strategy_config_default(&sc);
    if ((rc = setup_proxies(a, r, objective_proxy, (int)threads, &sc)) >= 0) return rc;
    sc.seed = cfg->seed;
    sc.n_objectives = cfg->n_objectives;
    sc.max_epochs = cfg->epochs;
    const char *opts = cli_value(a, "strategy-options");
    if (opts) snprintf(sc.options, sizeof sc.options, "%s", opts);
    cf_status st = cf_strategy_create(strategy, r->space, &sc, &r->st);
    /* a misspelt strategy or option is a usage error, named with a suggestion */
    if (st == CF_ERR_UNKNOWN_NAME || st == CF_ERR_INVALID_ARG) return cli_usage_error(a, "%s", cf_error_message());
    if (st != CF_OK) return cli_fail(a->command);
    return search_oneshot_setup(a, strategy, r);
}
