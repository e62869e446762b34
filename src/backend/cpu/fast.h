/* fast.h - private to the fast CPU backend: the instance context, its
 * workspace, and the op functions the table in backend_cpu_fast.c points at.
 *
 * The fast ops handle f32, contiguous NCHW tensors on the host; the dispatch
 * in backend_cpu_fast.c sends everything else to the reference ops (ref.h).
 * Work is split over `threads` OpenMP threads (the num_threads clause of every
 * parallel region), and each thread calls single-threaded OpenBLAS.
 *
 * Tested against the reference backend by tests/test_cpu_fast.c; timed by
 * benchmarks/bench_fast_ops.c.
 */
#ifndef CF_BACKEND_CPU_FAST_H
#define CF_BACKEND_CPU_FAST_H

#include <stddef.h>

#include "cellforge/ops.h"
#include "cellforge/tensor.h"

/* One instance. Not shared: a trainer thread owns it, so its workspace needs
 * no lock. The workspace only grows; steady-state calls never allocate. */
typedef struct fast_ctx {
    int threads;       /* OpenMP threads per parallel region, >= 1 */
    float *ws;         /* workspace, 64-byte aligned; owned, freed by destroy */
    size_t ws_floats;  /* its capacity in floats */
    int counted;       /* its threads are in the count of live threads (claim_threads) */
} fast_ctx;

/* Workspace of at least `floats` floats (64-byte aligned, contents undefined),
 * valid until the next call. Fails with CF_ERR_OUT_OF_MEMORY. */
cf_status fast_workspace(fast_ctx *ctx, size_t floats, float **out);

/* Per-thread slices of the workspace are rounded up to this many floats so
 * threads never share a cache line. */
#define FAST_ALIGN_FLOATS 16
static inline size_t fast_round(size_t n) { return (n + FAST_ALIGN_FLOATS - 1) & ~(size_t)(FAST_ALIGN_FLOATS - 1); }

/* Hot loops are compiled for AVX-512, AVX2+FMA and plain x86-64, picked at
 * load time (GCC function multiversioning), so one binary runs everywhere
 * and still uses wide vectors. OpenMP regions call these functions on their
 * share of the work; the attribute is not applied to the regions themselves. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define FAST_SIMD __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
#endif
#ifndef FAST_SIMD
#define FAST_SIMD
#endif

/* Share [lo, hi) of n elements for thread t of nt, in whole cache lines. */
static inline void fast_share(int64_t n, int t, int nt, int64_t *lo, int64_t *hi) {
    const int64_t lines = (n + FAST_ALIGN_FLOATS - 1) / FAST_ALIGN_FLOATS;
    int64_t l = lines * t / nt * FAST_ALIGN_FLOATS, h = lines * (t + 1) / nt * FAST_ALIGN_FLOATS;
    *lo = l < n ? l : n;
    *hi = h < n ? h : n;
}

/* Element pointer of a contiguous f32 tensor. */
#define FDATA(t) ((float *)(t)->data)

/* Direct 3x3 convolution (fast_direct.c) for dense convs with a multiple of
 * 16 output channels, up to 128 channels each side, stride 1 or 2. The
 * backward computes dw, db and (stride 1, C a multiple of 16) dx; it copies
 * `a` to `rest` with the gradients it produced set to NULL, for the caller
 * to finish the rest (dx of stride 2) on the im2col path. */
int fast_direct_conv_fits(const cf_op_args *a);
cf_status fast_direct_conv_forward(fast_ctx *ctx, const cf_op_args *a);
/* The direct backward writes din[0] outright when din_assign[0] is set. */
int fast_direct_conv_assigns(const cf_op_args *a);
cf_status fast_direct_conv_backward(fast_ctx *ctx, const cf_op_args *a, cf_op_args *rest);

cf_status cf_fast_conv2d_forward(fast_ctx *ctx, const cf_op_args *a);
cf_status cf_fast_conv2d_backward(fast_ctx *ctx, const cf_op_args *a);
cf_status cf_fast_batchnorm_forward(fast_ctx *ctx, const cf_op_args *a);
cf_status cf_fast_batchnorm_backward(fast_ctx *ctx, const cf_op_args *a);
cf_status cf_fast_relu_forward(fast_ctx *ctx, const cf_op_args *a);
cf_status cf_fast_relu_backward(fast_ctx *ctx, const cf_op_args *a);
cf_status cf_fast_avgpool2d_forward(fast_ctx *ctx, const cf_op_args *a);
cf_status cf_fast_avgpool2d_backward(fast_ctx *ctx, const cf_op_args *a);
cf_status cf_fast_maxpool2d_forward(fast_ctx *ctx, const cf_op_args *a);
cf_status cf_fast_maxpool2d_backward(fast_ctx *ctx, const cf_op_args *a);
cf_status cf_fast_global_avgpool_forward(fast_ctx *ctx, const cf_op_args *a);
cf_status cf_fast_global_avgpool_backward(fast_ctx *ctx, const cf_op_args *a);
cf_status cf_fast_linear_forward(fast_ctx *ctx, const cf_op_args *a);
cf_status cf_fast_linear_backward(fast_ctx *ctx, const cf_op_args *a);
cf_status cf_fast_sum_forward(fast_ctx *ctx, const cf_op_args *a);
cf_status cf_fast_sum_backward(fast_ctx *ctx, const cf_op_args *a);
/* The mix writes din[k] outright where din_assign[k] is set and input k is present. */
cf_status cf_fast_mix_forward(fast_ctx *ctx, const cf_op_args *a);
cf_status cf_fast_mix_backward(fast_ctx *ctx, const cf_op_args *a);
cf_status cf_fast_zero_forward(fast_ctx *ctx, const cf_op_args *a);
cf_status cf_fast_zero_backward(fast_ctx *ctx, const cf_op_args *a);
cf_status cf_fast_identity_forward(fast_ctx *ctx, const cf_op_args *a);
cf_status cf_fast_identity_backward(fast_ctx *ctx, const cf_op_args *a);
cf_status cf_fast_concat_forward(fast_ctx *ctx, const cf_op_args *a);
cf_status cf_fast_concat_backward(fast_ctx *ctx, const cf_op_args *a);
cf_status cf_fast_slice_forward(fast_ctx *ctx, const cf_op_args *a);
cf_status cf_fast_slice_backward(fast_ctx *ctx, const cf_op_args *a);
cf_status cf_fast_softmax_xent_forward(fast_ctx *ctx, const cf_op_args *a);
cf_status cf_fast_softmax_xent_backward(fast_ctx *ctx, const cf_op_args *a);

#endif
