/* net.h - the network descriptor: the layers an architecture expands into.
 *
 * cf_net_build turns (space, arch, input geometry) into a flat list of layers
 * in topological order, each one op of the registry (ops.h) with its inputs,
 * its output shape and its parameter shapes. It is the single description of
 * the network: the cost model counts it, the trainer runs it, the exporter
 * writes it, so what is counted is what is trained.
 *
 *   cf_net_input in = {.c = 1, .h = 28, .w = 28, .classes = 10};
 *   cf_net *net = NULL;
 *   CF_TRY(cf_net_build(space, &arch, &in, &net));
 *   for (int i = 0; i < net->n; i++) printf("%s\n", net->layers[i].name);
 *   cf_net_destroy(net);
 *
 * Layers are built exactly as the space's reference implementation builds them
 * (NB201's TinyNetwork, DARTS's NetworkCIFAR, NAS-Bench-101's network, the
 * MBConv stages of the mobile space); src/nn/build_*.c say how, per family.
 *
 * Fusion: the last step of cf_net_build merges a ReLU into the batch norm it
 * reads (params.bn.relu = 1, the op "batchnorm+relu") where that is exact and
 * changes nothing else: the batch norm has no other reader, is not a
 * classifier, is in the same part (auxiliary head or not) as the ReLU, and
 * neither goes through drop-path. The fused layer keeps the batch norm's name
 * (checkpoints name tensors by layer), the ReLU layer is gone, and later
 * layers read the fused one instead. Parameters and MACs are unchanged (ReLU
 * has neither); the activation plan holds one tensor and one gradient fewer
 * per fusion. A ReLU shared by several readers (a node feeding several
 * ReLU-conv edges) becomes a fused layer with several readers.
 */
#ifndef CELLFORGE_NET_H
#define CELLFORGE_NET_H

#include <stddef.h>
#include <stdint.h>

#include "cellforge/ops.h"
#include "cellforge/space.h"
#include "cellforge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Layer index that stands for the network's input batch. */
#define CF_NET_INPUT (-1)

typedef struct cf_net_input {
    int c, h, w;     /* image shape: 1x28x28 Fashion-MNIST, 3x32x32 CIFAR */
    int classes;
} cf_net_input;

typedef struct cf_net_layer {
    cf_op_kind kind;
    cf_op_params params;
    int n_in;
    int in[CF_OP_MAX_INPUTS];   /* earlier layers, or CF_NET_INPUT */
    int c, h, w;                /* output shape of one image */
    int n_w;                    /* weight slots in use: conv/linear 1 or 2 (bias), BN 2 or 0 */
    int64_t w_shape[CF_OP_MAX_WEIGHTS][4]; /* conv (OC, C/g, KH, KW); linear (OUT, IN, 1, 1);
                                              vectors (C, 1, 1, 1) */
    uint8_t aux;                /* part of the auxiliary head: not in params/macs, not at inference */
    uint8_t drop_path;          /* output goes through drop-path while training (darts) */
    int origin;                 /* index as the builder added it, before fusion: drop-path
                                   draws its masks by it, so fusion changes no random draw */
    char name[64];              /* "cells.3.node2.in0.sep.dw1", for messages and export */
} cf_net_layer;

/* A built network. Owned by the caller of cf_net_build; free with cf_net_destroy. */
typedef struct cf_net {
    cf_net_layer *layers;       /* (n) owned */
    int n, cap;
    cf_net_input input;
    int logits;                 /* the classifier's layer: (classes, 1, 1) */
    int aux_logits;             /* the auxiliary classifier, or -1 */
    int n_built;                /* layers the builder added (origin < n_built); n after fusion */
    int mix_rows;               /* supernets: rows of architecture weights (edges of the cell
                                   types; darts: the normal cell's, then the reduction cell's),
                                   each of mix_cols values; 0 for a plain network */
    int mix_cols;               /* the candidate ops of each edge (the space's ops) */
    uint8_t plain_bn;           /* builders: cell ops build batch norms without affine
                                   parameters (a supernet's, as DARTS and NB201 search) */
    cf_status err;              /* builder's first failure (sticky) */
} cf_net;

/* Build the network of arch in space s for the given input. Fails with a
 * message naming the layer when the geometry does not fit (e.g. an image too
 * small for the reductions). The caller frees *out with cf_net_destroy. */
cf_status cf_net_build(const cf_space *s, const cf_arch *a, const cf_net_input *in,
                       cf_net **out);
void cf_net_destroy(cf_net *net); /* NULL is accepted */

/* A copy of net that the caller owns (a model takes its own copy of a network
 * that someone else keeps, e.g. the search's one build per trial). */
cf_status cf_net_clone(const cf_net *net, cf_net **out);

/* The op a layer runs, for listings and messages: the kind's registry name,
 * or "batchnorm+relu" for a fused layer. Static storage. */
const char *cf_net_layer_op_name(const cf_net_layer *l);

/* Elements of one image's output of layer i (c * h * w). cf_net_build
 * refuses a network where this or a weight's element count would not fit
 * int64, so neither function overflows on a built network. */
static inline int64_t cf_net_layer_numel(const cf_net_layer *l) {
    return (int64_t)l->c * l->h * l->w;
}
/* Elements of weight slot k of a layer. */
int64_t cf_net_weight_numel(const cf_net_layer *l, int k);

/* ---- the activation plan of one training step -----------------------------
 * Forward runs layers 0..n-1, backward n-1..0. Every forward output lives
 * from its step to the backward of its layer (backward reads inputs and
 * output); the gradient of a layer's output lives from the backward of its
 * last consumer to its own backward. The plan places all of them, plus the
 * input batch, in one arena by liveness (cf_plan_liveness), 64-byte aligned.
 * Auxiliary-head layers are included when with_aux is set (training). */
typedef struct cf_net_plan {
    size_t bytes;               /* arena size: the activation memory of a step */
    size_t input_offset;        /* the input batch (batch, c, h, w) */
    size_t *y_offset;           /* (n) forward output of each layer */
    size_t *dy_offset;          /* (n) gradient of each layer's output */
    int n;
} cf_net_plan;

/* Plan for `batch` images of `elem_bytes`-byte elements. A plan whose bytes
 * would not fit size_t fails with CF_ERR_INVALID_ARG naming the layer. The
 * caller frees with cf_net_plan_free. */
cf_status cf_net_plan_activations(const cf_net *net, int batch, size_t elem_bytes,
                                  int with_aux, cf_net_plan *out);
void cf_net_plan_free(cf_net_plan *p);

#ifdef __cplusplus
}
#endif
#endif
