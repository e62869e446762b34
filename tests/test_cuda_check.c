/* test_cuda_check.c - CF_CUDA_CHECK, CF_CUDNN_CHECK, CF_CUBLAS_CHECK and
 * CF_NCCL_CHECK map each library's codes to a status and a message naming the
 * library, the call and the library's own error text. Runs without a GPU:
 * the codes are injected, and only host-side string functions are called.
 * Built in CUDA builds only. */
#include <string.h>

#include "../src/backend/cuda/cuda_check.h"
#include "check.h"

static cudaError_t cuda_code(cudaError_t e) { return e; }
static cudnnStatus_t cudnn_code(cudnnStatus_t e) { return e; }
static cublasStatus_t cublas_code(cublasStatus_t e) { return e; }
static ncclResult_t nccl_code(ncclResult_t e) { return e; }

static cf_status via_cuda(cudaError_t e) { CF_CUDA_CHECK(cuda_code(e)); return CF_OK; }
static cf_status via_cudnn(cudnnStatus_t e) { CF_CUDNN_CHECK(cudnn_code(e)); return CF_OK; }
static cf_status via_cublas(cublasStatus_t e) { CF_CUBLAS_CHECK(cublas_code(e)); return CF_OK; }
static cf_status via_nccl(ncclResult_t e) { CF_NCCL_CHECK(nccl_code(e)); return CF_OK; }

#define EXPECT(call, want, text)                                                                   \
    do {                                                                                           \
        cf_status s_ = (call);                                                                     \
        CHECK(s_ == (want), "%s -> %s, expected %s", #call, cf_status_name(s_), cf_status_name(want)); \
        if ((want) != CF_OK)                                                                       \
            CHECK(strstr(cf_error_message(), (text)) != NULL, "message '%s' lacks '%s'",           \
                  cf_error_message(), (text));                                                     \
    } while (0)

int main(void) {
    EXPECT(via_cuda(cudaSuccess), CF_OK, "");
    EXPECT(via_cuda(cudaErrorMemoryAllocation), CF_ERR_DEVICE_OOM, "CUDA: cuda_code(e) failed");
    EXPECT(via_cuda(cudaErrorInsufficientDriver), CF_ERR_NO_DEVICE, "CUDA:");
    EXPECT(via_cuda(cudaErrorLaunchFailure), CF_ERR_DEVICE, cudaGetErrorString(cudaErrorLaunchFailure));

    EXPECT(via_cudnn(CUDNN_STATUS_SUCCESS), CF_OK, "");
    EXPECT(via_cudnn(CUDNN_STATUS_ALLOC_FAILED), CF_ERR_DEVICE_OOM, "cuDNN: cudnn_code(e) failed");
    EXPECT(via_cudnn(CUDNN_STATUS_BAD_PARAM), CF_ERR_DEVICE, cudnnGetErrorString(CUDNN_STATUS_BAD_PARAM));

    EXPECT(via_cublas(CUBLAS_STATUS_SUCCESS), CF_OK, "");
    EXPECT(via_cublas(CUBLAS_STATUS_ALLOC_FAILED), CF_ERR_DEVICE_OOM, "cuBLAS: cublas_code(e) failed");
    EXPECT(via_cublas(CUBLAS_STATUS_INVALID_VALUE), CF_ERR_DEVICE, cublasGetStatusString(CUBLAS_STATUS_INVALID_VALUE));

    EXPECT(via_nccl(ncclSuccess), CF_OK, "");
    EXPECT(via_nccl(ncclInvalidArgument), CF_ERR_DEVICE, "NCCL: nccl_code(e) failed");
    EXPECT(via_nccl(ncclSystemError), CF_ERR_DEVICE, ncclGetErrorString(ncclSystemError));
    return test_finish("test_cuda_check");
}
