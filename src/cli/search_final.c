/* search_final.c - the last phase of `cellforge search`: the best models of the
 * search are trained again, longer, and measured on the test set.
 *
 * Trials of a search are short (a fraction of an epoch by default), enough to
 * rank architectures, not to say how good one is. After the search, up to
 * --retrain K architectures are taken from the Pareto front of the run's
 * objectives (spread along it: the most accurate first, then evenly down to
 * the smallest), topped up by validation accuracy when the front is shorter,
 * and each is trained from scratch for --retrain-epochs epochs on the
 * same training split, one model per worker at a time. Each then gets its
 * test-set accuracy, per-class accuracy and confusion matrix. The run
 * directory receives, per model:
 *
 *   final/ID/train.cfs   the training state after every epoch (resumable)
 *   final/ID/model.cfm   the trained model with its test accuracy
 *   final/ID/test.json   the record below, for `cellforge report` and people
 *
 * and best.cfm, a hard link to the model.cfm with the best validation
 * accuracy (the test set only measures; it never chooses). The journal gets
 * final_started, final_epoch and final_finished events. A crash in this phase
 * loses nothing: a model with its test.json is done, one with a train.cfs goes
 * on from its last epoch. Tested by tests/cli_search.sh.
 *
 * test.json:
 *   {"trial": 5, "arch": "...", "epochs": 3, "status": "ok", "reason": "",
 *    "val_acc": 0.87, "test_acc": 0.86, "seconds": 95.2, "params": 21514,
 *    "macs": 1763000, "search_val_acc": 0.80, "classes": ["T-shirt/top", ...],
 *    "per_class_acc": [...], "confusion": [[...], ...] (rows: true class),
 *    "curve": [{"epoch": 0, "train_loss": ..., "train_acc": ..., "val_acc": ...,
 *               "lr": ..., "seconds": ...}, ...]}
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cellforge/buf.h"
#include "cellforge/checkpoint.h"
#include "cellforge/file.h"
#include "cellforge/journal.h"
#include "cellforge/log.h"
#include "cellforge/pareto.h"
#include "cellforge/thread.h"
#include "cli.h"
#include "core/json_read.h"

typedef struct final_job {
    cf_trial trial;              /* the search's trial, at the final fidelity */
    double search_val;           /* its validation accuracy in the search */
    int done;                    /* 1: finished (now or before a resume) */
    cf_trial_status status;
    char reason[256];
    double val_acc, test_acc, seconds;
    int worker;
} final_job;

typedef struct final_run {
    const search_final_args *a;
    const cf_space *space;       /* the final models' (a->final_space or a->space) */
    cf_evaluator *ev;            /* and their trainer */
    int epochs;                  /* of every model (planned when a->epochs is 0) */
    final_job *jobs;
    int n_jobs, next;
    cf_mutex mu;                 /* next, printing, journal failures */
    const cf_dataset *test;
    double t0;                   /* wall clock at the start of the phase */
    cf_status err;               /* the first failure of the phase itself */
    char err_msg[512];
} final_run;

typedef struct final_worker {
    final_run *run;
    int w;
} final_worker;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double run_clock(const final_run *r) {
    return r->a->clock0 + (now_s() - r->t0);
}

static void fail_phase(final_run *r, cf_status st) {
    if (r->err != CF_OK) return;
    r->err = st;
    snprintf(r->err_msg, sizeof r->err_msg, "%s", cf_error_message());
}

static void journal(final_run *r, const char *event, const char *fields) {
    if (!r->a->journal) return;
    cf_status st = cf_journal_append(r->a->journal, event, run_clock(r), fields);
    if (st != CF_OK) {
        cf_mutex_lock(&r->mu);
        fail_phase(r, st);
        cf_mutex_unlock(&r->mu);
    }
}

static const char *const fashion_names[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                            "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
static const char *const cifar10_names[] = {"airplane", "automobile", "bird", "cat",  "deer",
                                            "dog",      "frog",       "horse", "ship", "truck"};

static const char *class_name(const cf_dataset *test, const char *dataset, int k, char *buf, size_t cap) {
    if (cf_dataset_class_name(test, k)) return cf_dataset_class_name(test, k);
    if (k < 10 && strcmp(dataset, "fashion-mnist") == 0) return fashion_names[k];
    if (k < 10 && strcmp(dataset, "cifar10") == 0) return cifar10_names[k];
    snprintf(buf, cap, "%d", k);
    return buf;
}

static void job_dir(const final_run *r, const final_job *j, const char *file, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/final/%lld%s%s", r->a->dir, (long long)j->trial.id, file ? "/" : "", file ? file : "");
}

/* What one worker's task hands to the hooks. */
typedef struct job_ctx {
    final_run *run;
    final_job *job;
} job_ctx;

static cf_status write_test_json(final_run *r, final_job *j, const cf_trial *t, const cf_train_result *res,
                                 double test_acc, const int64_t *conf, int classes) {
    char esc[2 * CF_ARCH_TEXT_MAX + 64], name[32], cname[600], path[1200];
    cf_buf o = {0};
    char why[600];
    cf_buf_printf(&o, "{\"trial\": %lld, \"arch\": \"%s\", \"epochs\": %d, \"status\": \"%s\", \"reason\": \"%s\",\n",
        (long long)t->id, cf_journal_escape(t->arch, esc, sizeof esc), res->epochs_done,
        res->status == CF_TRAIN_OK ? "ok" : "timeout", cf_journal_escape(res->reason, why, sizeof why));
    cf_buf_printf(&o, " \"val_acc\": %.6f, \"test_acc\": %.6f, \"seconds\": %.3f, \"params\": %lld, \"macs\": %lld,\n",
        res->val_acc, test_acc, res->seconds, (long long)t->cost.params, (long long)t->cost.macs);
    char opts[256];
    cf_space_format_options(r->space, opts, sizeof opts);
    cf_buf_printf(&o, " \"options\": \"%s\", \"search_val_acc\": %.6f, \"dataset\": \"%s\",\n \"classes\": [",
                  cf_journal_escape(opts, esc, sizeof esc), j->search_val, r->a->dataset);
    for (int k = 0; k < classes; k++)
        cf_buf_printf(&o, "%s\"%s\"", k ? ", " : "", cf_journal_escape(class_name(r->test, r->a->dataset, k, name, sizeof name), cname, sizeof cname));
    cf_buf_printf(&o, "],\n \"per_class_acc\": [");
    for (int k = 0; k < classes; k++) {
        int64_t row = 0;
        for (int c = 0; c < classes; c++) row += conf[(size_t)k * (size_t)classes + (size_t)c];
        cf_buf_printf(&o, "%s%.6f", k ? ", " : "", row ? (double)conf[(size_t)k * (size_t)classes + (size_t)k] / (double)row : 0.0);
    }
    cf_buf_printf(&o, "],\n \"confusion\": [");
    for (int k = 0; k < classes; k++) {
        cf_buf_printf(&o, "%s[", k ? ",\n   " : "");
        for (int c = 0; c < classes; c++)
            cf_buf_printf(&o, "%s%lld", c ? ", " : "", (long long)conf[(size_t)k * (size_t)classes + (size_t)c]);
        cf_buf_printf(&o, "]");
    }
    cf_buf_printf(&o, "],\n \"curve\": [");
    for (int e = 0; e < res->epochs_done; e++) {
        const cf_epoch_record *c = &res->curve[e];
        cf_buf_printf(&o,
            "%s{\"epoch\": %d, \"train_loss\": %.6f, \"train_acc\": %.6f, \"val_acc\": %.6f, \"lr\": %.6g, "
            "\"seconds\": %.3f}",
            e ? ",\n   " : "", c->epoch, c->train_loss, c->train_acc, c->val_acc, c->lr, c->seconds);
    }
    cf_buf_printf(&o, "]}\n");
    if (o.failed) {
        cf_buf_free(&o);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "final trial %lld: no memory for test.json", (long long)t->id);
    }
    job_dir(r, j, "test.json", path, sizeof path);
    cf_status st = cf_file_write_atomic(path, o.p);
    cf_buf_free(&o);
    return st;
}

/* After training, on the worker's thread: the test set, the model file, test.json. */
static cf_status on_trained(void *ctx, const cf_trial *t, cf_model *m, const cf_train_config *cfg,
                            const cf_train_result *res) {
    job_ctx *c = ctx;
    final_run *r = c->run;
    final_job *j = c->job;
    const int classes = r->test->classes;
    int64_t *conf = calloc((size_t)classes * (size_t)classes, sizeof *conf);
    if (!conf) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "final trial %lld: no memory for the confusion matrix", (long long)t->id);
    double test_acc = -1;
    char path[1200];
    job_dir(r, j, "model.cfm", path, sizeof path);
    cf_status st = cf_evaluate(m, r->test, res->mean, res->std, &test_acc, conf);
    if (st == CF_OK) st = cf_checkpoint_save(path, r->space, t->arch, m, cfg, res, test_acc);
    if (st == CF_OK) st = write_test_json(r, j, t, res, test_acc, conf, classes);
    free(conf);
    j->test_acc = test_acc;
    return st;
}

static void on_epoch(void *ctx, const cf_trial *t, const cf_epoch_record *e) {
    job_ctx *c = ctx;
    final_run *r = c->run;
    char fields[512];
    snprintf(fields, sizeof fields,
             "\"id\":%lld,\"epoch\":%d,\"train_loss\":%.17g,\"train_acc\":%.17g,\"val_acc\":%.17g,\"lr\":%.17g,"
             "\"seconds\":%.17g",
             (long long)t->id, e->epoch, e->train_loss, e->train_acc, e->val_acc, e->lr, e->seconds);
    journal(r, "final_epoch", fields);
    if (r->a->quiet) return;
    cf_mutex_lock(&r->mu);
    printf("final trial %-4lld epoch %d/%d  loss %.4f  train %.2f%%  val %.2f%%  %.1f s\n", (long long)t->id,
           e->epoch + 1, t->cand.epochs, e->train_loss, 100 * e->train_acc, 100 * e->val_acc, e->seconds);
    fflush(stdout);
    cf_mutex_unlock(&r->mu);
}

static void run_job(final_run *r, final_job *j, int w, void *device_state) {
    const search_final_args *a = r->a;
    char ckpt[1200], fields[640], esc[600];
    job_dir(r, j, NULL, ckpt, sizeof ckpt);
    if (cf_file_make_dir(ckpt) != CF_OK) {
        j->status = CF_TRIAL_ERROR;
        snprintf(j->reason, sizeof j->reason, "%.230s", cf_error_message());
        j->done = 1;
        return;
    }
    job_dir(r, j, "train.cfs", ckpt, sizeof ckpt);
    j->worker = w;
    snprintf(fields, sizeof fields, "\"id\":%lld,\"worker\":%d,\"epochs\":%d", (long long)j->trial.id, w,
             j->trial.cand.epochs);
    journal(r, "final_started", fields);
    job_ctx c = {r, j};
    cf_trial_task task;
    memset(&task, 0, sizeof task);
    task.trial = &j->trial;
    task.worker = &a->workers[w];
    task.rank = 0;
    task.replicas = 1;
    task.checkpoint = ckpt;
    task.on_epoch = on_epoch;
    task.epoch_ctx = &c;
    task.on_trained = on_trained;
    task.trained_ctx = &c;
    cf_trial_outcome out;
    double t0 = now_s();
    /* what is left of the whole run's budget bounds every model */
    if (a->deadline_s > 0) {
        task.time_limit_s = a->deadline_s - (a->clock0 + now_s() - r->t0);
        if (task.time_limit_s < 1) task.time_limit_s = 1;
    }
    cf_status st = r->ev->ops->run(r->ev->self, device_state, &task, &out);
    if (st != CF_OK) {
        out.status = CF_TRIAL_ERROR;
        snprintf(out.reason, sizeof out.reason, "%s", cf_error_message());
        out.val_acc = -1;
        out.curve = NULL;
    }
    free(out.curve);
    j->status = out.status;
    snprintf(j->reason, sizeof j->reason, "%s", out.reason);
    j->val_acc = out.val_acc;
    j->seconds = now_s() - t0;
    /* a model stopped by the budget after whole epochs was tested as it stood */
    if (j->status != CF_TRIAL_OK && j->status != CF_TRIAL_TIMEOUT) j->test_acc = -1;
    j->done = 1;
    snprintf(fields, sizeof fields,
             "\"id\":%lld,\"status\":\"%s\",\"reason\":\"%s\",\"val_acc\":%.17g,\"test_acc\":%.17g,\"seconds\":%.17g",
             (long long)j->trial.id, cf_trial_status_name(j->status), cf_journal_escape(j->reason, esc, sizeof esc),
             j->val_acc, j->test_acc, j->seconds);
    journal(r, "final_finished", fields);
    if (a->quiet) return;
    cf_mutex_lock(&r->mu);
    if (j->status == CF_TRIAL_OK)
        printf("final trial %-4lld val %.2f%%  test %.2f%%  (%.0f s on %s)\n", (long long)j->trial.id,
               100 * j->val_acc, 100 * j->test_acc, j->seconds, a->workers[w].name);
    else if (j->test_acc >= 0)
        printf("final trial %-4lld val %.2f%%  test %.2f%%  (%.0f s on %s; %s: tested as it stood)\n",
               (long long)j->trial.id, 100 * j->val_acc, 100 * j->test_acc, j->seconds, a->workers[w].name, j->reason);
    else
        printf("final trial %-4lld %s: %s\n", (long long)j->trial.id, cf_trial_status_name(j->status), j->reason);
    fflush(stdout);
    cf_mutex_unlock(&r->mu);
}

static void *worker_main(void *arg) {
    final_worker *fw = arg;
    final_run *r = fw->run;
    const search_final_args *a = r->a;
    void *state = NULL;
    if (r->ev->ops->open && r->ev->ops->open(r->ev->self, &a->workers[fw->w], &state) != CF_OK) {
        cf_mutex_lock(&r->mu);
        fail_phase(r, CF_ERR_DEVICE);
        cf_mutex_unlock(&r->mu);
        return NULL;
    }
    for (;;) {
        cf_mutex_lock(&r->mu);
        final_job *j = NULL;
        while (r->next < r->n_jobs && r->err == CF_OK && !j) {
            j = &r->jobs[r->next++];
            if (j->done) j = NULL;
        }
        cf_mutex_unlock(&r->mu);
        if (!j) break;
        run_job(r, j, fw->w, state);
    }
    if (r->ev->ops->close) r->ev->ops->close(r->ev->self, state);
    return NULL;
}

/* A finished final model from before a resume: its test.json, as written above. */
static int read_done(const final_run *r, final_job *j) {
    char path[1200], status[16] = "ok";
    job_dir(r, j, "test.json", path, sizeof path);
    char *buf = NULL;
    cJSON *root = NULL;
    cf_json_reader rd;
    cf_json_reader_init(&rd, path);
    int ok = cf_file_read(path, 4096, CF_FILE_NOFOLLOW, &buf, NULL) == CF_OK && cf_json_parse(buf, path, &root) == CF_OK &&
             cf_json_get_number(&rd, root, "val_acc", CF_JSON_REQUIRED, -1, 1, &j->val_acc) == CF_OK &&
             cf_json_get_number(&rd, root, "test_acc", CF_JSON_REQUIRED, -1, 1, &j->test_acc) == CF_OK &&
             cf_json_get_number(&rd, root, "seconds", CF_JSON_REQUIRED, 0, 1e12, &j->seconds) == CF_OK &&
             cf_json_get_string(&rd, root, "status", CF_JSON_OPTIONAL, 1, status, sizeof status) == CF_OK;
    cJSON_Delete(root);
    free(buf);
    if (!ok) {
        cf_error_clear(); /* missing or damaged: trained again from its state */
        return 0;
    }
    j->status = strcmp(status, "timeout") == 0 ? CF_TRIAL_TIMEOUT : CF_TRIAL_OK;
    j->done = 1;
    return 1;
}

static int by_error(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* Up to K trials: spread along the front of the run's objectives, topped up by
 * validation accuracy; one per architecture. Trials of lower rungs of a
 * multi-fidelity strategy take part only when no trial reached the run's
 * fidelity. A supernet (one-shot search) is never one: its derived
 * architectures are. Returns how many went into ids. */
static int select_finals(const cf_search_replay *rep, const cf_search_config *cfg, int K, int64_t *ids) {
    int64_t n_ok = 0, n_top = 0;
    for (int64_t i = 0; i < rep->n; i++)
        if (rep->trials[i].status == CF_TRIAL_OK && !rep->trials[i].cand.arch.supernet) {
            n_ok++;
            if (rep->trials[i].cand.epochs >= cfg->epochs) n_top++;
        }
    if (n_ok == 0 || K <= 0) return 0;
    const int min_epochs = n_top > 0 ? cfg->epochs : 0;
    const int k = cfg->n_objectives;
    size_t n = 0;
    double *pts = malloc((size_t)n_ok * (size_t)k * sizeof *pts);
    int64_t *pid = malloc((size_t)n_ok * sizeof *pid);
    size_t *front = malloc((size_t)n_ok * sizeof *front);
    double *order = malloc((size_t)n_ok * 2 * sizeof *order); /* (error, index) pairs */
    int chosen = 0;
    if (!pts || !pid || !front || !order) goto exit;
    for (int64_t i = 0; i < rep->n; i++) {
        const cf_trial *t = &rep->trials[i];
        if (t->status != CF_TRIAL_OK || t->cand.epochs < min_epochs || t->cand.arch.supernet) continue;
        for (int o = 0; o < k; o++) pts[n * (size_t)k + (size_t)o] = cf_trial_objective(cfg, t, o);
        pid[n++] = t->id;
    }
    size_t m = cf_pareto_front(pts, n, k, front);
    for (size_t i = 0; i < m; i++) {
        order[2 * i] = pts[front[i] * (size_t)k];
        order[2 * i + 1] = (double)front[i];
    }
    qsort(order, m, 2 * sizeof *order, by_error);
    /* the most accurate, then evenly along the front to its far end */
    for (int c = 0; c < K && (size_t)c < m; c++) {
        size_t at = K == 1 || m <= (size_t)K ? (size_t)c : (size_t)((double)c * (double)(m - 1) / (K - 1) + 0.5);
        ids[chosen++] = pid[(size_t)order[2 * at + 1]];
    }
    /* then the most accurate of the rest */
    for (size_t i = 0; i < n; i++) {
        order[2 * i] = pts[i * (size_t)k];
        order[2 * i + 1] = (double)i;
    }
    qsort(order, n, 2 * sizeof *order, by_error);
    for (size_t i = 0; i < n && chosen < K; i++) {
        int64_t id = pid[(size_t)order[2 * i + 1]];
        int seen = 0;
        for (int c = 0; c < chosen; c++) seen |= ids[c] == id;
        if (!seen) ids[chosen++] = id;
    }
    /* one model per architecture: duplicates of a proposal are the same network */
    int w = 0;
    for (int c = 0; c < chosen; c++) {
        int dup = 0;
        for (int d = 0; d < w; d++) dup |= strcmp(rep->trials[ids[d]].arch, rep->trials[ids[c]].arch) == 0;
        if (!dup) ids[w++] = ids[c];
    }
    chosen = w;
exit:
    free(pts);
    free(pid);
    free(front);
    free(order);
    return chosen;
}

/* best.cfm: a hard link to the best final model, swapped in atomically. */
static void link_best(const final_run *r, const final_job *j) {
    char src[1200], dst[1200];
    job_dir(r, j, "model.cfm", src, sizeof src);
    snprintf(dst, sizeof dst, "%.1100s/best.cfm", r->a->dir);
    if (cli_link_atomic(src, dst) != 0) CF_LOG_WARN("%s: not linked to %s: %s", dst, src, cf_error_message());
}

/* Each chosen trial as a job at the final fidelity; returns how many of them
 * still need training (the others were done before a resume). */
static int prepare_jobs(final_run *r, const cf_search_replay *rep, const int64_t *ids) {
    int to_train = 0;
    for (int i = 0; i < r->n_jobs; i++) {
        final_job *j = &r->jobs[i];
        j->trial = rep->trials[ids[i]];
        j->search_val = j->trial.val_acc;
        j->trial.cand.epochs = r->epochs;
        j->trial.cand.fraction = r->a->fraction;
        j->trial.status = CF_TRIAL_RUNNING;
        /* the cost of the network the final phase trains (--retrain-set) */
        if (r->space != r->a->space &&
            cf_cost_of(r->space, &j->trial.cand.arch, &r->ev->input, j->trial.batch, &j->trial.cost) != CF_OK)
            CF_LOG_WARN("final trial %lld: %s", (long long)j->trial.id, cf_error_message());
        j->test_acc = -1;
        j->val_acc = -1;
        j->worker = -1;
        if (!read_done(r, j)) to_train++;
    }
    return to_train;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Seconds per MAC of one training image as the search's ok trials took
 * them (their median; 0 without any), each trial's validation counted at a
 * third of a training image per image (a forward pass only). */
static double seconds_per_mac(const search_final_args *a, const cf_search_replay *rep) {
    double *k = malloc((size_t)(rep->n > 0 ? rep->n : 1) * sizeof *k);
    size_t n = 0;
    for (int64_t i = 0; k && i < rep->n; i++) {
        const cf_trial *t = &rep->trials[i];
        double f = t->cand.fraction > 0 ? t->cand.fraction : 1;
        double images = (t->epochs_done > 0 ? t->epochs_done : 1) * (f * (double)a->n_train + (double)a->n_val / 3);
        double work = (double)t->cost.macs * images;
        if (t->status == CF_TRIAL_OK && t->train_seconds > 0 && work > 0 && !t->cand.arch.supernet)
            k[n++] = t->train_seconds / work; /* a supernet step is several passes: not a trial's speed */
    }
    double med = 0;
    if (n > 0) {
        qsort(k, n, sizeof *k, cmp_double);
        med = k[n / 2];
    }
    free(k);
    return med;
}

/* A planned final phase (--budget without --retrain-epochs): as many epochs
 * as the budget leaves after the search, at the speed the search measured,
 * less a margin for the test set, the report and the export. The plan is
 * kept in final/plan.json, so a resumed phase trains the same schedule. */
static void plan_epochs(final_run *r, const cf_search_replay *rep) {
    const search_final_args *a = r->a;
    char path[1200];
    snprintf(path, sizeof path, "%s/final/plan.json", a->dir);
    int epochs = 0;
    char *text = NULL;
    cJSON *root = NULL;
    cf_json_reader rd;
    cf_json_reader_init(&rd, path);
    /* no plan yet is the usual case; a damaged one is planned again */
    if (cf_file_read(path, 1 << 16, CF_FILE_NOFOLLOW, &text, NULL) != CF_OK || cf_json_parse(text, path, &root) != CF_OK ||
        cf_json_get_int(&rd, root, "epochs", CF_JSON_REQUIRED, 1, CF_TRAIN_MAX_EPOCHS, &epochs) != CF_OK)
        epochs = 0;
    cJSON_Delete(root);
    free(text);
    cf_error_clear();
    /* an epoch of the largest final network: measured on the CPU, else at the
     * speed per MAC the search's trials showed */
    double k = seconds_per_mac(a, rep), slowest = 0, images = a->fraction * (double)a->n_train + (double)a->n_val / 3;
    const final_job *largest = NULL;
    for (int i = 0; i < r->n_jobs; i++)
        if (!largest || r->jobs[i].trial.cost.macs > largest->trial.cost.macs) largest = &r->jobs[i];
    double ips = largest && epochs <= 0 && a->final_tc
                     ? search_measure_ips(r->space, &largest->trial.cand.arch, a->train, a->final_tc, &a->workers[0],
                                          largest->trial.batch)
                     : 0;
    if (ips > 0) slowest = images / ips;
    else if (largest) slowest = k * (double)largest->trial.cost.macs * images;
    int rounds = (r->n_jobs + a->n_workers - 1) / (a->n_workers > 0 ? a->n_workers : 1);
    /* the test set, the report and the export after the last epoch */
    double left = a->deadline_s * 0.98 - 5 - a->clock0;
    if (epochs <= 0) {
        /* a quarter to spare: a full epoch (batches drawn and augmented, the
         * validation split, the state saved) ran 14% slower than the measured
         * steps in a planned hour; a model the budget stops is tested as it
         * stands, but its schedule did not end */
        epochs = slowest > 0 ? (int)(left / (1.25 * rounds * slowest)) : 1;
        if (epochs < 1) epochs = 1;
        if (epochs > CF_TRAIN_MAX_EPOCHS) epochs = CF_TRAIN_MAX_EPOCHS;
        char json[256];
        snprintf(json, sizeof json, "{\"epochs\": %d, \"seconds_left\": %.1f, \"seconds_per_epoch\": %.2f}\n", epochs,
                 left, slowest);
        if (cf_file_write_atomic(path, json) != CF_OK) CF_LOG_WARN("%s", cf_error_message());
        if (!a->quiet)
            printf("final: %d epoch%s fit the %.0f s left of the --budget (about %.1f s per epoch, %s)\n", epochs,
                   epochs == 1 ? "" : "s", left > 0 ? left : 0, slowest,
                   ips > 0 ? "measured" : "at the search's speed");
    }
    for (int i = 0; i < r->n_jobs; i++) r->jobs[i].trial.cand.epochs = epochs;
    r->epochs = epochs;
}

static void print_plan(const final_run *r, int to_train) {
    int n = r->n_jobs;
    char opts[256] = "";
    if (r->space != r->a->space) {
        snprintf(opts, sizeof opts, " (");
        cf_space_format_options(r->space, opts + 2, sizeof opts - 3);
        strcat(opts, ")");
    }
    printf("final: %d model%s from the front%s, %d epoch%s each, then the test set%s\n", n, n == 1 ? "" : "s", opts,
           r->epochs, r->epochs == 1 ? "" : "s", to_train < n ? " (some done before the resume)" : "");
    for (int i = 0; i < n; i++) {
        const final_job *j = &r->jobs[i];
        printf("  trial %-5lld search val %6.2f%%  %7.1fk params %7.2fM MACs%s\n", (long long)j->trial.id,
               100 * j->search_val, (double)j->trial.cost.params / 1e3, (double)j->trial.cost.macs / 1e6,
               j->done ? "  (done)" : "");
    }
    fflush(stdout);
}

/* The jobs not done yet, one model per worker thread at a time; *test is the
 * test set they share, freed by the caller. */
static int train_jobs(final_run *r, int to_train, cf_dataset **test) {
    const search_final_args *a = r->a;
    if (cf_dataset_load(a->dataset, a->data_dir, "test", test) != CF_OK) return cli_fail("search");
    r->test = *test;
    r->t0 = now_s();
    int nw = a->n_workers < to_train ? a->n_workers : to_train;
    cf_thread th[CF_MAX_WORKERS];
    final_worker fw[CF_MAX_WORKERS];
    int started = 0;
    for (int w = 0; w < nw; w++) {
        fw[w] = (final_worker){r, w};
        if (cf_thread_create(&th[w], "final", worker_main, &fw[w]) != CF_OK) break;
        started++;
    }
    if (started == 0) worker_main(&fw[0]); /* no thread: this one does the work */
    for (int w = 0; w < started; w++) cf_thread_join(&th[w], NULL);
    if (r->err != CF_OK) {
        fprintf(stderr, "cellforge search: final phase: %s\n", r->err_msg);
        fprintf(stderr, "cellforge search: what was done is kept; --resume %s goes on\n", a->dir);
        return EXIT_ERROR;
    }
    return -1;
}

/* The table of final models, and best.cfm linked to the one with the best
 * validation accuracy; EXIT_ERROR when none finished ok. */
static int report_finals(const final_run *r) {
    const final_job *best = NULL;
    printf("final models (%s test set):\n", r->a->dataset);
    for (int i = 0; i < r->n_jobs; i++) {
        const final_job *j = &r->jobs[i];
        /* ok, or stopped by the budget after whole epochs and tested as it stood */
        if (j->status == CF_TRIAL_OK || (j->status == CF_TRIAL_TIMEOUT && j->test_acc >= 0)) {
            printf("  trial %-5lld val %6.2f%%  test %6.2f%%  %7.1fk params %7.2fM MACs  %s%s\n", (long long)j->trial.id,
                   100 * j->val_acc, 100 * j->test_acc, (double)j->trial.cost.params / 1e3,
                   (double)j->trial.cost.macs / 1e6, j->trial.arch,
                   j->status == CF_TRIAL_OK ? "" : "  (stopped by its time limit)");
            if (!best || j->val_acc > best->val_acc) best = j;
        } else {
            printf("  trial %-5lld %s: %s\n", (long long)j->trial.id, cf_trial_status_name(j->status), j->reason);
        }
    }
    if (!best) return EXIT_ERROR;
    link_best(r, best);
    printf("best model: %s/best.cfm (trial %lld: val %.2f%%, test %.2f%%)\n", r->a->dir, (long long)best->trial.id,
           100 * best->val_acc, 100 * best->test_acc);
    return -1;
}

int search_final(const search_final_args *a) {
    if (a->count <= 0) return -1;
    if (a->ev->ops->simulated) {
        printf("final: no retraining with a benchmark table (--retrain needs the train evaluator)\n");
        return -1;
    }
    if (strcmp(a->ev->ops->name, "train") != 0) {
        printf("final: no retraining with the %s evaluator: it trains its own way (the front is in trials.tsv)\n",
               a->ev->ops->name);
        return -1;
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/journal.jsonl", a->dir);
    cf_search_replay rep;
    cf_journal_scan scan = {0};
    final_run r;
    memset(&r, 0, sizeof r);
    r.a = a;
    r.space = a->final_space ? a->final_space : a->space;
    r.ev = a->final_ev ? a->final_ev : a->ev;
    int rc = -1;
    cf_dataset *test = NULL;
    if (cf_search_replay_load(path, a->space, &rep, &scan) != CF_OK) return cli_fail("search");
    int64_t ids[CF_FINAL_MAX];
    int n = select_finals(&rep, a->cfg, a->count < CF_FINAL_MAX ? a->count : CF_FINAL_MAX, ids);
    if (n == 0) {
        printf("final: no trial finished ok; nothing to retrain\n");
        cf_search_replay_free(&rep);
        return -1;
    }
    r.jobs = calloc((size_t)n, sizeof *r.jobs);
    if (!r.jobs || cf_mutex_init(&r.mu) != CF_OK) {
        free(r.jobs);
        cf_search_replay_free(&rep);
        fprintf(stderr, "cellforge search: no memory for the final phase\n");
        return EXIT_ERROR;
    }
    r.n_jobs = n;
    snprintf(path, sizeof path, "%s/final", a->dir);
    if (cf_file_make_dir(path) != CF_OK) {
        rc = cli_fail("search");
        goto exit;
    }
    r.epochs = a->epochs;
    int to_train = prepare_jobs(&r, &rep, ids);
    if (a->epochs <= 0) plan_epochs(&r, &rep);
    print_plan(&r, to_train);
    if (to_train > 0 && (rc = train_jobs(&r, to_train, &test)) >= 0) goto exit;
    rc = report_finals(&r);
exit:
    cf_dataset_destroy(test);
    cf_mutex_destroy(&r.mu);
    free(r.jobs);
    cf_search_replay_free(&rep);
    return rc;
}
