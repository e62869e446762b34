/* arch.c - the public architecture codec: argument checks, family dispatch,
 * and what every family shares (hashing, mutation, crossover retries).
 *
 * Tested by tests/test_arch.c (round trips, properties per family).
 */
#include <stdlib.h>
#include <string.h>

#include "cellforge/text.h"
#include "family.h"
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

cf_status cf_arch_parse(const cf_space *s, const char *text, cf_arch *out) {
    memset(out, 0, sizeof *out);
    if (!text) CF_FAIL(CF_ERR_INVALID_ARG, "arch: no text");
    cf_status st = family_of(s)->parse(s, text, out);
    if (st == CF_OK) st = family_of(s)->validate(s, out);
    if (st != CF_OK) memset(out, 0, sizeof *out);
    return st;
}

cf_status cf_arch_format(const cf_space *s, const cf_arch *a, char *buf, size_t cap) {
    if (cap) buf[0] = 0;
    return family_of(s)->format(s, a, buf, cap);
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

size_t cf_arch_text_max(const cf_space *s) { return family_of(s)->text_max(s); }

cf_status cf_arch_validate(const cf_space *s, const cf_arch *a) {
    return family_of(s)->validate(s, a);
}

void cf_arch_canonical(const cf_space *s, const cf_arch *a, cf_arch *out) {
    cf_arch tmp = *a;
    family_of(s)->canonical(s, &tmp, out);
}

uint64_t cf_arch_hash(const cf_space *s, const cf_arch *a) {
    cf_arch c;
    cf_arch_canonical(s, a, &c);
    /* FNV-1a, 64 bit, over the family and the canonical bytes. */
    uint64_t h = 0xcbf29ce484222325ull;
    const unsigned char fam = (unsigned char)s->family;
    h = (h ^ fam) * 0x100000001b3ull;
    const unsigned char *p = (const unsigned char *)&c;
    for (size_t i = 0; i < sizeof c; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

void cf_arch_sample(const cf_space *s, cf_rng *rng, cf_arch *out) {
    memset(out, 0, sizeof *out);
    family_of(s)->sample(s, rng, out);
}

size_t cf_arch_neighbors(const cf_space *s, const cf_arch *a, cf_arch *out, size_t cap) {
    return family_of(s)->neighbors(s, a, out, cap);
}

cf_status cf_arch_mutate(const cf_space *s, cf_rng *rng, const cf_arch *a, cf_arch *out) {
    size_t n = family_of(s)->neighbors(s, a, NULL, 0);
    if (n == 0) CF_FAIL(CF_ERR_INVALID_ARG, "arch: no neighbor to mutate to in space %s", s->name);
    cf_arch *all = malloc(n * sizeof *all);
    if (!all) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "arch: no memory for %zu neighbors", n);
    family_of(s)->neighbors(s, a, all, n);
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
        cf_error_clear();
        if (family_of(s)->validate(s, &child) == CF_OK) {
            *out = child;
            return;
        }
    }
    cf_error_clear();
    *out = *a;
}

size_t cf_arch_encoding_size(const cf_space *s, cf_arch_encoding kind) {
    return family_of(s)->encoding_size(s, kind);
}

void cf_arch_encode(const cf_space *s, const cf_arch *a, cf_arch_encoding kind, float *out) {
    cf_arch c;
    cf_arch_canonical(s, a, &c);
    memset(out, 0, family_of(s)->encoding_size(s, kind) * sizeof *out);
    family_of(s)->encode(s, &c, kind, out);
}

double cf_space_size(const cf_space *s) { return family_of(s)->size(s); }

cf_status cf_space_enumerate(const cf_space *s, uint64_t max_count,
                             int (*fn)(const cf_arch *a, void *ctx), void *ctx) {
    const cf_family_ops *f = family_of(s);
    double size = f->size(s);
    if (!f->enumerate || size > (double)max_count)
        CF_FAIL(CF_ERR_UNSUPPORTED, "space %s: %.4g architectures, more than the %llu that may "
                "be listed one by one; sample it instead", s->name, size,
                (unsigned long long)max_count);
    return f->enumerate(s, fn, ctx);
}
