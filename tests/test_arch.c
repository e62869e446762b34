/* test_arch.c - the nb201 and darts architecture codecs: exact round trips,
 * parse errors with their column, canonical forms and isomorphism, the size
 * of NB201 and its distinct cells, neighbors, mutation, crossover, encodings
 * and determinism.
 *
 *   ctest --test-dir build -R test_arch --output-on-failure
 *   build/tests/test_arch SPACES_DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/space.h"
#include "check.h"

#define BEST_NB201 "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"

/* DARTS_V2 as the DARTS repository's genotypes.py writes it. */
#define DARTS_V2                                                                                   \
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "            \
    "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "         \
    "('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "             \
    "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "        \
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"

static cf_space *load(const char *name) {
    cf_space *s = NULL;
    CHECK_OK(cf_space_load(name, &s));
    if (!s) {
        test_finish("test_arch");
        exit(1);
    }
    return s;
}

static void round_trip(const cf_space *s, const char *text) {
    cf_arch a;
    char out[CF_ARCH_TEXT_MAX];
    cf_status st = cf_arch_parse(s, text, &a);
    CHECK(st == CF_OK, "%s: parse '%s': %s", s->name, text, cf_error_message());
    if (st != CF_OK) return;
    CHECK_OK(cf_arch_format(s, &a, out, sizeof out));
    CHECK(strcmp(out, text) == 0, "%s: '%s' printed as '%s'", s->name, text, out);
}

typedef struct bad_text {
    const char *text;
    const char *expect; /* substring of the message */
} bad_text;

static void expect_errors(const cf_space *s, const bad_text *bad, size_t n) {
    for (size_t i = 0; i < n; i++) {
        cf_arch a;
        cf_status st = cf_arch_parse(s, bad[i].text, &a);
        CHECK(st == CF_ERR_PARSE || st == CF_ERR_INVALID_ARG, "%s: '%s' parsed (%s)", s->name,
              bad[i].text, cf_status_name(st));
        CHECK(strstr(cf_error_message(), bad[i].expect) != NULL, "%s: '%s': message '%s' lacks '%s'",
              s->name, bad[i].text, cf_error_message(), bad[i].expect);
    }
}

/* Properties every family must have, on n random archs. */
static void properties(const cf_space *s, int n) {
    cf_rng rng = cf_rng_make(42, cf_rng_stream(0, CF_RNG_PURPOSE_TEST));
    cf_rng r1 = cf_rng_make(7, cf_rng_stream(1, CF_RNG_PURPOSE_SAMPLE));
    cf_rng r2 = cf_rng_make(7, cf_rng_stream(1, CF_RNG_PURPOSE_SAMPLE));
    for (int k = 0; k < 50; k++) {
        cf_arch x, y;
        cf_arch_sample(s, &r1, &x);
        cf_arch_sample(s, &r2, &y);
        CHECK(memcmp(&x, &y, sizeof x) == 0, "%s: same seed, different sample %d", s->name, k);
    }
    size_t cap = 4096;
    cf_arch *nb = malloc(cap * sizeof *nb);
    size_t onehot = cf_arch_encoding_size(s, CF_ARCH_ENCODING_ONEHOT);
    size_t path = cf_arch_encoding_size(s, CF_ARCH_ENCODING_PATH);
    float *e1 = malloc((onehot > path ? onehot : path) * sizeof *e1);
    float *e2 = malloc((onehot > path ? onehot : path) * sizeof *e2);
    for (int k = 0; k < n; k++) {
        cf_arch a, b, c, child;
        cf_arch_sample(s, &rng, &a);
        CHECK(cf_arch_validate(s, &a) == CF_OK, "%s: sample invalid: %s", s->name, cf_error_message());
        char text[CF_ARCH_TEXT_MAX];
        CHECK_OK(cf_arch_format(s, &a, text, sizeof text));
        cf_arch back;
        CHECK(cf_arch_parse(s, text, &back) == CF_OK && memcmp(&a, &back, sizeof a) == 0,
              "%s: sample '%s' does not survive a round trip", s->name, text);
        /* canonical form: idempotent, same hash */
        cf_arch_canonical(s, &a, &c);
        cf_arch cc;
        cf_arch_canonical(s, &c, &cc);
        CHECK(memcmp(&c, &cc, sizeof c) == 0, "%s: canonical form of '%s' is not stable", s->name, text);
        CHECK(cf_arch_hash(s, &a) == cf_arch_hash(s, &c), "%s: hash differs from its canonical form's",
              s->name);
        /* neighbors: valid, each differs from a; mutate picks one of them */
        size_t m = cf_arch_neighbors(s, &a, nb, cap);
        CHECK(m > 0 && m <= cap, "%s: %zu neighbors", s->name, m);
        for (size_t i = 0; i < m && i < cap; i++) {
            CHECK(cf_arch_validate(s, &nb[i]) == CF_OK, "%s: neighbor %zu invalid: %s", s->name, i,
                  cf_error_message());
            CHECK(memcmp(&nb[i], &a, sizeof a) != 0, "%s: neighbor %zu equals the arch", s->name, i);
        }
        cf_arch mut;
        CHECK_OK(cf_arch_mutate(s, &rng, &a, &mut));
        int found = 0;
        for (size_t i = 0; i < m && i < cap && !found; i++) found = memcmp(&nb[i], &mut, sizeof mut) == 0;
        CHECK(found, "%s: mutation is not a neighbor", s->name);
        cf_arch_sample(s, &rng, &b);
        cf_arch_crossover(s, &rng, &a, &b, &child);
        CHECK(cf_arch_validate(s, &child) == CF_OK, "%s: crossover child invalid", s->name);
        /* encodings: deterministic, and one-hot has one 1 per choice */
        cf_arch_encode(s, &a, CF_ARCH_ENCODING_ONEHOT, e1);
        cf_arch_encode(s, &c, CF_ARCH_ENCODING_ONEHOT, e2);
        CHECK(memcmp(e1, e2, onehot * sizeof *e1) == 0, "%s: one-hot differs from its canonical's", s->name);
        cf_arch_encode(s, &a, CF_ARCH_ENCODING_PATH, e1);
        cf_arch_encode(s, &a, CF_ARCH_ENCODING_PATH, e2);
        CHECK(memcmp(e1, e2, path * sizeof *e1) == 0, "%s: path encoding not deterministic", s->name);
    }
    free(nb);
    free(e1);
    free(e2);
}

typedef struct enum_ctx {
    const cf_space *s;
    uint64_t *hashes;
    size_t n;
} enum_ctx;

static int visit(const cf_arch *a, void *p) {
    enum_ctx *e = p;
    e->hashes[e->n++] = cf_arch_hash(e->s, a);
    return 0;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void nb201(void) {
    cf_space *s = load("nb201");
    round_trip(s, BEST_NB201);
    round_trip(s, "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|");
    round_trip(s, "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|");

    /* inputs of a group in any order, spaces around tokens */
    cf_arch a;
    char out[CF_ARCH_TEXT_MAX];
    CHECK_OK(cf_arch_parse(s, " |nor_conv_3x3~0| + |nor_conv_3x3~1|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2| ", &a));
    CHECK_OK(cf_arch_format(s, &a, out, sizeof out));
    CHECK(strcmp(out, BEST_NB201) == 0, "reordered inputs print as '%s'", out);

    static const bad_text bad[] = {
        {"|nor_conv3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", "column 2: unknown op \"nor_conv3x3\" in space nb201 (did you mean \"nor_conv_3x3\"?)"},
        {"|none~0|+|none~0|none~2|+|none~0|none~1|none~2|", "column 23: node 2 can only take inputs 0..1, got ~2"},
        {"|none~0|+|none~0|none~0|+|none~0|none~1|none~2|", "node 2 lists input ~0 twice"},
        {"|none~0|+|none~0|none~1|+|none~0|none~1|", "column 41: expected an op name, got end of text"},
        {"|none~0|+|none~0|none~1|+|none~0|none~1|none~2|+|none~0|", "column 48: space nb201 has 4 nodes"},
        {"|none-0|+|none~0|none~1|+|none~0|none~1|none~2|", "column 2: unknown op \"none-0\""},
        {"|none~0|none~0|none~1|+|none~0|none~1|none~2|", "column 9: expected '+', got 'n'"},
        {"|none~x|+|none~0|none~1|+|none~0|none~1|none~2|", "column 7: expected a number, got 'x'"},
        {"", "column 1: expected '|', got end of text"},
    };
    expect_errors(s, bad, sizeof bad / sizeof bad[0]);

    /* the whole space: 5^6 strings; distinct cells after dead-edge removal and isomorphism */
    CHECK(cf_space_size(s) == 15625.0, "nb201 size %g", cf_space_size(s));
    enum_ctx e = {s, malloc(15625 * sizeof(uint64_t)), 0};
    CHECK_OK(cf_space_enumerate(s, 100000, visit, &e));
    CHECK(e.n == 15625, "enumerated %zu nb201 archs", e.n);
    qsort(e.hashes, e.n, sizeof *e.hashes, cmp_u64);
    size_t distinct = e.n ? 1 : 0;
    for (size_t i = 1; i < e.n; i++) distinct += e.hashes[i] != e.hashes[i - 1];
    printf("nb201: %zu archs, %zu distinct cells (dead edges removed, isomorphic cells merged)\n", e.n,
           distinct);
    CHECK(distinct == 8765, "nb201 distinct cells %zu, expected 8765", distinct);
    free(e.hashes);
    CHECK(cf_space_enumerate(s, 1000, visit, &e) == CF_ERR_UNSUPPORTED, "enumerate past its limit");

    /* isomorphism: nodes 1 and 2 swap when no edge joins them */
    cf_arch x, y;
    CHECK_OK(cf_arch_parse(s, "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|", &x));
    CHECK_OK(cf_arch_parse(s, "|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|", &y));
    CHECK(cf_arch_hash(s, &x) == cf_arch_hash(s, &y), "swapped intermediate nodes hash differently");
    /* ... but not when the edge 1 -> 2 is there */
    CHECK_OK(cf_arch_parse(s, "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|", &x));
    CHECK_OK(cf_arch_parse(s, "|nor_conv_1x1~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|", &y));
    CHECK(cf_arch_hash(s, &x) != cf_arch_hash(s, &y), "different cells hash alike");
    /* dead edges: node 1 has no input, so its outgoing ops do not matter */
    CHECK_OK(cf_arch_parse(s, "|none~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|", &x));
    CHECK_OK(cf_arch_parse(s, "|none~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|none~1|nor_conv_3x3~2|", &y));
    CHECK(cf_arch_hash(s, &x) == cf_arch_hash(s, &y), "edges from a dead node change the hash");

    /* neighbors: 6 edges x 4 other ops */
    cf_arch nb[64];
    CHECK_OK(cf_arch_parse(s, BEST_NB201, &a));
    CHECK(cf_arch_neighbors(s, &a, nb, 64) == 24, "nb201 neighbors %zu", cf_arch_neighbors(s, &a, nb, 64));

    /* encodings: 6 x 5 one-hot; paths over 4 non-zero ops of length 1..3 */
    CHECK(cf_arch_encoding_size(s, CF_ARCH_ENCODING_ONEHOT) == 30, "one-hot size");
    CHECK(cf_arch_encoding_size(s, CF_ARCH_ENCODING_PATH) == 84, "path size %zu",
          cf_arch_encoding_size(s, CF_ARCH_ENCODING_PATH));
    float enc[84];
    CHECK_OK(cf_arch_parse(s, "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|", &a));
    cf_arch_encode(s, &a, CF_ARCH_ENCODING_PATH, enc);
    /* nor_conv_3x3 is non-zero op rank 2 (skip 0, conv1x1 1, conv3x3 2, pool 3) */
    const int r = 2, m = 4;
    CHECK(enc[r] == 1.0f, "path (conv3) count %g", enc[r]);
    CHECK(enc[m + r * m + r] == 2.0f, "path (conv3, conv3) count %g", enc[m + r * m + r]);
    CHECK(enc[m + m * m + (r * m + r) * m + r] == 1.0f, "path (conv3 x3) count");
    float total = 0;
    for (int i = 0; i < 84; i++) total += enc[i];
    CHECK(total == 4.0f, "all-conv cell has 4 paths, encoding sums to %g", total);

    properties(s, 300);

    cf_space_destroy(s);
}

static void darts(void) {
    cf_space *s = load("darts");
    round_trip(s, DARTS_V2);
    cf_arch a, b;
    CHECK_OK(cf_arch_parse(s, DARTS_V2, &a));
    /* range(2, 6) and double quotes, as other repositories print them */
    const char *v2_range =
        "Genotype(normal=[(\"sep_conv_3x3\", 0), (\"sep_conv_3x3\", 1), (\"sep_conv_3x3\", 0), "
        "(\"sep_conv_3x3\", 1), (\"sep_conv_3x3\", 1), (\"skip_connect\", 0), (\"skip_connect\", 0), "
        "(\"dil_conv_3x3\", 2)], normal_concat=range(2, 6), reduce=[('max_pool_3x3', 0), "
        "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
        "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=range(2, 6))";
    CHECK_OK(cf_arch_parse(s, v2_range, &b));
    CHECK(memcmp(&a, &b, sizeof a) == 0, "range(2, 6) / double quotes parse differently");

    static const bad_text bad[] = {
        {"Genotype(normal=[('sep_conv_3x4', 0)", "column 20: unknown op \"sep_conv_3x4\" in space darts (did you mean \"sep_conv_3x3\"?)"},
        {"Genotype(normal=[('sep_conv_3x3', 2)", "column 35: node 2 (pair 0) can take inputs 0..1, got 2"},
        {"Genotype(normal=[('sep_conv_3x3', 0)], normal_concat=[2], reduce=[], reduce_concat=[2])", "column 37: a cell lists 1 (op, input) pairs; space darts needs 8"},
        {"Genotyp(normal=[])", "column 1: expected \"Genotype\""},
        {"Genotype(normal=[(sep_conv_3x3, 0)", "column 19: expected a quoted op name"},
    };
    expect_errors(s, bad, sizeof bad / sizeof bad[0]);
    char concat_bad[CF_ARCH_TEXT_MAX];
    snprintf(concat_bad, sizeof concat_bad, "%s", DARTS_V2);
    char *q = strstr(concat_bad, "normal_concat=[2, 3, 4, 5]");
    memcpy(q, "normal_concat=[2, 3, 4, 6]", 26);
    cf_status st = cf_arch_parse(s, concat_bad, &b);
    CHECK(st == CF_ERR_PARSE && strstr(cf_error_message(), "concat node 6 is not an intermediate node (2..5)"),
          "bad concat: %s", cf_error_message());

    /* canonical: the two inputs of a node are unordered */
    cf_arch sw = a;
    cf_arch_in t = sw.cell[0].in[2][0];
    sw.cell[0].in[2][0] = sw.cell[0].in[2][1];
    sw.cell[0].in[2][1] = t;
    CHECK(cf_arch_hash(s, &sw) == cf_arch_hash(s, &a), "input order changes the darts hash");
    sw.cell[0].in[5][1].op = (int8_t)cf_space_op_index(s, "sep_conv_5x5");
    CHECK(cf_arch_hash(s, &sw) != cf_arch_hash(s, &a), "an op change leaves the darts hash");

    double size = cf_space_size(s);
    CHECK(size > 1e18 && size < 1.2e18, "darts size %g (expected about 1.08e18)", size);
    CHECK(cf_arch_encoding_size(s, CF_ARCH_ENCODING_ONEHOT) == 2 * 4 * 2 * (5 + 8), "darts one-hot size");
    properties(s, 200);
    cf_space_destroy(s);
}

int main(int argc, char **argv) {
    if (argc > 1) setenv("CELLFORGE_SPACES", argv[1], 1);
    nb201();
    darts();
    return test_finish("test_arch");
}
