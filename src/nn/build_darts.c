/* build_darts.c - DARTS's NetworkCIFAR for a darts-family genotype.
 *
 *   stem      conv 3x3 (input -> 3C, no bias), BN
 *   cells     `layers` cells; at layers/3 and 2*layers/3 a reduction cell doubles C
 *   cell      s0 preprocessed by a factorized reduce when the previous cell
 *             reduced, else ReLU-conv1x1-BN to C; s1 by ReLU-conv1x1-BN to C;
 *             node j = sum of its (op, input) pairs, ops on inputs 0 and 1 of a
 *             reduction cell at stride 2; output = concat of the `concat` nodes
 *   aux head  after cell 2*layers/3 when auxiliary=1: ReLU, avg pool 5x5 s3,
 *             conv 1x1 -> 128, BN, ReLU, conv 2x2 -> 768, BN, ReLU, linear.
 *             (On inputs whose pooled map is 1x1, e.g. 28x28 images, the 2x2
 *             conv becomes 1x1: the 2x2 kernel would not fit.)
 *   head      global average pool, linear (with bias)
 * Every op output except a stride-1 identity is marked for drop-path, as in
 * DARTS's training (drop_path option).
 */
#include <stdio.h>

#include "net_build.h"

static int cell(cf_net *net, const cf_space *s, const cf_arch_cell *g, int s0, int s1, int c,
                int reduction, int reduction_prev, const char *name) {
    char part[64];
    int state[CF_CELL_MAX_NODES];
    snprintf(part, sizeof part, "%s.pre0", name);
    state[0] = reduction_prev ? cf_netb_factorized_reduce(net, s0, c, part)
                              : cf_netb_relu_conv_bn(net, s0, c, 1, 1, 0, 1, part);
    snprintf(part, sizeof part, "%s.pre1", name);
    state[1] = cf_netb_relu_conv_bn(net, s1, c, 1, 1, 0, 1, part);
    for (int j = 2; j < g->n_nodes; j++) {
        int terms[CF_NODE_MAX_IN];
        for (int t = 0; t < g->n_in[j]; t++) {
            cf_arch_in e = g->in[j][t];
            const cf_space_op *op = &s->ops[e.op];
            int stride = reduction && e.from < 2 ? 2 : 1;
            snprintf(part, sizeof part, "%s.n%d.in%d", name, j, t);
            int before = net->n;
            terms[t] = cf_netb_cell_op(net, state[e.from], op, c, stride, part);
            if (terms[t] >= before && !(op->prim == CF_PRIM_IDENTITY && stride == 1))
                net->layers[terms[t]].drop_path = 1;
        }
        snprintf(part, sizeof part, "%s.n%d", name, j);
        state[j] = cf_netb_sum_many(net, g->n_in[j], terms, part);
    }
    int outs[CF_CELL_MAX_NODES], n = 0;
    for (int j = 2; j < g->n_nodes; j++)
        if (g->concat & (1u << j)) outs[n++] = state[j];
    return cf_netb_concat(net, n, outs, "%s.concat", name);
}

static void aux_head(cf_net *net, int x) {
    int from = net->n;
    int y = cf_netb_relu(net, x, "aux.relu0");
    y = cf_netb_pool(net, y, CF_OP_AVGPOOL2D, 5, 3, 0, "aux.pool");
    y = cf_netb_conv(net, y, 128, 1, 1, 0, 1, 1, 0, "aux.conv1");
    y = cf_netb_bn(net, y, 1, "aux.bn1");
    y = cf_netb_relu(net, y, "aux.relu1");
    int k = 2;
    if (y >= 0 && (net->layers[y].h < 2 || net->layers[y].w < 2)) k = 1;
    y = cf_netb_conv(net, y, 768, k, 1, 0, 1, 1, 0, "aux.conv2");
    y = cf_netb_bn(net, y, 1, "aux.bn2");
    y = cf_netb_relu(net, y, "aux.relu2");
    net->aux_logits = cf_netb_linear(net, y, net->input.classes, 1, "aux.classifier");
    cf_netb_mark_aux(net, from);
}

cf_status cf_netb_darts_skeleton(cf_net *net, const cf_space *s, int auxiliary, cf_netb_cell_fn make_cell, const void *ctx) {
    int C = (int)cf_space_get(s, "C"), layers = (int)cf_space_get(s, "layers");
    int stem = cf_netb_conv(net, CF_NET_INPUT, 3 * C, 3, 1, 1, 1, 1, 0, "stem.conv");
    stem = cf_netb_bn(net, stem, 1, "stem.bn");
    int s0 = stem, s1 = stem, c = C, reduction_prev = 0;
    for (int i = 0; i < layers; i++) {
        int reduction = i == layers / 3 || i == 2 * layers / 3;
        if (reduction) c *= 2;
        char name[32];
        snprintf(name, sizeof name, "cells.%d", i);
        int out = make_cell(net, s, ctx, s0, s1, c, reduction, reduction_prev, name);
        reduction_prev = reduction;
        s0 = s1;
        s1 = out;
        if (auxiliary && i == 2 * layers / 3) aux_head(net, s1);
    }
    int x = cf_netb_global_avgpool(net, s1, "head.pool");
    net->logits = cf_netb_linear(net, x, net->input.classes, 1, "head.classifier");
    return net->err;
}

static int arch_cell(cf_net *net, const cf_space *s, const void *ctx, int s0, int s1, int c, int reduction,
                     int reduction_prev, const char *name) {
    const cf_arch *a = ctx;
    return cell(net, s, &a->cell[reduction ? 1 : 0], s0, s1, c, reduction, reduction_prev, name);
}

cf_status cf_net_build_darts(cf_net *net, const cf_space *s, const cf_arch *a) {
    return cf_netb_darts_skeleton(net, s, cf_space_get(s, "auxiliary") != 0, arch_cell, a);
}
