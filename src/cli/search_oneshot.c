/* search_oneshot.c - what `cellforge search --strategy darts|gdas|spos` sets up
 * besides the strategy: the train evaluator's one-shot method, from the same
 * --strategy-options, and for spos the run's hard constraints (MACs,
 * parameters, activation memory: the exact cost model) as the admission of
 * its evolutionary search. Tested by tests/cli_oneshot.sh.
 */
#include <stdlib.h>
#include <string.h>

#include "cellforge/cost.h"
#include "cellforge/oneshot.h"
#include "cli.h"

/* The constraints a spos candidate must meet, with what costing it needs. */
struct search_admit {
    const cf_space *space;
    cf_net_input input;
    int batch, with_aux;
    int64_t limit[CF_LIMIT_COUNT];
};

static int admit(void *ctx, const cf_arch *a) {
    const search_admit *x = ctx;
    cf_net *net = NULL;
    cf_cost cost;
    if (cf_net_build(x->space, a, &x->input, &net) != CF_OK) return 0;
    cf_status st = cf_cost_of_net(net, x->batch, x->with_aux, &cost);
    cf_net_destroy(net);
    if (st != CF_OK) return 0;
    const int64_t *lim = x->limit;
    return !(lim[CF_LIMIT_MACS] > 0 && cost.macs > lim[CF_LIMIT_MACS]) &&
           !(lim[CF_LIMIT_PARAMS] > 0 && cost.params > lim[CF_LIMIT_PARAMS]) &&
           !(lim[CF_LIMIT_MEMORY] > 0 && (int64_t)cost.activation_bytes > lim[CF_LIMIT_MEMORY]);
}

int search_oneshot_setup(const cli_args *a, const char *strategy, run_setup *r) {
    cf_oneshot_config oc;
    int is = 0;
    if (cf_strategy_oneshot_config(strategy, cli_value(a, "strategy-options"), &oc, &is) != CF_OK)
        return cli_usage_error(a, "%s", cf_error_message());
    if (!is) return -1;
    if (r->cfg.limit[CF_LIMIT_LATENCY] > 0)
        return cli_usage_error(a, "--max-latency: the %s search scores candidates on the supernet and cannot "
                                  "measure their latency; use --max-macs or --max-params", strategy);
    if (r->cfg.replicas > 1) return cli_usage_error(a, "--replicas %d: a supernet trains on one device", r->cfg.replicas);
    search_admit *x = calloc(1, sizeof *x);
    if (!x) return cli_fail(a->command);
    x->space = r->space;
    x->input = r->ev->input;
    x->batch = r->cfg.batch;
    x->with_aux = r->ev->with_aux;
    memcpy(x->limit, r->cfg.limit, sizeof x->limit);
    r->admit = x;
    oc.admit = admit;
    oc.admit_ctx = x;
    oc.train.diverge_loss = r->tc.diverge_loss;
    if (cf_evaluator_train_set_oneshot(r->ev, &oc) != CF_OK)
        return cli_usage_error(a, "--strategy %s trains a supernet: use --evaluator train", strategy);
    return -1;
}
