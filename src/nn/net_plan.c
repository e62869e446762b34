/* net_plan.c - where every activation of a training step lives.
 *
 * Steps: forward of layer i is step i, the loss is step n, backward of layer i
 * is step 2n - i. Buffers:
 *   input batch   steps [0, 2n]          read by the first layers' backward
 *   y_i           steps [i, 2n - i]      a layer's backward reads its inputs and output
 *   dy_i          steps [first writer, 2n - i], the first writer being the
 *                 backward of i's last consumer (or the loss for a classifier)
 * Gradients are never kept for the input batch. Layers of the auxiliary head
 * are planned only with with_aux. The cost model reports `bytes` as the
 * activation memory of a step, so the trainer's arena and the estimate used
 * for placement are the same number. Tested by tests/test_cost.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/arena.h"
#include "net_build.h"

#define PLAN_ALIGN 64

/* bytes = elements * batch * elem_bytes, and *all grows by it plus the
 * alignment; 0 when either does not fit size_t. The arena never exceeds *all,
 * so when every buffer's sum fits, so do the offsets of the liveness plan. */
static int tensor_bytes(size_t elements, int batch, size_t elem_bytes, size_t *bytes, size_t *all) {
    return !__builtin_mul_overflow(elements, (size_t)batch, bytes) &&
           !__builtin_mul_overflow(*bytes, elem_bytes, bytes) && *bytes <= SIZE_MAX - PLAN_ALIGN &&
           !__builtin_add_overflow(*all, *bytes + PLAN_ALIGN, all);
}

static cf_status too_large(const cf_net *net, int batch, const char *where) {
    CF_FAIL(CF_ERR_INVALID_ARG, "activation plan: the activation bytes of a step at batch %d (%dx%dx%d images) "
            "do not fit a 64-bit size (overflow at %s): the network is too large for this input and batch",
            batch, net->input.h, net->input.w, net->input.c, where);
}

cf_status cf_net_plan_activations(const cf_net *net, int batch, size_t elem_bytes,
                                  int with_aux, cf_net_plan *out) {
    memset(out, 0, sizeof *out);
    if (batch < 1 || elem_bytes < 1)
        CF_FAIL(CF_ERR_INVALID_ARG, "activation plan: batch %d, element size %zu", batch,
                elem_bytes);
    int n = net->n;
    size_t count = 1 + 2 * (size_t)n;
    cf_buffer_life *life = calloc(count, sizeof *life);
    size_t *offset = calloc(count, sizeof *offset);
    int *last_use = malloc((size_t)(n ? n : 1) * sizeof *last_use);
    out->y_offset = calloc((size_t)(n ? n : 1), sizeof *out->y_offset);
    out->dy_offset = calloc((size_t)(n ? n : 1), sizeof *out->dy_offset);
    if (!life || !offset || !last_use || !out->y_offset || !out->dy_offset) {
        free(life);
        free(offset);
        free(last_use);
        cf_net_plan_free(out);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "activation plan: no memory for %d layers", n);
    }
    out->n = n;
    for (int i = 0; i < n; i++) last_use[i] = -1;
    for (int k = 0; k < n; k++) {
        const cf_net_layer *l = &net->layers[k];
        if (l->aux && !with_aux) continue;
        for (int t = 0; t < l->n_in; t++)
            if (l->in[t] >= 0 && k > last_use[l->in[t]]) last_use[l->in[t]] = k;
    }
    const size_t image = (size_t)net->input.c * (size_t)net->input.h * (size_t)net->input.w;
    cf_status st = CF_OK;
    size_t bytes = 0, all = 0;
    if (!tensor_bytes(image, batch, elem_bytes, &bytes, &all))
        st = too_large(net, batch, "the input batch");
    life[0] = (cf_buffer_life){bytes, 0, 2 * n};
    for (int i = 0; st == CF_OK && i < n; i++) {
        const cf_net_layer *l = &net->layers[i];
        if (l->aux && !with_aux) continue; /* zero bytes: placed nowhere that matters */
        /* twice: the output and its gradient */
        if (!tensor_bytes((size_t)cf_net_layer_numel(l), batch, elem_bytes, &bytes, &all) ||
            __builtin_add_overflow(all, bytes + PLAN_ALIGN, &all))
            st = too_large(net, batch, l->name);
        life[1 + i] = (cf_buffer_life){bytes, i, 2 * n - i};
        int first = last_use[i] >= 0 ? 2 * n - last_use[i] : n;
        life[1 + n + i] = (cf_buffer_life){bytes, first, 2 * n - i};
    }
    if (st == CF_OK) st = cf_plan_liveness(life, count, PLAN_ALIGN, offset, &out->bytes);
    if (st == CF_OK) {
        out->input_offset = offset[0];
        for (int i = 0; i < n; i++) {
            out->y_offset[i] = offset[1 + i];
            out->dy_offset[i] = offset[1 + n + i];
        }
    }
    free(life);
    free(offset);
    free(last_use);
    if (st != CF_OK) cf_net_plan_free(out);
    return st;
}

void cf_net_plan_free(cf_net_plan *p) {
    if (!p) return;
    free(p->y_offset);
    free(p->dy_offset);
    p->y_offset = p->dy_offset = NULL;
    p->n = 0;
}
