/* tensor.c - tensor descriptors. */
#include "cellforge/tensor.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

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

/* ---- 16-bit floats ------------------------------------------------------- */

static uint32_t bits_of(float v) {
    uint32_t x;
    memcpy(&x, &v, sizeof x);
    return x;
}

static float float_of(uint32_t x) {
    float v;
    memcpy(&v, &x, sizeof v);
    return v;
}

int cf_dtype_is_half(cf_dtype d) { return d == CF_DTYPE_F16 || d == CF_DTYPE_BF16; }

uint16_t cf_bf16_from_f32(float v) {
    uint32_t x = bits_of(v);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)(x >> 16 | 0x40); /* NaN, kept quiet */
    /* adding 0x7fff plus the kept part's lowest bit rounds ties to even */
    return (uint16_t)((x + 0x7fffu + (x >> 16 & 1)) >> 16);
}

float cf_bf16_to_f32(uint16_t h) { return float_of((uint32_t)h << 16); }

uint16_t cf_f16_from_f32(float v) {
    const uint32_t x = bits_of(v), a = x & 0x7fffffffu;
    const uint16_t sign = (uint16_t)(x >> 16 & 0x8000);
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00 | (a >> 13 & 0x1ff)); /* NaN, kept quiet */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00);  /* 65520 and up round to infinity */
    if (a < 0x38800000u) {
        /* below 2^-14: a multiple of 2^-24, rounded by the FPU (ties to even);
         * the scaling by 2^24 is exact, and 1024 there is the smallest normal */
        return (uint16_t)(sign | (uint16_t)rintf(float_of(a) * 0x1p24f));
    }
    uint32_t h = ((a >> 23) - 112) << 10 | (a >> 13 & 0x3ff);
    const uint32_t rest = a & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++; /* a carry moves into the exponent */
    return (uint16_t)(sign | h);
}

float cf_f16_to_f32(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = h >> 10 & 0x1f, m = h & 0x3ff;
    if (e == 0) return float_of(sign | bits_of((float)m * 0x1p-24f)); /* zero and subnormals */
    if (e == 31) return float_of(sign | 0x7f800000u | m << 13);
    return float_of(sign | (e + 112) << 23 | m << 13);
}

void cf_half_from_f32(cf_dtype d, uint16_t *dst, const float *src, size_t n) {
    if (d == CF_DTYPE_BF16)
        for (size_t i = 0; i < n; i++) dst[i] = cf_bf16_from_f32(src[i]);
    else
        for (size_t i = 0; i < n; i++) dst[i] = cf_f16_from_f32(src[i]);
}

void cf_half_to_f32(cf_dtype d, float *dst, const uint16_t *src, size_t n) {
    if (d == CF_DTYPE_BF16)
        for (size_t i = 0; i < n; i++) dst[i] = cf_bf16_to_f32(src[i]);
    else
        for (size_t i = 0; i < n; i++) dst[i] = cf_f16_to_f32(src[i]);
}
