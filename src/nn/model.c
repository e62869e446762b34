/* model.c - a network with its parameters, statistics and activation arena,
 * run forward in layer order and backward in reverse on a backend.
 *
 * Memory: one block of parameters, one of gradients, one of BN statistics,
 * and the activation arena of cf_net_plan_activations (the same plan the cost
 * model reports). Forward output y_i and its gradient dy_i sit at the plan's
 * offsets; a gradient buffer is zeroed when its first writer (the backward of
 * the last layer reading it) is about to run, since backward adds.
 *
 * Drop-path (DARTS) scales a marked layer's output in place, per image, by
 * mask / keep, and its gradient likewise before the layer's backward: no
 * backward reads its own output, so no extra buffer is needed. Masks come
 * from the counter RNG at (seed, step, layer, image): reproducible, and free
 * to recompute in backward.
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

/* memset split across the model's threads: gradient buffers are megabytes. */
static void zero_bytes(const cf_model *m, void *p, size_t bytes) {
    const int T = m->threads > 1 && bytes >= (1u << 20) ? m->threads : 1;
    const size_t chunk = (bytes / (size_t)T + 63) / 64 * 64;
#pragma omp parallel for num_threads(T) schedule(static)
    for (int t = 0; t < T; t++) {
        size_t lo = (size_t)t * chunk, hi = lo + chunk < bytes ? lo + chunk : bytes;
        if (lo < hi) memset((char *)p + lo, 0, hi - lo);
    }
}

static size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

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
    m->batch = batch;
    m->threads = 1;
    m->with_aux = with_aux && net->aux_logits >= 0;
    m->aux_weight = 0.4;
    m->layers = calloc((size_t)(net->n ? net->n : 1), sizeof *m->layers);
    m->labels = calloc((size_t)batch, sizeof *m->labels);
    m->last_reader = malloc((size_t)(net->n ? net->n : 1) * sizeof *m->last_reader);
    m->feeds_loss = calloc((size_t)(net->n ? net->n : 1), 1);
    cf_status st = CF_OK;
    if (!m->layers || !m->labels || !m->last_reader || !m->feeds_loss) {
        st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "model: no memory for %d layers", net->n);
        goto fail;
    }
    /* Which layers a loss depends on (backward skips the rest: a gradient
     * never reaches a dead end), and the last of them reading each output. */
    for (int i = 0; i < net->n; i++) m->last_reader[i] = -1;
    m->feeds_loss[net->logits] = 1;
    if (m->with_aux) m->feeds_loss[net->aux_logits] = 1;
    for (int i = net->n - 1; i >= 0; i--) {
        const cf_net_layer *l = &net->layers[i];
        if (!m->feeds_loss[i]) continue;
        for (int k = 0; k < l->n_in; k++) {
            int j = l->in[k];
            if (j < 0) continue;
            m->feeds_loss[j] = 1;
            if (m->last_reader[j] < i) m->last_reader[j] = i;
        }
    }
    /* size tables: weights 16-float aligned so vector loops start aligned */
    for (int i = 0; i < net->n; i++) {
        const cf_net_layer *l = &net->layers[i];
        for (int k = 0; k < l->n_w; k++) {
            m->layers[i].w_offset[k] = m->n_params;
            m->n_params += round_up((size_t)cf_net_weight_numel(l, k), 16);
        }
        if (l->kind == CF_OP_BATCHNORM) {
            m->layers[i].state_offset = m->n_state;
            m->n_state += 4 * round_up((size_t)l->c, 16);
        }
    }
    m->param = calloc(m->n_params ? m->n_params : 1, m->elem);
    m->grad = calloc(m->n_params ? m->n_params : 1, m->elem);
    m->state = calloc(m->n_state ? m->n_state : 1, m->elem);
    if (!m->param || !m->grad || !m->state) {
        st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__,
                          "model: no memory for %zu parameters", m->n_params);
        goto fail;
    }
    CF_TRY_GOTO(st, cf_net_plan_activations(net, batch, m->elem, m->with_aux, &m->plan), fail);
    m->act = aligned_alloc(ARENA_ALIGN, round_up(m->plan.bytes ? m->plan.bytes : 1, ARENA_ALIGN));
    if (!m->act) {
        st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__,
                          "model: cannot allocate the %zu-byte activation arena (batch %d)",
                          m->plan.bytes, batch);
        goto fail;
    }
    *out = m;
    return CF_OK;
fail:
    cf_model_destroy(m);
    return st;
}

void cf_model_destroy(cf_model *m) {
    if (!m) return;
    cf_net_destroy(m->net);
    cf_net_plan_free(&m->plan);
    free(m->layers);
    free(m->param);
    free(m->grad);
    free(m->state);
    free(m->labels);
    free(m->last_reader);
    free(m->feeds_loss);
    free(m->act);
    free(m);
}

void *cf_model_weight(const cf_model *m, int i, int k) {
    return (char *)m->param + m->layers[i].w_offset[k] * m->elem;
}

void *cf_model_weight_grad(const cf_model *m, int i, int k) {
    return (char *)m->grad + m->layers[i].w_offset[k] * m->elem;
}

static void *state_of(const cf_model *m, int i) {
    return (char *)m->state + m->layers[i].state_offset * m->elem;
}

void *cf_model_bn_stat(const cf_model *m, int i, int k) {
    size_t cs = round_up((size_t)m->net->layers[i].c, 16);
    return (char *)state_of(m, i) + (size_t)k * cs * m->elem;
}

/* Store v at element j of a block of the model's dtype. */
static void put(const cf_model *m, void *base, size_t j, double v) {
    if (m->dtype == CF_DTYPE_F64) ((double *)base)[j] = v;
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
}

static void *y_of(const cf_model *m, int i) { return m->act + m->plan.y_offset[i]; }
static void *dy_of(const cf_model *m, int i) { return m->act + m->plan.dy_offset[i]; }

static int active(const cf_model *m, int i) { return !m->net->layers[i].aux || m->training; }

static cf_status tensor_of(const cf_model *m, cf_tensor *t, const cf_net_layer *l, int n, void *data) {
    return cf_tensor_init(t, m->dtype, n, l->c, l->h, l->w, data);
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
        if (j == CF_NET_INPUT) {
            CF_TRY(cf_tensor_init(&c->in[k], m->dtype, n, net->input.c, net->input.h,
                                  net->input.w, m->act + m->plan.input_offset));
        } else {
            CF_TRY(tensor_of(m, &c->in[k], &net->layers[j], n, y_of(m, j)));
            if (backward) {
                CF_TRY(tensor_of(m, &c->din[k], &net->layers[j], n, dy_of(m, j)));
                c->a.din[k] = &c->din[k];
            }
        }
        c->a.in[k] = &c->in[k];
    }
    for (int k = 0; k < l->n_w; k++) {
        CF_TRY(cf_tensor_init_shape(&c->w[k], m->dtype, l->w_shape[k], (cf_device){CF_DEVICE_CPU, 0},
                                    cf_model_weight(m, i, k)));
        c->a.w[k] = &c->w[k];
        if (backward) {
            c->dw[k] = c->w[k];
            c->dw[k].data = cf_model_weight_grad(m, i, k);
            c->a.dw[k] = &c->dw[k];
        }
    }
    if (l->kind == CF_OP_BATCHNORM) {
        char *st = state_of(m, i);
        size_t cs = round_up((size_t)l->c, 16);
        for (int k = 0; k < 4; k++) {
            CF_TRY(cf_tensor_init(&c->st[k], m->dtype, l->c, 1, 1, 1, st + (size_t)k * cs * m->elem));
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

/* Scale image b of a marked layer's tensor by its drop-path factor (0 or 1/keep). */
static void drop_path_apply(const cf_model *m, int i, void *data) {
    const cf_net_layer *l = &m->net->layers[i];
    const double p = m->drop_path, keep = 1.0 - p;
    const size_t per = (size_t)cf_net_layer_numel(l);
    const uint64_t stream = cf_rng_stream(0, CF_RNG_PURPOSE_DROPOUT);
    for (int b = 0; b < m->n; b++) {
        uint64_t index = (m->step * (uint64_t)m->net->n + (uint64_t)i) * (uint64_t)m->batch + (uint64_t)b;
        uint32_t word = cf_rng_word_at(m->seed, stream, index);
        double scale = (double)(word >> 8) * 0x1.0p-24 >= p ? 1.0 / keep : 0.0;
        if (m->dtype == CF_DTYPE_F64) {
            double *v = (double *)data + (size_t)b * per;
            for (size_t j = 0; j < per; j++) v[j] *= scale;
        } else {
            float *v = (float *)data + (size_t)b * per;
            for (size_t j = 0; j < per; j++) v[j] *= (float)scale;
        }
    }
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
    memcpy(m->act + m->plan.input_offset, x, (size_t)n * image * m->elem);
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
        if (drop_path_on(m, i)) drop_path_apply(m, i, y_of(m, i));
    }
    return CF_OK;
}

const void *cf_model_logits(const cf_model *m) { return y_of(m, m->net->logits); }

/* Loss of one classifier; with backward, add weight x its gradient into dy. */
static cf_status xent(cf_model *m, int layer, double smoothing, double weight, int backward,
                      double *loss) {
    const cf_net_layer *l = &m->net->layers[layer];
    cf_tensor logits, labels, out, dout, dlogits;
    double value = 0.0, one = weight; /* read as float or double by dtype */
    float value32 = 0.0f, one32 = (float)weight;
    int f64 = m->dtype == CF_DTYPE_F64;
    CF_TRY(tensor_of(m, &logits, l, m->n, y_of(m, layer)));
    CF_TRY(cf_tensor_init(&labels, CF_DTYPE_I32, m->n, 1, 1, 1, m->labels));
    CF_TRY(cf_tensor_init(&out, m->dtype, 1, 1, 1, 1, f64 ? (void *)&value : (void *)&value32));
    cf_op_args a = {.kind = CF_OP_SOFTMAX_XENT, .n_inputs = 2, .in = {&logits, &labels}, .out = &out};
    a.params.xent.label_smoothing = smoothing;
    CF_TRY(cf_op_forward(m->be, &a));
    *loss = f64 ? value : value32;
    if (!backward) return CF_OK;
    CF_TRY(cf_tensor_init(&dout, m->dtype, 1, 1, 1, 1, f64 ? (void *)&one : (void *)&one32));
    CF_TRY(tensor_of(m, &dlogits, l, m->n, dy_of(m, layer)));
    memset(dlogits.data, 0, cf_tensor_bytes(&dlogits));
    a.dout = &dout;
    a.din[0] = &dlogits;
    return cf_op_backward(m->be, &a);
}

cf_status cf_model_loss(cf_model *m, const int32_t *labels, double smoothing, double *loss) {
    memcpy(m->labels, labels, (size_t)m->n * sizeof *labels);
    double main = 0, aux = 0;
    CF_TRY(xent(m, m->net->logits, smoothing, 1.0, m->training, &main));
    m->loss_buf[0] = (float)main;
    *loss = main;
    if (m->training && m->with_aux) {
        CF_TRY(xent(m, m->net->aux_logits, smoothing, m->aux_weight, 1, &aux));
        m->loss_buf[1] = (float)aux;
        *loss += m->aux_weight * aux;
    }
    return CF_OK;
}

cf_status cf_model_backward(cf_model *m) {
    if (!m->training) CF_FAIL(CF_ERR_INVALID_ARG, "model: backward after an inference forward");
    const cf_net *net = m->net;
    zero_bytes(m, m->grad, m->n_params * m->elem);
    for (int i = net->n - 1; i >= 0; i--) {
        const cf_net_layer *l = &net->layers[i];
        if (!m->feeds_loss[i]) continue; /* nothing flows back from a dead end */
        if (drop_path_on(m, i)) drop_path_apply(m, i, dy_of(m, i));
        call c;
        CF_TRY(make_call(m, i, 1, &c));
        /* This layer is the first to write the gradients of inputs it reads
         * last: the backend writes them outright where it can, else they are
         * zeroed here (backward adds). */
        for (int k = 0; k < l->n_in; k++) {
            int j = l->in[k];
            if (j < 0 || m->last_reader[j] != i) continue;
            int once = 1;
            for (int t = 0; t < l->n_in; t++) once &= t == k || l->in[t] != j;
            int first_slot = 1;
            for (int t = 0; t < k; t++) first_slot &= l->in[t] != j;
            if (!first_slot) continue;
            if (once && m->be->ops->assigns && m->be->ops->assigns(m->be->ctx, &c.a, k))
                c.a.din_assign[k] = 1;
            else
                zero_bytes(m, dy_of(m, j), (size_t)cf_net_layer_numel(&net->layers[j]) * (size_t)m->n * m->elem);
        }
        cf_status st = cf_op_backward(m->be, &c.a);
        if (st != CF_OK) {
            cf_error_set(st, __FILE__, __LINE__, "layer %d (%s) backward: %s", i, l->name,
                         cf_error_message());
            return st;
        }
    }
    return CF_OK;
}
