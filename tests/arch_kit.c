/* arch_kit.c - what the nb101 and mobile family tests share (arch_kit.h):
 * the two spaces written out field by field, so the tests do not depend on the
 * JSON loader, and the codec and network helpers. Covered by test_arch_nb101
 * and test_arch_mobile.
 */
#include "arch_kit.h"

#include <stdio.h>
#include <string.h>

#include "check.h"

/* ---- spaces ----------------------------------------------------------------- */

static void add_option(cf_space *s, const char *name, double value, double lo, double hi,
                       int integer) {
    cf_space_option *o = &s->options[s->n_options++];
    snprintf(o->name, sizeof o->name, "%s", name);
    o->value = value;
    o->min = lo;
    o->max = hi;
    o->integer = integer;
}

static void add_op(cf_space *s, const char *name, cf_prim prim, int kernel) {
    cf_space_op *o = &s->ops[s->n_ops++];
    snprintf(o->name, sizeof o->name, "%s", name);
    o->prim = prim;
    o->kernel = kernel;
    o->dilation = 1;
}

/* NAS-Bench-101: 7 vertices, 9 edges, its three vertex ops, its CIFAR skeleton. */
void make_nb101(cf_space *s) {
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "nb101");
    s->family = CF_SPACE_FAMILY_NB101;
    add_op(s, "conv3x3-bn-relu", CF_PRIM_CONV_BN_RELU, 3);
    add_op(s, "conv1x1-bn-relu", CF_PRIM_CONV_BN_RELU, 1);
    add_op(s, "maxpool3x3", CF_PRIM_MAX_POOL, 3);
    s->nodes = 7;
    s->max_edges = 9;
    add_option(s, "stem_channels", 128, 1, 4096, 1);
    add_option(s, "stacks", 3, 1, 8, 1);
    add_option(s, "cells_per_stack", 3, 1, 16, 1);
}

void add_stage(cf_space *s, int channels, int stride, int lo, int hi) {
    s->stages[s->n_stages++] = (cf_mobile_stage){channels, stride, lo, hi};
}

void make_mobile(cf_space *s) {
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "mobile");
    s->family = CF_SPACE_FAMILY_MOBILE;
    s->stem_channels = 16;
    s->first_channels = 16;
    s->head_channels = 320;
    add_stage(s, 24, 2, 1, 4);
    add_stage(s, 32, 2, 1, 4);
    add_stage(s, 64, 2, 1, 4);
    add_stage(s, 96, 1, 1, 4);
    add_stage(s, 160, 2, 1, 4);
    s->n_kernels = 3;
    s->kernels[0] = 3, s->kernels[1] = 5, s->kernels[2] = 7;
    s->n_expands = 3;
    s->expands[0] = 3, s->expands[1] = 4, s->expands[2] = 6;
    add_option(s, "width", 1.0, 0.1, 4.0, 0);
}

/* ---- helpers ---------------------------------------------------------------- */

int arch_eq(const cf_arch *a, const cf_arch *b) { return memcmp(a, b, sizeof *a) == 0; }

cf_rng test_rng(uint64_t trial) {
    return cf_rng_make(20240601, cf_rng_stream(trial, CF_RNG_PURPOSE_TEST));
}

int64_t count_params(const cf_net *net) {
    int64_t total = 0;
    for (int i = 0; i < net->n; i++) {
        const cf_net_layer *l = &net->layers[i];
        if (!l->aux) total += cf_net_weight_numel(l, 0) + cf_net_weight_numel(l, 1);
    }
    return total;
}

const cf_net_layer *find_layer(const cf_net *net, const char *name) {
    for (int i = 0; i < net->n; i++)
        if (!strcmp(net->layers[i].name, name)) return &net->layers[i];
    return NULL;
}

/* format(parse(text)) == text and parse(format(a)) == a. */
void check_mutate_is_neighbor(const cf_space *s, cf_rng *rng, const cf_arch *a, const cf_arch *all, size_t n, int i) {
    for (int t = 0; t < 10; t++) {
        cf_arch b;
        CHECK_OK(cf_arch_mutate(s, rng, a, &b));
        int found = 0;
        for (size_t k = 0; k < n && !found; k++) found = arch_eq(&b, &all[k]);
        CHECK(found, "sample %d: mutate returned a non-neighbor", i);
    }
}

void check_text_round_trip(const cf_space *s, const char *text) {
    cf_arch a, b;
    char out[CF_ARCH_TEXT_MAX];
    CHECK_OK(cf_arch_parse(s, text, &a));
    CHECK_OK(cf_arch_format(s, &a, out, sizeof out));
    CHECK(!strcmp(out, text), "%s printed back as %s", text, out);
    CHECK_OK(cf_arch_parse(s, out, &b));
    CHECK(arch_eq(&a, &b), "%s: parse(format(a)) != a", text);
}

void check_parse_errors(const cf_space *s, const parse_error_case *cases, size_t n) {
    for (size_t i = 0; i < n; i++) {
        cf_arch a;
        memset(&a, 0x5a, sizeof a);
        cf_error_clear();
        cf_status st = cf_arch_parse(s, cases[i].text, &a);
        const char *msg = cf_error_message();
        CHECK(st != CF_OK, "%s parsed", cases[i].text);
        for (int k = 0; k < 2; k++)
            if (cases[i].want[k])
                CHECK(strstr(msg, cases[i].want[k]) != NULL, "%s: message \"%s\" lacks \"%s\"",
                      cases[i].text, msg, cases[i].want[k]);
        cf_arch zero;
        memset(&zero, 0, sizeof zero);
        CHECK(arch_eq(&a, &zero), "%s: out not zeroed on failure", cases[i].text);
    }
}

int count_visit(const cf_arch *a, void *ctx) {
    (void)a;
    (*(int *)ctx)++;
    return 0;
}
