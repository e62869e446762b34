/* test_arch_nb101.c - the nb101 family: codec, canonical forms under
 * isomorphism, neighborhoods, encodings and the networks it builds. The
 * NAS-Bench-101 parameter counts are the dataset's published
 * 'trainable_parameters'. Spaces and helpers: arch_kit.c.
 *
 *   ctest --test-dir build -R arch_nb101 --output-on-failure
 *   build/tests/test_arch_nb101 --all   (every cell of the space; label slow)
 */
#include <stdlib.h>
#include <string.h>

#include "arch_kit.h"
#include "cellforge/net.h"
#include "cellforge/space.h"
#include "check.h"

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
        check_mutate_is_neighbor(s, &rng, &a, all, n, i);
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

int main(int argc, char **argv) {
    cf_space nb101;
    make_nb101(&nb101);
    if (argc > 1 && !strcmp(argv[1], "--all")) {
        test_nb101_all(&nb101);
        return test_finish("test_arch_nb101 --all");
    }
    test_nb101_text(&nb101);
    test_nb101_samples(&nb101);
    test_nb101_isomorphism(&nb101);
    test_nb101_moves(&nb101);
    test_nb101_encodings(&nb101);
    test_nb101_net(&nb101);
    return test_finish("test_arch_nb101");
}
