/* test_half.c - mixed precision on the CPU: the 16-bit conversions, every op
 * of the shared table in bf16 and f16, the loss-scaling rule, and a 16-bit
 * model against its f32 twin.
 *
 *  - f16 from f32 equals the compiler's _Float16 conversion (where the
 *    compiler has it) on 2^32 / 61 spread f32 values and every special
 *    case; every 16-bit value goes to f32 and back unchanged; bf16 rounds
 *    the midpoint between two neighbours to the even one and anything off
 *    the midpoint to the nearer one, for every pair of neighbours.
 *  - Every case of the op table (op_cases.c) in bf16 and f16 on the fast CPU
 *    backend against the reference in the same dtype: the reference widens
 *    16-bit calls and rounds the results (half.c), the rule the GPU's 16-bit
 *    kernels are held to in test_cuda_ops; the bound is one 16-bit unit over
 *    the f32 one (op_harness.h says why).
 *  - cf_step_clip_host: an overflow skips the step and halves the scale, 2000
 *    good steps double it, an overflow at scale 1 is a bad step, and the
 *    clipping factor carries 1 / scale.
 *  - A bf16 and an f16 model (f16 with its loss scaled) of one network,
 *    weights and batch: the loss is the f32 model's within the 16-bit
 *    rounding of the activations, the weight gradients (f32, after the 16-bit
 *    ones are widened) point the same way and every layer's is as large,
 *    and the f32 master weights are the ones the model was given.
 *
 *   ./test_half [-v]
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/backend.h"
#include "cellforge/model.h"
#include "cellforge/rng.h"
#include "check.h"
#include "op_harness.h"
#include "space_kit.h"

static float from_bits(uint32_t x) {
    float v;
    memcpy(&v, &x, sizeof v);
    return v;
}

static void check_conversions(void) {
    /* every 16-bit value survives the trip to f32 and back (NaNs stay NaN) */
    int64_t bad16 = 0, badb = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        const float f = cf_f16_to_f32((uint16_t)h), b = cf_bf16_to_f32((uint16_t)h);
        if (isnan(f) ? !isnan(cf_f16_to_f32(cf_f16_from_f32(f))) : cf_f16_from_f32(f) != h) bad16++;
        if (isnan(b) ? !isnan(cf_bf16_to_f32(cf_bf16_from_f32(b))) : cf_bf16_from_f32(b) != h) badb++;
    }
    CHECK(bad16 == 0, "%lld f16 values change on a trip through f32", (long long)bad16);
    CHECK(badb == 0, "%lld bf16 values change on a trip through f32", (long long)badb);
    /* bf16: between neighbours a and a+1 (same sign, finite), the midpoint goes to the even one */
    int64_t mid = 0;
    for (uint32_t h = 0; h < 0x7f7f; h++) {
        const uint32_t lo = h << 16, m = lo | 0x8000;
        const uint16_t even = (uint16_t)((h & 1) ? h + 1 : h);
        mid += cf_bf16_from_f32(from_bits(m)) != even;
        mid += cf_bf16_from_f32(from_bits(m - 1)) != h;
        mid += cf_bf16_from_f32(from_bits(m + 1)) != h + 1;
        mid += cf_bf16_from_f32(-from_bits(m + 1)) != (uint16_t)((h + 1) | 0x8000);
    }
    CHECK(mid == 0, "bf16: %lld roundings next to a midpoint are wrong", (long long)mid);
    CHECK(cf_bf16_from_f32(from_bits(0x7f7fffff)) == 0x7f80, "bf16: the largest float rounds to infinity");
    CHECK(isnan(cf_bf16_to_f32(cf_bf16_from_f32(NAN))), "bf16: NaN stays NaN");
    CHECK(cf_f16_to_f32(cf_f16_from_f32(65504.0f)) == 65504.0f && isinf(cf_f16_to_f32(cf_f16_from_f32(65520.0f))) &&
              cf_f16_to_f32(cf_f16_from_f32(65519.0f)) == 65504.0f,
          "f16: 65504 is the largest finite value, 65520 the first to round to infinity");
    CHECK(cf_f16_to_f32(cf_f16_from_f32(0x1p-24f)) == 0x1p-24f && cf_f16_from_f32(0x1p-25f) == 0 &&
              cf_f16_to_f32(cf_f16_from_f32(0x1.8p-25f)) == 0x1p-24f,
          "f16: 2^-24 is the smallest subnormal, 2^-25 a tie to 0, 1.5 x 2^-25 rounds up");
#ifdef __FLT16_MAX__
    /* against the compiler's own conversion, on f32 values spread over every bit pattern */
    int64_t differ = 0, n = 0;
    for (uint64_t x = 0; x < 0x100000000ull; x += 61, n++) {
        const float f = from_bits((uint32_t)x);
        const _Float16 h = (_Float16)f;
        uint16_t want;
        memcpy(&want, &h, sizeof want);
        const uint16_t got = cf_f16_from_f32(f);
        if (isnan(f) ? !isnan(cf_f16_to_f32(got)) : got != want) differ++;
        if (!isnan(f) && cf_f16_to_f32(got) != (float)h) differ++;
    }
    CHECK(differ == 0, "f16: %lld of %lld conversions differ from _Float16's", (long long)differ, (long long)n);
    printf("f16 conversions: %lld values against _Float16\n", (long long)n);
#endif
}

static void check_ops(int verbose) {
    cf_backend *fast = NULL;
    CHECK_OK(cf_backend_cpu_fast_create(2, &fast));
    if (!fast) return;
    const oh_target t[2] = {
        {"bf16", fast, CF_DTYPE_BF16, CF_DTYPE_BF16, oh_half_bound_bf16},
        {"f16", fast, CF_DTYPE_F16, CF_DTYPE_F16, oh_half_bound_f16},
    };
    int ran = 0;
    for (size_t i = 0; i < oh_n_cases; i++) {
        oh_data d;
        oh_data_make(&d, &oh_cases[i]);
        ran += oh_check_case(&oh_cases[i], &d, t, 2, NULL, verbose);
        oh_data_free(&d);
    }
    CHECK(ran == (int)(2 * oh_n_cases), "ops: %d of %d 16-bit runs", ran, (int)(2 * oh_n_cases));
    printf("ops: %d cases in bf16 and f16\n", (int)oh_n_cases);
    cf_backend_cpu_fast_destroy(fast);
}

static void check_scale_rule(void) {
    cf_step_stats st = {0};
    st.scale = 1024.0f;
    cf_step_clip_host(&st, 4.0 * 1024.0 * 1024.0, 0.0); /* |g| = 2 x 1024: unscaled norm 2 */
    CHECK(st.skip == 0 && st.clip == 1.0f / 1024.0f && st.good == 1, "scale: a good step: clip %g, good %d", st.clip,
          st.good);
    cf_step_clip_host(&st, 4.0 * 1024.0 * 1024.0, 1.0); /* clipped to 1: factor 1/2 of 1/1024 */
    CHECK(st.clip == 0.5f / 1024.0f, "scale: clipping a scaled norm: %g", st.clip);
    cf_step_clip_host(&st, INFINITY, 0.0);
    CHECK(st.skip == 1 && st.scale == 512.0f && st.good == 0 && st.skipped == 1 && st.bad == CF_STEP_OK,
          "scale: an overflow: skip %d, scale %g, skipped %d, bad %d", st.skip, st.scale, st.skipped, st.bad);
    for (int k = 0; k < CF_LOSS_SCALE_GROWTH; k++) cf_step_clip_host(&st, 1.0, 0.0);
    CHECK(st.scale == 1024.0f && st.good == 0, "scale: %d good steps: scale %g", CF_LOSS_SCALE_GROWTH, st.scale);
    st.scale = 1.0f;
    st.steps = 7;
    cf_step_clip_host(&st, NAN, 0.0);
    CHECK(st.bad == CF_STEP_BAD_GRAD && st.bad_step == 6 && st.skip == 0,
          "scale: an overflow at scale 1 is a bad step (bad %d at %d)", st.bad, st.bad_step);
    cf_step_stats off = {0};
    cf_step_clip_host(&off, 100.0, 5.0);
    CHECK(off.clip == (float)(5.0 / 10.0) && off.scale == 0 && off.good == 0, "scale off: clip %g", off.clip);
}

/* One training step's loss and weight gradients of a model in dtype dt. */
static int step_of(cf_dtype dt, const float *x, const int32_t *y, int n, double *loss, float **grad, cf_model **out) {
    const cf_net_input in = {1, 12, 12, 10};
    cf_net *net = kit_net("nb201", "C=4,N=1", "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|"
                                             "nor_conv_3x3~1|none~2|", &in);
    cf_model *m = NULL;
    if (!net) return 0;
    CHECK_OK(cf_model_create_dtype(net, n, cf_backend_cpu_ref(), 0, dt, &m));
    if (!m) return 0;
    cf_model_init(m, 5);
    if (dt == CF_DTYPE_F16) m->loss_scale = 1024; /* gradients of 1e-6 are below f16's normal range */
    const size_t image = 144;
    void *xin = malloc((size_t)n * image * m->elem);
    CF_ASSERT(xin != NULL);
    if (dt == CF_DTYPE_F32) memcpy(xin, x, (size_t)n * image * sizeof *x);
    else cf_half_from_f32(dt, xin, x, (size_t)n * image);
    CHECK_OK(cf_model_forward(m, xin, n, 1));
    CHECK_OK(cf_model_loss(m, y, 0.0, loss));
    CHECK_OK(cf_model_backward(m));
    for (size_t i = 0; i < m->n_params; i++) ((float *)m->grad)[i] /= (float)m->loss_scale;
    free(xin);
    *grad = m->grad;
    *out = m;
    return 1;
}

static void check_model(void) {
    enum { N = 32 };
    float x[N * 144];
    int32_t y[N];
    cf_rng r = cf_rng_make(11, cf_rng_stream(1, CF_RNG_PURPOSE_TEST));
    for (int i = 0; i < N * 144; i++) x[i] = cf_rng_normal(&r);
    for (int i = 0; i < N; i++) y[i] = (int32_t)cf_rng_below(&r, 10);
    double l32 = 0;
    float *g32 = NULL;
    cf_model *m32 = NULL;
    if (!step_of(CF_DTYPE_F32, x, y, N, &l32, &g32, &m32)) return;
    double gmax = 0;
    for (size_t i = 0; i < m32->n_params; i++) gmax = fmax(gmax, fabs((double)g32[i]));
    /* bounds: bf16 keeps 8 significand bits (relative rounding 2^-9 per value), f16 11 (2^-12);
     * the loss, through a dozen rounded layers, stays within ~16 roundings. Gradients of one
     * random-label step are ill-conditioned element by element (batch norm's backward
     * subtracts near-equal terms, on 3x3 maps here), so they are held by direction and size:
     * measured 0.985 (bf16) and 0.998 (f16), floors set with room below, and f16's eight
     * times tighter as its rounding is */
    const struct {
        cf_dtype dt;
        double tol, cos;
    } runs[2] = {{CF_DTYPE_BF16, 16 * 0x1p-9, 0.97}, {CF_DTYPE_F16, 16 * 0x1p-12, 0.995}};
    for (int k = 0; k < 2; k++) {
        double l = 0;
        float *g = NULL;
        cf_model *m = NULL;
        if (!step_of(runs[k].dt, x, y, N, &l, &g, &m)) continue;
        CHECK(m->pelem == sizeof(float) && m->elem == 2, "%s model: %zu-byte parameters, %zu-byte activations",
              cf_dtype_name(runs[k].dt), m->pelem, m->elem);
        CHECK(memcmp(m->param, m32->param, m->n_params * sizeof(float)) == 0, "%s model: the f32 weights differ",
              cf_dtype_name(runs[k].dt));
        double gerr = 0;
        /* the whole gradient's direction, and each layer's size (a layer whose gradient is
         * added twice or lost shows as a ratio of 2 or 0) where the layer matters */
        double dot = 0, a2 = 0, b2 = 0, worst_ratio = 1, lmax = 0;
        const char *worst_name = "";
        for (size_t i = 0; i < m->n_params; i++) {
            dot += (double)g[i] * g32[i];
            a2 += (double)g[i] * g[i];
            b2 += (double)g32[i] * g32[i];
        }
        for (int pass = 0; pass < 2; pass++)
            for (int L = 0; L < m->net->n; L++)
                for (int w = 0; w < m->net->layers[L].n_w; w++) {
                    const size_t o = m->layers[L].w_offset[w], len = (size_t)cf_net_weight_numel(&m->net->layers[L], w);
                    double n16 = 0, n32 = 0;
                    for (size_t i = o; i < o + len; i++) n16 += (double)g[i] * g[i], n32 += (double)g32[i] * g32[i];
                    if (pass == 0) lmax = fmax(lmax, sqrt(n32));
                    else if (sqrt(n32) >= 0.05 * lmax && fabs(log(sqrt(n16 / n32))) > fabs(log(worst_ratio)))
                        worst_ratio = sqrt(n16 / n32), worst_name = m->net->layers[L].name;
                }
        const double cosv = dot / sqrt(a2 * b2);
        for (size_t i = 0; i < m->n_params; i++) gerr = fmax(gerr, fabs((double)g[i] - (double)g32[i]));
        const double lerr = fabs(l - l32) / fabs(l32);
        CHECK(lerr <= runs[k].tol, "%s model: loss %.6f, f32 %.6f (relative %.2e > %.2e)", cf_dtype_name(runs[k].dt), l,
              l32, lerr, runs[k].tol);
        CHECK(cosv >= runs[k].cos, "%s model: the gradient's direction is off the f32 one (cosine %.5f < %.3f)",
              cf_dtype_name(runs[k].dt), cosv, runs[k].cos);
        CHECK(worst_ratio > 0.8 && worst_ratio < 1.25, "%s model: layer %s's gradient is %.3f times the f32 one",
              cf_dtype_name(runs[k].dt), worst_name, worst_ratio);
        CHECK(gerr > 0, "%s model: gradients equal the f32 ones bit for bit: the 16-bit path did not run",
              cf_dtype_name(runs[k].dt));
        printf("%s model: loss %.6f (f32 %.6f), gradient cosine %.5f, layer norms within %.3f (%s)\n",
               cf_dtype_name(runs[k].dt), l, l32, cosv, worst_ratio, worst_name);
        cf_model_destroy(m);
    }
    cf_model_destroy(m32);
}

int main(int argc, char **argv) {
    const int verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
    if (argc > 1 && !verbose) setenv("CELLFORGE_SPACES", argv[1], 1);
    check_conversions();
    check_ops(verbose);
    check_scale_rule();
    check_model();
    return test_finish("test_half");
}
