/* oneshot_impl.h - what the one-shot files share (private to src/train).
 *
 * oneshot.c runs the epochs and steps, oneshot_paths.c maps architecture
 * weights and architectures onto a supernet's mix layers and derives
 * architectures, oneshot_state.c writes and reads the state sidecar and the
 * alpha history, oneshot_spos.c holds SPOS's evolutionary search.
 */
#ifndef CF_TRAIN_ONESHOT_IMPL_H
#define CF_TRAIN_ONESHOT_IMPL_H

#include "cellforge/oneshot.h"

/* One mix layer of the supernet. */
typedef struct os_mix {
    int layer, row;
} os_mix;

typedef struct os_run {
    cf_model *m;
    const cf_space *s;
    const cf_dataset *train, *val;
    const cf_oneshot_config *cfg;
    int rows, cols, n_mix;
    os_mix *mix;                  /* (n_mix) */
    double *alpha;                /* (rows, cols) architecture weights */
    double *adam_m, *adam_v;      /* (rows, cols) Adam's moments */
    int64_t adam_t;               /* Adam steps taken */
    double *hist;                 /* (epochs, rows, cols) alpha after each epoch */
    double *grad;                 /* (rows, cols) scratch: dL/dcoef, then dL/dalpha */
    double *coef;                 /* (rows, cols) scratch: the coefficients of a step */
    double *soft;                 /* (rows, cols) gdas: the soft sample of the last step */
    int *pick;                    /* (rows) gdas: the op drawn for each row */
    uint8_t *row_paths;           /* (rows) scratch: ops computed per row */
    uint8_t *paths;               /* (net->n) the model's paths */
    void *tail;                   /* (n_params - mix_offset) host staging of the coefficients,
                                     of the model's dtype */
    float mean[4], std[4];
    uint32_t *order_tr, *order_va;/* epoch orders of the two splits */
    uint32_t *idx;                /* (batch) host indices */
    void *didx;                   /* (batch) backend indices */
    float *logits;                /* (batch, classes) host */
    float *mom;                   /* (n_params) momentum, backend memory */
    float *backup, *vbuf, *scratch; /* (mix_offset) second order, backend memory */
} os_run;

/* ---- oneshot_paths.c ---- */
cf_status os_mix_table(os_run *r);
/* coef (rows, cols) into every mix layer's coefficients, in backend memory. */
cf_status os_write_coefs(os_run *r, const double *coef);
/* row_paths (rows; NULL: all) into the model's paths. */
cf_status os_set_row_paths(os_run *r, const uint8_t *row_paths);
/* dL/dcoef of the last backward, summed per row, into out (rows, cols). */
cf_status os_read_coef_grad(os_run *r, double *out);
/* The ops architecture a of s computes on each row (rows bytes). */
cf_status os_arch_rows(const cf_space *s, const cf_arch *a, int rows, int cols, uint8_t *row_paths);
/* Run a alone: its paths, coefficient 1 on each. */
cf_status os_use_arch(os_run *r, const cf_arch *a);

/* ---- oneshot_state.c ---- */
/* The sidecar of state_path after epoch `epoch` (0-based): alpha, Adam, history. */
cf_status os_state_save(const os_run *r, int epoch);
/* Restore the sidecar's record of epoch `epoch`; the message names the file. */
cf_status os_state_load(os_run *r, int epoch);
cf_status os_alphas_write(const os_run *r, int epochs);

/* ---- oneshot_spos.c ---- */
/* The validation accuracy of a alone on the supernet after recalibrating the
 * BN statistics on cfg->bn_batches training batches; over the first
 * cfg->val_images validation images (all when 0 or more than there are). */
cf_status os_score_arch(os_run *r, const cf_arch *a, double *acc);
/* The evolutionary search; fills res->derived. */
cf_status os_spos_search(os_run *r, cf_oneshot_result *res);
/* Accuracy of the model as it stands on the first n images of ds (all: n <= 0). */
cf_status os_evaluate(os_run *r, const cf_dataset *ds, int n, double *acc);

#endif
