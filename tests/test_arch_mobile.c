/* test_arch_mobile.c - the mobile family: codec, samples, encodings,
 * enumeration and the networks it builds (the parameter count worked out by
 * hand below). Spaces and helpers: arch_kit.c.
 *
 *   ctest --test-dir build -R arch_mobile --output-on-failure
 */
#include <stdlib.h>
#include <string.h>

#include "arch_kit.h"
#include "cellforge/net.h"
#include "cellforge/space.h"
#include "check.h"

/* ---- mobile ----------------------------------------------------------------- */

static void test_mobile_text(const cf_space *s) {
    check_text_round_trip(s, "k3e4-k5e6|k3e3|k7e6-k5e4-k3e3|k3e3|k5e6");
    check_text_round_trip(s, "k3e3|k3e3|k3e3|k3e3|k3e3");
    check_text_round_trip(s, "k7e6-k7e6-k7e6-k7e6|k5e4|k3e3-k3e3|k3e6|k7e3-k5e3");

    cf_arch a;
    CHECK_OK(cf_arch_parse(s, "k3e4-k5e6|k3e3|k7e6-k5e4-k3e3|k3e3|k5e6", &a));
    CHECK(a.n_stages == 5 && a.depth[2] == 3 && a.kernel[2][0] == 2 && a.expand[2][0] == 2 &&
              a.kernel[0][1] == 1 && a.expand[0][0] == 1,
          "choices are not indices into kernels / expands");

    static const parse_error_case cases[] = {
        {"k3e4-k5e6|k3e3|k4e6-k5e4-k3e3|k3e3|k5e6", {"column 17:", "allowed: 3, 5, 7"}},
        {"k3e4-k5e6|k3e3|k7e5-k5e4-k3e3|k3e3|k5e6", {"column 19:", "allowed: 3, 4, 6"}},
        {"k3e4-k5e6|k3e3|k7e6-k5e4-k3e3|k3e3", {"column 35:", "4 stages; space mobile has 5"}},
        {"k3e4-k5e6|k3e3|k7e6-k5e4-k3e3|k3e3|k5e6|k3e3", {"column 41:", "one too many"}},
        {"k3e4-k5e6-k3e3-k3e3-k3e3|k3e3|k7e6|k3e3|k5e6", {"column 21:", "stage 0 has more than 4"}},
        {"k3e4-k5e6||k7e6|k3e3|k5e6", {"column 11:", "stage 1 has 0 blocks; space mobile allows 1 to 4"}},
        {"k3e4-k5e6|k3e3|k7e6x|k3e3|k5e6", {"column 20:", "expected '-'"}},
        {"k3x4|k3e3|k7e6|k3e3|k5e6", {"column 3:", "expected 'e'"}},
        {"", {"column 1:", "stage 0 has 0 blocks"}},
    };
    check_parse_errors(s, cases, sizeof cases / sizeof cases[0]);
}

static int same_stage(const cf_arch *x, const cf_arch *y, int st) {
    return x->depth[st] == y->depth[st] && !memcmp(x->kernel[st], y->kernel[st], CF_MOBILE_MAX_DEPTH) &&
           !memcmp(x->expand[st], y->expand[st], CF_MOBILE_MAX_DEPTH);
}

static void test_mobile_samples(const cf_space *s) {
    cf_rng rng = test_rng(5);
    for (int i = 0; i < 500; i++) {
        cf_arch a, b, c;
        char text[CF_ARCH_TEXT_MAX], again[CF_ARCH_TEXT_MAX];
        cf_arch_sample(s, &rng, &a);
        CHECK_OK(cf_arch_validate(s, &a));
        CHECK_OK(cf_arch_format(s, &a, text, sizeof text));
        CHECK_OK(cf_arch_parse(s, text, &b));
        CHECK(arch_eq(&a, &b), "sample %d: %s does not parse back", i, text);
        CHECK_OK(cf_arch_format(s, &b, again, sizeof again));
        CHECK(!strcmp(text, again), "sample %d printed twice differently", i);
        cf_arch_canonical(s, &a, &c);
        CHECK(arch_eq(&a, &c), "sample %d: canonical changed a mobile arch", i);

        if (i % 10) continue;
        size_t n = cf_arch_neighbors(s, &a, NULL, 0);
        cf_arch *all = calloc(n, sizeof *all);
        cf_arch_neighbors(s, &a, all, n);
        for (size_t k = 0; k < n; k++) {
            CHECK_OK(cf_arch_validate(s, &all[k]));
            CHECK(!arch_eq(&all[k], &a), "sample %d: neighbor %zu is the arch itself", i, k);
            cf_arch_canonical(s, &all[k], &c);
            CHECK(arch_eq(&c, &all[k]), "sample %d: neighbor %zu has stale slots", i, k);
        }
        check_mutate_is_neighbor(s, &rng, &a, all, n, i);
        free(all);
        cf_arch_sample(s, &rng, &b);
        cf_arch child;
        cf_arch_crossover(s, &rng, &a, &b, &child);
        CHECK_OK(cf_arch_validate(s, &child));
        for (int st = 0; st < s->n_stages; st++)
            CHECK(same_stage(&child, &a, st) || same_stage(&child, &b, st),
                  "sample %d: crossover stage %d is from neither parent", i, st);
    }

    /* Neighbor count of a fixed arch: per block 2 kernels + 2 expands, per stage
     * depth -1 when above 1 and +1 when below 4. Depths 2,1,3,1,1: 8 blocks x 4 = 32,
     * minus: stages 0 and 2 (2), plus: all five (5). */
    cf_arch a;
    CHECK_OK(cf_arch_parse(s, "k3e4-k5e6|k3e3|k7e6-k5e4-k3e3|k3e3|k5e6", &a));
    CHECK(cf_arch_neighbors(s, &a, NULL, 0) == 39, "%zu neighbors, expected 39",
          cf_arch_neighbors(s, &a, NULL, 0));
}

static void test_mobile_encodings(const cf_space *s) {
    size_t n1 = cf_arch_encoding_size(s, CF_ARCH_ENCODING_ONEHOT);
    size_t n2 = cf_arch_encoding_size(s, CF_ARCH_ENCODING_PATH);
    CHECK(n1 == 5 * 4 * (1 + 3 + 3), "onehot size %zu, expected 5 stages x 4 slots x 7", n1);
    CHECK(n2 == n1, "path size %zu != onehot size", n2);
    cf_arch a;
    CHECK_OK(cf_arch_parse(s, "k3e4-k5e6|k3e3|k7e6-k5e4-k3e3|k3e3|k5e6", &a));
    float *e = calloc(n1, sizeof *e), *f = calloc(n1, sizeof *f);
    cf_arch_encode(s, &a, CF_ARCH_ENCODING_ONEHOT, e);
    cf_arch_encode(s, &a, CF_ARCH_ENCODING_PATH, f);
    CHECK(!memcmp(e, f, n1 * sizeof *e), "path and onehot differ");
    float sum = 0;
    for (size_t k = 0; k < n1; k++) sum += e[k];
    CHECK(sum == 8 * 3, "encoding sums to %g, expected 8 blocks x 3", sum);
    /* Stage 0 block 1 = k5e6: slot 1 at 7, present, kernel index 1, expand index 2. */
    CHECK(e[7] == 1 && e[7 + 1 + 1] == 1 && e[7 + 4 + 2] == 1 && e[7 + 1] == 0,
          "stage 0 block 1 encoded wrong");
    cf_arch_encode(s, &a, CF_ARCH_ENCODING_ONEHOT, f);
    CHECK(!memcmp(e, f, n1 * sizeof *e), "encoding not deterministic");
    free(e);
    free(f);

    /* Five stages of 1..4 blocks of 9 choices: (9 + 81 + 729 + 6561)^5. */
    double stage = 9.0 + 81 + 729 + 6561, want = stage * stage * stage * stage * stage;
    CHECK(cf_space_size(s) == want, "size %g, expected %g", cf_space_size(s), want);
    int visits = 0;
    CHECK(cf_space_enumerate(s, 1000000, count_visit, &visits) == CF_ERR_UNSUPPORTED,
          "a 2e19 space was enumerated");
}

typedef struct enum_state {
    const cf_space *s;
    int count, bad;
    uint64_t hashes[128];
} enum_state;

static int enum_visit(const cf_arch *a, void *ctx) {
    enum_state *st = ctx;
    char text[CF_ARCH_TEXT_MAX];
    cf_arch b;
    if (cf_arch_validate(st->s, a) != CF_OK || cf_arch_format(st->s, a, text, sizeof text) != CF_OK ||
        cf_arch_parse(st->s, text, &b) != CF_OK || !arch_eq(a, &b))
        st->bad++;
    if (st->count < 128) st->hashes[st->count] = cf_arch_hash(st->s, a);
    st->count++;
    return 0;
}

static int stop_at_ten(const cf_arch *a, void *ctx) {
    (void)a;
    return ++*(int *)ctx == 10;
}

/* A two-stage space small enough to list: stage 0 has 0..1 blocks, stage 1
 * 1..2, each block one of 2 kernels x 2 expands. */
static void test_mobile_enumerate(void) {
    cf_space s;
    make_mobile(&s);
    s.n_stages = 0;
    add_stage(&s, 16, 1, 0, 1);
    add_stage(&s, 24, 2, 1, 2);
    s.n_kernels = 2;
    s.n_expands = 2;
    s.expands[1] = 6;
    CHECK(cf_space_size(&s) == (1 + 4) * (4 + 16), "size %g, expected 100", cf_space_size(&s));
    enum_state st = {.s = &s};
    CHECK_OK(cf_space_enumerate(&s, 1000, enum_visit, &st));
    CHECK(st.count == 100 && st.bad == 0, "%d archs listed, %d bad", st.count, st.bad);
    int dup = 0;
    for (int i = 0; i < st.count && i < 128; i++)
        for (int k = 0; k < i; k++) dup += st.hashes[i] == st.hashes[k];
    CHECK(dup == 0, "%d duplicates listed", dup);
    int seen = 0;
    CHECK_OK(cf_space_enumerate(&s, 1000, stop_at_ten, &seen));
    CHECK(seen == 10, "the visitor's stop was ignored (%d visits)", seen);
    check_text_round_trip(&s, "|k3e6-k5e3");
    CHECK(cf_space_enumerate(&s, 99, enum_visit, &st) == CF_ERR_UNSUPPORTED, "limit ignored");
}

/* A small space whose network is counted by hand. */
static void make_mobile_small(cf_space *s, double width) {
    make_mobile(s);
    s->stem_channels = 16;
    s->first_channels = 8;
    s->head_channels = 64;
    s->n_stages = 0;
    add_stage(s, 16, 2, 1, 2);
    add_stage(s, 24, 1, 1, 2);
    s->options[0].value = width;
}

static void test_mobile_net(const cf_space *big) {
    cf_space s;
    make_mobile_small(&s, 1.0);
    cf_arch a;
    CHECK_OK(cf_arch_parse(&s, "k3e3-k5e4|k7e6", &a));
    /* Width 1: channels stem 16, first 8, stage 0 16, stage 1 24, head 64.
     *   stem     conv 3x3 3->16: 16*3*9 = 432, BN 32                        =   464
     *   first    dw 3x3 on 16: 16*9 = 144, BN 32; pw 16->8: 128, BN 16     =   320
     *            (16 != 8: no residual)
     *   s0.b0    k3e3 8->16 stride 2, hidden 24: expand 8*24 = 192, BN 48;
     *            dw 24*9 = 216, BN 48; project 24*16 = 384, BN 32         =   920
     *   s0.b1    k5e4 16->16, hidden 64: 16*64 = 1024, BN 128; dw 64*25 =
     *            1600, BN 128; project 64*16 = 1024, BN 32 (+ residual)    =  3936
     *   s1.b0    k7e6 16->24, hidden 96: 16*96 = 1536, BN 192; dw 96*49 =
     *            4704, BN 192; project 96*24 = 2304, BN 48                 =  8976
     *   head     1x1 24->64: 1536, BN 128                                   =  1664
     *   linear   64*10 + 10                                                 =   650
     *                                                                 total = 16930 */
    const int64_t want = 464 + 320 + 920 + 3936 + 8976 + 1664 + 650;
    cf_net_input cifar = {.c = 3, .h = 32, .w = 32, .classes = 10};
    cf_net_input fmnist = {.c = 1, .h = 28, .w = 28, .classes = 10};
    cf_net *net = NULL;
    CHECK_OK(cf_net_build(&s, &a, &cifar, &net));
    if (net) {
        CHECK(count_params(net) == want, "%lld parameters, counted %lld by hand",
              (long long)count_params(net), (long long)want);
        CHECK(find_layer(net, "stages.0.block1.add") != NULL, "no residual in stage 0 block 1");
        CHECK(find_layer(net, "stages.0.block0.add") == NULL, "residual across a stride");
        const cf_net_layer *l = find_layer(net, "stages.1.block0.project");
        CHECK(l && l->c == 24 && l->h == 16, "stage 1 output %dx%d", l ? l->c : 0, l ? l->h : 0);
    }
    cf_net_destroy(net);
    net = NULL;
    /* One input channel: the stem conv loses 2 * 16 * 9 weights. */
    CHECK_OK(cf_net_build(&s, &a, &fmnist, &net));
    if (net) CHECK(count_params(net) == want - 2 * 16 * 9, "fmnist: %lld parameters",
                   (long long)count_params(net));
    cf_net_destroy(net);
    net = NULL;

    /* Width 0.5: make_div(16) = 8, make_div(8) = max(8, 8) = 8, make_div(24) =
     * floor(16 / 8) * 8 = 16 (>= 0.9 * 12), head 64 with max(1, w) = 1. */
    make_mobile_small(&s, 0.5);
    CHECK_OK(cf_net_build(&s, &a, &cifar, &net));
    if (net) {
        const cf_net_layer *stem = find_layer(net, "stem.conv");
        const cf_net_layer *out = find_layer(net, "stages.1.block0.project");
        const cf_net_layer *head = find_layer(net, "head.conv");
        CHECK(stem && stem->c == 8, "width 0.5 stem %d", stem ? stem->c : 0);
        CHECK(out && out->c == 16, "width 0.5 stage 1 %d", out ? out->c : 0);
        CHECK(head && head->c == 64, "width 0.5 head %d", head ? head->c : 0);
    }
    cf_net_destroy(net);
    net = NULL;
    /* Width 0.75: make_div(24) = floor(22 / 8) * 8 = 16 < 0.9 * 18, so 24. */
    make_mobile_small(&s, 0.75);
    CHECK_OK(cf_net_build(&s, &a, &cifar, &net));
    if (net) {
        const cf_net_layer *out = find_layer(net, "stages.1.block0.project");
        CHECK(out && out->c == 24, "width 0.75 stage 1 %d (the +8 rule)", out ? out->c : 0);
    }
    cf_net_destroy(net);
    net = NULL;

    /* The five-stage space on both geometries. */
    CHECK_OK(cf_arch_parse(big, "k3e4-k5e6|k3e3|k7e6-k5e4-k3e3|k3e3|k5e6", &a));
    CHECK_OK(cf_net_build(big, &a, &fmnist, &net));
    if (net) {
        const cf_net_layer *l = &net->layers[net->logits];
        CHECK(l->c == 10, "logits %d", l->c);
        const cf_net_layer *head = find_layer(net, "head.conv");
        CHECK(head && head->c == 320 && head->h == 2, "head %dx%d", head ? head->c : 0,
              head ? head->h : 0);
    }
    cf_net_destroy(net);
    net = NULL;
    CHECK_OK(cf_net_build(big, &a, &cifar, &net));
    cf_net_destroy(net);
}

int main(void) {
    cf_space mobile;
    make_mobile(&mobile);
    test_mobile_text(&mobile);
    test_mobile_samples(&mobile);
    test_mobile_encodings(&mobile);
    test_mobile_enumerate();
    test_mobile_net(&mobile);
    return test_finish("test_arch_mobile");
}
