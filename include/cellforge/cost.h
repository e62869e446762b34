/* cost.h - exact parameters, multiply-accumulates and activation memory.
 *
 * Counted on the network descriptor (net.h), so the figures describe exactly
 * the network the trainer runs:
 *   params            trainable parameters of the network without its auxiliary
 *                     head: conv and linear weights and biases, BN gamma and beta
 *                     (running statistics are state, not parameters)
 *   params_aux        the auxiliary head's trainable parameters (darts), else 0
 *   macs              multiply-accumulates of one image's forward pass, main
 *                     network: conv OC*OH*OW*(C/groups)*KH*KW, linear IN*OUT.
 *                     Nothing else is counted (BN, ReLU, pooling, sums, concat),
 *                     the convention of NAS-Bench-201, DARTS and mobile papers.
 *   flops_nb201       NAS-Bench-201's own counter: macs plus one per conv/linear
 *                     bias element per output, as its `get_model_infos` reports
 *                     "FLOPs" (divide by 1e6 for its MFLOPs)
 *   activation_bytes  the activation arena of one training step at the batch
 *                     size in fp32 (cf_net_plan_activations, with the auxiliary
 *                     head when the space trains one)
 *
 *   cf_cost c;
 *   CF_TRY(cf_cost_of(space, &arch, &(cf_net_input){3, 32, 32, 10}, 256, &c));
 */
#ifndef CELLFORGE_COST_H
#define CELLFORGE_COST_H

#include <stddef.h>
#include <stdint.h>

#include "cellforge/net.h"
#include "cellforge/space.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cf_cost {
    int64_t params;
    int64_t params_aux;
    int64_t macs;
    int64_t flops_nb201;
    size_t activation_bytes;
    int batch;
    int layers;            /* layers of the descriptor, auxiliary head included */
    int fused;             /* of them, batch norms with their ReLU fused in ("batchnorm+relu") */
} cf_cost;

/* Costs of a built network at a batch size. */
cf_status cf_cost_of_net(const cf_net *net, int batch, int with_aux, cf_cost *out);

/* Build the network of arch and count it. with_aux follows the space's
 * "auxiliary" option (darts), off elsewhere. */
cf_status cf_cost_of(const cf_space *s, const cf_arch *a, const cf_net_input *in, int batch,
                     cf_cost *out);

/* Measured inference latency: the median of `reps` forward passes of one image
 * in inference mode on backend be (after one warm-up pass), in milliseconds. A
 * measurement of this machine, not a count: compare it only within one run. */
struct cf_backend;
cf_status cf_latency_measure(const cf_space *s, const cf_arch *a, const cf_net_input *in,
                             const struct cf_backend *be, int reps, double *ms);
/* The same for a network already built (borrowed). */
cf_status cf_latency_measure_net(const cf_net *net, const struct cf_backend *be, int reps, double *ms);

#ifdef __cplusplus
}
#endif
#endif
