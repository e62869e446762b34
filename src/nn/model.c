/* model.c - a network with its parameters, statistics and activation arena,
 * run forward in layer order and backward in reverse on a backend.
 *
 * Memory: one block of parameters, one of gradients, one of BN statistics,
 * and the activation arena of cf_net_plan_activations (the same plan the cost
 * model reports). Everything the ops touch is backend memory (cf_backend_alloc):
 * host memory on a CPU backend, device memory on a GPU, where the weights and
 * statistics also keep a host copy for checkpoints and export, synchronized
 * at the few points that need it (cf_model_to_host / cf_model_to_device). Forward output y_i and its gradient dy_i sit at the plan's
 * offsets; a gradient buffer is zeroed when its first writer (the backward of
 * the last layer reading it) is about to run, since backward adds.
 *
 * Drop-path (DARTS) scales a marked layer's output in place, per image, by
 * mask / keep, and its gradient likewise before the layer's backward: no
 * marked layer's backward reads its own output (the one op that does, batch
 * norm with a fused ReLU, is never marked: net.h), so no extra buffer is
 * needed. Masks come from the counter RNG at (seed, step, layer, image), the
 * layer counted as built before fusion: reproducible, free to recompute in
 * backward, and the same draws with fusion or without.
 *
 * Two things only the zero-cost proxies ask for, which cost a training step
 * one pointer test each when not asked: a gradient of the input batch (its
 * own buffer, outside the plan) and layer hooks after each forward and before
 * each backward, where a layer's output gradient is complete and still in the
 * arena (the plan hands its memory on once the layer's backward has run).
 *
 * A supernet's mix coefficients sit at the end of the parameter block
 * (mix_offset..n_params), so an optimizer over the first mix_offset values
 * never moves them; cf_model_set_paths restricts a step to some inputs of
 * each mix (one-shot single-path steps): layers no computed input needs are
 * not run forward or backward, and the readers and first writers of each
 * gradient are worked out again for those paths (a gradient's first writer
 * then runs later in backward than the plan assumed: still inside its life).
 *
 * Tested by tests/test_model.c (gradients against finite differences on whole
 * networks of every family, and against the layer-by-layer reference).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/model.h"
#include "cellforge/rng.h"

#define ARENA_ALIGN 64

static size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

/* Whether input k of layer i is computed under the paths set (cf_model_set_paths). */
static int path_on(const cf_model *m, int i, int k) {
    return !m->paths || m->net->layers[i].kind != CF_OP_MIX || (m->paths[i] >> k & 1);
}

/* Which layers a loss depends on (backward skips the rest: a gradient never
 * reaches a dead end), and the last of them reading each output; under a
 * supernet's paths, only through the mix inputs computed. */
static void readers(cf_model *m) {
    const cf_net *net = m->net;
    for (int i = 0; i < net->n; i++) {
        m->last_reader[i] = -1;
        m->feeds_loss[i] = 0;
    }
    m->feeds_loss[net->logits] = 1;
    if (m->with_aux) m->feeds_loss[net->aux_logits] = 1;
    for (int i = net->n - 1; i >= 0; i--) {
        const cf_net_layer *l = &net->layers[i];
        if (!m->feeds_loss[i]) continue;
        for (int k = 0; k < l->n_in; k++) {
            int j = l->in[k];
            if (j < 0 || !path_on(m, i, k)) continue;
            m->feeds_loss[j] = 1;
            if (m->last_reader[j] < i) m->last_reader[j] = i;
        }
    }
}

cf_status cf_model_create(cf_net *net, int batch, const cf_backend *be, int with_aux,
                          cf_model **out) {
    return cf_model_create_dtype(net, batch, be, with_aux, CF_DTYPE_F32, out);
}

cf_status cf_model_create_dtype(cf_net *net, int batch, const cf_backend *be, int with_aux,
                                cf_dtype dtype, cf_model **out) {
    *out = NULL;
    cf_model *m = calloc(1, sizeof *m);
    if (!m) {
        cf_net_destroy(net);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "model: no memory");
    }
    m->net = net;
    m->be = be;
    m->dtype = dtype;
    m->elem = cf_dtype_size(dtype);
    m->pelem = cf_dtype_size(cf_op_param_dtype(dtype));
    m->loss_scale = 1.0;
    m->batch = batch;
    m->threads = 1;
    m->with_aux = with_aux && net->aux_logits >= 0;
    m->aux_weight = 0.4;
    m->on_device = cf_backend_on_device(be);
    m->loss_weight[0] = m->loss_weight[1] = -1;
    m->layers = calloc((size_t)(net->n ? net->n : 1), sizeof *m->layers);
    m->last_reader = malloc((size_t)(net->n ? net->n : 1) * sizeof *m->last_reader);
    m->feeds_loss = calloc((size_t)(net->n ? net->n : 1), 1);
    cf_status st = CF_OK;
    if (!m->layers || !m->last_reader || !m->feeds_loss) {
        st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "model: no memory for %d layers", net->n);
        goto fail;
    }
    readers(m);
    /* size tables: weights 16-float aligned so vector loops start aligned;
     * a supernet's mix coefficients last, where the optimizer does not reach */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) m->mix_offset = m->n_params;
        for (int i = 0; i < net->n; i++) {
            const cf_net_layer *l = &net->layers[i];
            if ((l->kind == CF_OP_MIX) != pass) continue;
            for (int k = 0; k < l->n_w; k++) {
                m->layers[i].w_offset[k] = m->n_params;
                m->n_params += round_up((size_t)cf_net_weight_numel(l, k), 16);
            }
            if (l->kind == CF_OP_BATCHNORM) {
                m->layers[i].state_offset = m->n_state;
                m->n_state += 4 * round_up((size_t)l->c, 16);
            }
        }
    }
    m->param = calloc(m->n_params ? m->n_params : 1, m->pelem);
    m->state = calloc(m->n_state ? m->n_state : 1, m->pelem);
    if (!m->param || !m->state) {
        st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__,
                          "model: no memory for %zu parameters", m->n_params);
        goto fail;
    }
    CF_TRY_GOTO(st, cf_net_plan_activations(net, batch, m->elem, m->with_aux, &m->plan), fail);
    /* Backend memory: gradients, activations, labels, loss scalars, and on a
     * device the device copies of the weights and statistics. */
    const size_t pbytes = (m->n_params ? m->n_params : 1) * m->pelem, sbytes = (m->n_state ? m->n_state : 1) * m->pelem;
    CF_TRY_GOTO(st, cf_backend_alloc(be, pbytes, &m->grad), fail);
    if (cf_dtype_is_half(dtype)) {
        CF_TRY_GOTO(st, cf_backend_alloc(be, (m->n_params ? m->n_params : 1) * m->elem, &m->wlow), fail);
        CF_TRY_GOTO(st, cf_backend_alloc(be, (m->n_params ? m->n_params : 1) * m->elem, &m->glow), fail);
    }
    st = cf_backend_alloc(be, round_up(m->plan.bytes ? m->plan.bytes : 1, ARENA_ALIGN), (void **)&m->act);
    if (st != CF_OK) {
        cf_error_set(st, __FILE__, __LINE__, "model: cannot allocate the %zu-byte activation arena (batch %d): %s",
                     m->plan.bytes, batch, cf_error_message());
        goto fail;
    }
    CF_TRY_GOTO(st, cf_backend_alloc(be, (size_t)batch * sizeof *m->labels, (void **)&m->labels), fail);
    CF_TRY_GOTO(st, cf_backend_alloc(be, 4 * m->pelem, &m->scalars), fail);
    if (m->on_device) {
        CF_TRY_GOTO(st, cf_backend_alloc(be, pbytes, &m->dparam), fail);
        CF_TRY_GOTO(st, cf_backend_alloc(be, sbytes, &m->dstate), fail);
    } else {
        m->dparam = m->param;
        m->dstate = m->state;
    }
    *out = m;
    return CF_OK;
fail:
    cf_model_destroy(m);
    return st;
}

/* Backend memory goes back through the backend; a host backend's is plain
 * heap memory, freed without touching the backend (it may be gone first). */
static void free_backend(const cf_model *m, void *p) {
    if (m->on_device) cf_backend_free(m->be, p);
    else free(p);
}

void cf_model_destroy(cf_model *m) {
    if (!m) return;
    if (m->on_device) {
        free_backend(m, m->dparam);
        free_backend(m, m->dstate);
    }
    free_backend(m, m->grad);
    free_backend(m, m->wlow);
    free_backend(m, m->glow);
    free_backend(m, m->act);
    free_backend(m, m->labels);
    free_backend(m, m->scalars);
    free_backend(m, m->dinput);
    cf_net_destroy(m->net);
    cf_net_plan_free(&m->plan);
    free(m->layers);
    free(m->param);
    free(m->state);
    free(m->last_reader);
    free(m->feeds_loss);
    free(m->paths);
    free(m->skip);
    free(m);
}

void cf_model_host_changed(cf_model *m) {
    if (m->on_device) m->device_stale = 1;
}

cf_status cf_model_to_device(cf_model *m) {
    if (!m->on_device || !m->device_stale) return CF_OK;
    CF_TRY(cf_backend_copy(m->be, m->dparam, m->param, m->n_params * m->pelem, CF_COPY_TO_DEVICE));
    CF_TRY(cf_backend_copy(m->be, m->dstate, m->state, m->n_state * m->pelem, CF_COPY_TO_DEVICE));
    m->device_stale = 0;
    m->host_stale = 0;
    return CF_OK;
}

cf_status cf_model_to_host(const cf_model *cm) {
    cf_model *m = (cf_model *)cm; /* the host copy is a cache of the device's */
    if (!m->on_device || !m->host_stale) return CF_OK;
    CF_TRY(cf_backend_copy(m->be, m->param, m->dparam, m->n_params * m->pelem, CF_COPY_TO_HOST));
    CF_TRY(cf_backend_copy(m->be, m->state, m->dstate, m->n_state * m->pelem, CF_COPY_TO_HOST));
    m->host_stale = 0;
    return CF_OK;
}

void *cf_model_input(const cf_model *m) { return m->act + m->plan.input_offset; }
int32_t *cf_model_labels(const cf_model *m) { return m->labels; }

void *cf_model_weight(const cf_model *m, int i, int k) {
    return (char *)m->param + m->layers[i].w_offset[k] * m->pelem;
}

void *cf_model_weight_grad(const cf_model *m, int i, int k) {
    return (char *)m->grad + m->layers[i].w_offset[k] * m->pelem;
}

static void *state_of(const cf_model *m, int i) {
    return (char *)m->state + m->layers[i].state_offset * m->pelem;
}

void *cf_model_bn_stat(const cf_model *m, int i, int k) {
    size_t cs = round_up((size_t)m->net->layers[i].c, 16);
    return (char *)state_of(m, i) + (size_t)k * cs * m->pelem;
}

/* Store v at element j of a parameter or statistics block. */
static void put(const cf_model *m, void *base, size_t j, double v) {
    if (m->pelem == sizeof(double)) ((double *)base)[j] = v;
    else ((float *)base)[j] = (float)v;
}

/* Fan-in of a conv or linear weight (C/g * KH * KW, or IN). */
static int64_t fan_in(const cf_net_layer *l) {
    const int64_t *s = l->w_shape[0];
    return s[1] * s[2] * s[3];
}

void cf_model_init(cf_model *m, uint64_t seed) {
    cf_rng r = cf_rng_make(seed, cf_rng_stream(0, CF_RNG_PURPOSE_INIT));
    for (int i = 0; i < m->net->n; i++) {
        const cf_net_layer *l = &m->net->layers[i];
        if (l->kind == CF_OP_CONV2D || l->kind == CF_OP_LINEAR) {
            /* kaiming_uniform(a = sqrt(5)) and the bias rule of torch.nn: both +-1/sqrt(fan_in) */
            float bound = (float)(1.0 / sqrt((double)fan_in(l)));
            for (int k = 0; k < l->n_w; k++) {
                void *w = cf_model_weight(m, i, k);
                int64_t n = cf_net_weight_numel(l, k);
                for (int64_t j = 0; j < n; j++)
                    put(m, w, (size_t)j, (2.0f * cf_rng_uniform(&r) - 1.0f) * bound);
            }
        } else if (l->kind == CF_OP_MIX) {
            /* every candidate weighs the same: 1/K, DARTS's softmax of zero logits */
            void *coef = cf_model_weight(m, i, 0);
            for (int k = 0; k < l->n_in; k++) put(m, coef, (size_t)k, 1.0 / l->n_in);
        } else if (l->kind == CF_OP_BATCHNORM) {
            if (l->n_w == 2) {
                void *g = cf_model_weight(m, i, 0), *b = cf_model_weight(m, i, 1);
                for (int c = 0; c < l->c; c++) {
                    put(m, g, (size_t)c, 1.0);
                    put(m, b, (size_t)c, 0.0);
                }
            }
            void *st = state_of(m, i);
            size_t cs = round_up((size_t)l->c, 16);
            for (int c = 0; c < l->c; c++) {
                put(m, st, (size_t)c, 0.0);
                put(m, st, cs + (size_t)c, 1.0);
            }
        }
    }
    cf_model_host_changed(m);
}

static void *y_of(const cf_model *m, int i) { return m->act + m->plan.y_offset[i]; }
static void *dy_of(const cf_model *m, int i) { return m->act + m->plan.dy_offset[i]; }

static int active(const cf_model *m, int i) {
    return (!m->net->layers[i].aux || m->training) && !(m->skip && m->skip[i]);
}


/* A tensor in backend memory: on the backend's device. */
static cf_status dev_tensor(const cf_model *m, cf_tensor *t, cf_dtype dtype, int64_t n, int64_t c, int64_t h,
                            int64_t w, void *data) {
    CF_TRY(cf_tensor_init(t, dtype, n, c, h, w, data));
    t->device = cf_backend_device(m->be);
    return CF_OK;
}

static cf_status tensor_of(const cf_model *m, cf_tensor *t, const cf_net_layer *l, int n, void *data) {
    return dev_tensor(m, t, m->dtype, n, l->c, l->h, l->w, data);
}

/* Whether layer i computes from the 16-bit copy of its weights (conv, linear of a 16-bit model). */
static int low_weights(const cf_model *m, int i) {
    const cf_op_kind k = m->net->layers[i].kind;
    return m->wlow && (k == CF_OP_CONV2D || k == CF_OP_LINEAR);
}

/* The args of layer i for a forward or backward call: every tensor view. */
typedef struct call {
    cf_op_args a;
    cf_tensor in[CF_OP_MAX_INPUTS], w[CF_OP_MAX_WEIGHTS], st[CF_OP_MAX_STATE], out;
    cf_tensor dout, din[CF_OP_MAX_INPUTS], dw[CF_OP_MAX_WEIGHTS];
} call;

static cf_status make_call(cf_model *m, int i, int backward, call *c) {
    const cf_net *net = m->net;
    const cf_net_layer *l = &net->layers[i];
    const int n = m->n;
    memset(c, 0, sizeof *c);
    c->a.kind = l->kind;
    c->a.params = l->params;
    if (l->kind == CF_OP_BATCHNORM) c->a.params.bn.training = m->training;
    c->a.n_inputs = l->n_in;
    for (int k = 0; k < l->n_in; k++) {
        int j = l->in[k];
        if (!path_on(m, i, k)) continue; /* a branch not computed: NULL, counted as zeros */
        if (j == CF_NET_INPUT) {
            CF_TRY(dev_tensor(m, &c->in[k], m->dtype, n, net->input.c, net->input.h, net->input.w,
                              cf_model_input(m)));
            if (backward && m->dinput) { /* added into: zeroed at the start of backward */
                CF_TRY(dev_tensor(m, &c->din[k], m->dtype, n, net->input.c, net->input.h, net->input.w, m->dinput));
                c->a.din[k] = &c->din[k];
            }
        } else {
            CF_TRY(tensor_of(m, &c->in[k], &net->layers[j], n, y_of(m, j)));
            if (backward) {
                CF_TRY(tensor_of(m, &c->din[k], &net->layers[j], n, dy_of(m, j)));
                c->a.din[k] = &c->din[k];
            }
        }
        c->a.in[k] = &c->in[k];
    }
    const int low = low_weights(m, i);
    const cf_dtype wt = low ? m->dtype : cf_op_param_dtype(m->dtype), pt = cf_op_param_dtype(m->dtype);
    const size_t we = low ? m->elem : m->pelem;
    for (int k = 0; k < l->n_w; k++) {
        const size_t off = m->layers[i].w_offset[k] * we;
        CF_TRY(cf_tensor_init_shape(&c->w[k], wt, l->w_shape[k], cf_backend_device(m->be),
                                    (char *)(low ? m->wlow : m->dparam) + off));
        c->a.w[k] = &c->w[k];
        if (backward) {
            c->dw[k] = c->w[k];
            c->dw[k].data = (char *)(low ? m->glow : m->grad) + off;
            c->a.dw[k] = &c->dw[k];
        }
    }
    if (l->kind == CF_OP_BATCHNORM) {
        char *st = (char *)m->dstate + m->layers[i].state_offset * m->pelem;
        size_t cs = round_up((size_t)l->c, 16);
        for (int k = 0; k < 4; k++) {
            CF_TRY(dev_tensor(m, &c->st[k], pt, l->c, 1, 1, 1, st + (size_t)k * cs * m->pelem));
            c->a.state[k] = &c->st[k];
        }
    }
    CF_TRY(tensor_of(m, &c->out, l, n, y_of(m, i)));
    c->a.out = &c->out;
    if (backward) {
        CF_TRY(tensor_of(m, &c->dout, l, n, dy_of(m, i)));
        c->a.dout = &c->dout;
    }
    return CF_OK;
}

/* Scale image b of a marked layer's tensor by its drop-path factor (0 or
 * 1/keep), mask word (step, layer, image) of the dropout stream. */
static cf_status drop_path_apply(const cf_model *m, int i, void *data) {
    const cf_net_layer *l = &m->net->layers[i];
    const double p = m->drop_path, keep = 1.0 - p;
    const size_t per = (size_t)cf_net_layer_numel(l);
    const uint64_t stream = cf_rng_stream(0, CF_RNG_PURPOSE_DROPOUT);
    /* a network laid out by hand (tests) has no build numbering: its own then */
    const int built = m->net->n_built > 0;
    const uint64_t layers = (uint64_t)(built ? m->net->n_built : m->net->n);
    const uint64_t index0 = (m->step * layers + (uint64_t)(built ? l->origin : i)) * (uint64_t)m->batch;
    if (m->dtype != CF_DTYPE_F64)
        return cf_backend_drop_path(m->be, data, m->dtype, m->n, per, p, m->seed, stream, index0);
    for (int b = 0; b < m->n; b++) {
        uint32_t word = cf_rng_word_at(m->seed, stream, index0 + (uint64_t)b);
        double scale = (double)(word >> 8) * 0x1.0p-24 >= p ? 1.0 / keep : 0.0;
        double *v = (double *)data + (size_t)b * per;
        for (size_t j = 0; j < per; j++) v[j] *= scale;
    }
    return CF_OK;
}

static int drop_path_on(const cf_model *m, int i) {
    return m->training && m->drop_path > 0 && m->net->layers[i].drop_path;
}

cf_status cf_model_forward(cf_model *m, const void *x, int n, int training) {
    if (n < 1 || n > m->batch)
        CF_FAIL(CF_ERR_INVALID_ARG, "model: batch of %d images, the model holds 1..%d", n, m->batch);
    const cf_net *net = m->net;
    m->n = n;
    m->training = training;
    if (training) m->step++;
    size_t image = (size_t)net->input.c * net->input.h * net->input.w;
    CF_TRY(cf_model_to_device(m));
    if (training) m->host_stale = m->on_device; /* batch norm updates its running statistics */
    if (x) CF_TRY(cf_backend_copy(m->be, cf_model_input(m), x, (size_t)n * image * m->elem, CF_COPY_TO_DEVICE));
    if (m->wlow) CF_TRY(cf_backend_narrow(m->be, m->wlow, m->dtype, m->dparam, m->n_params));
    for (int i = 0; i < net->n; i++) {
        if (!active(m, i) || (net->layers[i].aux && !m->with_aux)) continue;
        call c;
        CF_TRY(make_call(m, i, 0, &c));
        cf_status st = cf_op_forward(m->be, &c.a);
        if (st != CF_OK) {
            cf_error_set(st, __FILE__, __LINE__, "layer %d (%s): %s", i, net->layers[i].name,
                         cf_error_message());
            return st;
        }
        if (drop_path_on(m, i)) CF_TRY(drop_path_apply(m, i, y_of(m, i)));
        if (m->after_forward) CF_TRY(m->after_forward(m, i, y_of(m, i), NULL, m->hook_ctx));
    }
    return CF_OK;
}

const void *cf_model_logits(const cf_model *m) { return y_of(m, m->net->logits); }

cf_status cf_model_logits_host(const cf_model *m, void *out) {
    const size_t n = (size_t)m->n * (size_t)m->net->input.classes;
    CF_TRY(cf_backend_copy(m->be, out, cf_model_logits(m), n * m->elem, CF_COPY_TO_HOST));
    if (!cf_dtype_is_half(m->dtype)) return CF_OK;
    /* widened in place from the last value down: float i covers halves 2i and 2i + 1, both read by then */
    float *f = out;
    const uint16_t *h = out;
    for (size_t i = n; i-- > 0;) f[i] = m->dtype == CF_DTYPE_BF16 ? cf_bf16_to_f32(h[i]) : cf_f16_to_f32(h[i]);
    return CF_OK;
}

/* Loss of classifier `slot` (0 main, 1 auxiliary) into scalars[slot]; with
 * backward, add weight x its gradient into dy. The weight sits in
 * scalars[2 + slot] (the op's dout), uploaded only when it changes. */
static cf_status xent(cf_model *m, int layer, int slot, double smoothing, double weight, int backward,
                      double *loss) {
    const cf_net_layer *l = &m->net->layers[layer];
    cf_tensor logits, labels, out, dout, dlogits;
    const int f64 = m->dtype == CF_DTYPE_F64;
    const cf_dtype pt = cf_op_param_dtype(m->dtype);
    char *scal = m->scalars;
    CF_TRY(tensor_of(m, &logits, l, m->n, y_of(m, layer)));
    CF_TRY(dev_tensor(m, &labels, CF_DTYPE_I32, m->n, 1, 1, 1, m->labels));
    CF_TRY(dev_tensor(m, &out, pt, 1, 1, 1, 1, scal + (size_t)slot * m->pelem));
    cf_op_args a = {.kind = CF_OP_SOFTMAX_XENT, .n_inputs = 2, .in = {&logits, &labels}, .out = &out};
    a.params.xent.label_smoothing = smoothing;
    CF_TRY(cf_op_forward(m->be, &a));
    if (loss) { /* NULL: the value stays in backend memory */
        double value = 0;
        float value32 = 0;
        CF_TRY(cf_backend_copy(m->be, f64 ? (void *)&value : (void *)&value32, out.data, m->pelem, CF_COPY_TO_HOST));
        *loss = f64 ? value : value32;
    }
    if (!backward) return CF_OK;
    void *w = scal + (size_t)(2 + slot) * m->pelem;
    weight *= m->loss_scale; /* the gradient starts scaled (fp16 loss scaling); the loss does not */
    if (!m->seeds_external && m->loss_weight[slot] != weight) {
        double one = weight;
        float one32 = (float)weight;
        CF_TRY(cf_backend_copy(m->be, w, f64 ? (void *)&one : (void *)&one32, m->pelem, CF_COPY_TO_DEVICE));
        m->loss_weight[slot] = weight;
    }
    CF_TRY(dev_tensor(m, &dout, pt, 1, 1, 1, 1, w));
    CF_TRY(tensor_of(m, &dlogits, l, m->n, dy_of(m, layer)));
    CF_TRY(cf_backend_zero(m->be, dlogits.data, cf_tensor_bytes(&dlogits), 1));
    a.dout = &dout;
    a.din[0] = &dlogits;
    return cf_op_backward(m->be, &a);
}

cf_status cf_model_loss(cf_model *m, const int32_t *labels, double smoothing, double *loss) {
    if (labels)
        CF_TRY(cf_backend_copy(m->be, m->labels, labels, (size_t)m->n * sizeof *labels, CF_COPY_TO_DEVICE));
    double main = 0, aux = 0;
    CF_TRY(xent(m, m->net->logits, 0, smoothing, 1.0, m->training, &main));
    m->loss_buf[0] = (float)main;
    *loss = main;
    if (m->training && m->with_aux) {
        CF_TRY(xent(m, m->net->aux_logits, 1, smoothing, m->aux_weight, 1, &aux));
        m->loss_buf[1] = (float)aux;
        *loss += m->aux_weight * aux;
    }
    return CF_OK;
}

cf_status cf_model_loss_queue(cf_model *m, double smoothing, const void **main, const void **aux) {
    CF_TRY(xent(m, m->net->logits, 0, smoothing, 1.0, m->training, NULL));
    *main = m->scalars;
    *aux = NULL;
    if (m->training && m->with_aux) {
        CF_TRY(xent(m, m->net->aux_logits, 1, smoothing, m->aux_weight, 1, NULL));
        *aux = (const char *)m->scalars + m->pelem;
    }
    return CF_OK;
}

cf_status cf_model_output_gradient(cf_model *m, const void *dlogits) {
    if (!m->training) CF_FAIL(CF_ERR_INVALID_ARG, "model: an output gradient after an inference forward");
    size_t bytes = (size_t)m->n * (size_t)m->net->input.classes * m->elem;
    return cf_backend_copy(m->be, dy_of(m, m->net->logits), dlogits, bytes, CF_COPY_TO_DEVICE);
}

const void *cf_model_output(const cf_model *m, int i) {
    return y_of(m, i);
}

cf_status cf_model_keep_input_gradient(cf_model *m) {
    if (m->dinput) return CF_OK;
    const cf_net_input *in = &m->net->input;
    size_t bytes = (size_t)m->batch * in->c * in->h * in->w * m->elem;
    return cf_backend_alloc(m->be, bytes ? bytes : 1, &m->dinput);
}

const void *cf_model_input_gradient(const cf_model *m) { return m->dinput; }

void cf_model_set_hooks(cf_model *m, cf_model_hook_fn after_forward, cf_model_hook_fn before_backward, void *ctx) {
    m->after_forward = after_forward;
    m->before_backward = before_backward;
    m->hook_ctx = ctx;
}

cf_status cf_model_set_paths(cf_model *m, const uint8_t *paths) {
    const int n = m->net->n;
    if (!paths) {
        free(m->paths);
        free(m->skip);
        m->paths = m->skip = NULL;
        readers(m);
        return CF_OK;
    }
    if (!m->paths) {
        m->paths = calloc((size_t)(n ? n : 1), 1);
        m->skip = calloc((size_t)(n ? n : 1), 1);
        if (!m->paths || !m->skip) {
            free(m->paths);
            free(m->skip);
            m->paths = m->skip = NULL;
            CF_FAIL(CF_ERR_OUT_OF_MEMORY, "model: no memory for the paths of %d layers", n);
        }
    }
    for (int i = 0; i < n; i++) {
        const cf_net_layer *l = &m->net->layers[i];
        m->paths[i] = paths[i];
        if (l->kind == CF_OP_MIX && !(paths[i] & ((1u << l->n_in) - 1)))
            CF_FAIL(CF_ERR_INVALID_ARG, "model: mix layer %d (%s) has no input computed", i, l->name);
    }
    readers(m);
    /* a layer runs when a loss needs it (the classifiers' inputs in evaluation too) */
    for (int i = 0; i < n; i++) m->skip[i] = !m->feeds_loss[i];
    return CF_OK;
}

cf_status cf_model_backward(cf_model *m) {
    if (!m->training) CF_FAIL(CF_ERR_INVALID_ARG, "model: backward after an inference forward");
    const cf_net *net = m->net;
    CF_TRY(cf_backend_zero(m->be, m->grad, m->n_params * m->pelem, m->threads));
    if (m->glow) CF_TRY(cf_backend_zero(m->be, m->glow, m->n_params * m->elem, m->threads));
    if (m->dinput) {
        size_t image = (size_t)net->input.c * net->input.h * net->input.w;
        CF_TRY(cf_backend_zero(m->be, m->dinput, (size_t)m->n * image * m->elem, m->threads));
    }
    for (int i = net->n - 1; i >= 0; i--) {
        const cf_net_layer *l = &net->layers[i];
        if (!m->feeds_loss[i]) continue; /* nothing flows back from a dead end */
        if (m->before_backward) CF_TRY(m->before_backward(m, i, y_of(m, i), dy_of(m, i), m->hook_ctx));
        if (drop_path_on(m, i)) CF_TRY(drop_path_apply(m, i, dy_of(m, i)));
        call c;
        CF_TRY(make_call(m, i, 1, &c));
        /* This layer is the first to write the gradients of inputs it reads
         * last: the backend writes them outright where it can, else they are
         * zeroed here (backward adds). */
        for (int k = 0; k < l->n_in; k++) {
            int j = l->in[k];
            if (j < 0 || m->last_reader[j] != i || !path_on(m, i, k)) continue;
            int once = 1;
            for (int t = 0; t < l->n_in; t++) once &= t == k || l->in[t] != j || !path_on(m, i, t);
            int first_slot = 1;
            for (int t = 0; t < k; t++) first_slot &= l->in[t] != j || !path_on(m, i, t);
            if (!first_slot) continue;
            if (once && cf_backend_assigns(m->be, &c.a, k))
                c.a.din_assign[k] = 1;
            else
                CF_TRY(cf_backend_zero(m->be, dy_of(m, j),
                                       (size_t)cf_net_layer_numel(&net->layers[j]) * (size_t)m->n * m->elem, m->threads));
        }
        cf_status st = cf_op_backward(m->be, &c.a);
        if (st != CF_OK) {
            cf_error_set(st, __FILE__, __LINE__, "layer %d (%s) backward: %s", i, l->name,
                         cf_error_message());
            return st;
        }
    }
    /* the 16-bit weight gradients join the f32 ones (their ranges are disjoint: the other stays 0) */
    if (m->glow) CF_TRY(cf_backend_widen_add(m->be, m->grad, m->glow, m->dtype, m->n_params));
    return CF_OK;
}
