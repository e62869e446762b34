/* build_nb201.c - NAS-Bench-201's TinyNetwork for an nb201-family arch.
 *
 *   stem      conv 3x3 (input -> C, no bias), BN
 *   stage 1   N cells at C
 *   reduce    ResNet basic block C -> 2C, stride 2: ReLU-conv3x3(s2)-BN, ReLU-conv3x3-BN,
 *             shortcut avg pool 2x2 s2 + conv 1x1 (no BN), summed
 *   stage 2   N cells at 2C;  reduce to 4C;  stage 3  N cells at 4C
 *   head      BN, ReLU, global average pool, linear (with bias)
 * A cell: node j = sum over i < j of op_ij(node i); the cell outputs its last
 * node. "none" edges add nothing; a node with no other input is a zero layer,
 * and ops on it are still built, as TinyNetwork builds them (so parameters
 * and MACs match its counts).
 */
#include <stdio.h>

#include "net_build.h"

static int cell(cf_net *net, const cf_space *s, const cf_arch *a, int x, int c, const char *name) {
    int node[CF_CELL_MAX_NODES];
    node[0] = x;
    for (int j = 1; j < s->nodes; j++) {
        int terms[CF_NODE_MAX_IN], n = 0;
        for (int i = 0; i < j; i++) {
            const cf_space_op *op = &s->ops[a->cell[0].in[j][i].op];
            if (op->prim == CF_PRIM_ZERO) continue;
            char edge[64];
            snprintf(edge, sizeof edge, "%s.e%d_%d", name, i, j);
            terms[n++] = cf_netb_cell_op(net, node[i], op, c, 1, edge);
        }
        char nn[64];
        snprintf(nn, sizeof nn, "%s.n%d", name, j);
        node[j] = n ? cf_netb_sum_many(net, n, terms, nn)
                    : cf_netb_zero(net, node[0], 1, "%s.zero", nn);
    }
    return node[s->nodes - 1];
}

static int reduction(cf_net *net, int x, int c, const char *name) {
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

cf_status cf_netb_nb201_skeleton(cf_net *net, const cf_space *s, cf_netb_cell_fn make_cell, const void *ctx) {
    int C = (int)cf_space_get(s, "C"), N = (int)cf_space_get(s, "N");
    int x = cf_netb_conv(net, CF_NET_INPUT, C, 3, 1, 1, 1, 1, 0, "stem.conv");
    x = cf_netb_bn(net, x, 1, "stem.bn");
    int index = 0;
    for (int stage = 0; stage < 3; stage++) {
        int c = C << stage;
        if (stage > 0) {
            char name[32];
            snprintf(name, sizeof name, "cells.%d.reduce", index++);
            x = reduction(net, x, c, name);
        }
        for (int k = 0; k < N; k++) {
            char name[32];
            snprintf(name, sizeof name, "cells.%d", index++);
            x = make_cell(net, s, ctx, x, -1, c, 0, 0, name);
        }
    }
    x = cf_netb_bn(net, x, 1, "head.bn");
    x = cf_netb_relu(net, x, "head.relu");
    x = cf_netb_global_avgpool(net, x, "head.pool");
    net->logits = cf_netb_linear(net, x, net->input.classes, 1, "head.classifier");
    return net->err;
}

static int arch_cell(cf_net *net, const cf_space *s, const void *ctx, int x, int unused, int c, int reduction,
                     int reduction_prev, const char *name) {
    (void)unused, (void)reduction, (void)reduction_prev;
    return cell(net, s, ctx, x, c, name);
}

cf_status cf_net_build_nb201(cf_net *net, const cf_space *s, const cf_arch *a) {
    return cf_netb_nb201_skeleton(net, s, arch_cell, a);
}
