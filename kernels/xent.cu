/* xent.cu - softmax cross-entropy with label smoothing on the GPU: one warp
 * per row of logits, in double as the CPU reference (src/backend/cpu/ref_loss.c)
 * computes it. The forward's mean over rows is one block whose warps sum
 * their rows in order and whose thread 0 adds the warps' sums in order, so
 * the loss has the same bits on every run. tests/test_cuda_ops.c (label gpu)
 * tests both kernels against the CPU reference. */
#include "xent.h"

#include <math.h>

#include "launch.cuh"

#define WARP 32
#define FULL_MASK 0xffffffffu
/* The forward's one block. */
#define XENT_FORWARD_THREADS 256

/* Butterfly reductions: every lane ends with the same value, the same on
 * every run (IEEE addition commutes, so lane i and lane i ^ o agree). */
static __device__ double warp_sum(double v) {
    for (int o = WARP / 2; o > 0; o /= 2) v += __shfl_xor_sync(FULL_MASK, v, o);
    return v;
}
static __device__ double warp_max(double v) {
    for (int o = WARP / 2; o > 0; o /= 2) v = fmax(v, __shfl_xor_sync(FULL_MASK, v, o));
    return v;
}

/* log sum_j exp(z_j) of one row of k logits, stable (the max taken out). */
template <typename T> static __device__ double row_logsumexp(const T *z, int64_t k, int lane) {
    double m = -INFINITY;
    for (int64_t j = lane; j < k; j += WARP) m = fmax(m, (double)cf_ld(z[j]));
    m = warp_max(m);
    double s = 0.0;
    for (int64_t j = lane; j < k; j += WARP) s += exp((double)cf_ld(z[j]) - m);
    s = warp_sum(s);
    return m + log(s);
}

/* t_j of a row whose label is `label`. */
static __device__ double target(int64_t j, int32_t label, int64_t k, double smoothing) {
    return (j == label ? 1.0 - smoothing : 0.0) + smoothing / (double)k;
}

/* -sum_j t_j (z_j - lse) of one row; NaN when its label is outside [0, k). */
template <typename T>
static __device__ double row_loss(const T *z, int32_t label, int64_t k, double smoothing, int lane) {
    if (label < 0 || label >= k) return NAN;
    const double lse = row_logsumexp(z, k, lane);
    double row = 0.0;
    for (int64_t j = lane; j < k; j += WARP) row -= target(j, label, k, smoothing) * ((double)cf_ld(z[j]) - lse);
    return warp_sum(row);
}

template <typename T>
static __global__ void xent_forward_kernel(const T *logits, const int32_t *labels, int64_t n, int64_t k,
                                           double smoothing, float *loss) {
    __shared__ double warp_total[XENT_FORWARD_THREADS / WARP];
    const int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP, warps = blockDim.x / WARP;
    double total = 0.0;
    for (int64_t r = warp; r < n; r += warps) total += row_loss(logits + r * k, labels[r], k, smoothing, lane);
    if (lane == 0) warp_total[warp] = total;
    __syncthreads();
    if (threadIdx.x == 0) {
        double sum = 0.0;
        for (int w = 0; w < warps; w++) sum += warp_total[w];
        loss[0] = (float)(sum / (double)n);
    }
}

extern "C" cf_status cf_kernel_xent_forward(const void *logits, cf_dtype dt, const int32_t *labels, int64_t n,
                                            int64_t k, double smoothing, float *loss, cudaStream_t stream) {
    if (n < 1 || k < 1)
        CF_FAIL(CF_ERR_INVALID_ARG, "xent kernel: %lld rows of %lld classes", (long long)n, (long long)k);
    CF_KERNEL_DTYPE(dt, "xent_forward",
                    xent_forward_kernel<T><<<1, XENT_FORWARD_THREADS, 0, stream>>>((const T *)logits, labels, n, k,
                                                                                  smoothing, loss));
    return CF_KERNEL_LAUNCHED("xent_forward");
}

template <typename T>
static __global__ void xent_backward_kernel(const T *logits, const int32_t *labels, int64_t n, int64_t k,
                                            double smoothing, const float *dloss, T *dlogits) {
    const int lane = threadIdx.x % WARP;
    const int64_t warp0 = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) / WARP;
    const int64_t warps = (int64_t)gridDim.x * blockDim.x / WARP;
    const double weight = (double)dloss[0];
    for (int64_t r = warp0; r < n; r += warps) {
        const T *z = logits + r * k;
        T *dz = dlogits + r * k;
        const int32_t label = labels[r];
        const bool valid = label >= 0 && label < k;
        const double lse = valid ? row_logsumexp(z, k, lane) : (double)NAN;
        for (int64_t j = lane; j < k; j += WARP) {
            const double prob = exp((double)cf_ld(z[j]) - lse);
            const double g = weight * (prob - target(j, label, k, smoothing)) / (double)n;
            dz[j] = cf_st<T>(__fadd_rn(cf_ld(dz[j]), (float)g));
        }
    }
}

extern "C" cf_status cf_kernel_xent_backward(const void *logits, cf_dtype dt, const int32_t *labels, int64_t n,
                                             int64_t k, double smoothing, const float *dloss, void *dlogits,
                                             cudaStream_t stream) {
    if (n < 1 || k < 1)
        CF_FAIL(CF_ERR_INVALID_ARG, "xent kernel: %lld rows of %lld classes", (long long)n, (long long)k);
    const int rows_per_block = CF_KERNEL_THREADS / WARP;
    size_t blocks = ((size_t)n + rows_per_block - 1) / rows_per_block;
    if (blocks > CF_KERNEL_MAX_BLOCKS) blocks = CF_KERNEL_MAX_BLOCKS;
    CF_KERNEL_DTYPE(dt, "xent_backward",
                    xent_backward_kernel<T><<<(unsigned)blocks, CF_KERNEL_THREADS, 0, stream>>>(
                        (const T *)logits, labels, n, k, smoothing, dloss, (T *)dlogits));
    return CF_KERNEL_LAUNCHED("xent_backward");
}
