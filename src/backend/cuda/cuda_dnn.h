/* cuda_dnn.h - tensor descriptors for the cuDNN ops (cuda_conv.c,
 * cuda_norm.c, cuda_pool.c). Private to src/backend/cuda.
 *
 * cuDNN's legacy descriptors take int dimensions and hold at most 2^31 - 1
 * elements per tensor; a larger tensor is a valid request this backend cannot
 * serve (CF_ERR_UNSUPPORTED), not a device failure.
 */
#ifndef CF_CUDA_DNN_H
#define CF_CUDA_DNN_H

#include <limits.h>
#include <stdint.h>

#include "cuda_ops.h"

/* The (N, C, H, W) of t as ints; `op` and `what` name it in the message. */
static inline cf_status cf_cuda_dims(const cf_tensor *t, const char *op, const char *what, int dims[4]) {
    int64_t numel = 1;
    for (int i = 0; i < 4; i++) {
        const int64_t d = t->shape[i];
        if (d < 1 || d > INT_MAX || numel > INT_MAX / d)
            CF_FAIL(CF_ERR_UNSUPPORTED,
                    "cuda: %s: %s (%lld, %lld, %lld, %lld) exceeds cuDNN's 2^31 - 1 elements per tensor", op, what,
                    (long long)t->shape[0], (long long)t->shape[1], (long long)t->shape[2], (long long)t->shape[3]);
        numel *= d;
        dims[i] = (int)d;
    }
    return CF_OK;
}

/* cuDNN's name of a float storage: f32, bf16 or f16 (checked by backend_cuda.c). */
static inline cudnnDataType_t cf_cudnn_type(cf_dtype d) {
    return d == CF_DTYPE_BF16 ? CUDNN_DATA_BFLOAT16 : d == CF_DTYPE_F16 ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
}

/* Describe t (contiguous NCHW of f32, bf16 or f16) in d, created by the caller. */
static inline cf_status cf_cuda_tensor_desc(cudnnTensorDescriptor_t d, const cf_tensor *t, const char *op,
                                            const char *what) {
    int dims[4];
    CF_TRY(cf_cuda_dims(t, op, what, dims));
    CF_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, cf_cudnn_type(t->dtype), dims[0], dims[1],
                                              dims[2], dims[3]));
    return CF_OK;
}

#endif
