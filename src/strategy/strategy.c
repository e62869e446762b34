/* strategy.c - the strategy registry and the helpers the strategies share:
 * option strings, the canonical-arch map and deduplicating sampling.
 *
 * Tested by tests/test_search.c:
 *   ctest --test-dir build -R test_search --output-on-failure
 */
#include "cellforge/strategy.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/log.h"
#include "cellforge/text.h"
#include "strategy_impl.h"

/* --help order: the baselines first, then the strategies that learn. */
static const cf_strategy_ops *const registry[] = {
    &cf_strategy_random,
    &cf_strategy_grid,
    &cf_strategy_evolution,
    &cf_strategy_local,
    &cf_strategy_sh,
    &cf_strategy_hyperband,
    &cf_strategy_asha,
    &cf_strategy_bananas,
    &cf_strategy_nsga2,
    &cf_strategy_darts,
    &cf_strategy_gdas,
    &cf_strategy_spos,
};
#define REGISTRY_COUNT (sizeof registry / sizeof registry[0])

const cf_strategy_ops *const *cf_strategy_list(size_t *count) {
    if (count) *count = REGISTRY_COUNT;
    return registry;
}

void cf_strategy_config_default(cf_strategy_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->seed = 0;
    cfg->n_objectives = 1;
    cfg->max_epochs = 1;
    cfg->min_epochs = 1;
    cfg->options[0] = '\0';
}

static cf_status unknown_strategy(const char *name) {
    const char *names[REGISTRY_COUNT];
    char known[256] = "";
    size_t len = 0;
    for (size_t i = 0; i < REGISTRY_COUNT; i++) {
        names[i] = registry[i]->name;
        if (len < sizeof known) len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "", names[i]);
    }
    const char *near = cf_text_closest(name, names, REGISTRY_COUNT);
    if (near) CF_FAIL(CF_ERR_UNKNOWN_NAME, "unknown strategy '%s' (did you mean '%s'?); strategies: %s", name, near, known);
    CF_FAIL(CF_ERR_UNKNOWN_NAME, "unknown strategy '%s'; strategies: %s", name, known);
}

static cf_status check_config(const char *name, const cf_strategy_config *cfg) {
    if (cfg->n_objectives < 1 || cfg->n_objectives > CF_MAX_OBJECTIVES)
        CF_FAIL(CF_ERR_INVALID_ARG, "strategy %s: %d objectives: expected 1..%d", name, cfg->n_objectives,
                CF_MAX_OBJECTIVES);
    if (cfg->min_epochs < 1 || cfg->max_epochs < cfg->min_epochs)
        CF_FAIL(CF_ERR_INVALID_ARG, "strategy %s: epochs %d..%d: expected 1 <= min_epochs <= max_epochs", name,
                cfg->min_epochs, cfg->max_epochs);
    if (!cfg->scorer.fn && (cfg->warmup || cfg->pool > 1))
        CF_FAIL(CF_ERR_INVALID_ARG, "strategy %s: a zero-cost warm-up or pool needs a proxy to rank by", name);
    if (cfg->scorer.fn && (cfg->scorer.n_scores < 1 || cfg->scorer.n_scores > CF_STRATEGY_MAX_SCORES))
        CF_FAIL(CF_ERR_INVALID_ARG, "strategy %s: %d zero-cost scores: expected 1..%d", name, cfg->scorer.n_scores,
                CF_STRATEGY_MAX_SCORES);
    if (cfg->warmup < 0 || cfg->warmup_keep < 0 || cfg->pool < 0 || (cfg->warmup_keep && !cfg->warmup))
        CF_FAIL(CF_ERR_INVALID_ARG, "strategy %s: warm-up %d, keeping %d, pool %d: expected counts, and a warm-up "
                "to keep from", name, cfg->warmup, cfg->warmup_keep, cfg->pool);
    if (!memchr(cfg->options, '\0', sizeof cfg->options))
        CF_FAIL(CF_ERR_INVALID_ARG, "strategy %s: options text not terminated within %d bytes", name,
                CF_STRATEGY_OPTIONS_MAX);
    return CF_OK;
}

cf_status cf_strategy_create(const char *name, const cf_space *s, const cf_strategy_config *cfg,
                             cf_strategy **out) {
    if (!out) CF_FAIL(CF_ERR_INVALID_ARG, "cf_strategy_create: out is NULL");
    *out = NULL;
    if (!name || !s) CF_FAIL(CF_ERR_INVALID_ARG, "cf_strategy_create: %s is NULL", name ? "space" : "name");
    const cf_strategy_ops *ops = NULL;
    for (size_t i = 0; i < REGISTRY_COUNT && !ops; i++)
        if (strcmp(registry[i]->name, name) == 0) ops = registry[i];
    if (!ops) return unknown_strategy(name);
    cf_strategy_config defaults;
    if (!cfg) {
        cf_strategy_config_default(&defaults);
        cfg = &defaults;
    }
    CF_TRY(check_config(name, cfg));
    cf_strategy *st = calloc(1, sizeof *st);
    if (!st) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "strategy %s: no memory", name);
    st->ops = ops;
    st->space = s;
    st->seed = cfg->seed;
    st->scorer = cfg->scorer;
    st->warmup = cfg->warmup;
    st->warmup_keep = cfg->warmup_keep ? cfg->warmup_keep : (cfg->warmup + 9) / 10;
    if (st->warmup && !ops->claim) {
        free(st);
        CF_FAIL(CF_ERR_INVALID_ARG, "strategy %s takes no zero-cost warm-up (evolution, local, random, bananas and "
                "nsga2 do)", name);
    }
    cf_status status = ops->create(s, cfg, &st->state);
    if (status != CF_OK) {
        free(st);
        cf_error_trace(status, __FILE__, __LINE__, "ops->create");
        return status;
    }
    *out = st;
    return CF_OK;
}

void cf_strategy_destroy(cf_strategy *st) {
    if (!st) return;
    st->ops->destroy(st->state);
    cf_strategy_warmup_free(st);
    free(st);
}

cf_ask_result cf_strategy_ask(cf_strategy *st, int64_t trial, cf_candidate *out) {
    CF_ASSERT(st != NULL && out != NULL && trial >= 0);
    /* Strategies fill what they choose; the rest reads "run's default, no parent". */
    memset(out, 0, sizeof *out);
    out->parent = -1;
    if (cf_strategy_warmup_next(st, trial, out)) return CF_ASK_OK;
    return st->ops->ask(st->state, trial, out);
}

void cf_strategy_tell(cf_strategy *st, int64_t trial, const cf_candidate *c, const cf_outcome *o) {
    CF_ASSERT(st != NULL && c != NULL && o != NULL);
    st->ops->tell(st->state, trial, c, o);
}

const char *cf_strategy_name(const cf_strategy *st) { return st ? st->ops->name : "(none)"; }

/* ---- shared helpers -------------------------------------------------------------- */

cf_rng cf_strategy_rng(uint64_t seed, int64_t trial) {
    return cf_rng_make(seed, cf_rng_stream((uint64_t)trial, CF_RNG_PURPOSE_SAMPLE));
}

void cf_strategy_candidate(cf_candidate *out, const cf_arch *a, int64_t parent) {
    memset(out, 0, sizeof *out);
    out->arch = *a;
    out->epochs = 0;
    out->fraction = 0;
    out->parent = parent;
}

cf_ask_result cf_strategy_ask_failed(const char *strategy) {
    CF_LOG_ERROR("strategy %s: stopping the search: %s", strategy, cf_error_message());
    return CF_ASK_DONE;
}

/* ---- options ------------------------------------------------------------------- */

/* "an integer in 1..1000", "a number in 0..1", "one of random, evolution" */
static void describe_range(const cf_strategy_option *o, char *buf, size_t cap) {
    if (!o->choices) {
        snprintf(buf, cap, "%s in %g..%g", o->integer ? "an integer" : "a number", o->min, o->max);
        return;
    }
    size_t len = (size_t)snprintf(buf, cap, "one of ");
    for (const char *c = o->choices; *c && len + 2 < cap; c++) {
        if (*c == '|') {
            buf[len++] = ',';
            buf[len++] = ' ';
        } else {
            buf[len++] = *c;
        }
    }
    buf[len < cap ? len : cap - 1] = '\0';
}

/* The index of `value` among o->choices ("random|evolution"); -1 with the
 * closest choice in near ("" if none is plausibly meant). */
static int choice_index(const cf_strategy_option *o, const char *value, char near[64]) {
    char names[8][64];
    const char *ptrs[8];
    int n = 0;
    for (const char *c = o->choices; *c && n < 8; n++) {
        size_t len = strcspn(c, "|");
        snprintf(names[n], sizeof names[n], "%.*s", (int)len, c);
        ptrs[n] = names[n];
        if (strcmp(names[n], value) == 0) return n;
        c += len + (c[len] == '|');
    }
    const char *best = cf_text_closest(value, ptrs, (size_t)n);
    near[0] = '\0';
    if (best) snprintf(near, 64, "%s", best);
    return -1;
}

/* Copy s[0..len) with surrounding blanks removed into buf (cap bytes); 0 if it does not fit. */
static int copy_trimmed(const char *s, size_t len, char *buf, size_t cap) {
    while (len && isspace((unsigned char)*s)) s++, len--;
    while (len && isspace((unsigned char)s[len - 1])) len--;
    if (len >= cap) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return 1;
}

static cf_status unknown_option(const char *strategy, const char *key, const cf_strategy_option *table, size_t n) {
    if (n == 0) CF_FAIL(CF_ERR_UNKNOWN_NAME, "strategy %s: unknown option '%s': it takes no options", strategy, key);
    const char *names[32];
    char known[512] = "";
    size_t len = 0, m = n < 32 ? n : 32;
    for (size_t i = 0; i < m; i++) {
        names[i] = table[i].key;
        if (len < sizeof known) len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "", names[i]);
    }
    const char *near = cf_text_closest(key, names, m);
    if (near)
        CF_FAIL(CF_ERR_UNKNOWN_NAME, "strategy %s: unknown option '%s' (did you mean '%s'?); options: %s", strategy, key,
                near, known);
    CF_FAIL(CF_ERR_UNKNOWN_NAME, "strategy %s: unknown option '%s'; options: %s", strategy, key, known);
}

static cf_status parse_item(const char *strategy, const char *item, size_t item_len, const cf_strategy_option *table,
                            size_t n, double *values, unsigned char *given) {
    char text[128];
    if (!copy_trimmed(item, item_len, text, sizeof text))
        CF_FAIL(CF_ERR_PARSE, "strategy %s: option '%.*s' is too long", strategy, (int)(item_len > 40 ? 40 : item_len),
                item);
    if (!text[0]) return CF_OK; /* "a=1,,b=2" or a trailing comma */
    char *eq = strchr(text, '=');
    char key[64], value[64];
    if (!eq || !copy_trimmed(text, (size_t)(eq - text), key, sizeof key) || !key[0])
        CF_FAIL(CF_ERR_PARSE, "strategy %s: option '%s': expected KEY=VALUE", strategy, text);
    if (!copy_trimmed(eq + 1, strlen(eq + 1), value, sizeof value))
        CF_FAIL(CF_ERR_INVALID_ARG, "strategy %s: option %s: value too long", strategy, key);
    size_t k = 0;
    while (k < n && strcmp(table[k].key, key) != 0) k++;
    if (k == n) return unknown_option(strategy, key, table, n);
    if (given[k]) CF_FAIL(CF_ERR_INVALID_ARG, "strategy %s: option '%s' given twice", strategy, key);
    given[k] = 1;
    const cf_strategy_option *o = &table[k];
    char range[96];
    describe_range(o, range, sizeof range);
    if (o->choices) {
        char near[64];
        int k_choice = choice_index(o, value, near);
        if (k_choice < 0 && near[0])
            CF_FAIL(CF_ERR_INVALID_ARG, "strategy %s: option %s='%s': expected %s (did you mean '%s'?)", strategy,
                    key, value, range, near);
        if (k_choice < 0)
            CF_FAIL(CF_ERR_INVALID_ARG, "strategy %s: option %s='%s': expected %s", strategy, key, value, range);
        values[k] = k_choice;
        return CF_OK;
    }
    errno = 0;
    char *end = NULL;
    double v = strtod(value, &end);
    if (!value[0] || end == value || *end || errno == ERANGE || !isfinite(v))
        CF_FAIL(CF_ERR_INVALID_ARG, "strategy %s: option %s='%s' is not a number: expected %s", strategy, key, value,
                range);
    if (o->integer && floor(v) != v)
        CF_FAIL(CF_ERR_INVALID_ARG, "strategy %s: option %s=%s is not a whole number: expected %s", strategy, key,
                value, range);
    if (v < o->min || v > o->max)
        CF_FAIL(CF_ERR_INVALID_ARG, "strategy %s: option %s=%s is out of range: expected %s", strategy, key, value,
                range);
    values[k] = v;
    return CF_OK;
}

cf_status cf_strategy_options_parse(const char *strategy, const char *text, const cf_strategy_option *table, size_t n,
                                    double *values) {
    unsigned char given[64] = {0};
    CF_ASSERT(n <= sizeof given);
    for (size_t k = 0; k < n; k++) values[k] = table[k].def;
    if (!text) return CF_OK;
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        CF_TRY(parse_item(strategy, p, len, table, n, values, given));
        if (!comma) return CF_OK;
        p = comma + 1;
    }
}

/* ---- canonical-arch map ------------------------------------------------------------- */

/* The keys are FNV-1a hashes, whose low bits mix poorly; spread them first. */
static size_t slot_of(uint64_t key, size_t cap) {
    key ^= key >> 33;
    key *= UINT64_C(0xff51afd7ed558ccd);
    key ^= key >> 33;
    return (size_t)key & (cap - 1);
}

void cf_strategy_map_free(cf_strategy_map *m) {
    if (!m) return;
    free(m->keys);
    free(m->values);
    free(m->used);
    memset(m, 0, sizeof *m);
}

cf_strategy_seen *cf_strategy_map_find(const cf_strategy_map *m, uint64_t key) {
    if (m->cap == 0) return NULL;
    for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (!m->used[i]) return NULL;
        if (m->keys[i] == key) return &m->values[i];
    }
}

static void put_slot(cf_strategy_map *m, uint64_t key, cf_strategy_seen v) {
    size_t i = slot_of(key, m->cap);
    while (m->used[i]) i = (i + 1) & (m->cap - 1);
    m->used[i] = 1;
    m->keys[i] = key;
    m->values[i] = v;
    m->count++;
}

/* Double the slots (at least 64) and re-insert, keeping the load at most one half. */
static cf_status grow(cf_strategy_map *m) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    cf_strategy_map next = {0};
    next.keys = malloc(cap * sizeof *next.keys);
    next.values = malloc(cap * sizeof *next.values);
    next.used = calloc(cap, 1);
    if (!next.keys || !next.values || !next.used) {
        cf_strategy_map_free(&next);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "no memory to track %zu architectures", m->count + 1);
    }
    next.cap = cap;
    for (size_t i = 0; i < m->cap; i++)
        if (m->used[i]) put_slot(&next, m->keys[i], m->values[i]);
    cf_strategy_map_free(m);
    *m = next;
    return CF_OK;
}

cf_status cf_strategy_map_add(cf_strategy_map *m, uint64_t key, cf_strategy_seen v, int *added) {
    if (added) *added = 0;
    if (cf_strategy_map_find(m, key)) return CF_OK;
    if ((m->count + 1) * 2 > m->cap) CF_TRY(grow(m));
    put_slot(m, key, v);
    if (added) *added = 1;
    return CF_OK;
}

cf_status cf_strategy_sample_unseen(const cf_space *s, cf_rng *rng, cf_strategy_map *seen, int64_t trial, cf_arch *out,
                                    int *found) {
    *found = 0;
    for (int t = 0; t < CF_STRATEGY_SAMPLE_TRIES; t++) {
        cf_arch a;
        cf_arch_sample(s, rng, &a);
        uint64_t h = cf_arch_hash(s, &a);
        if (cf_strategy_map_find(seen, h)) continue;
        CF_TRY(cf_strategy_map_add(seen, h, (cf_strategy_seen){NAN, trial}, NULL));
        *out = a;
        *found = 1;
        return CF_OK;
    }
    return CF_OK;
}
