/* latency.c - measured inference latency of an architecture: one image at a
 * time through the network in inference mode on a given backend, the median
 * of several runs after a warm-up. Unlike the counts in cost.c it is a
 * measurement of this machine, so it is taken where the trial would run and
 * compared only within one run. Tests: tests/test_sched.c.
 */
#include <stdlib.h>
#include <string.h>

#include "cellforge/cost.h"
#include "cellforge/model.h"
#include "cellforge/thread.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

cf_status cf_latency_measure(const cf_space *s, const cf_arch *a, const cf_net_input *in, const cf_backend *be,
                             int reps, double *ms) {
    *ms = -1;
    cf_net *net = NULL;
    CF_TRY(cf_net_build(s, a, in, &net));
    cf_status st = cf_latency_measure_net(net, be, reps, ms);
    cf_net_destroy(net);
    return st;
}

cf_status cf_latency_measure_net(const cf_net *built, const cf_backend *be, int reps, double *ms) {
    *ms = -1;
    if (reps < 1 || reps > 1000) CF_FAIL(CF_ERR_INVALID_ARG, "latency: %d repetitions (1..1000)", reps);
    cf_net *net = NULL;
    CF_TRY(cf_net_clone(built, &net));
    cf_model *m = NULL;
    CF_TRY(cf_model_create(net, 1, be, 0, &m)); /* takes net */
    cf_model_init(m, 0);
    const size_t image = (size_t)built->input.c * (size_t)built->input.h * (size_t)built->input.w;
    float *x = calloc(image, sizeof *x);
    double *t = malloc((size_t)reps * sizeof *t);
    cf_status st = CF_OK;
    if (!x || !t) {
        st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "latency: no memory");
        goto exit;
    }
    for (size_t i = 0; i < image; i++) x[i] = (float)((i * 7919) % 255) / 255.0f - 0.5f;
    CF_TRY_GOTO(st, cf_model_forward(m, x, 1, 0), exit); /* warm-up: workspaces, caches */
    for (int r = 0; r < reps; r++) {
        double t0 = cf_time_now();
        CF_TRY_GOTO(st, cf_model_forward(m, x, 1, 0), exit);
        t[r] = 1e3 * (cf_time_now() - t0);
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    *ms = t[reps / 2];
exit:
    free(x);
    free(t);
    cf_model_destroy(m);
    return st;
}
