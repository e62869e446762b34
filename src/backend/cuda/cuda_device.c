/* cuda_device.c - GPU discovery and library versions through the CUDA runtime,
 * cuDNN, cuBLAS and NCCL. Plain C: no kernels here.
 *
 * The runtime loads the driver lazily, so a binary built with CUDA starts on a
 * machine without a driver; cudaGetDeviceCount then reports why, and we turn
 * that into gpu_count = 0 and a readable note. */
#include <stdio.h>
#include <string.h>

#include "cuda_backend.h"
#include "cuda_check.h"

void cf_cuda_discover(cf_device_report *r) {
    int runtime = 0, driver = 0;
    cudaRuntimeGetVersion(&runtime);
    snprintf(r->cuda_runtime, sizeof r->cuda_runtime, "%d.%d", runtime / 1000, (runtime % 1000) / 10);
    if (cudaDriverGetVersion(&driver) == cudaSuccess && driver > 0)
        snprintf(r->cuda_driver, sizeof r->cuda_driver, "%d.%d", driver / 1000, (driver % 1000) / 10);

    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        const char *why = e == cudaErrorInsufficientDriver ? "no NVIDIA driver is loaded, or it is older than the CUDA runtime"
                        : e == cudaErrorNoDevice           ? "the driver found no CUDA device"
                                                           : cudaGetErrorString(e);
        snprintf(r->gpu_note, sizeof r->gpu_note, "no GPU: %s (cudaGetDeviceCount: %s)", why, cudaGetErrorName(e));
        cudaGetLastError(); /* clear the sticky-free error so later calls start clean */
        r->gpu_count = 0;
        return;
    }
    if (count == 0) {
        snprintf(r->gpu_note, sizeof r->gpu_note, "no GPU: the driver found no CUDA device");
        return;
    }
    if (count > CF_MAX_GPUS) count = CF_MAX_GPUS;
    r->gpu_count = 0;
    for (int i = 0; i < count; i++) {
        struct cudaDeviceProp prop;
        if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
        cf_gpu_info *g = &r->gpus[r->gpu_count++];
        g->index = i;
        snprintf(g->name, sizeof g->name, "%s", prop.name);
        g->total_bytes = prop.totalGlobalMem;
        g->cc_major = prop.major;
        g->cc_minor = prop.minor;
        g->multiprocessors = prop.multiProcessorCount;
        size_t free_b = 0, total_b = 0;
        if (cudaSetDevice(i) == cudaSuccess && cudaMemGetInfo(&free_b, &total_b) == cudaSuccess)
            g->free_bytes = free_b;
    }
}

const char *cf_cuda_library_versions(void) {
    static char buf[160];
    int runtime = 0, nccl = 0, cublas_major = 0, cublas_minor = 0, cublas_patch = 0;
    cudaRuntimeGetVersion(&runtime);
    size_t cudnn = cudnnGetVersion(); /* major*10000 + minor*100 + patch in cuDNN 9 */
    cublasGetProperty(MAJOR_VERSION, &cublas_major);
    cublasGetProperty(MINOR_VERSION, &cublas_minor);
    cublasGetProperty(PATCH_LEVEL, &cublas_patch);
    ncclGetVersion(&nccl); /* major*10000 + minor*100 + patch since NCCL 2.9 */
    snprintf(buf, sizeof buf, "cuda (runtime %d.%d, cuDNN %zu.%zu.%zu, cuBLAS %d.%d.%d, NCCL %d.%d.%d)",
             runtime / 1000, (runtime % 1000) / 10, cudnn / 10000, (cudnn / 100) % 100, cudnn % 100,
             cublas_major, cublas_minor, cublas_patch, nccl / 10000, (nccl / 100) % 100, nccl % 100);
    return buf;
}

cf_status cf_cuda_roundtrip(int index, const void *host, void *back, size_t bytes) {
    void *dev = NULL;
    cf_status st = CF_OK;
    CF_CUDA_CHECK(cudaSetDevice(index));
    CF_CUDA_CHECK(cudaMalloc(&dev, bytes));
    cudaError_t e = cudaMemcpy(dev, host, bytes, cudaMemcpyHostToDevice);
    if (e == cudaSuccess) e = cudaMemcpy(back, dev, bytes, cudaMemcpyDeviceToHost);
    if (e != cudaSuccess)
        st = cf_error_set(cf_status_from_cuda(e), __FILE__, __LINE__, "CUDA: copy of %zu bytes failed: %s", bytes,
                          cudaGetErrorString(e));
    cudaFree(dev);
    return st;
}
