/* step.cu - a training step's bookkeeping on the GPU, so that no step waits
 * for a copy to the host: the loss and the hits of the batch added into a
 * cf_step_stats in device memory, and the gradient-clipping factor computed
 * there from the squared norm (sgd.cu's partial sums, same grid and order).
 * The values equal the host loop's of src/train/train.c: the same double
 * arithmetic in the same order, the argmax taking the first of equal logits.
 * tests/test_cuda_loops.c (label gpu) tests both against the host rule. */
#include "step.h"

#include "launch.cuh"

/* One block: thread t takes rows t, t + blockDim.x, ...; the hit count is a
 * sum of integers (exact in any order), the loss one thread's work. */
static __global__ void step_stats_kernel(const float *logits, const int32_t *labels, int n, int k, const float *main,
                                         const float *aux, double aux_weight, double diverge, cf_step_stats *st) {
    __shared__ int hits[CF_KERNEL_THREADS];
    int mine = 0;
    for (int r = threadIdx.x; r < n; r += blockDim.x) {
        const float *v = logits + (size_t)r * k;
        int best = 0;
        for (int j = 1; j < k; j++)
            if (v[j] > v[best]) best = j;
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

extern "C" cf_status cf_kernel_step_stats(const float *logits, const int32_t *labels, int n, int k, const float *main,
                                          const float *aux, double aux_weight, double diverge, cf_step_stats *stats,
                                          cudaStream_t stream) {
    step_stats_kernel<<<1, CF_KERNEL_THREADS, 0, stream>>>(logits, labels, n, k, main, aux, aux_weight, diverge,
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
    if (threadIdx.x != 0) return;
    const double norm2 = shared[0];
    float clip = 1.0f;
    if (!isfinite(norm2)) {
        if (st->bad == CF_STEP_OK) {
            st->bad = CF_STEP_BAD_GRAD;
            st->bad_step = st->steps - 1;
        }
    } else if (max_norm > 0 && sqrt(norm2) > max_norm) {
        clip = (float)(max_norm / sqrt(norm2));
    }
    st->clip = clip;
}

extern "C" cf_status cf_kernel_step_clip(const float *g, size_t n, double max_norm, double *partial, int n_partial,
                                         cf_step_stats *stats, cudaStream_t stream) {
    if (n_partial < 1) CF_FAIL(CF_ERR_INVALID_ARG, "step clip kernel: no room for partial sums");
    unsigned blocks = 0;
    CF_TRY(cf_kernel_norm2_partial(g, n, partial, n_partial, stream, &blocks));
    step_clip_kernel<<<1, CF_KERNEL_THREADS, 0, stream>>>(partial, blocks, max_norm, stats);
    return CF_KERNEL_LAUNCHED("step_clip");
}
