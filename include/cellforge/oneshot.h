/* oneshot.h - one-shot search: train a supernet, derive architectures from it.
 *
 * A supernet (cf_arch.supernet, built by src/nn/build_supernet.c) holds every
 * candidate op of every edge, mixed by a mix layer per edge. cf_oneshot_run
 * trains it with one of three methods and derives architectures:
 *
 *   darts  the mixture softmax(alpha) of each edge's row; bilevel: an Adam step
 *          on alpha from a validation batch, then an SGD step on the weights
 *          from a training batch. First order, or second order (the unrolled
 *          weights w' = w - lr grad_w L_train, the Hessian term by central
 *          differences at w +- eps grad_w' L_val, eps = 0.01 / |grad_w' L_val|).
 *          Derives the k most probable architectures (below).
 *   gdas   one path per edge and step: the argmax of softmax((alpha + g) / tau)
 *          with Gumbel noise g, run forward alone (coefficient 1), with the
 *          straight-through gradient of the soft sample to alpha; tau falls
 *          linearly from tau_max to tau_min over the epochs. Same bilevel
 *          alternation (weights step first, as GDAS does) and derivation.
 *   spos   uniform single paths: each step trains one architecture drawn
 *          uniformly from the space; no alpha. Then an evolutionary search
 *          (population, generations; mutation and crossover of the space)
 *          scores candidates by the supernet's validation accuracy with their
 *          batch-norm statistics recalibrated on training batches, admitting
 *          only what cfg->admit accepts (the search's exact cost constraints).
 *          Derives the k best it found.
 *
 * Derivation (darts, gdas): with p = softmax(alpha) per edge, an architecture
 * scores the sum of log p of its (edge, op) choices; the k best are found
 * exactly (a beam over independent parts). For nb201 each edge picks any op
 * ("none" included), as NB201's genotype does; for darts each node keeps two
 * distinct inputs with an op other than "none", so the best is exactly DARTS's
 * rule (the two strongest edges, each with its strongest op).
 *
 * Paths, Gumbel draws and the architecture weights' initialization
 * (1e-3 x normal) come from the counter RNG keyed by (seed, step), so a run
 * resumed from its state (cfg->state_path: the trainer's state after each
 * epoch plus a sidecar with alpha, Adam's moments and the alpha history, both
 * written atomically) goes on bit for bit.
 *
 *   cf_oneshot_config cfg;
 *   cf_oneshot_config_default(&cfg, CF_ONESHOT_DARTS);
 *   cf_oneshot_result *res = malloc(sizeof *res);
 *   CF_TRY(cf_oneshot_run(model, space, train, val, &cfg, res));   // model of the supernet
 *   char text[CF_ARCH_TEXT_MAX];
 *   cf_arch_format(space, &res->derived[0], text, sizeof text);
 *
 * Tested by tests/test_oneshot.c.
 */
#ifndef CELLFORGE_ONESHOT_H
#define CELLFORGE_ONESHOT_H

#include "cellforge/data.h"
#include "cellforge/model.h"
#include "cellforge/space.h"
#include "cellforge/train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cf_oneshot_method {
    CF_ONESHOT_DARTS = 0,
    CF_ONESHOT_GDAS,
    CF_ONESHOT_SPOS,
} cf_oneshot_method;

/* "darts", "gdas", "spos"; 1 and *out set for a known name, else 0. */
const char *cf_oneshot_method_name(cf_oneshot_method m);
int cf_oneshot_method_parse(const char *name, cf_oneshot_method *out);

#define CF_ONESHOT_MAX_DERIVED 16

typedef struct cf_oneshot_config {
    cf_oneshot_method method;
    int order;               /* darts: 1 (first order) or 2 (second order); 1 */
    /* The weights' training: epochs, batch, lr (cosine to lr_min), momentum,
     * nesterov, weight_decay, grad_clip, augment, seed, max_epoch_fraction,
     * time_limit_s, diverge_loss, progress; its epoch_end/resume are not used. */
    cf_train_config train;
    double arch_lr;          /* Adam on alpha: 3e-4 */
    double arch_beta1;       /* 0.5 */
    double arch_beta2;       /* 0.999 */
    double arch_wd;          /* weight decay on alpha: 1e-3 */
    double tau_max, tau_min; /* gdas: 10, 0.1 */
    int derive;              /* architectures to derive, 1..CF_ONESHOT_MAX_DERIVED: 1 */
    int population;          /* spos: 20 */
    int generations;         /* spos: 10 */
    int bn_batches;          /* spos: training batches that recalibrate BN per candidate: 4 */
    int val_images;          /* spos: validation images per candidate, 0 all: 1000 */
    /* spos: 1 when a candidate may be scored (the search's hard constraints);
     * NULL: every architecture. Called on the caller's thread. */
    int (*admit)(void *ctx, const cf_arch *a);
    void *admit_ctx;
    /* After each epoch (may be NULL): its record, the epoch counted from 0. */
    void (*on_epoch)(void *ctx, const cf_epoch_record *r);
    void *epoch_ctx;
    /* The state after each epoch (NULL: none); resumed from when it exists (a
     * damaged one, or one of another run, is reported and training starts over). */
    const char *state_path;
    /* The architecture weights after each epoch as JSON, for the report
     * (NULL: none): {"method", "rows", "cols", "ops", "edges", "alpha": [[...]]}. */
    const char *alphas_path;
} cf_oneshot_config;

/* Defaults for method (above); train gets cf_train_config_default with the
 * DARTS search's weight optimizer: lr 0.025 to 0.001, momentum 0.9 without
 * Nesterov, weight decay 3e-4, gradient clip 5, batch 64. */
void cf_oneshot_config_default(cf_oneshot_config *cfg, cf_oneshot_method method);

typedef struct cf_oneshot_result {
    cf_train_status status;  /* ok, or how training stopped (nan, diverged, timeout) */
    char reason[256];
    int epochs_done;
    cf_epoch_record curve[CF_TRAIN_MAX_EPOCHS]; /* train loss/acc of the weight steps; val_acc
                                   of the supernet (darts: the mixture; gdas: the architecture
                                   derived after the epoch; spos: a uniform architecture of the
                                   epoch; both alone with BN recalibrated, on val_images) */
    double seconds;          /* wall time, restored epochs and the derivation included */
    int n_derived;
    cf_arch derived[CF_ONESHOT_MAX_DERIVED];   /* best first */
    double derived_score[CF_ONESHOT_MAX_DERIVED]; /* darts, gdas: sum of log p; spos: the
                                   supernet's validation accuracy */
    double derived_acc[CF_ONESHOT_MAX_DERIVED];   /* the supernet's validation accuracy of
                                   each on its own paths (BN recalibrated for spos) */
    int spos_scored;         /* spos: candidates scored by the evolutionary search */
} cf_oneshot_result;

/* Train the supernet model m (built from a supernet arch of s; borrowed) on
 * train, its architecture weights on val (both borrowed), and derive
 * architectures. CF_OK with res->status saying how training ended (derived
 * only for ok or timeout after a whole epoch); a cf_status failure for bad
 * arguments, a backend error or a sidecar that does not fit its state (the
 * message names it). */
cf_status cf_oneshot_run(cf_model *m, const cf_space *s, const cf_dataset *train, const cf_dataset *val,
                         const cf_oneshot_config *cfg, cf_oneshot_result *res);

/* The k best architectures of s by the architecture weights alpha (rows x
 * cols, a supernet's mix_rows x mix_cols), best first: *n found (< k when the
 * space has fewer), with their scores. */
cf_status cf_oneshot_derive(const cf_space *s, const double *alpha, int rows, int cols, int k, cf_arch *out,
                            double *score, int *n);

/* p = softmax of each row of logits (rows x cols). */
void cf_oneshot_softmax(const double *logits, int rows, int cols, double *p);
/* Through p = softmax(logits / tau) (p given): grad holds dL/dp on entry and
 * dL/dlogits on return. DARTS's alpha gradient (tau 1) and GDAS's straight-
 * through one (the soft sample's p and tau). */
void cf_oneshot_softmax_backward(const double *p, int rows, int cols, double tau, double *grad);

/* Set m's mix coefficients and paths to run architecture a of s alone (a
 * supernet of s; paths of its ops, coefficient 1 each). */
cf_status cf_oneshot_set_arch(cf_model *m, const cf_space *s, const cf_arch *a);

#ifdef __cplusplus
}
#endif
#endif
