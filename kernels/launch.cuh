/* launch.cuh - what every launcher of kernels/ shares: the block size, a grid
 * for grid-stride loops, and the check after a launch that turns a CUDA error
 * into a cf_status with the kernel's name. Included by the .cu files only.
 * The kernels are tested against the CPU by tests/test_cuda_ops.c (label gpu). */
#ifndef CF_KERNELS_LAUNCH_CUH
#define CF_KERNELS_LAUNCH_CUH

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "cellforge/status.h"

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

/* Grid-stride loop over [0, n) with a 64-bit index. */
#define CF_KERNEL_FOR(i, n)                                                                  \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (size_t)(n);          \
         i += (size_t)gridDim.x * blockDim.x)

#endif
