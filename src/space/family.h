/* family.h - what each space family implements for the codec (private to src/space).
 *
 * src/space/arch.c holds the public cf_arch_* functions: it checks arguments,
 * dispatches to the family's table and does what is the same for all families
 * (hashing, mutation as a uniform pick among neighbors, crossover retries).
 * One file per family: arch_nb201.c, arch_darts.c, arch_nb101.c, arch_mobile.c.
 */
#ifndef CF_SPACE_FAMILY_H
#define CF_SPACE_FAMILY_H

#include "cellforge/space.h"

typedef struct cf_family_ops {
    /* Text -> arch; errors carry the 1-based column. Need not validate (arch.c does). */
    cf_status (*parse)(const cf_space *s, const char *text, cf_arch *out);
    /* Arch -> canonical text; CF_ERR_INVALID_ARG when cap is too small. */
    cf_status (*format)(const cf_space *s, const cf_arch *a, char *buf, size_t cap);
    cf_status (*validate)(const cf_space *s, const cf_arch *a);
    /* a is valid; out may alias a. */
    void (*canonical)(const cf_space *s, const cf_arch *a, cf_arch *out);
    void (*sample)(const cf_space *s, cf_rng *rng, cf_arch *out);
    /* Every valid one-step neighbor; writes up to cap, returns the total. */
    size_t (*neighbors)(const cf_space *s, const cf_arch *a, cf_arch *out, size_t cap);
    /* One candidate child; may be invalid (arch.c validates and retries). */
    void (*crossover)(const cf_space *s, cf_rng *rng, const cf_arch *a, const cf_arch *b,
                      cf_arch *out);
    size_t (*encoding_size)(const cf_space *s, cf_arch_encoding kind);
    /* a is canonical; out has encoding_size floats, zeroed by the caller. */
    void (*encode)(const cf_space *s, const cf_arch *a, cf_arch_encoding kind, float *out);
    double (*size)(const cf_space *s);
    /* Visit every arch in a fixed order; NULL where the family cannot. Returns
     * CF_OK, or the visitor's stop as CF_OK too. */
    cf_status (*enumerate)(const cf_space *s, int (*fn)(const cf_arch *a, void *ctx), void *ctx);
} cf_family_ops;

/* Resolve an op name met at column col of sc: unknown names fail with the
 * closest op of the space ("did you mean"). Implemented in arch.c. */
struct cf_scan;
cf_status cf_arch_op_lookup(const cf_space *s, const struct cf_scan *sc, int col,
                            const char *name, int *index);

extern const cf_family_ops cf_family_nb201;
extern const cf_family_ops cf_family_darts;
extern const cf_family_ops cf_family_nb101;
extern const cf_family_ops cf_family_mobile;

#endif
