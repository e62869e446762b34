/* model.h - a network with its memory: parameters, gradients, batch-norm
 * statistics and the planned activation arena, run forward and backward on a
 * backend.
 *
 * Everything is allocated when the model is created (size tables and one
 * allocation per lifetime, DESIGN.md); forward and backward never allocate.
 *
 *   cf_model *m = NULL;
 *   CF_TRY(cf_model_create(net, 256, cf_backend_cpu_ref(), &m));   // takes net
 *   cf_model_init(m, seed);                    // PyTorch's default initialization
 *   CF_TRY(cf_model_forward(m, x, n, 1));      // x: (n, c, h, w) floats, training mode
 *   double loss;
 *   CF_TRY(cf_model_loss(m, labels, 0.1, &loss));
 *   CF_TRY(cf_model_backward(m));              // gradients in m->grad
 *   const float *logits = cf_model_logits(m);  // (n, classes)
 *   cf_model_destroy(m);
 *
 * Weight initialization is PyTorch's default for each layer (conv and linear
 * weights and biases uniform in +-1/sqrt(fan_in), BN gamma 1 and beta 0,
 * running mean 0 and variance 1), so a network here and its PyTorch twin
 * start from the same distribution and their learning curves can be compared.
 */
#ifndef CELLFORGE_MODEL_H
#define CELLFORGE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "cellforge/backend.h"
#include "cellforge/net.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where one layer's tensors live. */
typedef struct cf_model_layer {
    size_t w_offset[CF_OP_MAX_WEIGHTS]; /* into param and grad, in floats */
    size_t state_offset;                /* BN: running mean, running var, save mean,
                                           save invstd, C floats each, into state */
} cf_model_layer;

typedef struct cf_model {
    cf_net *net;              /* owned */
    const cf_backend *be;     /* borrowed */
    cf_dtype dtype;           /* f32 for training; f64 for gradient checks */
    size_t elem;              /* bytes of one element */
    int batch;                /* largest batch the arena holds */
    int n;                    /* batch size of the last forward */
    int training;             /* mode of the last forward */
    size_t n_params;          /* elements in param, grad */
    void *param;              /* every weight, one block of dtype, owned */
    void *grad;               /* (n_params), owned */
    size_t n_state;
    void *state;              /* BN statistics, owned */
    cf_model_layer *layers;   /* (net->n), owned */
    cf_net_plan plan;         /* activation offsets (bytes) into act */
    unsigned char *act;       /* the activation arena, owned */
    int threads;              /* threads for the model's own loops (gradient zeroing, the
                                 trainer's batches and update); 1 unless set */
    int with_aux;             /* the auxiliary head runs in training */
    double aux_weight;        /* its loss weight (DARTS: 0.4) */
    double drop_path;         /* probability for layers marked drop_path, training only */
    uint64_t seed;            /* drop-path masks: counter RNG (seed, step) */
    uint64_t step;            /* forward calls in training mode so far */
    int32_t *labels;          /* (batch) the labels of the last loss */
    int *last_reader;         /* (net->n) last layer feeding a loss that reads each output */
    unsigned char *feeds_loss;/* (net->n) 1: a loss depends on the layer's output */
    float loss_buf[2];        /* main and auxiliary loss values */
} cf_model;

/* Take ownership of net and allocate everything for batches of up to `batch`
 * images. with_aux: plan and run the auxiliary head in training (its loss is
 * added with weight aux_weight). On failure net is still freed. */
cf_status cf_model_create(cf_net *net, int batch, const cf_backend *be, int with_aux,
                          cf_model **out);
/* The same in f64 (CF_DTYPE_F64; the reference backend only), for gradient checks. */
cf_status cf_model_create_dtype(cf_net *net, int batch, const cf_backend *be, int with_aux,
                                cf_dtype dtype, cf_model **out);
void cf_model_destroy(cf_model *m); /* NULL is accepted */

/* PyTorch's default initialization from the counter RNG stream (seed, INIT). */
void cf_model_init(cf_model *m, uint64_t seed);

/* Forward n <= batch images x (n, c, h, w) of the model's dtype. training: batch statistics,
 * drop-path, auxiliary head; else running statistics and the main head only. */
cf_status cf_model_forward(cf_model *m, const void *x, int n, int training);

/* Softmax cross-entropy of the last forward against labels (n), with label
 * smoothing; *loss is the main loss (plus aux_weight x the auxiliary loss in
 * training). Prepares the gradient for cf_model_backward. */
cf_status cf_model_loss(cf_model *m, const int32_t *labels, double smoothing, double *loss);

/* Zero the gradients and back-propagate the last loss into m->grad. */
cf_status cf_model_backward(cf_model *m);

/* (n, classes) logits of the last forward, of the model's dtype; borrowed. */
const void *cf_model_logits(const cf_model *m);

/* A weight tensor of layer i, slot k: pointer into param (or grad). */
void *cf_model_weight(const cf_model *m, int i, int k);
void *cf_model_weight_grad(const cf_model *m, int i, int k);
/* Batch-norm layer i's running mean (k = 0) or running variance (k = 1), C elements. */
void *cf_model_bn_stat(const cf_model *m, int i, int k);

#ifdef __cplusplus
}
#endif
#endif
