/* op_harness.h - one table of op cases, run on any backend against the CPU
 * reference (the way ggml's test-backend-ops holds every backend to one table).
 *
 * A case (op_cases.c) is an op call: kind, params, input and weight shapes,
 * how its inputs are drawn, and the bound of an f32 CPU backend with its
 * reason. Its values are drawn once as f32 from a counter RNG keyed by the
 * case's name, so a case keeps its draws wherever it sits in the table. A run
 * on one backend (oh_side_run):
 *   forward   into an output full of NaN: an element never written shows as an
 *             infinite error; batch norm's four state tensors compared after it
 *   backward  twice: "+" with din pre-filled with random values and din_assign
 *             0 (the gradient must be added), "=" with din full of NaN and
 *             din_assign 1 (through cf_op_backward, which zeroes din first where
 *             the backend does not assign); dw pre-filled and added in both
 *   after     inputs, weights and dout read back unchanged
 * The program picks targets (backend, dtype, the reference dtype it is held to
 * and the bound of each compared tensor) and calls oh_check_case; test_grad
 * adds oh_check_fd (the reference against central finite differences) on the
 * cases that carry a finite-difference note. Users: test_cpu_fast.c,
 * test_grad.c, test_cuda_ops.c. Included after check.h; its CHECKs count there.
 */
#ifndef CF_TESTS_OP_HARNESS_H
#define CF_TESTS_OP_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "cellforge/backend.h"

typedef enum oh_init {
    OH_NORMAL,  /* standard normal */
    OH_SPACED,  /* distinct values 0.05 apart around 0: one argmax per window, no ties for
                   a finite difference to cross, negative windows where a zero-padded max
                   would wrongly win */
    OH_OFFSET,  /* normal + 5: batch norm with the mean large next to the spread */
    OH_WIDE,    /* normal * 40: logits whose exp overflows f32 unless the max is subtracted */
    OH_NONZERO, /* normal pushed at least 0.05 from 0 (ReLU's kink) */
} oh_init;

typedef struct oh_case {
    const char *name;
    cf_op_kind kind;
    cf_op_params params;
    int n_inputs;
    int64_t in[CF_OP_MAX_INPUTS][4]; /* all zero: passed as NULL (a mix's branch not computed),
                                        with no gradient */
    int64_t w[CF_OP_MAX_WEIGHTS][4]; /* all zero: absent */
    oh_init init;
    double tol;       /* normalized error bound of an f32 CPU backend against the f32 reference */
    const char *why;  /* the reason for it */
    const char *fd;   /* why central finite differences hold here; NULL: too large to run them */
    int repeat;       /* 1: the last input is input 0 passed again (one tensor, one gradient) */
} oh_case;

extern const oh_case oh_cases[];
extern const size_t oh_n_cases;

const oh_case *oh_find_case(const char *name); /* NULL where no case has that name */

/* A bound on one compared tensor and the reason for it. */
typedef struct oh_bound {
    double tol;
    const char *why;
} oh_bound;

/* What a result tensor is, for the bound: "out", "din", "dw0" (weight, gamma),
 * "dw1" (bias, beta), "state". The bound function returns tol < 0 where it has
 * no row for (case, what): a failed check. */
typedef oh_bound (*oh_bound_fn)(const oh_case *c, const char *what);

oh_bound oh_case_bound(const oh_case *c, const char *what); /* c->tol, c->why for every tensor */

/* One backend under test. All pointers borrowed. */
typedef struct oh_target {
    const char *label;     /* in messages: "1 thread", "cuda", "f32 reference" */
    const cf_backend *be;
    cf_dtype dtype;        /* the dtype of its tensors */
    cf_dtype ref_dtype;    /* the dtype of the reference run it is held to */
    oh_bound_fn bound;
} oh_target;

/* ---- one case's values, drawn once as f32 --------------------------------- */

typedef struct oh_data {
    float *in[CF_OP_MAX_INPUTS];    /* inputs (NULL: labels, a repeated or an absent input) */
    float *din0[CF_OP_MAX_INPUTS];  /* din's contents before backward run + */
    int32_t *labels;                /* softmax_xent's input 1 */
    float *w[CF_OP_MAX_WEIGHTS];
    float *dw0[CF_OP_MAX_WEIGHTS];  /* dw's contents before each backward run */
    float *state[CF_OP_MAX_STATE];  /* batch norm's state before forward */
    float *dout;                    /* the output gradient */
} oh_data;

void oh_data_make(oh_data *d, const oh_case *c); /* free with oh_data_free */
void oh_data_free(oh_data *d);

/* ---- one backend's copy of a case: tensors in its memory and dtype --------- */

#define OH_MAX_MEM 40

typedef struct oh_side {
    const cf_backend *be;
    cf_op_args a;
    cf_tensor in[CF_OP_MAX_INPUTS], w[CF_OP_MAX_WEIGHTS], state[CF_OP_MAX_STATE], out, dout;
    cf_tensor din[CF_OP_MAX_INPUTS], dw[CF_OP_MAX_WEIGHTS];
    void *mem[OH_MAX_MEM]; /* backend memory, freed with cf_backend_free */
    int nmem;
} oh_side;

cf_status oh_side_setup(oh_side *s, const oh_case *c, const cf_backend *be, cf_dtype dt);
/* One more tensor of s's backend memory (zeroed), freed with s. */
cf_status oh_side_tensor(oh_side *s, cf_tensor *t, cf_dtype dt, const int64_t shape[4]);
void oh_side_free(oh_side *s);
/* Host values (NULL: NaN everywhere) into t, converted to t's dtype. */
cf_status oh_side_put(const oh_side *s, cf_tensor *t, const float *v);
/* Write d's inputs, weights, state and dout into s, the output as NaN. */
cf_status oh_side_load(oh_side *s, const oh_case *c, const oh_data *d);

/* ---- results: every tensor a run produces, in a fixed order ---------------- */

#define OH_MAX_RESULTS 24

typedef struct oh_result {
    int n;
    struct {
        char name[16];    /* "out", "din0+", "dw1=", "running_var" */
        const char *what; /* its bound's row: "out", "din", "dw0", "dw1", "state" */
        int64_t len;
        double *v;
    } t[OH_MAX_RESULTS];
} oh_result;

void oh_result_free(oh_result *r);

/* Forward, backward + and = (where the op has a backward), the unchanged check;
 * *r receives every produced tensor (the caller frees it). */
cf_status oh_side_run(oh_side *s, const oh_case *c, const oh_data *d, oh_result *r);
/* oh_side_setup + oh_side_run + oh_side_free. */
cf_status oh_run_on(const cf_backend *be, cf_dtype dt, const oh_case *c, const oh_data *d, oh_result *r);

/* Element i of an array of dtype dt (f32, f64, bf16, f16) as double. */
double oh_value_at(cf_dtype dt, const void *p, int64_t i);

/* 16-bit targets: the case's bound plus one unit in the last place of the
 * 16-bit type at the largest value (2^-7 bf16, 2^-10 f16, relative): both
 * sides compute in f32 and round what they write once (ops.h), so f32-level
 * differences (the case's bound) can move a rounding by one unit, no more. */
oh_bound oh_half_bound_bf16(const oh_case *c, const char *what);
oh_bound oh_half_bound_f16(const oh_case *c, const char *what);

/* max |got - want| / max(1e-6, max |want|); a NaN in got is an infinite error. */
double oh_norm_err(const double *got, const double *want, int64_t n);

/* Check every tensor of got against want under bound; dropout's masks must
 * agree element for element. Returns the worst error; with line != NULL
 * appends "  name err" per tensor to it (size bytes). */
double oh_compare(const oh_case *c, const char *label, const oh_result *got, const oh_result *want, oh_bound_fn bound,
                  char *line, size_t size);

/* Run c from d on the reference (once per reference dtype) and on each of the
 * n targets, and compare. got: NULL, or n results the caller frees. Prints a
 * line per target with its errors when verbose. Returns the number of targets
 * that ran (a failed run is a failed check). */
int oh_check_case(const oh_case *c, const oh_data *d, const oh_target *t, int n, oh_result *got, int verbose);

/* Backward adds: on be in dt, a second backward call from the same forward
 * gives twice every gradient of the first, to normalized error tol. */
void oh_check_accumulates(const oh_case *c, const cf_backend *be, cf_dtype dt, double tol);

/* The reference in f64 against central finite differences of L = sum(y * dout)
 * for every input and weight (the case's fd note says why they hold), and a
 * non-zero gradient for every weight. */
#define OH_FD_TOL 1e-6 /* eps 1e-6: truncation ~1e-12, rounding ~1e-10; wrong index, sign or scale is ~1 */
void oh_check_fd(const oh_case *c);

/* Every op kind has a case in the table, and names are unique. */
void oh_check_table(void);

#endif
