/* bench_ref_ops.c - throughput of the CPU reference ops, one JSON line per
 * configuration. The reference ops are the specification, not the fast path:
 * these figures are the baseline the fast CPU and CUDA backends are measured
 * against, next to PyTorch (benchmarks/peer_torch_ops.py) on the same shapes.
 *
 *   build/benchmarks/bench_ref_ops            # all shapes
 *   build/benchmarks/bench_ref_ops --quick    # one repetition each
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/backend.h"
#include "cellforge/rng.h"
#include "cellforge/thread.h"

typedef struct conv_shape {
    const char *name;
    int n, c, h, w, oc, k, stride, pad, dil, groups;
} conv_shape;

/* Shapes from the NAS-Bench-201 and DARTS cells at CIFAR/Fashion-MNIST size. */
static const conv_shape shapes[] = {
    {"nb201_c16_conv3x3", 16, 16, 32, 32, 16, 3, 1, 1, 1, 1},
    {"nb201_c16_conv1x1", 16, 16, 32, 32, 16, 1, 1, 0, 1, 1},
    {"darts_c16_sep3x3_dw", 16, 16, 32, 32, 16, 3, 1, 1, 1, 16},
    {"darts_c16_dil3x3_dw", 16, 16, 32, 32, 16, 3, 1, 2, 2, 16},
    {"stem_fmnist_conv3x3", 16, 1, 28, 28, 16, 3, 1, 1, 1, 1},
};

static float *random_buffer(size_t n, cf_rng *r) {
    float *p = malloc(n * sizeof *p);
    if (!p) abort();
    for (size_t i = 0; i < n; i++) p[i] = cf_rng_normal(r);
    return p;
}

int main(int argc, char **argv) {
    int reps = (argc > 1 && strcmp(argv[1], "--quick") == 0) ? 1 : 3;
    cf_rng r = cf_rng_make(1, 0);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const conv_shape *c = &shapes[s];
        cf_tensor x, w, y, dy, dx, dw;
        cf_tensor_init(&x, CF_DTYPE_F32, c->n, c->c, c->h, c->w, NULL);
        cf_tensor_init(&w, CF_DTYPE_F32, c->oc, c->c / c->groups, c->k, c->k, NULL);
        cf_op_args a = {.kind = CF_OP_CONV2D, .n_inputs = 1, .in = {&x}, .w = {&w}};
        a.params.conv = (cf_conv2d_params){c->stride, c->stride, c->pad, c->pad, c->dil, c->dil, c->groups};
        int64_t os[4];
        x.data = random_buffer((size_t)cf_tensor_numel(&x), &r);
        w.data = random_buffer((size_t)cf_tensor_numel(&w), &r);
        if (cf_op_infer_shape(&a, os) != CF_OK) {
            fprintf(stderr, "%s: %s\n", c->name, cf_error_message());
            return 1;
        }
        cf_tensor_init(&y, CF_DTYPE_F32, os[0], os[1], os[2], os[3], NULL);
        y.data = random_buffer((size_t)cf_tensor_numel(&y), &r);
        dy = y;
        dy.data = random_buffer((size_t)cf_tensor_numel(&y), &r);
        dx = x;
        dx.data = calloc((size_t)cf_tensor_numel(&x), sizeof(float));
        dw = w;
        dw.data = calloc((size_t)cf_tensor_numel(&w), sizeof(float));
        a.out = &y;
        a.dout = &dy;
        a.din[0] = &dx;
        a.dw[0] = &dw;

        double best_f = 1e30, best_b = 1e30;
        for (int k = 0; k < reps; k++) {
            double t0 = cf_time_now();
            if (cf_op_forward(cf_backend_cpu_ref(), &a) != CF_OK) return 1;
            double t1 = cf_time_now();
            if (cf_op_backward(cf_backend_cpu_ref(), &a) != CF_OK) return 1;
            double t2 = cf_time_now();
            if (t1 - t0 < best_f) best_f = t1 - t0;
            if (t2 - t1 < best_b) best_b = t2 - t1;
        }
        double macs = (double)cf_tensor_numel(&y) * (double)(c->c / c->groups) * c->k * c->k;
        printf("{\"bench\":\"ref_conv2d\",\"shape\":\"%s\",\"n\":%d,\"c\":%d,\"hw\":%d,\"oc\":%d,\"k\":%d,"
               "\"groups\":%d,\"dil\":%d,\"threads\":1,\"forward_ms\":%.3f,\"backward_ms\":%.3f,"
               "\"forward_gmacs\":%.3f}\n",
               c->name, c->n, c->c, c->h, c->oc, c->k, c->groups, c->dil, best_f * 1e3, best_b * 1e3,
               macs / best_f * 1e-9);
        fflush(stdout);
        free(x.data);
        free(w.data);
        free(y.data);
        free(dy.data);
        free(dx.data);
        free(dw.data);
    }
    return 0;
}
