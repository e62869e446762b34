/* step.h - launchers of a training step's bookkeeping on the GPU (step.cu):
 * loss and hits into a cf_step_stats in device memory, and the clipping
 * factor from the gradients' norm. Pointers are device memory; the work is
 * queued on `stream` without waiting, and may be captured into a CUDA graph.
 * Used by src/backend/cuda/cuda_misc.c; tests/test_cuda_loops.c (label gpu).
 *
 *   CF_TRY(cf_kernel_step_stats(logits, labels, n, 10, loss, NULL, 0, 1e4, stats, stream));
 *   CF_TRY(cf_kernel_step_clip(grad, n_params, 5.0, partial, CF_CUDA_PARTIALS, stats, stream));
 */
#ifndef CF_KERNELS_STEP_H
#define CF_KERNELS_STEP_H

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "cellforge/backend.h"
#include "sgd.h"

#ifdef __cplusplus
extern "C" {
#endif

/* logits (n, k) of dtype dt (f32, bf16, f16).
 * stats->steps++; unless a step before was bad: a loss main[0] + aux_weight
 * aux[0] (aux NULL: main[0]) that is not finite or above diverge marks this
 * step bad, else it and the rows whose argmax is their label are added. */
cf_status cf_kernel_step_stats(const void *logits, cf_dtype dt, const int32_t *labels, int n, int k,
                               const float *main, const float *aux, double aux_weight, double diverge,
                               cf_step_stats *stats, cudaStream_t stream);

/* stats->clip (and the loss scale) from |g|^2 (cf_kernel_norm2's sum) by
 * step_rule.h's rule. partial: n_partial doubles of scratch. */
cf_status cf_kernel_step_clip(const float *g, size_t n, double max_norm, double *partial, int n_partial,
                              cf_step_stats *stats, cudaStream_t stream);

/* seeds[0..1] = weight0, weight1 x stats->scale (step_rule.h). */
cf_status cf_kernel_step_seed(float *seeds, double weight0, double weight1, const cf_step_stats *stats,
                              cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif
