/* ref_pool.c - reference average, max and global average pooling.
 *
 * Average pooling divides by the number of in-bounds positions of each window
 * (PyTorch's count_include_pad=False, the DARTS and NAS-Bench-201 choice).
 * Max pooling ignores padding; backward routes the gradient to the first
 * maximum in row-major window order (PyTorch's tie rule). */
#include <math.h>

#include "ref.h"

/* Bounds of window (oh, ow) clipped to the input. */
static void window(const cf_pool2d_params *p, int64_t oh, int64_t ow, int64_t H, int64_t W,
                   int64_t *h0, int64_t *h1, int64_t *w0, int64_t *w1) {
    *h0 = oh * p->stride_h - p->pad_h;
    *w0 = ow * p->stride_w - p->pad_w;
    *h1 = *h0 + p->kernel_h;
    *w1 = *w0 + p->kernel_w;
    if (*h0 < 0) *h0 = 0;
    if (*w0 < 0) *w0 = 0;
    if (*h1 > H) *h1 = H;
    if (*w1 > W) *w1 = W;
}

cf_status cf_ref_avgpool2d_forward(const cf_op_args *a) {
    const cf_pool2d_params *p = &a->params.pool;
    const cf_tensor *x = a->in[0]; /* (N, C, H, W) */
    cf_tensor *y = a->out;         /* (N, C, OH, OW) */
    const int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t oh = 0; oh < y->shape[2]; oh++)
                for (int64_t ow = 0; ow < y->shape[3]; ow++) {
                    int64_t h0, h1, w0, w1;
                    window(p, oh, ow, H, W, &h0, &h1, &w0, &w1);
                    double sum = 0.0;
                    for (int64_t h = h0; h < h1; h++)
                        for (int64_t w = w0; w < w1; w++) sum += ref_get(x, AT(x, n, c, h, w));
                    ref_set(y, AT(y, n, c, oh, ow), sum / (double)((h1 - h0) * (w1 - w0)));
                }
    return CF_OK;
}

cf_status cf_ref_avgpool2d_backward(const cf_op_args *a) {
    const cf_pool2d_params *p = &a->params.pool;
    const cf_tensor *x = a->in[0];
    const cf_tensor *dy = a->dout; /* (N, C, OH, OW) */
    cf_tensor *dx = a->din[0];     /* (N, C, H, W) */
    if (!dx) return CF_OK;
    const int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t oh = 0; oh < dy->shape[2]; oh++)
                for (int64_t ow = 0; ow < dy->shape[3]; ow++) {
                    int64_t h0, h1, w0, w1;
                    window(p, oh, ow, H, W, &h0, &h1, &w0, &w1);
                    double share = ref_get(dy, AT(dy, n, c, oh, ow)) / (double)((h1 - h0) * (w1 - w0));
                    for (int64_t h = h0; h < h1; h++)
                        for (int64_t w = w0; w < w1; w++) ref_add(dx, AT(dx, n, c, h, w), share);
                }
    return CF_OK;
}

/* Position of the first maximum of window (oh, ow); the padding-fit rule in
 * ops.c guarantees every window holds at least one input element. */
static void window_argmax(const cf_tensor *x, const cf_pool2d_params *p, int64_t n, int64_t c,
                          int64_t oh, int64_t ow, int64_t *bh, int64_t *bw, double *best) {
    int64_t h0, h1, w0, w1;
    window(p, oh, ow, x->shape[2], x->shape[3], &h0, &h1, &w0, &w1);
    *best = -INFINITY;
    *bh = h0;
    *bw = w0;
    for (int64_t h = h0; h < h1; h++)
        for (int64_t w = w0; w < w1; w++) {
            double v = ref_get(x, AT(x, n, c, h, w));
            if (v > *best || isnan(v)) {
                *best = v;
                *bh = h;
                *bw = w;
                if (isnan(v)) return;
            }
        }
}

cf_status cf_ref_maxpool2d_forward(const cf_op_args *a) {
    const cf_pool2d_params *p = &a->params.pool;
    const cf_tensor *x = a->in[0];
    cf_tensor *y = a->out;
    for (int64_t n = 0; n < x->shape[0]; n++)
        for (int64_t c = 0; c < x->shape[1]; c++)
            for (int64_t oh = 0; oh < y->shape[2]; oh++)
                for (int64_t ow = 0; ow < y->shape[3]; ow++) {
                    int64_t bh, bw;
                    double best;
                    window_argmax(x, p, n, c, oh, ow, &bh, &bw, &best);
                    ref_set(y, AT(y, n, c, oh, ow), best);
                }
    return CF_OK;
}

cf_status cf_ref_maxpool2d_backward(const cf_op_args *a) {
    const cf_pool2d_params *p = &a->params.pool;
    const cf_tensor *x = a->in[0];
    const cf_tensor *dy = a->dout;
    cf_tensor *dx = a->din[0];
    if (!dx) return CF_OK;
    for (int64_t n = 0; n < x->shape[0]; n++)
        for (int64_t c = 0; c < x->shape[1]; c++)
            for (int64_t oh = 0; oh < dy->shape[2]; oh++)
                for (int64_t ow = 0; ow < dy->shape[3]; ow++) {
                    int64_t bh, bw;
                    double best;
                    window_argmax(x, p, n, c, oh, ow, &bh, &bw, &best);
                    ref_add(dx, AT(dx, n, c, bh, bw), ref_get(dy, AT(dy, n, c, oh, ow)));
                }
    return CF_OK;
}

cf_status cf_ref_global_avgpool_forward(const cf_op_args *a) {
    const cf_tensor *x = a->in[0]; /* (N, C, H, W) */
    cf_tensor *y = a->out;         /* (N, C, 1, 1) */
    const int64_t H = x->shape[2], W = x->shape[3];
    for (int64_t n = 0; n < x->shape[0]; n++)
        for (int64_t c = 0; c < x->shape[1]; c++) {
            double sum = 0.0;
            for (int64_t h = 0; h < H; h++)
                for (int64_t w = 0; w < W; w++) sum += ref_get(x, AT(x, n, c, h, w));
            ref_set(y, AT(y, n, c, 0, 0), sum / (double)(H * W));
        }
    return CF_OK;
}

cf_status cf_ref_global_avgpool_backward(const cf_op_args *a) {
    const cf_tensor *x = a->in[0];
    const cf_tensor *dy = a->dout; /* (N, C, 1, 1) */
    cf_tensor *dx = a->din[0];
    if (!dx) return CF_OK;
    const int64_t H = x->shape[2], W = x->shape[3];
    for (int64_t n = 0; n < x->shape[0]; n++)
        for (int64_t c = 0; c < x->shape[1]; c++) {
            double share = ref_get(dy, AT(dy, n, c, 0, 0)) / (double)(H * W);
            for (int64_t h = 0; h < H; h++)
                for (int64_t w = 0; w < W; w++) ref_add(dx, AT(dx, n, c, h, w), share);
        }
    return CF_OK;
}
