/* net_build.h - the layer adders every family's builder uses (private to src/nn).
 *
 * Each adder appends one layer after checking its input, computes the output
 * shape, and returns the new layer's index. On any failure it records the
 * status in net->err (the first one wins) and returns -1; every adder given
 * -1 as an input returns -1 at once, so a builder runs straight through and
 * checks net->err once at the end.
 *
 * Names are printf-style; they become the layer names users see in messages
 * and exported models.
 */
#ifndef CF_NN_NET_BUILD_H
#define CF_NN_NET_BUILD_H

#include "cellforge/net.h"

#if defined(__GNUC__)
#define CF_NETB_FMT(i) __attribute__((format(printf, i, i + 1)))
#else
#define CF_NETB_FMT(i)
#endif

/* conv2d, no bias unless `bias`; padding `pad` on every side. */
int cf_netb_conv(cf_net *net, int x, int oc, int k, int stride, int pad, int dil, int groups,
                 int bias, const char *fmt, ...) CF_NETB_FMT(10);
/* batch norm with affine parameters when `affine` (eps 1e-5, momentum 0.1). */
int cf_netb_bn(cf_net *net, int x, int affine, const char *fmt, ...) CF_NETB_FMT(4);
/* ReLU of x; an existing ReLU of the same x is returned instead of a new layer. */
int cf_netb_relu(cf_net *net, int x, const char *fmt, ...) CF_NETB_FMT(3);
/* kind CF_OP_AVGPOOL2D or CF_OP_MAXPOOL2D; square kernel k. */
int cf_netb_pool(cf_net *net, int x, cf_op_kind kind, int k, int stride, int pad,
                 const char *fmt, ...) CF_NETB_FMT(7);
int cf_netb_global_avgpool(cf_net *net, int x, const char *fmt, ...) CF_NETB_FMT(3);
int cf_netb_linear(cf_net *net, int x, int out, int bias, const char *fmt, ...) CF_NETB_FMT(5);
/* zeros shaped like x subsampled by stride (the "none" op). */
int cf_netb_zero(cf_net *net, int x, int stride, const char *fmt, ...) CF_NETB_FMT(4);
/* Sum of n inputs of one shape; n == 1 returns the input itself (no layer). */
int cf_netb_sum(cf_net *net, int n, const int *xs, const char *fmt, ...) CF_NETB_FMT(4);
/* A one-shot supernet's mixed edge: the weighted sum of n candidate outputs
 * of one shape (CF_OP_MIX), with one weight, the coefficients (n, 1, 1, 1).
 * Unlike a sum, n == 1 still adds a layer. */
int cf_netb_mix(cf_net *net, int n, const int *xs, const char *fmt, ...) CF_NETB_FMT(4);
/* Concatenation on channels; n == 1 returns the input itself. */
int cf_netb_concat(cf_net *net, int n, const int *xs, const char *fmt, ...) CF_NETB_FMT(4);

/* Channels [c0, c0 + nc) and rows/columns from (top, left) to the end of x:
 * NB101's channel truncation, DARTS's x[:, :, 1:, 1:] in factorized reduce. */
int cf_netb_slice(cf_net *net, int x, int c0, int nc, int top, int left, const char *fmt, ...)
    CF_NETB_FMT(7);

/* Shape of layer x, or of the input for CF_NET_INPUT. */
void cf_netb_shape(const cf_net *net, int x, int *c, int *h, int *w);

/* Record a failure (first one wins) and return -1. */
int cf_netb_fail(cf_net *net, cf_status st, const char *fmt, ...) CF_NETB_FMT(3);

/* Mark every layer added from index `from` on as auxiliary-head / drop-path. */
void cf_netb_mark_aux(cf_net *net, int from);

/* One cell op (cell_ops.c) applied to x with `c` output channels (= x's
 * channels for every op but a stride-2 identity) and the given stride, as
 * NB201 and DARTS build them. Returns x itself for a stride-1 identity and a
 * zero layer for "none". `name` prefixes the layer names. */
int cf_netb_cell_op(cf_net *net, int x, const cf_space_op *op, int c, int stride,
                    const char *name);
/* DARTS's factorized reduce: ReLU, two stride-2 1x1 convs (one on x shifted by
 * a pixel) of c/2 channels each, concatenated, BN. */
int cf_netb_factorized_reduce(cf_net *net, int x, int c, const char *name);
/* ReLU, conv kxk, BN (NB201 ReLUConvBN and DARTS preprocessing). */
int cf_netb_relu_conv_bn(cf_net *net, int x, int c, int k, int stride, int pad, int dil,
                         const char *name);
/* Sum of any number of inputs, chained in groups of CF_OP_MAX_INPUTS; n == 0 is an error. */
int cf_netb_sum_many(cf_net *net, int n, const int *xs, const char *name);

/* cf_net_build with the fusion pass (net.h) on or off: off gives the
 * network as the builder laid it out, which tests run beside the fused one
 * to show that fusion changes no result. */
cf_status cf_netb_build(const cf_space *s, const cf_arch *a, const cf_net_input *in, int fuse,
                        cf_net **out);
/* The fusion pass: merge each ReLU into the batch norm it reads where net.h
 * allows it, drop the ReLU layers and renumber. Returns how many it fused. */
int cf_netb_fuse_bn_relu(cf_net *net);
/* A cell of a skeleton: reads x0 (and x1, the cell before the last, for
 * darts; -1 for nb201) and returns its output of c channels; ctx is the
 * builder's (an arch, or nothing for a supernet). */
typedef int (*cf_netb_cell_fn)(cf_net *net, const cf_space *s, const void *ctx, int x0, int x1, int c, int reduction,
                               int reduction_prev, const char *name);
/* NB201's TinyNetwork around `cell` (build_nb201.c): stem, three stages of N
 * cells with ResNet reductions between them, head. */
cf_status cf_netb_nb201_skeleton(cf_net *net, const cf_space *s, cf_netb_cell_fn cell, const void *ctx);
/* DARTS's NetworkCIFAR around `cell` (build_darts.c): stem, `layers` cells with
 * reductions at a third and two thirds, the auxiliary head when asked, head. */
cf_status cf_netb_darts_skeleton(cf_net *net, const cf_space *s, int auxiliary, cf_netb_cell_fn cell, const void *ctx);
/* The supernet of s's family (build_supernet.c): every op on every edge, mixed. */
cf_status cf_net_build_supernet(cf_net *net, const cf_space *s);
/* Per-family builders (build_<family>.c). */
cf_status cf_net_build_nb201(cf_net *net, const cf_space *s, const cf_arch *a);
cf_status cf_net_build_darts(cf_net *net, const cf_space *s, const cf_arch *a);
cf_status cf_net_build_nb101(cf_net *net, const cf_space *s, const cf_arch *a);
cf_status cf_net_build_mobile(cf_net *net, const cf_space *s, const cf_arch *a);

#endif
