/* cuda_linear.c - the fully connected layer on cuBLAS, the op of
 * ref_linear.c: y = x W^T + b with x (N, C, H, W) read as the row-major
 * matrix (N, IN), IN = C*H*W, W (OUT, IN) row-major, b (OUT) or NULL.
 * Tested against ref_linear.c by tests/test_cuda_ops.c (label gpu).
 *
 * Row-major to column-major. cuBLAS reads a matrix stored row-major as
 * (R, K) as the column-major (K x R) matrix, its transpose, with leading
 * dimension K. So in cuBLAS's eyes, all with the leading dimension of their
 * row length:
 *   X  = x^T   (IN x N),   ld IN
 *   Wc = W^T   (IN x OUT), ld IN
 *   Y  = y^T   (OUT x N),  ld OUT    (dY likewise from dy)
 * and each product is transposed into one of those:
 *   y  = x W^T      ->  Y  = W x^T = Wc^T X     gemm(T, N), m OUT, n N,   k IN
 *   y += 1_N b^T    ->  Y += b 1_N^T            gemm(N, N), m OUT, n N,   k 1
 *   dx = dy W       ->  dX = W^T dy^T = Wc dY   gemm(N, N), m IN,  n N,   k OUT
 *   dW = dy^T x     ->  dWc = x^T dy = X dY^T   gemm(N, T), m IN,  n OUT, k N
 *   db = dy^T 1_N   ->  db = dY 1_N             gemv(N),    m OUT, n N
 * The bias is a rank-1 update against ctx->ones, so no kernel of our own is
 * needed. cuBLAS runs with CUBLAS_DEFAULT_MATH (set in backend_cuda.c): fp32
 * without TF32. Scalars are host pointers (cuBLAS's default pointer mode).
 * 16-bit layers (mixed precision) go through cublasGemmEx with f32
 * accumulation (tensor cores), and their bias through two small kernels.
 */
#include <limits.h>

#include "cuda_ops.h"
#include "kernels/elementwise.h"

/* N, IN and OUT as the ints cuBLAS takes. */
static cf_status linear_dims(const cf_cuda_ctx *ctx, const cf_op_args *a, int *n, int *in, int *out) {
    const cf_tensor *x = a->in[0], *w = a->w[0];
    const int64_t N = x->shape[0], IN = w->shape[1], OUT = w->shape[0];
    if (N > INT_MAX || IN > INT_MAX || OUT > INT_MAX)
        CF_FAIL(CF_ERR_UNSUPPORTED, "cuda:%d: linear: %lld x %lld -> %lld exceeds cuBLAS's int dimensions",
                ctx->device, (long long)N, (long long)IN, (long long)OUT);
    *n = (int)N;
    *in = (int)IN;
    *out = (int)OUT;
    return CF_OK;
}

/* cuBLAS's name of a float storage. */
static cudaDataType_t blas_type(cf_dtype d) {
    return d == CF_DTYPE_BF16 ? CUDA_R_16BF : d == CF_DTYPE_F16 ? CUDA_R_16F : CUDA_R_32F;
}

/* C (m x n, ld ldc) = A^opA B^opB + beta C for 16-bit A, B, C of dt, products
 * summed in f32 and C rounded once (the reference's 16-bit rule). */
static cf_status gemm16(cf_cuda_ctx *ctx, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                        const void *A, int lda, const void *B, int ldb, const float *beta, void *C, int ldc,
                        cf_dtype dt) {
    const float one = 1.0f;
    const cudaDataType_t t = blas_type(dt);
    CF_CUBLAS_CHECK(cublasGemmEx(ctx->cublas, ta, tb, m, n, k, &one, A, t, lda, B, t, ldb, beta, C, t, ldc,
                                 CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return CF_OK;
}

/* The 16-bit layer: the bias is written into every row of y first and the
 * product added to it (beta 1), so y is rounded once; db is a column sum of
 * dy in double (kernels/elementwise.cu). */
static cf_status linear16_forward(cf_cuda_ctx *ctx, const cf_op_args *a, int N, int IN, int OUT) {
    const cf_dtype dt = a->in[0]->dtype;
    const float one = 1.0f, zero = 0.0f;
    if (a->w[1]) CF_TRY(cf_kernel_rows_fill(a->out->data, a->w[1]->data, dt, (size_t)N, (size_t)OUT, ctx->stream));
    return gemm16(ctx, CUBLAS_OP_T, CUBLAS_OP_N, OUT, N, IN, a->w[0]->data, IN, a->in[0]->data, IN,
                  a->w[1] ? &one : &zero, a->out->data, OUT, dt);
}

static cf_status linear16_backward(cf_cuda_ctx *ctx, const cf_op_args *a, int N, int IN, int OUT) {
    const cf_dtype dt = a->in[0]->dtype;
    const float one = 1.0f, zero = 0.0f;
    if (a->din[0])
        CF_TRY(gemm16(ctx, CUBLAS_OP_N, CUBLAS_OP_N, IN, N, OUT, a->w[0]->data, IN, a->dout->data, OUT,
                      a->din_assign[0] ? &zero : &one, a->din[0]->data, IN, dt));
    if (a->dw[0])
        CF_TRY(gemm16(ctx, CUBLAS_OP_N, CUBLAS_OP_T, IN, OUT, N, a->in[0]->data, IN, a->dout->data, OUT, &one,
                      a->dw[0]->data, IN, dt));
    if (a->dw[1]) CF_TRY(cf_kernel_cols_add(a->dw[1]->data, a->dout->data, dt, (size_t)N, (size_t)OUT, ctx->stream));
    return CF_OK;
}

cf_status cf_cuda_linear_forward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    const float *x = a->in[0]->data;                 /* (N, IN) */
    const float *w = a->w[0]->data;                  /* (OUT, IN) */
    const float *b = a->w[1] ? a->w[1]->data : NULL; /* (OUT) or NULL */
    float *y = a->out->data;                         /* (N, OUT) */
    const float one = 1.0f, zero = 0.0f;
    int N = 0, IN = 0, OUT = 0;
    CF_TRY(linear_dims(ctx, a, &N, &IN, &OUT));
    if (a->in[0]->dtype != CF_DTYPE_F32) return linear16_forward(ctx, a, N, IN, OUT);
    /* Y (OUT x N) = Wc^T X */
    CF_CUBLAS_CHECK(cublasSgemm(ctx->cublas, CUBLAS_OP_T, CUBLAS_OP_N, OUT, N, IN, &one, w, IN, x, IN, &zero, y, OUT));
    if (b) {
        CF_TRY(cf_cuda_constants(ctx, (size_t)N));
        /* Y += b 1_N^T: b is (OUT x 1) with ld OUT, ones (1 x N) with ld 1 */
        CF_CUBLAS_CHECK(cublasSgemm(ctx->cublas, CUBLAS_OP_N, CUBLAS_OP_N, OUT, N, 1, &one, b, OUT, ctx->ones, 1, &one,
                                    y, OUT));
    }
    return CF_OK;
}

/* dx (beta 0 when din_assign[0], else 1), dW and db (beta 1: weight
 * gradients always add), each only when wanted. */
cf_status cf_cuda_linear_backward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    const float *x = a->in[0]->data;                /* (N, IN) */
    const float *w = a->w[0]->data;                 /* (OUT, IN) */
    const float *dy = a->dout->data;                /* (N, OUT) */
    float *dx = a->din[0] ? a->din[0]->data : NULL; /* (N, IN) or NULL */
    float *dw = a->dw[0] ? a->dw[0]->data : NULL;   /* (OUT, IN) or NULL */
    float *db = a->dw[1] ? a->dw[1]->data : NULL;   /* (OUT) or NULL */
    const float one = 1.0f, zero = 0.0f;
    int N = 0, IN = 0, OUT = 0;
    CF_TRY(linear_dims(ctx, a, &N, &IN, &OUT));
    if (a->in[0]->dtype != CF_DTYPE_F32) return linear16_backward(ctx, a, N, IN, OUT);
    if (dx)
        /* dX (IN x N) = Wc dY */
        CF_CUBLAS_CHECK(cublasSgemm(ctx->cublas, CUBLAS_OP_N, CUBLAS_OP_N, IN, N, OUT, &one, w, IN, dy, OUT,
                                    a->din_assign[0] ? &zero : &one, dx, IN));
    if (dw)
        /* dWc (IN x OUT) += X dY^T */
        CF_CUBLAS_CHECK(cublasSgemm(ctx->cublas, CUBLAS_OP_N, CUBLAS_OP_T, IN, OUT, N, &one, x, IN, dy, OUT, &one, dw,
                                    IN));
    if (db) {
        CF_TRY(cf_cuda_constants(ctx, (size_t)N));
        /* db (OUT) += dY 1_N */
        CF_CUBLAS_CHECK(cublasSgemv(ctx->cublas, CUBLAS_OP_N, OUT, N, &one, dy, OUT, ctx->ones, 1, &one, db, 1));
    }
    return CF_OK;
}
