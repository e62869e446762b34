/* sgd.cu - the squared gradient norm and the SGD step on the GPU.
 * The norm is deterministic (a grid fixed by n, tree sums in shared memory in
 * a fixed order); the step uses the _rn intrinsics, which nvcc never fuses
 * into an FMA, so every float equals the host loop's (src/backend/backend.c,
 * compiled as ISO C without contraction). tests/test_cuda_ops.c (label gpu)
 * tests both against the host loops. */
#include "sgd.h"

#include "launch.cuh"

/* Sum of the block's threads' values in a fixed tree order; thread 0 gets it. */
static __device__ double block_sum(double v, double *shared) {
    shared[threadIdx.x] = v;
    __syncthreads();
    for (unsigned s = CF_KERNEL_THREADS / 2; s > 0; s /= 2) {
        if (threadIdx.x < s) shared[threadIdx.x] += shared[threadIdx.x + s];
        __syncthreads();
    }
    return shared[0];
}

static __global__ void norm2_partial_kernel(const float *g, size_t n, double *partial) {
    __shared__ double shared[CF_KERNEL_THREADS];
    double sum = 0.0;
    CF_KERNEL_FOR(i, n) {
        const double v = (double)g[i];
        sum += v * v;
    }
    const double total = block_sum(sum, shared);
    if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

/* One block: partial[0] = partial[0] + ... + partial[blocks - 1]. Every read
 * of partial happens before the first barrier, the write after the last. */
static __global__ void norm2_final_kernel(double *partial, unsigned blocks) {
    __shared__ double shared[CF_KERNEL_THREADS];
    double sum = 0.0;
    for (unsigned b = threadIdx.x; b < blocks; b += blockDim.x) sum += partial[b];
    const double total = block_sum(sum, shared);
    if (threadIdx.x == 0) partial[0] = total;
}

extern "C" cf_status cf_kernel_norm2_partial(const float *g, size_t n, double *partial, int n_partial,
                                             cudaStream_t stream, unsigned *blocks_out) {
    if (n_partial < 1) CF_FAIL(CF_ERR_INVALID_ARG, "norm2 kernel: no room for partial sums");
    size_t blocks = (n + CF_KERNEL_THREADS - 1) / CF_KERNEL_THREADS;
    if (blocks < 1) blocks = 1;
    if (blocks > (size_t)n_partial) blocks = (size_t)n_partial;
    norm2_partial_kernel<<<(unsigned)blocks, CF_KERNEL_THREADS, 0, stream>>>(g, n, partial);
    *blocks_out = (unsigned)blocks;
    return CF_KERNEL_LAUNCHED("norm2_partial");
}

extern "C" cf_status cf_kernel_norm2(const float *g, size_t n, double *partial, int n_partial, cudaStream_t stream) {
    unsigned blocks = 0;
    CF_TRY(cf_kernel_norm2_partial(g, n, partial, n_partial, stream, &blocks));
    norm2_final_kernel<<<1, CF_KERNEL_THREADS, 0, stream>>>(partial, blocks);
    return CF_KERNEL_LAUNCHED("norm2_final");
}

static __global__ void sgd_kernel(float *w, const float *g, float *buf, size_t n, float lr, float mu, float wd,
                                  float clip, int nesterov, const cf_step_stats *stats) {
    if (stats) {
        if (stats->bad != CF_STEP_OK || stats->skip) return;
        clip = stats->clip;
    }
    CF_KERNEL_FOR(i, n) {
        const float wi = w[i];
        const float gi = __fadd_rn(__fmul_rn(g[i], clip), __fmul_rn(wd, wi));
        const float bi = __fadd_rn(__fmul_rn(mu, buf[i]), gi);
        buf[i] = bi;
        const float step = nesterov ? __fadd_rn(gi, __fmul_rn(mu, bi)) : bi;
        w[i] = __fsub_rn(wi, __fmul_rn(lr, step));
    }
}

extern "C" cf_status cf_kernel_sgd(float *w, const float *g, float *buf, size_t n, float lr, float momentum,
                                   float weight_decay, float clip, int nesterov, const cf_step_stats *stats,
                                   cudaStream_t stream) {
    if (n == 0) return CF_OK;
    sgd_kernel<<<cf_kernel_blocks(n), CF_KERNEL_THREADS, 0, stream>>>(w, g, buf, n, lr, momentum, weight_decay, clip,
                                                                      nesterov, stats);
    return CF_KERNEL_LAUNCHED("sgd");
}
