/* depthwise.cu - depthwise convolution (groups == C == OC) on the GPU:
 * forward, backward data and backward weight + bias, in the gather form of
 * the CPU reference (src/backend/cpu/ref_conv.c). tests/test_cuda_ops.c
 * (label gpu) tests every kernel here against it.
 *
 * Forward and backward data: one thread per output element (of y, of dx), a
 * grid-stride loop over the flat NCHW index, so neighbouring threads run
 * along W and their reads of x (dy) and writes of y (dx) coalesce. Each
 * thread sums its <= KH*KW taps in f32 with fmaf in a fixed order; the
 * channel's weights are read through the read-only cache, where a warp
 * (almost always one channel) gets them as one broadcast. The 3x3, 5x5 and
 * 7x7 kernels are compiled with the size known, so the tap loops unroll;
 * every other size takes the general kernel.
 *
 * Backward weight: one block per (channel, tap), the bias of a channel being
 * one more tap. The block's threads stride over the N*OH*OW products of that
 * tap, each summing its share in f32, then the block sums the 256 partial
 * sums in a fixed tree (warp shuffles, then one warp), and thread 0 adds the
 * total into dw (dbias). No atomics: each gradient element has one writer and
 * the order of every sum depends only on the shape, so the bits repeat. The
 * blocks of one channel are adjacent in the grid and run together, so the
 * KH*KW re-reads of its x and dy mostly hit L2.
 *
 * Indices are 32-bit unsigned: the launchers refuse a tensor of more than
 * 2^31 - 1 elements (as cuDNN's descriptors do), so index + grid stride
 * never wraps, and 32-bit division is several times cheaper than 64-bit. */
#include "depthwise.h"

#include <limits.h>

#include "launch.cuh"

/* The shape in the kernels' types; see cf_kernel_dwconv. */
typedef struct dw_shape {
    unsigned n, c, h, w, oh, ow;
    int kh, kw, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
} dw_shape;

/* Geometry limits: with every size below 2^24 no coordinate
 * (oh * stride - pad + kh * dil) leaves int. */
#define DW_MAX_GEOM ((int64_t)1 << 24)

static cf_status dw_shape_of(const cf_kernel_dwconv *s, const char *what, dw_shape *d) {
    const int64_t dims[] = {s->n, s->c, s->h, s->w, s->oh, s->ow, s->kh, s->kw, s->stride_h, s->stride_w,
                            s->dil_h, s->dil_w};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        if (dims[i] < 1 || dims[i] >= DW_MAX_GEOM)
            CF_FAIL(CF_ERR_INVALID_ARG, "depthwise conv %s: sizes, strides and dilations must be in [1, 2^24)",
                    what);
    if (s->pad_h < 0 || s->pad_w < 0 || s->pad_h >= DW_MAX_GEOM || s->pad_w >= DW_MAX_GEOM)
        CF_FAIL(CF_ERR_INVALID_ARG, "depthwise conv %s: padding %lldx%lld outside [0, 2^24)", what,
                (long long)s->pad_h, (long long)s->pad_w);
    if (s->kh * s->dil_h >= DW_MAX_GEOM || s->kw * s->dil_w >= DW_MAX_GEOM ||
        s->oh * s->stride_h >= DW_MAX_GEOM || s->ow * s->stride_w >= DW_MAX_GEOM)
        CF_FAIL(CF_ERR_INVALID_ARG, "depthwise conv %s: kernel extent or strided output beyond 2^24", what);
    /* each product below has factors < 2^24 and stops as soon as it passes INT_MAX */
    const int64_t nc = s->n * s->c;
    if (nc > INT_MAX || nc * s->h > INT_MAX || nc * s->h * s->w > INT_MAX || nc * s->oh > INT_MAX ||
        nc * s->oh * s->ow > INT_MAX || s->c * s->kh > INT_MAX || s->c * s->kh * s->kw > INT_MAX)
        CF_FAIL(CF_ERR_UNSUPPORTED,
                "depthwise conv %s: x (%lld, %lld, %lld, %lld) or y (.., %lld, %lld) exceeds 2^31 - 1 elements", what,
                (long long)s->n, (long long)s->c, (long long)s->h, (long long)s->w, (long long)s->oh,
                (long long)s->ow);
    *d = (dw_shape){(unsigned)s->n,  (unsigned)s->c,  (unsigned)s->h,  (unsigned)s->w,  (unsigned)s->oh,
                    (unsigned)s->ow, (int)s->kh,      (int)s->kw,      (int)s->stride_h, (int)s->stride_w,
                    (int)s->pad_h,   (int)s->pad_w,   (int)s->dil_h,   (int)s->dil_w};
    return CF_OK;
}

/* Grid-stride loop over [0, n) in 32 bits (n <= 2^31 - 1, so i + stride < 2^32). */
#define DW_FOR(i, n) for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += gridDim.x * blockDim.x)

/* ---- forward ------------------------------------------------------------------ */

/* KH, KW > 0: the kernel size at compile time (loops unrolled); 0: s.kh, s.kw. */
template <int KH, int KW>
static __global__ void dw_forward_kernel(const float *__restrict__ x, const float *__restrict__ w,
                                         const float *__restrict__ bias, float *__restrict__ y, dw_shape s,
                                         unsigned total) {
    const int kh_n = KH > 0 ? KH : s.kh, kw_n = KW > 0 ? KW : s.kw;
    const int H = (int)s.h, W = (int)s.w;
    DW_FOR(i, total) {
        const unsigned ow = i % s.ow;
        const unsigned r = i / s.ow;
        const unsigned oh = r % s.oh;
        const unsigned plane = r / s.oh; /* n * C + c */
        const unsigned c = plane % s.c;
        const float *xp = x + (size_t)plane * s.h * s.w;
        const float *wp = w + (size_t)c * kh_n * kw_n;
        const int ih0 = (int)oh * s.stride_h - s.pad_h, iw0 = (int)ow * s.stride_w - s.pad_w;
        float acc = bias ? __ldg(bias + c) : 0.0f;
#pragma unroll
        for (int kh = 0; kh < kh_n; kh++) {
            const int ih = ih0 + kh * s.dil_h;
            if (ih < 0 || ih >= H) continue;
#pragma unroll
            for (int kw = 0; kw < kw_n; kw++) {
                const int iw = iw0 + kw * s.dil_w;
                if (iw < 0 || iw >= W) continue;
                acc = fmaf(__ldg(xp + ih * W + iw), __ldg(wp + kh * kw_n + kw), acc);
            }
        }
        y[i] = acc;
    }
}

extern "C" cf_status cf_kernel_dwconv_forward(const float *x, const float *w, const float *bias, float *y,
                                              const cf_kernel_dwconv *shape, cudaStream_t stream) {
    dw_shape s;
    CF_TRY(dw_shape_of(shape, "forward", &s));
    const unsigned total = s.n * s.c * s.oh * s.ow;
    const unsigned blocks = cf_kernel_blocks(total);
    if (s.kh == 3 && s.kw == 3)
        dw_forward_kernel<3, 3><<<blocks, CF_KERNEL_THREADS, 0, stream>>>(x, w, bias, y, s, total);
    else if (s.kh == 5 && s.kw == 5)
        dw_forward_kernel<5, 5><<<blocks, CF_KERNEL_THREADS, 0, stream>>>(x, w, bias, y, s, total);
    else if (s.kh == 7 && s.kw == 7)
        dw_forward_kernel<7, 7><<<blocks, CF_KERNEL_THREADS, 0, stream>>>(x, w, bias, y, s, total);
    else
        dw_forward_kernel<0, 0><<<blocks, CF_KERNEL_THREADS, 0, stream>>>(x, w, bias, y, s, total);
    return CF_KERNEL_LAUNCHED("dwconv_forward");
}

/* ---- backward data ------------------------------------------------------------ */

/* dx[n, c, ih, iw] gathers w[c, kh, kw] * dy[n, c, oh, ow] over the taps with
 * ih = oh * stride - pad + kh * dil (the same for w), as ref_conv.c does. */
template <int KH, int KW>
static __global__ void dw_backward_data_kernel(const float *__restrict__ dy, const float *__restrict__ w,
                                               float *__restrict__ dx, dw_shape s, unsigned total, int assign) {
    const int kh_n = KH > 0 ? KH : s.kh, kw_n = KW > 0 ? KW : s.kw;
    const int OH = (int)s.oh, OW = (int)s.ow;
    DW_FOR(i, total) {
        const unsigned iw = i % s.w;
        const unsigned r = i / s.w;
        const unsigned ih = r % s.h;
        const unsigned plane = r / s.h; /* n * C + c */
        const unsigned c = plane % s.c;
        const float *dyp = dy + (size_t)plane * s.oh * s.ow;
        const float *wp = w + (size_t)c * kh_n * kw_n;
        const int th0 = (int)ih + s.pad_h, tw0 = (int)iw + s.pad_w;
        float acc = 0.0f;
#pragma unroll
        for (int kh = 0; kh < kh_n; kh++) {
            const int th = th0 - kh * s.dil_h;
            if (th < 0 || th % s.stride_h) continue;
            const int oh = th / s.stride_h;
            if (oh >= OH) continue;
#pragma unroll
            for (int kw = 0; kw < kw_n; kw++) {
                const int tw = tw0 - kw * s.dil_w;
                if (tw < 0 || tw % s.stride_w) continue;
                const int ow = tw / s.stride_w;
                if (ow >= OW) continue;
                acc = fmaf(__ldg(wp + kh * kw_n + kw), __ldg(dyp + oh * OW + ow), acc);
            }
        }
        dx[i] = assign ? acc : __fadd_rn(dx[i], acc);
    }
}

extern "C" cf_status cf_kernel_dwconv_backward_data(const float *dy, const float *w, float *dx,
                                                    const cf_kernel_dwconv *shape, int assign,
                                                    cudaStream_t stream) {
    dw_shape s;
    CF_TRY(dw_shape_of(shape, "backward data", &s));
    const unsigned total = s.n * s.c * s.h * s.w;
    const unsigned blocks = cf_kernel_blocks(total);
    if (s.kh == 3 && s.kw == 3)
        dw_backward_data_kernel<3, 3><<<blocks, CF_KERNEL_THREADS, 0, stream>>>(dy, w, dx, s, total, assign);
    else if (s.kh == 5 && s.kw == 5)
        dw_backward_data_kernel<5, 5><<<blocks, CF_KERNEL_THREADS, 0, stream>>>(dy, w, dx, s, total, assign);
    else if (s.kh == 7 && s.kw == 7)
        dw_backward_data_kernel<7, 7><<<blocks, CF_KERNEL_THREADS, 0, stream>>>(dy, w, dx, s, total, assign);
    else
        dw_backward_data_kernel<0, 0><<<blocks, CF_KERNEL_THREADS, 0, stream>>>(dy, w, dx, s, total, assign);
    return CF_KERNEL_LAUNCHED("dwconv_backward_data");
}

/* ---- backward weight and bias ------------------------------------------------- */

/* Threads per block of the weight-gradient reduction (a multiple of 32, at most 1024). */
#define DW_REDUCE_THREADS 256

/* The sum of v over the block, in a fixed order; valid in thread 0 only. Called
 * once per block (the shared array is not reused). */
static __device__ float dw_block_sum(float v) {
    __shared__ float warp_sum[DW_REDUCE_THREADS / 32];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    const unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5;
    if (lane == 0) warp_sum[warp] = v;
    __syncthreads();
    if (warp != 0) return 0.0f;
    v = lane < DW_REDUCE_THREADS / 32 ? warp_sum[lane] : 0.0f;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    return v;
}

/* Block b: channel b / per_c, tap tap0 + b % per_c; tap kh * KW + kw is a weight,
 * tap KH * KW the bias. The products run over m = (n, oh, ow), ow fastest. */
static __global__ void dw_backward_weight_kernel(const float *__restrict__ x, const float *__restrict__ dy,
                                                 float *dw, float *dbias, dw_shape s, unsigned per_c, int tap0) {
    const unsigned c = blockIdx.x / per_c;
    const int tap = tap0 + (int)(blockIdx.x % per_c);
    const int taps = s.kh * s.kw;
    const unsigned ohw = s.oh * s.ow, hw = s.h * s.w;
    const unsigned m_total = s.n * ohw;
    float acc = 0.0f;
    if (tap == taps) {
        for (unsigned m = threadIdx.x; m < m_total; m += DW_REDUCE_THREADS) {
            const unsigned n = m / ohw, q = m - n * ohw;
            acc += __ldg(dy + (n * s.c + c) * ohw + q);
        }
    } else {
        const int kh = tap / s.kw, kw = tap % s.kw;
        const int offh = kh * s.dil_h - s.pad_h, offw = kw * s.dil_w - s.pad_w;
        const int H = (int)s.h, W = (int)s.w;
        for (unsigned m = threadIdx.x; m < m_total; m += DW_REDUCE_THREADS) {
            const unsigned n = m / ohw, q = m - n * ohw;
            const unsigned oh = q / s.ow, ow = q - oh * s.ow;
            const int ih = (int)oh * s.stride_h + offh, iw = (int)ow * s.stride_w + offw;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            const unsigned plane = n * s.c + c;
            acc = fmaf(__ldg(x + plane * hw + (unsigned)(ih * W + iw)), __ldg(dy + plane * ohw + q), acc);
        }
    }
    acc = dw_block_sum(acc);
    if (threadIdx.x == 0) {
        float *g = tap == taps ? dbias + c : dw + (size_t)c * taps + tap;
        *g = __fadd_rn(*g, acc); /* gradients accumulate (beta = 1) */
    }
}

extern "C" cf_status cf_kernel_dwconv_backward_weight(const float *x, const float *dy, float *dw, float *dbias,
                                                      const cf_kernel_dwconv *shape, cudaStream_t stream) {
    if (!dw && !dbias) return CF_OK;
    dw_shape s;
    CF_TRY(dw_shape_of(shape, "backward weight", &s));
    const int taps = s.kh * s.kw;
    /* the weight taps [0, taps) when dw is wanted, then the bias tap when dbias is */
    const int tap0 = dw ? 0 : taps;
    const unsigned per_c = (unsigned)((dw ? taps : 0) + (dbias ? 1 : 0));
    const int64_t blocks = (int64_t)s.c * per_c;
    if (blocks > INT_MAX)
        CF_FAIL(CF_ERR_UNSUPPORTED, "depthwise conv backward weight: %u channels of %d taps is over 2^31 - 1 blocks",
                s.c, taps);
    dw_backward_weight_kernel<<<(unsigned)blocks, DW_REDUCE_THREADS, 0, stream>>>(x, dy, dw, dbias, s, per_c, tap0);
    return CF_KERNEL_LAUNCHED("dwconv_backward_weight");
}
