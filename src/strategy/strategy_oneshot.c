/* strategy_oneshot.c - one-shot search as a strategy: darts, gdas, spos.
 *
 * The first ask proposes the space's supernet (cf_arch.supernet) for
 * `epochs` epochs; the train evaluator trains it with the method
 * (src/train/oneshot.c, configured from the same options by
 * cf_strategy_oneshot_config) and reports the architectures it derived in
 * the trial's metrics. Until that trial is told the strategy waits; then it
 * proposes each derived architecture, best first, as an ordinary trial at the
 * run's fidelity (its parent the supernet's trial), so that they are trained
 * alone, enter the front and go to the final phase like any search's; then it
 * is done. A supernet that failed ends the search with nothing derived.
 * Everything depends only on the tells, so a resumed run replays it exactly.
 */
#include <stdlib.h>
#include <string.h>

#include "cellforge/log.h"
#include "cellforge/oneshot.h"
#include "cellforge/train.h"
#include "strategy_impl.h"

#include <cjson/cJSON.h>

enum {
    OPT_EPOCHS, OPT_DERIVE, OPT_ORDER, OPT_LR, OPT_LR_MIN, OPT_WD, OPT_ARCH_LR, OPT_ARCH_WD, OPT_TAU_MAX,
    OPT_TAU_MIN, OPT_POPULATION, OPT_GENERATIONS, OPT_BN_BATCHES, OPT_VAL_IMAGES, OPT_COUNT
};

static const cf_strategy_option options[OPT_COUNT] = {
    [OPT_EPOCHS] = {"epochs", 0, 0, CF_TRAIN_MAX_EPOCHS, 1, "supernet epochs; 0: the run's --epochs"},
    [OPT_DERIVE] = {"derive", 0, 0, CF_ONESHOT_MAX_DERIVED, 1, "architectures derived; 0: 1 (darts, gdas), 3 (spos)"},
    [OPT_ORDER] = {"order", 1, 1, 2, 1, "darts: 1 first order, 2 second order (unrolled)"},
    [OPT_LR] = {"lr", 0.025, 1e-6, 10, 0, "weights' learning rate (cosine to lr_min)"},
    [OPT_LR_MIN] = {"lr_min", 0.001, 0, 10, 0, "weights' final learning rate"},
    [OPT_WD] = {"wd", 3e-4, 0, 1, 0, "weights' weight decay"},
    [OPT_ARCH_LR] = {"arch_lr", 3e-4, 1e-8, 1, 0, "darts, gdas: Adam's learning rate on alpha"},
    [OPT_ARCH_WD] = {"arch_wd", 1e-3, 0, 1, 0, "darts, gdas: weight decay on alpha"},
    [OPT_TAU_MAX] = {"tau_max", 10, 1e-3, 100, 0, "gdas: first temperature"},
    [OPT_TAU_MIN] = {"tau_min", 0.1, 1e-3, 100, 0, "gdas: last temperature"},
    [OPT_POPULATION] = {"population", 20, 2, 1000, 1, "spos: evolutionary search population"},
    [OPT_GENERATIONS] = {"generations", 10, 0, 1000, 1, "spos: generations"},
    [OPT_BN_BATCHES] = {"bn_batches", 4, 1, 1000, 1, "spos: training batches recalibrating BN per candidate"},
    [OPT_VAL_IMAGES] = {"val_images", 1000, 0, 1e9, 1, "spos: validation images per candidate (0: all)"},
};

static int method_of(const char *name, cf_oneshot_method *m) { return cf_oneshot_method_parse(name, m); }

cf_status cf_strategy_oneshot_config(const char *name, const char *opts, cf_oneshot_config *out, int *is_oneshot) {
    cf_oneshot_method method;
    *is_oneshot = method_of(name, &method);
    if (!*is_oneshot) return CF_OK;
    double v[OPT_COUNT];
    CF_TRY(cf_strategy_options_parse(name, opts ? opts : "", options, OPT_COUNT, v));
    cf_oneshot_config_default(out, method);
    out->order = (int)v[OPT_ORDER];
    out->derive = v[OPT_DERIVE] > 0 ? (int)v[OPT_DERIVE] : method == CF_ONESHOT_SPOS ? 3 : 1;
    out->train.lr = v[OPT_LR];
    out->train.lr_min = v[OPT_LR_MIN];
    out->train.weight_decay = v[OPT_WD];
    out->arch_lr = v[OPT_ARCH_LR];
    out->arch_wd = v[OPT_ARCH_WD];
    out->tau_max = v[OPT_TAU_MAX];
    out->tau_min = v[OPT_TAU_MIN];
    out->population = (int)v[OPT_POPULATION];
    out->generations = (int)v[OPT_GENERATIONS];
    out->bn_batches = (int)v[OPT_BN_BATCHES];
    out->val_images = (int)v[OPT_VAL_IMAGES];
    if (out->tau_min > out->tau_max)
        CF_FAIL(CF_ERR_INVALID_ARG, "strategy %s: tau_min %g above tau_max %g", name, out->tau_min, out->tau_max);
    if (out->train.lr_min > out->train.lr)
        CF_FAIL(CF_ERR_INVALID_ARG, "strategy %s: lr_min %g above lr %g", name, out->train.lr_min, out->train.lr);
    return CF_OK;
}

typedef struct oneshot_state {
    const cf_space *space;  /* borrowed */
    const char *name;
    int epochs;
    int phase;              /* 0: supernet not proposed; 1: waiting for it; 2: proposing derived */
    int64_t supernet;       /* its trial */
    cf_arch derived[CF_ONESHOT_MAX_DERIVED];
    int n_derived, next;
} oneshot_state;

static cf_status create(const char *name, const cf_space *s, const cf_strategy_config *cfg, void **state) {
    if (!cf_space_has_supernet(s))
        CF_FAIL(CF_ERR_INVALID_ARG, "strategy %s: space %s has no supernet (one-shot search covers nb201 and darts "
                "spaces)", name, s->name);
    if (s->n_hparams > 0)
        CF_FAIL(CF_ERR_INVALID_ARG, "strategy %s: space %s searches hyperparameters; one-shot search trains the "
                "cells alone (drop --search)", name, s->name);
    cf_oneshot_config oc;
    int is = 0;
    CF_TRY(cf_strategy_oneshot_config(name, cfg->options, &oc, &is));
    double v[OPT_COUNT];
    CF_TRY(cf_strategy_options_parse(name, cfg->options, options, OPT_COUNT, v));
    oneshot_state *o = calloc(1, sizeof *o);
    if (!o) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "strategy %s: no memory", name);
    o->space = s;
    o->name = name;
    o->epochs = (int)v[OPT_EPOCHS];
    o->supernet = -1;
    *state = o;
    return CF_OK;
}

static cf_status create_darts(const cf_space *s, const cf_strategy_config *cfg, void **state) {
    return create("darts", s, cfg, state);
}
static cf_status create_gdas(const cf_space *s, const cf_strategy_config *cfg, void **state) {
    return create("gdas", s, cfg, state);
}
static cf_status create_spos(const cf_space *s, const cf_strategy_config *cfg, void **state) {
    return create("spos", s, cfg, state);
}

static void destroy(void *state) { free(state); }

static cf_ask_result ask(void *state, int64_t trial, cf_candidate *out) {
    oneshot_state *o = state;
    if (o->phase == 0) {
        cf_arch a;
        memset(&a, 0, sizeof a);
        a.supernet = 1;
        cf_strategy_candidate(out, &a, -1);
        out->epochs = o->epochs;
        o->phase = 1;
        o->supernet = trial;
        return CF_ASK_OK;
    }
    if (o->phase == 1) return CF_ASK_WAIT;
    if (o->next >= o->n_derived) return CF_ASK_DONE;
    cf_strategy_candidate(out, &o->derived[o->next++], o->supernet);
    return CF_ASK_OK;
}

/* The derived architectures of a supernet's metrics, in order. */
static void read_derived(oneshot_state *o, const char *metrics) {
    cJSON *root = metrics && metrics[0] ? cJSON_Parse(metrics) : NULL;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "derived"), *item;
    cJSON_ArrayForEach(item, d) {
        if (o->n_derived >= CF_ONESHOT_MAX_DERIVED) break;
        if (!cJSON_IsString(item) || cf_arch_parse(o->space, item->valuestring, &o->derived[o->n_derived]) != CF_OK) {
            CF_LOG_WARN("strategy %s: a derived architecture that does not parse is skipped: %s", o->name,
                        cf_error_message());
            continue;
        }
        o->n_derived++;
    }
    cJSON_Delete(root);
}

static void tell(void *state, int64_t trial, const cf_candidate *c, const cf_outcome *out) {
    oneshot_state *o = state;
    (void)trial;
    if (!c->arch.supernet || o->phase == 2) return;
    o->phase = 2;
    o->supernet = trial;
    if (out->status == CF_OUTCOME_OK) read_derived(o, out->metrics);
    if (o->n_derived == 0)
        CF_LOG_WARN("strategy %s: the supernet derived no architecture; the search ends", o->name);
}

#define ONESHOT_DOC " [epochs=0 (the run's), derive, lr=0.025, lr_min=0.001, wd=3e-4"
const cf_strategy_ops cf_strategy_darts = {
    "darts",
    "DARTS: a supernet with softmax-mixed ops, alpha by Adam on the validation split; derives the top "
    "architectures by alpha" ONESHOT_DOC ", order=1|2, arch_lr=3e-4, arch_wd=1e-3]",
    create_darts, destroy, ask, tell, NULL,
};
const cf_strategy_ops cf_strategy_gdas = {
    "gdas",
    "GDAS: a supernet trained one Gumbel-sampled path per edge and step, straight-through to alpha" ONESHOT_DOC
    ", arch_lr, arch_wd, tau_max=10, tau_min=0.1]",
    create_gdas, destroy, ask, tell, NULL,
};
const cf_strategy_ops cf_strategy_spos = {
    "spos",
    "SPOS: a supernet trained on uniform single paths, then an evolutionary search scored by it under the "
    "run's constraints" ONESHOT_DOC ", population=20, generations=10, bn_batches=4, val_images=1000]",
    create_spos, destroy, ask, tell, NULL,
};
