/* cost.c - parameters, MACs and activation bytes counted on the network
 * descriptor. Checked against published figures (NAS-Bench-201, DARTS_V2,
 * NAS-Bench-101) and against PyTorch builds of the same networks in
 * tests/test_cost.c. The descriptor is the fused one (net.h): a batch norm
 * with its ReLU fused in has the batch norm's parameters and, like both
 * layers before, no MACs, so those figures are the unfused network's; the
 * activation plan is the one the model allocates, with one tensor per pair.
 */
#include <string.h>

#include "cellforge/cost.h"

static int64_t layer_macs(const cf_net_layer *l) {
    switch (l->kind) {
    case CF_OP_CONV2D: {
        const int64_t *w = l->w_shape[0]; /* (OC, C/g, KH, KW) */
        return cf_net_layer_numel(l) * w[1] * w[2] * w[3];
    }
    case CF_OP_LINEAR:
        return l->w_shape[0][0] * l->w_shape[0][1];
    default:
        return 0;
    }
}

cf_status cf_cost_of_net(const cf_net *net, int batch, int with_aux, cf_cost *out) {
    memset(out, 0, sizeof *out);
    for (int i = 0; i < net->n; i++) {
        const cf_net_layer *l = &net->layers[i];
        out->fused += l->kind == CF_OP_BATCHNORM && l->params.bn.relu;
        int64_t p = 0;
        for (int k = 0; k < l->n_w; k++) p += cf_net_weight_numel(l, k);
        if (l->aux) {
            out->params_aux += p;
            continue;
        }
        out->params += p;
        int64_t m = layer_macs(l);
        out->macs += m;
        out->flops_nb201 += m;
        if ((l->kind == CF_OP_CONV2D || l->kind == CF_OP_LINEAR) && l->n_w == 2)
            out->flops_nb201 += cf_net_layer_numel(l);
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
