/* build_nb101.c - the NAS-Bench-101 network: stem, stacks of one repeated cell, classifier.
 *
 * Built as NAS-Bench-101's model_builder builds it, from the pruned cell (the
 * vertices on some input->output path, in their original order):
 *   stem       conv 3x3 (input -> stem_channels), BN, ReLU
 *   stacks     `stacks` of `cells_per_stack` cells; before every stack but the
 *              first a 2x2 stride-2 max pool, and the channels double
 *   cell       vertex channels by compute_vertex_channels (below); a vertex
 *              sums its inputs: interior ones truncated to its channel count
 *              (first channels kept), the cell input through a 1x1 conv-BN-ReLU
 *              projection; then its op (conv-BN-ReLU with padding k/2, or a
 *              stride-1 pool). The output concatenates the vertices feeding it
 *              and adds a projection of the input when input -> output is an
 *              edge; a cell of only that edge outputs the projection.
 *   head       global average pool, linear with bias
 * Convs have no bias; every BN is affine (TF's gamma and beta are trainable),
 * so the parameter count equals NAS-Bench-101's 'trainable_parameters'.
 *
 * The stride-2 pool uses no padding: floor(h / 2) where TF's 'same' gives
 * ceil(h / 2); the two agree on every even size (32 -> 16 -> 8, 28 -> 14 -> 7).
 *
 * Tested by tests/test_arch_nb101_mobile.c (published parameter counts).
 */
#include <stdio.h>
#include <string.h>

#include "net_build.h"

#define NB_MAX CF_CELL_MAX_NODES

typedef struct nb_cell {
    int n;
    uint8_t m[NB_MAX][NB_MAX];
    int op[NB_MAX];
} nb_cell;

/* The cell with the vertices on no input->output path removed (as
 * NAS-Bench-101's ModelSpec._prune); 0 when the output is unreachable. */
static int prune_cell(const cf_arch *a, nb_cell *out) {
    const cf_arch_cell *c = &a->cell[0];
    int n = c->n_nodes;
    if (n < 2 || n > NB_MAX) return 0;
    uint8_t m[NB_MAX][NB_MAX] = {{0}};
    for (int j = 0; j < n; j++)
        for (int i = 0; i < c->n_in[j]; i++) m[c->in[j][i].from][j] = 1;
    uint8_t from_in[NB_MAX] = {0}, to_out[NB_MAX] = {0};
    from_in[0] = 1;
    for (int j = 1; j < n; j++)
        for (int i = 0; i < j && !from_in[j]; i++) from_in[j] = from_in[i] && m[i][j];
    to_out[n - 1] = 1;
    for (int i = n - 2; i >= 0; i--)
        for (int j = i + 1; j < n && !to_out[i]; j++) to_out[i] = to_out[j] && m[i][j];
    if (!from_in[n - 1]) return 0;
    int keep[NB_MAX], k = 0;
    for (int v = 0; v < n; v++)
        if (from_in[v] && to_out[v]) keep[k++] = v;
    memset(out, 0, sizeof *out);
    out->n = k;
    for (int x = 0; x < k; x++) {
        out->op[x] = c->node_op[keep[x]];
        for (int y = x + 1; y < k; y++) out->m[x][y] = m[keep[x]][keep[y]];
    }
    return 1;
}

/* NAS-Bench-101's compute_vertex_channels: the output channels are split
 * evenly among the interior vertices feeding the output (remainder one each
 * to the first ones); every other interior vertex takes the largest count of
 * the vertices it feeds. Returns 0 when a vertex would get no channel. */
static int vertex_channels(const nb_cell *g, int in_c, int out_c, int *vc) {
    int n = g->n, last = n - 1;
    memset(vc, 0, (size_t)n * sizeof *vc);
    vc[0] = in_c;
    vc[last] = out_c;
    if (n == 2) return 1;
    int fan_in = 0;
    for (int v = 1; v < last; v++) fan_in += g->m[v][last];
    if (fan_in == 0) return 0;
    int share = out_c / fan_in, extra = out_c % fan_in;
    for (int v = 1; v < last; v++)
        if (g->m[v][last]) vc[v] = share + (extra-- > 0 ? 1 : 0);
    for (int v = last - 1; v > 0; v--) {
        if (g->m[v][last]) continue;
        for (int dst = v + 1; dst < last; dst++)
            if (g->m[v][dst] && vc[dst] > vc[v]) vc[v] = vc[dst];
    }
    for (int v = 1; v < last; v++)
        if (vc[v] < 1) return 0;
    return 1;
}

/* Sum or concat of any number of inputs, in joins of at most CF_OP_MAX_INPUTS. */
static int join_all(cf_net *net, int sum, int n, const int *xs, const char *name) {
    int acc[CF_OP_MAX_INPUTS];
    int done = 0, have = 0, part = 0;
    while (done < n) {
        int k = 0;
        if (have) acc[k++] = have - 1;
        while (k < CF_OP_MAX_INPUTS && done < n) acc[k++] = xs[done++];
        char label[96];
        if (done < n) snprintf(label, sizeof label, "%s.part%d", name, part++);
        else snprintf(label, sizeof label, "%s", name);
        int y = sum ? cf_netb_sum(net, k, acc, "%s", label) : cf_netb_concat(net, k, acc, "%s", label);
        if (y < 0) return -1;
        have = y + 1;
    }
    return have - 1;
}

/* 1x1 conv, BN, ReLU: how the cell input reaches a vertex or the output. */
static int projection(cf_net *net, int x, int channels, const char *at) {
    int y = cf_netb_conv(net, x, channels, 1, 1, 0, 1, 1, 0, "%s.proj.conv", at);
    y = cf_netb_bn(net, y, 1, "%s.proj.bn", at);
    return cf_netb_relu(net, y, "%s.proj.relu", at);
}

static int vertex_op(cf_net *net, const cf_space *s, int op, int x, int channels, const char *at) {
    const cf_space_op *o = &s->ops[op];
    int k = o->kernel, dil = o->dilation > 0 ? o->dilation : 1;
    switch (o->prim) {
    case CF_PRIM_CONV_BN_RELU: {
        int y = cf_netb_conv(net, x, channels, k, 1, dil * (k / 2), dil, 1, 0, "%s.conv", at);
        y = cf_netb_bn(net, y, 1, "%s.bn", at);
        return cf_netb_relu(net, y, "%s.relu", at);
    }
    case CF_PRIM_MAX_POOL:
        return cf_netb_pool(net, x, CF_OP_MAXPOOL2D, k, 1, k / 2, "%s.maxpool", at);
    case CF_PRIM_AVG_POOL:
        return cf_netb_pool(net, x, CF_OP_AVGPOOL2D, k, 1, k / 2, "%s.avgpool", at);
    case CF_PRIM_IDENTITY:
        return x;
    default:
        return cf_netb_fail(net, CF_ERR_UNSUPPORTED, "%s: op \"%s\" (%s) is not an nb101 vertex "
                            "op (conv-BN-ReLU, max or average pool, identity)", at, o->name,
                            cf_prim_name(o->prim));
    }
}

static int build_cell(cf_net *net, const cf_space *s, const nb_cell *g, int x, int channels,
                      const char *prefix) {
    int n = g->n, last = n - 1;
    int in_c, h, w;
    if (net->err != CF_OK) return -1; /* failed adders return -1, which also names the input */
    cf_netb_shape(net, x, &in_c, &h, &w);
    int vc[NB_MAX];
    if (!vertex_channels(g, in_c, channels, vc))
        return cf_netb_fail(net, CF_ERR_SHAPE, "%s: %d output channels cannot be split among the "
                            "vertices feeding the output", prefix, channels);
    int t[NB_MAX];
    t[0] = x;
    char at[64];
    for (int v = 1; v < last; v++) {
        snprintf(at, sizeof at, "%s.v%d", prefix, v);
        int add[NB_MAX], k = 0;
        for (int src = 1; src < v; src++) {
            if (!g->m[src][v]) continue;
            int c, hh, ww;
            cf_netb_shape(net, t[src], &c, &hh, &ww);
            if (c < vc[v])
                return cf_netb_fail(net, CF_ERR_INTERNAL, "%s: input from v%d has %d channels, "
                                    "fewer than the vertex's %d", at, src, c, vc[v]);
            add[k++] = c == vc[v] ? t[src]
                                  : cf_netb_slice(net, t[src], 0, vc[v], 0, 0, "%s.trunc%d", at, src);
        }
        if (g->m[0][v]) add[k++] = projection(net, x, vc[v], at);
        char sum_name[80];
        snprintf(sum_name, sizeof sum_name, "%s.sum", at);
        int in = join_all(net, 1, k, add, sum_name);
        t[v] = vertex_op(net, s, g->op[v], in, vc[v], at);
        if (net->err != CF_OK) return -1;
    }
    int cat[NB_MAX], k = 0;
    for (int v = 1; v < last; v++)
        if (g->m[v][last]) cat[k++] = t[v];
    snprintf(at, sizeof at, "%s.out", prefix);
    if (k == 0) return projection(net, x, channels, at);
    char cat_name[80];
    snprintf(cat_name, sizeof cat_name, "%s.concat", at);
    int y = join_all(net, 0, k, cat, cat_name);
    if (g->m[0][last]) {
        int both[2] = {y, projection(net, x, channels, at)};
        y = cf_netb_sum(net, 2, both, "%s.sum", at);
    }
    return y;
}

/* An integer option of the skeleton, at least `least`. */
static int option_int(cf_net *net, const cf_space *s, const char *name, int least) {
    double v = cf_space_get(s, name);
    if (v < least)
        return cf_netb_fail(net, CF_ERR_INVALID_ARG, "network: option %s = %g of space %s; at "
                            "least %d", name, v, s->name, least);
    return (int)v;
}

cf_status cf_net_build_nb101(cf_net *net, const cf_space *s, const cf_arch *a) {
    int stem = option_int(net, s, "stem_channels", 1);
    int stacks = option_int(net, s, "stacks", 1);
    int cells = option_int(net, s, "cells_per_stack", 1);
    if (net->err != CF_OK) return net->err;
    nb_cell g;
    if (!prune_cell(a, &g))
        CF_FAIL(CF_ERR_INVALID_ARG, "network: nb101 cell has no input->output path");

    int x = cf_netb_conv(net, CF_NET_INPUT, stem, 3, 1, 1, 1, 1, 0, "stem.conv");
    x = cf_netb_bn(net, x, 1, "stem.bn");
    x = cf_netb_relu(net, x, "stem.relu");
    int channels = stem;
    for (int st = 0; st < stacks; st++) {
        if (st > 0) {
            x = cf_netb_pool(net, x, CF_OP_MAXPOOL2D, 2, 2, 0, "stack%d.downsample", st);
            channels *= 2;
        }
        for (int c = 0; c < cells; c++) {
            char prefix[40];
            snprintf(prefix, sizeof prefix, "stack%d.cell%d", st, c);
            x = build_cell(net, s, &g, x, channels, prefix);
        }
    }
    x = cf_netb_global_avgpool(net, x, "pool");
    net->logits = cf_netb_linear(net, x, net->input.classes, 1, "classifier");
    return net->err;
}
