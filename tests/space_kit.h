/* space_kit.h - spaces and networks for the tests that train or export whole
 * networks (test_model.c, test_export_onnx.c, test_net_fuse.c,
 * test_cuda_train.c): a space loaded with skeleton options written as in a
 * test table ("C=4,N=1"), and the network of an architecture in it.
 *
 * Included after check.h, whose counters its CHECKs update, so its functions
 * are static inline like check.h's.
 */
#ifndef CF_TESTS_SPACE_KIT_H
#define CF_TESTS_SPACE_KIT_H

#include <stdio.h>
#include <string.h>

#include "cellforge/net.h"
#include "cellforge/space.h"
#include "check.h"

/* Space `name` with the comma-separated KEY=VALUE `options` set, or NULL
 * after a failed CHECK. The caller frees it with cf_space_destroy. */
static inline cf_space *kit_space(const char *name, const char *options) {
    cf_space *s = NULL;
    CHECK_OK(cf_space_load(name, &s));
    if (!s) return NULL;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", options);
    for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) CHECK_OK(cf_space_set_kv(s, t));
    return s;
}

/* The network of `arch` in space `name` (with `options`) for input `in`, or
 * NULL after a failed CHECK. The caller frees it with cf_net_destroy. */
static inline cf_net *kit_net(const char *name, const char *options, const char *arch, const cf_net_input *in) {
    cf_space *s = kit_space(name, options);
    if (!s) return NULL;
    cf_arch a;
    cf_net *net = NULL;
    cf_status st = cf_arch_parse(s, arch, &a);
    CHECK(st == CF_OK, "%s: %s", name, cf_error_message());
    if (st == CF_OK) CHECK_OK(cf_net_build(s, &a, in, &net));
    cf_space_destroy(s);
    return net;
}

#endif
