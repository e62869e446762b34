/* controller.c - the search loop.
 *
 * The controller thread asks the strategy, checks hard constraints with the
 * exact cost model, places trials by memory (place.c) and hands one job per
 * replica to the chosen workers' queues in the worker pool (pool.c), whose
 * threads run them through the evaluator and return them on its done queue.
 * The controller never blocks on training: it sleeps only when every device
 * is full or the strategy waits for results.
 *
 * With a simulated evaluator (a benchmark table) the run clock is simulated:
 * a trial starts at the clock of its dispatch and ends after its recorded
 * seconds; the controller waits until every running trial's result is back
 * and completes them in order of simulated end (ties by trial id), so a run
 * is the same whatever the threads' timing. With training, the clock is the
 * wall clock and results are told as they arrive.
 *
 * The time budget: a trial is started only when it can finish in the time
 * left by the estimate of estimate.h, and one running when the budget ends is
 * stopped there; both are recorded as cut and not told, so the strategy still
 * waits for them and a resume with more time runs them first.
 */
#include <errno.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cellforge/backend.h"
#include "cellforge/comm.h"
#include "cellforge/file.h"
#include "cellforge/log.h"
#include "cellforge/sched.h"
#include "cellforge/thread.h"
#include "estimate.h"
#include "pool.h"

void cf_search_config_default(cf_search_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->epochs = 1;
    cfg->batch = 256;
    cfg->min_batch = 16;
    cfg->oom_retries = 3;
    cfg->n_objectives = 1;
    cfg->max_rejects = 10000;
    cfg->latency_reps = 20;
}

/* ---- trials in flight ----------------------------------------------------------- */

typedef struct flight flight;

struct flight {
    cf_trial *t;
    cf_net *net;               /* kept for memory estimates at other batch sizes */
    cf_comm *comm;
    int ranks_left;
    cf_trial_outcome out;      /* rank 0's */
    cf_status st;
    char err[256];
    size_t min_memory;         /* retry only on devices offering more than this; 0: any */
    int done;                  /* every rank is back */
    int lost;                  /* a rank's worker was lost mid-trial: unfinished, not failed */
    double end;                /* run clock at completion */
    char state[512];           /* the trial's training-state file, or "" */
    int continues;             /* replayed after it had started: it goes on from its state */
    int same_slots;            /* replayed onto its recorded workers: into its recorded slots too */
    flight *next;
};

/* ---- the controller -------------------------------------------------------------- */

typedef struct ctl {
    const cf_search_config *cfg;
    const cf_space *space;
    cf_strategy *st;
    cf_evaluator *ev;
    cf_pool s;                 /* the worker threads */
    cf_place_load load[CF_MAX_WORKERS];
    cf_slot_tuner slots[CF_MAX_WORKERS]; /* trials at once on each worker */
    flight *flights;           /* running trials */
    int n_flights;
    flight *ready;             /* proposed or retried, waiting for a place (FIFO) */
    cf_search_hooks hooks;
    cf_search_summary *sum;
    double t0, now;            /* wall time at run clock 0; run clock */
    double wall0;              /* wall time this call started */
    int64_t next_id;
    int stop_proposing;
    cf_estimate est;           /* a trial's seconds, from the ok trials so far */
    int rejects_in_row;
    double overhead;           /* controller wall time outside waits */
    cf_backend *lat_be;        /* one-thread CPU backend for latency measurements, or NULL */
} ctl;

static double run_clock(ctl *c) {
    return c->ev->ops->simulated ? c->now : cf_time_now() - c->t0;
}

static void emit(ctl *c, cf_search_event_kind kind, const cf_trial *t) {
    if (c->hooks.on_event && c->hooks.on_event(c->hooks.ctx, kind, t, run_clock(c))) c->stop_proposing = 1;
}

static void flight_free(flight *f) {
    if (!f) return;
    cf_net_destroy(f->net);
    cf_comm_destroy(f->comm);
    if (f->t) free(f->t->curve);
    free(f->t);
    free(f);
}

static void outcome_for_strategy(const ctl *c, const cf_trial *t, cf_outcome *o) {
    memset(o, 0, sizeof *o);
    o->metrics = t->metrics;
    o->status = t->status == CF_TRIAL_OK ? CF_OUTCOME_OK
                : t->status == CF_TRIAL_REJECTED ? CF_OUTCOME_REJECTED
                                                 : CF_OUTCOME_FAILED;
    /* a timed-out trial that learned something still says how good it is */
    if (t->status == CF_TRIAL_TIMEOUT && t->val_acc >= 0) o->status = CF_OUTCOME_OK;
    o->val_acc = t->val_acc;
    o->epochs = t->epochs_done;
    o->seconds = t->train_seconds;
    o->n_objectives = c->cfg->n_objectives;
    for (int k = 0; k < c->cfg->n_objectives && k < CF_MAX_OBJECTIVES; k++)
        o->objective[k] = cf_trial_objective(c->cfg, t, k);
}

/* Count a trial's end in the summary. */
static void tally(ctl *c, const cf_trial *t) {
    cf_search_summary *sum = c->sum;
    if (t->status == CF_TRIAL_REJECTED) {
        sum->rejected++;
    } else {
        sum->finished++;
        if (t->status == CF_TRIAL_OK) {
            sum->ok++;
            /* a supernet is no model to keep, and its time says nothing of a trial's */
            if (!t->cand.arch.supernet) cf_estimate_add(&c->est, t);
            if (t->val_acc > sum->best_val_acc && !t->cand.arch.supernet) {
                sum->best_val_acc = t->val_acc;
                sum->best_trial = t->id;
            }
        } else {
            sum->failed++;
        }
    }
}

/* Record a trial's end: summary, event, strategy. Frees the flight. */
static void finish(ctl *c, flight *f) {
    cf_trial *t = f->t;
    t->end = f->end;
    tally(c, t);
    emit(c, t->status == CF_TRIAL_REJECTED ? CF_EVENT_REJECTED : CF_EVENT_FINISHED, t);
    cf_outcome o;
    outcome_for_strategy(c, t, &o);
    cf_strategy_tell(c->st, t->id, &t->cand, &o);
    flight_free(f);
}

/* Record a trial cut by the budget: counted apart and not told (the strategy
 * still waits for it; a resume runs it again). Frees the flight. */
static void cut(ctl *c, flight *f) {
    cf_trial *t = f->t;
    t->status = CF_TRIAL_CUT;
    t->val_acc = -1;
    t->end = f->end;
    c->sum->cut++;
    emit(c, CF_EVENT_CUT, t);
    flight_free(f);
}

/* A trial that cannot finish in the time left is not started: cut, and no new
 * trial is proposed after it. 1 when f was cut (and freed). A replayed trial
 * that goes on from its state has an unknown part left: only a spent budget
 * stops it here, its time limit does the rest. */
static int cut_if_late(ctl *c, flight *f) {
    const double budget = c->cfg->time_budget_s;
    if (budget <= 0) return 0;
    cf_trial *t = f->t;
    double now = run_clock(c), left = budget - now;
    double need = f->continues ? 0 : cf_estimate_seconds(&c->est, t);
    if (left > 0 && need <= left) return 0;
    if (left < 0) left = 0;
    if (need > 0) /* decimals where whole seconds would read the same */
        snprintf(t->reason, sizeof t->reason, "not started: about %.*f s needed, %.*f s left",
                 need < 1 ? 2 : need < 10 ? 1 : 0, need, left < 1 ? 2 : left < 10 ? 1 : 0, left);
    else
        snprintf(t->reason, sizeof t->reason, "not started: the time budget is spent");
    f->end = now;
    if (t->attempts == 0) t->start = now;
    t->replicas = 0; /* not running anywhere */
    c->stop_proposing = 1;
    cut(c, f);
    return 1;
}

static void fail_now(ctl *c, flight *f, cf_trial_status status, const char *reason) {
    f->t->status = status;
    snprintf(f->t->reason, sizeof f->t->reason, "%.250s", reason);
    f->end = run_clock(c);
    if (f->t->start == 0) f->t->start = f->end;
    finish(c, f);
}

/* Memory per replica at k replicas for the trial's batch. */
static void needs(ctl *c, flight *f, size_t *need, int all) {
    const int n = c->s.n, B = f->t->batch;
    need[0] = 0;
    /* the cost model planned the activations at this batch already */
    need[1] = f->t->cost.batch == B ? cf_trial_memory_act(f->net, B, c->ev->with_aux, f->t->cost.activation_bytes)
                                    : cf_trial_memory(f->net, B, c->ev->with_aux);
    for (int k = 2; k <= n; k++) need[k] = all ? cf_trial_memory(f->net, (B + k - 1) / k, c->ev->with_aux) : SIZE_MAX;
}

/* Place f now (1), not yet (0), or never at its batch (-1). */
static int try_place(ctl *c, flight *f, cf_place *p) {
    const int n = c->s.n;
    cf_worker_desc w[CF_MAX_WORKERS];
    int largest = 0;
    for (int i = 0; i < n; i++) {
        w[i] = c->s.w[i].desc;
        w[i].slots = c->slots[i].limit;
        if (f->min_memory && w[i].memory <= f->min_memory) w[i].slots = 0; /* retry elsewhere */
    }
    size_t need[CF_MAX_WORKERS + 1];
    needs(c, f, need, 0);
    for (int i = 0; i < n; i++)
        if (w[i].slots > 0 && w[i].memory >= need[1]) largest = 1;
    if (!largest || c->cfg->replicas > 1) needs(c, f, need, 1);
    f->t->memory = need[1];
    *p = cf_place_decide(w, c->load, n, need, c->cfg->replicas, c->cfg->span_ranks);
    if (p->verdict == CF_PLACE_OK && p->count > 1) f->t->memory = need[p->count];
    if (p->verdict == CF_PLACE_WAIT) cf_slot_tuners_waited(c->slots, w, c->load, n, need[1]);
    return p->verdict == CF_PLACE_OK ? 1 : p->verdict == CF_PLACE_WAIT ? 0 : -1;
}

/* Start f on p's workers at run clock `start` (< 0: now). */
static cf_status dispatch(ctl *c, flight *f, const cf_place *p, double start) {
    cf_trial *t = f->t;
    t->replicas = p->count;
    t->attempts++;
    t->status = CF_TRIAL_RUNNING;
    t->start = start >= 0 ? start : run_clock(c);
    if (c->hooks.state_dir && !f->state[0]) {
        char dir[512];
        snprintf(dir, sizeof dir, "%.480s/%lld", c->hooks.state_dir, (long long)t->id);
        if (cf_file_make_dir(dir) == CF_OK) /* a symlink there is refused, not followed */
            snprintf(f->state, sizeof f->state, "%.480s/train.cfs", dir);
        else
            CF_LOG_WARN("trial %lld: %s; it runs without epoch checkpoints", (long long)t->id, cf_error_message());
    }
    /* a retried trial's old communicator was aborted with its failure */
    cf_comm_destroy(f->comm);
    f->comm = NULL;
    if (p->count > 1) {
        /* a group with workers of other ranks is the ranks' evaluator's (rank 0 forwards them) */
        const cf_worker_desc *descs[CF_MAX_WORKERS];
        int remote = 0;
        for (int r = 0; r < p->count; r++) remote |= (descs[r] = &c->s.w[p->workers[r]].desc)->rank != 0;
        void *comm = NULL;
        if (remote && !c->ev->ops->group_comm)
            CF_FAIL(CF_ERR_INVALID_ARG, "scheduler: a data-parallel group over MPI ranks needs the ranks' evaluator");
        if (remote) CF_TRY(c->ev->ops->group_comm(c->ev->self, descs, p->count, &comm));
        else CF_TRY(cf_pool_group_comm(&c->s, p->workers, p->count, (cf_comm **)&comm));
        f->comm = comm;
    }
    f->ranks_left = p->count;
    f->done = 0;
    f->lost = 0;
    f->st = CF_OK;
    double limit = 0;
    if (c->cfg->time_budget_s > 0 && !c->ev->ops->simulated) {
        /* what is left of the budget: nothing starts without time left
         * (cut_if_late), the floor only keeps the limit a limit (0 is none) */
        limit = c->cfg->time_budget_s - t->start;
        if (limit < 0.01) limit = 0.01;
    }
    cf_pool_job *jobs[CF_MAX_WORKERS];
    for (int r = 0; r < p->count; r++) {
        cf_pool_job *j = calloc(1, sizeof *j);
        if (!j) {
            for (int k = 0; k < r; k++) free(jobs[k]);
            CF_FAIL(CF_ERR_OUT_OF_MEMORY, "scheduler: no memory for a job");
        }
        int wi = p->workers[r];
        t->workers[r] = wi;
        t->slots[r] = cf_pool_slot_take(&c->s, wi, f->same_slots ? t->slots[r] : -1);
        if (r == 0) t->rank = c->s.w[wi].desc.rank; /* where the trial runs, for the journal */
        if (r == 0) snprintf(t->host, sizeof t->host, "%s", c->s.w[wi].desc.host);
        j->owner = f;
        j->rank = r;
        j->worker = wi;
        j->slot = t->slots[r];
        j->task = (cf_trial_task){
            .trial = t,
            .net = f->net,
            .worker = &c->s.w[wi].desc,
            .slot = t->slots[r],
            .rank = r,
            .replicas = p->count,
            .comm = f->comm,
            .time_limit_s = limit,
            .checkpoint = f->state[0] ? f->state : NULL,
            .on_epoch = c->hooks.on_epoch,
            .epoch_ctx = c->hooks.ctx,
        };
        jobs[r] = j;
        c->load[wi].used += t->memory;
        c->load[wi].running++;
    }
    f->same_slots = 0; /* a retry takes whatever slot is free */
    f->next = c->flights;
    c->flights = f;
    c->n_flights++;
    c->sum->dispatched += t->attempts == 1;
    emit(c, CF_EVENT_STARTED, t);
    cf_pool_submit(&c->s, jobs, p->count);
    return CF_OK;
}

/* A trial record for candidate cand with its network and cost. NULL with *err
 * set only when memory runs out; a network that cannot be built comes back
 * with *build_st set (the trial then ends as an error). */
static flight *new_flight(ctl *c, int64_t id, const cf_candidate *cand, int measure, cf_status *err,
                          cf_status *build_st) {
    const cf_search_config *cfg = c->cfg;
    flight *f = calloc(1, sizeof *f);
    cf_trial *t = calloc(1, sizeof *t);
    if (!f || !t) {
        free(f);
        free(t);
        *err = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "controller: no memory for a trial");
        return NULL;
    }
    f->t = t;
    t->id = id;
    t->cand = *cand;
    /* a space that searches epochs or batch gives each arch its own */
    if (t->cand.epochs <= 0) t->cand.epochs = (int)cf_arch_hparam(c->space, &cand->arch, "epochs", cfg->epochs);
    if (t->cand.fraction <= 0) t->cand.fraction = cfg->fraction > 0 && cfg->fraction < 1 ? cfg->fraction : 1;
    t->batch = (int)cf_arch_hparam(c->space, &cand->arch, "batch", cfg->batch);
    t->val_acc = -1;
    t->latency_ms = -1;
    t->proxy = NAN;
    t->status = CF_TRIAL_PENDING;
    /* never an empty arch in the journal: a text that does not fit ends the search */
    *err = cf_arch_format(c->space, &cand->arch, t->arch, sizeof t->arch);
    if (*err != CF_OK) {
        free(f);
        free(t);
        return NULL;
    }
    *build_st = cf_net_build(c->space, &cand->arch, &c->ev->input, &f->net);
    if (*build_st == CF_OK) *build_st = cf_cost_of_net(f->net, t->batch, c->ev->with_aux, &t->cost);
    measure &= !cand->arch.supernet; /* a supernet is trained, not deployed */
    if (*build_st == CF_OK && c->lat_be && measure)
        *build_st = cf_latency_measure_net(f->net, c->lat_be, cfg->latency_reps, &t->latency_ms);
    if (*build_st == CF_OK && cfg->proxy.fn && measure) *build_st = cfg->proxy.fn(cfg->proxy.ctx, &cand->arch, &t->proxy);
    return f;
}

/* A proposed trial's admission, the same for a new proposal and for one a
 * resumed journal left pending: a network that cannot be built ends it as an
 * error, one that breaks a hard constraint is rejected (both recorded, and
 * f freed); 1 when it may be placed. */
static int admit(ctl *c, flight *f, cf_status build_st) {
    if (build_st != CF_OK) {
        fail_now(c, f, CF_TRIAL_ERROR, cf_error_message());
        return 0;
    }
    char why[256] = "";
    if (!f->t->cand.arch.supernet) cf_trial_constraint_broken(c->cfg, f->t, why, sizeof why); /* it holds every arch */
    if (why[0]) {
        if (++c->rejects_in_row >= c->cfg->max_rejects) {
            CF_LOG_WARN("search: %d proposals in a row broke the constraints; no more proposals",
                        c->rejects_in_row);
            c->stop_proposing = 1;
        }
        fail_now(c, f, CF_TRIAL_REJECTED, why);
        return 0;
    }
    c->rejects_in_row = 0;
    return 1;
}

/* Ask the strategy for one new trial; NULL when it has none now. *again is set
 * when the proposal ended at once (rejected, or its network cannot be built):
 * the caller asks again. */
static flight *propose(ctl *c, cf_status *err, int *again) {
    *again = 0;
    *err = CF_OK;
    const cf_search_config *cfg = c->cfg;
    if (c->stop_proposing) return NULL;
    /* the trial budget counts every proposal that passed the constraints */
    if (cfg->max_trials > 0 && c->sum->proposed - c->sum->rejected >= cfg->max_trials) return NULL;
    if (cfg->time_budget_s > 0 && run_clock(c) >= cfg->time_budget_s) return NULL;
    cf_candidate cand;
    cf_ask_result r = cf_strategy_ask(c->st, c->next_id, &cand);
    if (r == CF_ASK_DONE) c->stop_proposing = 1;
    if (r != CF_ASK_OK) return NULL;
    cf_status build_st = CF_OK;
    flight *f = new_flight(c, c->next_id++, &cand, 1, err, &build_st);
    if (!f) return NULL;
    c->sum->proposed++;
    emit(c, CF_EVENT_PROPOSED, f->t);
    if (!admit(c, f, build_st)) {
        *again = 1;
        return NULL;
    }
    return f;
}

/* Out of memory (in placement or at run time): a device with more room, a smaller
 * batch, or the end. Returns 1 when f goes back to the ready queue. */
static int retry_oom(ctl *c, flight *f, int ran, size_t ran_on_memory) {
    cf_trial *t = f->t;
    /* --oom-retries bounds every retry of a trial, after a run or at placement */
    if (t->retries >= c->cfg->oom_retries) return 0;
    if (ran) {
        for (int i = 0; i < c->s.n; i++)
            if (c->s.w[i].desc.memory > ran_on_memory) {
                f->min_memory = ran_on_memory;
                t->retries++;
                c->sum->retries++;
                return 1;
            }
    }
    if (t->batch / 2 < c->cfg->min_batch || t->batch / 2 < 1) return 0;
    t->batch /= 2;
    /* a state saved at the old batch cannot continue at the new one */
    if (f->state[0]) unlink(f->state);
    f->continues = 0;
    f->min_memory = 0;
    t->retries++;
    c->sum->retries++;
    CF_LOG_INFO("trial %lld: out of memory, retrying with batch %d", (long long)t->id, t->batch);
    return 1;
}

static void release(ctl *c, flight *f) {
    for (int r = 0; r < f->t->replicas; r++) {
        int wi = f->t->workers[r];
        c->load[wi].used -= f->t->memory;
        c->load[wi].running--;
        cf_pool_slot_give(&c->s, wi, f->t->slots[r]);
        c->sum->busy_s[wi] += f->end - f->t->start;
    }
    flight **pp = &c->flights;
    while (*pp != f) pp = &(*pp)->next;
    *pp = f->next;
    c->n_flights--;
}

/* A flight whose ranks are all back: record, retry or fail. */
static cf_status complete(ctl *c, flight *f) {
    release(c, f);
    cf_trial *t = f->t;
    c->now = f->end > c->now ? f->end : c->now;
    if (f->st != CF_OK) {
        /* the evaluator broke (e.g. a device that cannot train): stop the
         * search; a trial whose worker was lost is cut, so a resume runs it */
        char msg[300];
        snprintf(msg, sizeof msg, "%s", f->err);
        if (f->lost) {
            snprintf(t->reason, sizeof t->reason, "%.250s", msg);
            free(f->out.curve);
            f->out.curve = NULL;
            cut(c, f);
        } else {
            fail_now(c, f, CF_TRIAL_ERROR, msg);
        }
        CF_FAIL(CF_ERR_DEVICE, "%s", msg);
    }
    cf_trial_outcome *o = &f->out;
    if (o->status == CF_TRIAL_OOM) {
        size_t ran_on = 0;
        for (int r = 0; r < t->replicas; r++)
            if (c->s.w[t->workers[r]].desc.memory > ran_on) ran_on = c->s.w[t->workers[r]].desc.memory;
        free(o->curve);
        o->curve = NULL;
        if (retry_oom(c, f, 1, ran_on)) {
            t->status = CF_TRIAL_PENDING;
            emit(c, CF_EVENT_RETRY, t);
            f->next = c->ready;   /* retries go first */
            c->ready = f;
            return CF_OK;
        }
    }
    t->status = o->status;
    snprintf(t->reason, sizeof t->reason, "%s", o->reason);
    if (t->status == CF_TRIAL_OOM)
        snprintf(t->reason, sizeof t->reason, "out of memory after %d attempts (last batch %d): %.150s", t->attempts,
                 t->batch, o->reason);
    t->val_acc = o->val_acc;
    t->epochs_done = o->epochs_done;
    t->train_seconds = o->seconds;
    snprintf(t->metrics, sizeof t->metrics, "%s", o->metrics);
    free(t->curve);
    t->curve = o->curve;
    o->curve = NULL;
    cf_trial_chance_cause(c->space, c->ev->input.classes, t, t->reason, sizeof t->reason);
    const int wi = t->workers[0];
    if (t->status == CF_TRIAL_OK && t->replicas == 1) /* how many trials at once suit the device */
        cf_slot_tuner_tell(&c->slots[wi], c->s.w[wi].desc.name, t->start, f->end, cf_trial_work(t));
    if (t->status == CF_TRIAL_CUT) cut(c, f);
    else finish(c, f);
    return CF_OK;
}

/* Take the finished jobs off the done queue into their flights. */
static void collect(ctl *c, cf_pool_job *list) {
    while (list) {
        cf_pool_job *j = list;
        list = j->next;
        flight *f = j->owner;
        if (j->st != CF_OK && f->st == CF_OK) {
            f->st = j->st;
            snprintf(f->err, sizeof f->err, "%s: %.200s", c->s.w[j->worker].desc.name, j->err);
        }
        f->lost |= j->st != CF_OK && j->out.status == CF_TRIAL_CUT;
        if (j->rank == 0) f->out = j->out;
        else free(j->out.curve);
        if (--f->ranks_left == 0) {
            f->done = 1;
            if (c->ev->ops->simulated) {
                double secs = f->out.seconds;
                f->end = f->t->start + secs;
                /* a trial that would end past the budget is cut at the budget */
                if (c->cfg->time_budget_s > 0 && f->end > c->cfg->time_budget_s && f->st == CF_OK &&
                    f->out.status != CF_TRIAL_OOM) {
                    f->end = c->cfg->time_budget_s > f->t->start ? c->cfg->time_budget_s : f->t->start;
                    f->out.status = CF_TRIAL_CUT;
                    f->out.val_acc = -1;
                    f->out.epochs_done = 0; /* the table knows only whole trainings */
                    f->out.seconds = f->end - f->t->start;
                    snprintf(f->out.reason, sizeof f->out.reason, "the time budget ended during training");
                }
            } else {
                f->end = cf_time_now() - c->t0;
                /* the trial's time limit was what was left of the budget */
                if (c->cfg->time_budget_s > 0 && f->out.status == CF_TRIAL_TIMEOUT &&
                    f->end >= c->cfg->time_budget_s - 0.5) {
                    char why[sizeof f->out.reason];
                    snprintf(why, sizeof why, "%s", f->out.reason);
                    f->out.status = CF_TRIAL_CUT;
                    snprintf(f->out.reason, sizeof f->out.reason, "the time budget ended during training (%.200s)",
                             why);
                }
            }
        }
        free(j);
    }
}

/* Wait for the next completion and handle it. */
static cf_status wait_one(ctl *c) {
    double tw = cf_time_now();
    const int need_all = c->ev->ops->simulated;
    for (;;) {
        /* what came back while the controller worked first, then wait for more */
        cf_pool_job *list;
        while ((list = cf_pool_take(&c->s, 0)) != NULL) collect(c, list);
        int all = 1, any = 0;
        for (flight *f = c->flights; f; f = f->next) {
            all &= f->done;
            any |= f->done;
        }
        if (need_all ? all : any) break;
        collect(c, cf_pool_take(&c->s, 1));
    }
    c->overhead -= cf_time_now() - tw;
    /* the earliest end (simulated), or any done one (wall) */
    flight *best = NULL;
    for (flight *f = c->flights; f; f = f->next) {
        if (!f->done) continue;
        if (!best || f->end < best->end || (f->end == best->end && f->t->id < best->t->id)) best = f;
    }
    return complete(c, best);
}

/* Place what is ready; returns when nothing more can start now. */
static cf_status fill(ctl *c) {
    for (;;) {
        if (!c->ready) {
            cf_status err;
            int again;
            flight *f = propose(c, &err, &again);
            CF_TRY(err);
            if (again) continue;
            /* nothing to propose now; with nothing in flight either the search is over
             * (a strategy waiting on results that will never come included) */
            if (!f) return CF_OK;
            c->ready = f;
        }
        flight *f = c->ready;
        cf_place p;
        int v = try_place(c, f, &p);
        if (v == 0) return CF_OK; /* wait for room */
        c->ready = f->next;
        f->next = NULL;
        if (v < 0) {
            size_t need = f->t->memory;
            int ran_before = f->t->attempts > 0;
            if (retry_oom(c, f, 0, 0)) {
                emit(c, CF_EVENT_RETRY, f->t);
                f->next = c->ready;
                c->ready = f;
                continue;
            }
            size_t largest = 0;
            for (int i = 0; i < c->s.n; i++)
                if (c->s.w[i].desc.memory > largest) largest = c->s.w[i].desc.memory;
            char why[256];
            snprintf(why, sizeof why,
                     "out of memory: needs %.1f MiB per device at batch %d%s; the largest device offers %.1f MiB",
                     (double)need / 1048576.0, f->t->batch, ran_before ? " after a failed run" : "",
                     (double)largest / 1048576.0);
            fail_now(c, f, CF_TRIAL_OOM, why);
            continue;
        }
        if (cut_if_late(c, f)) continue;
        CF_TRY(dispatch(c, f, &p, -1));
    }
}

/* ---- resuming ------------------------------------------------------------------- */

static uint64_t candidate_key(ctl *c, const cf_candidate *cand) {
    cf_arch canon;
    cf_arch_canonical(c->space, &cand->arch, &canon);
    int epochs = cand->epochs > 0 ? cand->epochs : (int)cf_arch_hparam(c->space, &cand->arch, "epochs", c->cfg->epochs);
    return cf_arch_hash(c->space, &canon) ^ (0x9E3779B97F4A7C15ull * (uint64_t)epochs);
}

/* A recorded proposal's admission as the journal shows it: 1 passed the
 * constraints, 0 did not (rejected, or its network could not be built: an error
 * before any attempt), -1 not known yet (pending and never placed: resuming
 * admits it again). */
static int replay_admitted(const cf_search_replay *r, int64_t i) {
    const cf_trial *rt = &r->trials[i];
    if (rt->status == CF_TRIAL_REJECTED) return 0;
    if (rt->status == CF_TRIAL_ERROR && rt->attempts == 0) return 0;
    if (rt->status == CF_TRIAL_PENDING && !r->started[i] && rt->attempts == 0 && rt->retries == 0) return -1;
    return 1;
}

/* Bring the strategy, the summary and the count of rejections in a row to
 * where the journal ends, asking and telling in the recorded order. */
static cf_status replay_steps(ctl *c, const cf_search_replay *r) {
    for (int64_t k = 0; k < r->n_steps; k++) {
        const cf_trial *rt = &r->trials[r->steps[k].trial];
        if (!r->steps[k].tell) {
            cf_candidate cand;
            cf_ask_result a = cf_strategy_ask(c->st, rt->id, &cand);
            if (a != CF_ASK_OK || candidate_key(c, &cand) != candidate_key(c, &rt->cand)) {
                char now[CF_ARCH_TEXT_MAX] = "nothing";
                if (a == CF_ASK_OK) cf_arch_format(c->space, &cand.arch, now, sizeof now);
                CF_FAIL(CF_ERR_INVALID_ARG,
                        "resume: trial %lld: the strategy now proposes %.300s where the journal records %.300s; "
                        "the spec, the space file or the cellforge version changed since the run started",
                        (long long)rt->id, now, rt->arch);
            }
            c->sum->proposed++;
            if (replay_admitted(r, rt->id) == 1) c->rejects_in_row = 0;
        } else {
            tally(c, rt);
            if (rt->status == CF_TRIAL_REJECTED && ++c->rejects_in_row >= c->cfg->max_rejects) c->stop_proposing = 1;
            if (rt->status != CF_TRIAL_REJECTED) c->sum->dispatched++;
            for (int w = 0; w < rt->replicas && rt->status != CF_TRIAL_REJECTED; w++)
                if (rt->workers[w] >= 0 && rt->workers[w] < c->s.n) c->sum->busy_s[rt->workers[w]] += rt->end - rt->start;
            cf_outcome o;
            outcome_for_strategy(c, rt, &o);
            cf_strategy_tell(c->st, rt->id, &rt->cand, &o);
        }
    }
    return CF_OK;
}

/* Bring the search to where the journal ends, then restart the trials that had
 * not finished. A proposal the journal leaves pending before its admission goes
 * through the same admission as a new one (constraints, a network that cannot be
 * built), so the record equals an uninterrupted run's. */
static cf_status replay_apply(ctl *c, const cf_search_replay *r) {
    CF_TRY(replay_steps(c, r));
    c->next_id = r->n;
    c->sum->retries = r->retries;
    c->now = r->clock;
    c->t0 = cf_time_now() - r->clock;
    flight **tail = &c->ready;
    for (int64_t i = 0; i < r->n; i++) {
        const cf_trial *rt = &r->trials[i];
        /* cut by the budget: asked, never told, run again like an interrupted trial */
        if (rt->status != CF_TRIAL_PENDING && rt->status != CF_TRIAL_RUNNING && rt->status != CF_TRIAL_CUT) continue;
        cf_status err = CF_OK, build_st = CF_OK;
        flight *f = new_flight(c, rt->id, &rt->cand, 0, &err, &build_st);
        CF_TRY(err);
        f->t->latency_ms = rt->latency_ms; /* as measured then: the strategy was told that */
        f->t->proxy = rt->proxy;
        if ((replay_admitted(r, i) < 0 || build_st != CF_OK) && !admit(c, f, build_st)) continue;
        cf_trial *t = f->t;
        t->batch = rt->batch > 0 ? rt->batch : t->batch;
        t->attempts = rt->attempts > 0 && r->started[i] ? rt->attempts - 1 : rt->attempts;
        t->retries = rt->retries;
        f->continues = r->started[i];
        int placed = 1;
        for (int k = 0; k < rt->replicas; k++) placed &= rt->workers[k] >= 0 && rt->workers[k] < c->s.n;
        if (r->started[i] && c->ev->ops->simulated && rt->replicas > 0 && placed) {
            /* the simulated clock goes on exactly: same workers, same start */
            cf_place p;
            memset(&p, 0, sizeof p);
            p.verdict = CF_PLACE_OK;
            p.count = rt->replicas;
            memcpy(p.workers, rt->workers, sizeof p.workers);
            memcpy(t->slots, rt->slots, sizeof t->slots); /* and the same slots */
            f->same_slots = 1;
            t->memory = rt->memory;
            CF_TRY(dispatch(c, f, &p, rt->start));
        } else {
            *tail = f;
            tail = &f->next;
        }
    }
    return CF_OK;
}

cf_status cf_search_run(const cf_search_config *cfg, const cf_space *s, cf_strategy *st, cf_evaluator *ev,
                        const cf_worker_desc *workers, int n_workers, const cf_search_hooks *hooks,
                        const cf_search_replay *replay, cf_search_summary *sum) {
    memset(sum, 0, sizeof *sum);
    sum->best_trial = -1;
    sum->best_val_acc = -1;
    if (n_workers < 1 || n_workers > CF_MAX_WORKERS)
        CF_FAIL(CF_ERR_INVALID_ARG, "search: %d workers (1..%d)", n_workers, CF_MAX_WORKERS);
    if (cfg->batch < 1 || cfg->epochs < 1) CF_FAIL(CF_ERR_INVALID_ARG, "search: batch and epochs must be positive");
    ctl *c = calloc(1, sizeof *c);
    if (!c) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "search: no memory");
    c->cfg = cfg;
    c->space = s;
    c->st = st;
    c->ev = ev;
    if (hooks) c->hooks = *hooks;
    c->sum = sum;
    c->t0 = c->wall0 = cf_time_now();
    cf_estimate_init(&c->est, cfg->est_s_per_work);
    sum->workers = n_workers;
    cf_status status = CF_OK;
    int latency = cfg->limit[CF_LIMIT_LATENCY] > 0;
    for (int k = 1; k < cfg->n_objectives && k < CF_MAX_OBJECTIVES; k++) latency |= cfg->objectives[k] == CF_LIMIT_LATENCY;
    /* measured on one thread of the controller, the same way for every trial */
    if (latency) status = cf_backend_cpu_fast_create(1, &c->lat_be);
    if (status == CF_OK) status = cf_pool_start(&c->s, ev, workers, n_workers);
    for (int i = 0; status == CF_OK && i < n_workers; i++) /* each worker's threads, as the pool clamped them */
        cf_slot_tuner_for(&c->slots[i], &c->s.w[i].desc, cfg->slots, !ev->ops->simulated);
    if (status == CF_OK && replay) status = replay_apply(c, replay);
    if (status == CF_OK) {
        for (;;) {
            double tf = cf_time_now();
            status = fill(c);
            c->overhead += cf_time_now() - tf;
            if (status != CF_OK || c->n_flights == 0) break;
            tf = cf_time_now();
            status = wait_one(c);
            c->overhead += cf_time_now() - tf;
            if (status != CF_OK) break;
        }
    }
    /* on an error, let running trials come back before the threads stop */
    while (c->n_flights > 0) {
        for (flight *f = c->flights, *next; f; f = next) {
            next = f->next;
            if (f->done) {
                release(c, f);
                free(f->out.curve);
                flight_free(f);
            }
        }
        if (c->n_flights == 0) break;
        collect(c, cf_pool_take(&c->s, 1));
    }
    cf_pool_stop(&c->s);
    while (c->ready) {
        flight *f = c->ready;
        c->ready = f->next;
        flight_free(f);
    }
    sum->clock_s = run_clock(c);
    sum->wall_s = cf_time_now() - c->wall0;
    sum->controller_s = c->overhead;
    for (int i = 0; i < n_workers; i++) sum->slots[i] = c->slots[i].limit;
    sum->est_s_per_work = cf_estimate_per_work(&c->est);
    cf_estimate_free(&c->est);
    cf_backend_cpu_fast_destroy(c->lat_be);
    free(c);
    return status;
}
