/* mix.cu - a one-shot supernet's mix on the GPU: y = sum of coef[j] * x_j over
 * the branches computed this step, and its backward. The coefficients stay in
 * device memory and are read by the kernels.
 *
 * What is bit-exact: the forward sums the exact double products in increasing
 * j with the _rn intrinsics (nvcc never fuses them into an FMA) and rounds
 * once, as src/backend/cpu/ref_elementwise.c does, so y equals the f32
 * reference's floats; the input gradients round the product to f32 and add in
 * f32, as the reference's f32 path does. The coefficient gradients are sums of
 * n products in double in another order than the CPU's (one f32 rounding
 * apart at most), but always the same order: a grid fixed by n, a fixed tree
 * in shared memory per block, then one block per slot over the partials, no
 * atomics. tests/test_cuda_ops.c (label gpu) tests both launchers against the
 * CPU reference and runs the backward twice for the same bits. */
#include "mix.h"

#include "launch.cuh"

/* Pointers and flags travel by value in the kernels' parameters. */
typedef struct mix_slots {
    const void *x[CF_KERNEL_MIX_MAX];
    void *dx[CF_KERNEL_MIX_MAX];
    int assign[CF_KERNEL_MIX_MAX];
    int slot[CF_KERNEL_MIX_MAX]; /* dot-product slots: the input index of each */
} mix_slots;

template <typename T> static __global__ void mix_forward_kernel(T *y, mix_slots s, const float *coef, int k, size_t n) {
    CF_KERNEL_FOR(i, n) {
        double acc = 0.0;
        for (int j = 0; j < k; j++)
            if (s.x[j]) acc = __dadd_rn(acc, __dmul_rn((double)coef[j], (double)cf_ld(((const T *)s.x[j])[i])));
        y[i] = cf_st<T>((float)acc);
    }
}

extern "C" cf_status cf_kernel_mix_forward(void *y, const void *const *x, cf_dtype dt, const float *coef, int k,
                                           size_t n, cudaStream_t stream) {
    if (k < 1 || k > CF_KERNEL_MIX_MAX)
        CF_FAIL(CF_ERR_INVALID_ARG, "mix kernel: %d inputs, it takes 1..%d", k, CF_KERNEL_MIX_MAX);
    if (n == 0) return CF_OK;
    mix_slots s = {};
    for (int j = 0; j < k; j++) s.x[j] = x[j];
    CF_KERNEL_DTYPE(dt, "mix_forward",
                    mix_forward_kernel<T><<<cf_kernel_blocks(n), CF_KERNEL_THREADS, 0, stream>>>((T *)y, s, coef, k, n));
    return CF_KERNEL_LAUNCHED("mix_forward");
}

/* Every wanted input gradient of element i, slots in increasing j. */
template <typename T> static __global__ void mix_din_kernel(mix_slots s, const float *coef, const T *dy, int k, size_t n) {
    CF_KERNEL_FOR(i, n) {
        const float g = cf_ld(dy[i]);
        for (int j = 0; j < k; j++) {
            if (!s.x[j] || !s.dx[j]) continue;
            const float p = __fmul_rn(coef[j], g);
            T *dx = (T *)s.dx[j];
            dx[i] = cf_st<T>(s.assign[j] ? p : __fadd_rn(cf_ld(dx[i]), p));
        }
    }
}

/* Sum of the block's threads' values in a fixed tree order; thread 0 gets it. */
static __device__ double mix_block_sum(double v, double *shared) {
    shared[threadIdx.x] = v;
    __syncthreads();
    for (unsigned h = CF_KERNEL_THREADS / 2; h > 0; h /= 2) {
        if (threadIdx.x < h) shared[threadIdx.x] += shared[threadIdx.x + h];
        __syncthreads();
    }
    return shared[0];
}

/* Block (b, d) of a (blocks, dots) grid: its strided share of x_slot(d) . dy
 * into partial[d * blocks + b]. */
template <typename T> static __global__ void mix_dot_partial_kernel(mix_slots s, const T *dy, size_t n, double *partial) {
    __shared__ double shared[CF_KERNEL_THREADS];
    const T *x = (const T *)s.x[s.slot[blockIdx.y]];
    double sum = 0.0;
    CF_KERNEL_FOR(i, n) sum = __dadd_rn(sum, __dmul_rn((double)cf_ld(x[i]), (double)cf_ld(dy[i])));
    const double total = mix_block_sum(sum, shared);
    if (threadIdx.x == 0) partial[(size_t)blockIdx.y * gridDim.x + blockIdx.x] = total;
}

/* Block d: dcoef[slot(d)] += the sum of its `blocks` partials. */
static __global__ void mix_dot_final_kernel(mix_slots s, const double *partial, unsigned blocks, float *dcoef) {
    __shared__ double shared[CF_KERNEL_THREADS];
    const double *mine = partial + (size_t)blockIdx.x * blocks;
    double sum = 0.0;
    for (unsigned b = threadIdx.x; b < blocks; b += blockDim.x) sum += mine[b];
    const double total = mix_block_sum(sum, shared);
    if (threadIdx.x == 0) {
        const int j = s.slot[blockIdx.x];
        dcoef[j] = __fadd_rn(dcoef[j], (float)total);
    }
}

/* The dot products of every present input with dy into dcoef. */
static cf_status mix_dcoef(const mix_slots *s, const void *dy, cf_dtype dt, float *dcoef, int dots, size_t n,
                           double *partial, int n_partial, cudaStream_t stream) {
    if (n_partial < dots) CF_FAIL(CF_ERR_INVALID_ARG, "mix kernel: %d partial sums for %d inputs", n_partial, dots);
    size_t blocks = (n + CF_KERNEL_THREADS - 1) / CF_KERNEL_THREADS;
    const size_t room = (size_t)(n_partial / dots);
    if (blocks > room) blocks = room;
    if (blocks < 1) blocks = 1;
    CF_KERNEL_DTYPE(dt, "mix_dot_partial",
                    mix_dot_partial_kernel<T><<<dim3((unsigned)blocks, (unsigned)dots), CF_KERNEL_THREADS, 0, stream>>>(
                        *s, (const T *)dy, n, partial));
    CF_TRY(CF_KERNEL_LAUNCHED("mix_dot_partial"));
    mix_dot_final_kernel<<<(unsigned)dots, CF_KERNEL_THREADS, 0, stream>>>(*s, partial, (unsigned)blocks, dcoef);
    return CF_KERNEL_LAUNCHED("mix_dot_final");
}

extern "C" cf_status cf_kernel_mix_backward(const void *const *x, cf_dtype dt, const float *coef, const void *dy,
                                            void *const *dx, const unsigned char *assign, float *dcoef, int k,
                                            size_t n, double *partial, int n_partial, cudaStream_t stream) {
    if (k < 1 || k > CF_KERNEL_MIX_MAX)
        CF_FAIL(CF_ERR_INVALID_ARG, "mix kernel: %d inputs, it takes 1..%d", k, CF_KERNEL_MIX_MAX);
    if (n == 0) return CF_OK;
    mix_slots s = {};
    int wanted = 0, dots = 0;
    for (int j = 0; j < k; j++) {
        s.x[j] = x[j];
        s.dx[j] = x[j] ? dx[j] : NULL;
        s.assign[j] = assign[j];
        wanted += s.dx[j] != NULL;
        if (x[j]) s.slot[dots++] = j;
    }
    if (wanted) {
        CF_KERNEL_DTYPE(dt, "mix_din",
                        mix_din_kernel<T><<<cf_kernel_blocks(n), CF_KERNEL_THREADS, 0, stream>>>(s, coef, (const T *)dy,
                                                                                               k, n));
        CF_TRY(CF_KERNEL_LAUNCHED("mix_din"));
    }
    if (!dcoef || dots == 0) return CF_OK;
    return mix_dcoef(&s, dy, dt, dcoef, dots, n, partial, n_partial, stream);
}
