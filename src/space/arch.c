/* arch.c - the public architecture codec: argument checks, family dispatch,
 * and what every family shares (hashing, mutation, crossover retries), with
 * the hyperparameter values of spaces that search them (arch_hparam.c) beside
 * each family's part.
 *
 * Tested by tests/test_arch.c (round trips, properties per family).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/text.h"
#include "family.h"
#include "hparam.h"
#include "scan.h"

/* The family registry: one line per family. */
static const cf_family_ops *const k_families[CF_SPACE_FAMILY_COUNT] = {
    [CF_SPACE_FAMILY_NB201] = &cf_family_nb201,
    [CF_SPACE_FAMILY_DARTS] = &cf_family_darts,
    [CF_SPACE_FAMILY_NB101] = &cf_family_nb101,
    [CF_SPACE_FAMILY_MOBILE] = &cf_family_mobile,
};

const cf_family_ops *cf_family_of(cf_space_family f) {
    CF_ASSERT((unsigned)f < CF_SPACE_FAMILY_COUNT);
    return k_families[f];
}

const cf_family_ops *cf_family_find(const char *name) {
    for (int f = 0; f < CF_SPACE_FAMILY_COUNT; f++)
        if (strcmp(k_families[f]->name, name) == 0) return k_families[f];
    return NULL;
}

const char *cf_space_family_name(cf_space_family f) {
    if ((int)f < 0 || f >= CF_SPACE_FAMILY_COUNT) return "unknown";
    return k_families[f]->name;
}

void cf_space_describe(const cf_space *s, char *buf, size_t cap) {
    if (cap) buf[0] = '\0';
    cf_family_of(s->family)->describe(s, buf, cap);
}

const char *cf_space_arch_syntax(const cf_space *s) { return cf_family_of(s->family)->arch_syntax; }

static const cf_family_ops *family_of(const cf_space *s) { return cf_family_of(s->family); }

cf_status cf_arch_op_lookup(const cf_space *s, const struct cf_scan *sc, int col,
                            const char *name, int *index) {
    int i = cf_space_op_index(s, name);
    if (i >= 0) {
        *index = i;
        return CF_OK;
    }
    const char *names[CF_SPACE_MAX_OPS];
    for (int k = 0; k < s->n_ops; k++) names[k] = s->ops[k].name;
    const char *near = cf_text_closest(name, names, (size_t)s->n_ops);
    if (near)
        return cf_scan_fail(sc, col, "unknown op \"%s\" in space %s (did you mean \"%s\"?)", name,
                            s->name, near);
    return cf_scan_fail(sc, col, "unknown op \"%s\" in space %s", name, s->name);
}

int cf_space_has_supernet(const cf_space *s) {
    return s->family == CF_SPACE_FAMILY_NB201 || s->family == CF_SPACE_FAMILY_DARTS;
}

#define SUPERNET_TEXT "supernet"

/* The supernet: only where the family has one, and only of a space that
 * searches no hyperparameters (one-shot search trains the cells alone). */
static cf_status supernet_check(const cf_space *s) {
    if (!cf_space_has_supernet(s))
        CF_FAIL(CF_ERR_UNSUPPORTED, "arch: space %s (family %s) has no supernet; nb201 and darts spaces do",
                s->name, family_of(s)->name);
    if (s->n_hparams > 0)
        CF_FAIL(CF_ERR_UNSUPPORTED, "arch: space %s searches hyperparameters, which a supernet cannot; "
                "one-shot search trains the cells alone", s->name);
    return CF_OK;
}

cf_status cf_arch_parse(const cf_space *s, const char *text, cf_arch *out) {
    memset(out, 0, sizeof *out);
    if (!text) CF_FAIL(CF_ERR_INVALID_ARG, "arch: no text");
    if (strcmp(text, SUPERNET_TEXT) == 0) {
        CF_TRY(supernet_check(s));
        out->supernet = 1;
        return CF_OK;
    }
    if (s->n_hparams == 0) {
        cf_status st = family_of(s)->parse(s, text, out);
        if (st == CF_OK) st = family_of(s)->validate(s, out);
        if (st != CF_OK) memset(out, 0, sizeof *out);
        return st;
    }
    size_t n = 0;
    CF_TRY(cf_hparam_split(s, text, &n));
    char *family = malloc(n + 1);
    if (!family) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "arch: no memory for %zu bytes of text", n);
    memcpy(family, text, n);
    family[n] = 0;
    cf_status st = family_of(s)->parse(s, family, out);
    free(family);
    if (st == CF_OK) st = cf_hparam_parse(s, text, n, out);
    if (st == CF_OK) st = cf_arch_validate(s, out);
    if (st != CF_OK) memset(out, 0, sizeof *out);
    return st;
}

cf_status cf_arch_format(const cf_space *s, const cf_arch *a, char *buf, size_t cap) {
    if (cap) buf[0] = 0;
    if (a->supernet) {
        if (cap <= strlen(SUPERNET_TEXT)) CF_FAIL(CF_ERR_INVALID_ARG, "arch: %zu bytes do not hold \"supernet\"", cap);
        memcpy(buf, SUPERNET_TEXT, sizeof SUPERNET_TEXT);
        return CF_OK;
    }
    CF_TRY(family_of(s)->format(s, a, buf, cap));
    return cf_hparam_format(s, a, buf, strlen(buf), cap);
}

size_t cf_arch_longest_op(const cf_space *s) {
    size_t m = 0;
    for (int k = 0; k < s->n_ops; k++) {
        size_t n = strlen(s->ops[k].name);
        if (n > m) m = n;
    }
    return m;
}

size_t cf_arch_digits(long long v) {
    size_t d = v < 0 ? 2 : 1;
    for (v = v < 0 ? -v : v; v >= 10; v /= 10) d++;
    return d;
}

size_t cf_arch_text_max(const cf_space *s) { return family_of(s)->text_max(s) + cf_hparam_text_max(s); }

cf_status cf_arch_validate(const cf_space *s, const cf_arch *a) {
    if (a->supernet) return supernet_check(s);
    CF_TRY(family_of(s)->validate(s, a));
    return cf_hparam_validate(s, a);
}

void cf_arch_canonical(const cf_space *s, const cf_arch *a, cf_arch *out) {
    cf_arch tmp = *a;
    if (a->supernet) {
        *out = tmp;
        return;
    }
    family_of(s)->canonical(s, &tmp, out);
    memcpy(out->hp, a->hp, sizeof out->hp);
}

/* The bytes of an arch before its hyperparameter values: what the hash read
 * before spaces searched them (cf_arch was 724 bytes: its int8_t members with
 * one byte of padding after expand), so the hashes of spaces without
 * hyperparameters stay as they were. */
#define FAMILY_END (offsetof(cf_arch, expand) + sizeof(((cf_arch *)0)->expand))
#define FAMILY_BYTES ((FAMILY_END + 1) & ~(size_t)1)
_Static_assert(FAMILY_BYTES <= offsetof(cf_arch, hp), "the family part ends before hp");

uint64_t cf_arch_hash(const cf_space *s, const cf_arch *a) {
    cf_arch c;
    cf_arch_canonical(s, a, &c);
    memset((unsigned char *)&c + FAMILY_END, 0, offsetof(cf_arch, hp) - FAMILY_END);
    /* FNV-1a, 64 bit, over the family, the canonical bytes and the values. */
    uint64_t h = 0xcbf29ce484222325ull;
    const unsigned char fam = (unsigned char)s->family;
    h = (h ^ fam) * 0x100000001b3ull;
    const unsigned char *p = (const unsigned char *)&c;
    for (size_t i = 0; i < FAMILY_BYTES; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    p = (const unsigned char *)c.hp;
    for (size_t i = 0; i < (size_t)s->n_hparams * sizeof c.hp[0]; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    if (c.supernet) h = (h ^ 0x5a) * 0x100000001b3ull;
    return h;
}

void cf_arch_sample(const cf_space *s, cf_rng *rng, cf_arch *out) {
    memset(out, 0, sizeof *out);
    family_of(s)->sample(s, rng, out);
    cf_hparam_sample(s, rng, out);
}

size_t cf_arch_neighbors(const cf_space *s, const cf_arch *a, cf_arch *out, size_t cap) {
    size_t n = family_of(s)->neighbors(s, a, out, cap);
    for (size_t i = 0; i < n && i < cap; i++) memcpy(out[i].hp, a->hp, sizeof a->hp);
    return n + cf_hparam_neighbors(s, a, n < cap ? out + n : NULL, n < cap ? cap - n : 0);
}

cf_status cf_arch_mutate(const cf_space *s, cf_rng *rng, const cf_arch *a, cf_arch *out) {
    size_t n = cf_arch_neighbors(s, a, NULL, 0);
    if (n == 0) CF_FAIL(CF_ERR_INVALID_ARG, "arch: no neighbor to mutate to in space %s", s->name);
    cf_arch *all = malloc(n * sizeof *all);
    if (!all) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "arch: no memory for %zu neighbors", n);
    cf_arch_neighbors(s, a, all, n);
    *out = all[cf_rng_below(rng, (uint32_t)n)];
    free(all);
    return CF_OK;
}

void cf_arch_crossover(const cf_space *s, cf_rng *rng, const cf_arch *a, const cf_arch *b,
                       cf_arch *out) {
    for (int attempt = 0; attempt < 64; attempt++) {
        cf_arch child;
        memset(&child, 0, sizeof child);
        family_of(s)->crossover(s, rng, a, b, &child);
        cf_hparam_crossover(s, rng, a, b, &child);
        cf_error_clear();
        if (cf_arch_validate(s, &child) == CF_OK) {
            *out = child;
            return;
        }
    }
    cf_error_clear();
    *out = *a;
}

size_t cf_arch_encoding_size(const cf_space *s, cf_arch_encoding kind) {
    return family_of(s)->encoding_size(s, kind) + cf_hparam_encoding_size(s);
}

void cf_arch_encode(const cf_space *s, const cf_arch *a, cf_arch_encoding kind, float *out) {
    cf_arch c;
    cf_arch_canonical(s, a, &c);
    size_t n = family_of(s)->encoding_size(s, kind);
    memset(out, 0, (n + cf_hparam_encoding_size(s)) * sizeof *out);
    family_of(s)->encode(s, &c, kind, out);
    cf_hparam_encode(s, &c, out + n);
}

double cf_space_size(const cf_space *s) { return family_of(s)->size(s) * cf_hparam_grid_size(s); }

/* The grid of hyperparameter levels around each family arch. */
typedef struct grid_walk {
    const cf_space *s;
    int (*fn)(const cf_arch *a, void *ctx);
    void *ctx;
} grid_walk;

static int visit_levels(const cf_arch *a, void *ctx) {
    const grid_walk *g = ctx;
    const cf_space *s = g->s;
    int level[CF_SPACE_MAX_HPARAMS] = {0};
    cf_arch x = *a;
    for (;;) {
        for (int i = 0; i < s->n_hparams; i++) x.hp[i] = cf_hparam_level(s, i, level[i]);
        if (g->fn(&x, g->ctx)) return 1;
        int i = s->n_hparams - 1;
        while (i >= 0 && ++level[i] == cf_hparam_levels(s, i)) level[i--] = 0;
        if (i < 0) return 0;
    }
}

cf_status cf_space_enumerate(const cf_space *s, uint64_t max_count,
                             int (*fn)(const cf_arch *a, void *ctx), void *ctx) {
    const cf_family_ops *f = family_of(s);
    double size = cf_space_size(s);
    if (!f->enumerate || size > (double)max_count)
        CF_FAIL(CF_ERR_UNSUPPORTED, "space %s: %.4g architectures%s, more than the %llu that may "
                "be listed one by one; sample it instead", s->name, size,
                s->n_hparams ? " with their hyperparameter levels" : "", (unsigned long long)max_count);
    if (s->n_hparams == 0) return f->enumerate(s, fn, ctx);
    grid_walk g = {s, fn, ctx};
    return f->enumerate(s, visit_levels, &g);
}
