/* build_mobile.c - the mobile network: stem, optional separable block, MBConv stages, head.
 *
 * Channels go through the width multiplier w and MobileNetV2's rounding,
 * make_div(v) = max(8, floor((v w + 4) / 8) * 8), plus 8 when that falls below
 * 0.9 v w:
 *   stem    conv 3x3 stride 1 (input -> make_div(stem)), BN, ReLU
 *   first   (first_channels > 0) depthwise 3x3, BN, ReLU, pointwise 1x1 to
 *           make_div(first), BN; plus the input when the channels agree
 *   stages  block b of stage s: stride stages[s].stride for b == 0, else 1;
 *           out = make_div(stages[s].channels), hidden = in * expand;
 *           1x1 in -> hidden, BN, ReLU (left out for expand 1, as MobileNetV2
 *           does); depthwise kxk (stride, padding k/2), BN, ReLU; 1x1 hidden
 *           -> out, BN; plus the block input when stride 1 and in == out
 *   head    (head_channels > 0) 1x1 conv to make_div(head) with max(1, w),
 *           BN, ReLU; then global average pool, linear with bias
 * Convs have no bias; BN is affine.
 *
 * Tested by tests/test_arch_nb101_mobile.c (a hand-counted parameter total).
 */
#include <math.h>
#include <stdio.h>

#include "net_build.h"

static int make_div(int v, double w) {
    double scaled = v * w;
    int r = (int)floor((scaled + 4.0) / 8.0) * 8;
    if (r < 8) r = 8;
    if (r < 0.9 * scaled) r += 8;
    return r;
}

static int conv_bn(cf_net *net, int x, int oc, int k, int stride, int groups, int relu,
                   const char *at, const char *what) {
    int y = cf_netb_conv(net, x, oc, k, stride, k / 2, 1, groups, 0, "%s.%s", at, what);
    y = cf_netb_bn(net, y, 1, "%s.%s_bn", at, what);
    return relu ? cf_netb_relu(net, y, "%s.%s_relu", at, what) : y;
}

static int channels_of(const cf_net *net, int x) {
    int c, h, w;
    cf_netb_shape(net, x, &c, &h, &w);
    return c;
}

static int mbconv(cf_net *net, int x, int out_c, int k, int expand, int stride, const char *at) {
    if (net->err != CF_OK) return -1;
    int in_c = channels_of(net, x);
    int hidden = in_c * expand;
    int y = expand == 1 ? x : conv_bn(net, x, hidden, 1, 1, 1, 1, at, "expand");
    y = conv_bn(net, y, hidden, k, stride, hidden, 1, at, "dw");
    y = conv_bn(net, y, out_c, 1, 1, 1, 0, at, "project");
    if (stride == 1 && in_c == out_c) {
        int both[2] = {y, x};
        y = cf_netb_sum(net, 2, both, "%s.add", at);
    }
    return y;
}

cf_status cf_net_build_mobile(cf_net *net, const cf_space *s, const cf_arch *a) {
    double w = cf_space_get(s, "width");
    if (!(w > 0))
        CF_FAIL(CF_ERR_INVALID_ARG, "network: width multiplier %g of space %s must be positive",
                w, s->name);

    int x = conv_bn(net, CF_NET_INPUT, make_div(s->stem_channels, w), 3, 1, 1, 1, "stem", "conv");
    if (s->first_channels > 0 && net->err == CF_OK) {
        int c = channels_of(net, x);
        int out_c = make_div(s->first_channels, w);
        int y = conv_bn(net, x, c, 3, 1, c, 1, "first", "dw");
        y = conv_bn(net, y, out_c, 1, 1, 1, 0, "first", "pw");
        if (c == out_c) {
            int both[2] = {y, x};
            y = cf_netb_sum(net, 2, both, "first.add");
        }
        x = y;
    }
    for (int st = 0; st < s->n_stages; st++) {
        int out_c = make_div(s->stages[st].channels, w);
        for (int b = 0; b < a->depth[st]; b++) {
            char at[48];
            snprintf(at, sizeof at, "stages.%d.block%d", st, b);
            int stride = b == 0 ? s->stages[st].stride : 1;
            x = mbconv(net, x, out_c, s->kernels[a->kernel[st][b]], s->expands[a->expand[st][b]],
                       stride, at);
        }
    }
    if (s->head_channels > 0)
        x = conv_bn(net, x, make_div(s->head_channels, w > 1 ? w : 1), 1, 1, 1, 1, "head", "conv");
    x = cf_netb_global_avgpool(net, x, "pool");
    net->logits = cf_netb_linear(net, x, net->input.classes, 1, "classifier");
    return net->err;
}
