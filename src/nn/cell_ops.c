/* cell_ops.c - the layers of one cell op, shared by the nb201 and darts builders.
 *
 * Each primitive is built as its reference implementation builds it:
 *   relu_conv_bn  ReLU, conv kxk (padding dil*(k-1)/2, no bias), BN      NB201 ReLUConvBN
 *   conv_bn_relu  conv kxk, BN, ReLU                                      NB101 vertex op
 *   sep_conv      twice: ReLU, depthwise kxk, pointwise 1x1, BN;
 *                 the first depthwise carries the stride                  DARTS SepConv
 *   dil_conv      ReLU, depthwise kxk dilated (stride), pointwise, BN     DARTS DilConv
 *   avg_pool      kxk, padding k/2, padding not counted; max_pool alike   DARTS / NB201
 *   identity      the input itself; at stride 2 a factorized reduce       DARTS
 *   zero          zeros, subsampled by the stride                         both
 * Convs have no bias; BNs are affine except in a supernet (net->plain_bn). Tested through tests/test_cost.c.
 */
#include <stdio.h>

#include "net_build.h"

int cf_netb_relu_conv_bn(cf_net *net, int x, int c, int k, int stride, int pad, int dil,
                         const char *name) {
    int r = cf_netb_relu(net, x, "%s.relu", name);
    int v = cf_netb_conv(net, r, c, k, stride, pad, dil, 1, 0, "%s.conv", name);
    return cf_netb_bn(net, v, !net->plain_bn, "%s.bn", name);
}

int cf_netb_factorized_reduce(cf_net *net, int x, int c, const char *name) {
    if (c % 2)
        return cf_netb_fail(net, CF_ERR_SHAPE, "%s: factorized reduce needs an even channel "
                            "count, got %d", name, c);
    int cx, hx, wx;
    if (net->err != CF_OK) return -1;
    cf_netb_shape(net, x, &cx, &hx, &wx);
    int r = cf_netb_relu(net, x, "%s.relu", name);
    int a = cf_netb_conv(net, r, c / 2, 1, 2, 0, 1, 1, 0, "%s.conv1", name);
    int shifted = cf_netb_slice(net, r, 0, cx, 1, 1, "%s.shift", name);
    int b = cf_netb_conv(net, shifted, c / 2, 1, 2, 0, 1, 1, 0, "%s.conv2", name);
    int both[2] = {a, b};
    int cat = cf_netb_concat(net, 2, both, "%s.concat", name);
    return cf_netb_bn(net, cat, !net->plain_bn, "%s.bn", name);
}

int cf_netb_sum_many(cf_net *net, int n, const int *xs, const char *name) {
    if (n < 1) return cf_netb_fail(net, CF_ERR_INTERNAL, "%s: a sum of no inputs", name);
    int acc[CF_OP_MAX_INPUTS];
    int m = n < CF_OP_MAX_INPUTS ? n : CF_OP_MAX_INPUTS;
    for (int k = 0; k < m; k++) acc[k] = xs[k];
    int y = cf_netb_sum(net, m, acc, "%s.sum", name);
    for (int done = m, part = 1; done < n; part++) {
        int take = n - done < CF_OP_MAX_INPUTS - 1 ? n - done : CF_OP_MAX_INPUTS - 1;
        acc[0] = y;
        for (int k = 0; k < take; k++) acc[k + 1] = xs[done + k];
        y = cf_netb_sum(net, take + 1, acc, "%s.sum%d", name, part);
        done += take;
    }
    return y;
}

int cf_netb_cell_op(cf_net *net, int x, const cf_space_op *op, int c, int stride,
                    const char *name) {
    int k = op->kernel, dil = op->dilation > 0 ? op->dilation : 1;
    int pad = dil * (k - 1) / 2;
    switch (op->prim) {
    case CF_PRIM_ZERO:
        return cf_netb_zero(net, x, stride, "%s.zero", name);
    case CF_PRIM_IDENTITY:
        if (stride == 1) return x;
        return cf_netb_factorized_reduce(net, x, c, name);
    case CF_PRIM_RELU_CONV_BN:
        return cf_netb_relu_conv_bn(net, x, c, k, stride, pad, dil, name);
    case CF_PRIM_CONV_BN_RELU: {
        int v = cf_netb_conv(net, x, c, k, stride, pad, dil, 1, 0, "%s.conv", name);
        int b = cf_netb_bn(net, v, !net->plain_bn, "%s.bn", name);
        return cf_netb_relu(net, b, "%s.relu", name);
    }
    case CF_PRIM_SEP_CONV: {
        int cx, hx, wx;
        if (net->err != CF_OK) return -1;
        cf_netb_shape(net, x, &cx, &hx, &wx);
        int y = x;
        for (int rep = 1; rep <= 2; rep++) {
            int s = rep == 1 ? stride : 1, oc = rep == 1 ? cx : c;
            y = cf_netb_relu(net, y, "%s.relu%d", name, rep);
            y = cf_netb_conv(net, y, cx, k, s, pad, dil, cx, 0, "%s.dw%d", name, rep);
            y = cf_netb_conv(net, y, oc, 1, 1, 0, 1, 1, 0, "%s.pw%d", name, rep);
            y = cf_netb_bn(net, y, !net->plain_bn, "%s.bn%d", name, rep);
        }
        return y;
    }
    case CF_PRIM_DIL_CONV: {
        int cx, hx, wx;
        if (net->err != CF_OK) return -1;
        cf_netb_shape(net, x, &cx, &hx, &wx);
        int y = cf_netb_relu(net, x, "%s.relu", name);
        y = cf_netb_conv(net, y, cx, k, stride, pad, dil, cx, 0, "%s.dw", name);
        y = cf_netb_conv(net, y, c, 1, 1, 0, 1, 1, 0, "%s.pw", name);
        return cf_netb_bn(net, y, !net->plain_bn, "%s.bn", name);
    }
    case CF_PRIM_AVG_POOL:
        return cf_netb_pool(net, x, CF_OP_AVGPOOL2D, k, stride, k / 2, "%s.avgpool", name);
    case CF_PRIM_MAX_POOL:
        return cf_netb_pool(net, x, CF_OP_MAXPOOL2D, k, stride, k / 2, "%s.maxpool", name);
    case CF_PRIM_COUNT:
        break;
    }
    return cf_netb_fail(net, CF_ERR_INTERNAL, "%s: op %s has no builder", name, op->name);
}
