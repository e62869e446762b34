/* oneshot_spos.c - scoring one architecture on a trained supernet, and
 * SPOS's evolutionary search over those scores.
 *
 * A candidate runs alone (its paths, coefficient 1 on each op it uses). The
 * running statistics of the batch norms were averaged over every path the
 * supernet trained, so they are reset and recomputed first from
 * cfg->bn_batches training batches, each weighted equally (momentum 1/(t+1)
 * at batch t: the cumulative mean, PyTorch's momentum=None), then the
 * candidate is scored by its accuracy on the first cfg->val_images
 * validation images. The search keeps a population of cfg->population,
 * replaces its worse half each generation by children (mutation or
 * crossover of the better half, half each), admits only what cfg->admit
 * accepts and never scores an architecture twice. Tested by
 * tests/test_oneshot.c.
 */
#include <stdlib.h>
#include <string.h>

#include "cellforge/rng.h"
#include "oneshot_impl.h"

#define SEARCH_STREAM ((uint64_t)1 << 40) /* the search's draws, apart from the training steps' */
#define TRIES_PER_SLOT 50

cf_status os_evaluate(os_run *r, const cf_dataset *ds, int n, double *acc) {
    cf_model *m = r->m;
    const int B = r->cfg->train.batch, K = m->net->input.classes;
    const size_t total = n > 0 && (size_t)n < ds->n ? (size_t)n : ds->n;
    size_t correct = 0;
    for (size_t start = 0; start < total; start += (size_t)B) {
        int nb = (int)(total - start < (size_t)B ? total - start : (size_t)B);
        for (int k = 0; k < nb; k++) r->idx[k] = (uint32_t)(start + (size_t)k);
        CF_TRY(cf_backend_copy(m->be, r->didx, r->idx, (size_t)nb * sizeof *r->idx, CF_COPY_TO_DEVICE));
        cf_batch_args a = {ds, r->didx, nb, r->mean, r->std, NULL, 0, 0, 0, cf_model_input(m), cf_model_labels(m),
                           m->threads, m->dtype};
        CF_TRY(cf_backend_batch(m->be, &a));
        CF_TRY(cf_model_forward(m, NULL, nb, 0));
        CF_TRY(cf_model_logits_host(m, r->logits));
        for (int k = 0; k < nb; k++) {
            const float *v = r->logits + (size_t)k * K;
            int best = 0;
            for (int c = 1; c < K; c++) best = v[c] > v[best] ? c : best;
            correct += best == ds->labels[start + (size_t)k];
        }
    }
    *acc = total ? (double)correct / (double)total : 0.0;
    return CF_OK;
}

/* Reset the running statistics of every batch norm the paths run and
 * recompute them as the cumulative mean over bn_batches training batches. */
static cf_status recalibrate(os_run *r) {
    cf_model *m = r->m;
    const cf_net *net = m->net;
    const int B = r->cfg->train.batch;
    CF_TRY(cf_model_to_host(m));
    for (int i = 0; i < net->n; i++) {
        const cf_net_layer *l = &net->layers[i];
        if (l->kind != CF_OP_BATCHNORM || (m->skip && m->skip[i])) continue;
        float *mean = cf_model_bn_stat(m, i, 0), *var = cf_model_bn_stat(m, i, 1);
        for (int c = 0; c < l->c; c++) {
            mean[c] = 0;
            var[c] = 1;
        }
    }
    cf_model_host_changed(m);
    /* a fixed draw of training batches: the order of the epoch after the last */
    cf_data_epoch_order(r->train->n, r->cfg->train.seed, (uint64_t)r->cfg->train.epochs, r->order_tr);
    const int batches = (int)(r->train->n / (size_t)B) < r->cfg->bn_batches ? (int)(r->train->n / (size_t)B)
                                                                            : r->cfg->bn_batches;
    cf_status st = CF_OK;
    for (int t = 0; t < batches && st == CF_OK; t++) {
        for (int i = 0; i < net->n; i++)
            if (net->layers[i].kind == CF_OP_BATCHNORM) net->layers[i].params.bn.momentum = 1.0 / (t + 1);
        memcpy(r->idx, r->order_tr + (size_t)t * B, (size_t)B * sizeof *r->idx);
        st = cf_backend_copy(m->be, r->didx, r->idx, (size_t)B * sizeof *r->idx, CF_COPY_TO_DEVICE);
        cf_batch_args a = {r->train, r->didx, B, r->mean, r->std, NULL, 0, 0, 0, cf_model_input(m),
                           cf_model_labels(m), m->threads, m->dtype};
        if (st == CF_OK) st = cf_backend_batch(m->be, &a);
        if (st == CF_OK) st = cf_model_forward(m, NULL, B, 1);
    }
    for (int i = 0; i < net->n; i++) /* the builders' momentum, PyTorch's */
        if (net->layers[i].kind == CF_OP_BATCHNORM) net->layers[i].params.bn.momentum = 0.1;
    return st;
}

cf_status os_score_arch(os_run *r, const cf_arch *a, double *acc) {
    CF_TRY(os_use_arch(r, a));
    CF_TRY(recalibrate(r));
    return os_evaluate(r, r->val, r->cfg->val_images, acc);
}

/* ---- the evolutionary search ------------------------------------------------------- */

typedef struct scored {
    cf_arch a;
    double acc;
    int id;                 /* order scored: ties go to the earlier */
} scored;

typedef struct search {
    os_run *r;
    cf_rng rng;
    scored *all;            /* every architecture scored, in order */
    int n_all, cap_all;
} search;

static int by_acc(const void *pa, const void *pb) {
    const scored *a = pa, *b = pb;
    if (a->acc != b->acc) return a->acc > b->acc ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* Score a if it is new and admitted: 1 added, 0 not. */
static cf_status try_add(search *S, const cf_arch *cand, int *added) {
    os_run *r = S->r;
    cf_arch a;
    *added = 0;
    if (cf_arch_validate(r->s, cand) != CF_OK) return CF_OK;
    cf_arch_canonical(r->s, cand, &a);
    for (int i = 0; i < S->n_all; i++)
        if (memcmp(&S->all[i].a, &a, sizeof a) == 0) return CF_OK;
    if (r->cfg->admit && !r->cfg->admit(r->cfg->admit_ctx, &a)) return CF_OK;
    if (S->n_all == S->cap_all) return CF_OK;
    double acc = 0;
    CF_TRY(os_score_arch(r, &a, &acc));
    S->all[S->n_all] = (scored){a, acc, S->n_all};
    S->n_all++;
    *added = 1;
    return CF_OK;
}

cf_status os_spos_search(os_run *r, cf_oneshot_result *res) {
    const cf_oneshot_config *c = r->cfg;
    const int P = c->population, half = P / 2 > 0 ? P / 2 : 1;
    search S = {r, cf_rng_make(c->train.seed, cf_rng_stream(SEARCH_STREAM, CF_RNG_PURPOSE_PATH)), NULL, 0, 0};
    S.cap_all = P + c->generations * (P - half);
    S.all = calloc((size_t)S.cap_all, sizeof *S.all);
    scored *pop = calloc((size_t)P, sizeof *pop);
    cf_status st = CF_OK;
    if (!S.all || !pop) {
        st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "spos: no memory for a population of %d", P);
        goto exit;
    }
    int n_pop = 0;
    for (int tries = 0; n_pop < P && tries < TRIES_PER_SLOT * P; tries++) {
        cf_arch a;
        int added = 0;
        cf_arch_sample(r->s, &S.rng, &a);
        CF_TRY_GOTO(st, try_add(&S, &a, &added), exit);
        if (added) pop[n_pop++] = S.all[S.n_all - 1];
    }
    if (n_pop == 0) {
        st = cf_error_set(CF_ERR_INVALID_ARG, __FILE__, __LINE__,
                          "spos: no architecture the constraints admit in %d draws", TRIES_PER_SLOT * P);
        goto exit;
    }
    for (int g = 0; g < c->generations; g++) {
        qsort(pop, (size_t)n_pop, sizeof *pop, by_acc);
        int parents = n_pop < half ? n_pop : half, n = parents;
        for (int tries = 0; n < P && tries < TRIES_PER_SLOT * P; tries++) {
            cf_arch child;
            const cf_arch *a = &pop[cf_rng_below(&S.rng, (uint32_t)parents)].a;
            if (parents > 1 && cf_rng_below(&S.rng, 2)) {
                const cf_arch *b = &pop[cf_rng_below(&S.rng, (uint32_t)parents)].a;
                cf_arch_crossover(r->s, &S.rng, a, b, &child);
            } else if (cf_arch_mutate(r->s, &S.rng, a, &child) != CF_OK) {
                continue;
            }
            int added = 0;
            CF_TRY_GOTO(st, try_add(&S, &child, &added), exit);
            if (added) pop[n++] = S.all[S.n_all - 1];
        }
        n_pop = n;
    }
    qsort(S.all, (size_t)S.n_all, sizeof *S.all, by_acc);
    res->n_derived = S.n_all < c->derive ? S.n_all : c->derive;
    for (int k = 0; k < res->n_derived; k++) {
        res->derived[k] = S.all[k].a;
        res->derived_score[k] = S.all[k].acc;
    }
    res->spos_scored = S.n_all;
exit:
    free(S.all);
    free(pop);
    return st;
}
