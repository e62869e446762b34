/* test_net_fuse.c - the batch norm + ReLU fusion pass of cf_net_build.
 *
 * For a small network of each family, built with the pass (cf_net_build) and
 * without it (cf_netb_build, fuse = 0):
 *  - where it fuses: NB201's head (lastact) and the ReLU after a reduction
 *    block's first BN; NB201 cell ReLUs that read a node also read by other
 *    edges are left alone; every NB-101 ConvBnRelu and every MBConv ReLU;
 *    DARTS's separable convolutions and auxiliary head, but not the ReLU at
 *    the head's entry (it reads a concat) nor any drop-path layer
 *  - the pass leaves nothing it could still fuse (a second pass fuses none),
 *    every fused layer keeps the batch norm's name and build index, the
 *    classifiers stay classifiers, and parameter and MAC counts are unchanged
 *  - the fused model computes what the unfused one does, bit for bit: loss,
 *    logits, every weight gradient and every BN statistic after a training
 *    step (drop-path on for DARTS), and the logits of an inference forward,
 *    in f64 on the reference backend and in f32 on the fast backend
 *  - a supernet's mix (built by hand) is never fused: its branch's BN + ReLU
 *    is, the mix keeps its inputs and coefficients, the ReLU reading it stays
 *
 *   build/tests/test_net_fuse SPACES_DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/nn/net_build.h"
#include "cellforge/cost.h"
#include "cellforge/model.h"
#include "cellforge/rng.h"
#include "check.h"
#include "space_kit.h"

typedef struct fuse_case {
    const char *space, *options, *arch;
    cf_net_input in;
    int with_aux;
    double drop_path;
    const char *fused[4];     /* layers expected as batchnorm+relu (NULL ends) */
    const char *kept[4];      /* ReLU layers expected to stay */
    int no_relu_left;         /* every ReLU of the family follows its own batch norm */
} fuse_case;

static const fuse_case k_cases[] = {
    {"nb201", "C=4,N=1", "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|",
     {1, 8, 8, 3}, 0, 0.0, {"head.bn", "cells.1.reduce.a.bn"}, {"cells.0.e0_1.relu", "cells.0.e1_3.relu"}, 0},
    {"darts", "C=4,layers=3,auxiliary=1,drop_path=0.3",
     "Genotype(normal=[('sep_conv_3x3', 0), ('dil_conv_3x3', 1), ('skip_connect', 0), ('max_pool_3x3', 2), "
     "('avg_pool_3x3', 1), ('sep_conv_5x5', 3), ('dil_conv_5x5', 2), ('skip_connect', 4)], normal_concat=[2, 3, 4, 5], "
     "reduce=[('max_pool_3x3', 0), ('skip_connect', 1), ('sep_conv_3x3', 2), ('avg_pool_3x3', 0), "
     "('dil_conv_3x3', 1), ('skip_connect', 3), ('none', 0), ('sep_conv_3x3', 4)], reduce_concat=[2, 3, 4, 5])",
     {1, 20, 20, 3}, 1, 0.3, {"aux.bn1", "aux.bn2"}, {"aux.relu0"}, 0},
    {"nb101", "stem_channels=4,stacks=2,cells_per_stack=1",
     "{\"matrix\":[[0,1,1,0,0,1,0],[0,0,0,1,0,0,0],[0,0,0,0,1,0,1],[0,0,0,0,1,0,0],[0,0,0,0,0,0,1],"
     "[0,0,0,0,0,0,1],[0,0,0,0,0,0,0]],\"ops\":[\"input\",\"conv3x3-bn-relu\",\"maxpool3x3\","
     "\"conv1x1-bn-relu\",\"conv3x3-bn-relu\",\"conv1x1-bn-relu\",\"output\"]}",
     {3, 8, 8, 5}, 0, 0.0, {"stem.bn"}, {NULL}, 1},
    {"mobile", "width=0.25", "k3e3|k5e4|k3e6-k7e3|k3e3|k5e3", {1, 12, 12, 3}, 0, 0.0, {NULL}, {NULL}, 1},
};

static int find(const cf_net *net, const char *name) {
    for (int i = 0; i < net->n; i++)
        if (strcmp(net->layers[i].name, name) == 0) return i;
    return -1;
}

static int fused(const cf_net_layer *l) { return l->kind == CF_OP_BATCHNORM && l->params.bn.relu; }

/* Both networks of a case; 0 when either fails to build. */
static int build_pair(const fuse_case *fc, cf_net **plain, cf_net **fast) {
    *plain = *fast = NULL;
    cf_space *s = kit_space(fc->space, fc->options);
    if (!s) return 0;
    cf_arch a;
    CHECK_OK(cf_arch_parse(s, fc->arch, &a));
    CHECK_OK(cf_netb_build(s, &a, &fc->in, 0, plain));
    CHECK_OK(cf_net_build(s, &a, &fc->in, fast));
    cf_space_destroy(s);
    return *plain && *fast;
}

static void check_structure(const fuse_case *fc, const cf_net *plain, cf_net *net) {
    int n_fused = 0, relus = 0;
    for (int i = 0; i < net->n; i++) {
        const cf_net_layer *l = &net->layers[i];
        n_fused += fused(l);
        relus += l->kind == CF_OP_RELU;
        CHECK(l->origin >= 0 && l->origin < plain->n && strcmp(plain->layers[l->origin].name, l->name) == 0,
              "%s: layer %s has build index %d, which is %s", fc->space, l->name, l->origin,
              l->origin >= 0 && l->origin < plain->n ? plain->layers[l->origin].name : "out of range");
        for (int k = 0; k < l->n_in; k++)
            CHECK(l->in[k] >= CF_NET_INPUT && l->in[k] < i, "%s: %s reads layer %d", fc->space, l->name, l->in[k]);
        if (fused(l)) {
            /* in the unfused network: a batch norm whose one reader is a ReLU */
            const int b = l->origin;
            int readers = 0, relu = -1;
            for (int j = 0; j < plain->n; j++)
                for (int k = 0; k < plain->layers[j].n_in; k++)
                    if (plain->layers[j].in[k] == b) readers++, relu = j;
            CHECK(readers == 1 && relu >= 0 && plain->layers[relu].kind == CF_OP_RELU && !l->drop_path,
                  "%s: %s fused, but it had %d readers", fc->space, l->name, readers);
            CHECK(strcmp(cf_net_layer_op_name(l), "batchnorm+relu") == 0, "%s: %s is listed as %s", fc->space, l->name,
                  cf_net_layer_op_name(l));
        }
    }
    CHECK(n_fused > 0 && net->n == plain->n - n_fused && net->n_built == plain->n,
          "%s: %d layers, %d fused, %d built; unfused %d", fc->space, net->n, n_fused, net->n_built, plain->n);
    for (int k = 0; k < 4 && fc->fused[k]; k++) {
        int i = find(net, fc->fused[k]);
        CHECK(i >= 0 && fused(&net->layers[i]), "%s: %s is not fused", fc->space, fc->fused[k]);
    }
    for (int k = 0; k < 4 && fc->kept[k]; k++) {
        int i = find(net, fc->kept[k]);
        CHECK(i >= 0 && net->layers[i].kind == CF_OP_RELU, "%s: ReLU %s is gone", fc->space, fc->kept[k]);
    }
    if (fc->no_relu_left) CHECK(relus == 0, "%s: %d ReLU layers left unfused", fc->space, relus);
    CHECK(strcmp(net->layers[net->logits].name, plain->layers[plain->logits].name) == 0 &&
              (plain->aux_logits < 0) == (net->aux_logits < 0) &&
              (net->aux_logits < 0 ||
               strcmp(net->layers[net->aux_logits].name, plain->layers[plain->aux_logits].name) == 0),
          "%s: the classifiers moved", fc->space);
    for (int i = 0; i < net->n; i++)
        CHECK(!net->layers[i].drop_path || !fused(&net->layers[i]), "%s: %s fused and goes through drop-path",
              fc->space, net->layers[i].name);
    cf_cost cp, cf;
    CHECK_OK(cf_cost_of_net(plain, 8, 1, &cp));
    CHECK_OK(cf_cost_of_net(net, 8, 1, &cf));
    CHECK(cp.params == cf.params && cp.params_aux == cf.params_aux && cp.macs == cf.macs &&
              cp.flops_nb201 == cf.flops_nb201 && cf.fused == n_fused && cf.activation_bytes <= cp.activation_bytes,
          "%s: costs differ: params %lld/%lld macs %lld/%lld activations %zu/%zu", fc->space, (long long)cp.params,
          (long long)cf.params, (long long)cp.macs, (long long)cf.macs, cp.activation_bytes, cf.activation_bytes);
    /* the pass leaves nothing to fuse */
    CHECK(cf_netb_fuse_bn_relu(net) == 0, "%s: a second pass still fuses", fc->space);
    printf("%-6s %3d layers unfused, %3d fused (%d batchnorm+relu), activations %zu -> %zu bytes at batch 8\n",
           fc->space, plain->n, net->n, n_fused, cp.activation_bytes, cf.activation_bytes);
}

/* One training step (forward, loss, backward) then an inference forward. */
typedef struct step_result {
    double loss;
    void *param, *grad, *state, *logits, *eval_logits;
    size_t pbytes, sbytes, lbytes;
} step_result;

static void run_step(const fuse_case *fc, cf_net *net, const cf_backend *be, cf_dtype dt, step_result *r) {
    memset(r, 0, sizeof *r);
    const int batch = 4;
    cf_model *m = NULL;
    CHECK_OK(cf_model_create_dtype(net, batch, be, fc->with_aux, dt, &m));
    if (!m) return;
    m->drop_path = fc->drop_path;
    m->seed = 99;
    cf_model_init(m, 1234);
    cf_rng rng = cf_rng_make(5, cf_rng_stream(0, CF_RNG_PURPOSE_TEST));
    const size_t image = (size_t)fc->in.c * fc->in.h * fc->in.w, elem = cf_dtype_size(dt);
    unsigned char *x = malloc(batch * image * elem);
    int32_t y[4];
    for (size_t i = 0; i < batch * image; i++) {
        double v = cf_rng_normal(&rng);
        if (dt == CF_DTYPE_F64) ((double *)x)[i] = v;
        else ((float *)x)[i] = (float)v;
    }
    for (int b = 0; b < batch; b++) y[b] = (int32_t)cf_rng_below(&rng, (uint32_t)fc->in.classes);
    m->step = 6;
    CHECK_OK(cf_model_forward(m, x, batch, 1));
    CHECK_OK(cf_model_loss(m, y, 0.1, &r->loss));
    /* before backward, which may reuse the logits' bytes for gradients */
    r->lbytes = (size_t)batch * fc->in.classes * elem;
    r->logits = malloc(r->lbytes);
    memcpy(r->logits, cf_model_logits(m), r->lbytes);
    CHECK_OK(cf_model_backward(m));
    CHECK_OK(cf_model_to_host(m));
    r->pbytes = m->n_params * elem;
    r->sbytes = m->n_state * elem;
    r->param = malloc(r->pbytes);
    r->grad = malloc(r->pbytes);
    r->state = malloc(r->sbytes);
    memcpy(r->param, m->param, r->pbytes);
    memcpy(r->grad, m->grad, r->pbytes);
    memcpy(r->state, m->state, r->sbytes);
    CHECK_OK(cf_model_forward(m, x, batch, 0));
    r->eval_logits = malloc(r->lbytes);
    memcpy(r->eval_logits, cf_model_logits(m), r->lbytes);
    free(x);
    cf_model_destroy(m);
}

static void free_result(step_result *r) {
    free(r->param);
    free(r->grad);
    free(r->state);
    free(r->logits);
    free(r->eval_logits);
}

/* The unfused and the fused network give the same bits; takes both networks. */
static void compare_runs(const fuse_case *fc, cf_net *plain, cf_net *net, const cf_backend *be, cf_dtype dt) {
    step_result u, f;
    run_step(fc, plain, be, dt, &u); /* the models own the networks */
    run_step(fc, net, be, dt, &f);
    const char *what = cf_backend_name(be);
    CHECK(u.param && f.param && u.pbytes == f.pbytes && u.sbytes == f.sbytes, "%s %s: model layouts differ",
          fc->space, what);
    if (u.param && f.param && u.pbytes == f.pbytes && u.sbytes == f.sbytes) {
        CHECK(u.loss == f.loss, "%s %s: loss %.17g unfused, %.17g fused", fc->space, what, u.loss, f.loss);
        CHECK(memcmp(u.logits, f.logits, u.lbytes) == 0, "%s %s: training logits differ", fc->space, what);
        CHECK(memcmp(u.param, f.param, u.pbytes) == 0, "%s %s: initial weights differ", fc->space, what);
        CHECK(memcmp(u.grad, f.grad, u.pbytes) == 0, "%s %s: weight gradients differ", fc->space, what);
        CHECK(memcmp(u.state, f.state, u.sbytes) == 0, "%s %s: BN statistics differ", fc->space, what);
        CHECK(memcmp(u.eval_logits, f.eval_logits, u.lbytes) == 0, "%s %s: inference logits differ", fc->space, what);
    }
    free_result(&u);
    free_result(&f);
}

static void check_same_results(const fuse_case *fc, const cf_backend *be, cf_dtype dt) {
    cf_net *plain = NULL, *net = NULL;
    if (!build_pair(fc, &plain, &net)) {
        cf_net_destroy(plain);
        cf_net_destroy(net);
        return;
    }
    compare_runs(fc, plain, net, be, dt);
}

/* A one-shot supernet's edge, built by hand: a stem conv, then the mix of a
 * BN + ReLU branch, a max pool and a zero branch, a ReLU of the mix, pooling
 * and a classifier; fused or not. */
static cf_net *supernet(const cf_net_input *in, int fuse) {
    cf_net *net = calloc(1, sizeof *net);
    CF_ASSERT(net != NULL);
    net->input = *in;
    net->logits = net->aux_logits = -1;
    const int stem = cf_netb_conv(net, CF_NET_INPUT, 4, 3, 1, 1, 1, 1, 0, "stem");
    const int bn = cf_netb_bn(net, stem, 1, "edge.bn");
    const int xs[3] = {cf_netb_relu(net, bn, "edge.relu"), cf_netb_pool(net, stem, CF_OP_MAXPOOL2D, 3, 1, 1, "edge.pool"),
                       cf_netb_zero(net, stem, 1, "edge.none")};
    const int act = cf_netb_relu(net, cf_netb_mix(net, 3, xs, "edge.mix"), "head.relu");
    net->logits = cf_netb_linear(net, cf_netb_global_avgpool(net, act, "head.gap"), in->classes, 1, "head.fc");
    net->n_built = net->n;
    if (fuse) cf_netb_fuse_bn_relu(net);
    CHECK(net->err == CF_OK, "supernet: %s", cf_error_message());
    return net;
}

/* The pass fuses the branch's ReLU into its batch norm and never touches the
 * mix: it reads the fused layer, the pool and the zero branch under their new
 * indices, keeps its coefficients, and the ReLU that reads it stays a ReLU.
 * Then the fused supernet trains to the unfused one's bits. */
static void check_supernet(const cf_backend *fast) {
    const cf_net_input in = {2, 8, 8, 3};
    cf_net *plain = supernet(&in, 0), *net = supernet(&in, 1);
    const int m = find(net, "edge.mix"), b = find(net, "edge.bn"), r = find(net, "head.relu");
    const cf_net_layer *l = m >= 0 ? &net->layers[m] : NULL;
    CHECK(net->n == plain->n - 1 && b >= 0 && fused(&net->layers[b]), "supernet: the branch's batch norm is not fused");
    CHECK(l && l->kind == CF_OP_MIX && l->n_in == 3 && l->in[0] == b && l->in[1] == find(net, "edge.pool") &&
              l->in[2] == find(net, "edge.none") && l->n_w == 1 && l->w_shape[0][0] == 3 && l->w_shape[0][1] == 1,
          "supernet: the mix lost its inputs or its coefficients");
    CHECK(r >= 0 && net->layers[r].kind == CF_OP_RELU && net->layers[r].in[0] == m,
          "supernet: the ReLU of the mix did not stay");
    CHECK(cf_netb_fuse_bn_relu(net) == 0, "supernet: a second pass still fuses");
    const fuse_case fc = {"supernet", "", "", in, 0, 0.0, {NULL}, {NULL}, 0};
    compare_runs(&fc, plain, net, cf_backend_cpu_ref(), CF_DTYPE_F64);
    if (fast) compare_runs(&fc, supernet(&in, 0), supernet(&in, 1), fast, CF_DTYPE_F32);
}

int main(int argc, char **argv) {
    if (argc > 1) setenv("CELLFORGE_SPACES", argv[1], 1);
    cf_backend *fast = NULL;
    CHECK_OK(cf_backend_cpu_fast_create(2, &fast));
    for (size_t k = 0; k < sizeof k_cases / sizeof *k_cases; k++) {
        const fuse_case *fc = &k_cases[k];
        cf_net *plain = NULL, *net = NULL;
        if (build_pair(fc, &plain, &net)) check_structure(fc, plain, net);
        cf_net_destroy(plain);
        cf_net_destroy(net);
        check_same_results(fc, cf_backend_cpu_ref(), CF_DTYPE_F64);
        if (fast) check_same_results(fc, fast, CF_DTYPE_F32);
    }
    check_supernet(fast);
    cf_backend_cpu_fast_destroy(fast);
    return test_finish("test_net_fuse");
}
