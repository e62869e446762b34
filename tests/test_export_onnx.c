/* test_export_onnx.c - the ONNX files of every space family, taken apart
 * again with the protobuf reader and checked against the network.
 *
 * For a small network of each family (nb201 with zero and pool ops, darts
 * with its auxiliary head and a stride-2 zero, nb101 with a channel slice,
 * mobile) and a hand-built one (batch norm without affine parameters,
 * identity, dropout, a strided zero):
 *  - the model header: IR version, opset 13 of the default domain, producer
 *  - input "image" [N, C, H, W] and output "logits" [N, classes], N symbolic
 *  - nodes: exactly the layers the logits depend on (worked out here from
 *    the layer inputs), each with the ONNX op of its kind, its attributes
 *    (kernel, strides, pads, dilations, groups, pool counting, epsilon) and
 *    the output of the layer it reads as input; a fused batch norm + ReLU as
 *    BatchNormalization then Relu; the auxiliary head absent
 *  - every node input is a graph input, an initializer or an earlier node's
 *    output (topological order), every output is new
 *  - initializers: each weight with its shape and the model's exact floats,
 *    the BN running statistics; their float total is the cost model's
 *    parameter count + 2 x the BN channels + the normalization constants
 *  - the file written by cf_export_onnx is the encoded bytes, with no
 *    temporary left; errors name the file; a supernet's mix is refused
 * Numerics are checked end to end by tests/export_onnx.py (onnxruntime).
 *
 *   build/tests/test_export_onnx SPACES_DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/export/onnx_proto.h"
#include "../src/export/protobuf.h"
#include "cellforge/cost.h"
#include "cellforge/export.h"
#include "check.h"
#include "space_kit.h"

/* ---- the decoded file ------------------------------------------------------- */

#define MAX_IO 12

typedef struct attr {
    char name[32];
    int type;
    int64_t i, ints[8];
    int n_ints;
    float f;
} attr;

typedef struct node {
    char name[128], op[32];
    char in[MAX_IO][128], out[128];
    int n_in, n_out;
    attr attrs[8];
    int n_attrs;
} node;

typedef struct init {
    char name[128];
    int64_t dims[8];
    int nd, dtype;
    const unsigned char *raw; /* into the file's bytes */
    size_t raw_len;
} init;

typedef struct value {
    char name[128];
    int64_t dims[8]; /* -1: a symbolic dim */
    char param[8][16];
    int nd, elem;
} value;

typedef struct onnx_file {
    int64_t ir_version, opset;
    char opset_domain[16], producer[32];
    node *nodes;
    int n_nodes;
    init *inits;
    int n_inits;
    value inputs[4], outputs[4];
    int n_inputs, n_outputs, n_infos;
    int bad; /* a malformed or unexpected encoding */
} onnx_file;

static void copy_str(char *dst, size_t cap, const cf_pb_field *f) {
    size_t n = f->len < cap - 1 ? f->len : cap - 1;
    memcpy(dst, f->data, n);
    dst[n] = 0;
}

/* A message field's contents as a reader; flags a wrong wire type. */
static cf_pb_reader sub(onnx_file *o, const cf_pb_field *f) {
    if (f->wire != CF_PB_BYTES) {
        o->bad = 1;
        return cf_pb_reader_make(NULL, 0);
    }
    return cf_pb_reader_make(f->data, f->len);
}

static void decode_value(onnx_file *o, const cf_pb_field *vf, value *v) {
    memset(v, 0, sizeof *v);
    cf_pb_reader r = sub(o, vf), rt, rtt, rs, rd;
    cf_pb_field f, g, h, k, d;
    int st;
    while ((st = cf_pb_next(&r, &f)) > 0) {
        if (f.number == ONNX_VALUE_NAME) copy_str(v->name, sizeof v->name, &f);
        if (f.number != ONNX_VALUE_TYPE) continue;
        rt = sub(o, &f);
        while (cf_pb_next(&rt, &g) > 0) {
            if (g.number != ONNX_TYPE_TENSOR_TYPE) continue;
            rtt = sub(o, &g);
            while (cf_pb_next(&rtt, &h) > 0) {
                if (h.number == ONNX_TENSOR_TYPE_ELEM_TYPE) v->elem = (int)h.value;
                if (h.number != ONNX_TENSOR_TYPE_SHAPE) continue;
                rs = sub(o, &h);
                while (cf_pb_next(&rs, &k) > 0 && v->nd < 8) {
                    rd = sub(o, &k);
                    v->dims[v->nd] = -1;
                    while (cf_pb_next(&rd, &d) > 0) {
                        if (d.number == ONNX_DIM_VALUE) v->dims[v->nd] = (int64_t)d.value;
                        if (d.number == ONNX_DIM_PARAM) copy_str(v->param[v->nd], sizeof v->param[0], &d);
                    }
                    v->nd++;
                }
            }
        }
    }
    if (st < 0) o->bad = 1;
}

static void decode_attr(onnx_file *o, const cf_pb_field *af, attr *a) {
    memset(a, 0, sizeof *a);
    cf_pb_reader r = sub(o, af);
    cf_pb_field f;
    while (cf_pb_next(&r, &f) > 0) {
        if (f.number == ONNX_ATTR_NAME) copy_str(a->name, sizeof a->name, &f);
        else if (f.number == ONNX_ATTR_TYPE) a->type = (int)f.value;
        else if (f.number == ONNX_ATTR_I) a->i = (int64_t)f.value;
        else if (f.number == ONNX_ATTR_F && f.wire == CF_PB_FIXED32) a->f = cf_pb_as_float(&f);
        else if (f.number == ONNX_ATTR_INTS && f.wire == CF_PB_VARINT && a->n_ints < 8)
            a->ints[a->n_ints++] = (int64_t)f.value;
        else o->bad = 1;
    }
}

static void decode_node(onnx_file *o, const cf_pb_field *nf, node *n) {
    memset(n, 0, sizeof *n);
    cf_pb_reader r = sub(o, nf);
    cf_pb_field f;
    while (cf_pb_next(&r, &f) > 0) {
        if (f.number == ONNX_NODE_INPUT && n->n_in < MAX_IO) copy_str(n->in[n->n_in++], sizeof n->in[0], &f);
        else if (f.number == ONNX_NODE_OUTPUT) copy_str(n->out, sizeof n->out, &f), n->n_out++;
        else if (f.number == ONNX_NODE_NAME) copy_str(n->name, sizeof n->name, &f);
        else if (f.number == ONNX_NODE_OP_TYPE) copy_str(n->op, sizeof n->op, &f);
        else if (f.number == ONNX_NODE_ATTRIBUTE && n->n_attrs < 8) decode_attr(o, &f, &n->attrs[n->n_attrs++]);
        else o->bad = 1;
    }
}

static void decode_init(onnx_file *o, const cf_pb_field *tf, init *t) {
    memset(t, 0, sizeof *t);
    cf_pb_reader r = sub(o, tf);
    cf_pb_field f;
    while (cf_pb_next(&r, &f) > 0) {
        if (f.number == ONNX_TENSOR_DIMS && t->nd < 8) t->dims[t->nd++] = (int64_t)f.value;
        else if (f.number == ONNX_TENSOR_DATA_TYPE) t->dtype = (int)f.value;
        else if (f.number == ONNX_TENSOR_NAME) copy_str(t->name, sizeof t->name, &f);
        else if (f.number == ONNX_TENSOR_RAW_DATA) t->raw = f.data, t->raw_len = f.len;
        else o->bad = 1;
    }
}

static void decode_graph(onnx_file *o, const cf_pb_field *gf) {
    cf_pb_reader r = sub(o, gf);
    cf_pb_field f;
    int st;
    /* count first, then fill */
    cf_pb_reader c = r;
    int nn = 0, ni = 0;
    while (cf_pb_next(&c, &f) > 0) {
        nn += f.number == ONNX_GRAPH_NODE;
        ni += f.number == ONNX_GRAPH_INITIALIZER;
    }
    o->nodes = calloc((size_t)nn + 1, sizeof *o->nodes);
    o->inits = calloc((size_t)ni + 1, sizeof *o->inits);
    while ((st = cf_pb_next(&r, &f)) > 0) {
        value v;
        switch (f.number) {
        case ONNX_GRAPH_NODE: decode_node(o, &f, &o->nodes[o->n_nodes++]); break;
        case ONNX_GRAPH_INITIALIZER: decode_init(o, &f, &o->inits[o->n_inits++]); break;
        case ONNX_GRAPH_INPUT:
            if (o->n_inputs < 4) decode_value(o, &f, &o->inputs[o->n_inputs]);
            o->n_inputs++;
            break;
        case ONNX_GRAPH_OUTPUT:
            if (o->n_outputs < 4) decode_value(o, &f, &o->outputs[o->n_outputs]);
            o->n_outputs++;
            break;
        case ONNX_GRAPH_VALUE_INFO:
            decode_value(o, &f, &v);
            o->n_infos++;
            break;
        case ONNX_GRAPH_NAME: break;
        default: o->bad = 1;
        }
    }
    if (st < 0) o->bad = 1;
}

static void decode(const unsigned char *data, size_t size, onnx_file *o) {
    memset(o, 0, sizeof *o);
    cf_pb_reader r = cf_pb_reader_make(data, size);
    cf_pb_field f, g;
    int st;
    while ((st = cf_pb_next(&r, &f)) > 0) {
        if (f.number == ONNX_MODEL_IR_VERSION) o->ir_version = (int64_t)f.value;
        else if (f.number == ONNX_MODEL_PRODUCER_NAME) copy_str(o->producer, sizeof o->producer, &f);
        else if (f.number == ONNX_MODEL_GRAPH) decode_graph(o, &f);
        else if (f.number == ONNX_MODEL_OPSET_IMPORT) {
            cf_pb_reader ro = sub(o, &f);
            while (cf_pb_next(&ro, &g) > 0) {
                if (g.number == ONNX_OPSET_DOMAIN) copy_str(o->opset_domain, sizeof o->opset_domain, &g);
                if (g.number == ONNX_OPSET_VERSION) o->opset = (int64_t)g.value;
            }
        }
    }
    if (st < 0) o->bad = 1;
}

static void onnx_free(onnx_file *o) {
    free(o->nodes);
    free(o->inits);
}

static const node *find_node(const onnx_file *o, const char *name) {
    for (int k = 0; k < o->n_nodes; k++)
        if (strcmp(o->nodes[k].name, name) == 0) return &o->nodes[k];
    return NULL;
}

static const init *find_init(const onnx_file *o, const char *name) {
    for (int k = 0; k < o->n_inits; k++)
        if (strcmp(o->inits[k].name, name) == 0) return &o->inits[k];
    return NULL;
}

static const attr *find_attr(const node *n, const char *name) {
    for (int k = 0; k < n->n_attrs; k++)
        if (strcmp(n->attrs[k].name, name) == 0) return &n->attrs[k];
    return NULL;
}

/* ---- checks against the network -------------------------------------------- */

/* An INTS attribute equal to v (n values) or an INT equal to v[0] (n == 0). */
static int attr_is(const node *n, const char *name, const int64_t *v, int count) {
    const attr *a = find_attr(n, name);
    if (!a) return 0;
    if (count == 0) return a->type == ONNX_ATTR_TYPE_INT && a->i == v[0];
    if (a->type != ONNX_ATTR_TYPE_INTS || a->n_ints != count) return 0;
    for (int k = 0; k < count; k++)
        if (a->ints[k] != v[k]) return 0;
    return 1;
}

/* An initializer holding exactly these floats with these dims. */
static int64_t check_init(const onnx_file *o, const char *layer, const char *what, const int64_t *dims, int nd,
                          const float *want) {
    char name[160];
    snprintf(name, sizeof name, "%s.%s", layer, what);
    const init *t = find_init(o, name);
    CHECK(t != NULL, "no initializer %s", name);
    if (!t) return 0;
    int64_t n = 1;
    int same = t->nd == nd && t->dtype == ONNX_DTYPE_FLOAT;
    for (int d = 0; d < nd; d++) {
        n *= dims[d];
        same = same && t->dims[d] == dims[d];
    }
    CHECK(same && t->raw_len == (size_t)n * 4, "%s: %d dims of type %d, %zu bytes; expected %d dims, %lld floats",
          name, t->nd, t->dtype, t->raw_len, nd, (long long)n);
    if (same && t->raw_len == (size_t)n * 4)
        CHECK(memcmp(t->raw, want, t->raw_len) == 0, "%s: the values are not the model's", name);
    return n;
}

static int fused(const cf_net_layer *l) { return l->kind == CF_OP_BATCHNORM && l->params.bn.relu; }

/* Nodes a layer kind becomes. */
static int nodes_of(const cf_net_layer *l) {
    if (l->kind == CF_OP_LINEAR) return 2;
    if (l->kind == CF_OP_ZERO && l->params.zero.stride > 1) return 2;
    if (fused(l)) return 2; /* BatchNormalization, Relu */
    return 1;
}

/* The node of a two-node layer that reads the layer's inputs: "<layer>/<this>". */
static const char *entry_of(const cf_net_layer *l) {
    return l->kind == CF_OP_LINEAR ? "flatten" : fused(l) ? "bn" : "subsample";
}

/* The op of the node named after the layer (the last of its nodes). */
static const char *op_of(const cf_net_layer *l) {
    if (fused(l)) return "Relu";
    switch (l->kind) {
    case CF_OP_CONV2D: return "Conv";
    case CF_OP_BATCHNORM: return "BatchNormalization";
    case CF_OP_RELU: return "Relu";
    case CF_OP_AVGPOOL2D: return "AveragePool";
    case CF_OP_MAXPOOL2D: return "MaxPool";
    case CF_OP_GLOBAL_AVGPOOL: return "GlobalAveragePool";
    case CF_OP_LINEAR: return "Gemm";
    case CF_OP_SUM: return "Sum";
    case CF_OP_ZERO: return "Mul";
    case CF_OP_CONCAT: return "Concat";
    case CF_OP_SLICE: return "Slice";
    default: return "Identity";
    }
}

/* The layer-specific facts of layer i's node n; returns its weight floats. */
static int64_t check_layer(const onnx_file *o, const cf_model *m, int i, const node *n, int64_t *bn_floats) {
    const cf_net_layer *l = &m->net->layers[i];
    int64_t weights = 0;
    if (l->kind == CF_OP_CONV2D) {
        const cf_conv2d_params *p = &l->params.conv;
        int64_t k[2] = {l->w_shape[0][2], l->w_shape[0][3]}, s[2] = {p->stride_h, p->stride_w};
        int64_t pads[4] = {p->pad_h, p->pad_w, p->pad_h, p->pad_w}, dil[2] = {p->dil_h, p->dil_w}, g = p->groups;
        CHECK(attr_is(n, "kernel_shape", k, 2) && attr_is(n, "strides", s, 2) && attr_is(n, "pads", pads, 4) &&
                  attr_is(n, "dilations", dil, 2) && attr_is(n, "group", &g, 0) && n->n_in == 1 + l->n_w,
              "%s: conv attributes or inputs", l->name);
        weights += check_init(o, l->name, "weight", l->w_shape[0], 4, cf_model_weight(m, i, 0));
        if (l->n_w > 1) weights += check_init(o, l->name, "bias", l->w_shape[1], 1, cf_model_weight(m, i, 1));
    } else if (l->kind == CF_OP_BATCHNORM) {
        if (fused(l)) {
            /* BatchNormalization "<layer>/bn" and the Relu n reading it */
            char name[160];
            snprintf(name, sizeof name, "%s/bn", l->name);
            const node *bn = find_node(o, name);
            CHECK(bn && strcmp(bn->op, "BatchNormalization") == 0 && n->n_in == 1 && strcmp(n->in[0], bn->out) == 0,
                  "%s: a fused layer is BatchNormalization %s then Relu", l->name, name);
            if (!bn) return 0;
            n = bn;
        }
        const attr *eps = find_attr(n, "epsilon");
        CHECK(eps && eps->type == ONNX_ATTR_TYPE_FLOAT && eps->f == (float)l->params.bn.eps && n->n_in == 5,
              "%s: epsilon", l->name);
        int64_t c[1] = {l->c};
        if (l->n_w == 2) {
            weights += check_init(o, l->name, "gamma", c, 1, cf_model_weight(m, i, 0));
            weights += check_init(o, l->name, "beta", c, 1, cf_model_weight(m, i, 1));
        } else {
            float *one = malloc((size_t)l->c * sizeof *one), *zero = calloc((size_t)l->c, sizeof *zero);
            for (int k = 0; k < l->c; k++) one[k] = 1.0f;
            *bn_floats += check_init(o, l->name, "gamma", c, 1, one);
            *bn_floats += check_init(o, l->name, "beta", c, 1, zero);
            free(one);
            free(zero);
        }
        *bn_floats += check_init(o, l->name, "running_mean", c, 1, cf_model_bn_stat(m, i, 0));
        *bn_floats += check_init(o, l->name, "running_var", c, 1, cf_model_bn_stat(m, i, 1));
    } else if (l->kind == CF_OP_AVGPOOL2D || l->kind == CF_OP_MAXPOOL2D) {
        const cf_pool2d_params *p = &l->params.pool;
        int64_t k[2] = {p->kernel_h, p->kernel_w}, s[2] = {p->stride_h, p->stride_w};
        int64_t pads[4] = {p->pad_h, p->pad_w, p->pad_h, p->pad_w}, zero = 0;
        CHECK(attr_is(n, "kernel_shape", k, 2) && attr_is(n, "strides", s, 2) && attr_is(n, "pads", pads, 4) &&
                  attr_is(n, "ceil_mode", &zero, 0) &&
                  (l->kind == CF_OP_MAXPOOL2D || attr_is(n, "count_include_pad", &zero, 0)),
              "%s: pool attributes", l->name);
    } else if (l->kind == CF_OP_LINEAR) {
        int64_t one = 1;
        CHECK(attr_is(n, "transB", &one, 0) && n->n_in == 1 + l->n_w, "%s: Gemm", l->name);
        weights += check_init(o, l->name, "weight", l->w_shape[0], 2, cf_model_weight(m, i, 0));
        if (l->n_w > 1) weights += check_init(o, l->name, "bias", l->w_shape[1], 1, cf_model_weight(m, i, 1));
    } else if (l->kind == CF_OP_CONCAT) {
        int64_t one = 1;
        CHECK(attr_is(n, "axis", &one, 0) && n->n_in == l->n_in, "%s: concat", l->name);
    } else if (l->kind == CF_OP_SLICE) {
        const cf_slice_params *p = &l->params.slice;
        char name[160];
        snprintf(name, sizeof name, "%s.starts", l->name);
        const init *t = find_init(o, name);
        int64_t want[3] = {p->c0, p->top, p->left}, got[3] = {0};
        if (t && t->raw_len == sizeof got) memcpy(got, t->raw, sizeof got);
        CHECK(t && t->dtype == ONNX_DTYPE_INT64 && memcmp(got, want, sizeof got) == 0 && n->n_in == 4,
              "%s: slice starts", l->name);
    }
    return weights;
}

/* Fused batch norm + ReLU layers exported over all models: the families have some. */
static int fused_exported;

/* The header: IR version, opset, producer, the graph's input and output. */
static void check_graph_io(const char *what, const onnx_file *o, const cf_net_input *in) {
    CHECK(o->ir_version == CF_ONNX_IR_VERSION && o->opset == 13 && o->opset_domain[0] == 0 &&
              strcmp(o->producer, "cellforge") == 0,
          "%s: ir %lld, opset %lld, producer %s", what, (long long)o->ir_version, (long long)o->opset, o->producer);
    const value *x = &o->inputs[0], *y = &o->outputs[0];
    CHECK(o->n_inputs == 1 && strcmp(x->name, "image") == 0 && x->elem == ONNX_DTYPE_FLOAT && x->nd == 4 &&
              x->dims[0] == -1 && strcmp(x->param[0], "N") == 0 && x->dims[1] == in->c && x->dims[2] == in->h &&
              x->dims[3] == in->w,
          "%s: graph input %s", what, x->name);
    CHECK(o->n_outputs == 1 && strcmp(y->name, "logits") == 0 && y->nd == 2 && y->dims[0] == -1 &&
              y->dims[1] == in->classes,
          "%s: graph output %s", what, y->name);
}

/* Topological order, single assignment, no auxiliary head. */
static void check_node_order(const char *what, const onnx_file *o) {
    int order_ok = 1, unique = 1, no_aux = 1;
    for (int k = 0; k < o->n_nodes; k++) {
        const node *n = &o->nodes[k];
        for (int j = 0; j < n->n_in; j++) {
            int known = strcmp(n->in[j], "image") == 0 || find_init(o, n->in[j]) != NULL;
            for (int p = 0; p < k && !known; p++) known = strcmp(o->nodes[p].out, n->in[j]) == 0;
            if (!known) {
                order_ok = 0;
                fprintf(stderr, "%s: node %s reads %s before it is written\n", what, n->name, n->in[j]);
            }
        }
        for (int p = 0; p < k; p++) unique &= strcmp(o->nodes[p].out, n->out) != 0;
        no_aux &= strncmp(n->name, "aux.", 4) != 0;
    }
    for (int k = 0; k < o->n_inits; k++) no_aux &= strncmp(o->inits[k].name, "aux.", 4) != 0;
    CHECK(order_ok && unique && no_aux, "%s: order %d, unique outputs %d, no aux %d", what, order_ok, unique, no_aux);
}

/* cf_export_onnx writes the same bytes as the encoder, atomically. */
static void check_file(const char *what, const cf_model *m, const cf_onnx_options *opt, const unsigned char *data,
                       size_t size) {
    char path[] = "/tmp/cf_test_onnx_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    close(fd);
    CHECK_OK(cf_export_onnx(m, opt, path, NULL));
    FILE *f = fopen(path, "rb");
    unsigned char *back = malloc(size + 1);
    size_t got = f && back ? fread(back, 1, size + 1, f) : 0;
    if (f) fclose(f);
    CHECK(got == size && memcmp(back, data, size) == 0, "%s: the file holds %zu bytes, not the %zu encoded", what,
          got, size);
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(access(tmp, F_OK) != 0, "%s: %s left behind", what, tmp);
    unlink(path);
    free(back);
}

/* Export m, decode it and check everything listed at the top. */
static void check_model(const char *what, const cf_model *m) {
    const cf_net *net = m->net;
    const cf_net_input *in = &net->input;
    float mean[4] = {0.25f, 0.5f, 0.125f, 0.0f}, sd[4] = {0.5f, 0.25f, 2.0f, 1.0f};
    const char *meta[] = {"cellforge.arch", what, NULL};
    cf_onnx_options opt = {.mean = mean, .std = sd, .doc = what, .metadata = meta};
    unsigned char *data = NULL;
    size_t size = 0;
    cf_onnx_summary sum;
    CHECK_OK(cf_export_onnx_encode(m, &opt, &data, &size, &sum));
    if (!data) return;
    onnx_file o;
    decode(data, size - 1, &o);
    CHECK(o.bad, "%s: the reader takes a file cut short by a byte", what);
    onnx_free(&o);
    decode(data, size, &o);
    CHECK(!o.bad, "%s: the file does not decode as the expected ONNX messages", what);
    check_graph_io(what, &o, in);
    /* the layers the logits depend on, worked out here */
    unsigned char *live = calloc((size_t)net->n, 1);
    live[net->logits] = 1;
    for (int i = net->n - 1; i >= 0; i--)
        for (int k = 0; live[i] && k < net->layers[i].n_in; k++)
            if (net->layers[i].in[k] >= 0) live[net->layers[i].in[k]] = 1;
    int layers = 0, want_nodes = 2, zeros = 0, aux = 0;
    int64_t bn_channels = 0, live_params = 0, dead_params = 0;
    for (int i = 0; i < net->n; i++) {
        aux += net->layers[i].aux;
        int64_t params = 0;
        for (int k = 0; k < net->layers[i].n_w; k++) params += cf_net_weight_numel(&net->layers[i], k);
        if (!live[i] && !net->layers[i].aux) dead_params += params;
        if (!live[i]) continue;
        live_params += params;
        CHECK(!net->layers[i].aux, "%s: auxiliary layer %s feeds the logits", what, net->layers[i].name);
        layers++;
        want_nodes += nodes_of(&net->layers[i]);
        zeros += net->layers[i].kind == CF_OP_ZERO;
        fused_exported += fused(&net->layers[i]);
        if (net->layers[i].kind == CF_OP_BATCHNORM) bn_channels += net->layers[i].c;
    }
    CHECK(o.n_nodes == want_nodes && sum.nodes == want_nodes && sum.layers == layers && o.n_infos == layers,
          "%s: %d nodes (summary %d), %d shapes for %d layers; expected %d nodes", what, o.n_nodes, sum.nodes,
          o.n_infos, layers, want_nodes);

    /* each layer: its node, op, attributes, weights, and the tensors it reads */
    int64_t weights = 0, bn_floats = 0;
    const node *norm = find_node(&o, "normalize.div");
    for (int i = 0; i < net->n; i++) {
        if (!live[i]) continue;
        const cf_net_layer *l = &net->layers[i];
        const node *n = find_node(&o, l->name);
        CHECK(n != NULL, "%s: no node %s", what, l->name);
        if (!n) continue;
        CHECK(strcmp(n->op, op_of(l)) == 0 && n->n_out == 1, "%s: %s is %s, expected %s", what, l->name, n->op,
              op_of(l));
        CHECK((i == net->logits) == (strcmp(n->out, "logits") == 0), "%s: %s writes %s", what, l->name, n->out);
        /* the node that reads the layer's inputs: Flatten before Gemm, Slice before a strided
         * zero, BatchNormalization before the Relu of a fused batch norm */
        char first[160];
        snprintf(first, sizeof first, "%s/%s", l->name, entry_of(l));
        const node *entry = nodes_of(l) == 2 ? find_node(&o, first) : n;
        CHECK(entry != NULL, "%s: no node %s", what, first);
        for (int k = 0; entry && k < l->n_in; k++) {
            const node *src = l->in[k] == CF_NET_INPUT ? norm : find_node(&o, net->layers[l->in[k]].name);
            CHECK(src && k < entry->n_in && strcmp(entry->in[k], src->out) == 0,
                  "%s: input %d of %s is %s, not the output of %s", what, k, l->name, k < entry->n_in ?
                  entry->in[k] : "missing", l->in[k] == CF_NET_INPUT ? "the normalization" : net->layers[l->in[k]].name);
        }
        weights += check_layer(&o, m, i, n, &bn_floats);
    }
    cf_cost cost;
    CHECK_OK(cf_cost_of_net(net, 1, 0, &cost));
    /* the cost model counts every layer but the auxiliary head; layers the
     * logits do not read (an nb201 node whose only exit is "none") are not exported */
    CHECK(weights == live_params && live_params + dead_params == cost.params,
          "%s: %lld weight floats exported; the live layers hold %lld, the others %lld, the cost model counts %lld",
          what, (long long)weights, (long long)live_params, (long long)dead_params, (long long)cost.params);
    int64_t want_floats = live_params + bn_floats + 2 * in->c + (zeros ? 1 : 0);
    CHECK(sum.floats == want_floats && bn_floats >= 2 * bn_channels,
          "%s: %lld floats in the initializers, expected %lld (%lld parameters, %lld BN, %d channels, zero %d)", what,
          (long long)sum.floats, (long long)want_floats, (long long)live_params, (long long)bn_floats, in->c, zeros);
    const init *nm = find_init(&o, "normalize.mean"), *ns = find_init(&o, "normalize.std");
    CHECK(nm && ns && nm->nd == 4 && nm->dims[1] == in->c && memcmp(nm->raw, mean, (size_t)in->c * 4) == 0 &&
              memcmp(ns->raw, sd, (size_t)in->c * 4) == 0,
          "%s: normalization constants", what);

    check_node_order(what, &o);
    printf("%s: %d of %d layers (%d auxiliary) as %d nodes, %d initializers, %lld floats (%lld parameters left "
           "out), %zu bytes\n", what, layers, net->n, aux, o.n_nodes, o.n_inits, (long long)sum.floats,
           (long long)dead_params, size);

    check_file(what, m, &opt, data, size);
    free(live);
    onnx_free(&o);
    free(data);
}

/* ---- the networks ----------------------------------------------------------- */

typedef struct net_case {
    const char *space, *options, *arch;
    cf_net_input in;
} net_case;

static const net_case k_cases[] = {
    {"nb201", "C=4,N=1", "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|",
     {1, 28, 28, 10}},
    {"nb201", "C=3,N=2", "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|",
     {3, 16, 12, 4}},
    {"darts", "C=4,layers=3,auxiliary=1",
     "Genotype(normal=[('sep_conv_3x3', 0), ('dil_conv_3x3', 1), ('skip_connect', 0), ('max_pool_3x3', 2), "
     "('avg_pool_3x3', 1), ('sep_conv_5x5', 3), ('dil_conv_5x5', 2), ('skip_connect', 4)], normal_concat=[2, 3, 4, 5], "
     "reduce=[('max_pool_3x3', 0), ('skip_connect', 1), ('none', 0), ('avg_pool_3x3', 0), "
     "('dil_conv_3x3', 1), ('skip_connect', 3), ('sep_conv_3x3', 0), ('sep_conv_3x3', 4)], reduce_concat=[2, 3, 4, 5])",
     {1, 28, 28, 10}},
    {"nb101", "stem_channels=8,stacks=2,cells_per_stack=1",
     "{\"matrix\":[[0,1,1,0,0,1,0],[0,0,0,1,0,0,0],[0,0,0,0,1,0,1],[0,0,0,0,1,0,0],[0,0,0,0,0,0,1],"
     "[0,0,0,0,0,0,1],[0,0,0,0,0,0,0]],\"ops\":[\"input\",\"conv3x3-bn-relu\",\"maxpool3x3\","
     "\"conv1x1-bn-relu\",\"conv3x3-bn-relu\",\"conv1x1-bn-relu\",\"output\"]}",
     {1, 28, 28, 10}},
    {"mobile", "width=0.25", "k3e3-k5e4|k5e6|k7e3|k3e4|k5e3", {1, 28, 28, 10}},
};

/* Random inputs through a few training forwards: BN running statistics away
 * from 0 and 1, so that the exported values are the model's and not defaults. */
static void warm_up(cf_model *m) {
    const cf_net_input *in = &m->net->input;
    size_t n = (size_t)m->batch * in->c * in->h * in->w;
    float *x = malloc(n * sizeof *x);
    uint32_t r = 12345;
    for (size_t i = 0; i < n; i++) {
        r = r * 1664525u + 1013904223u;
        x[i] = (float)(r >> 8) / 16777216.0f * 2.0f - 0.5f;
    }
    for (int k = 0; k < 2; k++) CHECK_OK(cf_model_forward(m, x, m->batch, 1));
    free(x);
}

static cf_model *build(const net_case *nc) {
    cf_model *m = NULL;
    cf_net *net = kit_net(nc->space, nc->options, nc->arch, &nc->in);
    if (net) CHECK_OK(cf_model_create(net, 2, cf_backend_cpu_ref(), 0, &m));
    if (!m) return NULL;
    cf_model_init(m, 7);
    warm_up(m);
    return m;
}

/* Layer kinds no family builds today: BN without affine parameters,
 * identity, dropout; and a strided zero feeding a sum. */
static cf_model *build_by_hand(void) {
    cf_net *net = calloc(1, sizeof *net);
    net->input = (cf_net_input){2, 9, 9, 3};
    net->aux_logits = -1;
    net->n = net->cap = 8;
    net->layers = calloc(8, sizeof *net->layers);
    cf_net_layer *L = net->layers;
    L[0] = (cf_net_layer){.kind = CF_OP_CONV2D, .n_in = 1, .in = {CF_NET_INPUT}, .c = 4, .h = 5, .w = 5, .n_w = 2,
                          .w_shape = {{4, 1, 3, 3}, {4, 1, 1, 1}}, .name = "conv"};
    L[0].params.conv = (cf_conv2d_params){2, 2, 1, 1, 1, 1, 2};
    L[1] = (cf_net_layer){.kind = CF_OP_BATCHNORM, .n_in = 1, .in = {0}, .c = 4, .h = 5, .w = 5, .name = "bn"};
    L[1].params.bn = (cf_batchnorm_params){.eps = 1e-3, .momentum = 0.1};
    L[2] = (cf_net_layer){.kind = CF_OP_IDENTITY, .n_in = 1, .in = {1}, .c = 4, .h = 5, .w = 5, .name = "same"};
    L[3] = (cf_net_layer){.kind = CF_OP_ZERO, .n_in = 1, .in = {CF_NET_INPUT}, .c = 2, .h = 5, .w = 5,
                          .name = "nothing"};
    L[3].params.zero.stride = 2;
    L[4] = (cf_net_layer){.kind = CF_OP_CONCAT, .n_in = 2, .in = {2, 3}, .c = 6, .h = 5, .w = 5, .name = "cat"};
    L[5] = (cf_net_layer){.kind = CF_OP_DROPOUT, .n_in = 1, .in = {4}, .c = 6, .h = 5, .w = 5, .name = "drop"};
    L[5].params.dropout.p = 0.5;
    L[6] = (cf_net_layer){.kind = CF_OP_LINEAR, .n_in = 1, .in = {5}, .c = 3, .h = 1, .w = 1, .n_w = 1,
                          .w_shape = {{3, 150, 1, 1}}, .name = "fc"};
    L[7] = (cf_net_layer){.kind = CF_OP_RELU, .n_in = 1, .in = {5}, .c = 6, .h = 5, .w = 5, .name = "unused"};
    net->logits = 6;
    cf_model *m = NULL;
    CHECK_OK(cf_model_create(net, 2, cf_backend_cpu_ref(), 0, &m));
    if (m) cf_model_init(m, 3);
    return m;
}

/* A supernet's mix has no ONNX form: the export is refused, naming the layer
 * and saying what to do, and writes no file. */
static void check_mix_refused(void) {
    const char *path = "/tmp/cellforge_mix_never.onnx";
    cf_net *net = calloc(1, sizeof *net);
    net->input = (cf_net_input){1, 6, 6, 2};
    net->aux_logits = -1;
    net->n = net->cap = 4;
    net->layers = calloc(4, sizeof *net->layers);
    cf_net_layer *L = net->layers;
    L[0] = (cf_net_layer){.kind = CF_OP_RELU, .n_in = 1, .in = {CF_NET_INPUT}, .c = 1, .h = 6, .w = 6, .name = "a"};
    L[1] = (cf_net_layer){.kind = CF_OP_IDENTITY, .n_in = 1, .in = {CF_NET_INPUT}, .c = 1, .h = 6, .w = 6, .name = "b"};
    L[2] = (cf_net_layer){.kind = CF_OP_MIX, .n_in = 2, .in = {0, 1}, .c = 1, .h = 6, .w = 6, .n_w = 1,
                          .w_shape = {{2, 1, 1, 1}}, .name = "edge.mix"};
    L[3] = (cf_net_layer){.kind = CF_OP_LINEAR, .n_in = 1, .in = {2}, .c = 2, .h = 1, .w = 1, .n_w = 1,
                          .w_shape = {{2, 36, 1, 1}}, .name = "fc"};
    net->logits = 3;
    cf_model *m = NULL;
    CHECK_OK(cf_model_create(net, 2, cf_backend_cpu_ref(), 0, &m));
    if (!m) return;
    cf_model_init(m, 3);
    unlink(path);
    CHECK_FAILS(cf_export_onnx(m, NULL, path, NULL), CF_ERR_UNSUPPORTED, "edge.mix",
                "a supernet's mix layer has no ONNX export; derive an architecture first");
    CHECK(access(path, F_OK) != 0, "a refused export left %s behind", path);
    cf_model_destroy(m);
}

int main(int argc, char **argv) {
    if (argc > 1) setenv("CELLFORGE_SPACES", argv[1], 1);
    for (size_t k = 0; k < sizeof k_cases / sizeof *k_cases; k++) {
        cf_model *m = build(&k_cases[k]);
        if (!m) continue;
        char what[64];
        snprintf(what, sizeof what, "%s %s", k_cases[k].space, k_cases[k].options);
        check_model(what, m);
        if (strcmp(k_cases[k].space, "darts") == 0)
            CHECK(m->net->aux_logits >= 0, "the darts case has no auxiliary head to leave out");
        cf_model_destroy(m);
    }
    CHECK(fused_exported > 0, "no family's network exported a fused batch norm + ReLU");
    cf_model *m = build_by_hand();
    if (m) {
        check_model("by hand", m);
        /* errors name the file */
        CHECK_FAILS(cf_export_onnx(m, NULL, "/nonexistent/dir/m.onnx", NULL), CF_ERR_IO, "/nonexistent/dir/m.onnx",
                    "cannot create");
        cf_model_destroy(m);
    }
    cf_net *net = NULL;
    cf_space *s = NULL;
    cf_arch a;
    CHECK_OK(cf_space_load("nb201", &s));
    if (s && cf_arch_parse(s, k_cases[0].arch, &a) == CF_OK && cf_net_build(s, &a, &k_cases[0].in, &net) == CF_OK) {
        cf_model *m64 = NULL;
        CHECK_OK(cf_model_create_dtype(net, 1, cf_backend_cpu_ref(), 0, CF_DTYPE_F64, &m64));
        if (m64)
            CHECK_FAILS(cf_export_onnx(m64, NULL, "/tmp/never.onnx", NULL), CF_ERR_UNSUPPORTED, "/tmp/never.onnx",
                        "f32");
        cf_model_destroy(m64);
    }
    cf_space_destroy(s);
    check_mix_refused();
    return test_finish("test_export_onnx");
}
