/* tensor.h - a tensor descriptor: dtype, NCHW shape, strides, device.
 *
 * A descriptor never owns its data: memory comes from an arena or a plan
 * (see arena.h), and the descriptor only points into it. Shapes are always
 * four-dimensional (N, C, H, W); a matrix (N, K) is (N, K, 1, 1) and a vector
 * (K) is (K, 1, 1, 1). Strides count elements, not bytes.
 *
 *   float buf[2 * 3 * 4 * 4];
 *   cf_tensor x;
 *   CF_TRY(cf_tensor_init(&x, CF_DTYPE_F32, 2, 3, 4, 4, buf));  // contiguous, CPU
 *   size_t bytes = cf_tensor_bytes(&x);                       // 384
 */
#ifndef CELLFORGE_TENSOR_H
#define CELLFORGE_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "cellforge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cf_dtype {
    CF_DTYPE_F32 = 0,
    CF_DTYPE_F64,
    CF_DTYPE_F16,
    CF_DTYPE_BF16,
    CF_DTYPE_I32,
    CF_DTYPE_U8,
    CF_DTYPE_COUNT
} cf_dtype;

typedef enum cf_device_kind { CF_DEVICE_CPU = 0, CF_DEVICE_CUDA } cf_device_kind;

typedef struct cf_device {
    cf_device_kind kind;
    int index; /* GPU ordinal; 0 for the CPU */
} cf_device;

#define CF_TENSOR_DIMS 4

typedef struct cf_tensor {
    void *data;                       /* borrowed */
    cf_dtype dtype;
    int64_t shape[CF_TENSOR_DIMS];    /* (N, C, H, W) */
    int64_t stride[CF_TENSOR_DIMS];   /* in elements */
    cf_device device;
} cf_tensor;

size_t cf_dtype_size(cf_dtype dtype);
const char *cf_dtype_name(cf_dtype dtype);

/* Contiguous NCHW tensor on the CPU. Fails with CF_ERR_SHAPE on a dimension < 1
 * or a size that overflows, CF_ERR_INVALID_ARG on an unknown dtype. `data` may
 * be NULL while only shapes are being worked out. */
cf_status cf_tensor_init(cf_tensor *t, cf_dtype dtype, int64_t n, int64_t c, int64_t h,
                         int64_t w, void *data);

/* Same with an explicit shape array and device. */
cf_status cf_tensor_init_shape(cf_tensor *t, cf_dtype dtype, const int64_t shape[CF_TENSOR_DIMS],
                               cf_device device, void *data);

int64_t cf_tensor_numel(const cf_tensor *t);
/* Bytes a contiguous copy of t needs. */
size_t cf_tensor_bytes(const cf_tensor *t);
int cf_tensor_is_contiguous(const cf_tensor *t);
int cf_tensor_same_shape(const cf_tensor *a, const cf_tensor *b);
/* Offset in elements of (n, c, h, w). */
static inline int64_t cf_tensor_offset(const cf_tensor *t, int64_t n, int64_t c, int64_t h,
                                       int64_t w) {
    return n * t->stride[0] + c * t->stride[1] + h * t->stride[2] + w * t->stride[3];
}
/* "(2, 3, 4, 4) f32" into buf; returns buf. */
const char *cf_tensor_describe(const cf_tensor *t, char *buf, size_t size);

/* ---- 16-bit floats: storage only, arithmetic in f32 ----
 * bf16 keeps f32's exponent and 8 bits of significand; f16 (IEEE binary16)
 * 5 exponent bits and 11 of significand, finite up to 65504, subnormal below
 * 2^-14. From f32 both round to nearest, ties to even, as CUDA's
 * __float2bfloat16_rn and __float2half_rn do: a value past the largest
 * finite one becomes infinity, NaN stays NaN. To f32 is exact.
 *
 *   uint16_t h = cf_bf16_from_f32(x);   // x rounded to 8 significand bits
 *   float back = cf_bf16_to_f32(h);
 */
int cf_dtype_is_half(cf_dtype d); /* f16 or bf16 */
uint16_t cf_bf16_from_f32(float v);
float cf_bf16_to_f32(uint16_t h);
uint16_t cf_f16_from_f32(float v);
float cf_f16_to_f32(uint16_t h);
/* n values of a 16-bit dtype d from f32 (rounded) and back (exact). */
void cf_half_from_f32(cf_dtype d, uint16_t *dst, const float *src, size_t n);
void cf_half_to_f32(cf_dtype d, float *dst, const uint16_t *src, size_t n);

#ifdef __cplusplus
}
#endif
#endif
