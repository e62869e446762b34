/* test_slot_tuner.c - how many trials a GPU runs at once, sized by measurement
 * (cf_slot_tuner): described throughput curves trial by trial, and searches
 * through the controller with a trainer that slows down when crowded.
 *
 *   ctest -R test_slot_tuner --output-on-failure
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cellforge/log.h"
#include "cellforge/sched.h"
#include "cellforge/thread.h"
#include "check.h"
#include "worker_kit.h"

/* Each finished trial's start and end, to count how many overlapped. */
#define MAX_TRIALS 256
typedef struct spans {
    int n;
    double start[MAX_TRIALS], end[MAX_TRIALS];
} spans;

static int on_event(void *ctx, cf_search_event_kind kind, const cf_trial *t, double clock) {
    (void)clock;
    spans *r = ctx;
    if (kind == CF_EVENT_FINISHED && r->n < MAX_TRIALS) {
        r->start[r->n] = t->start;
        r->end[r->n++] = t->end;
    }
    return 0;
}

static int max_overlap(const spans *r) {
    int best = 0;
    for (int i = 0; i < r->n; i++) {
        int k = 0;
        for (int j = 0; j < r->n; j++) k += r->start[j] <= r->start[i] && r->end[j] > r->start[i];
        if (k > best) best = k;
    }
    return best;
}

static cf_status run_search(const cf_search_config *cfg, const cf_space *s, cf_evaluator *ev,
                            const cf_worker_desc *w, spans *rec, cf_search_summary *sum) {
    cf_strategy_config sc;
    cf_strategy_config_default(&sc);
    sc.seed = cfg->seed;
    cf_strategy *st = NULL;
    CF_TRY(cf_strategy_create("random", s, &sc, &st));
    memset(rec, 0, sizeof *rec);
    cf_search_hooks hooks = {on_event, NULL, rec, NULL};
    cf_status status = cf_search_run(cfg, s, st, ev, w, 1, &hooks, NULL, sum);
    cf_strategy_destroy(st);
    return status;
}

/* A device whose trials of one unit of work take dur[k] seconds when k run at
 * once, at most `fit` of them fitting its memory, simulated trial by trial
 * through a tuner: the limit it settles at. */
static int tuned_limit(const double *dur, int fit, int max, int *probed) {
    cf_slot_tuner t;
    cf_slot_tuner_init(&t, 1, max);
    double start[64], now = 0;
    int running = 0;
    *probed = 1;
    for (int step = 0; step < 2000 && !t.settled; step++) {
        while (running < t.limit && running < fit) {
            start[running++] = now;
            if (running > *probed) *probed = running;
        }
        if (running < t.limit) cf_slot_tuner_short(&t); /* a slot free, no memory */
        /* the oldest trial ends after dur[running] from its start */
        now = start[0] + dur[running];
        double s0 = start[0];
        memmove(start, start + 1, (size_t)(running - 1) * sizeof *start);
        running--;
        cf_slot_tuner_finished(&t, s0, now, 1.0);
    }
    CHECK(t.settled, "the tuner never settled");
    return t.limit;
}

static void test_slot_tuner(void) {
    /* throughput k / dur[k]: rises to 4 trials at once, then falls */
    double peak[17] = {0, 1, 1.05, 1.1, 1.2, 2.0, 3.0, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
    int probed = 0;
    CHECK(tuned_limit(peak, 16, 16, &probed) == 4 && probed == 5, "peak at 4: settled at %d (probed %d)",
          tuned_limit(peak, 16, 16, &probed), probed);
    /* flat past 3: the same work per second with fewer trials in memory */
    double flat[17] = {0, 1, 1, 1, 4.0 / 3, 5.0 / 3, 2, 7.0 / 3, 8.0 / 3, 3, 10.0 / 3, 11.0 / 3, 4, 13.0 / 3, 14.0 / 3, 5, 16.0 / 3};
    CHECK(tuned_limit(flat, 16, 16, &probed) == 3, "flat past 3: settled at %d", tuned_limit(flat, 16, 16, &probed));
    /* always faster together, memory for 2: it stops at the level where memory ran short */
    double free_[17];
    for (int k = 0; k <= 16; k++) free_[k] = 1;
    CHECK(tuned_limit(free_, 2, 16, &probed) == 3 && probed == 2, "memory for 2: settled at %d, %d at once",
          tuned_limit(free_, 2, 16, &probed), probed);
    /* ... and without a memory limit it climbs to its threads */
    CHECK(tuned_limit(free_, 16, 6, &probed) == 6, "no limit but 6 threads: settled at %d",
          tuned_limit(free_, 16, 6, &probed));
    /* fixed limits and untuned workers */
    cf_worker_desc w[2] = {kit_gpu(0, 8 * GB, 8), kit_gpu(1, 8 * GB, 8)};
    w[1].kind = CF_WORKER_CPU;
    w[1].slots = 1;
    cf_slot_tuner t[2];
    for (int i = 0; i < 2; i++) cf_slot_tuner_for(&t[i], &w[i], 0, 1);
    CHECK(t[0].limit == 1 && !t[0].settled && t[1].limit == 1 && t[1].settled, "measured: GPU from 1, CPU fixed at 1");
    for (int i = 0; i < 2; i++) cf_slot_tuner_for(&t[i], &w[i], 3, 1);
    CHECK(t[0].limit == 3 && t[0].settled && t[1].limit == 1, "--slots 3: %d and %d", t[0].limit, t[1].limit);
    for (int i = 0; i < 2; i++) cf_slot_tuner_for(&t[i], &w[i], 0, 0);
    CHECK(t[0].limit == 8 && t[0].settled, "a simulated run keeps the described 8 slots: %d", t[0].limit);
}

/* A trainer whose trial sleeps in proportion to its MACs (20 ms for the
 * first trial's), slower per trial when more than 3 run at once on its
 * device: k at once take k/3 x 1.5 as long from 4 on, so the device finishes
 * the most work with 3. */
typedef struct crowd {
    cf_mutex mu;
    int running;
    double ref_macs;           /* the first trial's: the others' sleeps are scaled to it */
} crowd;

static cf_status crowd_open(void *self, const cf_worker_desc *w, void **state) {
    (void)self, (void)w;
    *state = NULL;
    return CF_OK;
}
static void crowd_close(void *self, void *state) { (void)self, (void)state; }
static cf_status crowd_run(void *self, void *state, const cf_trial_task *task, cf_trial_outcome *out) {
    (void)state;
    crowd *c = self;
    cf_mutex_lock(&c->mu);
    int k = ++c->running;
    if (c->ref_macs <= 0) c->ref_macs = (double)task->trial->cost.macs;
    const double ref = c->ref_macs;
    cf_mutex_unlock(&c->mu);
    double slow = k <= 3 ? 1 : 1.5 * k / 3.0, secs = 0.02 * (double)task->trial->cost.macs / ref * slow;
    struct timespec ts = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
    nanosleep(&ts, NULL);
    cf_mutex_lock(&c->mu);
    c->running--;
    cf_mutex_unlock(&c->mu);
    memset(out, 0, sizeof *out);
    out->status = CF_TRIAL_OK;
    out->val_acc = 0.5;
    out->seconds = secs;
    return CF_OK;
}
static void crowd_destroy(void *self) { (void)self; }

static const cf_evaluator_ops k_crowd_ops = {
    .name = "crowd",
    .open = crowd_open,
    .close = crowd_close,
    .run = crowd_run,
    .destroy = crowd_destroy,
};

/* Through the controller: a described GPU settles at the 3 trials at once that
 * finish the most work, never running more than the 4 it probed; --slots 2
 * holds it at 2. */
static void test_slot_search(const char *space) {
    cf_space *s = NULL;
    CHECK_OK(cf_space_load(space, &s));
    crowd cr = {.running = 0};
    CHECK_OK(cf_mutex_init(&cr.mu));
    cf_evaluator ev = {.ops = &k_crowd_ops, .self = &cr, .input = {1, 28, 28, 10}};
    cf_search_config cfg;
    cf_search_config_default(&cfg);
    cfg.max_trials = 80;
    cfg.batch = 64;
    cf_worker_desc w = kit_gpu(0, 8 * GB, 8);
    w.slots = CF_MAX_SLOTS;
    spans *rec = calloc(1, sizeof *rec);
    cf_search_summary sum;
    CHECK_OK(run_search(&cfg, s, &ev, &w, rec, &sum));
    CHECK(sum.ok == 80 && sum.slots[0] == 3, "measured slots: %d trials at once after %lld trials", sum.slots[0],
          (long long)sum.ok);
    int most = max_overlap(rec);
    CHECK(most <= 4, "at most the 4 it probed ran at once: %d", most);
    cfg.slots = 2;
    cfg.max_trials = 20;
    CHECK_OK(run_search(&cfg, s, &ev, &w, rec, &sum));
    CHECK(sum.slots[0] == 2 && max_overlap(rec) <= 2, "--slots 2: %d, %d at once", sum.slots[0], max_overlap(rec));
    free(rec);
    cf_mutex_destroy(&cr.mu);
    cf_space_destroy(s);
}

int main(int argc, char **argv) {
    cf_log_set_level(CF_LOG_LEVEL_WARN);
    test_slot_tuner();
    test_slot_search(argc > 1 ? argv[1] : "search_spaces/nb201.json");
    return test_finish("test_slot_tuner");
}
