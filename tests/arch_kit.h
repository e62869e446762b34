/* arch_kit.h - spaces and helpers of the nb101 and mobile family tests
 * (test_arch_nb101.c, test_arch_mobile.c); implemented in arch_kit.c, whose
 * CHECKs count into check.c's totals.
 */
#ifndef CF_TESTS_ARCH_KIT_H
#define CF_TESTS_ARCH_KIT_H

#include <stddef.h>
#include <stdint.h>

#include "cellforge/net.h"
#include "cellforge/space.h"

/* NAS-Bench-101: 7 vertices, 9 edges, its three vertex ops, its CIFAR skeleton. */
void make_nb101(cf_space *s);
/* The MobileNetV2-like space: five stages, kernels 3/5/7, expansions 3/4/6. */
void make_mobile(cf_space *s);

/* Appends a mobile stage: channels, stride, depth range [lo, hi]. */
void add_stage(cf_space *s, int channels, int stride, int lo, int hi);

int arch_eq(const cf_arch *a, const cf_arch *b);
cf_rng test_rng(uint64_t trial); /* the tests' RNG for `trial` */
int64_t count_params(const cf_net *net); /* weights and biases of every non-auxiliary layer */
const cf_net_layer *find_layer(const cf_net *net, const char *name); /* NULL: none */

/* cf_space_enumerate visitor: counts into *(int *)ctx. */
int count_visit(const cf_arch *a, void *ctx);

/* Ten mutations of a (sample i) are each one of its n neighbors all[]. */
void check_mutate_is_neighbor(const cf_space *s, cf_rng *rng, const cf_arch *a, const cf_arch *all, size_t n, int i);

/* format(parse(text)) == text and parse(format(a)) == a. */
void check_text_round_trip(const cf_space *s, const char *text);

typedef struct parse_error_case {
    const char *text;
    const char *want[2]; /* substrings of the message */
} parse_error_case;

/* Each text fails to parse, with both substrings in the message and out zeroed. */
void check_parse_errors(const cf_space *s, const parse_error_case *cases, size_t n);

#endif
