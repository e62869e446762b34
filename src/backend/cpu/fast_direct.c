/* fast_direct.c - direct 3x3 convolution for dense convs with few channels.
 *
 * With 16-64 output channels the per-image GEMM of the im2col path is a thin
 * 16 x (C*9) x (H*W) product that OpenBLAS runs well below peak, and the
 * column buffer costs a pass over 9x the input. Here a vector holds 16 output
 * channels: a tile of PB output pixels x 16 (or 32) channels lives in
 * registers while the loop runs over input channels and the 9 taps,
 * broadcasting one input value per pixel and FMA-ing it with the weight
 * vector W[oc0:oc0+16, ic, kh, kw].
 *
 * Layout tricks that keep the inner loop free of border tests:
 *  - each input image is copied, zero padded, into "phase planes": for stride
 *    s the padded image splits into s*s planes x_ab[i][j] = xpad[s*i+a][s*j+b],
 *    so tap (kh, kw) of output (oh, ow) reads plane (kh%s, kw%s) at
 *    (oh + kh/s, ow + kw/s): a stride-1 read for either stride;
 *  - output pixels are indexed q = oh*Wq + ow over the plane width Wq, so a
 *    tile is PB consecutive q and every tap reads PB consecutive floats. The
 *    few columns with ow >= OW are computed and thrown away;
 *  - the tile is stored pixel-major (q, oc) and transposed to NCHW per image.
 * Backward data (stride 1) is the same kernel run on dy with the kernel
 * flipped and its in/out channels swapped; the weight gradient holds 9 (or
 * 18) accumulators dW[oc-vector, ic, tap] over a pixel-major copy of dy.
 * The batch is split over OpenMP threads; weight gradients are summed per
 * thread and reduced in thread order.
 *
 * fast_conv.c sends a conv here when fast_direct_conv_fits(); checked against
 * ref_conv.c by tests/test_cpu_fast.c, timed by benchmarks/bench_fast_ops.c.
 * Compiled with -ffp-contract=fast (CMakeLists.txt) so `acc += w * x` on
 * vectors becomes one FMA in the AVX2 and AVX-512 clones.
 */
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "fast.h"

typedef float v16 __attribute__((vector_size(64)));
#define VL 16
#define KK 9  /* taps of the 3x3 kernel */
#define ICB 16 /* input channels per weight block of a tile pass */

/* One direct convolution: in (C, H, W) -> out (OC, OH, OW), 3x3, square
 * stride s in {1, 2} and padding p. */
typedef struct dgeom {
    int64_t C, H, W, OC, OH, OW, s, p;
    int64_t Wq;     /* phase-plane width: row pitch of the pixel index q */
    int64_t Q;      /* OH * Wq */
    int64_t Qp;     /* Q rounded up to whole tiles */
    int64_t PL;     /* floats per phase plane (with the tail that tiles overrun into) */
    int64_t CS;     /* floats per input channel: s*s planes */
    int kind;       /* index into tile_kinds */
    int nv, pb;     /* its 16-channel vectors per tile and pixels per tile */
    int rows;       /* 1: tiles cut per output row; 0: flat over q */
    int64_t off[KK]; /* tap t = kh*3 + kw: its offset into a channel's planes */
} dgeom;

/* Tile kernels: out (PB pixels, ldo) at 16 NV channels = sum over input
 * channels and taps of the broadcast input times the weight vectors (added
 * to what out holds when `more`: a later block of input channels). One
 * function per (NV, PB): the accumulators must be compile-time arrays to
 * live in registers (NV * PB + NV of the 32 vector registers). */
#define DEFINE_TILE(NV, PB)                                                                                   \
    FAST_SIMD static void tile_##NV##_##PB(const float *xq, int64_t cs, int64_t C, const int64_t *off,        \
                                           const float *w, float *out, int64_t ldo, int more) {               \
        v16 acc[NV][PB];                                                                                      \
        for (int v = 0; v < NV; v++)                                                                          \
            for (int j = 0; j < PB; j++) acc[v][j] = more ? *(const v16 *)(out + j * ldo + v * VL) : (v16){0}; \
        for (int64_t ic = 0; ic < C; ic++) {                                                                  \
            const float *xc = xq + ic * cs;                                                                   \
            const v16 *wc = (const v16 *)(w + ic * KK * NV * VL);                                             \
            for (int t = 0; t < KK; t++) {                                                                    \
                v16 wv[NV];                                                                                   \
                for (int v = 0; v < NV; v++) wv[v] = wc[t * NV + v];                                          \
                const float *xr = xc + off[t];                                                                \
                _Pragma("GCC unroll 16") for (int j = 0; j < PB; j++) {                                       \
                    const float xv = xr[j];                                                                   \
                    for (int v = 0; v < NV; v++) acc[v][j] += wv[v] * xv;                                     \
                }                                                                                             \
            }                                                                                                 \
        }                                                                                                     \
        _Pragma("GCC unroll 16") for (int j = 0; j < PB; j++) for (int v = 0; v < NV; v++)                    \
            *(v16 *)(out + j * ldo + v * VL) = acc[v][j];                                                     \
    }
DEFINE_TILE(1, 14)
DEFINE_TILE(1, 7)
DEFINE_TILE(2, 14)
DEFINE_TILE(2, 12)
DEFINE_TILE(2, 9)
DEFINE_TILE(2, 7)

typedef void (*tile_fn)(const float *, int64_t, int64_t, const int64_t *, const float *, float *, int64_t, int);
typedef struct tile_kind {
    int nv, pb;
    tile_fn fn;
} tile_kind;
static const tile_kind tile_kinds[] = {
    {1, 14, tile_1_14}, {1, 7, tile_1_7}, {2, 14, tile_2_14}, {2, 12, tile_2_12}, {2, 9, tile_2_9}, {2, 7, tile_2_7},
};
#define N_TILE_KINDS (int)(sizeof tile_kinds / sizeof tile_kinds[0])

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

static dgeom dgeom_make(int64_t C, int64_t H, int64_t W, int64_t OC, int64_t OH, int64_t OW, int64_t s, int64_t p) {
    dgeom g = {.C = C, .H = H, .W = W, .OC = OC, .OH = OH, .OW = OW, .s = s, .p = p};
    const int64_t r = 2 / s; /* (3 - 1) / s: extra rows/columns a tap reaches */
    g.Wq = max64(ceil_div(W + 2 * p, s), OW + r);
    const int64_t Hq = max64(ceil_div(H + 2 * p, s), OH + r);
    g.Q = OH * g.Wq;
    /* The tile kind and cut with the fewest pixel-vector FMAs (computed
     * pixels x vectors); on a tie the larger tile, which loads fewer weights. */
    int64_t best = -1;
    for (int k = 0; k < N_TILE_KINDS; k++) {
        const tile_kind *tk = &tile_kinds[k];
        if (OC % (tk->nv * VL)) continue;
        for (int rows = 0; rows < 2; rows++) {
            /* a row's last tile may run into the padding columns but not
             * into the next row: tiles of one pass must not overlap, since
             * later input-channel blocks add to what earlier ones stored */
            if (rows && ceil_div(OW, tk->pb) * tk->pb > g.Wq) continue;
            const int64_t px = rows ? OH * ceil_div(OW, tk->pb) * tk->pb : ceil_div(g.Q, tk->pb) * tk->pb;
            const int64_t cost = px * (OC / VL) * 64 + 64 / (tk->pb * tk->nv);
            if (best < 0 || cost < best) {
                best = cost;
                g.kind = k;
                g.nv = tk->nv;
                g.pb = tk->pb;
                g.rows = rows;
            }
        }
    }
    /* q of the last computed pixel + 1, rounded to whole tiles */
    g.Qp = g.rows ? (OH - 1) * g.Wq + ceil_div(OW, g.pb) * g.pb : ceil_div(g.Q, g.pb) * g.pb;
    g.Qp = max64(g.Qp, g.Q);
    g.PL = fast_round((size_t)max64(Hq * g.Wq, g.Qp + r * g.Wq + r));
    g.CS = s * s * g.PL;
    for (int64_t kh = 0; kh < 3; kh++)
        for (int64_t kw = 0; kw < 3; kw++)
            g.off[kh * 3 + kw] = ((kh % s) * s + kw % s) * g.PL + (kh / s) * g.Wq + kw / s;
    return g;
}

/* A vector at any float address. */
typedef float v16u __attribute__((vector_size(64), aligned(4)));

/* dst[0:n] = src[0:n] in vectors; rows are short (7-32 floats), so a library
 * call per row would cost more than the copy. */
static inline void copy_row(float *dst, const float *src, int64_t n) {
    int64_t i = 0;
    for (; i + VL <= n; i += VL) *(v16u *)(dst + i) = *(const v16u *)(src + i);
    if (i == n) return;
    if (n >= VL) {
        *(v16u *)(dst + n - VL) = *(const v16u *)(src + n - VL); /* overlaps the last full vector */
        return;
    }
    for (; i < n; i++) dst[i] = src[i];
}

/* Phase planes (C, s*s, PL) of one image x (C, H, W), zero padded. */
FAST_SIMD static void load_planes(const dgeom *g, const float *x, float *planes) {
    if (g->s == 1) {
        /* one plane per channel (CS floats, a whole number of aligned
         * vectors): cleared, then the rows copied in at (h + p, p) */
        const int64_t p = g->p, W = g->W, Wq = g->Wq;
        for (int64_t c = 0; c < g->C; c++) {
            const float *xc = x + c * g->H * W;
            float *pc = planes + c * g->CS;
            for (int64_t i = 0; i < g->CS; i += VL) *(v16 *)(pc + i) = (v16){0};
            for (int64_t h = 0; h < g->H; h++) copy_row(pc + (h + p) * Wq + p, xc + h * W, W);
        }
        return;
    }
    memset(planes, 0, (size_t)(g->C * g->CS) * sizeof(float));
    for (int64_t c = 0; c < g->C; c++) {
        const float *xc = x + c * g->H * g->W;
        float *pc = planes + c * g->CS;
        for (int64_t h = 0; h < g->H; h++) {
            const int64_t hp = h + g->p;
            const float *xr = xc + h * g->W;
            for (int64_t w = 0; w < g->W; w++) {
                const int64_t wp = w + g->p;
                pc[((hp & 1) * 2 + (wp & 1)) * g->PL + (hp >> 1) * g->Wq + (wp >> 1)] = xr[w];
            }
        }
    }
}

/* Weights (OC, C, 3, 3) packed for the tiles: ((grp, ic, tap, vec), 16)
 * with grp = oc / (16 nv). For backward data the conv runs from dy to dx:
 * its weights are W[oc, c] swapped and flipped, read with `swap`. */
static void pack_weights(const dgeom *g, const float *w, int swap, float *dst) {
    const int64_t gw = (int64_t)g->nv * VL;
    for (int64_t o = 0; o < g->OC; o++)
        for (int64_t i = 0; i < g->C; i++)
            for (int64_t t = 0; t < KK; t++) {
                const float v = swap ? w[(i * g->OC + o) * KK + (KK - 1 - t)] : w[(o * g->C + i) * KK + t];
                dst[(((o / gw) * g->C + i) * KK + t) * gw + o % gw] = v;
            }
}

/* outT (q, OC) of one image from its phase planes: row tiles (each output
 * row cut into segments of PB, the last one overrunning into the padding
 * columns) or flat tiles (PB consecutive q across row ends). */
static void conv_image(const dgeom *g, const float *planes, const float *wpk, float *outT, const float *dst,
                       const float *next_in) {
    const int64_t gw = (int64_t)g->nv * VL, groups = g->OC / gw;
    const tile_fn fn = tile_kinds[g->kind].fn;
    const int64_t seg = g->rows ? ceil_div(g->OW, g->pb) : 0;
    const int64_t ntiles = g->rows ? g->OH * seg : g->Qp / g->pb;
    /* While the tiles compute (from L1, leaving the memory system idle), a
     * few cache lines per tile are fetched ahead: the NCHW image this result
     * goes to (dst, OC*OH*OW floats, for writing), so the stores after the
     * last tile do not wait on one read-for-ownership per line, and the next
     * image's input (next_in, C*H*W floats, or NULL) for its load_planes. */
    const int64_t out_lines = ceil_div(g->OC * g->OH * g->OW, VL);
    const int64_t in_lines = next_in ? ceil_div(g->C * g->H * g->W, VL) : 0;
    const int64_t per_call = ceil_div(out_lines + in_lines, groups * ceil_div(g->C, ICB) * ntiles);
    int64_t next = 0;
    /* Blocks of ICB input channels: the weights a block's tiles share
     * (ICB * 9 * NV vectors, 9-18 KB) stay in L1 while every tile of the
     * image passes over them. */
    for (int64_t gi = 0; gi < groups; gi++)
        for (int64_t ic0 = 0; ic0 < g->C; ic0 += ICB) {
            const int64_t nc = g->C - ic0 < ICB ? g->C - ic0 : ICB;
            const float *wb = wpk + (gi * g->C + ic0) * KK * gw, *xb = planes + ic0 * g->CS;
            for (int64_t i = 0; i < ntiles; i++) {
                const int64_t q0 = g->rows ? (i / seg) * g->Wq + (i % seg) * g->pb : i * g->pb;
                fn(xb + q0, g->CS, nc, g->off, wb, outT + q0 * g->OC + gi * gw, g->OC, ic0 > 0);
                for (int64_t k = 0; k < per_call && next < out_lines + in_lines; k++, next++) {
                    if (next < out_lines) __builtin_prefetch(dst + next * VL, 1, 3);
                    else __builtin_prefetch(next_in + (next - out_lines) * VL, 0, 3);
                }
            }
        }
}

/* The pixel-major tile buffer (q, OC) and the NCHW tensors are converted
 * 16 pixels x 16 channels at a time: 16 vector loads, a transpose in
 * registers, 16 vector stores. Pixels p = oh*OW + ow are taken in NCHW order,
 * so the NCHW side is read or written with whole vectors (all but the last
 * block of a plane) and the pixel-major side, one 16-channel vector per
 * pixel, at q = oh*Wq + ow. */
typedef int32_t v16i __attribute__((vector_size(64)));

/* r[i][l] <-> r[l][i]. Four rounds; round k exchanges the k-wide blocks
 * that lie off the diagonal of each 2k x 2k block: lanes with bit k set of
 * row i and lanes with bit k clear of row i + k. One two-source permute per
 * row and round. */
static const v16i tr_lo[4] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23},
    {0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27},
    {0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29},
    {0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30},
};
static const v16i tr_hi[4] = {
    {8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31},
    {4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31},
    {2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31},
    {1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31},
};
#if defined(__clang__)
/* clang has no __builtin_shuffle with a mask in a variable (its
 * __builtin_shufflevector takes constant indices): the same selection element
 * by element. Only clang builds (the fuzz targets) take this path. */
static inline v16 shuffle2(v16 a, v16 b, v16i m) {
    v16 out;
    for (int e = 0; e < 16; e++) out[e] = m[e] < 16 ? a[m[e]] : b[m[e] - 16];
    return out;
}
#else
#define shuffle2(a, b, m) __builtin_shuffle(a, b, m)
#endif

static inline void transpose16(v16 r[16]) {
    _Pragma("GCC unroll 4") for (int round = 0; round < 4; round++) {
        const int k = 8 >> round;
        _Pragma("GCC unroll 16") for (int i = 0; i < 16; i++) if (!(i & k)) {
            const v16 a = r[i], b = r[i + k];
            r[i] = shuffle2(a, b, tr_lo[round]);
            r[i + k] = shuffle2(a, b, tr_hi[round]);
        }
    }
}

/* q of the 16 (or fewer) pixels from p0 on: the pixel-major row of each. */
static int block_rows(const dgeom *g, int64_t p0, int64_t q[16]) {
    const int64_t n = g->OH * g->OW - p0 < 16 ? g->OH * g->OW - p0 : 16;
    int64_t oh = p0 / g->OW, ow = p0 % g->OW;
    for (int64_t j = 0; j < n; j++) {
        q[j] = oh * g->Wq + ow;
        if (++ow == g->OW) ow = 0, oh++;
    }
    return (int)n;
}

/* y (OC, OH, OW) = outT + bias, or y += outT (add). */
FAST_SIMD static void store_nchw(const dgeom *g, const float *outT, const float *bias, int add, float *y) {
    const int64_t OC = g->OC, OHW = g->OH * g->OW;
    int64_t q[16];
    for (int64_t p0 = 0; p0 < OHW; p0 += 16) {
        const int n = block_rows(g, p0, q);
        for (int64_t c0 = 0; c0 < OC; c0 += 16) {
            v16 r[16];
            for (int j = 0; j < 16; j++) r[j] = j < n ? *(const v16 *)(outT + q[j] * OC + c0) : (v16){0};
            transpose16(r);
            for (int c = 0; c < 16; c++) {
                float *yr = y + (c0 + c) * OHW + p0;
                v16 v = r[c];
                if (!add && bias) v += bias[c0 + c];
                if (n == 16) {
                    *(v16u *)yr = add ? *(v16u *)yr + v : v;
                } else {
                    for (int j = 0; j < n; j++) yr[j] = add ? yr[j] + v[j] : v[j];
                }
            }
        }
    }
}

static void split(int64_t N, int t, int T, int64_t *lo, int64_t *hi) {
    *lo = N * t / T;
    *hi = N * (t + 1) / T;
}

int fast_direct_conv_fits(const cf_op_args *a) {
    const cf_conv2d_params *p = &a->params.conv;
    const cf_tensor *x = a->in[0], *w = a->w[0];
    if (p->groups != 1 || p->dil_h != 1 || p->dil_w != 1) return 0;
    if (p->stride_h != p->stride_w || p->stride_h < 1 || p->stride_h > 2) return 0;
    if (p->pad_h != p->pad_w || p->pad_h < 0 || p->pad_h > 2) return 0;
    if (w->shape[2] != 3 || w->shape[3] != 3) return 0;
    /* Few channels: with more, the GEMM's blocking wins and the per-tile
     * weight slice (C * 9 vectors) outgrows L1. */
    return w->shape[0] % VL == 0 && w->shape[0] <= 128 && x->shape[1] <= 128;
}

/* Geometry of a fitting call: forward (x -> y) or backward data (dy -> dx). */
static dgeom geom_forward(const cf_op_args *a) {
    const cf_tensor *x = a->in[0], *w = a->w[0], *y = a->out ? a->out : a->dout;
    return dgeom_make(x->shape[1], x->shape[2], x->shape[3], w->shape[0], y->shape[2], y->shape[3],
                      a->params.conv.stride_h, a->params.conv.pad_h);
}

cf_status fast_direct_conv_forward(fast_ctx *ctx, const cf_op_args *a) {
    const dgeom g = geom_forward(a);
    const float *x = FDATA(a->in[0]), *w = FDATA(a->w[0]); /* x (N, C, H, W); w (OC, C, 3, 3) */
    const float *b = a->w[1] ? FDATA(a->w[1]) : NULL;     /* (OC) or NULL */
    float *y = FDATA(a->out);                               /* (N, OC, OH, OW) */
    const int64_t N = a->in[0]->shape[0];
    const int T = ctx->threads;
    const size_t wpk_f = fast_round((size_t)(g.OC * g.C * KK));
    const size_t pl_f = fast_round((size_t)(g.C * g.CS)), out_f = fast_round((size_t)(g.Qp * g.OC));
    float *ws;
    CF_TRY(fast_workspace(ctx, wpk_f + (pl_f + out_f) * (size_t)T, &ws));
    float *wpk = ws; /* packed weights, shared */
    pack_weights(&g, w, 0, wpk);
#pragma omp parallel num_threads(T)
    {
        const int t = omp_get_thread_num();
        int64_t lo, hi;
        split(N, t, omp_get_num_threads(), &lo, &hi);
        float *planes = ws + wpk_f + (pl_f + out_f) * (size_t)t; /* (C, s*s, PL) */
        float *outT = planes + pl_f;                             /* (Qp, OC) */
        for (int64_t n = lo; n < hi; n++) {
            load_planes(&g, x + n * g.C * g.H * g.W, planes);
            conv_image(&g, planes, wpk, outT, y + n * g.OC * g.OH * g.OW,
                       n + 1 < hi ? x + (n + 1) * g.C * g.H * g.W : NULL);
            store_nchw(&g, outT, b, 0, y + n * g.OC * g.OH * g.OW);
        }
    }
    return CF_OK;
}

/* acc (9, 16 NV) += sum over output pixels q = oh*Wq + ow (ow < OW) of
 * dyT[q] (16 NV channels) * the x plane value at q + off[tap]. */
#define DEFINE_WGRAD(NV)                                                                                     \
    FAST_SIMD static void wgrad_##NV(const float *xc, const int64_t *off, const float *dyT, int64_t ldd,      \
                                     int64_t OH, int64_t OW, int64_t Wq, float *acc) {                        \
        v16 a[NV][KK];                                                                                       \
        for (int v = 0; v < NV; v++)                                                                         \
            for (int t = 0; t < KK; t++) a[v][t] = (v16){0};                                                 \
        for (int64_t oh = 0; oh < OH; oh++)                                                                  \
            for (int64_t q = oh * Wq; q < oh * Wq + OW; q++) {                                               \
                v16 d[NV];                                                                                   \
                for (int v = 0; v < NV; v++) d[v] = *(const v16 *)(dyT + q * ldd + v * VL);                  \
                _Pragma("GCC unroll 9") for (int t = 0; t < KK; t++) {                                       \
                    const float xv = xc[off[t] + q];                                                         \
                    for (int v = 0; v < NV; v++) a[v][t] += d[v] * xv;                                       \
                }                                                                                            \
            }                                                                                                \
        for (int t = 0; t < KK; t++)                                                                         \
            for (int v = 0; v < NV; v++) *(v16 *)(acc + (t * NV + v) * VL) += a[v][t];                       \
    }
DEFINE_WGRAD(1)
DEFINE_WGRAD(2)

/* dyT (Q, OC) pixel-major from dy (OC, OH, OW); columns ow >= OW are not written. */
FAST_SIMD static void load_dyT(const dgeom *g, const float *dy, float *dyT) {
    const int64_t OC = g->OC, OHW = g->OH * g->OW;
    int64_t q[16];
    for (int64_t p0 = 0; p0 < OHW; p0 += 16) {
        const int n = block_rows(g, p0, q);
        for (int64_t c0 = 0; c0 < OC; c0 += 16) {
            v16 r[16];
            for (int c = 0; c < 16; c++) {
                const float *src = dy + (c0 + c) * OHW + p0;
                if (n == 16) {
                    r[c] = *(const v16u *)src;
                } else {
                    r[c] = (v16){0};
                    for (int j = 0; j < n; j++) r[c][j] = src[j];
                }
            }
            transpose16(r);
            for (int j = 0; j < n; j++) *(v16 *)(dyT + q[j] * OC + c0) = r[j];
        }
    }
}

int fast_direct_conv_assigns(const cf_op_args *a) {
    if (!fast_direct_conv_fits(a) || !a->din[0]) return 0;
    const dgeom g = geom_forward(a);
    return g.s == 1 && g.C % VL == 0; /* the direct data-gradient path below */
}

cf_status fast_direct_conv_backward(fast_ctx *ctx, const cf_op_args *a, cf_op_args *rest) {
    const dgeom g = geom_forward(a);
    const float *x = FDATA(a->in[0]), *w = FDATA(a->w[0]), *dy = FDATA(a->dout);
    float *dx = a->din[0] ? FDATA(a->din[0]) : NULL; /* (N, C, H, W) */
    float *dw = a->dw[0] ? FDATA(a->dw[0]) : NULL;   /* (OC, C, 3, 3) */
    float *db = a->dw[1] ? FDATA(a->dw[1]) : NULL;   /* (OC) */
    const int64_t N = a->in[0]->shape[0];
    const int T = ctx->threads;
    /* dx by the flipped kernel needs stride 1 and 16-channel vectors of C;
     * otherwise the caller's col2im path computes it. */
    const int do_dx = dx && g.s == 1 && g.C % VL == 0;
    const dgeom gb = do_dx ? dgeom_make(g.OC, g.OH, g.OW, g.C, g.H, g.W, 1, 2 - g.p) : g;
    *rest = *a;
    rest->dw[0] = rest->dw[1] = NULL;
    if (do_dx) rest->din[0] = NULL;

    const size_t wsz = (size_t)(g.OC * g.C * KK);
    const size_t wpk_f = do_dx ? fast_round(wsz) : 0;
    const size_t xpl_f = dw ? fast_round((size_t)(g.C * g.CS)) : 0, dyT_f = dw ? fast_round((size_t)(g.Q * g.OC)) : 0;
    const size_t dw_f = dw ? fast_round(wsz) : 0, db_f = db ? fast_round((size_t)g.OC) : 0;
    const size_t dpl_f = do_dx ? fast_round((size_t)(gb.C * gb.CS)) : 0;
    const size_t dout_f = do_dx ? fast_round((size_t)(gb.Qp * gb.OC)) : 0;
    const size_t per_thread = xpl_f + dyT_f + dw_f + db_f + dpl_f + dout_f;
    if (!per_thread) return CF_OK;
    float *ws;
    CF_TRY(fast_workspace(ctx, wpk_f + per_thread * (size_t)T, &ws));
    if (do_dx) pack_weights(&gb, w, 1, ws);
    int used = 1;

#pragma omp parallel num_threads(T)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
#pragma omp single
        used = nt;
        int64_t lo, hi;
        split(N, t, nt, &lo, &hi);
        float *base = ws + wpk_f + per_thread * (size_t)t;
        float *xpl = base;                   /* (C, s*s, PL) */
        float *dyT = xpl + xpl_f;            /* (Q, OC) */
        float *dwacc = dyT + dyT_f;          /* packed like the forward weights */
        float *dbacc = dwacc + dw_f;         /* (OC) */
        float *dpl = dbacc + db_f;           /* dy planes (OC, PL) */
        float *dout = dpl + dpl_f;           /* (Qp', C) */
        if (dw) memset(dwacc, 0, wsz * sizeof(float));
        if (db) memset(dbacc, 0, (size_t)g.OC * sizeof(float));
        const int64_t gw = (int64_t)g.nv * VL;
        for (int64_t n = lo; n < hi; n++) {
            const float *dyn = dy + n * g.OC * g.OH * g.OW;
            if (dw) {
                load_planes(&g, x + n * g.C * g.H * g.W, xpl);
                load_dyT(&g, dyn, dyT);
                for (int64_t gi = 0; gi < g.OC / gw; gi++)
                    for (int64_t ic = 0; ic < g.C; ic++) {
                        float *acc = dwacc + (gi * g.C + ic) * KK * gw;
                        if (g.nv == 2) wgrad_2(xpl + ic * g.CS, g.off, dyT + gi * gw, g.OC, g.OH, g.OW, g.Wq, acc);
                        else wgrad_1(xpl + ic * g.CS, g.off, dyT + gi * gw, g.OC, g.OH, g.OW, g.Wq, acc);
                    }
            }
            if (do_dx) {
                load_planes(&gb, dyn, dpl);
                conv_image(&gb, dpl, ws, dout, dx + n * g.C * g.H * g.W,
                           n + 1 < hi ? dy + (n + 1) * g.OC * g.OH * g.OW : NULL);
                store_nchw(&gb, dout, NULL, !a->din_assign[0], dx + n * g.C * g.H * g.W);
            }
            if (db)
                for (int64_t oc = 0; oc < g.OC; oc++) {
                    const float *d = dyn + oc * g.OH * g.OW;
                    float s = 0.0f;
                    for (int64_t i = 0; i < g.OH * g.OW; i++) s += d[i];
                    dbacc[oc] += s;
                }
        }
    }

    /* Per-thread partials summed in thread order, unpacked to (OC, C, 3, 3). */
    if (dw) {
        const int64_t gw = (int64_t)g.nv * VL, n = (int64_t)wsz;
#pragma omp parallel for num_threads(T) schedule(static)
        for (int64_t i = 0; i < n; i++) {
            const int64_t o = i / (g.C * KK), ic = (i / KK) % g.C, tap = i % KK;
            const size_t at = xpl_f + dyT_f + (size_t)((((o / gw) * g.C + ic) * KK + tap) * gw + o % gw);
            float s = 0.0f;
            for (int t = 0; t < used; t++) s += ws[wpk_f + per_thread * (size_t)t + at];
            dw[i] += s;
        }
    }
    if (db)
        for (int64_t oc = 0; oc < g.OC; oc++) {
            float s = 0.0f;
            for (int t = 0; t < used; t++) s += ws[wpk_f + per_thread * (size_t)t + xpl_f + dyT_f + dw_f + (size_t)oc];
            db[oc] += s;
        }
    return CF_OK;
}
