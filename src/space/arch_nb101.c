/* arch_nb101.c - the NAS-Bench-101 family: an adjacency matrix plus one op per vertex.
 *
 * Rules follow NAS-Bench-101 (Ying et al., 2019): vertex 0 is the input, the
 * last vertex the output, edges go from lower to higher vertices (upper
 * triangular matrix). A cell is valid when, after pruning the vertices that
 * are not on some input->output path, the output is still reachable and the
 * pruned graph has at most max_edges edges. An arch keeps the un-pruned
 * matrix (that is what sampling and mutation work on); the canonical form is
 * the pruned graph relabeled to the smallest (matrix, ops) key over all its
 * topological orders, so isomorphic cells share one canonical arch and hash.
 *
 * Tested by tests/test_arch_nb101_mobile.c.
 */
#include <stdio.h>
#include <string.h>

#include "family.h"
#include "scan.h"

#define NB_MAX CF_CELL_MAX_NODES

/* The cell as a matrix: m[i][j] = 1 for an edge i -> j (i < j); op[v] is an
 * index into space->ops for interior vertices, -1 at the input and output. */
typedef struct nb_graph {
    int n;
    uint8_t m[NB_MAX][NB_MAX];
    int8_t op[NB_MAX];
} nb_graph;

static void graph_from_arch(const cf_arch *a, nb_graph *g) {
    memset(g, 0, sizeof *g);
    const cf_arch_cell *c = &a->cell[0];
    g->n = c->n_nodes < 0 ? 0 : c->n_nodes > NB_MAX ? NB_MAX : c->n_nodes;
    for (int j = 0; j < g->n; j++) {
        g->op[j] = (j == 0 || j == g->n - 1) ? -1 : c->node_op[j];
        int k = c->n_in[j] < 0 ? 0 : c->n_in[j] > CF_NODE_MAX_IN ? CF_NODE_MAX_IN : c->n_in[j];
        for (int i = 0; i < k; i++) {
            int from = c->in[j][i].from;
            if (from >= 0 && from < j) g->m[from][j] = 1;
        }
    }
}

/* Writes the arch form with every unused field zero. */
static void graph_to_arch(const nb_graph *g, cf_arch *a) {
    memset(a, 0, sizeof *a);
    a->n_cells = 1;
    cf_arch_cell *c = &a->cell[0];
    c->n_nodes = (int8_t)g->n;
    for (int j = 0; j < g->n; j++) {
        c->node_op[j] = (j == 0 || j == g->n - 1) ? -1 : g->op[j];
        for (int i = 0; i < j; i++) {
            if (!g->m[i][j]) continue;
            c->in[j][c->n_in[j]].from = (int8_t)i;
            c->in[j][c->n_in[j]].op = -1;
            c->n_in[j]++;
        }
    }
}

static int graph_edges(const nb_graph *g) {
    int e = 0;
    for (int i = 0; i < g->n; i++)
        for (int j = i + 1; j < g->n; j++) e += g->m[i][j];
    return e;
}

/* Keep only the vertices on an input->output path (as NAS-Bench-101's
 * ModelSpec._prune). Returns 0 when the output is not reachable. */
static int graph_prune(const nb_graph *g, nb_graph *out) {
    int n = g->n;
    uint8_t from_in[NB_MAX] = {0}, to_out[NB_MAX] = {0};
    if (n < 2) return 0;
    from_in[0] = 1;
    for (int j = 1; j < n; j++)
        for (int i = 0; i < j && !from_in[j]; i++) from_in[j] = from_in[i] && g->m[i][j];
    to_out[n - 1] = 1;
    for (int i = n - 2; i >= 0; i--)
        for (int j = i + 1; j < n && !to_out[i]; j++) to_out[i] = to_out[j] && g->m[i][j];
    if (!from_in[n - 1]) return 0;
    int keep[NB_MAX], k = 0;
    for (int v = 0; v < n; v++)
        if (from_in[v] && to_out[v]) keep[k++] = v;
    nb_graph p;
    memset(&p, 0, sizeof p);
    p.n = k;
    for (int a = 0; a < k; a++) {
        p.op[a] = g->op[keep[a]];
        for (int b = a + 1; b < k; b++) p.m[a][b] = g->m[keep[a]][keep[b]];
    }
    p.op[0] = p.op[k - 1] = -1;
    *out = p;
    return 1;
}

/* ---- validation ---------------------------------------------------------- */

static cf_status nb101_validate(const cf_space *s, const cf_arch *a) {
    const cf_arch_cell *c = &a->cell[0];
    int n = c->n_nodes;
    int most = s->nodes < NB_MAX ? s->nodes : NB_MAX;
    if (a->n_cells != 1)
        CF_FAIL(CF_ERR_INVALID_ARG, "nb101: an arch has 1 cell, this one has %d", a->n_cells);
    if (n < 2 || n > most)
        CF_FAIL(CF_ERR_INVALID_ARG, "nb101: %d vertices; space %s allows 2 (input and output) to %d",
                n, s->name, most);
    for (int j = 0; j < n; j++) {
        int op = c->node_op[j];
        if (j == 0 || j == n - 1) {
            if (op != -1)
                CF_FAIL(CF_ERR_INVALID_ARG, "nb101: vertex %d is the %s and has no op (node_op -1), "
                        "got %d", j, j ? "output" : "input", op);
        } else if (op < 0 || op >= s->n_ops) {
            CF_FAIL(CF_ERR_INVALID_ARG, "nb101: vertex %d: op index %d out of range (space %s has "
                    "%d ops)", j, op, s->name, s->n_ops);
        }
        if (c->n_in[j] < 0 || c->n_in[j] > j)
            CF_FAIL(CF_ERR_INVALID_ARG, "nb101: vertex %d has %d inputs; at most %d (the vertices "
                    "before it)", j, c->n_in[j], j);
        for (int i = 0; i < c->n_in[j]; i++) {
            int from = c->in[j][i].from;
            if (from < 0 || from >= j)
                CF_FAIL(CF_ERR_INVALID_ARG, "nb101: vertex %d: input from vertex %d is not an "
                        "earlier vertex (edges go from lower to higher vertices; anything else is "
                        "a cycle)", j, from);
            if (i > 0 && from <= c->in[j][i - 1].from)
                CF_FAIL(CF_ERR_INVALID_ARG, "nb101: vertex %d: inputs must be listed once each in "
                        "increasing order (%d after %d)", j, from, c->in[j][i - 1].from);
            if (c->in[j][i].op != -1)
                CF_FAIL(CF_ERR_INVALID_ARG, "nb101: vertex %d: edge from vertex %d carries op %d; "
                        "nb101 edges are plain (-1)", j, from, c->in[j][i].op);
        }
    }
    nb_graph g, p;
    graph_from_arch(a, &g);
    if (!graph_prune(&g, &p))
        CF_FAIL(CF_ERR_INVALID_ARG, "nb101: the output (vertex %d) is not reachable from the "
                "input (vertex 0): no input->output path", n - 1);
    int e = graph_edges(&p);
    if (e > s->max_edges)
        CF_FAIL(CF_ERR_INVALID_ARG, "nb101: %d edges after pruning the vertices off every "
                "input->output path; space %s allows at most %d", e, s->name, s->max_edges);
    return CF_OK;
}

/* ---- text ---------------------------------------------------------------- */

/* A double-quoted string without escapes into buf; *col gets the column of
 * its first character. */
static cf_status scan_string(cf_scan *sc, char *buf, size_t cap, int *col) {
    CF_TRY(cf_scan_expect(sc, '"'));
    *col = cf_scan_column(sc);
    const char *start = sc->p;
    while (*sc->p && *sc->p != '"') sc->p++;
    if (!*sc->p) return cf_scan_fail(sc, *col - 1, "string is not closed (no '\"' before the end)");
    size_t len = (size_t)(sc->p - start);
    if (len >= cap)
        return cf_scan_fail(sc, *col, "a name of %zu characters is too long (at most %zu)", len,
                            cap - 1);
    memcpy(buf, start, len);
    buf[len] = 0;
    sc->p++;
    return CF_OK;
}

static cf_status parse_matrix(const cf_space *s, cf_scan *sc, nb_graph *g) {
    int most = s->nodes < NB_MAX ? s->nodes : NB_MAX;
    int n = -1, rows = 0;
    CF_TRY(cf_scan_expect(sc, '['));
    for (;;) {
        cf_scan_ws(sc);
        int row_col = cf_scan_column(sc);
        if (n >= 0 && rows >= n)
            return cf_scan_fail(sc, row_col, "row %d is one too many: the matrix has %d columns "
                                "and must be square", rows, n);
        CF_TRY(cf_scan_expect(sc, '['));
        int cnt = 0;
        for (;;) {
            cf_scan_ws(sc);
            int col = cf_scan_column(sc);
            int v;
            CF_TRY(cf_scan_int(sc, &v));
            if (n >= 0 && cnt >= n)
                return cf_scan_fail(sc, col, "row %d has more than %d entries: the matrix must be "
                                    "square", rows, n);
            if (n < 0 && cnt >= most)
                return cf_scan_fail(sc, col, "more than %d vertices: space %s allows at most %d",
                                    most, s->name, most);
            if (v > 1)
                return cf_scan_fail(sc, col, "matrix[%d][%d] is %d; entries are 0 or 1", rows, cnt,
                                    v);
            if (v == 1 && cnt <= rows)
                return cf_scan_fail(sc, col, "matrix[%d][%d] is 1 on or below the diagonal: an "
                                    "edge from vertex %d to vertex %d would make a cycle (the "
                                    "matrix must be upper triangular)", rows, cnt, rows, cnt);
            g->m[rows][cnt++] = (uint8_t)v;
            if (cf_scan_accept(sc, ',')) continue;
            cf_scan_ws(sc);
            int end_col = cf_scan_column(sc);
            CF_TRY(cf_scan_expect(sc, ']'));
            if (n < 0) {
                n = cnt;
                if (n < 2)
                    return cf_scan_fail(sc, row_col, "a matrix of %d vertex; a cell has at least "
                                        "2 (input and output)", n);
            } else if (cnt < n) {
                return cf_scan_fail(sc, end_col, "row %d has %d entries, expected %d: the matrix "
                                    "must be square", rows, cnt, n);
            }
            break;
        }
        rows++;
        if (cf_scan_accept(sc, ',')) continue;
        cf_scan_ws(sc);
        int end_col = cf_scan_column(sc);
        CF_TRY(cf_scan_expect(sc, ']'));
        if (rows < n)
            return cf_scan_fail(sc, end_col, "the matrix has %d rows and %d columns: it must be "
                                "square", rows, n);
        break;
    }
    g->n = n;
    return CF_OK;
}

typedef struct nb_ops_text {
    int count;
    int list_col;                 /* column of '[' */
    char name[NB_MAX][32];
    int col[NB_MAX];
} nb_ops_text;

static cf_status parse_ops(const cf_space *s, cf_scan *sc, nb_ops_text *t) {
    int most = s->nodes < NB_MAX ? s->nodes : NB_MAX;
    cf_scan_ws(sc);
    t->list_col = cf_scan_column(sc);
    CF_TRY(cf_scan_expect(sc, '['));
    for (;;) {
        cf_scan_ws(sc);
        int start = cf_scan_column(sc);
        if (t->count >= most)
            return cf_scan_fail(sc, start, "more than %d ops: space %s allows at most %d vertices",
                                most, s->name, most);
        CF_TRY(scan_string(sc, t->name[t->count], sizeof t->name[0], &t->col[t->count]));
        t->count++;
        if (cf_scan_accept(sc, ',')) continue;
        CF_TRY(cf_scan_expect(sc, ']'));
        return CF_OK;
    }
}

/* Check the op labels against the matrix and resolve them. */
static cf_status resolve_ops(const cf_space *s, const cf_scan *sc, const nb_ops_text *t,
                             nb_graph *g) {
    int n = g->n;
    if (t->count != n)
        return cf_scan_fail(sc, t->list_col, "%d ops for a matrix of %d vertices: one op per "
                            "vertex, \"input\" first and \"output\" last", t->count, n);
    for (int v = 0; v < n; v++) {
        const char *want = v == 0 ? "input" : v == n - 1 ? "output" : NULL;
        if (want) {
            if (strcmp(t->name[v], want) != 0)
                return cf_scan_fail(sc, t->col[v], "vertex %d is the %s: expected \"%s\", got "
                                    "\"%s\"", v, want, want, t->name[v]);
            g->op[v] = -1;
            continue;
        }
        if (!strcmp(t->name[v], "input") || !strcmp(t->name[v], "output"))
            return cf_scan_fail(sc, t->col[v], "\"%s\" at vertex %d: only the %s vertex is "
                                "\"%s\"", t->name[v], v, t->name[v][0] == 'i' ? "first" : "last",
                                t->name[v]);
        int idx;
        CF_TRY(cf_arch_op_lookup(s, sc, t->col[v], t->name[v], &idx));
        g->op[v] = (int8_t)idx;
    }
    return CF_OK;
}

static cf_status nb101_parse(const cf_space *s, const char *text, cf_arch *out) {
    cf_scan sc = {text, text};
    nb_graph g;
    nb_ops_text ops;
    memset(&g, 0, sizeof g);
    memset(&ops, 0, sizeof ops);
    int have_matrix = 0, have_ops = 0;
    CF_TRY(cf_scan_expect(&sc, '{'));
    for (int field = 0; field < 2; field++) {
        if (field) CF_TRY(cf_scan_expect(&sc, ','));
        char key[32];
        int col;
        CF_TRY(scan_string(&sc, key, sizeof key, &col));
        CF_TRY(cf_scan_expect(&sc, ':'));
        if (!strcmp(key, "matrix") && !have_matrix) {
            CF_TRY(parse_matrix(s, &sc, &g));
            have_matrix = 1;
        } else if (!strcmp(key, "ops") && !have_ops) {
            CF_TRY(parse_ops(s, &sc, &ops));
            have_ops = 1;
        } else {
            return cf_scan_fail(&sc, col, "unexpected key \"%s\": expected \"%s\"", key,
                                have_matrix ? "ops" : have_ops ? "matrix" : "matrix\" or \"ops");
        }
    }
    CF_TRY(cf_scan_expect(&sc, '}'));
    CF_TRY(cf_scan_end(&sc));
    CF_TRY(resolve_ops(s, &sc, &ops, &g));
    graph_to_arch(&g, out);
    return CF_OK;
}

/* Append to buf at *len; fails when cap is too small. */
static cf_status put(char *buf, size_t cap, size_t *len, const char *str) {
    size_t k = strlen(str);
    if (*len + k + 1 > cap)
        CF_FAIL(CF_ERR_INVALID_ARG, "nb101: a buffer of %zu bytes is too small for the arch text",
                cap);
    memcpy(buf + *len, str, k + 1);
    *len += k;
    return CF_OK;
}

/* {"matrix":[ rows of ",0" ... ],"ops":[ "op" ... ]} and the NUL. */
static size_t nb101_text_max(const cf_space *s) {
    size_t n = (size_t)s->nodes, name = cf_arch_longest_op(s);
    if (name < 6) name = 6; /* "output" */
    return 11 + n * (2 + 2 * n) + 9 + n * (name + 3) + 3;
}

static cf_status nb101_format(const cf_space *s, const cf_arch *a, char *buf, size_t cap) {
    nb_graph g;
    graph_from_arch(a, &g);
    if (g.n < 2) CF_FAIL(CF_ERR_INVALID_ARG, "nb101: cannot print a cell of %d vertices", g.n);
    size_t len = 0;
    CF_TRY(put(buf, cap, &len, "{\"matrix\":["));
    for (int i = 0; i < g.n; i++) {
        CF_TRY(put(buf, cap, &len, i ? ",[" : "["));
        for (int j = 0; j < g.n; j++) {
            const char *cell[2][2] = {{"0", "1"}, {",0", ",1"}};
            CF_TRY(put(buf, cap, &len, cell[j > 0][g.m[i][j]]));
        }
        CF_TRY(put(buf, cap, &len, "]"));
    }
    CF_TRY(put(buf, cap, &len, "],\"ops\":["));
    for (int v = 0; v < g.n; v++) {
        const char *name = v == 0 ? "input" : v == g.n - 1 ? "output"
                         : (g.op[v] >= 0 && g.op[v] < s->n_ops) ? s->ops[g.op[v]].name : "?";
        CF_TRY(put(buf, cap, &len, v ? ",\"" : "\""));
        CF_TRY(put(buf, cap, &len, name));
        CF_TRY(put(buf, cap, &len, "\""));
    }
    return put(buf, cap, &len, "]}");
}

/* ---- canonical form ------------------------------------------------------- */

/* Order of relabelings: the upper-triangle bits row by row, then the interior
 * op labels; the smallest wins. */
static int key_cmp(const nb_graph *a, const nb_graph *b) {
    for (int i = 0; i < a->n; i++)
        for (int j = i + 1; j < a->n; j++)
            if (a->m[i][j] != b->m[i][j]) return a->m[i][j] < b->m[i][j] ? -1 : 1;
    for (int v = 1; v < a->n - 1; v++)
        if (a->op[v] != b->op[v]) return a->op[v] < b->op[v] ? -1 : 1;
    return 0;
}

typedef struct canon_search {
    const nb_graph *g;
    uint8_t twin[NB_MAX][NB_MAX]; /* u < v swap to an automorphism */
    int order[NB_MAX];            /* new label -> old vertex */
    uint8_t placed[NB_MAX];
    nb_graph best;
    int have_best;
} canon_search;

static void canon_leaf(canon_search *cs) {
    const nb_graph *g = cs->g;
    nb_graph h;
    memset(&h, 0, sizeof h);
    h.n = g->n;
    for (int i = 0; i < g->n; i++) {
        h.op[i] = g->op[cs->order[i]];
        for (int j = i + 1; j < g->n; j++) h.m[i][j] = g->m[cs->order[i]][cs->order[j]];
    }
    if (!cs->have_best || key_cmp(&h, &cs->best) < 0) {
        cs->best = h;
        cs->have_best = 1;
    }
}

/* Place new label p among the interior vertices whose predecessors are all placed. */
static void canon_step(canon_search *cs, int p) {
    const nb_graph *g = cs->g;
    int n = g->n;
    if (p == n - 1) {
        cs->order[n - 1] = n - 1;
        canon_leaf(cs);
        return;
    }
    for (int v = 1; v < n - 1; v++) {
        if (cs->placed[v]) continue;
        int ready = 1;
        for (int u = 1; u < v && ready; u++) ready = !g->m[u][v] || cs->placed[u];
        if (!ready) continue;
        /* A free twin with a lower number gives the same subtree up to an automorphism. */
        int dup = 0;
        for (int u = 1; u < v && !dup; u++) dup = !cs->placed[u] && cs->twin[u][v];
        if (dup) continue;
        cs->placed[v] = 1;
        cs->order[p] = v;
        canon_step(cs, p + 1);
        cs->placed[v] = 0;
    }
}

static void relabel_smallest(const nb_graph *g, nb_graph *out) {
    canon_search cs;
    memset(&cs, 0, sizeof cs);
    cs.g = g;
    for (int u = 1; u < g->n - 1; u++)
        for (int v = u + 1; v < g->n - 1; v++) {
            int same = g->op[u] == g->op[v];
            for (int w = 0; w < g->n && same; w++)
                same = g->m[w][u] == g->m[w][v] && g->m[u][w] == g->m[v][w];
            cs.twin[u][v] = (uint8_t)same;
        }
    cs.order[0] = 0;
    canon_step(&cs, 1);
    *out = cs.best;
}

static void nb101_canonical(const cf_space *s, const cf_arch *a, cf_arch *out) {
    nb_graph g, p;
    graph_from_arch(a, &g);
    if (g.n < 2 || !graph_prune(&g, &p)) {
        /* Not a valid cell: keep it as it is, unused fields zeroed. */
        graph_to_arch(&g, out);
        return;
    }
    nb_graph best;
    relabel_smallest(&p, &best);
    graph_to_arch(&best, out);
}

/* ---- sampling and neighborhoods -------------------------------------------- */

static int graph_valid(const cf_space *s, const nb_graph *g) {
    nb_graph p;
    return graph_prune(g, &p) && graph_edges(&p) <= s->max_edges;
}

static void nb101_sample(const cf_space *s, cf_rng *rng, cf_arch *out) {
    int n = s->nodes < NB_MAX ? s->nodes : NB_MAX;
    nb_graph g;
    /* Rejection as NAS-Bench-101 samples; for 7 vertices and 9 edges about
     * three draws in four are valid, so the cap is never met in practice. */
    for (int attempt = 0; attempt < 100000; attempt++) {
        memset(&g, 0, sizeof g);
        g.n = n;
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++) g.m[i][j] = (uint8_t)(cf_rng_u32(rng) & 1);
        g.op[0] = g.op[n - 1] = -1;
        for (int v = 1; v < n - 1; v++) g.op[v] = (int8_t)cf_rng_below(rng, (uint32_t)s->n_ops);
        if (graph_valid(s, &g)) {
            graph_to_arch(&g, out);
            return;
        }
    }
    /* Only reached with a max_edges that almost nothing meets: input -> output. */
    memset(&g, 0, sizeof g);
    g.n = n;
    g.m[0][n - 1] = 1;
    g.op[0] = g.op[n - 1] = -1;
    graph_to_arch(&g, out);
}

static size_t emit(const cf_space *s, const nb_graph *g, cf_arch *out, size_t cap, size_t count) {
    if (!graph_valid(s, g)) return count;
    if (count < cap) graph_to_arch(g, &out[count]);
    return count + 1;
}

static size_t nb101_neighbors(const cf_space *s, const cf_arch *a, cf_arch *out, size_t cap) {
    nb_graph g;
    graph_from_arch(a, &g);
    size_t count = 0;
    for (int i = 0; i < g.n; i++)
        for (int j = i + 1; j < g.n; j++) {
            nb_graph h = g;
            h.m[i][j] ^= 1;
            count = emit(s, &h, out, cap, count);
        }
    for (int v = 1; v < g.n - 1; v++)
        for (int op = 0; op < s->n_ops; op++) {
            if (op == g.op[v]) continue;
            nb_graph h = g;
            h.op[v] = (int8_t)op;
            count = emit(s, &h, out, cap, count);
        }
    return count;
}

/* Grow g to n vertices with isolated interior vertices inserted before the
 * output; they are pruned away, so the cell computes the same network. */
static void graph_pad(nb_graph *g, int n) {
    if (g->n >= n) return;
    nb_graph h;
    memset(&h, 0, sizeof h);
    h.n = n;
    for (int i = 0; i < g->n - 1; i++) {
        h.op[i] = g->op[i];
        for (int j = i + 1; j < g->n - 1; j++) h.m[i][j] = g->m[i][j];
        h.m[i][n - 1] = g->m[i][g->n - 1];
    }
    for (int v = g->n - 1; v < n - 1; v++) h.op[v] = 0;
    h.op[n - 1] = -1;
    *g = h;
}

static void nb101_crossover(const cf_space *s, cf_rng *rng, const cf_arch *a, const cf_arch *b,
                            cf_arch *out) {
    nb_graph ga, gb, c;
    graph_from_arch(a, &ga);
    graph_from_arch(b, &gb);
    int n = ga.n > gb.n ? ga.n : gb.n;
    graph_pad(&ga, n);
    graph_pad(&gb, n);
    memset(&c, 0, sizeof c);
    c.n = n;
    c.op[0] = -1;
    /* Every vertex after the input (the output included) takes its incoming
     * edges, and its op, from one parent. */
    for (int v = 1; v < n; v++) {
        const nb_graph *src = (cf_rng_u32(rng) & 1) ? &gb : &ga;
        c.op[v] = src->op[v];
        for (int u = 0; u < v; u++) c.m[u][v] = src->m[u][v];
    }
    graph_to_arch(&c, out);
}

/* ---- encodings and size --------------------------------------------------- */

static size_t path_count_size(const cf_space *s) {
    size_t total = 0, term = 1;
    for (int len = 0; len <= s->nodes - 2; len++) {
        total += term;
        term *= (size_t)s->n_ops;
    }
    return total;
}

static size_t nb101_encoding_size(const cf_space *s, cf_arch_encoding kind) {
    size_t n = (size_t)s->nodes;
    if (kind == CF_ARCH_ENCODING_PATH) return path_count_size(s);
    return n * (n - 1) / 2 + (n - 2) * (size_t)s->n_ops;
}

/* Count the paths from v to the output; code/len describe the ops met so far. */
static void count_paths(const cf_space *s, const nb_graph *g, int v, size_t code, int len,
                        float *out) {
    for (int w = v + 1; w < g->n; w++) {
        if (!g->m[v][w]) continue;
        if (w == g->n - 1) {
            size_t offset = 0, term = 1;
            for (int k = 0; k < len; k++) {
                offset += term;
                term *= (size_t)s->n_ops;
            }
            out[offset + code] += 1.0f;
        } else {
            count_paths(s, g, w, code * (size_t)s->n_ops + (size_t)g->op[w], len + 1, out);
        }
    }
}

static void nb101_encode(const cf_space *s, const cf_arch *a, cf_arch_encoding kind, float *out) {
    nb_graph g;
    graph_from_arch(a, &g);
    if (g.n < 2) return;
    if (kind == CF_ARCH_ENCODING_PATH) {
        count_paths(s, &g, 0, 0, 0, out);
        return;
    }
    /* The canonical cell may have fewer vertices: its output takes the last
     * slot, the slots of pruned vertices stay zero. */
    int n = s->nodes;
    for (int u = 0; u < g.n; u++)
        for (int w = u + 1; w < g.n; w++) {
            if (!g.m[u][w]) continue;
            int j = w == g.n - 1 ? n - 1 : w;
            out[(size_t)(u * n - u * (u + 1) / 2 + (j - u - 1))] = 1.0f;
        }
    size_t ops_at = (size_t)n * (size_t)(n - 1) / 2;
    for (int v = 1; v < g.n - 1; v++)
        out[ops_at + (size_t)(v - 1) * (size_t)s->n_ops + (size_t)g.op[v]] = 1.0f;
}

/* Distinct texts: upper-triangular 0/1 matrices on 2..nodes vertices times the
 * interior op labels, before the validity check; NAS-Bench-101's 7-vertex,
 * 9-edge space holds 423,624 distinct valid cells among them. */
static double nb101_size(const cf_space *s) {
    double total = 0;
    for (int n = 2; n <= s->nodes && n <= NB_MAX; n++) {
        double t = 1;
        for (int e = 0; e < n * (n - 1) / 2; e++) t *= 2;
        for (int v = 0; v < n - 2; v++) t *= s->n_ops;
        total += t;
    }
    return total;
}

/* ---- the family's part of a space file, and its description ----------------------- */

static const char *const k_cell_keys[] = {"nodes", "ops", "max_edges", NULL};

static const cf_family_option k_options[] = {
    {"stem_channels", 1, 1, 4096, "channels of the stem conv"},
    {"stacks", 1, 1, 16, "stacks of cells, downsampling between them"},
    {"cells_per_stack", 1, 1, 64, "cells in each stack"},
};

static cf_status parse_space_cell(cf_json_reader *r, const cJSON *cell, cf_space *s) {
    CF_TRY(cf_json_get_int(r, cell, "nodes", CF_JSON_REQUIRED, 3, CF_CELL_MAX_NODES, &s->nodes));
    CF_TRY(cf_json_get_int(r, cell, "max_edges", CF_JSON_REQUIRED, 1, s->nodes * (s->nodes - 1) / 2, &s->max_edges));
    return cf_space_parse_ops(r, cell, s);
}

/* The two end vertices are named in the text form, and every vertex between
 * them computes something. */
static cf_status check_op(cf_json_reader *r, const cf_space *s, const cf_space_op *op) {
    (void)s;
    const char *key = NULL;
    char msg[128];
    if (strcmp(op->name, "input") == 0 || strcmp(op->name, "output") == 0) {
        key = "name";
        snprintf(msg, sizeof msg, "\"%s\" is reserved in nb101 spaces (it names the cell's end vertices)", op->name);
    } else if (op->prim == CF_PRIM_ZERO || op->prim == CF_PRIM_IDENTITY) {
        key = "prim";
        snprintf(msg, sizeof msg, "nb101 vertex ops compute something (conv_bn_relu, max_pool, avg_pool, ...), not \"%s\"",
                 cf_prim_name(op->prim));
    }
    if (!key) return CF_OK;
    size_t mark = cf_json_enter_key(r, key);
    cf_status st = cf_json_fail(r, CF_ERR_PARSE, "%s", msg);
    cf_json_leave(r, mark);
    return st;
}

static void describe(const cf_space *s, char *buf, size_t cap) {
    snprintf(buf, cap, "cell      up to %d vertices, at most %d edges\n", s->nodes, s->max_edges);
}

const cf_family_ops cf_family_nb101 = {
    .name = "nb101",
    .part = "cell",
    .part_keys = k_cell_keys,
    .options = k_options,
    .n_options = (int)(sizeof k_options / sizeof k_options[0]),
    .parse_part = parse_space_cell,
    .check_op = check_op,
    .arch_syntax = "{\"matrix\":[[0,1,...],...],\"ops\":[\"input\",...,\"output\"]}",
    .describe = describe,
    .parse = nb101_parse,
    .format = nb101_format,
    .text_max = nb101_text_max,
    .validate = nb101_validate,
    .canonical = nb101_canonical,
    .sample = nb101_sample,
    .neighbors = nb101_neighbors,
    .crossover = nb101_crossover,
    .encoding_size = nb101_encoding_size,
    .encode = nb101_encode,
    .size = nb101_size,
    .enumerate = NULL, /* 5e8 texts for 7 vertices: sample instead */
};
