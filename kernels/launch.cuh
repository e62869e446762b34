/* launch.cuh - what every launcher of kernels/ shares: the block size, a grid
 * for grid-stride loops, and the check after a launch that turns a CUDA error
 * into a cf_status with the kernel's name. Included by the .cu files only.
 * The kernels are tested against the CPU by tests/test_cuda_ops.c (label gpu). */
#ifndef CF_KERNELS_LAUNCH_CUH
#define CF_KERNELS_LAUNCH_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "cellforge/status.h"
#include "cellforge/tensor.h"

/* Threads per block of every grid-stride kernel. */
#define CF_KERNEL_THREADS 256
/* Enough blocks to fill any current GPU several times over; larger sizes loop. */
#define CF_KERNEL_MAX_BLOCKS 4096

/* Blocks for n items at one item per thread, at least 1, at most the cap. */
static inline unsigned cf_kernel_blocks(size_t n) {
    size_t b = (n + CF_KERNEL_THREADS - 1) / CF_KERNEL_THREADS;
    if (b < 1) b = 1;
    if (b > CF_KERNEL_MAX_BLOCKS) b = CF_KERNEL_MAX_BLOCKS;
    return (unsigned)b;
}

/* The status of the launch just made (cudaGetLastError: a sticky error of
 * earlier work on the device also shows here); an allocation failure is
 * CF_ERR_DEVICE_OOM, everything else CF_ERR_DEVICE, as in cuda_check.h. */
static inline cf_status cf_kernel_launched(const char *name, const char *file, int line) {
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) return CF_OK;
    cf_status s = e == cudaErrorMemoryAllocation ? CF_ERR_DEVICE_OOM : CF_ERR_DEVICE;
    return cf_error_set(s, file, line, "CUDA: kernel %s: %s (%d)", name, cudaGetErrorString(e), (int)e);
}
#define CF_KERNEL_LAUNCHED(name) cf_kernel_launched((name), __FILE__, __LINE__)

/* ---- the three float storages: f32, bf16, f16 ----
 * A kernel templated on its storage type T loads values as f32 (cf_ld,
 * exact), computes in f32 and stores once, rounded to nearest even (cf_st):
 * ops.h's 16-bit rule, which the CPU reference follows on widened copies. */
static __device__ __forceinline__ float cf_ld(float v) { return v; }
static __device__ __forceinline__ float cf_ld(__nv_bfloat16 v) { return __bfloat162float(v); }
static __device__ __forceinline__ float cf_ld(__half v) { return __half2float(v); }
template <typename T> static __device__ __forceinline__ T cf_st(float v);
template <> __device__ __forceinline__ float cf_st<float>(float v) { return v; }
template <> __device__ __forceinline__ __nv_bfloat16 cf_st<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
template <> __device__ __forceinline__ __half cf_st<__half>(float v) { return __float2half_rn(v); }

/* Run the launch given (which names T) with T the storage type of dtype dt; any other
 * dtype fails with a message naming `what`. */
#define CF_KERNEL_DTYPE(dt, what, ...)                                                          \
    do {                                                                                         \
        switch (dt) {                                                                            \
        case CF_DTYPE_F32: { typedef float T; __VA_ARGS__; break; }                                   \
        case CF_DTYPE_BF16: { typedef __nv_bfloat16 T; __VA_ARGS__; break; }                          \
        case CF_DTYPE_F16: { typedef __half T; __VA_ARGS__; break; }                                  \
        default: CF_FAIL(CF_ERR_UNSUPPORTED, "kernel %s: dtype %s", (what), cf_dtype_name(dt)); \
        }                                                                                        \
    } while (0)

/* Grid-stride loop over [0, n) with a 64-bit index. */
#define CF_KERNEL_FOR(i, n)                                                                  \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (size_t)(n);          \
         i += (size_t)gridDim.x * blockDim.x)

#endif
