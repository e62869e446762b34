/* test_ops_validate.c - bad calls get a status and a message that names the
 * op and the problem; nothing crashes and no kernel runs. A mix's NULL inputs
 * are accepted, and nowhere else. */
#include <string.h>

#include "cellforge/backend.h"
#include "check.h"

static double bufs[16][4096];
static int next_buf;

static cf_tensor T(int64_t n, int64_t c, int64_t h, int64_t w) {
    cf_tensor t;
    CF_ASSERT(cf_tensor_init(&t, CF_DTYPE_F64, n, c, h, w, bufs[next_buf++ % 16]) == CF_OK);
    return t;
}

/* The call must fail with `want` and a message containing `text`. */
#define EXPECT_FAIL(call, want, text)                                                          \
    do {                                                                                       \
        cf_status s_ = (call);                                                                 \
        CHECK(s_ == (want), "%s: got %s, expected %s (%s)", #call, cf_status_name(s_),         \
              cf_status_name(want), cf_error_message());                                       \
        CHECK(strstr(cf_error_message(), (text)) != NULL, "message '%s' lacks '%s'",           \
              cf_error_message(), (text));                                                     \
    } while (0)

static const cf_backend *be;

static void check_tensor_shapes(void) {
    cf_tensor t;
    EXPECT_FAIL(cf_tensor_init(&t, CF_DTYPE_F32, 2, 0, 4, 4, NULL), CF_ERR_SHAPE, "dimension 1 is 0");
    EXPECT_FAIL(cf_tensor_init(&t, CF_DTYPE_F32, -1, 3, 4, 4, NULL), CF_ERR_SHAPE, "dimension 0 is -1");
    EXPECT_FAIL(cf_tensor_init(&t, CF_DTYPE_F32, 1 << 20, 1 << 20, 1 << 20, 1, NULL), CF_ERR_SHAPE, "too many elements");
    EXPECT_FAIL(cf_tensor_init(&t, (cf_dtype)99, 1, 1, 1, 1, NULL), CF_ERR_INVALID_ARG, "unknown dtype");
    CHECK_OK(cf_tensor_init(&t, CF_DTYPE_F32, 2, 3, 4, 5, NULL));
    CHECK(cf_tensor_bytes(&t) == 480 && cf_tensor_is_contiguous(&t), "contiguous (2,3,4,5) f32");
    CHECK(t.stride[0] == 60 && t.stride[1] == 20 && t.stride[2] == 5 && t.stride[3] == 1, "strides");
}

static void check_names(void) {
    cf_op_kind k;
    CHECK_OK(cf_op_lookup("conv2d", &k));
    CHECK(k == CF_OP_CONV2D, "conv2d resolves to %d", (int)k);
    for (int i = 0; i < CF_OP_COUNT; i++) {
        CHECK_OK(cf_op_lookup(cf_op_name((cf_op_kind)i), &k));
        CHECK(k == (cf_op_kind)i, "registry name %s does not round-trip", cf_op_name((cf_op_kind)i));
    }
    EXPECT_FAIL(cf_op_lookup("conv3d", &k), CF_ERR_UNKNOWN_NAME, "did you mean 'conv2d'");
    EXPECT_FAIL(cf_op_lookup("max_pool", &k), CF_ERR_UNKNOWN_NAME, "did you mean 'maxpool2d'");
    EXPECT_FAIL(cf_op_lookup("transformer_block", &k), CF_ERR_UNKNOWN_NAME, "unknown op 'transformer_block'");
    EXPECT_FAIL(cf_op_lookup(NULL, &k), CF_ERR_UNKNOWN_NAME, "missing");
}

static void check_arity(void) {
    cf_tensor x = T(2, 3, 4, 4), y = T(2, 3, 4, 4);
    cf_op_args a = {.kind = CF_OP_RELU, .n_inputs = 2, .in = {&x, &x}, .out = &y};
    EXPECT_FAIL(cf_op_forward(be, &a), CF_ERR_ARITY, "relu: takes 1 input, got 2");
    a.n_inputs = 0;
    EXPECT_FAIL(cf_op_forward(be, &a), CF_ERR_ARITY, "relu: takes 1 input, got 0");
    cf_op_args s = {.kind = CF_OP_SUM, .n_inputs = 9, .out = &y};
    EXPECT_FAIL(cf_op_forward(be, &s), CF_ERR_ARITY, "sum: takes 1 to 8 inputs, got 9");
    cf_op_args xe = {.kind = CF_OP_SOFTMAX_XENT, .n_inputs = 1, .in = {&x}, .out = &y};
    EXPECT_FAIL(cf_op_forward(be, &xe), CF_ERR_ARITY, "softmax_xent: takes 2 inputs, got 1");
    cf_op_args missing = {.kind = CF_OP_SUM, .n_inputs = 2, .in = {&x, NULL}, .out = &y};
    EXPECT_FAIL(cf_op_forward(be, &missing), CF_ERR_INVALID_ARG, "input 1 is missing");
    cf_op_args bad_kind = {.kind = (cf_op_kind)1000, .n_inputs = 1, .in = {&x}, .out = &y};
    EXPECT_FAIL(cf_op_forward(be, &bad_kind), CF_ERR_UNKNOWN_NAME, "unknown op kind");
}

static void check_shapes(void) {
    cf_tensor x = T(2, 3, 8, 8), w = T(4, 2, 3, 3), y = T(2, 4, 8, 8), b = T(5, 1, 1, 1);
    cf_op_args c = {.kind = CF_OP_CONV2D, .n_inputs = 1, .in = {&x}, .w = {&w}, .out = &y};
    c.params.conv = (cf_conv2d_params){1, 1, 1, 1, 1, 1, 1};
    EXPECT_FAIL(cf_op_forward(be, &c), CF_ERR_SHAPE, "expects 2 input channels per group");
    cf_tensor w_ok = T(4, 3, 3, 3);
    c.w[0] = &w_ok;
    c.w[1] = &b;
    EXPECT_FAIL(cf_op_forward(be, &c), CF_ERR_SHAPE, "bias has shape (5, 1, 1, 1), expected (4, 1, 1, 1)");
    c.w[1] = NULL;
    cf_tensor y_bad = T(2, 4, 7, 8);
    c.out = &y_bad;
    EXPECT_FAIL(cf_op_forward(be, &c), CF_ERR_SHAPE, "output has shape (2, 4, 7, 8), expected (2, 4, 8, 8)");
    c.out = &y;
    c.params.conv.groups = 2;
    EXPECT_FAIL(cf_op_forward(be, &c), CF_ERR_SHAPE, "not divisible by 2 groups");
    c.params.conv = (cf_conv2d_params){0, 1, 1, 1, 1, 1, 1};
    EXPECT_FAIL(cf_op_forward(be, &c), CF_ERR_INVALID_ARG, "stride 0x1");
    cf_tensor big = T(4, 3, 11, 11);
    c.w[0] = &big;
    c.params.conv = (cf_conv2d_params){1, 1, 1, 1, 1, 1, 1};
    EXPECT_FAIL(cf_op_forward(be, &c), CF_ERR_SHAPE, "does not fit input");
    c.w[0] = NULL;
    EXPECT_FAIL(cf_op_forward(be, &c), CF_ERR_INVALID_ARG, "conv2d: weight is missing");

    cf_tensor a1 = T(2, 3, 4, 4), a2 = T(2, 3, 4, 5), s_out = T(2, 3, 4, 4);
    cf_op_args s = {.kind = CF_OP_SUM, .n_inputs = 2, .in = {&a1, &a2}, .out = &s_out};
    EXPECT_FAIL(cf_op_forward(be, &s), CF_ERR_SHAPE, "sum: input 1 is (2, 3, 4, 5)");
    cf_op_args cat = {.kind = CF_OP_CONCAT, .n_inputs = 2, .in = {&a1, &a2}, .out = &s_out};
    EXPECT_FAIL(cf_op_forward(be, &cat), CF_ERR_SHAPE, "concat: input 1 is (2, 3, 4, 5)");

    cf_tensor lin_w = T(10, 47, 1, 1), lin_y = T(2, 10, 1, 1), lx = T(2, 3, 4, 4);
    cf_op_args l = {.kind = CF_OP_LINEAR, .n_inputs = 1, .in = {&lx}, .w = {&lin_w}, .out = &lin_y};
    EXPECT_FAIL(cf_op_forward(be, &l), CF_ERR_SHAPE, "(48 features)");

    cf_op_args p = {.kind = CF_OP_MAXPOOL2D, .n_inputs = 1, .in = {&x}, .out = &y};
    p.params.pool = (cf_pool2d_params){3, 3, 1, 1, 2, 2};
    EXPECT_FAIL(cf_op_forward(be, &p), CF_ERR_INVALID_ARG, "more than half");

    cf_tensor gamma = T(3, 1, 1, 1), rm = T(3, 1, 1, 1), rv = T(4, 1, 1, 1), bn_y = T(2, 3, 8, 8);
    cf_op_args bn = {.kind = CF_OP_BATCHNORM, .n_inputs = 1, .in = {&x}, .w = {&gamma, NULL}, .out = &bn_y};
    bn.params.bn = (cf_batchnorm_params){.eps = 1e-5, .momentum = 0.1, .training = 0};
    EXPECT_FAIL(cf_op_forward(be, &bn), CF_ERR_INVALID_ARG, "gamma and beta must both be given");
    bn.w[0] = NULL;
    bn.state[0] = &rm;
    bn.state[1] = &rv;
    EXPECT_FAIL(cf_op_forward(be, &bn), CF_ERR_SHAPE, "running_var has shape (4, 1, 1, 1), expected (3, 1, 1, 1)");
}

static void check_dtypes_and_labels(void) {
    static float fbuf[64];
    static int32_t labels[4] = {0, 1, 7, 2};
    cf_tensor logits = T(4, 5, 1, 1), loss = T(1, 1, 1, 1), lab, flog;
    CF_ASSERT(cf_tensor_init(&lab, CF_DTYPE_I32, 4, 1, 1, 1, labels) == CF_OK);
    cf_op_args a = {.kind = CF_OP_SOFTMAX_XENT, .n_inputs = 2, .in = {&logits, &lab}, .out = &loss};
    EXPECT_FAIL(cf_op_forward(be, &a), CF_ERR_INVALID_ARG, "label 7 at row 2 is outside [0, 5)");
    labels[2] = 4;
    CHECK_OK(cf_op_forward(be, &a));
    a.params.xent.label_smoothing = 1.5;
    EXPECT_FAIL(cf_op_forward(be, &a), CF_ERR_INVALID_ARG, "label_smoothing is 1.5");
    a.params.xent.label_smoothing = 0;
    a.in[1] = &logits;
    EXPECT_FAIL(cf_op_forward(be, &a), CF_ERR_INVALID_ARG, "labels are f64, expected i32");

    CF_ASSERT(cf_tensor_init(&flog, CF_DTYPE_F32, 4, 5, 1, 1, fbuf) == CF_OK);
    cf_tensor out = T(4, 5, 1, 1);
    cf_op_args r = {.kind = CF_OP_RELU, .n_inputs = 1, .in = {&flog}, .out = &out};
    EXPECT_FAIL(cf_op_forward(be, &r), CF_ERR_INVALID_ARG, "output is f64, expected f32");
    cf_tensor no_data = out;
    no_data.data = NULL;
    r.in[0] = &out;
    r.out = &no_data;
    EXPECT_FAIL(cf_op_forward(be, &r), CF_ERR_INVALID_ARG, "output has no data");
}

static void check_backward_args(void) {
    cf_tensor x = T(2, 3, 4, 4), y = T(2, 3, 4, 4), dy = T(2, 3, 4, 5), dx = T(2, 3, 4, 4);
    cf_op_args a = {.kind = CF_OP_RELU, .n_inputs = 1, .in = {&x}, .out = &y, .din = {&dx}};
    EXPECT_FAIL(cf_op_backward(be, &a), CF_ERR_INVALID_ARG, "output gradient is missing");
    a.dout = &dy;
    EXPECT_FAIL(cf_op_backward(be, &a), CF_ERR_SHAPE, "output gradient has shape (2, 3, 4, 5)");
    cf_tensor dy_ok = T(2, 3, 4, 4), dw = T(3, 1, 1, 1);
    a.dout = &dy_ok;
    a.dw[0] = &dw;
    EXPECT_FAIL(cf_op_backward(be, &a), CF_ERR_INVALID_ARG, "gradient for weight 0, which is absent");
    a.dw[0] = NULL;
    CHECK_OK(cf_op_backward(be, &a));
}

/* A mix accepts NULL inputs (branches not computed), and only a mix does;
 * not all of them, and the present ones agree in shape and dtype; one
 * coefficient per input slot. */
static void check_mix(void) {
    static float fbuf[96];
    cf_tensor x = T(2, 3, 4, 4), x2 = T(2, 3, 4, 4), y = T(2, 3, 4, 4), coef = T(3, 1, 1, 1), odd = T(2, 3, 4, 5);
    cf_op_args m = {.kind = CF_OP_MIX, .n_inputs = 3, .in = {NULL, &x, NULL}, .w = {&coef}, .out = &y};
    CHECK_OK(cf_op_forward(be, &m));
    m.in[2] = &x2;
    CHECK_OK(cf_op_forward(be, &m));
    cf_tensor dy = T(2, 3, 4, 4), dx = T(2, 3, 4, 4), dcoef = T(3, 1, 1, 1), dx_bad = T(2, 3, 4, 5);
    m.dout = &dy;
    m.din[0] = &dx; /* the NULL input's gradient: shaped like the output, receives nothing */
    m.dw[0] = &dcoef;
    CHECK_OK(cf_op_backward(be, &m));
    m.din[0] = &dx_bad;
    EXPECT_FAIL(cf_op_backward(be, &m), CF_ERR_SHAPE, "mix: input 0 gradient has shape (2, 3, 4, 5)");
    m.din[0] = NULL;

    cf_op_args none = {.kind = CF_OP_MIX, .n_inputs = 2, .in = {NULL, NULL}, .w = {&coef}, .out = &y};
    EXPECT_FAIL(cf_op_forward(be, &none), CF_ERR_INVALID_ARG, "mix: all 2 inputs are NULL");
    m.in[2] = &odd;
    EXPECT_FAIL(cf_op_forward(be, &m), CF_ERR_SHAPE, "mix: input 2 is (2, 3, 4, 5), input 1 is (2, 3, 4, 4)");
    cf_tensor xf;
    CF_ASSERT(cf_tensor_init(&xf, CF_DTYPE_F32, 2, 3, 4, 4, fbuf) == CF_OK);
    m.in[2] = &xf;
    EXPECT_FAIL(cf_op_forward(be, &m), CF_ERR_INVALID_ARG, "mix: input 2 is f32, input 1 is f64");
    m.in[2] = &x2;
    cf_tensor coef4 = T(4, 1, 1, 1), coef_row = T(1, 3, 1, 1);
    m.w[0] = &coef4;
    EXPECT_FAIL(cf_op_forward(be, &m), CF_ERR_SHAPE, "coef (one per input) has shape (4, 1, 1, 1), expected (3, 1, 1, 1)");
    m.w[0] = &coef_row;
    EXPECT_FAIL(cf_op_forward(be, &m), CF_ERR_SHAPE, "expected (3, 1, 1, 1)");
    m.w[0] = NULL;
    EXPECT_FAIL(cf_op_forward(be, &m), CF_ERR_INVALID_ARG, "mix: coef (one per input) is missing");
    m.w[0] = &coef;
    m.n_inputs = 9;
    EXPECT_FAIL(cf_op_forward(be, &m), CF_ERR_ARITY, "mix: takes 1 to 8 inputs, got 9");

    /* NULL is a mix's alone: every other kind still requires each input */
    const cf_op_kind others[] = {CF_OP_SUM, CF_OP_CONCAT, CF_OP_RELU};
    for (size_t k = 0; k < sizeof others / sizeof others[0]; k++) {
        cf_op_args o = {.kind = others[k], .n_inputs = others[k] == CF_OP_RELU ? 1 : 2, .in = {NULL, &x}, .out = &y};
        EXPECT_FAIL(cf_op_forward(be, &o), CF_ERR_INVALID_ARG, "input 0 is missing");
    }
    for (int k = 0; k < CF_OP_COUNT; k++)
        CHECK(cf_op_get_info((cf_op_kind)k)->optional_inputs == (k == CF_OP_MIX), "%s: optional inputs %d",
              cf_op_name((cf_op_kind)k), cf_op_get_info((cf_op_kind)k)->optional_inputs);
}

int main(void) {
    be = cf_backend_cpu_ref();
    check_tensor_shapes();
    check_names();
    check_arity();
    check_shapes();
    check_dtypes_and_labels();
    check_backward_args();
    check_mix();
    return test_finish("test_ops_validate");
}
