/* arch_darts.c - the darts family: a normal and a reduction cell, each node
 * taking `inputs_per_node` (input, op) pairs, written as the DARTS paper's
 * genotypes.py writes them:
 *
 *   Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ...],
 *            normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=[2, 3, 4, 5])
 *
 * Pairs come in node order, inputs_per_node per node; input 0 is c_{k-2}, 1 is
 * c_{k-1}, 2.. the earlier intermediate nodes. `range(2, 6)` is accepted for a
 * concat list. Tested by tests/test_arch.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "family.h"
#include "cellforge/ops.h"
#include "scan.h"

static const char *const k_cell_key[2] = {"normal", "reduce"};

static int n_nodes(const cf_space *s) { return s->nodes + 2; }
static int n_in(const cf_space *s) { return s->inputs_per_node; }

static int is_zero(const cf_space *s, int op) { return s->ops[op].prim == CF_PRIM_ZERO; }

static cf_status parse_concat(const cf_space *s, cf_scan *sc, uint16_t *mask) {
    *mask = 0;
    cf_scan_ws(sc);
    if (strncmp(sc->p, "range", 5) == 0) {
        int lo, hi;
        CF_TRY(cf_scan_word(sc, "range"));
        CF_TRY(cf_scan_expect(sc, '('));
        CF_TRY(cf_scan_int(sc, &lo));
        CF_TRY(cf_scan_expect(sc, ','));
        cf_scan_ws(sc);
        int col = cf_scan_column(sc);
        CF_TRY(cf_scan_int(sc, &hi));
        CF_TRY(cf_scan_expect(sc, ')'));
        if (lo < 2 || hi > n_nodes(s) || lo >= hi)
            return cf_scan_fail(sc, col, "concat range(%d, %d) must lie within the intermediate "
                                "nodes 2..%d", lo, hi, n_nodes(s) - 1);
        for (int k = lo; k < hi; k++) *mask |= (uint16_t)(1u << k);
        return CF_OK;
    }
    CF_TRY(cf_scan_expect(sc, '['));
    for (int first = 1;; first = 0) {
        if (!first && !cf_scan_accept(sc, ',')) break;
        cf_scan_ws(sc);
        int col = cf_scan_column(sc), k;
        CF_TRY(cf_scan_int(sc, &k));
        if (k < 2 || k >= n_nodes(s))
            return cf_scan_fail(sc, col, "concat node %d is not an intermediate node (2..%d)", k,
                                n_nodes(s) - 1);
        if (*mask & (1u << k)) return cf_scan_fail(sc, col, "concat lists node %d twice", k);
        *mask |= (uint16_t)(1u << k);
    }
    return cf_scan_expect(sc, ']');
}

static cf_status parse_cell(const cf_space *s, cf_scan *sc, cf_arch_cell *c) {
    c->n_nodes = (int8_t)n_nodes(s);
    CF_TRY(cf_scan_expect(sc, '['));
    int total = s->nodes * n_in(s);
    for (int p = 0; p < total; p++) {
        int j = 2 + p / n_in(s), slot = p % n_in(s);
        cf_scan_ws(sc);
        if (*sc->p == ']')
            return cf_scan_fail(sc, 0, "a cell lists %d (op, input) pairs; space %s needs %d "
                                "(%d nodes x %d inputs)", p, s->name, total, s->nodes, n_in(s));
        if (p > 0) CF_TRY(cf_scan_expect(sc, ','));
        CF_TRY(cf_scan_expect(sc, '('));
        cf_scan_ws(sc);
        char quote = *sc->p;
        if (quote != '\'' && quote != '"')
            return cf_scan_fail(sc, 0, "expected a quoted op name");
        sc->p++;
        int col = cf_scan_column(sc);
        char name[40];
        CF_TRY(cf_scan_name(sc, name, sizeof name));
        if (*sc->p != quote) return cf_scan_fail(sc, 0, "expected the closing %c", quote);
        sc->p++;
        int op;
        CF_TRY(cf_arch_op_lookup(s, sc, col, name, &op));
        CF_TRY(cf_scan_expect(sc, ','));
        cf_scan_ws(sc);
        int icol = cf_scan_column(sc), from;
        CF_TRY(cf_scan_int(sc, &from));
        if (from >= j)
            return cf_scan_fail(sc, icol, "node %d (pair %d) can take inputs 0..%d, got %d", j,
                                p, j - 1, from);
        CF_TRY(cf_scan_expect(sc, ')'));
        c->in[j][slot] = (cf_arch_in){(int8_t)from, (int8_t)op};
        c->n_in[j] = (int8_t)(slot + 1);
    }
    cf_scan_ws(sc);
    if (*sc->p == ',')
        return cf_scan_fail(sc, 0, "more than %d (op, input) pairs; space %s has %d nodes x %d "
                            "inputs", total, s->name, s->nodes, n_in(s));
    return cf_scan_expect(sc, ']');
}

static cf_status parse(const cf_space *s, const char *text, cf_arch *out) {
    cf_scan sc = {text, text};
    out->n_cells = 2;
    CF_TRY(cf_scan_word(&sc, "Genotype"));
    CF_TRY(cf_scan_expect(&sc, '('));
    for (int k = 0; k < 2; k++) {
        if (k) CF_TRY(cf_scan_expect(&sc, ','));
        CF_TRY(cf_scan_word(&sc, k_cell_key[k]));
        CF_TRY(cf_scan_expect(&sc, '='));
        CF_TRY(parse_cell(s, &sc, &out->cell[k]));
        CF_TRY(cf_scan_expect(&sc, ','));
        CF_TRY(cf_scan_word(&sc, k_cell_key[k]));
        CF_TRY(cf_scan_word(&sc, "_concat"));
        CF_TRY(cf_scan_expect(&sc, '='));
        CF_TRY(parse_concat(s, &sc, &out->cell[k].concat));
    }
    CF_TRY(cf_scan_expect(&sc, ')'));
    return cf_scan_end(&sc);
}

typedef struct out_buf {
    char *p;
    size_t len, cap;
    int overflow;
} out_buf;

static void put(out_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out_buf *b, const char *fmt, ...) {
    if (b->overflow) return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= b->cap - b->len) b->overflow = 1;
    else b->len += (size_t)w;
}

static cf_status format(const cf_space *s, const cf_arch *a, char *buf, size_t cap) {
    out_buf b = {buf, 0, cap, cap == 0};
    put(&b, "Genotype(");
    for (int k = 0; k < 2; k++) {
        const cf_arch_cell *c = &a->cell[k];
        put(&b, "%s%s=[", k ? ", " : "", k_cell_key[k]);
        int first = 1;
        for (int j = 2; j < n_nodes(s); j++)
            for (int t = 0; t < c->n_in[j]; t++, first = 0)
                put(&b, "%s('%s', %d)", first ? "" : ", ", s->ops[c->in[j][t].op].name,
                    c->in[j][t].from);
        put(&b, "], %s_concat=[", k_cell_key[k]);
        first = 1;
        for (int j = 2; j < n_nodes(s); j++)
            if (c->concat & (1u << j)) {
                put(&b, "%s%d", first ? "" : ", ", j);
                first = 0;
            }
        put(&b, "]");
    }
    put(&b, ")");
    if (b.overflow) {
        if (cap) buf[0] = 0;
        CF_FAIL(CF_ERR_INVALID_ARG, "arch: a buffer of %zu bytes is too small for the text", cap);
    }
    return CF_OK;
}

/* Per cell ", normal=[" and "], normal_concat=[" with ", j" per node, and
 * per pair ", ('op', i)"; "Genotype(", ")" and the NUL. */
static size_t text_max(const cf_space *s) {
    size_t digits = cf_arch_digits(n_nodes(s));
    size_t pair = 2 + 2 + cf_arch_longest_op(s) + 3 + digits + 1;
    size_t cell = 2 + 8 + (size_t)s->nodes * (size_t)n_in(s) * pair + 16 + (size_t)s->nodes * (2 + digits) + 1;
    return 9 + 2 * cell + 2;
}

static cf_status validate(const cf_space *s, const cf_arch *a) {
    if (a->n_cells != 2)
        CF_FAIL(CF_ERR_INVALID_ARG, "arch: %d cells; a darts arch has a normal and a reduction cell",
                a->n_cells);
    for (int k = 0; k < 2; k++) {
        const cf_arch_cell *c = &a->cell[k];
        if (c->n_nodes != n_nodes(s))
            CF_FAIL(CF_ERR_INVALID_ARG, "arch: %s cell has %d nodes, expected %d", k_cell_key[k],
                    c->n_nodes, n_nodes(s));
        for (int j = 2; j < n_nodes(s); j++) {
            if (c->n_in[j] != n_in(s))
                CF_FAIL(CF_ERR_INVALID_ARG, "arch: %s cell node %d has %d inputs, expected %d",
                        k_cell_key[k], j, c->n_in[j], n_in(s));
            for (int t = 0; t < n_in(s); t++) {
                cf_arch_in e = c->in[j][t];
                if (e.from < 0 || e.from >= j)
                    CF_FAIL(CF_ERR_INVALID_ARG, "arch: %s cell node %d takes input %d (0..%d)",
                            k_cell_key[k], j, e.from, j - 1);
                if (e.op < 0 || e.op >= s->n_ops)
                    CF_FAIL(CF_ERR_INVALID_ARG, "arch: %s cell node %d has op index %d (0..%d)",
                            k_cell_key[k], j, e.op, s->n_ops - 1);
            }
        }
        uint16_t inner = (uint16_t)(((1u << n_nodes(s)) - 1) & ~3u);
        if (!c->concat || (c->concat & ~inner))
            CF_FAIL(CF_ERR_INVALID_ARG, "arch: %s cell concatenates nodes outside 2..%d or none",
                    k_cell_key[k], n_nodes(s) - 1);
    }
    return CF_OK;
}

static int cmp_in(cf_arch_in x, cf_arch_in y) {
    return x.from != y.from ? x.from - y.from : x.op - y.op;
}

/* A node's inputs are summed, so their order does not matter: sort them. */
static void canonical(const cf_space *s, const cf_arch *a, cf_arch *out) {
    *out = *a;
    for (int k = 0; k < 2; k++) {
        cf_arch_cell *c = &out->cell[k];
        for (int j = 2; j < n_nodes(s); j++)
            for (int t = 1; t < c->n_in[j]; t++)
                for (int u = t; u > 0 && cmp_in(c->in[j][u - 1], c->in[j][u]) > 0; u--) {
                    cf_arch_in tmp = c->in[j][u];
                    c->in[j][u] = c->in[j][u - 1];
                    c->in[j][u - 1] = tmp;
                }
    }
}

/* Ops a sample or mutation may pick: every op but "none", as in DARTS's
 * derived genotypes (falls back to every op if all are zero). */
static int pick_op(const cf_space *s, cf_rng *rng) {
    int allowed[CF_SPACE_MAX_OPS], m = 0;
    for (int k = 0; k < s->n_ops; k++)
        if (!is_zero(s, k)) allowed[m++] = k;
    if (m == 0) return (int)cf_rng_below(rng, (uint32_t)s->n_ops);
    return allowed[cf_rng_below(rng, (uint32_t)m)];
}

static void sample(const cf_space *s, cf_rng *rng, cf_arch *out) {
    out->n_cells = 2;
    for (int k = 0; k < 2; k++) {
        cf_arch_cell *c = &out->cell[k];
        c->n_nodes = (int8_t)n_nodes(s);
        for (int j = 2; j < n_nodes(s); j++) {
            /* distinct inputs while there are enough predecessors */
            int used[CF_CELL_MAX_NODES] = {0};
            c->n_in[j] = (int8_t)n_in(s);
            for (int t = 0; t < n_in(s); t++) {
                int from;
                do from = (int)cf_rng_below(rng, (uint32_t)j);
                while (used[from] && t < j);
                used[from] = 1;
                c->in[j][t] = (cf_arch_in){(int8_t)from, (int8_t)pick_op(s, rng)};
            }
            c->concat |= (uint16_t)(1u << j);
        }
    }
}

static int uses_input(const cf_arch_cell *c, int j, int skip_slot, int from) {
    for (int t = 0; t < c->n_in[j]; t++)
        if (t != skip_slot && c->in[j][t].from == from) return 1;
    return 0;
}

static size_t neighbors(const cf_space *s, const cf_arch *a, cf_arch *out, size_t cap) {
    size_t count = 0;
    for (int k = 0; k < 2; k++)
        for (int j = 2; j < n_nodes(s); j++)
            for (int t = 0; t < a->cell[k].n_in[j]; t++) {
                cf_arch_in cur = a->cell[k].in[j][t];
                for (int op = 0; op < s->n_ops; op++) {
                    if (op == cur.op || (is_zero(s, op) && !is_zero(s, cur.op))) continue;
                    if (count < cap) {
                        out[count] = *a;
                        out[count].cell[k].in[j][t].op = (int8_t)op;
                    }
                    count++;
                }
                for (int from = 0; from < j; from++) {
                    if (from == cur.from || uses_input(&a->cell[k], j, t, from)) continue;
                    if (count < cap) {
                        out[count] = *a;
                        out[count].cell[k].in[j][t].from = (int8_t)from;
                    }
                    count++;
                }
            }
    return count;
}

static void crossover(const cf_space *s, cf_rng *rng, const cf_arch *a, const cf_arch *b,
                      cf_arch *out) {
    *out = *a;
    for (int k = 0; k < 2; k++)
        for (int j = 2; j < n_nodes(s); j++)
            if (cf_rng_below(rng, 2)) {
                out->cell[k].n_in[j] = b->cell[k].n_in[j];
                memcpy(out->cell[k].in[j], b->cell[k].in[j], sizeof out->cell[k].in[j]);
            }
}

/* ONEHOT: per cell, node and slot: one-hot input (n_nodes - 1 choices) and op.
 * PATH: per cell, each path from input 0 or 1 through non-zero ops to a
 * concatenated node, by (input, op sequence); lengths 1..nodes. */
static size_t path_width(const cf_space *s, int *rank) {
    size_t m = 0;
    for (int k = 0; k < s->n_ops; k++) rank[k] = is_zero(s, k) ? -1 : (int)m++;
    size_t total = 0, p = 1;
    for (int l = 1; l <= s->nodes; l++) {
        p *= m;
        total += p;
    }
    return total;
}

static size_t encoding_size(const cf_space *s, cf_arch_encoding kind) {
    if (kind == CF_ARCH_ENCODING_ONEHOT)
        return 2u * (size_t)s->nodes * (size_t)n_in(s) * (size_t)(n_nodes(s) - 1 + s->n_ops);
    int rank[CF_SPACE_MAX_OPS];
    return 2u * 2u * path_width(s, rank);
}

/* Walk backwards from node j towards the cell inputs, building the op sequence
 * from the input end: code = sequence index, len = ops so far. */
static void walk_back(const cf_space *s, const cf_arch_cell *c, const int *rank, size_t m,
                      size_t width, int j, int len, size_t code, size_t scale, float *out) {
    for (int t = 0; t < c->n_in[j]; t++) {
        cf_arch_in e = c->in[j][t];
        int r = rank[e.op];
        if (r < 0) continue;
        size_t nc = code + (size_t)r * scale;
        if (e.from < 2) {
            size_t offset = 0, p = 1;
            for (int l = 1; l < len; l++) {
                p *= m;
                offset += p;
            }
            out[(size_t)e.from * width + offset + nc] += 1.0f;
        } else {
            walk_back(s, c, rank, m, width, e.from, len + 1, nc, scale * m, out);
        }
    }
}

static void encode(const cf_space *s, const cf_arch *a, cf_arch_encoding kind, float *out) {
    if (kind == CF_ARCH_ENCODING_ONEHOT) {
        size_t w = (size_t)(n_nodes(s) - 1 + s->n_ops), i = 0;
        for (int k = 0; k < 2; k++)
            for (int j = 2; j < n_nodes(s); j++)
                for (int t = 0; t < n_in(s); t++, i++) {
                    out[i * w + (size_t)a->cell[k].in[j][t].from] = 1.0f;
                    out[i * w + (size_t)(n_nodes(s) - 1 + a->cell[k].in[j][t].op)] = 1.0f;
                }
        return;
    }
    int rank[CF_SPACE_MAX_OPS];
    size_t width = path_width(s, rank), m = 0;
    for (int k = 0; k < s->n_ops; k++) m += rank[k] >= 0;
    for (int k = 0; k < 2; k++)
        for (int j = 2; j < n_nodes(s); j++)
            if (a->cell[k].concat & (1u << j))
                walk_back(s, &a->cell[k], rank, m, width, j, 1, 0, 1,
                          out + (size_t)k * 2 * width);
}

/* Genotypes as DARTS derives them: per node an unordered pair of distinct
 * inputs, each with a non-zero op. */
static double size(const cf_space *s) {
    int m = 0;
    for (int k = 0; k < s->n_ops; k++) m += !is_zero(s, k);
    double cell = 1;
    for (int j = 2; j < n_nodes(s); j++) {
        double pairs = 1;  /* C(j, inputs) */
        for (int t = 0; t < n_in(s); t++) pairs = pairs * (j - t) / (t + 1);
        if (pairs < 1) pairs = 1;
        for (int t = 0; t < n_in(s); t++) pairs *= m;
        cell *= pairs;
    }
    return cell * cell;
}

/* ---- the family's part of a space file, and its description ----------------------- */

static const char *const k_cell_keys[] = {"nodes", "ops", "inputs_per_node", NULL};

static const cf_family_option k_options[] = {
    {"C", 1, 1, 4096, "channels of the first cells"},
    /* At least 3 so the reduction cells at layers/3 and 2*layers/3 are two cells. */
    {"layers", 1, 3, 256, "cells in the network"},
    {"auxiliary", 1, 0, 1, "1: auxiliary head after the second reduction cell"},
    /* Below 1: a path dropped with certainty would divide by a keep rate of 0. */
    {"drop_path", 0, 0, 0.95, "drop-path probability"},
};

static cf_status parse_space_cell(cf_json_reader *r, const cJSON *cell, cf_space *s) {
    /* The cell's output joins every intermediate node in one concatenation,
     * which takes at most CF_OP_MAX_INPUTS inputs. */
    const int max_nodes = CF_CELL_MAX_NODES - 2 < CF_OP_MAX_INPUTS ? CF_CELL_MAX_NODES - 2 : CF_OP_MAX_INPUTS;
    CF_TRY(cf_json_get_int(r, cell, "nodes", CF_JSON_REQUIRED, 1, max_nodes, &s->nodes));
    s->inputs_per_node = 2;
    CF_TRY(cf_json_get_int(r, cell, "inputs_per_node", CF_JSON_OPTIONAL, 1, CF_NODE_MAX_IN, &s->inputs_per_node));
    return cf_space_parse_ops(r, cell, s);
}

static void describe(const cf_space *s, char *buf, size_t cap) {
    snprintf(buf, cap, "cell      %d intermediate nodes, %d inputs each\n", s->nodes, s->inputs_per_node);
}

const cf_family_ops cf_family_darts = {
    .name = "darts",
    .part = "cell",
    .part_keys = k_cell_keys,
    .options = k_options,
    .n_options = (int)(sizeof k_options / sizeof k_options[0]),
    .parse_part = parse_space_cell,
    .arch_syntax = "Genotype(normal=[('op', input), ...], normal_concat=[2, 3, 4, 5], "
                   "reduce=[...], reduce_concat=[...])",
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
    .enumerate = NULL,
};
