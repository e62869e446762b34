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

struct cf_model;
/* A layer hook (cf_model_set_hooks): layer i's output y and, before its
 * backward, the gradient dy of the loss with respect to it, both (n, c, h, w)
 * of the model's dtype in backend memory (borrowed, valid during the call;
 * dy NULL after a forward step). A failure stops the pass and is returned. */
typedef cf_status (*cf_model_hook_fn)(struct cf_model *m, int i, void *y, const void *dy, void *ctx);

typedef struct cf_model {
    cf_net *net;              /* owned */
    const cf_backend *be;     /* borrowed; must outlive the model */
    cf_dtype dtype;           /* of the activations: f32 for training, bf16 or f16 for mixed
                                 precision, f64 for gradient checks */
    size_t elem;              /* bytes of one activation */
    size_t pelem;             /* bytes of one parameter, gradient, BN statistic or loss value:
                                 f32 in a 16-bit model, else elem */
    int batch;                /* largest batch the arena holds */
    int n;                    /* batch size of the last forward */
    int training;             /* mode of the last forward */
    int on_device;            /* the backend's memory is a device's, not the host's */
    size_t n_params;          /* elements in param, grad */
    void *param;              /* every weight, one block of dtype, on the host, owned */
    void *grad;               /* (n_params) in backend memory, owned */
    size_t n_state;
    void *state;              /* BN statistics on the host, owned */
    void *dparam;             /* param in backend memory: param itself on a host backend */
    void *dstate;             /* state in backend memory: state itself on a host backend */
    int host_stale;           /* device copies are newer (training ran): cf_model_to_host */
    int device_stale;         /* host copies are newer (init, a restore): cf_model_to_device */
    cf_model_layer *layers;   /* (net->n), owned */
    cf_net_plan plan;         /* activation offsets (bytes) into act */
    unsigned char *act;       /* the activation arena in backend memory, owned */
    int threads;              /* threads for the model's own loops (gradient zeroing, the
                                 trainer's batches and update); 1 unless set */
    int with_aux;             /* the auxiliary head runs in training */
    double aux_weight;        /* its loss weight (DARTS: 0.4) */
    double drop_path;         /* probability for layers marked drop_path, training only */
    uint64_t seed;            /* drop-path masks: counter RNG (seed, step) */
    uint64_t step;            /* forward calls in training mode so far */
    int32_t *labels;          /* (batch) the labels of the last loss, backend memory */
    void *scalars;            /* (4) of dtype in backend memory: main and auxiliary loss,
                                 and the weights their gradients start from */
    int *last_reader;         /* (net->n) last layer feeding a loss that reads each output */
    unsigned char *feeds_loss;/* (net->n) 1: a loss depends on the layer's output */
    float loss_buf[2];        /* main and auxiliary loss values */
    double loss_weight[2];    /* the weights now in scalars[2], scalars[3]; -1: not set */
    void *dinput;             /* (batch, c, h, w) dL/dx in backend memory, owned; NULL
                                 unless cf_model_keep_input_gradient asked for it */
    cf_model_hook_fn after_forward, before_backward; /* NULL: none (cf_model_set_hooks) */
    size_t mix_offset;        /* supernets: the mix layers' coefficients are param[mix_offset ..
                                 n_params) (n_params when there are none): train the
                                 weights as the first mix_offset values only */
    uint8_t *paths;           /* (net->n) cf_model_set_paths's mask, owned; NULL: every path */
    uint8_t *skip;            /* (net->n) 1: the layer does not run under `paths`; owned */
    void *hook_ctx;           /* borrowed, passed to both */
    /* 16-bit models (mixed precision): param, grad, state and the losses stay
     * f32 (the master weights the optimizer updates); convolutions and linear
     * layers compute from wlow, a 16-bit copy of dparam made at every forward,
     * and write their weight gradients into glow, added into grad at the end
     * of backward. Batch norm and mix layers read and write the f32 blocks. */
    void *wlow, *glow;        /* (n_params) 16-bit, backend memory, owned; NULL otherwise */
    double loss_scale;        /* the loss gradients start from weight x this (fp16 loss
                                 scaling); 1 unless set */
    int seeds_external;       /* 1: the loss gradients' starting values (scalars[2], [3]) are
                                 written by the trainer on the device, not by the loss */
} cf_model;

/* Take ownership of net and allocate everything for batches of up to `batch`
 * images. with_aux: plan and run the auxiliary head in training (its loss is
 * added with weight aux_weight). On failure net is still freed. */
cf_status cf_model_create(cf_net *net, int batch, const cf_backend *be, int with_aux,
                          cf_model **out);
/* The same with activations of `dtype`: CF_DTYPE_F64 (the reference backend
 * only) for gradient checks; CF_DTYPE_BF16 or CF_DTYPE_F16 for mixed
 * precision (f32 weights, gradients and statistics, 16-bit activations; see
 * wlow above). */
cf_status cf_model_create_dtype(cf_net *net, int batch, const cf_backend *be, int with_aux,
                                cf_dtype dtype, cf_model **out);
void cf_model_destroy(cf_model *m); /* NULL is accepted */

/* PyTorch's default initialization from the counter RNG stream (seed, INIT);
 * a mix's coefficients start equal, 1/K each. */
void cf_model_init(cf_model *m, uint64_t seed);

/* Forward n <= batch images x (n, c, h, w) of the model's dtype, a host
 * array; x NULL: the images are already in cf_model_input(m). training: batch
 * statistics, drop-path, auxiliary head; else running statistics and the main
 * head only. */
cf_status cf_model_forward(cf_model *m, const void *x, int n, int training);

/* Softmax cross-entropy of the last forward against labels (n, a host array;
 * NULL: already in cf_model_labels(m)), with label smoothing; *loss is the
 * main loss (plus aux_weight x the auxiliary loss in training). Prepares the
 * gradient for cf_model_backward. */
cf_status cf_model_loss(cf_model *m, const int32_t *labels, double smoothing, double *loss);

/* cf_model_loss without reading the loss back: the main loss and the
 * auxiliary one (NULL without an auxiliary head in training) stay in backend
 * memory at *main and *aux (one value of the model's dtype each, borrowed),
 * so that a device step need not wait for them. */
cf_status cf_model_loss_queue(cf_model *m, double smoothing, const void **main, const void **aux);

/* Instead of a loss: the gradient of any scalar with respect to the logits
 * of the last (training) forward, dlogits (n, classes) a host array of the
 * model's dtype, for cf_model_backward to propagate (the zero-cost proxies'
 * sum of the outputs). */
cf_status cf_model_output_gradient(cf_model *m, const void *dlogits);

/* Layer i's output of the last forward, (n, c, h, w) of the model's dtype in
 * backend memory (borrowed; valid until the next forward or backward). */
const void *cf_model_output(const cf_model *m, int i);

/* Zero the gradients and back-propagate the last loss into m->grad. */
cf_status cf_model_backward(cf_model *m);

/* From now on cf_model_backward also writes the gradient with respect to the
 * input batch (the activation plan keeps none: the training step never needs
 * it), into a buffer of batch x c x h x w elements allocated here and freed
 * by cf_model_destroy; cf_model_input_gradient gives it, (n, c, h, w) of the
 * model's dtype in backend memory (borrowed; NULL before this is called),
 * valid until the next backward. The zero-cost proxies' Jacobian. */
cf_status cf_model_keep_input_gradient(cf_model *m);
const void *cf_model_input_gradient(const cf_model *m);

/* Hooks on every layer the pass runs (fn NULL: none, the default; a pass
 * then does no extra work): after_forward right after layer i's forward
 * (and drop-path), where y may be changed in place (a finite-difference
 * check perturbs one activation); before_backward when dy_i is complete,
 * before layer i's own backward and drop-path, for the layers a loss
 * depends on. The activation plan reuses a gradient's memory once its layer
 * has run backward, so a hook is the one place every layer's dy can be read.
 * ctx is borrowed. */
void cf_model_set_hooks(cf_model *m, cf_model_hook_fn after_forward, cf_model_hook_fn before_backward, void *ctx);

/* A supernet's paths for the next steps: paths[i] for a mix layer i has bit
 * k set when its input k is to be computed (at least one bit), and is
 * ignored for other layers; NULL: every input of every mix (the default).
 * Layers that no computed input needs are then not run, forward or backward
 * (their weights get no gradient), and a mix sees its other inputs as zero.
 * paths (net->n bytes) is copied. */
cf_status cf_model_set_paths(cf_model *m, const uint8_t *paths);

/* (n, classes) logits of the last forward, of the model's dtype, in backend
 * memory; borrowed. cf_model_logits_host copies them into out (n x classes),
 * widened to f32 in a 16-bit model. */
const void *cf_model_logits(const cf_model *m);
cf_status cf_model_logits_host(const cf_model *m, void *out);

/* The input batch and label slots in backend memory (batch x c x h x w
 * elements, batch labels): a device batch is assembled there directly. */
void *cf_model_input(const cf_model *m);
int32_t *cf_model_labels(const cf_model *m);

/* Host and device copies of the weights and BN statistics. On a host
 * backend they are one and the same and these do nothing. After writing
 * m->param or m->state on the host (a restored checkpoint), call
 * cf_model_host_changed; before reading them after training, cf_model_to_host
 * (cf_train returns with the host copy current; forward uploads a changed
 * host copy by itself). to_host takes a const model: the host copy is a cache. */
void cf_model_host_changed(cf_model *m);
cf_status cf_model_to_host(const cf_model *m);
cf_status cf_model_to_device(cf_model *m);

/* A weight tensor of layer i, slot k: pointer into param (host) or grad (backend memory). */
void *cf_model_weight(const cf_model *m, int i, int k);
void *cf_model_weight_grad(const cf_model *m, int i, int k);
/* Batch-norm layer i's running mean (k = 0) or running variance (k = 1), C elements. */
void *cf_model_bn_stat(const cf_model *m, int i, int k);

#ifdef __cplusplus
}
#endif
#endif
