/* family.h - the family registry: what each space family implements (private to src/space).
 *
 * A family is one file (arch_nb201.c, arch_darts.c, arch_nb101.c,
 * arch_mobile.c) that fills one cf_family_ops: its name and the parts of a
 * space file it reads (space_load.c does the rest: names, ops, options), its
 * architecture codec, and a description for `cellforge space`. src/space/arch.c
 * holds the public cf_arch_* functions: it checks arguments, dispatches to the
 * family's table and does what is the same for all families (hashing, mutation
 * as a uniform pick among neighbors, crossover retries).
 *
 * Adding a family: its enum value in space.h, its file here, one line in the
 * registry (arch.c), its network builder in src/nn (one line in net.c's
 * builder table) and, optionally, a cell drawing in src/report/report_cells.c.
 */
#ifndef CF_SPACE_FAMILY_H
#define CF_SPACE_FAMILY_H

#include "cellforge/space.h"
#include "core/json_read.h"

/* An option a family's skeleton reads: a space file must declare it, with its
 * min/max inside lo..hi (what the network builder handles; lo/hi where the
 * file leaves them out). */
typedef struct cf_family_option {
    const char *name;
    int integer;
    double lo, hi;
    const char *doc; /* used where the file gives none */
} cf_family_option;

typedef struct cf_family_ops {
    /* ---- the space file ---- */
    const char *name;                  /* the file's "family": "nb201" */
    const char *part;                  /* the object of the family's units: "cell" or "blocks" */
    const char *const *part_keys;      /* keys of that object the family reads (NULL-terminated) */
    const char *const *skeleton_keys;  /* keys of "skeleton" besides "options" (NULL-terminated) */
    const cf_family_option *options;   /* options the skeleton must declare */
    int n_options;
    /* Read the family's keys of the part object (keys already checked). A cell
     * family reads its sizes here; space_load.c reads "ops" after it. */
    cf_status (*parse_part)(cf_json_reader *r, const cJSON *part, cf_space *s);
    /* Read the family's keys of "skeleton" besides "options"; NULL: none. */
    cf_status (*parse_skeleton)(cf_json_reader *r, const cJSON *sk, cf_space *s);
    /* Refuse an op (already read) that this family cannot use, at the reader's
     * path of that op; NULL: every op is fine. */
    cf_status (*check_op)(cf_json_reader *r, const cf_space *s, const cf_space_op *op);
    /* ---- describing it ---- */
    const char *arch_syntax;           /* the text form in one line, for `cellforge space` */
    /* The family's lines of `cellforge space NAME` (cell or stages), each
     * ending in a newline. */
    void (*describe)(const cf_space *s, char *buf, size_t cap);
    /* ---- the architecture codec ---- */
    /* Text -> arch; errors carry the 1-based column. Need not validate (arch.c does). */
    cf_status (*parse)(const cf_space *s, const char *text, cf_arch *out);
    /* Arch -> canonical text; CF_ERR_INVALID_ARG when cap is too small. */
    cf_status (*format)(const cf_space *s, const cf_arch *a, char *buf, size_t cap);
    /* Bytes (with the NUL) that the text of any arch of s fits in: an upper
     * bound from the sizes and the longest op name, so that a space whose
     * texts cannot be stored is refused when it is loaded. */
    size_t (*text_max)(const cf_space *s);
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

/* Read the "ops" array of a cell (the part of a cell family) into s->ops,
 * checking each op with the family's check_op. Implemented in space_load.c. */
cf_status cf_space_parse_ops(cf_json_reader *r, const cJSON *cell, cf_space *s);

/* Length of the longest op name of s, and the digits of v >= 0 (the text
 * bounds of the families). Implemented in arch.c. */
size_t cf_arch_longest_op(const cf_space *s);
size_t cf_arch_digits(long long v);

/* The registry: the family's table (f in range), or the family named name (NULL). */
const cf_family_ops *cf_family_of(cf_space_family f);
const cf_family_ops *cf_family_find(const char *name);

extern const cf_family_ops cf_family_nb201;
extern const cf_family_ops cf_family_darts;
extern const cf_family_ops cf_family_nb101;
extern const cf_family_ops cf_family_mobile;

#endif
