/* ref_conv.c - reference 2-D convolution (cross-correlation, as in every
 * framework): any kernel size, stride, zero padding, dilation and groups.
 * Checked against finite differences (tests/test_grad.c) and PyTorch
 * (tests/test_golden.c). */
#include "ref.h"

cf_status cf_ref_conv2d_forward(const cf_op_args *a) {
    const cf_conv2d_params *p = &a->params.conv;
    const cf_tensor *x = a->in[0];  /* (N, C, H, W) */
    const cf_tensor *w = a->w[0];   /* (OC, C/G, KH, KW) */
    const cf_tensor *b = a->w[1];   /* (OC) or NULL */
    cf_tensor *y = a->out;          /* (N, OC, OH, OW) */
    const int64_t N = x->shape[0], H = x->shape[2], W = x->shape[3];
    const int64_t OC = w->shape[0], CG = w->shape[1], KH = w->shape[2], KW = w->shape[3];
    const int64_t OH = y->shape[2], OW = y->shape[3];
    const int64_t OCG = OC / p->groups; /* output channels per group */

    for (int64_t n = 0; n < N; n++)
        for (int64_t oc = 0; oc < OC; oc++) {
            const int64_t g = oc / OCG;
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    double acc = b ? ref_get(b, VEC(b, oc)) : 0.0;
                    for (int64_t ic = 0; ic < CG; ic++) {
                        const int64_t c = g * CG + ic;
                        for (int64_t kh = 0; kh < KH; kh++) {
                            const int64_t ih = oh * p->stride_h - p->pad_h + kh * p->dil_h;
                            if (ih < 0 || ih >= H) continue;
                            for (int64_t kw = 0; kw < KW; kw++) {
                                const int64_t iw = ow * p->stride_w - p->pad_w + kw * p->dil_w;
                                if (iw < 0 || iw >= W) continue;
                                acc += ref_get(x, AT(x, n, c, ih, iw)) * ref_get(w, AT(w, oc, ic, kh, kw));
                            }
                        }
                    }
                    ref_set(y, AT(y, n, oc, oh, ow), acc);
                }
        }
    return CF_OK;
}

/* Backward in gather form, each gradient element summed in double, then added:
 *   dx[n, c, ih, iw]   = sum over (oc in c's group, kh, kw) with ih = oh*s - p + kh*d  of w * dy
 *   dw[oc, ic, kh, kw] = sum over (n, oh, ow) of x * dy
 *   db[oc]             = sum over (n, oh, ow) of dy */
cf_status cf_ref_conv2d_backward(const cf_op_args *a) {
    const cf_conv2d_params *p = &a->params.conv;
    const cf_tensor *x = a->in[0];  /* (N, C, H, W) */
    const cf_tensor *w = a->w[0];   /* (OC, C/G, KH, KW) */
    const cf_tensor *dy = a->dout;  /* (N, OC, OH, OW) */
    cf_tensor *dx = a->din[0];      /* (N, C, H, W) or NULL */
    cf_tensor *dw = a->dw[0];       /* (OC, C/G, KH, KW) or NULL */
    cf_tensor *db = a->dw[1];       /* (OC) or NULL */
    const int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    const int64_t OC = w->shape[0], CG = w->shape[1], KH = w->shape[2], KW = w->shape[3];
    const int64_t OH = dy->shape[2], OW = dy->shape[3];
    const int64_t OCG = OC / p->groups;

    if (dx)
        for (int64_t n = 0; n < N; n++)
            for (int64_t c = 0; c < C; c++) {
                const int64_t g = c / CG, ic = c % CG;
                for (int64_t ih = 0; ih < H; ih++)
                    for (int64_t iw = 0; iw < W; iw++) {
                        double acc = 0.0;
                        for (int64_t oc = g * OCG; oc < (g + 1) * OCG; oc++)
                            for (int64_t kh = 0; kh < KH; kh++) {
                                const int64_t th = ih + p->pad_h - kh * p->dil_h;
                                if (th < 0 || th % p->stride_h) continue;
                                const int64_t oh = th / p->stride_h;
                                if (oh >= OH) continue;
                                for (int64_t kw = 0; kw < KW; kw++) {
                                    const int64_t tw = iw + p->pad_w - kw * p->dil_w;
                                    if (tw < 0 || tw % p->stride_w) continue;
                                    const int64_t ow = tw / p->stride_w;
                                    if (ow >= OW) continue;
                                    acc += ref_get(w, AT(w, oc, ic, kh, kw)) * ref_get(dy, AT(dy, n, oc, oh, ow));
                                }
                            }
                        ref_add(dx, AT(dx, n, c, ih, iw), acc);
                    }
            }

    if (dw)
        for (int64_t oc = 0; oc < OC; oc++) {
            const int64_t g = oc / OCG;
            for (int64_t ic = 0; ic < CG; ic++)
                for (int64_t kh = 0; kh < KH; kh++)
                    for (int64_t kw = 0; kw < KW; kw++) {
                        double acc = 0.0;
                        for (int64_t n = 0; n < N; n++)
                            for (int64_t oh = 0; oh < OH; oh++) {
                                const int64_t ih = oh * p->stride_h - p->pad_h + kh * p->dil_h;
                                if (ih < 0 || ih >= H) continue;
                                for (int64_t ow = 0; ow < OW; ow++) {
                                    const int64_t iw = ow * p->stride_w - p->pad_w + kw * p->dil_w;
                                    if (iw < 0 || iw >= W) continue;
                                    acc += ref_get(x, AT(x, n, g * CG + ic, ih, iw)) * ref_get(dy, AT(dy, n, oc, oh, ow));
                                }
                            }
                        ref_add(dw, AT(dw, oc, ic, kh, kw), acc);
                    }
        }

    if (db)
        for (int64_t oc = 0; oc < OC; oc++) {
            double acc = 0.0;
            for (int64_t n = 0; n < N; n++)
                for (int64_t oh = 0; oh < OH; oh++)
                    for (int64_t ow = 0; ow < OW; ow++) acc += ref_get(dy, AT(dy, n, oc, oh, ow));
            ref_add(db, VEC(db, oc), acc);
        }
    return CF_OK;
}
