/* arch_nb201.c - the nb201 family: an op on every edge i -> j (i < j) of a
 * cell of `nodes` nodes, written as NAS-Bench-201 writes it:
 *
 *   |nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|
 *
 * one '+'-separated group per node j = 1..n-1 listing `op~i` for every i < j.
 * Tested by tests/test_arch.c.
 */
#include <stdio.h>
#include <string.h>

#include "family.h"
#include "scan.h"

/* Edges in text order: (1,0), (2,0), (2,1), (3,0), ... */
static int n_edges(const cf_space *s) { return s->nodes * (s->nodes - 1) / 2; }

static int edge_op(const cf_arch *a, int j, int i) { return a->cell[0].in[j][i].op; }

/* Index of the space's "none" op (prim zero), or -1. */
static int zero_op(const cf_space *s) {
    for (int k = 0; k < s->n_ops; k++)
        if (s->ops[k].prim == CF_PRIM_ZERO) return k;
    return -1;
}

static void set_shape(const cf_space *s, cf_arch *a) {
    cf_arch_cell *c = &a->cell[0];
    a->n_cells = 1;
    c->n_nodes = (int8_t)s->nodes;
    for (int j = 0; j < s->nodes; j++) {
        c->n_in[j] = (int8_t)j;
        c->node_op[j] = 0;
        for (int i = 0; i < j; i++) c->in[j][i].from = (int8_t)i;
    }
}

static cf_status parse(const cf_space *s, const char *text, cf_arch *out) {
    cf_scan sc = {text, text};
    set_shape(s, out);
    cf_arch_cell *c = &out->cell[0];
    for (int j = 1; j < s->nodes; j++) {
        if (j > 1) CF_TRY(cf_scan_expect(&sc, '+'));
        CF_TRY(cf_scan_expect(&sc, '|'));
        int seen[CF_CELL_MAX_NODES] = {0};
        for (int k = 0; k < j; k++) {
            cf_scan_ws(&sc);
            int col = cf_scan_column(&sc);
            char name[40];
            CF_TRY(cf_scan_name(&sc, name, sizeof name));
            int op;
            CF_TRY(cf_arch_op_lookup(s, &sc, col, name, &op));
            CF_TRY(cf_scan_expect(&sc, '~'));
            cf_scan_ws(&sc);
            int icol = cf_scan_column(&sc), from;
            CF_TRY(cf_scan_int(&sc, &from));
            if (from >= j)
                return cf_scan_fail(&sc, icol, "node %d can only take inputs 0..%d, got ~%d "
                                    "(an edge to itself or a later node would make a cycle)",
                                    j, j - 1, from);
            if (seen[from])
                return cf_scan_fail(&sc, icol, "node %d lists input ~%d twice", j, from);
            seen[from] = 1;
            c->in[j][from].op = (int8_t)op;
            CF_TRY(cf_scan_expect(&sc, '|'));
        }
    }
    cf_scan_ws(&sc);
    if (*sc.p == '|' || *sc.p == '+')
        return cf_scan_fail(&sc, 0, "space %s has %d nodes, so %d groups; this text has more",
                            s->name, s->nodes, s->nodes - 1);
    return cf_scan_end(&sc);
}

static cf_status format(const cf_space *s, const cf_arch *a, char *buf, size_t cap) {
    size_t len = 0;
    for (int j = 1; j < s->nodes; j++) {
        int w = snprintf(buf + len, cap - len, "%s|", j > 1 ? "+" : "");
        if (w < 0 || (size_t)w >= cap - len) goto small;
        len += (size_t)w;
        for (int i = 0; i < j; i++) {
            w = snprintf(buf + len, cap - len, "%s~%d|", s->ops[edge_op(a, j, i)].name, i);
            if (w < 0 || (size_t)w >= cap - len) goto small;
            len += (size_t)w;
        }
    }
    return CF_OK;
small:
    if (cap) buf[0] = 0;
    CF_FAIL(CF_ERR_INVALID_ARG, "arch: a buffer of %zu bytes is too small for the text", cap);
}

/* "|op~i|" per edge (i < 100), "+|" per node after the first, the NUL. */
static size_t text_max(const cf_space *s) {
    return (size_t)n_edges(s) * (cf_arch_longest_op(s) + 2 + cf_arch_digits(s->nodes)) + 2 * (size_t)s->nodes + 1;
}

static cf_status validate(const cf_space *s, const cf_arch *a) {
    const cf_arch_cell *c = &a->cell[0];
    if (a->n_cells != 1 || c->n_nodes != s->nodes)
        CF_FAIL(CF_ERR_INVALID_ARG, "arch: %d cells of %d nodes; space %s has 1 cell of %d nodes",
                a->n_cells, c->n_nodes, s->name, s->nodes);
    for (int j = 1; j < s->nodes; j++) {
        if (c->n_in[j] != j)
            CF_FAIL(CF_ERR_INVALID_ARG, "arch: node %d has %d inputs, expected %d", j, c->n_in[j], j);
        for (int i = 0; i < j; i++) {
            if (c->in[j][i].from != i)
                CF_FAIL(CF_ERR_INVALID_ARG, "arch: node %d input %d comes from node %d", j, i,
                        c->in[j][i].from);
            if (c->in[j][i].op < 0 || c->in[j][i].op >= s->n_ops)
                CF_FAIL(CF_ERR_INVALID_ARG, "arch: edge %d -> %d has op index %d (0..%d)", i, j,
                        c->in[j][i].op, s->n_ops - 1);
        }
    }
    return CF_OK;
}

/* live[k]: reachable from node 0 and reaching node n-1 through non-zero edges. */
static void live_nodes(const cf_space *s, const cf_arch *a, int live[CF_CELL_MAX_NODES]) {
    int n = s->nodes, z = zero_op(s);
    int fwd[CF_CELL_MAX_NODES] = {0}, bwd[CF_CELL_MAX_NODES] = {0};
    fwd[0] = 1;
    for (int j = 1; j < n; j++)
        for (int i = 0; i < j; i++)
            if (fwd[i] && edge_op(a, j, i) != z) fwd[j] = 1;
    bwd[n - 1] = 1;
    for (int i = n - 2; i >= 0; i--)
        for (int j = i + 1; j < n; j++)
            if (bwd[j] && edge_op(a, j, i) != z) bwd[i] = 1;
    for (int k = 0; k < n; k++) live[k] = fwd[k] && bwd[k];
}

/* Relabel nodes by perm (old -> new); returns 0 if an edge would point backwards. */
static int relabel(const cf_space *s, const cf_arch *a, const int *perm, int z, cf_arch *out) {
    memset(out, 0, sizeof *out);
    set_shape(s, out);
    int n = s->nodes;
    if (z >= 0)
        for (int j = 1; j < n; j++)
            for (int i = 0; i < j; i++) out->cell[0].in[j][i].op = (int8_t)z;
    for (int j = 1; j < n; j++)
        for (int i = 0; i < j; i++) {
            int op = edge_op(a, j, i);
            if (op == z) continue;
            int ni = perm[i], nj = perm[j];
            if (ni >= nj) return 0;
            out->cell[0].in[nj][ni].op = (int8_t)op;
        }
    return 1;
}

static int compare_edges(const cf_space *s, const cf_arch *x, const cf_arch *y) {
    for (int j = 1; j < s->nodes; j++)
        for (int i = 0; i < j; i++) {
            int d = edge_op(x, j, i) - edge_op(y, j, i);
            if (d) return d;
        }
    return 0;
}

/* Next permutation of p[lo..hi) in lexicographic order; 0 after the last. */
static int next_perm(int *p, int lo, int hi) {
    int i = hi - 2;
    while (i >= lo && p[i] >= p[i + 1]) i--;
    if (i < lo) return 0;
    int j = hi - 1;
    while (p[j] <= p[i]) j--;
    int t = p[i]; p[i] = p[j]; p[j] = t;
    for (int l = i + 1, r = hi - 1; l < r; l++, r--) {
        t = p[l]; p[l] = p[r]; p[r] = t;
    }
    return 1;
}

/* Intermediate nodes are permuted exhaustively up to this many (7! = 5040
 * relabelings); larger user cells keep their labeling after dead-edge removal. */
#define MAX_PERMUTED 7

static void canonical(const cf_space *s, const cf_arch *a, cf_arch *out) {
    int n = s->nodes, z = zero_op(s);
    cf_arch pruned = *a;
    if (z >= 0) {
        int live[CF_CELL_MAX_NODES];
        live_nodes(s, a, live);
        for (int j = 1; j < n; j++)
            for (int i = 0; i < j; i++)
                if (!live[i] || !live[j]) pruned.cell[0].in[j][i].op = (int8_t)z;
    }
    cf_arch best = pruned;
    if (z >= 0 && n - 2 <= MAX_PERMUTED) {
        int perm[CF_CELL_MAX_NODES];
        for (int k = 0; k < n; k++) perm[k] = k;
        while (next_perm(perm, 1, n - 1)) {
            cf_arch cand;
            if (relabel(s, &pruned, perm, z, &cand) && compare_edges(s, &cand, &best) < 0)
                best = cand;
        }
    }
    *out = best;
}

static void sample(const cf_space *s, cf_rng *rng, cf_arch *out) {
    set_shape(s, out);
    for (int j = 1; j < s->nodes; j++)
        for (int i = 0; i < j; i++)
            out->cell[0].in[j][i].op = (int8_t)cf_rng_below(rng, (uint32_t)s->n_ops);
}

static size_t neighbors(const cf_space *s, const cf_arch *a, cf_arch *out, size_t cap) {
    size_t count = 0;
    for (int j = 1; j < s->nodes; j++)
        for (int i = 0; i < j; i++)
            for (int op = 0; op < s->n_ops; op++) {
                if (op == edge_op(a, j, i)) continue;
                if (count < cap) {
                    out[count] = *a;
                    out[count].cell[0].in[j][i].op = (int8_t)op;
                }
                count++;
            }
    return count;
}

static void crossover(const cf_space *s, cf_rng *rng, const cf_arch *a, const cf_arch *b,
                      cf_arch *out) {
    *out = *a;
    for (int j = 1; j < s->nodes; j++)
        for (int i = 0; i < j; i++)
            if (cf_rng_below(rng, 2)) out->cell[0].in[j][i].op = b->cell[0].in[j][i].op;
}

/* Path encoding: every input-to-output path through non-zero edges, by its op
 * sequence; m non-zero ops give m + m^2 + ... + m^(n-1) features. */
static int path_ops(const cf_space *s, int rank[CF_SPACE_MAX_OPS]) {
    int m = 0;
    for (int k = 0; k < s->n_ops; k++) rank[k] = s->ops[k].prim == CF_PRIM_ZERO ? -1 : m++;
    return m;
}

static size_t encoding_size(const cf_space *s, cf_arch_encoding kind) {
    if (kind == CF_ARCH_ENCODING_ONEHOT) return (size_t)n_edges(s) * (size_t)s->n_ops;
    int rank[CF_SPACE_MAX_OPS];
    size_t m = (size_t)path_ops(s, rank), total = 0, p = 1;
    for (int l = 1; l <= s->nodes - 1; l++) {
        p *= m;
        total += p;
    }
    return total;
}

/* Depth-first walk from node `at` to the output, accumulating the sequence index. */
static void walk_paths(const cf_space *s, const cf_arch *a, const int *rank, size_t m, int at,
                       int len, size_t code, float *out) {
    if (at == s->nodes - 1) {
        size_t offset = 0, p = 1;
        for (int l = 1; l < len; l++) {
            p *= m;
            offset += p;
        }
        out[offset + code] += 1.0f;
        return;
    }
    for (int j = at + 1; j < s->nodes; j++) {
        int r = rank[edge_op(a, j, at)];
        if (r >= 0) walk_paths(s, a, rank, m, j, len + 1, code * m + (size_t)r, out);
    }
}

static void encode(const cf_space *s, const cf_arch *a, cf_arch_encoding kind, float *out) {
    if (kind == CF_ARCH_ENCODING_ONEHOT) {
        int e = 0;
        for (int j = 1; j < s->nodes; j++)
            for (int i = 0; i < j; i++, e++) out[e * s->n_ops + edge_op(a, j, i)] = 1.0f;
        return;
    }
    int rank[CF_SPACE_MAX_OPS];
    size_t m = (size_t)path_ops(s, rank);
    walk_paths(s, a, rank, m, 0, 0, 0, out);
}

static double size(const cf_space *s) {
    double v = 1;
    for (int e = 0; e < n_edges(s); e++) v *= s->n_ops;
    return v;
}

/* Mixed-radix count over the edges in text order, the last edge fastest. */
static cf_status enumerate(const cf_space *s, int (*fn)(const cf_arch *a, void *ctx), void *ctx) {
    cf_arch a;
    memset(&a, 0, sizeof a);
    set_shape(s, &a);
    int E = n_edges(s);
    int8_t *slot[CF_CELL_MAX_NODES * CF_CELL_MAX_NODES / 2];
    int e = 0;
    for (int j = 1; j < s->nodes; j++)
        for (int i = 0; i < j; i++) slot[e++] = &a.cell[0].in[j][i].op;
    for (;;) {
        if (fn(&a, ctx)) return CF_OK;
        int k = E - 1;
        while (k >= 0 && *slot[k] == s->n_ops - 1) *slot[k--] = 0;
        if (k < 0) return CF_OK;
        (*slot[k])++;
    }
}

/* ---- the family's part of a space file, and its description ----------------------- */

static const char *const k_cell_keys[] = {"nodes", "ops", NULL};

static const cf_family_option k_options[] = {
    {"C", 1, 1, 4096, "channels of the first stage"},
    {"N", 1, 1, 256, "cells per stage"},
};

static cf_status parse_space_cell(cf_json_reader *r, const cJSON *cell, cf_space *s) {
    CF_TRY(cf_json_get_int(r, cell, "nodes", CF_JSON_REQUIRED, 2, CF_CELL_MAX_NODES, &s->nodes));
    return cf_space_parse_ops(r, cell, s);
}

static void describe(const cf_space *s, char *buf, size_t cap) {
    snprintf(buf, cap, "cell      %d nodes, an op on each of %d edges\n", s->nodes, s->nodes * (s->nodes - 1) / 2);
}

const cf_family_ops cf_family_nb201 = {
    .name = "nb201",
    .part = "cell",
    .part_keys = k_cell_keys,
    .options = k_options,
    .n_options = (int)(sizeof k_options / sizeof k_options[0]),
    .parse_part = parse_space_cell,
    .arch_syntax = "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|  (one group per node)",
    .describe = describe,
    .parse = parse,
    .format = format,
    .text_max = text_max,
    .validate = validate,
    .canonical = canonical,
    .sample = sample,
    .neighbors = neighbors,
    .crossover = crossover,
    .encoding_size = encoding_size,
    .encode = encode,
    .size = size,
    .enumerate = enumerate,
};
