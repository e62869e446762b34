/* report_cells.c - diagrams of the best architectures, drawn from the parsed
 * arch (cf_arch_parse), one kind per family:
 *   nb201   the cell's nodes in a row, an arrow per edge labelled with its op
 *           ("none" edges dashed and unlabelled)
 *   darts   the normal and the reduction cell: inputs c[k-2], c[k-1], the
 *           intermediate nodes with their two labelled inputs, and the
 *           concatenated output c[k]
 *   nb101   the vertices (labelled with their ops) and the edges of the matrix
 *   mobile  one row of MBConv blocks per stage, with kernel and expansion
 * Nodes go in layers by longest path; an edge that would run through another
 * node is bent until it clears, labels slide along their edge until they do
 * not overlap, and the picture's box is measured afterwards, so nothing is
 * cut off. Tests: tests/cli_report.sh (screenshots).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_impl.h"

#define MAX_NODES (CF_CELL_MAX_NODES + 2)
#define MAX_EDGES (CF_CELL_MAX_NODES * CF_NODE_MAX_IN + CF_CELL_MAX_NODES)
#define LABEL_FONT 11.0
#define LABEL_BOLD 1.1 /* edge labels are semi-bold: wider than rp_text_width's estimate */

typedef struct gnode {
    double x, y, hw, hh;  /* centre and half sizes */
    int round;            /* a circle of radius hw */
    char label[40];
    char caption[24];     /* small text under the node ("input") */
    int layer;
    int dead;             /* not on a path from an input to the output: computes nothing used */
} gnode;

typedef struct gedge {
    int from, to;
    char label[40];
    const char *color;
    int dashed, plain;    /* plain: a thin grey line without a label (concatenation) */
    double cx, cy;        /* control point of the quadratic curve */
    double lx, ly, lw;    /* label box centre and width */
} gedge;

typedef struct graph {
    gnode node[MAX_NODES];
    int n;
    gedge edge[MAX_EDGES];
    int m;
} graph;

const char *rp_op_label(const cf_space *s, int op, char *buf, size_t cap) {
    if (!s || op < 0 || op >= s->n_ops) {
        snprintf(buf, cap, "?");
        return buf;
    }
    const cf_space_op *o = &s->ops[op];
    char k[24] = "";
    if (o->kernel > 0) snprintf(k, sizeof k, " %d\xc3\x97%d", o->kernel, o->kernel);
    switch (o->prim) {
    case CF_PRIM_ZERO: snprintf(buf, cap, "none"); break;
    case CF_PRIM_IDENTITY: snprintf(buf, cap, "skip"); break;
    case CF_PRIM_RELU_CONV_BN:
    case CF_PRIM_CONV_BN_RELU: snprintf(buf, cap, "conv%s", k); break;
    case CF_PRIM_SEP_CONV: snprintf(buf, cap, "sep%s", k); break;
    case CF_PRIM_DIL_CONV: snprintf(buf, cap, "dil%s", k); break;
    case CF_PRIM_AVG_POOL: snprintf(buf, cap, "avg pool%s", k); break;
    case CF_PRIM_MAX_POOL: snprintf(buf, cap, "max pool%s", k); break;
    default: snprintf(buf, cap, "%s", o->name);
    }
    return buf;
}

static const char *op_color(const cf_space *s, int op) {
    if (!s || op < 0 || op >= s->n_ops) return "#555";
    switch (s->ops[op].prim) {
    case CF_PRIM_ZERO: return "#aaa";
    case CF_PRIM_IDENTITY: return "#2a8a3a";
    case CF_PRIM_RELU_CONV_BN:
    case CF_PRIM_CONV_BN_RELU: return s->ops[op].kernel >= 3 ? "#1f5fa8" : "#4a8fd0";
    case CF_PRIM_SEP_CONV: return "#7b3fb5";
    case CF_PRIM_DIL_CONV: return "#a0522d";
    case CF_PRIM_AVG_POOL: return "#c26a00";
    case CF_PRIM_MAX_POOL: return "#b8860b";
    default: return "#555";
    }
}

/* ---- layout ------------------------------------------------------------------------ */

static int inside_node(const gnode *n, double x, double y, double pad) {
    if (n->round) return hypot(x - n->x, y - n->y) < n->hw + pad;
    return fabs(x - n->x) < n->hw + pad && fabs(y - n->y) < n->hh + pad;
}

static void curve_at(const graph *g, const gedge *e, double t, double *x, double *y) {
    const gnode *a = &g->node[e->from], *b = &g->node[e->to];
    double u = 1 - t;
    *x = u * u * a->x + 2 * u * t * e->cx + t * t * b->x;
    *y = u * u * a->y + 2 * u * t * e->cy + t * t * b->y;
}

/* Bend each edge (sign preferred first) until it clears every other node. */
static void route_edges(graph *g, const int *prefer) {
    static const double mags[] = {0, 44, 80, 116, 152, 188, 224};
    for (int i = 0; i < g->m; i++) {
        gedge *e = &g->edge[i];
        const gnode *a = &g->node[e->from], *b = &g->node[e->to];
        double dx = b->x - a->x, dy = b->y - a->y, len = hypot(dx, dy);
        if (len <= 0) len = 1;
        double nx = -dy / len, ny = dx / len, mx = (a->x + b->x) / 2, my = (a->y + b->y) / 2;
        int done = 0;
        for (size_t k = 0; k < sizeof mags / sizeof mags[0] && !done; k++) {
            for (int sgn = 0; sgn < 2 && !done; sgn++) {
                double bend = mags[k] * (sgn == 0 ? prefer[i] : -prefer[i]);
                e->cx = mx + nx * bend;
                e->cy = my + ny * bend;
                int clear = 1;
                for (double t = 0.08; t <= 0.92 && clear; t += 0.04) {
                    double x, y;
                    curve_at(g, e, t, &x, &y);
                    for (int j = 0; j < g->n && clear; j++)
                        if (j != e->from && j != e->to && inside_node(&g->node[j], x, y, 7)) clear = 0;
                }
                done = clear;
                if (mags[k] == 0) break;
            }
        }
    }
}

static int box_clear(const graph *g, int upto, double x, double y, double w, double h) {
    for (int j = 0; j < g->n; j++) {
        const gnode *n = &g->node[j];
        double hw = n->hw + 2, hh = (n->round ? n->hw : n->hh) + 2;
        if (fabs(x - n->x) < w / 2 + hw && fabs(y - n->y) < h / 2 + hh) return 0;
    }
    for (int i = 0; i < upto; i++) {
        const gedge *e = &g->edge[i];
        if (e->plain || !e->label[0]) continue;
        if (fabs(x - e->lx) < (w + e->lw) / 2 + 6 && fabs(y - e->ly) < h + 2) return 0;
    }
    return 1;
}

static void place_labels(graph *g) {
    static const double ts[] = {0.5, 0.42, 0.58, 0.34, 0.66, 0.27, 0.73, 0.2, 0.8};
    for (int i = 0; i < g->m; i++) {
        gedge *e = &g->edge[i];
        if (e->plain || !e->label[0]) continue;
        e->lw = rp_text_width(e->label, LABEL_FONT) * LABEL_BOLD + 8;
        curve_at(g, e, 0.5, &e->lx, &e->ly);
        for (size_t k = 0; k < sizeof ts / sizeof ts[0]; k++) {
            double x, y;
            curve_at(g, e, ts[k], &x, &y);
            if (box_clear(g, i, x, y, e->lw, 16)) {
                e->lx = x;
                e->ly = y;
                break;
            }
        }
    }
}

/* Columns by longest path from the inputs; nodes of a column stacked. */
static void layer_layout(graph *g, double dx, double dy) {
    int count[MAX_NODES] = {0}, seen[MAX_NODES] = {0};
    for (int i = 0; i < g->n; i++) count[g->node[i].layer]++;
    for (int i = 0; i < g->n; i++) {
        gnode *n = &g->node[i];
        int k = seen[n->layer]++;
        n->x = n->layer * dx;
        n->y = (k - (count[n->layer] - 1) / 2.0) * dy;
    }
}

static void set_layers(graph *g, int first) {
    for (int i = first; i < g->n; i++) {
        int l = 0;
        for (int k = 0; k < g->m; k++)
            if (g->edge[k].to == i && g->node[g->edge[k].from].layer + 1 > l) l = g->node[g->edge[k].from].layer + 1;
        g->node[i].layer = l;
    }
}

/* Nodes off every input-to-output path (over edges that carry something). */
static void mark_dead(graph *g, int n_inputs) {
    int fwd[MAX_NODES] = {0}, bwd[MAX_NODES] = {0};
    for (int i = 0; i < n_inputs && i < g->n; i++) fwd[i] = 1;
    if (g->n > 0) bwd[g->n - 1] = 1;
    for (int pass = 0; pass < g->n; pass++)
        for (int k = 0; k < g->m; k++) {
            const gedge *e = &g->edge[k];
            if (e->dashed) continue;
            if (fwd[e->from]) fwd[e->to] = 1;
            if (bwd[e->to]) bwd[e->from] = 1;
        }
    for (int i = 0; i < g->n; i++) g->node[i].dead = !(fwd[i] && bwd[i]);
}

/* ---- drawing ------------------------------------------------------------------------- */

static void end_point(const gnode *n, double ux, double uy, double *x, double *y) {
    double r;
    if (n->round) {
        r = n->hw;
    } else {
        double rx = fabs(ux) > 1e-9 ? n->hw / fabs(ux) : 1e9, ry = fabs(uy) > 1e-9 ? n->hh / fabs(uy) : 1e9;
        r = rx < ry ? rx : ry;
    }
    *x = n->x + ux * (r + 1);
    *y = n->y + uy * (r + 1);
}

static void grow(double *box, double x, double y) {
    box[0] = fmin(box[0], x);
    box[1] = fmin(box[1], y);
    box[2] = fmax(box[2], x);
    box[3] = fmax(box[3], y);
}

/* The picture's box: nodes with their captions, edges, edge labels. */
static void graph_box(const graph *g, double box[4]) {
    box[0] = box[1] = INFINITY;
    box[2] = box[3] = -INFINITY;
    for (int i = 0; i < g->n; i++) {
        const gnode *n = &g->node[i];
        double hh = n->round ? n->hw : n->hh;
        grow(box, n->x - n->hw, n->y - hh);
        grow(box, n->x + n->hw, n->y + hh + (n->caption[0] || n->dead ? 16 : 0));
    }
    for (int i = 0; i < g->m; i++) {
        const gedge *e = &g->edge[i];
        for (double t = 0; t <= 1; t += 0.1) {
            double x, y;
            curve_at(g, e, t, &x, &y);
            grow(box, x, y);
        }
        if (!e->plain && e->label[0]) {
            grow(box, e->lx - e->lw / 2, e->ly - 9);
            grow(box, e->lx + e->lw / 2, e->ly + 9);
        }
    }
    if (!isfinite(box[0])) {
        box[0] = box[1] = 0;
        box[2] = box[3] = 1;
    }
}

/* The <svg> tag, its view box the picture's box with a margin. */
static void svg_open(rp_buf *b, const graph *g, const char *aria) {
    double box[4];
    graph_box(g, box);
    double pad = 10, w = box[2] - box[0] + 2 * pad, h = box[3] - box[1] + 2 * pad;
    rp_svg_open(b, "cellsvg", box[0] - pad, box[1] - pad, w, h, aria);
}

/* The unit direction from node n towards the edge's control point, or along
 * the chord to the other node when the edge is straight. */
static void edge_direction(const gedge *e, const gnode *n, const gnode *other, double *ux, double *uy) {
    double x = e->cx - n->x, y = e->cy - n->y, l = hypot(x, y);
    if (l < 1e-9) {
        x = other->x - n->x;
        y = other->y - n->y;
        l = hypot(x, y);
    }
    if (l < 1e-9) l = 1;
    *ux = x / l;
    *uy = y / l;
}

/* One edge: its curve from border to border, and an arrow head unless dashed. */
static void draw_edge(rp_buf *b, const graph *g, const gedge *e) {
    const gnode *a = &g->node[e->from], *c = &g->node[e->to];
    double ux, uy, vx, vy, x0, y0, x1, y1;
    edge_direction(e, a, c, &ux, &uy);
    end_point(a, ux, uy, &x0, &y0);
    edge_direction(e, c, a, &vx, &vy);
    end_point(c, vx, vy, &x1, &y1);
    const char *color = e->plain ? "#999" : e->color;
    int faint = a->dead || c->dead;
    rp_printf(b, "<path class=\"edge%s%s\" style=\"stroke:%s\" d=\"M", e->dashed ? " dashed" : "",
              faint ? " faint" : "", color);
    rp_xy(b, x0);
    rp_puts(b, " ");
    rp_xy(b, y0);
    rp_puts(b, "Q");
    rp_xy(b, e->cx);
    rp_puts(b, " ");
    rp_xy(b, e->cy);
    rp_puts(b, " ");
    rp_xy(b, x1);
    rp_puts(b, " ");
    rp_xy(b, y1);
    rp_puts(b, "\"/>");
    if (!e->dashed) {
        /* the arrow head at the target, along the curve's last direction */
        double px = -vy, py = vx;
        rp_printf(b, "<path class=\"%s\" style=\"fill:%s\" d=\"M", faint ? "faint" : "head", color);
        rp_xy(b, x1);
        rp_puts(b, " ");
        rp_xy(b, y1);
        rp_puts(b, "L");
        rp_xy(b, x1 + vx * 9 + px * 4);
        rp_puts(b, " ");
        rp_xy(b, y1 + vy * 9 + py * 4);
        rp_puts(b, "L");
        rp_xy(b, x1 + vx * 9 - px * 4);
        rp_puts(b, " ");
        rp_xy(b, y1 + vy * 9 - py * 4);
        rp_puts(b, "z\"/>");
    }
    rp_puts(b, "\n");
}

/* One node: a circle or a rounded box, its label, and a caption under it. */
static void draw_node(rp_buf *b, const gnode *n) {
    const char *dead = n->dead ? " dead" : "";
    if (n->round) {
        rp_printf(b, "<circle class=\"node%s\" cx=\"", dead);
        rp_xy(b, n->x);
        rp_puts(b, "\" cy=\"");
        rp_xy(b, n->y);
        rp_printf(b, "\" r=\"%.0f\"/>", n->hw);
    } else {
        rp_printf(b, "<rect class=\"node%s\" rx=\"5\" x=\"", dead);
        rp_xy(b, n->x - n->hw);
        rp_puts(b, "\" y=\"");
        rp_xy(b, n->y - n->hh);
        rp_puts(b, "\" width=\"");
        rp_xy(b, 2 * n->hw);
        rp_puts(b, "\" height=\"");
        rp_xy(b, 2 * n->hh);
        rp_puts(b, "\"/>");
    }
    rp_printf(b, "<text class=\"nodelabel%s\" text-anchor=\"middle\" x=\"", dead);
    rp_xy(b, n->x);
    rp_puts(b, "\" y=\"");
    rp_xy(b, n->y + 4);
    rp_puts(b, "\">");
    rp_esc(b, n->label);
    rp_puts(b, "</text>");
    if (n->caption[0] || n->dead) {
        rp_puts(b, "<text class=\"caption\" text-anchor=\"middle\" x=\"");
        rp_xy(b, n->x);
        rp_puts(b, "\" y=\"");
        rp_xy(b, n->y + (n->round ? n->hw : n->hh) + 13);
        rp_puts(b, "\">");
        rp_esc(b, n->caption[0] ? n->caption : "unused");
        rp_puts(b, "</text>");
    }
    rp_puts(b, "\n");
}

/* An edge's op name on a background box, drawn last so that no line crosses it. */
static void draw_edge_label(rp_buf *b, const gedge *e) {
    if (e->plain || !e->label[0]) return;
    rp_puts(b, "<rect class=\"edgebg\" x=\"");
    rp_xy(b, e->lx - e->lw / 2);
    rp_puts(b, "\" y=\"");
    rp_xy(b, e->ly - 8);
    rp_puts(b, "\" width=\"");
    rp_xy(b, e->lw);
    rp_puts(b, "\" height=\"16\"/>");
    rp_printf(b, "<text class=\"edgelabel\" style=\"fill:%s\" text-anchor=\"middle\" x=\"", e->color);
    rp_xy(b, e->lx);
    rp_puts(b, "\" y=\"");
    rp_xy(b, e->ly + 3.8);
    rp_puts(b, "\">");
    rp_esc(b, e->label);
    rp_puts(b, "</text>\n");
}

/* Edges under nodes under edge labels. */
static void draw_graph(rp_buf *b, const graph *g, const char *aria) {
    svg_open(b, g, aria);
    for (int i = 0; i < g->m; i++) draw_edge(b, g, &g->edge[i]);
    for (int i = 0; i < g->n; i++) draw_node(b, &g->node[i]);
    for (int i = 0; i < g->m; i++) draw_edge_label(b, &g->edge[i]);
    rp_puts(b, "</svg>\n");
}

static void add_node(graph *g, const char *label, const char *caption, int round) {
    gnode *n = &g->node[g->n++];
    memset(n, 0, sizeof *n);
    snprintf(n->label, sizeof n->label, "%s", label);
    snprintf(n->caption, sizeof n->caption, "%s", caption ? caption : "");
    n->round = round;
    n->hw = round ? 17 : rp_text_width(label, 11) / 2 + 10;
    n->hh = 13;
}

static void add_edge(graph *g, const cf_space *s, int from, int to, int op, int plain) {
    if (g->m >= MAX_EDGES) return;
    gedge *e = &g->edge[g->m++];
    memset(e, 0, sizeof *e);
    e->from = from;
    e->to = to;
    e->plain = plain;
    e->color = plain ? "#999" : op_color(s, op);
    e->dashed = !plain && s && op >= 0 && op < s->n_ops && s->ops[op].prim == CF_PRIM_ZERO;
    if (!plain && !e->dashed && op >= 0) rp_op_label(s, op, e->label, sizeof e->label);
}

/* ---- the families -------------------------------------------------------------------- */

static void draw_nb201(rp_buf *b, const cf_space *s, const cf_arch *a) {
    graph g;
    memset(&g, 0, sizeof g);
    const cf_arch_cell *c = &a->cell[0];
    int n = c->n_nodes;
    if (n > MAX_NODES) n = MAX_NODES;
    int prefer[MAX_EDGES];
    for (int j = 0; j < n; j++) {
        char num[8];
        snprintf(num, sizeof num, "%d", j);
        add_node(&g, num, j == 0 ? "input" : j == n - 1 ? "output" : NULL, 1);
        g.node[j].x = j * 190;
        g.node[j].y = 0;
    }
    for (int j = 1; j < n; j++)
        for (int k = 0; k < c->n_in[j] && k < CF_NODE_MAX_IN; k++) {
            int before = g.m;
            add_edge(&g, s, c->in[j][k].from, j, c->in[j][k].op, 0);
            /* even spans above, odd spans below, so the long edges keep apart */
            if (g.m > before) prefer[g.m - 1] = (j - c->in[j][k].from) % 2 == 0 ? 1 : -1;
        }
    mark_dead(&g, 1);
    route_edges(&g, prefer);
    place_labels(&g);
    draw_graph(b, &g, "the cell: nodes and the op on each edge");
}

static void draw_darts_cell(rp_buf *b, const cf_space *s, const cf_arch_cell *c, const char *what) {
    graph g;
    memset(&g, 0, sizeof g);
    int n = c->n_nodes > CF_CELL_MAX_NODES ? CF_CELL_MAX_NODES : c->n_nodes;
    int prefer[MAX_EDGES];
    add_node(&g, "c[k-2]", NULL, 0);
    add_node(&g, "c[k-1]", NULL, 0);
    for (int j = 2; j < n; j++) {
        char num[8];
        snprintf(num, sizeof num, "%d", j);
        add_node(&g, num, NULL, 1);
        for (int k = 0; k < c->n_in[j] && k < CF_NODE_MAX_IN; k++) {
            add_edge(&g, s, c->in[j][k].from, j, c->in[j][k].op, 0);
            prefer[g.m - 1] = k == 0 ? -1 : 1;
        }
    }
    add_node(&g, "c[k]", "output", 0);
    int out = g.n - 1;
    for (int j = 2; j < n; j++)
        if (c->concat & (1u << j)) {
            add_edge(&g, s, j, out, -1, 1);
            prefer[g.m - 1] = 1;
        }
    mark_dead(&g, 2);
    set_layers(&g, 2);
    layer_layout(&g, 210, 96);
    route_edges(&g, prefer);
    place_labels(&g);
    draw_graph(b, &g, what);
}

static void draw_nb101(rp_buf *b, const cf_space *s, const cf_arch *a) {
    graph g;
    memset(&g, 0, sizeof g);
    const cf_arch_cell *c = &a->cell[0];
    int n = c->n_nodes > CF_CELL_MAX_NODES ? CF_CELL_MAX_NODES : c->n_nodes;
    int prefer[MAX_EDGES];
    for (int j = 0; j < n; j++) {
        char label[40];
        if (j == 0) snprintf(label, sizeof label, "input");
        else if (j == n - 1) snprintf(label, sizeof label, "output");
        else rp_op_label(s, c->node_op[j], label, sizeof label);
        add_node(&g, label, NULL, 0);
        for (int k = 0; k < c->n_in[j] && k < CF_NODE_MAX_IN; k++) {
            add_edge(&g, s, c->in[j][k].from, j, -1, 0);
            g.edge[g.m - 1].color = "#444";
            prefer[g.m - 1] = (g.m % 2) ? 1 : -1;
        }
    }
    mark_dead(&g, 1);
    set_layers(&g, 1);
    layer_layout(&g, 150, 70);
    route_edges(&g, prefer);
    draw_graph(b, &g, "the cell: vertices with their ops and the edges of the matrix");
}

static void draw_mobile(rp_buf *b, const cf_space *s, const cf_arch *a) {
    const double bw = 66, bh = 42, gap = 8, head = 170, row = bh + 14;
    int most = 1;
    for (int st = 0; st < a->n_stages; st++) most = a->depth[st] > most ? a->depth[st] : most;
    double w = head + most * (bw + gap) + 10, h = a->n_stages * row + 10;
    rp_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"cellsvg\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
                 "height=\"%.0f\" role=\"img\" aria-label=\"MBConv blocks per stage\">\n",
              w, h, w, h);
    double width_mult = cf_space_get_or(s, "width", 1);
    for (int st = 0; st < a->n_stages && st < s->n_stages; st++) {
        double y = 5 + st * row;
        rp_printf(b, "<text class=\"tick\" x=\"4\" y=\"%.0f\">stage %d: %d ch, stride %d</text>\n", y + bh / 2 + 4, st,
                  (int)lround(s->stages[st].channels * width_mult), s->stages[st].stride);
        for (int k = 0; k < a->depth[st] && k < CF_MOBILE_MAX_DEPTH; k++) {
            int ki = a->kernel[st][k], ei = a->expand[st][k];
            int kernel = ki >= 0 && ki < s->n_kernels ? s->kernels[ki] : 0;
            int expand = ei >= 0 && ei < s->n_expands ? s->expands[ei] : 0;
            double x = head + k * (bw + gap);
            const char *fill = kernel >= 7 ? "#c6d4ef" : kernel >= 5 ? "#dbe5f6" : "#eef3fb";
            rp_printf(b, "<rect class=\"node\" rx=\"5\" style=\"fill:%s\" x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\"/>",
                      fill, x, y, bw, bh);
            rp_printf(b, "<text class=\"nodelabel\" text-anchor=\"middle\" x=\"%.0f\" y=\"%.0f\">MB%d</text>", x + bw / 2,
                      y + 17, expand);
            rp_printf(b, "<text class=\"caption\" text-anchor=\"middle\" x=\"%.0f\" y=\"%.0f\">%d\xc3\x97%d</text>\n",
                      x + bw / 2, y + 33, kernel, kernel);
        }
    }
    rp_puts(b, "</svg>\n");
}

/* ---- the section ------------------------------------------------------------------------ */

void rp_cell_figure(rp_buf *b, const rp_run *run, const char *title, const char *arch) {
    rp_puts(b, "<figure class=\"cell\">\n<figcaption>");
    rp_esc(b, title);
    rp_puts(b, "</figcaption>\n");
    cf_arch a;
    if (!run->space) {
        rp_puts(b, "<p class=\"empty\">No diagram: the space could not be loaded (");
        rp_esc(b, run->space_error);
        rp_puts(b, ").</p>\n");
    } else if (!arch || !arch[0] || cf_arch_parse(run->space, arch, &a) != CF_OK) {
        rp_puts(b, "<p class=\"empty\">No diagram: the arch does not parse in this space (");
        rp_esc(b, arch && arch[0] ? cf_error_message() : "no arch recorded");
        rp_puts(b, ").</p>\n");
    } else {
        switch (run->space->family) {
        case CF_SPACE_FAMILY_NB201: draw_nb201(b, run->space, &a); break;
        case CF_SPACE_FAMILY_DARTS:
            rp_puts(b, "<div class=\"subcap\">normal cell</div>\n");
            draw_darts_cell(b, run->space, &a.cell[0], "the normal cell");
            rp_puts(b, "<div class=\"subcap\">reduction cell</div>\n");
            draw_darts_cell(b, run->space, &a.cell[1], "the reduction cell");
            break;
        case CF_SPACE_FAMILY_NB101: draw_nb101(b, run->space, &a); break;
        case CF_SPACE_FAMILY_MOBILE: draw_mobile(b, run->space, &a); break;
        default: rp_puts(b, "<p class=\"empty\">No diagram for this family.</p>\n");
        }
    }
    rp_puts(b, "<code class=\"arch\">");
    rp_esc(b, arch ? arch : "");
    rp_puts(b, "</code>\n</figure>\n");
}

void rp_cells_section(rp_buf *b, const rp_run *run) {
    char title[200], a[32], p[32], m[32], t[32];
    int64_t shown[8];
    int n_shown = 0;
    /* darts cells are wide: one figure a row; the others two a row */
    int wide = run->space && run->space->family == CF_SPACE_FAMILY_DARTS;
    rp_printf(b, "<div class=\"cells%s\">\n", wide ? " wide" : "");
    for (int i = 0; i < run->n_finals && n_shown < 3; i++) {
        const rp_final *f = &run->finals[i];
        const rp_trial *tr = f->trial >= 0 && f->trial < run->n_trials ? &run->trials[f->trial] : NULL;
        int64_t params = f->params > 0 ? f->params : tr ? tr->params : 0, macs = f->macs > 0 ? f->macs : tr ? tr->macs : 0;
        snprintf(title, sizeof title, "final model of trial %lld: val %s, test %s, %s params, %s MACs%s",
                 (long long)f->trial, rp_fmt_pct(f->val_acc, 2, a, sizeof a), rp_fmt_pct(f->test_acc, 2, t, sizeof t),
                 rp_fmt_si((double)params, p, sizeof p), rp_fmt_si((double)macs, m, sizeof m),
                 f->is_best ? " (best.cfm)" : "");
        rp_cell_figure(b, run, title, f->arch);
        shown[n_shown++] = f->trial;
    }
    const rp_trial **v = rp_sorted_trials(run);
    int added = 0;
    for (int64_t i = 0; v && i < run->n_trials && added < 3; i++) {
        const rp_trial *tr = v[i];
        if (!rp_trial_is_model(tr)) break; /* the models come first; a supernet is none */
        int dup = 0;
        for (int k = 0; k < n_shown; k++) dup |= shown[k] == tr->id;
        if (dup) continue;
        snprintf(title, sizeof title, "trial %lld: val %s, %s params, %s MACs, rank %lld by validation accuracy",
                 (long long)tr->id, rp_fmt_pct(tr->val_acc, 2, a, sizeof a), rp_fmt_si((double)tr->params, p, sizeof p),
                 rp_fmt_si((double)tr->macs, m, sizeof m), (long long)i + 1);
        rp_cell_figure(b, run, title, tr->arch);
        added++;
    }
    free(v);
    rp_puts(b, "</div>\n");
    if (n_shown + added == 0) {
        rp_puts(b, "<p class=\"empty\">No trial finished ok: there is no architecture to draw.</p>\n");
    }
}
