/* eval_oneshot.c - a supernet's trial in the `train` evaluator: train the
 * supernet with the run's one-shot method (oneshot.h) and report what it
 * derived.
 *
 * The trial trains on its worker's device, on the training split (weights)
 * and the validation split (architecture weights; the SPOS search's scores),
 * at the trial's batch (halved by an out-of-memory retry like any trial's),
 * for the candidate's epochs. Its state goes where any trial's does
 * (trials/ID/train.cfs, with the one-shot sidecar beside it) and its
 * architecture weights after every epoch to trials/ID/alphas.json for the
 * report. Its accuracy is the supernet's last validation accuracy; its
 * metrics name the derived architectures, best first, with the supernet's
 * accuracy of each:
 *   {"method":"darts","derived":["|nor_conv_3x3~0|+...",...],"derived_acc":[0.84,...]}
 * which the one-shot strategies read to propose them. Tested by
 * tests/cli_oneshot.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/log.h"
#include "eval_oneshot.h"

typedef struct epoch_relay {
    const cf_trial_task *task;
} epoch_relay;

static void relay_epoch(void *ctx, const cf_epoch_record *r) {
    const epoch_relay *e = ctx;
    if (e->task->on_epoch) e->task->on_epoch(e->task->epoch_ctx, e->task->trial, r);
}

/* The metrics object: as many derived architectures as fit, best first. */
static void write_metrics(const cf_space *s, const cf_oneshot_config *cfg, const cf_oneshot_result *res,
                          char *buf, size_t cap) {
    size_t n = (size_t)snprintf(buf, cap, "{\"method\":\"%s\",\"derived\":[", cf_oneshot_method_name(cfg->method));
    int kept = 0;
    for (int k = 0; k < res->n_derived; k++) {
        char text[CF_ARCH_TEXT_MAX], esc[2 * CF_ARCH_TEXT_MAX];
        if (cf_arch_format(s, &res->derived[k], text, sizeof text) != CF_OK) break;
        size_t e = 0;
        for (const char *p = text; *p && e + 2 < sizeof esc; p++) {
            if (*p == '"' || *p == '\\') esc[e++] = '\\';
            esc[e++] = *p;
        }
        esc[e] = 0;
        /* room for this one, the accuracies of all kept and the closing */
        if (n + e + 4 + (size_t)(kept + 1) * 24 + 32 >= cap) break;
        n += (size_t)snprintf(buf + n, cap - n, "%s\"%s\"", kept ? "," : "", esc);
        kept++;
    }
    n += (size_t)snprintf(buf + n, cap - n, "],\"derived_acc\":[");
    for (int k = 0; k < kept; k++) n += (size_t)snprintf(buf + n, cap - n, "%s%.6g", k ? "," : "", res->derived_acc[k]);
    n += (size_t)snprintf(buf + n, cap - n, "]");
    if (cfg->method == CF_ONESHOT_SPOS) n += (size_t)snprintf(buf + n, cap - n, ",\"scored\":%d", res->spos_scored);
    snprintf(buf + n, cap - n, "}");
}

static cf_status failed(cf_trial_outcome *out, cf_status st) {
    out->status = (st == CF_ERR_OUT_OF_MEMORY || st == CF_ERR_DEVICE_OOM) ? CF_TRIAL_OOM : CF_TRIAL_ERROR;
    snprintf(out->reason, sizeof out->reason, "%s", cf_error_message());
    return CF_OK;
}

cf_status cf_eval_supernet(const cf_eval_supernet_args *a, const cf_trial_task *task, cf_trial_outcome *out) {
    const cf_trial *t = task->trial;
    if (!a->oneshot) {
        out->status = CF_TRIAL_ERROR;
        snprintf(out->reason, sizeof out->reason, "a supernet trains under a one-shot strategy (darts, gdas, spos)");
        return CF_OK;
    }
    if (task->replicas > 1 || task->comm) {
        out->status = CF_TRIAL_ERROR;
        snprintf(out->reason, sizeof out->reason, "a supernet trains on one device (--replicas 1)");
        return CF_OK;
    }
    cf_net *net = NULL;
    cf_net_input in = {a->train->c, a->train->h, a->train->w, a->train->classes};
    cf_status st = task->net ? cf_net_clone(task->net, &net) : cf_net_build(a->space, &t->cand.arch, &in, &net);
    if (st != CF_OK) return failed(out, st);
    cf_model *m = NULL;
    if ((st = cf_model_create(net, t->batch, a->be, 0, &m)) != CF_OK) return failed(out, st); /* takes net */
    m->threads = task->worker->threads;
    cf_oneshot_config cfg = *a->oneshot;
    cfg.train.seed = cf_trial_seed(a->run->seed, t->id);
    cfg.train.batch = t->batch;
    cfg.train.epochs = t->cand.epochs > 0 ? t->cand.epochs : a->run->epochs;
    cfg.train.max_epoch_fraction = t->cand.fraction > 0 ? t->cand.fraction : a->run->max_epoch_fraction;
    cfg.train.augment = a->run->augment;
    cfg.train.label_smoothing = a->run->label_smoothing;
    cfg.train.time_limit_s = task->time_limit_s;
    cfg.train.progress = NULL;
    epoch_relay relay = {task};
    cfg.on_epoch = relay_epoch;
    cfg.epoch_ctx = &relay;
    char alphas[1100];
    cfg.state_path = task->checkpoint;
    cfg.alphas_path = NULL;
    if (task->checkpoint) {
        snprintf(alphas, sizeof alphas, "%s", task->checkpoint);
        char *slash = strrchr(alphas, '/');
        snprintf(slash ? slash + 1 : alphas, sizeof alphas - (size_t)(slash ? slash + 1 - alphas : 0), "alphas.json");
        cfg.alphas_path = alphas;
    }
    cf_model_init(m, cfg.train.seed);
    cf_oneshot_result *res = calloc(1, sizeof *res);
    if (!res) {
        cf_model_destroy(m);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "one-shot: no memory for a result");
    }
    st = cf_oneshot_run(m, a->space, a->train, a->val, &cfg, res);
    cf_model_destroy(m);
    if (st != CF_OK) {
        free(res);
        return failed(out, st);
    }
    out->status = cf_trial_status_of_training(res->status);
    snprintf(out->reason, sizeof out->reason, "%s", res->reason);
    out->epochs_done = res->epochs_done;
    out->seconds = res->seconds;
    out->val_acc = res->epochs_done > 0 ? res->curve[res->epochs_done - 1].val_acc : -1;
    if (res->epochs_done > 0) {
        out->curve = malloc((size_t)res->epochs_done * sizeof *out->curve);
        if (out->curve) memcpy(out->curve, res->curve, (size_t)res->epochs_done * sizeof *out->curve);
    }
    if (res->n_derived > 0) write_metrics(a->space, &cfg, res, out->metrics, sizeof out->metrics);
    free(res);
    return CF_OK;
}
