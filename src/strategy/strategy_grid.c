/* strategy_grid.c - exhaustive search of a small space: every canonical arch
 * once, then CF_ASK_DONE.
 *
 * At create the space is enumerated (cf_space_enumerate) and the first text of
 * each canonical form is kept, so NB201's 15625 texts become its 8765 distinct
 * cells. The visiting order is a permutation drawn from the seed (shuffle=1),
 * so a run cut short still covers the space uniformly; shuffle=0 keeps the
 * enumeration order. Spaces with more than `limit` texts are refused at create:
 * each kept arch costs sizeof(cf_arch) (about 0.7 KB) of memory.
 */
#include <stdlib.h>

#include "cellforge/grow.h"
#include "cellforge/log.h"
#include "strategy_impl.h"

enum { OPT_LIMIT, OPT_SHUFFLE, OPT_COUNT };

static const cf_strategy_option options[OPT_COUNT] = {
    [OPT_LIMIT] = {"limit", 100000, 1, 1000000, 1, "largest space (in texts) that may be enumerated"},
    [OPT_SHUFFLE] = {"shuffle", 1, 0, 1, 1, "1: visit in an order drawn from the seed; 0: enumeration order"},
};

typedef struct grid_state {
    cf_arch *archs;    /* the distinct archs, in enumeration order */
    size_t count, cap;
    uint32_t *order;   /* visiting order: indices into archs */
    size_t next;       /* archs proposed so far */
} grid_state;

/* cf_space_enumerate's visitor: keep an arch whose canonical form is new. */
typedef struct collect_ctx {
    const cf_space *space;
    grid_state *g;
    cf_strategy_map seen;
    cf_status status;
} collect_ctx;

static int collect(const cf_arch *a, void *ctx_) {
    collect_ctx *ctx = ctx_;
    grid_state *g = ctx->g;
    int added = 0;
    ctx->status = cf_strategy_map_add(&ctx->seen, cf_arch_hash(ctx->space, a), (cf_strategy_seen){0, -1}, &added);
    if (ctx->status != CF_OK) return 1;
    if (!added) return 0;
    if (cf_grow((void **)&g->archs, &g->cap, g->count + 1, sizeof *g->archs) != CF_OK) {
        ctx->status = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__,
                                   "strategy grid: no memory for %zu architectures", g->count + 1);
        return 1;
    }
    g->archs[g->count++] = *a;
    return 0;
}

static void grid_destroy(void *state) {
    grid_state *g = state;
    if (!g) return;
    free(g->archs);
    free(g->order);
    free(g);
}

static cf_status grid_create(const cf_space *s, const cf_strategy_config *cfg, void **state) {
    double v[OPT_COUNT];
    CF_TRY(cf_strategy_options_parse("grid", cfg->options, options, OPT_COUNT, v));
    double size = cf_space_size(s);
    if (size > v[OPT_LIMIT])
        CF_FAIL(CF_ERR_UNSUPPORTED, "strategy grid: space %s has %.4g architectures, more than limit=%g; use random, "
                "evolution or local there, or raise the limit (up to %g)", s->name, size, v[OPT_LIMIT],
                options[OPT_LIMIT].max);
    grid_state *g = calloc(1, sizeof *g);
    if (!g) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "strategy grid: no memory");
    collect_ctx ctx = {s, g, {0}, CF_OK};
    cf_status st = cf_space_enumerate(s, (uint64_t)v[OPT_LIMIT], collect, &ctx);
    cf_strategy_map_free(&ctx.seen);
    if (st == CF_OK) st = ctx.status;
    if (st == CF_OK && g->count > 0 && !(g->order = malloc(g->count * sizeof *g->order)))
        st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "strategy grid: no memory for the order");
    if (st != CF_OK) {
        grid_destroy(g);
        cf_error_trace(st, __FILE__, __LINE__, "cf_space_enumerate");
        return st;
    }
    if (v[OPT_SHUFFLE] != 0) {
        cf_rng rng = cf_strategy_rng(cfg->seed, (int64_t)CF_STRATEGY_SETUP_TRIAL);
        cf_rng_permutation(&rng, g->order, g->count);
    } else {
        for (size_t i = 0; i < g->count; i++) g->order[i] = (uint32_t)i;
    }
    CF_LOG_DEBUG("strategy grid: %zu distinct architectures of %.0f in space %s", g->count, size, s->name);
    *state = g;
    return CF_OK;
}

static cf_ask_result grid_ask(void *state, int64_t trial, cf_candidate *out) {
    grid_state *g = state;
    if (g->next == g->count) return CF_ASK_DONE;
    cf_strategy_candidate(out, &g->archs[g->order[g->next++]], -1);
    return CF_ASK_OK;
}

/* The order is fixed at create; results change nothing. */
static void grid_tell(void *state, int64_t trial, const cf_candidate *c, const cf_outcome *o) {}

const cf_strategy_ops cf_strategy_grid = {
    .name = "grid",
    .doc = "every canonical arch of a small space once, in an order drawn from the seed "
                     "(limit=100000 texts, shuffle=1)",
    .create = grid_create,
    .destroy = grid_destroy,
    .ask = grid_ask,
    .tell = grid_tell,
};
