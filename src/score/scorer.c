/* scorer.c - zero-cost proxies for a running search (include/cellforge/scorer.h):
 * one minibatch, one backend, a cache keyed by the canonical arch's hash, and
 * the journal as the cache's durable copy.
 *
 * Tests: tests/test_scorer.c (ctest -R test_scorer), tests/cli_proxy.sh.
 */
#include "cellforge/scorer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../journal/journal_read.h"
#include "cellforge/grow.h"
#include "cellforge/log.h"
#include "cellforge/net.h"
#include "cellforge/text.h"
#include "cellforge/thread.h"

typedef struct entry {
    uint64_t key;              /* cf_arch_hash; the slot is used when `used` */
    int used;
    unsigned have;             /* CF_PROXY_BIT of the proxies in v (the others NaN) */
    double v[CF_PROXY_COUNT];
} entry;

/* What a strategy scorer built by cf_scorer_for_strategy reads. */
typedef struct selection {
    cf_scorer *sc;
    int n;
    cf_proxy_kind kinds[CF_STRATEGY_MAX_SCORES];
} selection;

#define MAX_SELECTIONS 4

struct cf_scorer {
    const cf_space *space;     /* borrowed */
    cf_net_input input;
    int batch;
    uint64_t seed;
    float *x;                  /* (batch, c, h, w) the minibatch, normalized */
    int32_t *y;                /* (batch) */
    cf_backend *be;            /* owned */
    entry *slots;              /* open addressing, cap a power of two */
    size_t cap, count;
    cf_journal *journal;       /* borrowed; NULL: scores are not written */
    const double *clock;
    size_t computed, cached;
    double seconds;
    selection sel[MAX_SELECTIONS];
    int n_sel;
    unsigned mask;             /* the proxies computed: those the selections read */
};

cf_status cf_scorer_create(const cf_space *s, const cf_dataset *ds, int batch, uint64_t seed, int threads,
                           cf_scorer **out) {
    *out = NULL;
    if (!s || !ds) CF_FAIL(CF_ERR_INVALID_ARG, "zero-cost scorer: no %s", s ? "dataset" : "space");
    if (batch < 2 || (size_t)batch > ds->n)
        CF_FAIL(CF_ERR_INVALID_ARG, "zero-cost scorer: a minibatch of %d images from %s (%zu images): expected 2..%zu",
                batch, ds->name, ds->n, ds->n);
    cf_scorer *sc = calloc(1, sizeof *sc);
    if (!sc) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "zero-cost scorer: no memory");
    sc->space = s;
    sc->input = (cf_net_input){ds->c, ds->h, ds->w, ds->classes};
    sc->batch = batch;
    sc->seed = seed;
    sc->mask = CF_PROXY_BIT(CF_PROXY_PARAMS) | CF_PROXY_BIT(CF_PROXY_MACS);
    sc->x = malloc((size_t)batch * (size_t)(ds->c * ds->h * ds->w) * sizeof *sc->x);
    sc->y = malloc((size_t)batch * sizeof *sc->y);
    cf_status st = sc->x && sc->y ? CF_OK
                                   : cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__,
                                                  "zero-cost scorer: no memory for a minibatch of %d", batch);
    if (st == CF_OK) st = cf_proxy_minibatch(ds, batch, seed, sc->x, sc->y);
    if (st == CF_OK) st = cf_backend_cpu_fast_create(threads, &sc->be);
    if (st != CF_OK) {
        cf_scorer_destroy(sc);
        return st;
    }
    *out = sc;
    return CF_OK;
}

void cf_scorer_destroy(cf_scorer *sc) {
    if (!sc) return;
    cf_backend_cpu_fast_destroy(sc->be);
    free(sc->x);
    free(sc->y);
    free(sc->slots);
    free(sc);
}

/* ---- the cache ------------------------------------------------------------------ */

static entry *find(const cf_scorer *sc, uint64_t key) {
    if (!sc->cap) return NULL;
    for (size_t i = (size_t)(key * 0x9E3779B97F4A7C15ull) & (sc->cap - 1);; i = (i + 1) & (sc->cap - 1)) {
        if (!sc->slots[i].used) return NULL;
        if (sc->slots[i].key == key) return &sc->slots[i];
    }
}

static void put(entry *slots, size_t cap, uint64_t key, unsigned have, const double *v) {
    size_t i = (size_t)(key * 0x9E3779B97F4A7C15ull) & (cap - 1);
    while (slots[i].used && slots[i].key != key) i = (i + 1) & (cap - 1);
    slots[i].used = 1;
    slots[i].key = key;
    slots[i].have = have;
    memcpy(slots[i].v, v, sizeof slots[i].v);
}

/* Keep v (the proxies in have) for key; an entry there already is replaced
 * when v holds more. */
static cf_status remember(cf_scorer *sc, uint64_t key, unsigned have, const double *v) {
    entry *e = find(sc, key);
    if (e) {
        if ((e->have | have) != e->have) put(sc->slots, sc->cap, key, have, v);
        return CF_OK;
    }
    if (2 * (sc->count + 1) > sc->cap) {
        size_t cap = sc->cap ? 2 * sc->cap : 256;
        entry *slots = calloc(cap, sizeof *slots);
        if (!slots) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "zero-cost scorer: no memory for %zu cached scores", cap);
        for (size_t i = 0; i < sc->cap; i++)
            if (sc->slots[i].used) put(slots, cap, sc->slots[i].key, sc->slots[i].have, sc->slots[i].v);
        free(sc->slots);
        sc->slots = slots;
        sc->cap = cap;
    }
    put(sc->slots, sc->cap, key, have, v);
    sc->count++;
    return CF_OK;
}

/* ---- scoring -------------------------------------------------------------------- */

static void write_event(cf_scorer *sc, const cf_arch *a, const double *v) {
    char text[CF_ARCH_TEXT_MAX], esc[2 * CF_ARCH_TEXT_MAX + 8], fields[2 * CF_ARCH_TEXT_MAX + 1024];
    if (cf_arch_format(sc->space, a, text, sizeof text) != CF_OK) {
        cf_error_clear();
        return;
    }
    int n = snprintf(fields, sizeof fields, "\"arch\":\"%s\"", cf_journal_escape(text, esc, sizeof esc));
    for (int k = 0; k < CF_PROXY_COUNT && n > 0 && (size_t)n < sizeof fields; k++)
        if (sc->mask & CF_PROXY_BIT(k))
            n += isfinite(v[k]) ? snprintf(fields + n, sizeof fields - (size_t)n, ",\"%s\":%.17g", cf_proxy_name(k), v[k])
                            : snprintf(fields + n, sizeof fields - (size_t)n, ",\"%s\":null", cf_proxy_name(k));
    /* a lost score is computed again by a resume; the journal's own failure
     * surfaces at the next trial event */
    if (cf_journal_append(sc->journal, "proxy_scored", sc->clock ? *sc->clock : 0, fields) != CF_OK) {
        CF_LOG_WARN("zero-cost scorer: %s", cf_error_message());
        cf_error_clear();
    }
}

cf_status cf_scorer_score(cf_scorer *sc, const cf_arch *a, double out[CF_PROXY_COUNT]) {
    uint64_t key = cf_arch_hash(sc->space, a);
    const entry *e = find(sc, key);
    if (e && (e->have & sc->mask) == sc->mask) {
        memcpy(out, e->v, sizeof e->v);
        sc->cached++;
        return CF_OK;
    }
    double t0 = cf_time_now();
    /* the canonical form, so that every text of one network scores alike */
    cf_arch canon;
    cf_arch_canonical(sc->space, a, &canon);
    cf_net *net = NULL;
    CF_TRY(cf_net_build(sc->space, &canon, &sc->input, &net));
    cf_status st = cf_proxy_score_some(net, sc->be, sc->seed, sc->x, sc->y, sc->batch, sc->mask, out);
    cf_net_destroy(net);
    CF_TRY(st);
    sc->computed++;
    sc->seconds += cf_time_now() - t0;
    CF_TRY(remember(sc, key, sc->mask, out));
    if (sc->journal) write_event(sc, a, out);
    return CF_OK;
}

cf_status cf_scorer_parse(const char *text, cf_proxy_kind *kinds, int cap, int *n) {
    *n = 0;
    char buf[256];
    if (!text || strlen(text) >= sizeof buf) CF_FAIL(CF_ERR_INVALID_ARG, "zero-cost proxy: expected a name");
    if (strcmp(text, "vote") == 0) text = "synflow,snip,naswot";
    snprintf(buf, sizeof buf, "%s", text);
    const char *names[CF_PROXY_COUNT];
    for (int k = 0; k < CF_PROXY_COUNT; k++) names[k] = cf_proxy_name(k);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        cf_proxy_kind k;
        if (!cf_proxy_parse(t, &k)) {
            const char *near = cf_text_closest(t, names, CF_PROXY_COUNT);
            CF_FAIL(CF_ERR_UNKNOWN_NAME, "unknown zero-cost proxy '%s'%s%s%s (vote, or any of params, macs, grad_norm, "
                    "snip, synflow, naswot and the others `cellforge score` prints)",
                    t, near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
        }
        for (int i = 0; i < *n; i++)
            if (kinds[i] == k) CF_FAIL(CF_ERR_INVALID_ARG, "zero-cost proxy '%s' named twice", t);
        if (*n >= cap) CF_FAIL(CF_ERR_INVALID_ARG, "zero-cost proxies: at most %d in a vote", cap);
        kinds[(*n)++] = k;
    }
    if (!*n) CF_FAIL(CF_ERR_INVALID_ARG, "zero-cost proxy: expected a name, got '%s'", text);
    return CF_OK;
}

static cf_status selection_fn(void *ctx, const cf_arch *a, double *scores) {
    const selection *s = ctx;
    double v[CF_PROXY_COUNT];
    CF_TRY(cf_scorer_score(s->sc, a, v));
    for (int i = 0; i < s->n; i++) scores[i] = v[s->kinds[i]];
    return CF_OK;
}

cf_strategy_scorer cf_scorer_for_strategy(cf_scorer *sc, const cf_proxy_kind *kinds, int n) {
    CF_ASSERT(sc != NULL && n >= 1 && n <= CF_STRATEGY_MAX_SCORES);
    /* the same selection twice shares its slot */
    for (int i = 0; i < sc->n_sel; i++)
        if (sc->sel[i].n == n && memcmp(sc->sel[i].kinds, kinds, (size_t)n * sizeof *kinds) == 0)
            return (cf_strategy_scorer){selection_fn, &sc->sel[i], n};
    CF_ASSERT(sc->n_sel < MAX_SELECTIONS);
    for (int i = 0; i < n; i++) sc->mask |= CF_PROXY_BIT(kinds[i]);
    selection *s = &sc->sel[sc->n_sel++];
    s->sc = sc;
    s->n = n;
    memcpy(s->kinds, kinds, (size_t)n * sizeof *kinds);
    return (cf_strategy_scorer){selection_fn, s, n};
}

void cf_scorer_set_journal(cf_scorer *sc, cf_journal *j, const double *clock) {
    sc->journal = j;
    sc->clock = clock;
}

/* ---- reading the journal back --------------------------------------------------- */

typedef struct loader {
    cf_scorer *sc;
    size_t loaded;
} loader;

static cf_status on_line(void *ctx, const cJSON *o, int64_t lineno) {
    (void)lineno;
    loader *L = ctx;
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(o, "event");
    if (!cJSON_IsString(ev) || strcmp(ev->valuestring, "proxy_scored") != 0) return CF_OK;
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(o, "arch");
    cf_arch a;
    if (!cJSON_IsString(arch) || cf_arch_parse(L->sc->space, arch->valuestring, &a) != CF_OK) {
        cf_error_clear();
        return CF_OK;
    }
    double v[CF_PROXY_COUNT];
    unsigned have = 0;
    for (int k = 0; k < CF_PROXY_COUNT; k++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, cf_proxy_name(k));
        v[k] = cJSON_IsNumber(x) ? x->valuedouble : cJSON_IsNull(x) ? -INFINITY : NAN; /* null: ranks last */
        if (cJSON_IsNumber(x) || cJSON_IsNull(x)) have |= CF_PROXY_BIT(k);
    }
    CF_TRY(remember(L->sc, cf_arch_hash(L->sc->space, &a), have, v));
    L->loaded++;
    return CF_OK;
}

cf_status cf_scorer_load(cf_scorer *sc, const char *path, size_t *loaded) {
    loader L = {sc, 0};
    cf_journal_scan scan;
    CF_TRY(cf_journal_read(path, on_line, &L, &scan));
    if (loaded) *loaded = L.loaded;
    return CF_OK;
}

void cf_scorer_stats(const cf_scorer *sc, size_t *computed, size_t *cached, double *seconds) {
    if (computed) *computed = sc->computed;
    if (cached) *cached = sc->cached;
    if (seconds) *seconds = sc->seconds;
}
