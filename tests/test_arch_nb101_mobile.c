/* test_arch_nb101_mobile.c - the nb101 and mobile families: codec, canonical
 * forms, neighborhoods, encodings and the networks they build.
 *
 * The spaces are written out here field by field, so the test does not depend
 * on the JSON loader. The NAS-Bench-101 parameter counts are the dataset's
 * published 'trainable_parameters'; the mobile count is worked out by hand
 * below.
 *
 *   ctest --test-dir build -R arch_nb101 --output-on-failure
 *   build/tests/test_arch_nb101_mobile --all   (every cell of the space; label slow)
 */
#include <stdlib.h>
#include <string.h>

#include "cellforge/net.h"
#include "cellforge/space.h"
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
static void make_nb101(cf_space *s) {
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

static void add_stage(cf_space *s, int channels, int stride, int lo, int hi) {
    s->stages[s->n_stages++] = (cf_mobile_stage){channels, stride, lo, hi};
}

static void make_mobile(cf_space *s) {
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

static int arch_eq(const cf_arch *a, const cf_arch *b) { return memcmp(a, b, sizeof *a) == 0; }

static cf_rng test_rng(uint64_t trial) {
    return cf_rng_make(20240601, cf_rng_stream(trial, CF_RNG_PURPOSE_TEST));
}

static int64_t count_params(const cf_net *net) {
    int64_t total = 0;
    for (int i = 0; i < net->n; i++) {
        const cf_net_layer *l = &net->layers[i];
        if (!l->aux) total += cf_net_weight_numel(l, 0) + cf_net_weight_numel(l, 1);
    }
    return total;
}

static const cf_net_layer *find_layer(const cf_net *net, const char *name) {
    for (int i = 0; i < net->n; i++)
        if (!strcmp(net->layers[i].name, name)) return &net->layers[i];
    return NULL;
}

/* format(parse(text)) == text and parse(format(a)) == a. */
static void check_text_round_trip(const cf_space *s, const char *text) {
    cf_arch a, b;
    char out[CF_ARCH_TEXT_MAX];
    CHECK_OK(cf_arch_parse(s, text, &a));
    CHECK_OK(cf_arch_format(s, &a, out, sizeof out));
    CHECK(!strcmp(out, text), "%s printed back as %s", text, out);
    CHECK_OK(cf_arch_parse(s, out, &b));
    CHECK(arch_eq(&a, &b), "%s: parse(format(a)) != a", text);
}

typedef struct parse_error_case {
    const char *text;
    const char *want[2]; /* substrings of the message */
} parse_error_case;

static void check_parse_errors(const cf_space *s, const parse_error_case *cases, size_t n) {
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

/* ---- nb101 matrices ---------------------------------------------------------- */

typedef struct mat {
    int n;
    int m[CF_CELL_MAX_NODES][CF_CELL_MAX_NODES];
    int op[CF_CELL_MAX_NODES];
} mat;

static void mat_of(const cf_arch *a, mat *g) {
    memset(g, 0, sizeof *g);
    g->n = a->cell[0].n_nodes;
    for (int j = 0; j < g->n; j++) {
        g->op[j] = a->cell[0].node_op[j];
        for (int i = 0; i < a->cell[0].n_in[j]; i++) g->m[a->cell[0].in[j][i].from][j] = 1;
    }
}

static void arch_of(const mat *g, cf_arch *a) {
    memset(a, 0, sizeof *a);
    a->n_cells = 1;
    a->cell[0].n_nodes = (int8_t)g->n;
    for (int j = 0; j < g->n; j++) {
        a->cell[0].node_op[j] = (int8_t)g->op[j];
        for (int i = 0; i < j; i++)
            if (g->m[i][j]) {
                int k = a->cell[0].n_in[j]++;
                a->cell[0].in[j][k].from = (int8_t)i;
                a->cell[0].in[j][k].op = -1;
            }
    }
}

/* The same cell with its interior vertices renumbered in a random topological order. */
static void relabel_random(const mat *g, cf_rng *rng, mat *out) {
    int order[CF_CELL_MAX_NODES], placed[CF_CELL_MAX_NODES] = {0};
    int n = g->n;
    order[0] = 0;
    order[n - 1] = n - 1;
    for (int p = 1; p < n - 1; p++) {
        int ready[CF_CELL_MAX_NODES], k = 0;
        for (int v = 1; v < n - 1; v++) {
            if (placed[v]) continue;
            int ok = 1;
            for (int u = 1; u < v; u++) ok &= !g->m[u][v] || placed[u];
            if (ok) ready[k++] = v;
        }
        int v = ready[cf_rng_below(rng, (uint32_t)k)];
        placed[v] = 1;
        order[p] = v;
    }
    memset(out, 0, sizeof *out);
    out->n = n;
    for (int i = 0; i < n; i++) {
        out->op[i] = g->op[order[i]];
        for (int j = i + 1; j < n; j++) out->m[i][j] = g->m[order[i]][order[j]];
    }
}

#define INCEPTION                                                                          \
    "{\"matrix\":[[0,1,1,1,0,1,0],[0,0,0,0,0,0,1],[0,0,0,0,0,0,1],[0,0,0,0,1,0,0],"       \
    "[0,0,0,0,0,0,1],[0,0,0,0,0,0,1],[0,0,0,0,0,0,0]],\"ops\":[\"input\",\"conv1x1-bn-relu\"," \
    "\"conv3x3-bn-relu\",\"conv3x3-bn-relu\",\"conv3x3-bn-relu\",\"maxpool3x3\",\"output\"]}"

/* The first cell of the NAS-Bench-101 dataset, whose record reads
 * 'trainable_parameters': 8555530. */
#define DATASET_FIRST                                                                      \
    "{\"matrix\":[[0,1,0,0,1,1,0],[0,0,1,0,0,0,0],[0,0,0,1,0,0,1],[0,0,0,0,0,1,0],"       \
    "[0,0,0,0,0,1,0],[0,0,0,0,0,0,1],[0,0,0,0,0,0,0]],\"ops\":[\"input\",\"conv3x3-bn-relu\"," \
    "\"maxpool3x3\",\"conv3x3-bn-relu\",\"conv3x3-bn-relu\",\"conv1x1-bn-relu\",\"output\"]}"

static void test_nb101_text(const cf_space *s) {
    check_text_round_trip(s, INCEPTION);
    check_text_round_trip(s, DATASET_FIRST);
    check_text_round_trip(s, "{\"matrix\":[[0,1],[0,0]],\"ops\":[\"input\",\"output\"]}");
    check_text_round_trip(s, "{\"matrix\":[[0,1,1],[0,0,1],[0,0,0]],\"ops\":[\"input\","
                             "\"maxpool3x3\",\"output\"]}");

    /* README layout: spaces, newlines, ops before matrix are all read. */
    const char *loose =
        "{ \"ops\": [\"input\", \"conv1x1-bn-relu\", \"conv3x3-bn-relu\", \"conv3x3-bn-relu\",\n"
        "            \"conv3x3-bn-relu\", \"maxpool3x3\", \"output\"],\n"
        "  \"matrix\": [[0, 1, 1, 1, 0, 1, 0],\n"
        "             [0, 0, 0, 0, 0, 0, 1],\n"
        "             [0, 0, 0, 0, 0, 0, 1],\n"
        "             [0, 0, 0, 0, 1, 0, 0],\n"
        "             [0, 0, 0, 0, 0, 0, 1],\n"
        "             [0, 0, 0, 0, 0, 0, 1],\n"
        "             [0, 0, 0, 0, 0, 0, 0]] }";
    cf_arch a;
    char out[CF_ARCH_TEXT_MAX];
    CHECK_OK(cf_arch_parse(s, loose, &a));
    CHECK_OK(cf_arch_format(s, &a, out, sizeof out));
    CHECK(!strcmp(out, INCEPTION), "loose text printed as %s", out);
    CHECK(cf_arch_format(s, &a, out, 40) == CF_ERR_INVALID_ARG, "a 40-byte buffer was enough");

    static const parse_error_case cases[] = {
        {"{\"matrix\":[[0,1],[1,0]],\"ops\":[\"input\",\"output\"]}",
         {"column 19:", "below the diagonal"}},
        {"{\"matrix\":[[0,1,0],[0,0,1]],\"ops\":[\"input\",\"conv3x3-bn-relu\",\"output\"]}",
         {"column 27:", "must be square"}},
        {"{\"matrix\":[[0,1,0],[0,0]],\"ops\":[\"input\",\"conv3x3-bn-relu\",\"output\"]}",
         {"column 24:", "row 1 has 2 entries"}},
        {"{\"matrix\":[[0,1,0],[0,0,1],[0,0,0],[0,0,0]],\"ops\":[\"input\",\"output\"]}",
         {"column 36:", "must be square"}},
        {"{\"matrix\":[[0,1,0],[0,0,1],[0,0,0]],\"ops\":[\"input\",\"conv3x3-bn-relux\","
         "\"output\"]}",
         {"column 53:", "did you mean \"conv3x3-bn-relu\""}},
        {"{\"matrix\":[[0,1,0],[0,0,1],[0,0,0]],\"ops\":[\"conv3x3-bn-relu\",\"conv3x3-bn-relu\","
         "\"output\"]}",
         {"column 45:", "expected \"input\""}},
        {"{\"matrix\":[[0,1,0],[0,0,1],[0,0,0]],\"ops\":[\"input\",\"output\"]}",
         {"column 43:", "2 ops for a matrix of 3 vertices"}},
        {"{\"matrix\":[[0,2],[0,0]],\"ops\":[\"input\",\"output\"]}",
         {"column 15:", "0 or 1"}},
        {"{\"matrix\":[[0,1,0,0,0,0,0,0],[0,0,0,0,0,0,0,0]],\"ops\":[]}",
         {"column 27:", "at most 7"}},
        {"{\"matrix\":[[0,1],[0,0]]}", {"column 24:", "expected ','"}},
        {"{\"matrix\":[[0,1],[0,0]],\"ops\":[\"input\",\"output\"]} x",
         {"column 51:", "expected the end"}},
        /* Valid text, invalid cells: the rule and the vertex are named. */
        {"{\"matrix\":[[0,1,0],[0,0,0],[0,0,0]],\"ops\":[\"input\",\"conv3x3-bn-relu\","
         "\"output\"]}",
         {"output (vertex 2) is not reachable", NULL}},
        {"{\"matrix\":[[0,1,1,1,1,1],[0,0,1,1,1,1],[0,0,0,1,1,1],[0,0,0,0,1,1],[0,0,0,0,0,1],"
         "[0,0,0,0,0,0]],\"ops\":[\"input\",\"conv3x3-bn-relu\",\"conv3x3-bn-relu\","
         "\"conv3x3-bn-relu\",\"conv3x3-bn-relu\",\"output\"]}",
         {"15 edges after pruning", "at most 9"}},
    };
    check_parse_errors(s, cases, sizeof cases / sizeof cases[0]);

    /* A vertex off every path may take the cell over the edge limit only before pruning. */
    CHECK_OK(cf_arch_parse(s, "{\"matrix\":[[0,1,1,1,1,1,1],[0,0,1,1,1,1,0],[0,0,0,0,0,0,1],"
                              "[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0]],"
                              "\"ops\":[\"input\",\"conv3x3-bn-relu\",\"conv3x3-bn-relu\","
                              "\"conv3x3-bn-relu\",\"conv3x3-bn-relu\",\"conv3x3-bn-relu\","
                              "\"output\"]}", &a));
}

static void test_nb101_samples(const cf_space *s) {
    cf_rng rng = test_rng(1);
    for (int i = 0; i < 500; i++) {
        cf_arch a, b, c, cc;
        char text[CF_ARCH_TEXT_MAX], again[CF_ARCH_TEXT_MAX];
        cf_arch_sample(s, &rng, &a);
        CHECK_OK(cf_arch_validate(s, &a));
        CHECK(a.cell[0].n_nodes == s->nodes, "sample %d has %d vertices", i, a.cell[0].n_nodes);
        CHECK_OK(cf_arch_format(s, &a, text, sizeof text));
        CHECK_OK(cf_arch_parse(s, text, &b));
        CHECK(arch_eq(&a, &b), "sample %d: %s does not parse back", i, text);
        CHECK_OK(cf_arch_format(s, &b, again, sizeof again));
        CHECK(!strcmp(text, again), "sample %d printed twice differently", i);

        cf_arch_canonical(s, &a, &c);
        cf_arch_canonical(s, &c, &cc);
        CHECK_OK(cf_arch_validate(s, &c));
        CHECK(arch_eq(&c, &cc), "sample %d: canonical is not idempotent (%s)", i, text);
        CHECK(cf_arch_hash(s, &a) == cf_arch_hash(s, &c), "sample %d: hash(a) != hash(canon a)", i);
        CHECK_OK(cf_arch_format(s, &c, text, sizeof text));
        CHECK_OK(cf_arch_parse(s, text, &b));
        CHECK(arch_eq(&b, &c), "sample %d: canonical %s does not parse back", i, text);
    }
}

static void test_nb101_isomorphism(const cf_space *s) {
    cf_rng rng = test_rng(2);
    for (int i = 0; i < 300; i++) {
        cf_arch a, b, c;
        mat g, h;
        cf_arch_sample(s, &rng, &a);
        uint64_t ha = cf_arch_hash(s, &a);

        /* The raw (un-pruned) cell renumbered: same network, same hash. */
        mat_of(&a, &g);
        relabel_random(&g, &rng, &h);
        arch_of(&h, &b);
        CHECK_OK(cf_arch_validate(s, &b));
        CHECK(cf_arch_hash(s, &b) == ha, "sample %d: a relabeling hashes differently", i);

        /* A dead vertex added to the canonical cell changes nothing. */
        cf_arch_canonical(s, &a, &c);
        mat_of(&c, &g);
        if (g.n < s->nodes) {
            h = g;
            h.n = g.n + 1;
            memset(h.m, 0, sizeof h.m);
            for (int x = 0; x < g.n - 1; x++)
                for (int y = x + 1; y < g.n - 1; y++) h.m[x][y] = g.m[x][y];
            for (int x = 0; x < g.n - 1; x++) h.m[x][h.n - 1] = g.m[x][g.n - 1];
            h.m[0][g.n - 1] = 1; /* the new vertex hangs off the input, reaches nothing */
            h.op[g.n - 1] = 2;
            h.op[h.n - 1] = -1;
            arch_of(&h, &b);
            CHECK_OK(cf_arch_validate(s, &b));
            CHECK(cf_arch_hash(s, &b) == ha, "sample %d: a dead vertex changed the hash", i);
        }

        /* One live vertex with another op: a different multiset of ops, another cell. */
        if (g.n > 2) {
            h = g;
            h.op[1] = (g.op[1] + 1) % s->n_ops;
            arch_of(&h, &b);
            CHECK(cf_arch_hash(s, &b) != ha, "sample %d: changing a live op kept the hash", i);
        }
    }
    cf_arch inc, first;
    CHECK_OK(cf_arch_parse(s, INCEPTION, &inc));
    CHECK_OK(cf_arch_parse(s, DATASET_FIRST, &first));
    CHECK(cf_arch_hash(s, &inc) != cf_arch_hash(s, &first), "two different cells hash equal");

    /* Two branches swapped: isomorphic, so one canonical arch. */
    cf_arch x, y;
    CHECK_OK(cf_arch_parse(s, "{\"matrix\":[[0,1,1,0],[0,0,0,1],[0,0,0,1],[0,0,0,0]],\"ops\":"
                              "[\"input\",\"conv1x1-bn-relu\",\"maxpool3x3\",\"output\"]}", &x));
    CHECK_OK(cf_arch_parse(s, "{\"matrix\":[[0,1,1,0],[0,0,0,1],[0,0,0,1],[0,0,0,0]],\"ops\":"
                              "[\"input\",\"maxpool3x3\",\"conv1x1-bn-relu\",\"output\"]}", &y));
    cf_arch cx, cy;
    cf_arch_canonical(s, &x, &cx);
    cf_arch_canonical(s, &y, &cy);
    CHECK(arch_eq(&cx, &cy), "swapped branches give different canonical forms");
    /* A chain and the same ops side by side are different networks. */
    CHECK_OK(cf_arch_parse(s, "{\"matrix\":[[0,1,0,0],[0,0,1,0],[0,0,0,1],[0,0,0,0]],\"ops\":"
                              "[\"input\",\"conv1x1-bn-relu\",\"maxpool3x3\",\"output\"]}", &y));
    CHECK(cf_arch_hash(s, &x) != cf_arch_hash(s, &y), "chain and branches hash equal");
}

static void test_nb101_moves(const cf_space *s) {
    cf_rng rng = test_rng(3);
    for (int i = 0; i < 60; i++) {
        cf_arch a, b;
        cf_arch_sample(s, &rng, &a);
        size_t n = cf_arch_neighbors(s, &a, NULL, 0);
        CHECK(n > 0, "sample %d has no neighbor", i);
        cf_arch *all = calloc(n, sizeof *all);
        CHECK(cf_arch_neighbors(s, &a, all, n) == n, "neighbor count changed");
        for (size_t k = 0; k < n; k++) {
            CHECK_OK(cf_arch_validate(s, &all[k]));
            CHECK(!arch_eq(&all[k], &a), "sample %d: neighbor %zu is the arch itself", i, k);
            for (size_t q = 0; q < k; q++)
                CHECK(!arch_eq(&all[k], &all[q]), "sample %d: neighbors %zu and %zu equal", i, q, k);
        }
        for (int t = 0; t < 10; t++) {
            CHECK_OK(cf_arch_mutate(s, &rng, &a, &b));
            int found = 0;
            for (size_t k = 0; k < n && !found; k++) found = arch_eq(&b, &all[k]);
            CHECK(found, "sample %d: mutate returned a non-neighbor", i);
        }
        free(all);

        cf_arch_sample(s, &rng, &b);
        for (int t = 0; t < 5; t++) {
            cf_arch child;
            cf_arch_crossover(s, &rng, &a, &b, &child);
            CHECK_OK(cf_arch_validate(s, &child));
        }
    }
    /* Parents of different sizes. */
    cf_arch small, big, child;
    CHECK_OK(cf_arch_parse(s, "{\"matrix\":[[0,1,0],[0,0,1],[0,0,0]],\"ops\":[\"input\","
                              "\"maxpool3x3\",\"output\"]}", &small));
    CHECK_OK(cf_arch_parse(s, INCEPTION, &big));
    for (int t = 0; t < 20; t++) {
        cf_arch_crossover(s, &rng, &small, &big, &child);
        CHECK_OK(cf_arch_validate(s, &child));
    }
}

static void test_nb101_encodings(const cf_space *s) {
    size_t n1 = cf_arch_encoding_size(s, CF_ARCH_ENCODING_ONEHOT);
    size_t n2 = cf_arch_encoding_size(s, CF_ARCH_ENCODING_PATH);
    CHECK(n1 == 21 + 5 * 3, "onehot size %zu, expected 21 edges + 5 vertices x 3 ops", n1);
    CHECK(n2 == 1 + 3 + 9 + 27 + 81 + 243, "path size %zu, expected sum of 3^k, k = 0..5", n2);

    cf_arch inc;
    CHECK_OK(cf_arch_parse(s, INCEPTION, &inc));
    float *e = calloc(n1 + n2, sizeof *e);
    cf_arch_encode(s, &inc, CF_ARCH_ENCODING_ONEHOT, e);
    float sum = 0;
    for (size_t k = 0; k < n1; k++) sum += e[k];
    CHECK(sum == 9 + 5, "inception onehot sums to %g, expected 9 edges + 5 ops", sum);
    cf_arch_encode(s, &inc, CF_ARCH_ENCODING_PATH, e);
    /* Paths: conv3x3 (index 1), conv1x1 (2), maxpool (3), conv3x3 -> conv3x3 (offset 4 + 0). */
    CHECK(e[1] == 1 && e[2] == 1 && e[3] == 1 && e[4] == 1, "inception paths %g %g %g %g", e[1],
          e[2], e[3], e[4]);
    sum = 0;
    for (size_t k = 0; k < n2; k++) sum += e[k];
    CHECK(sum == 4, "inception has %g paths, expected 4", sum);

    cf_rng rng = test_rng(4);
    float *f = calloc(n1 + n2, sizeof *f);
    for (int i = 0; i < 100; i++) {
        cf_arch a, b;
        mat g, h;
        cf_arch_sample(s, &rng, &a);
        mat_of(&a, &g);
        relabel_random(&g, &rng, &h);
        arch_of(&h, &b);
        for (int kind = 0; kind < 2; kind++) {
            size_t n = kind ? n2 : n1;
            cf_arch_encode(s, &a, (cf_arch_encoding)kind, e);
            cf_arch_encode(s, &a, (cf_arch_encoding)kind, f);
            CHECK(!memcmp(e, f, n * sizeof *e), "sample %d: encoding %d not deterministic", i, kind);
            cf_arch_encode(s, &b, (cf_arch_encoding)kind, f);
            CHECK(!memcmp(e, f, n * sizeof *e), "sample %d: encoding %d differs on a relabeling",
                  i, kind);
        }
    }
    free(e);
    free(f);

    /* Sum over 2..7 vertices of 2^(n(n-1)/2) * 3^(n-2). */
    double want = 2.0 + 8 * 3 + 64 * 9 + 1024 * 27 + 32768.0 * 81 + 2097152.0 * 243;
    CHECK(cf_space_size(s) == want, "size %.0f, expected %.0f", cf_space_size(s), want);
}

static int count_visit(const cf_arch *a, void *ctx) {
    (void)a;
    (*(int *)ctx)++;
    return 0;
}

/* Parameters of one NAS-Bench-101 cell whose fan vertices all take `share`
 * channels: each projection in*share + BN 2*share, each conv k*k*share^2 + BN. */
static int64_t nb101_params(int stem, int classes, int64_t (*cell)(int64_t in, int64_t out)) {
    int64_t total = 3 * 3 * 3 * (int64_t)stem + 2 * stem; /* stem conv + BN */
    int64_t in = stem, out = stem;
    for (int st = 0; st < 3; st++) {
        if (st) out *= 2;
        for (int c = 0; c < 3; c++, in = out) total += cell(in, out);
    }
    return total + out * classes + classes;
}

/* INCEPTION: four vertices feed the output, q = out/4 each; the input feeds
 * four of them through projections; convs 1x1 + three 3x3; four BNs. */
static int64_t inception_cell(int64_t in, int64_t out) {
    int64_t q = out / 4;
    return 4 * (in * q + 2 * q) + (1 + 9 + 9 + 9) * q * q + 4 * 2 * q;
}

static void test_nb101_net(const cf_space *s) {
    cf_net_input cifar = {.c = 3, .h = 32, .w = 32, .classes = 10};
    cf_arch a;
    cf_net *net = NULL;

    CHECK_OK(cf_arch_parse(s, DATASET_FIRST, &a));
    CHECK_OK(cf_net_build(s, &a, &cifar, &net));
    if (net) {
        int64_t p = count_params(net);
        CHECK(p == 8555530, "dataset cell: %lld parameters, published 8555530", (long long)p);
        const cf_net_layer *l = &net->layers[net->logits];
        CHECK(l->c == 10 && l->h == 1 && l->w == 1, "logits %dx%dx%d", l->c, l->h, l->w);
        CHECK(find_layer(net, "stack2.cell2.v5.conv") != NULL, "no layer stack2.cell2.v5.conv");
        CHECK(find_layer(net, "stack1.downsample") != NULL, "no layer stack1.downsample");
    }
    cf_net_destroy(net);
    net = NULL;

    CHECK_OK(cf_arch_parse(s, INCEPTION, &a));
    CHECK_OK(cf_net_build(s, &a, &cifar, &net));
    if (net) {
        int64_t p = count_params(net), want = nb101_params(128, 10, inception_cell);
        CHECK(want == 2694282, "hand count %lld", (long long)want);
        CHECK(p == want, "inception cell: %lld parameters, expected %lld", (long long)p,
              (long long)want);
        printf("nb101 inception cell, CIFAR-10: %lld parameters\n", (long long)p);
        const cf_net_layer *v2 = find_layer(net, "stack1.cell0.v2.conv");
        CHECK(v2 && v2->c == 64 && v2->h == 16, "stack1.cell0.v2.conv is %dx%d (64x16 expected)",
              v2 ? v2->c : 0, v2 ? v2->h : 0);
    }
    cf_net_destroy(net);
    net = NULL;

    /* Fashion-MNIST geometry; 3 vertices feed the output: 128 = 43 + 43 + 42, and
     * v1 (feeding v2 and v4) takes max(43, 42) = 43 and is truncated to 42 for v4. */
    cf_net_input fmnist = {.c = 1, .h = 28, .w = 28, .classes = 10};
    CHECK_OK(cf_arch_parse(s, "{\"matrix\":[[0,1,0,1,0,0],[0,0,1,0,1,0],[0,0,0,0,0,1],"
                              "[0,0,0,0,0,1],[0,0,0,0,0,1],[0,0,0,0,0,0]],\"ops\":[\"input\","
                              "\"conv3x3-bn-relu\",\"conv1x1-bn-relu\",\"conv3x3-bn-relu\","
                              "\"maxpool3x3\",\"output\"]}", &a));
    CHECK_OK(cf_net_build(s, &a, &fmnist, &net));
    if (net) {
        const cf_net_layer *v1 = find_layer(net, "stack0.cell0.v1.conv");
        const cf_net_layer *cut = find_layer(net, "stack0.cell0.v4.trunc1");
        const cf_net_layer *cat = find_layer(net, "stack0.cell0.out.concat");
        const cf_net_layer *last = find_layer(net, "stack2.cell2.out.concat");
        CHECK(v1 && v1->c == 43, "v1 has %d channels, expected 43", v1 ? v1->c : 0);
        CHECK(cut && cut->c == 42, "v4's input from v1 has %d channels, expected 42",
              cut ? cut->c : 0);
        CHECK(cat && cat->c == 128, "cell output %d channels", cat ? cat->c : 0);
        CHECK(last && last->c == 512 && last->h == 7, "last cell %dx%d", last ? last->c : 0,
              last ? last->h : 0);
    }
    cf_net_destroy(net);
    net = NULL;

    /* Only the input -> output edge: every cell is a projection. */
    CHECK_OK(cf_arch_parse(s, "{\"matrix\":[[0,1],[0,0]],\"ops\":[\"input\",\"output\"]}", &a));
    CHECK_OK(cf_net_build(s, &a, &fmnist, &net));
    if (net) CHECK(find_layer(net, "stack0.cell0.out.proj.conv") != NULL, "no output projection");
    cf_net_destroy(net);

    int visits = 0;
    CHECK(cf_space_enumerate(s, 1000000000ull, count_visit, &visits) == CF_ERR_UNSUPPORTED,
          "nb101 enumerated");
}

/* Every cell of the 7-vertex, 9-edge space, labeled every way: the distinct
 * canonical forms must number NAS-Bench-101's 423,624 unique cells. Labelings
 * are spread over the live vertices of each distinct pruned matrix only (the
 * others cannot change the cell). Seconds; run by the `slow` ctest entry. */
static void test_nb101_all(const cf_space *s) {
    const int n = 7;
    size_t cap = (size_t)1 << 21, used = 0;
    uint64_t *set = calloc(cap, sizeof *set);
    uint8_t *seen = calloc((size_t)1 << 21, 1); /* pruned matrices met: 24-bit keys */
    for (uint32_t bits = 0; bits < (1u << 21); bits++) {
        mat g;
        memset(&g, 0, sizeof g);
        g.n = n;
        for (int i = 0, k = 0; i < n; i++)
            for (int j = i + 1; j < n; j++, k++) g.m[i][j] = (int)(bits >> k & 1);
        int from_in[7] = {1}, to_out[7] = {0};
        to_out[n - 1] = 1;
        for (int j = 1; j < n; j++)
            for (int i = 0; i < j; i++) from_in[j] |= from_in[i] && g.m[i][j];
        for (int i = n - 2; i >= 0; i--)
            for (int j = i + 1; j < n; j++) to_out[i] |= to_out[j] && g.m[i][j];
        int live[7], k = 0;
        for (int v = 0; v < n; v++)
            if (from_in[v] && to_out[v]) live[k++] = v;
        if (!from_in[n - 1]) continue;
        uint32_t key = (uint32_t)k << 21, bit = 0, edges = 0;
        for (int x = 0; x < k; x++)
            for (int y = x + 1; y < k; y++, bit++) {
                key |= (uint32_t)g.m[live[x]][live[y]] << bit;
                edges += (uint32_t)g.m[live[x]][live[y]];
            }
        if (edges > 9 || seen[key >> 3] >> (key & 7) & 1) continue;
        seen[key >> 3] |= (uint8_t)(1u << (key & 7));
        int labelings = 1;
        for (int q = 1; q < k - 1; q++) labelings *= 3;
        for (int l = 0; l < labelings; l++) {
            g.op[0] = g.op[n - 1] = -1;
            for (int v = 1; v < n - 1; v++) g.op[v] = 0;
            for (int q = 1, t = l; q < k - 1; q++, t /= 3) g.op[live[q]] = t % 3;
            cf_arch a;
            arch_of(&g, &a);
            uint64_t h = cf_arch_hash(s, &a) | 1;
            size_t at = (size_t)(h >> 7) & (cap - 1);
            while (set[at] && set[at] != h) at = (at + 1) & (cap - 1);
            if (!set[at]) {
                set[at] = h;
                used++;
            }
        }
    }
    CHECK(used == 423624, "%zu distinct cells, NAS-Bench-101 has 423624", used);
    printf("nb101: %zu distinct cells of at most 7 vertices and 9 edges\n", used);
    free(set);
    free(seen);
}

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
        for (int t = 0; t < 10; t++) {
            CHECK_OK(cf_arch_mutate(s, &rng, &a, &b));
            int found = 0;
            for (size_t k = 0; k < n && !found; k++) found = arch_eq(&b, &all[k]);
            CHECK(found, "sample %d: mutate returned a non-neighbor", i);
        }
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

int main(int argc, char **argv) {
    cf_space nb101, mobile;
    make_nb101(&nb101);
    make_mobile(&mobile);
    if (argc > 1 && !strcmp(argv[1], "--all")) {
        test_nb101_all(&nb101);
        return test_finish("test_arch_nb101_mobile --all");
    }
    test_nb101_text(&nb101);
    test_nb101_samples(&nb101);
    test_nb101_isomorphism(&nb101);
    test_nb101_moves(&nb101);
    test_nb101_encodings(&nb101);
    test_nb101_net(&nb101);
    test_mobile_text(&mobile);
    test_mobile_samples(&mobile);
    test_mobile_encodings(&mobile);
    test_mobile_enumerate();
    test_mobile_net(&mobile);
    return test_finish("test_arch_nb101_mobile");
}
