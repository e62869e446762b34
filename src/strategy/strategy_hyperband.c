/* strategy_hyperband.c - synchronous successive halving (`sh`, Jamieson &
 * Talwalkar 2016) and Hyperband (`hyperband`, Li et al. 2018), which share
 * the bracket.
 *
 * Rungs of epochs grow by eta from min_epochs to max_epochs: K rungs, s_max =
 * K - 1 (fidelity.h). A bracket s starts n configurations at rung s_max - s
 * and runs successive halving over its s + 1 rungs: when every result of its
 * rung i is in, the best floor(n / eta^(i+1)) OK ones (at least one) go on to
 * rung i + 1 (the same arch at the next rung's epochs, parent = the promoted
 * trial).
 *   sh         every bracket is s = s_max with n configurations (option n;
 *              0 means eta^s_max, so that one configuration reaches the top).
 *   hyperband  brackets s = s_max, s_max - 1, ..., 0, then again, with
 *              n = ceil((s_max + 1) / (s + 1) * eta^s), the published
 *              schedule: for 81 epochs and eta 3 the brackets start 81, 34,
 *              15, 8 and 5 configurations at 1, 3, 9, 27 and 81 epochs.
 * FAILED and REJECTED results are never promoted; a rung with fewer OK
 * results than its quota promotes those it has, and a bracket whose rung has
 * none ends there. Ties go to the earlier trial of the rung.
 *
 * Waiting: a bracket proposes nothing while a rung is incomplete. With
 * parallel=1 (default) an ask for which every running bracket waits starts the
 * next bracket, as HpBandSter does, so free devices never idle; with
 * parallel=0 brackets run one at a time and such an ask answers CF_ASK_WAIT:
 * the textbook algorithm, whose proposals do not depend on how many trials
 * run at once or the order results arrive in. Both give the same proposals
 * when one trial runs at a time. Results told for trials not asked here (a
 * resumed run) only keep their archs from being started again.
 *
 * Options: eta=3, sampler=random|evolution (random), sample=10 (fidelity.h),
 * parallel=1, and for sh n=0. Only objective 0 is used.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/grow.h"
#include "cellforge/log.h"
#include "fidelity.h"

enum { SH_OPT_N = CF_MF_OPT_COUNT, SH_OPT_PARALLEL, SH_OPT_COUNT };
enum { HB_OPT_PARALLEL = CF_MF_OPT_COUNT, HB_OPT_COUNT };

#define PARALLEL_OPTION                                                                                           \
    {"parallel", 1, 0, 1, 1, "1: start the next bracket when every running one waits; 0: one bracket at a time " \
     "(asks wait while a rung is incomplete)", NULL}

static const cf_strategy_option sh_options[SH_OPT_COUNT] = {
    CF_MF_OPTIONS,
    {"n", 0, 0, 1000000, 1, "configurations per bracket; 0: eta^(rungs-1), one of which reaches the top rung", NULL},
    PARALLEL_OPTION,
};

static const cf_strategy_option hb_options[HB_OPT_COUNT] = {
    CF_MF_OPTIONS,
    PARALLEL_OPTION,
};

/* One configuration at the bracket's current rung. */
typedef struct slot {
    uint32_t config;
    int64_t trial;      /* -1 until proposed at this rung */
    int64_t from;       /* its trial at the rung below (the parent); -1 at the first rung */
    double objective;   /* NaN until told; +inf when not OK */
} slot;

typedef struct bracket {
    int64_t id;
    int s;              /* rungs - 1; its first rung is the ladder's rung s_max - s */
    size_t n;           /* configurations at its first rung */
    int at;             /* the bracket's rung being run, 0..s */
    slot *slots;
    size_t want;        /* slots this rung will hold */
    size_t count, cap;  /* slots held */
    size_t proposed, told;
    int finished;
} bracket;

typedef struct hb_state {
    cf_mf mf;
    int hyperband;      /* 0: sh */
    int parallel;
    size_t sh_n;        /* sh: configurations per bracket */
    int next_s;         /* hyperband: the next bracket's s */
    int64_t next_id;
    bracket *brackets;  /* running, oldest first */
    size_t n_brackets, brackets_cap;
} hb_state;

static void hb_destroy(void *state) {
    hb_state *h = state;
    if (!h) return;
    for (size_t i = 0; i < h->n_brackets; i++) free(h->brackets[i].slots);
    free(h->brackets);
    cf_mf_free(&h->mf);
    free(h);
}

static size_t ipow(size_t base, int e) {
    size_t p = 1;
    while (e-- > 0) p *= base;
    return p;
}

static cf_status create(const char *name, int hyperband, const cf_strategy_option *table, size_t n_options,
                        const cf_space *s, const cf_strategy_config *cfg, void **state) {
    double v[SH_OPT_COUNT];
    CF_TRY(cf_strategy_options_parse(name, cfg->options, table, n_options, v));
    hb_state *h = calloc(1, sizeof *h);
    if (!h) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "strategy %s: no memory", name);
    cf_status st = cf_mf_init(&h->mf, name, s, cfg, v);
    if (st != CF_OK) {
        hb_destroy(h);
        return st;
    }
    h->hyperband = hyperband;
    h->parallel = (int)v[hyperband ? HB_OPT_PARALLEL : SH_OPT_PARALLEL];
    int s_max = h->mf.n_rungs - 1;
    h->sh_n = hyperband || v[SH_OPT_N] == 0 ? ipow((size_t)h->mf.eta, s_max) : (size_t)v[SH_OPT_N];
    h->next_s = s_max;
    *state = h;
    return CF_OK;
}

static cf_status sh_create(const cf_space *s, const cf_strategy_config *cfg, void **state) {
    return create("sh", 0, sh_options, SH_OPT_COUNT, s, cfg, state);
}

static cf_status hb_create(const cf_space *s, const cf_strategy_config *cfg, void **state) {
    return create("hyperband", 1, hb_options, HB_OPT_COUNT, s, cfg, state);
}

static int first_rung(const hb_state *h, const bracket *b) { return h->mf.n_rungs - 1 - b->s; }

/* Sort key of a slot: objective, then position (the earlier trial wins ties). */
typedef struct ranked {
    double objective;
    size_t index;
} ranked;

static int cmp_ranked(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->objective != y->objective) return x->objective < y->objective ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Every result of the current rung is in: promote the best to the next rung,
 * or finish the bracket. */
static cf_status advance(hb_state *h, bracket *b) {
    if (b->at == b->s) {
        b->finished = 1;
        return CF_OK;
    }
    /* At least one goes on, so a small n for sh still reaches the top rung. */
    size_t keep = b->n / ipow((size_t)h->mf.eta, b->at + 1), ok = 0;
    if (keep == 0) keep = 1;
    ranked *order = malloc((b->count ? b->count : 1) * sizeof *order);
    if (!order) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "no memory to rank %zu results", b->count);
    for (size_t i = 0; i < b->count; i++)
        if (isfinite(b->slots[i].objective)) order[ok++] = (ranked){b->slots[i].objective, i};
    qsort(order, ok, sizeof *order, cmp_ranked);
    if (keep > ok) keep = ok;
    /* The kept slots move to the front, best first; their trials become parents. */
    slot *next = malloc((keep ? keep : 1) * sizeof *next);
    if (!next) {
        free(order);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "no memory for %zu promotions", keep);
    }
    for (size_t i = 0; i < keep; i++) {
        const slot *from = &b->slots[order[i].index];
        next[i] = (slot){from->config, -1, from->trial, NAN};
    }
    memcpy(b->slots, next, keep * sizeof *next);
    free(next);
    free(order);
    b->at++;
    b->want = b->count = keep;
    b->proposed = b->told = 0;
    if (keep == 0) b->finished = 1;
    CF_LOG_DEBUG("strategy %s: bracket %lld (s=%d) promotes %zu to %d epochs", h->mf.name, (long long)b->id, b->s,
                 keep, h->mf.rung[first_rung(h, b) + b->at].epochs);
    return CF_OK;
}

/* A proposal from bracket b: 1 proposed, 0 it waits (or finished), -1 error. */
static int propose(hb_state *h, bracket *b, int64_t trial, cf_candidate *out) {
    cf_mf *m = &h->mf;
    if (b->finished) return 0;
    if (b->at == 0 && b->count < b->want) {
        if (cf_grow((void **)&b->slots, &b->cap, b->count + 1, sizeof *b->slots) != CF_OK) {
            cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "no memory for %zu configurations", b->count + 1);
            return -1;
        }
        cf_rng rng = cf_strategy_rng(m->seed, trial);
        uint32_t config = 0;
        int64_t parent = -1;
        int found = 0;
        if (cf_mf_new_config(m, &rng, trial, &config, &parent, &found) != CF_OK) return -1;
        if (found) {
            size_t k = b->count++;
            b->slots[k] = (slot){config, trial, -1, NAN};
            b->proposed++;
            if (cf_mf_dispatch(m, trial, config, first_rung(h, b), b->id, k, parent, out) != CF_OK) return -1;
            return 1;
        }
        /* The space is exhausted: the bracket goes on with what it has. */
        b->want = b->n = b->count;
        if (b->count == 0) b->finished = 1;
        else if (b->told == b->count && advance(h, b) != CF_OK) return -1;
    }
    if (b->finished || b->proposed == b->count) return 0;
    size_t k = b->proposed++;
    slot *sl = &b->slots[k];
    sl->trial = trial;
    if (cf_mf_dispatch(m, trial, sl->config, first_rung(h, b) + b->at, b->id, k, sl->from, out) != CF_OK) return -1;
    return 1;
}

static void drop_finished(hb_state *h) {
    size_t j = 0;
    for (size_t i = 0; i < h->n_brackets; i++) {
        if (h->brackets[i].finished) free(h->brackets[i].slots);
        else h->brackets[j++] = h->brackets[i];
    }
    h->n_brackets = j;
}

static cf_status start_bracket(hb_state *h) {
    if (cf_grow((void **)&h->brackets, &h->brackets_cap, h->n_brackets + 1, sizeof *h->brackets) != CF_OK)
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "no memory for %zu brackets", h->n_brackets + 1);
    int s_max = h->mf.n_rungs - 1, s = s_max;
    size_t n = h->sh_n;
    if (h->hyperband) {
        s = h->next_s;
        h->next_s = s == 0 ? s_max : s - 1;
        size_t p = ipow((size_t)h->mf.eta, s) * (size_t)(s_max + 1);
        n = (p + (size_t)s) / (size_t)(s + 1);
    }
    bracket *b = &h->brackets[h->n_brackets++];
    memset(b, 0, sizeof *b);
    b->id = h->next_id++;
    b->s = s;
    b->n = b->want = n;
    CF_LOG_DEBUG("strategy %s: bracket %lld: s=%d, %zu configurations at %d epochs", h->mf.name, (long long)b->id, s,
                 n, h->mf.rung[first_rung(h, b)].epochs);
    return CF_OK;
}

static cf_ask_result hb_ask(void *state, int64_t trial, cf_candidate *out) {
    hb_state *h = state;
    const char *name = h->mf.name;
    int r = 0;
    for (size_t i = 0; i < h->n_brackets && r == 0; i++) r = propose(h, &h->brackets[i], trial, out);
    if (r == 0 && (h->parallel || h->n_brackets == 0) && !h->mf.exhausted) {
        drop_finished(h);
        if (start_bracket(h) != CF_OK) return cf_strategy_ask_failed(name);
        r = propose(h, &h->brackets[h->n_brackets - 1], trial, out);
    }
    drop_finished(h);
    if (r < 0) return cf_strategy_ask_failed(name);
    if (r > 0) return CF_ASK_OK;
    return h->mf.n_pending || h->n_brackets ? CF_ASK_WAIT : CF_ASK_DONE;
}

static void hb_tell(void *state, int64_t trial, const cf_candidate *c, const cf_outcome *o) {
    hb_state *h = state;
    cf_mf_pending was;
    double v;
    if (!cf_mf_told(&h->mf, trial, c, o, &was, &v) || was.bracket < 0) return;
    for (size_t i = 0; i < h->n_brackets; i++) {
        bracket *b = &h->brackets[i];
        if (b->id != was.bracket) continue;
        b->slots[was.slot].objective = v;
        b->told++;
        if (b->told == b->want && advance(h, b) != CF_OK)
            CF_LOG_ERROR("strategy %s: bracket %lld ends early: %s", h->mf.name, (long long)b->id, cf_error_message());
        break;
    }
    drop_finished(h);
}

const cf_strategy_ops cf_strategy_sh = {
    .name = "sh",
    .doc = "successive halving: brackets of n configs at min epochs, the best 1/eta of each complete "
                     "rung trained eta times longer up to max epochs (eta=3, n=0 meaning eta^(rungs-1), "
                     "sampler=random|evolution, sample=10, parallel=1)",
    .create = sh_create,
    .destroy = hb_destroy,
    .ask = hb_ask,
    .tell = hb_tell,
};

const cf_strategy_ops cf_strategy_hyperband = {
    .name = "hyperband",
    .doc = "Hyperband (Li et al. 2018): successive-halving brackets cycling from many configs at min "
                     "epochs to few at max epochs (eta=3, sampler=random|evolution, sample=10, parallel=1)",
    .create = hb_create,
    .destroy = hb_destroy,
    .ask = hb_ask,
    .tell = hb_tell,
};
