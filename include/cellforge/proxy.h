/* proxy.h - zero-cost proxies: scores of an untrained network from one
 * minibatch at initialization, which rank architectures before any training
 * (Abdelfattah et al., ICLR 2021; Mellor et al., ICML 2021).
 *
 *   double v[CF_PROXY_COUNT];
 *   CF_TRY(cf_proxy_score(net, be, seed, x, y, n, v));
 *   printf("synflow %g\n", v[CF_PROXY_SYNFLOW]);
 *
 * Definitions (the network's weights are PyTorch's default initialization
 * from the counter RNG stream (seed, INIT); "weights" are the conv and linear
 * weight tensors of the network without its auxiliary head):
 *   params     parameters (the cost model's count): the baseline every proxy
 *              must beat (ZiCo, ICLR 2023)
 *   macs       MACs per image
 *   grad_norm  sum over the weights of the Euclidean norm of dL/dW, L the mean
 *              cross-entropy of the minibatch (batch norm on batch statistics)
 *   snip       sum over the weights of |W * dL/dW| (SNIP's connection sensitivity)
 *   synflow    sum over the weights of |W * dR/dW| where every parameter is
 *              replaced by its absolute value, batch norm is left out, the input
 *              is one image of ones and R is the sum of the logits; in f64 on the
 *              reference backend (the products of many weights overflow f32)
 *   naswot     log |det K| where K[i][j] counts the ReLU units (every ReLU layer
 *              and batch norm with a fused ReLU, once each) on which images i and
 *              j of the minibatch are both active or both inactive (Mellor et
 *              al.'s K_H = N_A - Hamming distance), training-mode forward
 *   fisher     sum over the output channels of the conv and linear layers of
 *              0.5 x the batch mean of (sum over h, w of a x dL/da)^2, a the
 *              layer's output (before its batch norm) and L the mean
 *              cross-entropy of a training-mode forward, each channel's value
 *              counted once per weight of the channel (C_in/groups x KH x KW, or
 *              IN): zero-cost-nas spreads it over the weights before summing
 *              (Theis et al. 2018's saliency as the proxy paper computes it)
 *   jacob_cov  -sum over the eigenvalues v of C of log(v + 1e-5) + 1/(v + 1e-5),
 *              C the correlation matrix (numpy.corrcoef) of the images' rows of
 *              J = d(sum of the logits)/d(input), training-mode forward (Mellor
 *              et al. 2020, v1); NaN when an image's row is constant
 * grasp is not here: its Hessian-vector product needs second-order gradients,
 * for which the engine has no op, and its published NB201 Spearman (0.51,
 * CIFAR-10) is below synflow's, jacob_cov's and snip's.
 */
#ifndef CELLFORGE_PROXY_H
#define CELLFORGE_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "cellforge/backend.h"
#include "cellforge/data.h"
#include "cellforge/net.h"
#include "cellforge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cf_proxy_kind {
    CF_PROXY_PARAMS = 0,
    CF_PROXY_MACS,
    CF_PROXY_GRAD_NORM,
    CF_PROXY_SNIP,
    CF_PROXY_SYNFLOW,
    CF_PROXY_NASWOT,
    CF_PROXY_FISHER,
    CF_PROXY_JACOB_COV,
    CF_PROXY_COUNT
} cf_proxy_kind;

/* "params", "macs", "grad_norm", "snip", "synflow", "naswot", "fisher", "jacob_cov". */
const char *cf_proxy_name(cf_proxy_kind k);
/* The proxy of a name: 1 and *out, or 0. */
int cf_proxy_parse(const char *name, cf_proxy_kind *out);

/* Every proxy of net (borrowed) initialized with seed, on the minibatch x (n
 * images of net's input, normalized as for training) and labels y, the
 * gradient proxies on backend be (the synflow pass on the f64 reference
 * backend). out[k] is proxy k; a score that is not finite (a network whose
 * output does not depend on its input has naswot -inf) is written as it is. */
cf_status cf_proxy_score(const cf_net *net, const cf_backend *be, uint64_t seed, const float *x, const int32_t *y,
                         int n, double out[CF_PROXY_COUNT]);

/* The same for the proxies in mask (bits CF_PROXY_BIT(kind); params and macs
 * always); the others are NaN. Each value equals cf_proxy_score's: the passes
 * do not depend on each other (grad_norm, snip and fisher share one). */
#define CF_PROXY_BIT(kind) (1u << (kind))
#define CF_PROXY_ALL ((1u << CF_PROXY_COUNT) - 1)
cf_status cf_proxy_score_some(const cf_net *net, const cf_backend *be, uint64_t seed, const float *x, const int32_t *y,
                              int n, unsigned mask, double out[CF_PROXY_COUNT]);

/* jacob_cov of the Jacobian j (n rows of d elements, one per image; borrowed)
 * into *out (NaN when a row is constant): the formula above, on the
 * eigenvalues of cf_linalg_sym_eigenvalues. */
cf_status cf_proxy_jacob_cov(const double *j, int n, size_t d, double *out);

/* The minibatch proxies are scored on: the first n images of ds in the
 * seeded order (cf_data_epoch_order(ds->n, seed, 0)), scaled and normalized
 * by ds's per-channel mean and deviation, into x (n, c, h, w) and y (n). */
cf_status cf_proxy_minibatch(const cf_dataset *ds, int n, uint64_t seed, float *x, int32_t *y);

/* Rank correlations of a and b (n values each; ties get their mean rank):
 * Spearman's rho and Kendall's tau-b. NaN when either is constant or n < 2. */
double cf_spearman(const double *a, const double *b, size_t n);
double cf_kendall(const double *a, const double *b, size_t n);

#ifdef __cplusplus
}
#endif
#endif
