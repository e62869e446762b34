/* build_supernet.c - the supernets of one-shot search: every candidate op on
 * every edge, each with its own weights, mixed by a mix layer (CF_OP_MIX).
 *
 *   nb201   TinyNetwork's skeleton (stem, three stages of N cells, ResNet
 *           reductions, head) as build_nb201.c builds it; in a cell, node j =
 *           sum over i < j of mix_ij(node i), mix_ij mixing all the space's
 *           ops on node i (as NB201's search cell does). 6 edges, one row of
 *           architecture weights each, shared by every cell.
 *   darts   DARTS's search network: stem 3C, `layers` cells (reductions at
 *           layers/3 and 2 layers/3), preprocessing as in build_darts.c, node j
 *           = sum over every earlier node i of mix_ij(node i) (stride 2 from
 *           the cell inputs of a reduction cell), output the concat of the
 *           intermediate nodes, no auxiliary head, no drop-path. 14 edges per
 *           cell type: rows 0..13 for normal cells, 14..27 for reductions.
 *
 * Cell ops have batch norms without affine parameters (net->plain_bn), as the
 * NB201 and DARTS search networks have. A mix layer's input k is the output of
 * op k (space->ops order; identity: the node itself), its params.mix.row the
 * edge's row; its coefficients are a weight of K values that the one-shot
 * trainer writes before each step (src/train/oneshot.c). Tested by
 * tests/test_oneshot.c.
 */
#include <stdio.h>

#include "net_build.h"

/* One mixed edge: every op of the space on x, mixed by a mix layer of row `row`. */
static int mixed_edge(cf_net *net, const cf_space *s, int x, int c, int stride, int row, const char *name) {
    int branch[CF_OP_MAX_INPUTS];
    for (int k = 0; k < s->n_ops; k++) {
        char part[192];
        snprintf(part, sizeof part, "%s.%s", name, s->ops[k].name);
        branch[k] = cf_netb_cell_op(net, x, &s->ops[k], c, stride, part);
    }
    int mix = cf_netb_mix(net, s->n_ops, branch, "%s.mix", name);
    if (mix >= 0) net->layers[mix].params.mix.row = row;
    return mix;
}

static cf_status check_ops(cf_net *net, const cf_space *s) {
    if (s->n_ops > CF_OP_MAX_INPUTS)
        return cf_netb_fail(net, CF_ERR_UNSUPPORTED, "supernet: space %s has %d ops; a mixed edge takes at most %d",
                            s->name, s->n_ops, CF_OP_MAX_INPUTS), net->err;
    net->mix_cols = s->n_ops;
    return CF_OK;
}

/* ---- nb201 ---------------------------------------------------------------------- */

static int nb201_cell(cf_net *net, const cf_space *s, int x, int c, const char *name) {
    int node[CF_CELL_MAX_NODES];
    node[0] = x;
    net->plain_bn = 1;
    for (int j = 1, row = 0; j < s->nodes; j++) {
        int terms[CF_NODE_MAX_IN];
        for (int i = 0; i < j; i++, row++) {
            char edge[64];
            snprintf(edge, sizeof edge, "%s.e%d_%d", name, i, j);
            terms[i] = mixed_edge(net, s, node[i], c, 1, row, edge);
        }
        char nn[64];
        snprintf(nn, sizeof nn, "%s.n%d", name, j);
        node[j] = cf_netb_sum_many(net, j, terms, nn);
    }
    net->plain_bn = 0;
    return node[s->nodes - 1];
}

static int nb201_reduction(cf_net *net, int x, int c, const char *name) {
    char part[64];
    snprintf(part, sizeof part, "%s.a", name);
    int y = cf_netb_relu_conv_bn(net, x, c, 3, 2, 1, 1, part);
    snprintf(part, sizeof part, "%s.b", name);
    y = cf_netb_relu_conv_bn(net, y, c, 3, 1, 1, 1, part);
    int r = cf_netb_pool(net, x, CF_OP_AVGPOOL2D, 2, 2, 0, "%s.shortcut.avgpool", name);
    r = cf_netb_conv(net, r, c, 1, 1, 0, 1, 1, 0, "%s.shortcut.conv", name);
    int both[2] = {y, r};
    return cf_netb_sum(net, 2, both, "%s.sum", name);
}

static cf_status nb201_supernet(cf_net *net, const cf_space *s) {
    int C = (int)cf_space_get(s, "C"), N = (int)cf_space_get(s, "N");
    net->mix_rows = s->nodes * (s->nodes - 1) / 2;
    int x = cf_netb_conv(net, CF_NET_INPUT, C, 3, 1, 1, 1, 1, 0, "stem.conv");
    x = cf_netb_bn(net, x, 1, "stem.bn");
    int index = 0;
    for (int stage = 0; stage < 3; stage++) {
        int c = C << stage;
        char name[32];
        if (stage > 0) {
            snprintf(name, sizeof name, "cells.%d.reduce", index++);
            x = nb201_reduction(net, x, c, name);
        }
        for (int k = 0; k < N; k++) {
            snprintf(name, sizeof name, "cells.%d", index++);
            x = nb201_cell(net, s, x, c, name);
        }
    }
    x = cf_netb_bn(net, x, 1, "head.bn");
    x = cf_netb_relu(net, x, "head.relu");
    x = cf_netb_global_avgpool(net, x, "head.pool");
    net->logits = cf_netb_linear(net, x, net->input.classes, 1, "head.classifier");
    return net->err;
}

/* ---- darts ---------------------------------------------------------------------- */

/* Edges of one darts cell: node j (2..) takes every earlier node. */
static int darts_edges(const cf_space *s) { return s->nodes * (s->nodes + 3) / 2; }

static int darts_cell(cf_net *net, const cf_space *s, int s0, int s1, int c, int reduction, int reduction_prev,
                      const char *name) {
    char part[64];
    int state[CF_CELL_MAX_NODES];
    net->plain_bn = 1;
    snprintf(part, sizeof part, "%s.pre0", name);
    state[0] = reduction_prev ? cf_netb_factorized_reduce(net, s0, c, part)
                              : cf_netb_relu_conv_bn(net, s0, c, 1, 1, 0, 1, part);
    snprintf(part, sizeof part, "%s.pre1", name);
    state[1] = cf_netb_relu_conv_bn(net, s1, c, 1, 1, 0, 1, part);
    int row = reduction ? darts_edges(s) : 0;
    for (int j = 2; j < 2 + s->nodes; j++) {
        int terms[CF_NODE_MAX_IN];
        for (int i = 0; i < j; i++, row++) {
            snprintf(part, sizeof part, "%s.n%d.in%d", name, j, i);
            terms[i] = mixed_edge(net, s, state[i], c, reduction && i < 2 ? 2 : 1, row, part);
        }
        snprintf(part, sizeof part, "%s.n%d", name, j);
        state[j] = cf_netb_sum_many(net, j, terms, part);
    }
    net->plain_bn = 0;
    return cf_netb_concat(net, s->nodes, state + 2, "%s.concat", name);
}

static cf_status darts_supernet(cf_net *net, const cf_space *s) {
    int C = (int)cf_space_get(s, "C"), layers = (int)cf_space_get(s, "layers");
    if (2 + s->nodes > CF_CELL_MAX_NODES || 1 + s->nodes > CF_NODE_MAX_IN)
        return cf_netb_fail(net, CF_ERR_UNSUPPORTED, "supernet: %d intermediate nodes is too many", s->nodes),
               net->err;
    net->mix_rows = 2 * darts_edges(s);
    int stem = cf_netb_conv(net, CF_NET_INPUT, 3 * C, 3, 1, 1, 1, 1, 0, "stem.conv");
    stem = cf_netb_bn(net, stem, 1, "stem.bn");
    int s0 = stem, s1 = stem, c = C, reduction_prev = 0;
    for (int i = 0; i < layers; i++) {
        int reduction = i == layers / 3 || i == 2 * layers / 3;
        if (reduction) c *= 2;
        char name[32];
        snprintf(name, sizeof name, "cells.%d", i);
        int out = darts_cell(net, s, s0, s1, c, reduction, reduction_prev, name);
        reduction_prev = reduction;
        s0 = s1;
        s1 = out;
    }
    int x = cf_netb_global_avgpool(net, s1, "head.pool");
    net->logits = cf_netb_linear(net, x, net->input.classes, 1, "head.classifier");
    return net->err;
}

cf_status cf_net_build_supernet(cf_net *net, const cf_space *s) {
    CF_TRY(check_ops(net, s));
    switch (s->family) {
    case CF_SPACE_FAMILY_NB201: return nb201_supernet(net, s);
    case CF_SPACE_FAMILY_DARTS: return darts_supernet(net, s);
    default: break;
    }
    cf_netb_fail(net, CF_ERR_UNSUPPORTED, "supernet: space %s has none", s->name);
    return net->err;
}
