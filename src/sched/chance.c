/* chance.c - why a trial that finished ended at chance level.
 *
 * A trial whose validation accuracy is no better than guessing (below 1.5
 * times 1/classes) learned nothing; the search records it as ok (its
 * accuracy is what it is) with the cause in its reason, so the line, the
 * journal, `status` and the report say why instead of showing a bare 10%.
 * The causes, in the order they are checked:
 *   - the network's output does not depend on the image: no chain of
 *     non-"none" ops leads from a cell's input to its output (NB201), or from
 *     the stem through every cell to the classifier (DARTS);
 *   - training learned little too (train accuracy under 3 / classes: too
 *     few steps at this fidelity, or a learning rate that does not suit);
 *   - the loss fell but validation did not follow (a generalization or
 *     evaluation problem worth looking at).
 * Tested by tests/test_sched.c.
 */
#include <stdio.h>
#include <string.h>

#include "cellforge/sched.h"

static int carries(const cf_space *s, int op) {
    return op >= 0 && op < s->n_ops && s->ops[op].prim != CF_PRIM_ZERO;
}

/* NB201: node j sees the image when an edge from a node that does ends in it
 * through an op that is not "none". */
static int nb201_connected(const cf_space *s, const cf_arch *a) {
    const cf_arch_cell *c = &a->cell[0];
    int info[CF_CELL_MAX_NODES] = {1};
    for (int j = 1; j < c->n_nodes; j++)
        for (int i = 0; i < j && i < c->n_in[j]; i++)
            if (info[c->in[j][i].from] && carries(s, c->in[j][i].op)) info[j] = 1;
    return info[c->n_nodes - 1];
}

/* One DARTS cell: does its output see the image, given what its inputs see? */
static int darts_cell(const cf_space *s, const cf_arch_cell *c, int in0, int in1) {
    int info[CF_CELL_MAX_NODES] = {in0, in1};
    int out = 0;
    for (int j = 2; j < c->n_nodes; j++) {
        for (int k = 0; k < c->n_in[j]; k++)
            if (info[c->in[j][k].from] && carries(s, c->in[j][k].op)) info[j] = 1;
        if (c->concat & (1u << j)) out |= info[j];
    }
    return out;
}

/* DARTS: the cells in the skeleton's order, reductions at layers/3 and
 * 2*layers/3, each fed by the two cells before it (the stem at first). */
static int darts_connected(const cf_space *s, const cf_arch *a) {
    int layers = (int)cf_space_get_or(s, "layers", 8);
    int prev_prev = 1, prev = 1;
    for (int k = 0; k < layers; k++) {
        int reduce = a->n_cells > 1 && (k == layers / 3 || k == 2 * layers / 3);
        int out = darts_cell(s, &a->cell[reduce ? 1 : 0], prev_prev, prev);
        prev_prev = prev;
        prev = out;
    }
    return prev;
}

int cf_trial_chance_cause(const cf_space *s, int classes, const cf_trial *t, char *buf, size_t cap) {
    if (t->status != CF_TRIAL_OK || t->val_acc < 0 || classes < 2 || t->val_acc >= 1.5 / classes) return 0;
    int connected = t->cand.arch.supernet                ? 1 /* every op on every edge */
                    : s->family == CF_SPACE_FAMILY_NB201 ? nb201_connected(s, &t->cand.arch)
                    : s->family == CF_SPACE_FAMILY_DARTS ? darts_connected(s, &t->cand.arch)
                                                         : 1;
    if (!connected) {
        snprintf(buf, cap, "chance level: no path of ops other than none leads from the input to the "
                           "output, so the prediction does not depend on the image");
        return 1;
    }
    if (t->epochs_done > 0 && t->curve) {
        const cf_epoch_record *last = &t->curve[t->epochs_done - 1];
        double guess = 1.0 / classes;
        if (last->train_acc < 3 * guess)
            snprintf(buf, cap, "chance level: training learned little too (train loss %.3f, train accuracy "
                               "%.1f%% after %d epoch%s at fraction %g): too few steps at this fidelity, or a "
                               "learning rate that does not suit this network", last->train_loss,
                     100 * last->train_acc, t->epochs_done, t->epochs_done == 1 ? "" : "s",
                     t->cand.fraction > 0 ? t->cand.fraction : 1.0);
        else
            snprintf(buf, cap, "chance level: training reached %.1f%% but validation stayed at %.1f%%: the "
                               "network does not generalize at this fidelity (its batch norm statistics, "
                               "or too few steps)", 100 * last->train_acc, 100 * t->val_acc);
        return 1;
    }
    snprintf(buf, cap, "chance level: no epoch recorded");
    return 1;
}
