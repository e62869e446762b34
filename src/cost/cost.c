/* cost.c - parameters, MACs and activation bytes counted on the network
 * descriptor. Checked against published figures (NAS-Bench-201, DARTS_V2,
 * NAS-Bench-101) and against PyTorch builds of the same networks in
 * tests/test_cost.c. The descriptor is the fused one (net.h): a batch norm
 * with its ReLU fused in has the batch norm's parameters and, like both
 * layers before, no MACs, so those figures are the unfused network's; the
 * activation plan is the one the model allocates, with one tensor per pair.
 *
 * Every sum is checked: a network whose parameters, MACs or activation bytes
 * do not fit 64 bits fails with a message naming the count and the layer where
 * it overflowed, rather than wrapping to a negative figure that would pass any
 * --max-macs (tests/test_cost.c, the cli_cost_overflow test).
 */
#include <stdint.h>
#include <string.h>

#include "cellforge/cost.h"

/* A layer's MACs into *out; 0 when they do not fit 64 bits. */
static int layer_macs(const cf_net_layer *l, int64_t *out) {
    *out = 0;
    switch (l->kind) {
    case CF_OP_CONV2D: {
        const int64_t *w = l->w_shape[0]; /* (OC, C/g, KH, KW) */
        int64_t m = cf_net_layer_numel(l);
        for (int k = 1; k < 4; k++)
            if (__builtin_mul_overflow(m, w[k], &m)) return 0;
        *out = m;
        return 1;
    }
    case CF_OP_LINEAR:
        return !__builtin_mul_overflow(l->w_shape[0][0], l->w_shape[0][1], out);
    case CF_OP_MIX: /* one multiply-add per candidate per output element: K x C x H x W */
        return !__builtin_mul_overflow((int64_t)l->n_in, cf_net_layer_numel(l), out);
    default:
        return 1;
    }
}

/* Weight slots that are network parameters: all of them, but for a mix,
 * whose coefficients are architecture parameters (what a one-shot search
 * learns in order to pick among the candidates; the architecture derived
 * from it has none). */
static int param_slots(const cf_net_layer *l) { return l->kind == CF_OP_MIX ? 0 : l->n_w; }

static cf_status too_large(const char *count, const cf_net_layer *l) {
    CF_FAIL(CF_ERR_INVALID_ARG, "the network's %s do not fit a 64-bit count (over 2^63 at layer %s, "
            "%s %dx%dx%d): the network is too large for this input", count, l->name, cf_net_layer_op_name(l),
            l->c, l->h, l->w);
}

/* *sum += v, failing with a message naming the count and the layer. */
static cf_status add_count(int64_t *sum, int64_t v, const char *count, const cf_net_layer *l) {
    return __builtin_add_overflow(*sum, v, sum) ? too_large(count, l) : CF_OK;
}

cf_status cf_cost_of_net(const cf_net *net, int batch, int with_aux, cf_cost *out) {
    memset(out, 0, sizeof *out);
    for (int i = 0; i < net->n; i++) {
        const cf_net_layer *l = &net->layers[i];
        out->fused += l->kind == CF_OP_BATCHNORM && l->params.bn.relu;
        int64_t p = 0, m = 0;
        for (int k = 0; k < param_slots(l); k++) CF_TRY(add_count(&p, cf_net_weight_numel(l, k), "parameters", l));
        if (l->aux) {
            CF_TRY(add_count(&out->params_aux, p, "auxiliary-head parameters", l));
            continue;
        }
        CF_TRY(add_count(&out->params, p, "parameters", l));
        if (!layer_macs(l, &m)) return too_large("MACs", l);
        CF_TRY(add_count(&out->macs, m, "MACs", l));
        CF_TRY(add_count(&out->flops_nb201, m, "FLOPs (NAS-Bench-201's count)", l));
        if ((l->kind == CF_OP_CONV2D || l->kind == CF_OP_LINEAR) && l->n_w == 2)
            CF_TRY(add_count(&out->flops_nb201, cf_net_layer_numel(l), "FLOPs (NAS-Bench-201's count)", l));
    }
    cf_net_plan plan;
    CF_TRY(cf_net_plan_activations(net, batch, sizeof(float), with_aux, &plan));
    out->activation_bytes = plan.bytes;
    cf_net_plan_free(&plan);
    out->batch = batch;
    out->layers = net->n;
    return CF_OK;
}

cf_status cf_cost_of(const cf_space *s, const cf_arch *a, const cf_net_input *in, int batch,
                     cf_cost *out) {
    memset(out, 0, sizeof *out);
    cf_net *net = NULL;
    CF_TRY(cf_net_build(s, a, in, &net));
    int with_aux = cf_space_get_or(s, "auxiliary", 0) != 0;
    cf_status st = cf_cost_of_net(net, batch, with_aux, out);
    cf_net_destroy(net);
    return st;
}
