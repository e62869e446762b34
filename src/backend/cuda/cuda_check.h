/* cuda_check.h - CF_CUDA_CHECK, CF_CUDNN_CHECK, CF_CUBLAS_CHECK, CF_NCCL_CHECK.
 * Private to backend/cuda (needs the CUDA headers). All four are the one
 * CF_CHECK_LIB macro of status.h with a code-to-status map: an allocation
 * failure becomes CF_ERR_DEVICE_OOM so the scheduler can retry elsewhere;
 * everything else becomes CF_ERR_DEVICE with the library's own message. */
#ifndef CF_CUDA_CHECK_H
#define CF_CUDA_CHECK_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <nccl.h>

#include "cellforge/status.h"

static inline cf_status cf_status_from_cuda(cudaError_t e) {
    if (e == cudaErrorMemoryAllocation) return CF_ERR_DEVICE_OOM;
    if (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver) return CF_ERR_NO_DEVICE;
    return CF_ERR_DEVICE;
}
static inline cf_status cf_status_from_cudnn(cudnnStatus_t e) {
    return e == CUDNN_STATUS_ALLOC_FAILED ? CF_ERR_DEVICE_OOM : CF_ERR_DEVICE;
}
static inline cf_status cf_status_from_cublas(cublasStatus_t e) {
    return e == CUBLAS_STATUS_ALLOC_FAILED ? CF_ERR_DEVICE_OOM : CF_ERR_DEVICE;
}
static inline cf_status cf_status_from_nccl(ncclResult_t e) {
    (void)e;
    return CF_ERR_DEVICE;
}

#define CF_CUDA_CHECK(expr) \
    CF_CHECK_LIB("CUDA", cudaError_t, cudaSuccess, cf_status_from_cuda, cudaGetErrorString, expr)
#define CF_CUDNN_CHECK(expr) \
    CF_CHECK_LIB("cuDNN", cudnnStatus_t, CUDNN_STATUS_SUCCESS, cf_status_from_cudnn, cudnnGetErrorString, expr)
#define CF_CUBLAS_CHECK(expr) \
    CF_CHECK_LIB("cuBLAS", cublasStatus_t, CUBLAS_STATUS_SUCCESS, cf_status_from_cublas, cublasGetStatusString, expr)
#define CF_NCCL_CHECK(expr) \
    CF_CHECK_LIB("NCCL", ncclResult_t, ncclSuccess, cf_status_from_nccl, ncclGetErrorString, expr)

#endif
