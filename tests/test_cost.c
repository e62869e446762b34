/* test_cost.c - the exact cost model against published figures and against
 * PyTorch builds of the same networks.
 *
 * 1. Published figures: NAS-Bench-201 (CIFAR-10/100, C=16, N=5; the API's
 *    "flops" and "params" of its cost tables), DARTS_V2 (CIFAR-10, C=36,
 *    20 layers: "param size = 3.349342MB"), NAS-Bench-101 (the README's
 *    Inception-like cell, 2,694,282 trainable parameters in the nasbench
 *    notebook, and the dataset's 8,555,530 for the cell of its hash example).
 * 2. tests/golden/cost_torch.tsv: params, auxiliary-head params and MACs of
 *    ~590 networks of all four spaces built in PyTorch by
 *    tools/make_cost_golden.py and counted with forward hooks. Exact equality.
 * 3. The activation plan: cf_cost's activation_bytes is the plan the trainer
 *    allocates; every forward output gets its own bytes (they are all alive
 *    when backward starts).
 * 4. A supernet's mix (cf_netb_mix, by hand): K x C x H x W MACs, and its
 *    coefficients are not counted as parameters.
 *
 *   build/tests/test_cost SPACES_DIR GOLDEN_DIR
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/nn/net_build.h"
#include "cellforge/cost.h"
#include "check.h"

typedef struct published {
    const char *space, *options; /* options as "C=16,N=5" */
    cf_net_input in;
    const char *arch;
    int64_t params;              /* -1: not published */
    int64_t flops_nb201;         /* NB201's FLOPs (MFLOPs x 1e6), -1: not published */
    const char *source;
} published;

#define CIFAR10 {3, 32, 32, 10}
#define CIFAR100 {3, 32, 32, 100}
#define NB201_OPTS "C=16,N=5"

static const published k_published[] = {
    {"nb201", NB201_OPTS, CIFAR10,
     "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
     1531546, 220119690, "NB201 cost table: largest network, 220.11969 MFLOPs, 1.531546 MB"},
    {"nb201", NB201_OPTS, CIFAR10, "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", 73306, 7783050,
     "NB201 cost table: smallest network, 7.78305 MFLOPs, 0.073306 MB"},
    {"nb201", NB201_OPTS, CIFAR10,
     "|skip_connect~0|+|none~0|nor_conv_3x3~1|+|avg_pool_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|", 802426,
     113951370, "NATS-Bench issue 36: 113.95137 MFLOPs, 0.802426 MB"},
    {"nb201", NB201_OPTS, CIFAR10,
     "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|", -1,
     15647370, "NATS-Bench issue 24: index 0 on cifar10-valid, 15.64737 MFLOPs"},
    {"nb201", NB201_OPTS, CIFAR100,
     "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|", -1,
     15653220, "NATS-Bench issue 24: index 0 on cifar100, 15.65322 MFLOPs"},
    {"nb201", NB201_OPTS, CIFAR100,
     "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
     1537396, 220125540, "NB201 cost table, cifar100: 220.12554 MFLOPs, 1.537396 MB"},
    {"darts", "C=36,layers=20,auxiliary=1", CIFAR10,
     "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
     "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
     "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
     "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
     "('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])",
     3349342, -1, "DARTS_V2 on CIFAR-10: param size = 3.349342MB (auxiliary head excluded)"},
    {"nb101", "stem_channels=128,stacks=3,cells_per_stack=3", CIFAR10,
     "{\"matrix\":[[0,1,1,1,0,1,0],[0,0,0,0,0,0,1],[0,0,0,0,0,0,1],[0,0,0,0,1,0,0],[0,0,0,0,0,0,1],"
     "[0,0,0,0,0,0,1],[0,0,0,0,0,0,0]],\"ops\":[\"input\",\"conv1x1-bn-relu\",\"conv3x3-bn-relu\","
     "\"conv3x3-bn-relu\",\"conv3x3-bn-relu\",\"maxpool3x3\",\"output\"]}",
     2694282, -1, "NAS-Bench-101 Inception-like cell of its README, as queried in its NASBench.ipynb: trainable_parameters 2694282"},
    {"nb101", "stem_channels=128,stacks=3,cells_per_stack=3", CIFAR10,
     "{\"matrix\":[[0,1,0,0,1,1,0],[0,0,1,0,0,0,0],[0,0,0,1,0,0,1],[0,0,0,0,0,1,0],[0,0,0,0,0,1,0],"
     "[0,0,0,0,0,0,1],[0,0,0,0,0,0,0]],\"ops\":[\"input\",\"conv3x3-bn-relu\",\"maxpool3x3\","
     "\"conv3x3-bn-relu\",\"conv3x3-bn-relu\",\"conv1x1-bn-relu\",\"output\"]}",
     8555530, -1, "NAS-Bench-101 dataset, hash example cell: trainable_parameters 8555530"},
};

static cf_space *load_with(const char *name, const char *options) {
    cf_space *s = NULL;
    if (cf_space_load(name, &s) != CF_OK) {
        CHECK(0, "load %s: %s", name, cf_error_message());
        return NULL;
    }
    char buf[256];
    snprintf(buf, sizeof buf, "%s", options);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (cf_space_set_kv(s, tok) != CF_OK) {
            CHECK(0, "%s: set %s: %s", name, tok, cf_error_message());
            cf_space_destroy(s);
            return NULL;
        }
    }
    return s;
}

static int cost_of_text(const char *space, const char *options, const cf_net_input *in,
                        const char *arch, cf_cost *c) {
    cf_space *s = load_with(space, options);
    if (!s) return 0;
    cf_arch a;
    int ok = 0;
    if (cf_arch_parse(s, arch, &a) != CF_OK)
        CHECK(0, "%s: parse %.60s...: %s", space, arch, cf_error_message());
    else if (cf_cost_of(s, &a, in, 64, c) != CF_OK)
        CHECK(0, "%s: cost of %.60s...: %s", space, arch, cf_error_message());
    else
        ok = 1;
    cf_space_destroy(s);
    return ok;
}

static void check_published(void) {
    for (size_t i = 0; i < sizeof k_published / sizeof k_published[0]; i++) {
        const published *p = &k_published[i];
        cf_cost c;
        if (!cost_of_text(p->space, p->options, &p->in, p->arch, &c)) continue;
        if (p->params >= 0)
            CHECK(c.params == p->params, "%s: params %" PRId64 ", published %" PRId64, p->source,
                  c.params, p->params);
        if (p->flops_nb201 >= 0)
            CHECK(c.flops_nb201 == p->flops_nb201, "%s: flops %" PRId64 ", published %" PRId64,
                  p->source, c.flops_nb201, p->flops_nb201);
        printf("published  %-6s params %9" PRId64 "  macs %10" PRId64 "  nb201 flops %10" PRId64
               "  (%s)\n", p->space, c.params, c.macs, c.flops_nb201, p->source);
    }
}

/* Every row of the PyTorch fixture, exactly. */
static void check_torch(const char *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/cost_torch.tsv", dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    if (!f) return;
    char *line = NULL;
    size_t cap = 0;
    int rows = 0, lineno = 0;
    char last_space[32] = "", last_opts[128] = "";
    cf_space *s = NULL;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n') continue;
        line[strcspn(line, "\n")] = 0;
        char *field[8];
        int n = 0;
        for (char *p = line; n < 8; n++) {
            field[n] = p;
            char *tab = strchr(p, '\t');
            if (!tab) {
                n++;
                break;
            }
            *tab = 0;
            p = tab + 1;
        }
        CHECK(n == 8, "%s:%d: %d fields, expected 8", path, lineno, n);
        if (n != 8) continue;
        if (!s || strcmp(last_space, field[0]) || strcmp(last_opts, field[1])) {
            cf_space_destroy(s);
            s = load_with(field[0], field[1]);
            snprintf(last_space, sizeof last_space, "%s", field[0]);
            snprintf(last_opts, sizeof last_opts, "%s", field[1]);
            if (!s) continue;
        }
        cf_net_input in;
        CHECK(sscanf(field[2], "%dx%dx%d", &in.h, &in.w, &in.c) == 3, "%s:%d: input", path, lineno);
        in.classes = atoi(field[3]);
        cf_arch a;
        cf_cost c;
        if (cf_arch_parse(s, field[4], &a) != CF_OK) {
            CHECK(0, "%s:%d: parse: %s", path, lineno, cf_error_message());
            continue;
        }
        if (cf_cost_of(s, &a, &in, 8, &c) != CF_OK) {
            CHECK(0, "%s:%d: cost: %s", path, lineno, cf_error_message());
            continue;
        }
        int64_t params = strtoll(field[5], NULL, 10), aux = strtoll(field[6], NULL, 10),
                macs = strtoll(field[7], NULL, 10);
        CHECK(c.params == params && c.params_aux == aux && c.macs == macs,
              "%s:%d %s %s: params %" PRId64 "/%" PRId64 " aux %" PRId64 "/%" PRId64 " macs %" PRId64
              "/%" PRId64 " (ours/torch)",
              path, lineno, field[0], field[4], c.params, params, c.params_aux, aux, c.macs, macs);
        rows++;
    }
    cf_space_destroy(s);
    free(line);
    fclose(f);
    printf("torch      %d networks compared\n", rows);
    CHECK(rows > 500, "only %d rows in %s", rows, path);
}

/* The plan behind activation_bytes: forward outputs never share bytes. */
static void check_plan(void) {
    cf_space *s = load_with("nb201", "C=16,N=1");
    if (!s) return;
    cf_arch a;
    CHECK_OK(cf_arch_parse(s, "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|", &a));
    cf_net_input in = {1, 28, 28, 10};
    cf_net *net = NULL;
    CHECK_OK(cf_net_build(s, &a, &in, &net));
    cf_net_plan plan;
    CHECK_OK(cf_net_plan_activations(net, 256, 4, 0, &plan));
    cf_cost c;
    CHECK_OK(cf_cost_of(s, &a, &in, 256, &c));
    CHECK(c.activation_bytes == plan.bytes, "cost says %zu bytes, the plan %zu", c.activation_bytes, plan.bytes);
    size_t sum = (size_t)256 * 28 * 28 * 4;
    for (int i = 0; i < net->n; i++) {
        size_t bi = (size_t)cf_net_layer_numel(&net->layers[i]) * 256 * 4;
        sum += bi;
        CHECK(plan.y_offset[i] + bi <= plan.bytes, "y %d outside the arena", i);
        for (int j = 0; j < i; j++) {
            size_t bj = (size_t)cf_net_layer_numel(&net->layers[j]) * 256 * 4;
            int apart = plan.y_offset[i] + bi <= plan.y_offset[j] || plan.y_offset[j] + bj <= plan.y_offset[i];
            CHECK(apart, "forward outputs %d and %d overlap", i, j);
        }
    }
    CHECK(plan.bytes >= sum, "plan %zu bytes < the %zu bytes of forward outputs", plan.bytes, sum);
    printf("plan       nb201 C=16 N=1 28x28x1 batch 256: %zu layers, %.1f MiB (forward outputs %.1f MiB)\n",
           (size_t)net->n, plan.bytes / 1048576.0, sum / 1048576.0);
    cf_net_plan_free(&plan);
    cf_net_destroy(net);
    cf_space_destroy(s);
}

/* Counts that do not fit 64 bits fail with the count and the layer named, and
 * an input the reductions cannot take names the sizes that fit. */
static void check_limits(void) {
    const char *best = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|";
    cf_space *s = load_with("nb201", "C=4096,N=256");
    if (!s) return;
    cf_arch a;
    CHECK_OK(cf_arch_parse(s, best, &a));
    cf_cost c;
    /* over 2^63 MACs: they wrapped to a negative figure that passed any --max-macs */
    CHECK_FAILS(cf_cost_of(s, &a, &(cf_net_input){3, 4096, 4096, 10}, 256, &c), CF_ERR_INVALID_ARG,
                "MACs do not fit a 64-bit count", "at layer cells.");
    cf_space_destroy(s);
    s = load_with("nb201", "C=16,N=1");
    if (!s) return;
    cf_net *net = NULL;
    CHECK_OK(cf_net_build(s, &a, &(cf_net_input){4096, 65536, 65536, 10}, &net));
    cf_net_plan plan;
    if (net)
        CHECK_FAILS(cf_net_plan_activations(net, 1 << 30, 4, 0, &plan), CF_ERR_INVALID_ARG,
                    "do not fit a 64-bit size", "batch 1073741824");
    cf_net_destroy(net);
    CHECK_FAILS(cf_net_build(s, &a, &(cf_net_input){1, 29, 29, 10}, &net), CF_ERR_SHAPE,
                "the input size 29x29 does not fit the reductions", "nearest sizes that fit are 28x28 and 32x32");
    CHECK_FAILS(cf_net_build(s, &a, &(cf_net_input){1, 2, 2, 10}, &net), CF_ERR_SHAPE, "input size 2x2",
                "the nearest size that fits is 4x4");
    cf_space_destroy(s);
}

/* A supernet's mix built by hand: cf_netb_mix gives one layer of the inputs'
 * shape with coefficients (K, 1, 1, 1), even of one input; mismatched shapes
 * and arities are refused. It counts K x C x H x W MACs and no parameters:
 * its coefficients are architecture parameters. */
static void check_mix(void) {
    cf_net *net = calloc(1, sizeof *net);
    CF_ASSERT(net != NULL);
    net->input = (cf_net_input){3, 8, 8, 10};
    net->logits = net->aux_logits = -1;
    const int stem = cf_netb_conv(net, CF_NET_INPUT, 4, 3, 1, 1, 1, 1, 0, "stem"); /* 108 params, 6912 MACs */
    const int xs[3] = {cf_netb_conv(net, stem, 4, 3, 1, 1, 1, 1, 0, "edge.conv"),   /* 144 params, 9216 MACs */
                       cf_netb_pool(net, stem, CF_OP_AVGPOOL2D, 3, 1, 1, "edge.pool"),
                       cf_netb_zero(net, stem, 1, "edge.none")};
    const int m = cf_netb_mix(net, 3, xs, "edge.mix"); /* 3 x 4 x 8 x 8 = 768 MACs */
    const cf_net_layer *l = m >= 0 ? &net->layers[m] : NULL;
    CHECK(l && l->kind == CF_OP_MIX && l->n_in == 3 && l->c == 4 && l->h == 8 && l->w == 8 && l->n_w == 1 &&
              l->w_shape[0][0] == 3 && l->w_shape[0][1] == 1 && l->w_shape[0][2] == 1 && l->w_shape[0][3] == 1,
          "netb_mix: not a mix of 3 inputs with (3, 1, 1, 1) coefficients");
    const int one = cf_netb_mix(net, 1, &xs[0], "edge.mix1");
    CHECK(one == m + 1 && net->layers[one].kind == CF_OP_MIX && net->layers[one].w_shape[0][0] == 1,
          "netb_mix: a mix of one input is not a layer of its own");
    /* 10 x 4 + 10 params and 40 MACs */
    net->logits = cf_netb_linear(net, cf_netb_global_avgpool(net, m, "head.gap"), 10, 1, "head.fc");
    net->n_built = net->n;
    cf_cost c;
    CHECK_OK(cf_cost_of_net(net, 2, 0, &c));
    CHECK(c.params == 108 + 144 + 50, "mix: %lld params; its coefficients are not network parameters",
          (long long)c.params);
    CHECK(c.macs == 6912 + 9216 + 768 + 1 * 4 * 8 * 8 + 40, "mix: %lld MACs, expected K x C x H x W per mix",
          (long long)c.macs);
    const int odd = cf_netb_pool(net, stem, CF_OP_MAXPOOL2D, 2, 2, 0, "odd");
    const int bad[2] = {xs[0], odd};
    CHECK(cf_netb_mix(net, 2, bad, "bad") < 0 && net->err == CF_ERR_SHAPE, "netb_mix: mismatched shapes accepted");
    net->err = CF_OK;
    const int nine[9] = {stem, stem, stem, stem, stem, stem, stem, stem, stem};
    CHECK(cf_netb_mix(net, 9, nine, "nine") < 0 && net->err == CF_ERR_ARITY, "netb_mix: a mix of 9 accepted");
    cf_net_destroy(net);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_cost SPACES_DIR GOLDEN_DIR\n");
        return 2;
    }
    setenv("CELLFORGE_SPACES", argv[1], 1);
    check_published();
    check_torch(argv[2]);
    check_plan();
    check_limits();
    check_mix();
    return test_finish("test_cost");
}
