/* step_rule.h - the clipping and loss-scaling rule of one training step,
 * written once for the host (cf_step_clip_host in src/backend/backend.c, the
 * host path and the host-as-device test backend) and the GPU (step.cu's
 * step_clip_kernel), so both give the same factor and the same scale from the
 * same squared norm: the arithmetic is double, then one rounding to float.
 * backend.h's cf_step_clip_host says what the rule is. */
#ifndef CF_KERNELS_STEP_RULE_H
#define CF_KERNELS_STEP_RULE_H

#include <math.h>

#include "cellforge/backend.h"

#ifdef __CUDACC__
#define CF_STEP_RULE static __host__ __device__ inline
#else
#define CF_STEP_RULE static inline
#endif

CF_STEP_RULE void cf_step_rule(cf_step_stats *st, double norm2, double max_norm) {
    const double scale = st->scale > 0 ? (double)st->scale : 1.0;
    st->clip = 1.0f;
    st->skip = 0;
    if (!isfinite(norm2)) {
        if (st->scale > 1) { /* the scaled gradients overflowed: skip the step, try half the scale */
            st->scale *= 0.5f;
            st->good = 0;
            st->skipped++;
            st->skip = 1;
            return;
        }
        if (st->bad == CF_STEP_OK) {
            st->bad = CF_STEP_BAD_GRAD;
            st->bad_step = st->steps - 1;
        }
        return;
    }
    const double norm = sqrt(norm2) / scale;
    st->clip = (float)((max_norm > 0 && norm > max_norm ? max_norm / norm : 1.0) / scale);
    if (st->scale > 0 && ++st->good >= CF_LOSS_SCALE_GROWTH) {
        st->scale *= 2.0f;
        st->good = 0;
    }
}

/* The loss gradients a step starts from: weight x the scale (1 when off), rounded once. */
CF_STEP_RULE float cf_step_seed_rule(const cf_step_stats *st, double weight) {
    return (float)(weight * (st->scale > 0 ? (double)st->scale : 1.0));
}

#endif
