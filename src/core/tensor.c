/* tensor.c - tensor descriptors. */
#include "cellforge/tensor.h"

#include <stdio.h>

static const struct {
    const char *name;
    size_t size;
} dtype_table[CF_DTYPE_COUNT] = {
    [CF_DTYPE_F32] = {"f32", 4}, [CF_DTYPE_F64] = {"f64", 8}, [CF_DTYPE_F16] = {"f16", 2},
    [CF_DTYPE_BF16] = {"bf16", 2}, [CF_DTYPE_I32] = {"i32", 4}, [CF_DTYPE_U8] = {"u8", 1},
};

size_t cf_dtype_size(cf_dtype dtype) {
    if ((int)dtype < 0 || dtype >= CF_DTYPE_COUNT) return 0;
    return dtype_table[dtype].size;
}

const char *cf_dtype_name(cf_dtype dtype) {
    if ((int)dtype < 0 || dtype >= CF_DTYPE_COUNT) return "?";
    return dtype_table[dtype].name;
}

cf_status cf_tensor_init_shape(cf_tensor *t, cf_dtype dtype, const int64_t shape[CF_TENSOR_DIMS],
                               cf_device device, void *data) {
    if (!t) CF_FAIL(CF_ERR_INVALID_ARG, "tensor: NULL descriptor");
    if (cf_dtype_size(dtype) == 0) CF_FAIL(CF_ERR_INVALID_ARG, "tensor: unknown dtype %d", (int)dtype);
    /* Elements must fit in int64 with room for a byte count: cap at 2^48. */
    const int64_t limit = (int64_t)1 << 48;
    int64_t total = 1;
    for (int i = 0; i < CF_TENSOR_DIMS; i++) {
        if (shape[i] < 1)
            CF_FAIL(CF_ERR_SHAPE, "tensor: dimension %d is %lld, expected >= 1 (shape (%lld, %lld, %lld, %lld))",
                    i, (long long)shape[i], (long long)shape[0], (long long)shape[1],
                    (long long)shape[2], (long long)shape[3]);
        if (shape[i] > limit / total)
            CF_FAIL(CF_ERR_SHAPE, "tensor: shape (%lld, %lld, %lld, %lld) has too many elements",
                    (long long)shape[0], (long long)shape[1], (long long)shape[2], (long long)shape[3]);
        total *= shape[i];
    }
    t->data = data;
    t->dtype = dtype;
    t->device = device;
    int64_t stride = 1;
    for (int i = CF_TENSOR_DIMS - 1; i >= 0; i--) {
        t->shape[i] = shape[i];
        t->stride[i] = stride;
        stride *= shape[i];
    }
    return CF_OK;
}

cf_status cf_tensor_init(cf_tensor *t, cf_dtype dtype, int64_t n, int64_t c, int64_t h, int64_t w,
                         void *data) {
    const int64_t shape[CF_TENSOR_DIMS] = {n, c, h, w};
    const cf_device cpu = {CF_DEVICE_CPU, 0};
    return cf_tensor_init_shape(t, dtype, shape, cpu, data);
}

int64_t cf_tensor_numel(const cf_tensor *t) {
    return t->shape[0] * t->shape[1] * t->shape[2] * t->shape[3];
}

size_t cf_tensor_bytes(const cf_tensor *t) {
    return (size_t)cf_tensor_numel(t) * cf_dtype_size(t->dtype);
}

int cf_tensor_is_contiguous(const cf_tensor *t) {
    int64_t stride = 1;
    for (int i = CF_TENSOR_DIMS - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != stride) return 0;
        stride *= t->shape[i];
    }
    return 1;
}

int cf_tensor_same_shape(const cf_tensor *a, const cf_tensor *b) {
    for (int i = 0; i < CF_TENSOR_DIMS; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

const char *cf_tensor_describe(const cf_tensor *t, char *buf, size_t size) {
    snprintf(buf, size, "(%lld, %lld, %lld, %lld) %s", (long long)t->shape[0],
             (long long)t->shape[1], (long long)t->shape[2], (long long)t->shape[3],
             cf_dtype_name(t->dtype));
    return buf;
}
