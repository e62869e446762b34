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

static int nb201_cell(cf_net *net, const cf_space *s, const void *ctx, int x, int unused, int c, int reduction,
                      int reduction_prev, const char *name) {
    (void)ctx, (void)unused, (void)reduction, (void)reduction_prev;
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

/* ---- darts ---------------------------------------------------------------------- */

/* Edges of one darts cell: node j (2..) takes every earlier node. */
static int darts_edges(const cf_space *s) { return s->nodes * (s->nodes + 3) / 2; }

static int darts_cell(cf_net *net, const cf_space *s, const void *ctx, int s0, int s1, int c, int reduction,
                      int reduction_prev, const char *name) {
    (void)ctx;
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

cf_status cf_net_build_supernet(cf_net *net, const cf_space *s) {
    CF_TRY(check_ops(net, s));
    switch (s->family) {
    case CF_SPACE_FAMILY_NB201:
        net->mix_rows = s->nodes * (s->nodes - 1) / 2;
        return cf_netb_nb201_skeleton(net, s, nb201_cell, NULL);
    case CF_SPACE_FAMILY_DARTS:
        if (2 + s->nodes > CF_CELL_MAX_NODES || 1 + s->nodes > CF_NODE_MAX_IN)
            return cf_netb_fail(net, CF_ERR_UNSUPPORTED, "supernet: %d intermediate nodes is too many", s->nodes),
                   net->err;
        net->mix_rows = 2 * darts_edges(s);
        return cf_netb_darts_skeleton(net, s, 0, darts_cell, NULL);
    default: break;
    }
    cf_netb_fail(net, CF_ERR_UNSUPPORTED, "supernet: space %s has none", s->name);
    return net->err;
}
