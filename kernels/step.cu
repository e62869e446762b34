/* step.cu - a training step's bookkeeping on the GPU, so that no step waits
 * for a copy to the host: the loss and the hits of the batch added into a
 * cf_step_stats in device memory, and the gradient-clipping factor computed
 * there from the squared norm (sgd.cu's partial sums, same grid and order).
 * The values equal the host loop's of src/train/train.c: the same double
 * arithmetic in the same order, the argmax taking the first of equal logits.
 * tests/test_cuda_loops.c (label gpu) tests both against the host rule. */
#include "step.h"

#include "launch.cuh"
#include "step_rule.h"

/* A 16-bit logit as f32. */
static __device__ float logit_at(const void *logits, cf_dtype dt, size_t i) {
    if (dt == CF_DTYPE_BF16) return __bfloat162float(((const __nv_bfloat16 *)logits)[i]);
    if (dt == CF_DTYPE_F16) return __half2float(((const __half *)logits)[i]);
    return ((const float *)logits)[i];
}

/* One block: thread t takes rows t, t + blockDim.x, ...; the hit count is a
 * sum of integers (exact in any order), the loss one thread's work. */
static __global__ void step_stats_kernel(const void *logits, cf_dtype dt, const int32_t *labels, int n, int k,
                                         const float *main, const float *aux, double aux_weight, double diverge,
                                         cf_step_stats *st) {
    __shared__ int hits[CF_KERNEL_THREADS];
    int mine = 0;
    for (int r = threadIdx.x; r < n; r += blockDim.x) {
        const size_t row = (size_t)r * k;
        int best = 0;
        float top = logit_at(logits, dt, row);
        for (int j = 1; j < k; j++) {
            const float v = logit_at(logits, dt, row + j);
            if (v > top) {
                top = v;
                best = j;
            }
        }
        mine += best == labels[r];
    }
    hits[threadIdx.x] = mine;
    __syncthreads();
    for (unsigned s = CF_KERNEL_THREADS / 2; s > 0; s /= 2) {
        if (threadIdx.x < s) hits[threadIdx.x] += hits[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x != 0) return;
    double loss = (double)main[0];
    if (aux) loss += aux_weight * (double)aux[0];
    const int step = st->steps++;
    if (st->bad != CF_STEP_OK) return;
    const int finite = isfinite(loss);
    if (!finite || loss > diverge) {
        st->bad = finite ? CF_STEP_DIVERGED : CF_STEP_BAD_LOSS;
        st->bad_step = step;
        st->bad_loss = loss;
        return;
    }
    st->loss_sum += loss;
    st->hits += (double)hits[0];
}

extern "C" cf_status cf_kernel_step_stats(const void *logits, cf_dtype dt, const int32_t *labels, int n, int k,
                                          const float *main, const float *aux, double aux_weight, double diverge,
                                          cf_step_stats *stats, cudaStream_t stream) {
    step_stats_kernel<<<1, CF_KERNEL_THREADS, 0, stream>>>(logits, dt, labels, n, k, main, aux, aux_weight, diverge,
                                                           stats);
    return CF_KERNEL_LAUNCHED("step_stats");
}

/* One block over the norm's partial sums, added as norm2_final_kernel adds
 * them; thread 0 turns the norm into the factor. */
static __global__ void step_clip_kernel(const double *partial, unsigned blocks, double max_norm, cf_step_stats *st) {
    __shared__ double shared[CF_KERNEL_THREADS];
    double sum = 0.0;
    for (unsigned b = threadIdx.x; b < blocks; b += blockDim.x) sum += partial[b];
    shared[threadIdx.x] = sum;
    __syncthreads();
    for (unsigned s = CF_KERNEL_THREADS / 2; s > 0; s /= 2) {
        if (threadIdx.x < s) shared[threadIdx.x] += shared[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) cf_step_rule(st, shared[0], max_norm);
}

extern "C" cf_status cf_kernel_step_clip(const float *g, size_t n, double max_norm, double *partial, int n_partial,
                                         cf_step_stats *stats, cudaStream_t stream) {
    if (n_partial < 1) CF_FAIL(CF_ERR_INVALID_ARG, "step clip kernel: no room for partial sums");
    unsigned blocks = 0;
    CF_TRY(cf_kernel_norm2_partial(g, n, partial, n_partial, stream, &blocks));
    step_clip_kernel<<<1, CF_KERNEL_THREADS, 0, stream>>>(partial, blocks, max_norm, stats);
    return CF_KERNEL_LAUNCHED("step_clip");
}

static __global__ void step_seed_kernel(float *seeds, double w0, double w1, const cf_step_stats *st) {
    seeds[0] = cf_step_seed_rule(st, w0);
    seeds[1] = cf_step_seed_rule(st, w1);
}

extern "C" cf_status cf_kernel_step_seed(float *seeds, double weight0, double weight1, const cf_step_stats *stats,
                                         cudaStream_t stream) {
    step_seed_kernel<<<1, 1, 0, stream>>>(seeds, weight0, weight1, stats);
    return CF_KERNEL_LAUNCHED("step_seed");
}
