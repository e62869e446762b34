/* net.c - the network descriptor: layer adders, the batch norm + ReLU
 * fusion pass, cf_net_build dispatch.
 *
 * Tested by tests/test_model.c (where fusion happens, and that a fused
 * network computes what the unfused one does), tests/test_net_fuse.c (a mix
 * is never fused) and through the cost model's published-figure and PyTorch
 * cross-checks (tests/test_cost.c, which also counts a mix).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/grow.h"
#include "cellforge/net.h"
#include "net_build.h"

int64_t cf_net_weight_numel(const cf_net_layer *l, int k) {
    if (k < 0 || k >= l->n_w) return 0;
    const int64_t *s = l->w_shape[k];
    return s[0] * s[1] * s[2] * s[3];
}

void cf_netb_shape(const cf_net *net, int x, int *c, int *h, int *w) {
    if (x == CF_NET_INPUT) {
        *c = net->input.c; *h = net->input.h; *w = net->input.w;
    } else {
        const cf_net_layer *l = &net->layers[x];
        *c = l->c; *h = l->h; *w = l->w;
    }
}

int cf_netb_fail(cf_net *net, cf_status st, const char *fmt, ...) {
    if (net->err == CF_OK) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        net->err = st;
        cf_error_set(st, __FILE__, __LINE__, "%s", msg);
    }
    return -1;
}

static int input_ok(const cf_net *net, int x) {
    return x == CF_NET_INPUT || (x >= 0 && x < net->n);
}

/* Append a layer named by fmt/ap; returns a pointer to it or NULL after recording OOM. */
static cf_net_layer *push(cf_net *net, cf_op_kind kind, const char *fmt, va_list ap) {
    size_t cap = (size_t)net->cap;
    if (cf_grow((void **)&net->layers, &cap, (size_t)net->n + 1, sizeof *net->layers) != CF_OK) {
        cf_netb_fail(net, CF_ERR_OUT_OF_MEMORY, "network: no memory for %d layers", net->n + 1);
        return NULL;
    }
    net->cap = (int)cap;
    cf_net_layer *l = &net->layers[net->n];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->origin = net->n;
    vsnprintf(l->name, sizeof l->name, fmt, ap);
    return l;
}

/* A window op's output size, failing with the layer's name when it is empty. */
static int window_out(cf_net *net, const char *what, int in, int k, int stride, int pad, int dil,
                      int *out) {
    int64_t o = cf_conv_out_size(in, k, stride, pad, dil);
    if (o < 1) {
        cf_netb_fail(net, CF_ERR_SHAPE,
                     "%s: a %dx%d window (stride %d, padding %d, dilation %d) does not fit a "
                     "%d-pixel input; the image is too small for this network",
                     what, k, k, stride, pad, dil, in);
        return 0;
    }
    *out = (int)o;
    return 1;
}

int cf_netb_conv(cf_net *net, int x, int oc, int k, int stride, int pad, int dil, int groups,
                 int bias, const char *fmt, ...) {
    if (net->err != CF_OK || !input_ok(net, x)) return -1;
    int c, h, w;
    cf_netb_shape(net, x, &c, &h, &w);
    va_list ap;
    va_start(ap, fmt);
    cf_net_layer *l = push(net, CF_OP_CONV2D, fmt, ap);
    va_end(ap);
    if (!l) return -1;
    if (groups < 1 || c % groups || oc % groups || oc < 1)
        return cf_netb_fail(net, CF_ERR_SHAPE, "%s: %d -> %d channels in %d groups", l->name, c,
                            oc, groups);
    if (!window_out(net, l->name, h, k, stride, pad, dil, &l->h) ||
        !window_out(net, l->name, w, k, stride, pad, dil, &l->w))
        return -1;
    l->params.conv = (cf_conv2d_params){stride, stride, pad, pad, dil, dil, groups};
    l->n_in = 1;
    l->in[0] = x;
    l->c = oc;
    l->n_w = bias ? 2 : 1;
    int64_t ws[4] = {oc, c / groups, k, k};
    memcpy(l->w_shape[0], ws, sizeof ws);
    if (bias) {
        int64_t bs[4] = {oc, 1, 1, 1};
        memcpy(l->w_shape[1], bs, sizeof bs);
    }
    return net->n++;
}

/* A layer that keeps its input's shape. */
static int same_shape(cf_net *net, int x, cf_op_kind kind, const char *fmt, va_list ap) {
    if (net->err != CF_OK || !input_ok(net, x)) return -1;
    int c, h, w;
    cf_netb_shape(net, x, &c, &h, &w);
    cf_net_layer *l = push(net, kind, fmt, ap);
    if (!l) return -1;
    l->n_in = 1;
    l->in[0] = x;
    l->c = c;
    l->h = h;
    l->w = w;
    return net->n++;
}

int cf_netb_bn(cf_net *net, int x, int affine, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int i = same_shape(net, x, CF_OP_BATCHNORM, fmt, ap);
    va_end(ap);
    if (i < 0) return -1;
    cf_net_layer *l = &net->layers[i];
    l->params.bn = (cf_batchnorm_params){.eps = 1e-5, .momentum = 0.1, .training = 1};
    if (affine) {
        l->n_w = 2;
        for (int k = 0; k < 2; k++) {
            int64_t s[4] = {l->c, 1, 1, 1};
            memcpy(l->w_shape[k], s, sizeof s);
        }
    }
    return i;
}

int cf_netb_relu(cf_net *net, int x, const char *fmt, ...) {
    /* ReLU of a tensor that already has one (several ReLU-conv edges leaving one
     * node) is that layer: the same values, computed and stored once, and its
     * gradient sums the consumers' as any fan-out does. */
    for (int i = 0; net->err == CF_OK && i < net->n; i++) {
        const cf_net_layer *l = &net->layers[i];
        if (l->kind == CF_OP_RELU && l->in[0] == x && !l->aux) return i;
    }
    va_list ap;
    va_start(ap, fmt);
    int i = same_shape(net, x, CF_OP_RELU, fmt, ap);
    va_end(ap);
    return i;
}

int cf_netb_pool(cf_net *net, int x, cf_op_kind kind, int k, int stride, int pad,
                 const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int i = same_shape(net, x, kind, fmt, ap);
    va_end(ap);
    if (i < 0) return -1;
    cf_net_layer *l = &net->layers[i];
    if (!window_out(net, l->name, l->h, k, stride, pad, 1, &l->h) ||
        !window_out(net, l->name, l->w, k, stride, pad, 1, &l->w))
        return -1;
    l->params.pool = (cf_pool2d_params){k, k, stride, stride, pad, pad};
    return i;
}

int cf_netb_global_avgpool(cf_net *net, int x, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int i = same_shape(net, x, CF_OP_GLOBAL_AVGPOOL, fmt, ap);
    va_end(ap);
    if (i < 0) return -1;
    net->layers[i].h = net->layers[i].w = 1;
    return i;
}

int cf_netb_linear(cf_net *net, int x, int out, int bias, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int i = same_shape(net, x, CF_OP_LINEAR, fmt, ap);
    va_end(ap);
    if (i < 0) return -1;
    cf_net_layer *l = &net->layers[i];
    int64_t in = (int64_t)l->c * l->h * l->w;
    l->c = out;
    l->h = l->w = 1;
    l->n_w = bias ? 2 : 1;
    int64_t ws[4] = {out, in, 1, 1};
    memcpy(l->w_shape[0], ws, sizeof ws);
    if (bias) {
        int64_t bs[4] = {out, 1, 1, 1};
        memcpy(l->w_shape[1], bs, sizeof bs);
    }
    return i;
}

int cf_netb_zero(cf_net *net, int x, int stride, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int i = same_shape(net, x, CF_OP_ZERO, fmt, ap);
    va_end(ap);
    if (i < 0) return -1;
    cf_net_layer *l = &net->layers[i];
    l->params.zero.stride = stride;
    l->h = (l->h + stride - 1) / stride;
    l->w = (l->w + stride - 1) / stride;
    return i;
}

int cf_netb_slice(cf_net *net, int x, int c0, int nc, int top, int left, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int i = same_shape(net, x, CF_OP_SLICE, fmt, ap);
    va_end(ap);
    if (i < 0) return -1;
    cf_net_layer *l = &net->layers[i];
    int h = l->h - top, w = l->w - left;
    if (c0 < 0 || nc < 1 || c0 + nc > l->c || top < 0 || left < 0 || h < 1 || w < 1)
        return cf_netb_fail(net, CF_ERR_SHAPE, "%s: channels [%d, %d) from (%d, %d) do not fit "
                            "%dx%dx%d", l->name, c0, c0 + nc, top, left, l->c, l->h, l->w);
    l->params.slice = (cf_slice_params){.c0 = c0, .c = nc, .top = top, .h = h, .left = left, .w = w};
    l->c = nc;
    l->h = h;
    l->w = w;
    return i;
}

/* Sum, mix and concat: n inputs checked against the first one's shape (all
 * of it but for concat's channels). A sum or concat of one input is that
 * input; a mix of one is still a layer (its coefficient is still learned). */
static int join(cf_net *net, cf_op_kind kind, int n, const int *xs, const char *fmt, va_list ap) {
    if (net->err != CF_OK) return -1;
    if (n < 1 || n > CF_OP_MAX_INPUTS)
        return cf_netb_fail(net, CF_ERR_ARITY, "network: a join of %d inputs (1..%d)", n,
                            CF_OP_MAX_INPUTS);
    for (int k = 0; k < n; k++)
        if (!input_ok(net, xs[k])) return -1;
    if (n == 1 && kind != CF_OP_MIX) return xs[0];
    cf_net_layer *l = push(net, kind, fmt, ap);
    if (!l) return -1;
    int c0, h0, w0;
    cf_netb_shape(net, xs[0], &c0, &h0, &w0);
    int csum = 0;
    for (int k = 0; k < n; k++) {
        int c, h, w;
        cf_netb_shape(net, xs[k], &c, &h, &w);
        if (h != h0 || w != w0 || (kind != CF_OP_CONCAT && c != c0))
            return cf_netb_fail(net, CF_ERR_SHAPE,
                                "%s: input %d is %dx%dx%d but input 0 is %dx%dx%d", l->name, k, c,
                                h, w, c0, h0, w0);
        if (__builtin_add_overflow(csum, c, &csum))
            return cf_netb_fail(net, CF_ERR_SHAPE, "%s: the concatenation has more channels than fit an int",
                                l->name);
        l->in[k] = xs[k];
    }
    l->n_in = n;
    l->c = kind == CF_OP_CONCAT ? csum : c0;
    l->h = h0;
    l->w = w0;
    return net->n++;
}

int cf_netb_sum(cf_net *net, int n, const int *xs, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int i = join(net, CF_OP_SUM, n, xs, fmt, ap);
    va_end(ap);
    return i;
}

int cf_netb_mix(cf_net *net, int n, const int *xs, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int i = join(net, CF_OP_MIX, n, xs, fmt, ap);
    va_end(ap);
    if (i < 0) return -1;
    cf_net_layer *l = &net->layers[i];
    l->n_w = 1;
    const int64_t coef[4] = {n, 1, 1, 1};
    memcpy(l->w_shape[0], coef, sizeof coef);
    return i;
}

int cf_netb_concat(cf_net *net, int n, const int *xs, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int i = join(net, CF_OP_CONCAT, n, xs, fmt, ap);
    va_end(ap);
    return i;
}

void cf_netb_mark_aux(cf_net *net, int from) {
    for (int i = from; i < net->n; i++) net->layers[i].aux = 1;
}

const char *cf_net_layer_op_name(const cf_net_layer *l) {
    if (l->kind == CF_OP_BATCHNORM && l->params.bn.relu) return "batchnorm+relu";
    return cf_op_name(l->kind);
}

/* ---- fusion --------------------------------------------------------------------- */

/* Whether ReLU layer r may be merged into the batch norm it reads; readers
 * counts every input slot and classifier that reads a layer. */
static int fusable(const cf_net *net, const int *readers, int r) {
    const cf_net_layer *relu = &net->layers[r];
    if (relu->kind != CF_OP_RELU || relu->n_in != 1 || relu->in[0] < 0) return 0;
    const int b = relu->in[0];
    const cf_net_layer *bn = &net->layers[b];
    return bn->kind == CF_OP_BATCHNORM && !bn->params.bn.relu && readers[b] == 1 && b != net->logits &&
           b != net->aux_logits && bn->aux == relu->aux && !bn->drop_path && !relu->drop_path;
}

int cf_netb_fuse_bn_relu(cf_net *net) {
    if (net->err != CF_OK || net->n == 0) return 0;
    const int n = net->n;
    int *readers = calloc((size_t)n, sizeof *readers);
    int *to = calloc((size_t)n, sizeof *to);   /* old index -> new index */
    unsigned char *merge = calloc((size_t)n, 1);  /* ReLU layers that go */
    if (!readers || !to || !merge) {
        free(readers);
        free(to);
        free(merge);
        cf_netb_fail(net, CF_ERR_OUT_OF_MEMORY, "network: no memory to fuse %d layers", n);
        return 0;
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < net->layers[i].n_in; k++)
            if (net->layers[i].in[k] >= 0) readers[net->layers[i].in[k]]++;
    if (net->logits >= 0) readers[net->logits]++;
    if (net->aux_logits >= 0) readers[net->aux_logits]++;
    int fused = 0;
    for (int i = 0; i < n; i++) {
        if (!fusable(net, readers, i)) continue;
        merge[i] = 1;
        fused++;
    }
    for (int i = 0; i < n; i++)
        if (merge[i]) net->layers[net->layers[i].in[0]].params.bn.relu = 1;
    /* compact in place: a layer only moves down, after it is read */
    int kept = 0;
    for (int i = 0; i < n; i++) {
        cf_net_layer l = net->layers[i];
        if (merge[i]) {
            /* the ReLU's readers read the fused batch norm, which comes earlier */
            to[i] = to[l.in[0]];
            continue;
        }
        for (int k = 0; k < l.n_in; k++)
            if (l.in[k] >= 0) l.in[k] = to[l.in[k]];
        to[i] = kept;
        net->layers[kept++] = l;
    }
    net->n = kept;
    if (net->logits >= 0) net->logits = to[net->logits];
    if (net->aux_logits >= 0) net->aux_logits = to[net->aux_logits];
    free(readers);
    free(to);
    free(merge);
    return fused;
}

/* Every layer's output elements (c*h*w) and weight elements fit a 64-bit
 * count, so cf_net_layer_numel and cf_net_weight_numel never overflow. */
static void check_counts(cf_net *net) {
    for (int i = 0; net->err == CF_OK && i < net->n; i++) {
        const cf_net_layer *l = &net->layers[i];
        int64_t e;
        if (__builtin_mul_overflow((int64_t)l->c, (int64_t)l->h, &e) || __builtin_mul_overflow(e, (int64_t)l->w, &e)) {
            cf_netb_fail(net, CF_ERR_SHAPE, "%s: an output of %dx%dx%d has more elements than a 64-bit count "
                         "holds; the network is too large for this input", l->name, l->c, l->h, l->w);
            return;
        }
        for (int k = 0; k < l->n_w; k++) {
            const int64_t *w = l->w_shape[k];
            if (__builtin_mul_overflow(w[0], w[1], &e) || __builtin_mul_overflow(e, w[2], &e) ||
                __builtin_mul_overflow(e, w[3], &e))
                cf_netb_fail(net, CF_ERR_SHAPE, "%s: weight %d of %lldx%lldx%lldx%lld has more elements than a "
                             "64-bit count holds", l->name, k, (long long)w[0], (long long)w[1], (long long)w[2],
                             (long long)w[3]);
        }
    }
}

typedef cf_status (*family_builder)(cf_net *, const cf_space *, const cf_arch *);

static const family_builder k_builders[CF_SPACE_FAMILY_COUNT] = {
    [CF_SPACE_FAMILY_NB201] = cf_net_build_nb201,
    [CF_SPACE_FAMILY_DARTS] = cf_net_build_darts,
    [CF_SPACE_FAMILY_NB101] = cf_net_build_nb101,
    [CF_SPACE_FAMILY_MOBILE] = cf_net_build_mobile,
};

cf_status cf_net_build(const cf_space *s, const cf_arch *a, const cf_net_input *in,
                       cf_net **out) {
    return cf_netb_build(s, a, in, 1, out);
}

static cf_status build_once(const cf_space *s, const cf_arch *a, const cf_net_input *in, int fuse,
                            cf_net **out) {
    *out = NULL;
    cf_net *net = calloc(1, sizeof *net);
    if (!net) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "network: no memory");
    net->input = *in;
    net->logits = -1;
    net->aux_logits = -1;
    cf_status st = a->supernet ? cf_net_build_supernet(net, s) : k_builders[s->family](net, s, a);
    if (st == CF_OK) check_counts(net);
    if (st == CF_OK && net->err != CF_OK) st = net->err;
    if (st == CF_OK && net->logits < 0) {
        cf_netb_fail(net, CF_ERR_INTERNAL, "network: builder made no classifier");
        st = net->err;
    }
    net->n_built = net->n;
    if (st == CF_OK && fuse) {
        cf_netb_fuse_bn_relu(net);
        st = net->err;
    }
    if (st != CF_OK) {
        cf_net_destroy(net);
        return st;
    }
    *out = net;
    return CF_OK;
}

/* Whether an input of h x w builds (shapes only: no fusion). */
static int fits(const cf_space *s, const cf_arch *a, const cf_net_input *in, int h, int w) {
    cf_net_input probe = *in;
    probe.h = h;
    probe.w = w;
    cf_net *net = NULL;
    cf_status st = build_once(s, a, &probe, 0, &net);
    cf_net_destroy(net);
    return st == CF_OK;
}

/* The network's shapes do not fit in's size: name the size and the nearest
 * sizes (same aspect: h and w move together) that do, below and above. */
#define FIT_REACH 64
static cf_status explain_size(const cf_space *s, const cf_arch *a, const cf_net_input *in, cf_status st) {
    char why[512];
    snprintf(why, sizeof why, "%s", cf_error_message());
    int below = 0, above = 0;
    for (int d = 1; d <= FIT_REACH && !below && in->h - d >= 1 && in->w - d >= 1; d++)
        if (fits(s, a, in, in->h - d, in->w - d)) below = d;
    for (int d = 1; d <= FIT_REACH && !above; d++)
        if (fits(s, a, in, in->h + d, in->w + d)) above = d;
    char near[128] = "";
    if (below && above)
        snprintf(near, sizeof near, "; the nearest sizes that fit are %dx%d and %dx%d", in->h - below,
                 in->w - below, in->h + above, in->w + above);
    else if (below || above)
        snprintf(near, sizeof near, "; the nearest size that fits is %dx%d", in->h + (above ? above : -below),
                 in->w + (above ? above : -below));
    return cf_error_set(st, __FILE__, __LINE__,
                        "network: the input size %dx%d does not fit the reductions of this %s network%s (%s)",
                        in->h, in->w, s->name, near, why);
}

cf_status cf_netb_build(const cf_space *s, const cf_arch *a, const cf_net_input *in, int fuse,
                        cf_net **out) {
    *out = NULL;
    if (in->c < 1 || in->h < 1 || in->w < 1 || in->classes < 2)
        CF_FAIL(CF_ERR_INVALID_ARG, "network: input %dx%dx%d with %d classes (need >= 1 pixel, "
                "channel and >= 2 classes)", in->h, in->w, in->c, in->classes);
    if ((unsigned)s->family >= CF_SPACE_FAMILY_COUNT)
        CF_FAIL(CF_ERR_INVALID_ARG, "network: space %s has no family", s->name);
    CF_TRY(cf_arch_validate(s, a));
    /* a space that searches its options (C, N, ...) builds each arch with its own values */
    cf_space *own = NULL;
    if (s->n_hparams > 0) {
        if (!(own = malloc(sizeof *own))) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "network: no memory");
        cf_space_for_arch(s, a, own);
        s = own;
    }
    cf_status st = build_once(s, a, in, fuse, out);
    if (st == CF_ERR_SHAPE) st = explain_size(s, a, in, st);
    free(own);
    return st;
}

cf_status cf_net_clone(const cf_net *net, cf_net **out) {
    *out = NULL;
    cf_net *c = malloc(sizeof *c);
    cf_net_layer *layers = malloc((size_t)(net->n > 0 ? net->n : 1) * sizeof *layers);
    if (!c || !layers) {
        free(c);
        free(layers);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "net: no memory to copy %d layers", net->n);
    }
    *c = *net;
    memcpy(layers, net->layers, (size_t)net->n * sizeof *layers);
    c->layers = layers;
    c->cap = net->n;
    *out = c;
    return CF_OK;
}

void cf_net_destroy(cf_net *net) {
    if (!net) return;
    free(net->layers);
    free(net);
}
