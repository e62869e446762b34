/* onnx.c - a model as an ONNX file (the contract is in export.h).
 *
 * The graph is written layer by layer in the network's (topological) order:
 * nodes, initializers and the shape of every layer's output go to three
 * buffers that become the GraphProto's repeated fields. Each layer kind maps
 * to ONNX ops with the reference backend's semantics:
 *   conv2d          Conv (pads on all four sides, dilations, group, bias if any)
 *   batchnorm       BatchNormalization with the running statistics (affine off:
 *                   gamma 1, beta 0)
 *   batchnorm+relu  BatchNormalization "<layer>/bn" then Relu: a fused layer is
 *                   written as the two layers it stands for
 *   relu            Relu
 *   avgpool2d       AveragePool, count_include_pad 0 (padding not counted),
 *                   ceil_mode 0: cf_conv_out_size rounds down
 *   maxpool2d       MaxPool (ONNX pads with -inf: padding never wins)
 *   global_avgpool  GlobalAveragePool
 *   linear          Flatten (axis 1) + Gemm (transB 1), input read as (N, C*H*W)
 *   sum             Sum;  concat  Concat (axis 1)
 *   zero            Slice with steps (ceil(H/s) rows as the op keeps) + Mul by 0
 *   slice           Slice on channels, rows and columns
 *   identity, dropout  Identity (dropout does nothing at inference)
 *
 * Tested by tests/test_export_onnx.c (the files of every space family decoded
 * again and checked against the network: nodes, initializer shapes and
 * values, topological order) and tests/export_onnx.py via tests/cli_export.sh
 * (onnx's checker, and onnxruntime's logits on the Fashion-MNIST test set
 * against `cellforge eval --logits`).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cellforge/device.h"
#include "cellforge/export.h"
#include "cellforge/file.h"
#include "onnx_proto.h"
#include "protobuf.h"

#define NAME_CAP 96

typedef struct writer {
    const cf_model *m;
    const cf_net *net;
    cf_pb nodes, inits, infos;   /* the graph's node, initializer, value_info fields */
    char (*names)[NAME_CAP];     /* (net->n) the output tensor of each exported layer */
    int have_zero;               /* the shared scalar 0 is written */
    cf_onnx_summary sum;
} writer;

/* ---- fields ---------------------------------------------------------------- */

static void put_ints(cf_pb *b, int field, const int64_t *v, int n) {
    for (int k = 0; k < n; k++) cf_pb_int(b, field, v[k]);
}

/* Floats or int64s as raw_data: little-endian, whatever the host. */
static void put_raw(cf_pb *b, const void *v, size_t n, size_t elem) {
    size_t at = cf_pb_begin(b, ONNX_TENSOR_RAW_DATA);
    const uint16_t probe = 1;
    if (*(const unsigned char *)&probe == 1) {
        cf_pb_raw(b, v, n * elem);
    } else {
        const unsigned char *p = v;
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < elem; k++) cf_pb_raw(b, p + i * elem + elem - 1 - k, 1);
    }
    cf_pb_end(b, at);
}

static void init_floats(writer *w, const char *name, const int64_t *dims, int nd, const float *v) {
    int64_t n = 1;
    for (int d = 0; d < nd; d++) n *= dims[d];
    size_t at = cf_pb_begin(&w->inits, ONNX_GRAPH_INITIALIZER);
    put_ints(&w->inits, ONNX_TENSOR_DIMS, dims, nd);
    cf_pb_int(&w->inits, ONNX_TENSOR_DATA_TYPE, ONNX_DTYPE_FLOAT);
    cf_pb_string(&w->inits, ONNX_TENSOR_NAME, name);
    put_raw(&w->inits, v, (size_t)n, sizeof(float));
    cf_pb_end(&w->inits, at);
    w->sum.initializers++;
    w->sum.floats += n;
}

/* A 1-D int64 initializer (Slice's starts, ends, axes, steps). */
static void init_int64s(writer *w, const char *name, const int64_t *v, int n) {
    int64_t dims[1] = {n};
    size_t at = cf_pb_begin(&w->inits, ONNX_GRAPH_INITIALIZER);
    put_ints(&w->inits, ONNX_TENSOR_DIMS, dims, 1);
    cf_pb_int(&w->inits, ONNX_TENSOR_DATA_TYPE, ONNX_DTYPE_INT64);
    cf_pb_string(&w->inits, ONNX_TENSOR_NAME, name);
    put_raw(&w->inits, v, (size_t)n, sizeof(int64_t));
    cf_pb_end(&w->inits, at);
    w->sum.initializers++;
}

/* A float32 tensor's name and shape; a dim < 0 is the batch, "N". */
static void value_info(cf_pb *b, int field, const char *name, const int64_t *dims, int nd) {
    size_t at = cf_pb_begin(b, field);
    cf_pb_string(b, ONNX_VALUE_NAME, name);
    size_t type = cf_pb_begin(b, ONNX_VALUE_TYPE);
    size_t tensor = cf_pb_begin(b, ONNX_TYPE_TENSOR_TYPE);
    cf_pb_int(b, ONNX_TENSOR_TYPE_ELEM_TYPE, ONNX_DTYPE_FLOAT);
    size_t shape = cf_pb_begin(b, ONNX_TENSOR_TYPE_SHAPE);
    for (int d = 0; d < nd; d++) {
        size_t dim = cf_pb_begin(b, ONNX_SHAPE_DIM);
        if (dims[d] < 0) cf_pb_string(b, ONNX_DIM_PARAM, "N");
        else cf_pb_int(b, ONNX_DIM_VALUE, dims[d]);
        cf_pb_end(b, dim);
    }
    cf_pb_end(b, shape);
    cf_pb_end(b, tensor);
    cf_pb_end(b, type);
    cf_pb_end(b, at);
}

/* A node's head; the caller adds attributes and closes it with cf_pb_end. */
static size_t node_begin(writer *w, const char *op, const char *name, const char *const *in, int n_in,
                         const char *out) {
    size_t at = cf_pb_begin(&w->nodes, ONNX_GRAPH_NODE);
    for (int k = 0; k < n_in; k++) cf_pb_string(&w->nodes, ONNX_NODE_INPUT, in[k]);
    cf_pb_string(&w->nodes, ONNX_NODE_OUTPUT, out);
    cf_pb_string(&w->nodes, ONNX_NODE_NAME, name);
    cf_pb_string(&w->nodes, ONNX_NODE_OP_TYPE, op);
    w->sum.nodes++;
    return at;
}

static void node(writer *w, const char *op, const char *name, const char *const *in, int n_in, const char *out) {
    cf_pb_end(&w->nodes, node_begin(w, op, name, in, n_in, out));
}

static void attr_int(writer *w, const char *name, int64_t v) {
    size_t at = cf_pb_begin(&w->nodes, ONNX_NODE_ATTRIBUTE);
    cf_pb_string(&w->nodes, ONNX_ATTR_NAME, name);
    cf_pb_int(&w->nodes, ONNX_ATTR_I, v);
    cf_pb_int(&w->nodes, ONNX_ATTR_TYPE, ONNX_ATTR_TYPE_INT);
    cf_pb_end(&w->nodes, at);
}

static void attr_float(writer *w, const char *name, float v) {
    size_t at = cf_pb_begin(&w->nodes, ONNX_NODE_ATTRIBUTE);
    cf_pb_string(&w->nodes, ONNX_ATTR_NAME, name);
    cf_pb_float(&w->nodes, ONNX_ATTR_F, v);
    cf_pb_int(&w->nodes, ONNX_ATTR_TYPE, ONNX_ATTR_TYPE_FLOAT);
    cf_pb_end(&w->nodes, at);
}

/* An attribute of two values (height, width) or four (pads). */
static void attr_ints(writer *w, const char *name, int64_t a, int64_t b, int n) {
    const int64_t v[4] = {a, b, a, b};
    size_t at = cf_pb_begin(&w->nodes, ONNX_NODE_ATTRIBUTE);
    cf_pb_string(&w->nodes, ONNX_ATTR_NAME, name);
    put_ints(&w->nodes, ONNX_ATTR_INTS, v, n);
    cf_pb_int(&w->nodes, ONNX_ATTR_TYPE, ONNX_ATTR_TYPE_INTS);
    cf_pb_end(&w->nodes, at);
}

/* ---- layers ---------------------------------------------------------------- */

/* The tensor a layer reads: an earlier layer's output, or the normalized image. */
static const char *input_name(const writer *w, int x) { return x == CF_NET_INPUT ? "normalized" : w->names[x]; }

/* Weight slot k of layer i as an initializer "<layer>.<what>"; its name in out. */
static void weight(writer *w, int i, int k, const char *what, int nd, char out[NAME_CAP]) {
    const cf_net_layer *l = &w->net->layers[i];
    snprintf(out, NAME_CAP, "%s.%s", l->name, what);
    int64_t dims[4];
    if (nd == 1) dims[0] = cf_net_weight_numel(l, k);
    else memcpy(dims, l->w_shape[k], nd * sizeof *dims); /* conv (OC, C/g, KH, KW); linear (OUT, IN) */
    init_floats(w, out, dims, nd, cf_model_weight(w->m, i, k));
}

static cf_status batchnorm(writer *w, int i, const char **in) {
    const cf_net_layer *l = &w->net->layers[i];
    char t[4][NAME_CAP];
    const int64_t dims[1] = {l->c};
    if (l->n_w == 2) {
        weight(w, i, 0, "gamma", 1, t[0]);
        weight(w, i, 1, "beta", 1, t[1]);
    } else {
        /* affine off: the plain normalization, gamma 1 and beta 0 */
        float *v = malloc((size_t)l->c * 2 * sizeof *v);
        if (!v) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "onnx: no memory for %s", l->name);
        for (int c = 0; c < l->c; c++) {
            v[c] = 1.0f;
            v[l->c + c] = 0.0f;
        }
        snprintf(t[0], NAME_CAP, "%s.gamma", l->name);
        snprintf(t[1], NAME_CAP, "%s.beta", l->name);
        init_floats(w, t[0], dims, 1, v);
        init_floats(w, t[1], dims, 1, v + l->c);
        free(v);
    }
    snprintf(t[2], NAME_CAP, "%s.running_mean", l->name);
    snprintf(t[3], NAME_CAP, "%s.running_var", l->name);
    init_floats(w, t[2], dims, 1, cf_model_bn_stat(w->m, i, 0));
    init_floats(w, t[3], dims, 1, cf_model_bn_stat(w->m, i, 1));
    for (int k = 0; k < 4; k++) in[1 + k] = t[k];
    /* fused: the normalization under its own name, the layer's name on the Relu */
    char bn[NAME_CAP];
    const int relu = l->params.bn.relu;
    if (relu) snprintf(bn, sizeof bn, "%s/bn", l->name);
    size_t at = node_begin(w, "BatchNormalization", relu ? bn : l->name, in, 5, relu ? bn : w->names[i]);
    attr_float(w, "epsilon", (float)l->params.bn.eps);
    cf_pb_end(&w->nodes, at);
    if (relu) {
        const char *r[1] = {bn};
        node(w, "Relu", l->name, r, 1, w->names[i]);
    }
    return CF_OK;
}

static void conv(writer *w, int i, const char **in) {
    const cf_net_layer *l = &w->net->layers[i];
    const cf_conv2d_params *p = &l->params.conv;
    char t[2][NAME_CAP];
    weight(w, i, 0, "weight", 4, t[0]);
    in[1] = t[0];
    if (l->n_w > 1) {
        weight(w, i, 1, "bias", 1, t[1]);
        in[2] = t[1];
    }
    size_t at = node_begin(w, "Conv", l->name, in, 1 + l->n_w, w->names[i]);
    attr_ints(w, "dilations", p->dil_h, p->dil_w, 2);
    attr_int(w, "group", p->groups);
    attr_ints(w, "kernel_shape", l->w_shape[0][2], l->w_shape[0][3], 2);
    attr_ints(w, "pads", p->pad_h, p->pad_w, 4); /* top, left, bottom, right */
    attr_ints(w, "strides", p->stride_h, p->stride_w, 2);
    cf_pb_end(&w->nodes, at);
}

static void pool(writer *w, int i, const char **in) {
    const cf_net_layer *l = &w->net->layers[i];
    const cf_pool2d_params *p = &l->params.pool;
    int avg = l->kind == CF_OP_AVGPOOL2D;
    size_t at = node_begin(w, avg ? "AveragePool" : "MaxPool", l->name, in, 1, w->names[i]);
    if (avg) attr_int(w, "count_include_pad", 0);
    attr_int(w, "ceil_mode", 0);
    attr_ints(w, "kernel_shape", p->kernel_h, p->kernel_w, 2);
    attr_ints(w, "pads", p->pad_h, p->pad_w, 4);
    attr_ints(w, "strides", p->stride_h, p->stride_w, 2);
    cf_pb_end(&w->nodes, at);
}

static void linear(writer *w, int i, const char **in) {
    const cf_net_layer *l = &w->net->layers[i];
    char flat[NAME_CAP], t[2][NAME_CAP];
    snprintf(flat, sizeof flat, "%s/flatten", l->name);
    size_t at = node_begin(w, "Flatten", flat, in, 1, flat);
    attr_int(w, "axis", 1);
    cf_pb_end(&w->nodes, at);
    const char *gin[3] = {flat, t[0], t[1]};
    weight(w, i, 0, "weight", 2, t[0]);
    if (l->n_w > 1) weight(w, i, 1, "bias", 1, t[1]);
    at = node_begin(w, "Gemm", l->name, gin, 1 + l->n_w, w->names[i]);
    attr_int(w, "transB", 1);
    cf_pb_end(&w->nodes, at);
}

/* Slice(x, starts, ends, axes[, steps]) with the layer's constants as
 * initializers "<layer>.starts", ... */
static void slice(writer *w, const char *layer, const char *node_name, const char *x, const char *out,
                  const int64_t *starts, const int64_t *ends, const int64_t *axes, const int64_t *steps, int n) {
    char t[4][NAME_CAP];
    const char *what[4] = {"starts", "ends", "axes", "steps"};
    const int64_t *v[4] = {starts, ends, axes, steps};
    const char *in[5] = {x};
    int n_in = steps ? 5 : 4;
    for (int k = 0; k + 1 < n_in; k++) {
        snprintf(t[k], NAME_CAP, "%s.%s", layer, what[k]);
        init_int64s(w, t[k], v[k], n);
        in[k + 1] = t[k];
    }
    node(w, "Slice", node_name, in, n_in, out);
}

static void zero(writer *w, int i, const char **in) {
    const cf_net_layer *l = &w->net->layers[i];
    if (!w->have_zero) {
        const float z = 0.0f;
        init_floats(w, "zero", NULL, 0, &z);
        w->have_zero = 1;
    }
    char sub[NAME_CAP];
    const int s = l->params.zero.stride;
    const char *mul[2] = {in[0], "zero"};
    if (s > 1) {
        /* x[:, :, ::s, ::s]: ceil(H/s) rows, the op's shape */
        const int64_t starts[2] = {0, 0}, ends[2] = {INT64_MAX, INT64_MAX}, axes[2] = {2, 3}, steps[2] = {s, s};
        snprintf(sub, sizeof sub, "%s/subsample", l->name);
        slice(w, l->name, sub, in[0], sub, starts, ends, axes, steps, 2);
        mul[0] = sub;
    }
    /* times 0, not a constant: the shape follows the batch */
    node(w, "Mul", l->name, mul, 2, w->names[i]);
}

static cf_status layer(writer *w, int i) {
    const cf_net_layer *l = &w->net->layers[i];
    const char *in[CF_OP_MAX_INPUTS + 4];
    for (int k = 0; k < l->n_in; k++) in[k] = input_name(w, l->in[k]);
    const char *y = w->names[i];
    switch (l->kind) {
    case CF_OP_CONV2D:
        conv(w, i, in);
        break;
    case CF_OP_BATCHNORM:
        CF_TRY(batchnorm(w, i, in));
        break;
    case CF_OP_RELU:
        node(w, "Relu", l->name, in, 1, y);
        break;
    case CF_OP_AVGPOOL2D:
    case CF_OP_MAXPOOL2D:
        pool(w, i, in);
        break;
    case CF_OP_GLOBAL_AVGPOOL:
        node(w, "GlobalAveragePool", l->name, in, 1, y);
        break;
    case CF_OP_LINEAR:
        linear(w, i, in);
        break;
    case CF_OP_SUM:
        node(w, "Sum", l->name, in, l->n_in, y);
        break;
    case CF_OP_ZERO:
        zero(w, i, in);
        break;
    case CF_OP_IDENTITY:
    case CF_OP_DROPOUT:
        node(w, "Identity", l->name, in, 1, y);
        break;
    case CF_OP_CONCAT: {
        size_t at = node_begin(w, "Concat", l->name, in, l->n_in, y);
        attr_int(w, "axis", 1);
        cf_pb_end(&w->nodes, at);
        break;
    }
    case CF_OP_SLICE: {
        const cf_slice_params *p = &l->params.slice;
        const int64_t starts[3] = {p->c0, p->top, p->left};
        const int64_t ends[3] = {p->c0 + p->c, p->top + p->h, p->left + p->w}, axes[3] = {1, 2, 3};
        slice(w, l->name, l->name, in[0], y, starts, ends, axes, NULL, 3);
        break;
    }
    case CF_OP_MIX:
        CF_FAIL(CF_ERR_UNSUPPORTED, "onnx: layer %s: a supernet's mix layer has no ONNX export; derive an "
                "architecture first", l->name);
    default:
        CF_FAIL(CF_ERR_UNSUPPORTED, "onnx: layer %s: %s has no ONNX form here", l->name, cf_net_layer_op_name(l));
    }
    /* the output's shape, for readers (Netron) and the checker's shape inference */
    const int64_t dims[4] = {-1, l->c, l->h, l->w};
    value_info(&w->infos, ONNX_GRAPH_VALUE_INFO, y, dims, l->kind == CF_OP_LINEAR ? 2 : 4);
    w->sum.layers++;
    return CF_OK;
}

/* Layers the logits depend on: the auxiliary head and anything else off
 * that path is left out. live is (net->n). */
static void mark_live(const cf_net *net, unsigned char *live) {
    live[net->logits] = 1;
    for (int i = net->logits; i >= 0; i--) {
        if (!live[i]) continue;
        const cf_net_layer *l = &net->layers[i];
        for (int k = 0; k < l->n_in; k++)
            if (l->in[k] != CF_NET_INPUT) live[l->in[k]] = 1;
    }
}

/* Output tensor names: the layer's own, "logits" for the classifier, and a
 * suffix where a name is taken already (names are unique in the builders;
 * ONNX requires it of every output). */
static void name_outputs(writer *w, const unsigned char *live) {
    static const char *const reserved[] = {"image", "normalize.sub", "normalized", "logits", "zero"};
    for (int i = 0; i < w->net->n; i++) {
        if (!live[i]) continue;
        const char *base = i == w->net->logits ? "logits" : w->net->layers[i].name;
        snprintf(w->names[i], NAME_CAP, "%s", base[0] ? base : "layer");
        int taken = 0;
        for (size_t k = 0; k < sizeof reserved / sizeof *reserved && i != w->net->logits; k++)
            taken |= strcmp(w->names[i], reserved[k]) == 0;
        for (int j = 0; j < i && !taken; j++) taken = live[j] && strcmp(w->names[j], w->names[i]) == 0;
        if (taken || !base[0]) snprintf(w->names[i], NAME_CAP, "%.60s#%d", base, i);
    }
}

/* (image - mean) / std with per-channel constants of shape (1, C, 1, 1). */
static cf_status normalize(writer *w, const cf_onnx_options *opt) {
    const int C = w->net->input.c;
    float *v = malloc((size_t)C * 2 * sizeof *v);
    if (!v) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "onnx: no memory");
    for (int c = 0; c < C; c++) {
        v[c] = opt && opt->mean ? opt->mean[c] : 0.0f;
        v[C + c] = opt && opt->std ? opt->std[c] : 1.0f;
    }
    const int64_t dims[4] = {1, C, 1, 1};
    init_floats(w, "normalize.mean", dims, 4, v);
    init_floats(w, "normalize.std", dims, 4, v + C);
    free(v);
    const char *sub[2] = {"image", "normalize.mean"}, *div[2] = {"normalize.sub", "normalize.std"};
    node(w, "Sub", "normalize.sub", sub, 2, "normalize.sub");
    node(w, "Div", "normalize.div", div, 2, "normalized");
    return CF_OK;
}

/* The ModelProto around the graph's parts. */
static void model(writer *w, const cf_onnx_options *opt, cf_pb *out) {
    const cf_net_input *in = &w->net->input;
    cf_pb_int(out, ONNX_MODEL_IR_VERSION, CF_ONNX_IR_VERSION);
    cf_pb_string(out, ONNX_MODEL_PRODUCER_NAME, "cellforge");
    cf_pb_string(out, ONNX_MODEL_PRODUCER_VERSION, cf_version());
    if (opt && opt->doc) cf_pb_string(out, ONNX_MODEL_DOC_STRING, opt->doc);
    size_t at = cf_pb_begin(out, ONNX_MODEL_OPSET_IMPORT);
    cf_pb_string(out, ONNX_OPSET_DOMAIN, "");
    cf_pb_int(out, ONNX_OPSET_VERSION, CF_ONNX_OPSET);
    cf_pb_end(out, at);
    at = cf_pb_begin(out, ONNX_MODEL_GRAPH);
    cf_pb_raw(out, w->nodes.p, w->nodes.n);
    cf_pb_string(out, ONNX_GRAPH_NAME, opt && opt->graph_name ? opt->graph_name : "cellforge");
    cf_pb_raw(out, w->inits.p, w->inits.n);
    const int64_t image[4] = {-1, in->c, in->h, in->w}, logits[2] = {-1, in->classes};
    value_info(out, ONNX_GRAPH_INPUT, "image", image, 4);
    value_info(out, ONNX_GRAPH_OUTPUT, "logits", logits, 2);
    cf_pb_raw(out, w->infos.p, w->infos.n);
    cf_pb_end(out, at);
    for (const char *const *kv = opt ? opt->metadata : NULL; kv && kv[0] && kv[1]; kv += 2) {
        at = cf_pb_begin(out, ONNX_MODEL_METADATA_PROPS);
        cf_pb_string(out, ONNX_ENTRY_KEY, kv[0]);
        cf_pb_string(out, ONNX_ENTRY_VALUE, kv[1]);
        cf_pb_end(out, at);
    }
}

cf_status cf_export_onnx_encode(const cf_model *m, const cf_onnx_options *opt, unsigned char **data,
                                size_t *size, cf_onnx_summary *summary) {
    *data = NULL;
    *size = 0;
    if (m->dtype != CF_DTYPE_F32) CF_FAIL(CF_ERR_UNSUPPORTED, "onnx: only f32 models are exported");
    const cf_net *net = m->net;
    if (net->logits < 0 || net->logits >= net->n) CF_FAIL(CF_ERR_INVALID_ARG, "onnx: the network has no classifier");
    writer w = {.m = m, .net = net};
    cf_pb out = {0};
    cf_status st = CF_OK;
    unsigned char *live = calloc((size_t)net->n, 1);
    w.names = calloc((size_t)net->n, sizeof *w.names);
    if (!live || !w.names) {
        st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "onnx: no memory for %d layers", net->n);
        goto exit;
    }
    mark_live(net, live);
    name_outputs(&w, live);
    CF_TRY_GOTO(st, normalize(&w, opt), exit);
    for (int i = 0; i < net->n; i++)
        if (live[i]) CF_TRY_GOTO(st, layer(&w, i), exit);
    model(&w, opt, &out);
    if (w.nodes.failed || w.inits.failed || w.infos.failed || out.failed) {
        st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "onnx: no memory for the model (%zu bytes so far)",
                          w.nodes.n + w.inits.n + out.n);
        goto exit;
    }
    w.sum.bytes = out.n;
    if (summary) *summary = w.sum;
    *data = (unsigned char *)out.p;
    *size = out.n;
    out = (cf_pb){0};
exit:
    cf_pb_free(&out);
    cf_pb_free(&w.nodes);
    cf_pb_free(&w.inits);
    cf_pb_free(&w.infos);
    free(w.names);
    free(live);
    return st;
}

cf_status cf_export_onnx(const cf_model *m, const cf_onnx_options *opt, const char *path, cf_onnx_summary *summary) {
    unsigned char *data = NULL;
    size_t size = 0;
    cf_status st = cf_export_onnx_encode(m, opt, &data, &size, summary);
    if (st != CF_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", cf_error_message());
        return cf_error_set(st, __FILE__, __LINE__, "%s: %s", path, msg);
    }
    st = cf_file_write_bytes_atomic(path, data, size);
    free(data);
    return st;
}
