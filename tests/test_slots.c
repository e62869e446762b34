/* test_slots.c - the slots of a worker: each trial a worker runs at once gets
 * a slot of its own, the pool runs it on that slot's thread, the journal
 * records it ("slots" beside "workers") and a resumed search puts a trial that
 * was running back into its slot, so the record equals an uninterrupted run's.
 *
 *   ctest -R test_slots --output-on-failure
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cellforge/journal.h"
#include "cellforge/log.h"
#include "cellforge/sched.h"
#include "cellforge/thread.h"
#include "check.h"
#include "worker_kit.h"

static const char *k_space =
    "{\"name\": \"tiny\", \"family\": \"nb201\", \"cell\": {\"nodes\": 4, \"ops\": ["
    "{\"name\": \"none\", \"prim\": \"zero\"}, {\"name\": \"skip_connect\", \"prim\": \"identity\"},"
    "{\"name\": \"nor_conv_3x3\", \"prim\": \"relu_conv_bn\", \"kernel\": 3}]},"
    " \"skeleton\": {\"options\": {\"C\": {\"default\": 4, \"min\": 1, \"max\": 64, \"integer\": true},"
    " \"N\": {\"default\": 1, \"min\": 1, \"max\": 8, \"integer\": true}}}}";

static char dir[512];

/* ---- an evaluator that notes where each trial ran ---------------------------------- */

#define MAX_RUNS 256

typedef struct seen {
    cf_mutex mu;
    int n, simulated;
    int64_t id[MAX_RUNS];
    int worker[MAX_RUNS], slot[MAX_RUNS], thread_slot[MAX_RUNS], recorded_slot[MAX_RUNS];
    double t0[MAX_RUNS], t1[MAX_RUNS];
} seen;

static cf_status note_open(void *self, const cf_worker_desc *w, void **state) {
    (void)self, (void)w;
    *state = NULL;
    return CF_OK;
}
static void note_close(void *self, void *state) { (void)self, (void)state; }
static void note_destroy(void *self) { (void)self; }

/* A trained one sleeps a little, so the trials of a worker overlap; a
 * simulated one takes seconds that depend on its id. */
static cf_status note_run(void *self, void *state, const cf_trial_task *task, cf_trial_outcome *out) {
    (void)state;
    seen *s = self;
    char name[16] = "";
    pthread_getname_np(pthread_self(), name, sizeof name); /* "cuda:0/3": the pool's thread of slot 3 */
    const char *slash = strrchr(name, '/');
    double t0 = cf_time_now();
    if (!s->simulated) nanosleep(&(struct timespec){0, 25 * 1000 * 1000}, NULL);
    cf_mutex_lock(&s->mu);
    if (s->n < MAX_RUNS) {
        int i = s->n++;
        s->id[i] = task->trial->id;
        s->worker[i] = task->worker->index;
        s->slot[i] = task->slot;
        s->recorded_slot[i] = task->trial->slots[task->rank];
        s->thread_slot[i] = slash ? atoi(slash + 1) : -1;
        s->t0[i] = t0;
        s->t1[i] = cf_time_now();
    }
    cf_mutex_unlock(&s->mu);
    memset(out, 0, sizeof *out);
    out->status = CF_TRIAL_OK;
    out->val_acc = 0.5 + 0.001 * (double)(task->trial->id % 97);
    out->seconds = s->simulated ? 3.0 + (double)((task->trial->id * 7) % 5) : cf_time_now() - t0;
    return CF_OK;
}

static cf_evaluator_ops k_note_ops = {
    .name = "note",
    .open = note_open,
    .close = note_close,
    .run = note_run,
    .destroy = note_destroy,
};

/* Journal hook: every event as a line. */
static int to_journal(void *ctx, cf_search_event_kind kind, const cf_trial *t, double clock) {
    CHECK_OK(cf_journal_event(ctx, kind, t, clock));
    return 0;
}

static cf_status search(const cf_space *s, cf_evaluator *ev, const cf_worker_desc *w, int n, int trials,
                        const char *journal, const cf_search_replay *replay, size_t keep, int64_t seq) {
    cf_search_config cfg;
    cf_search_config_default(&cfg);
    cfg.max_trials = trials;
    cfg.batch = 32;
    cfg.seed = 5;
    cf_strategy_config sc;
    cf_strategy_config_default(&sc);
    sc.seed = cfg.seed;
    cf_strategy *st = NULL;
    CF_TRY(cf_strategy_create("random", s, &sc, &st));
    cf_journal *j = NULL;
    cf_status status = cf_journal_open(journal, seq, keep, &j);
    cf_search_hooks hooks = {to_journal, NULL, j, NULL};
    cf_search_summary sum;
    if (status == CF_OK) status = cf_search_run(&cfg, s, st, ev, w, n, &hooks, replay, &sum);
    if (j) CHECK_OK(cf_journal_close(j));
    cf_strategy_destroy(st);
    return status;
}

/* ---- trained: slots, threads, overlap ------------------------------------------------- */

static void test_threads(const cf_space *s) {
    seen *sn = calloc(1, sizeof *sn);
    CHECK_OK(cf_mutex_init(&sn->mu));
    cf_evaluator ev = {.ops = &k_note_ops, .self = sn, .input = {1, 28, 28, 10}};
    cf_worker_desc w[2] = {kit_gpu(0, 8 * GB, 4), kit_gpu(1, 8 * GB, 2)};
    char path[600];
    snprintf(path, sizeof path, "%s/slots.jsonl", dir);
    unlink(path);
    CHECK_OK(search(s, &ev, w, 2, 24, path, NULL, 0, 0));
    CHECK(sn->n == 24, "%d trials ran, want 24", sn->n);
    int wrong_thread = 0, wrong_record = 0, out_of_range = 0, shared = 0, overlapped = 0;
    for (int i = 0; i < sn->n; i++) {
        wrong_thread += sn->thread_slot[i] != sn->slot[i];
        wrong_record += sn->recorded_slot[i] != sn->slot[i];
        out_of_range += sn->slot[i] < 0 || sn->slot[i] >= w[sn->worker[i]].slots;
        for (int k = i + 1; k < sn->n; k++) {
            if (sn->worker[k] != sn->worker[i] || sn->t0[k] >= sn->t1[i] || sn->t0[i] >= sn->t1[k]) continue;
            overlapped++;
            shared += sn->slot[k] == sn->slot[i];
        }
    }
    CHECK(wrong_thread == 0, "%d trials ran on another slot's thread", wrong_thread);
    CHECK(wrong_record == 0, "%d trials record another slot than they ran in", wrong_record);
    CHECK(out_of_range == 0, "%d slots out of their worker's range", out_of_range);
    CHECK(overlapped > 0, "no two trials ran at once on a worker: nothing was tested");
    CHECK(shared == 0, "%d of %d pairs of trials at once on a worker shared a slot", shared, overlapped);

    /* the journal says the same: each trial's slot, read back */
    cf_search_replay r;
    cf_journal_scan scan;
    CHECK_OK(cf_search_replay_load(path, s, &r, &scan));
    int differ = 0;
    for (int i = 0; i < sn->n; i++) {
        const cf_trial *t = sn->id[i] >= 0 && sn->id[i] < r.n ? &r.trials[sn->id[i]] : NULL;
        differ += !t || t->replicas != 1 || t->slots[0] != sn->slot[i] || t->workers[0] != sn->worker[i];
    }
    CHECK(differ == 0, "%d trials read back from the journal with another worker or slot", differ);
    cf_search_replay_free(&r);
    cf_mutex_destroy(&sn->mu);
    free(sn);
    unlink(path);
}

/* ---- simulated: a resume puts running trials back in their slots ---------------------- */

/* The journal's trial_finished lines (without seq, time and crc) into buf. */
static void finished_lines(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "r");
    size_t n = 0;
    char line[8192];
    buf[0] = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (!strstr(line, "\"event\":\"trial_finished\"")) continue;
        char *a = strstr(line, "\"clock\""), *b = strstr(line, ",\"crc\"");
        if (a && b && n + (size_t)(b - a) + 2 < cap) {
            memcpy(buf + n, a, (size_t)(b - a));
            n += (size_t)(b - a);
            buf[n++] = '\n';
            buf[n] = 0;
        }
    }
    if (f) fclose(f);
}

static void test_resume(const cf_space *s) {
    seen *sn = calloc(1, sizeof *sn);
    CHECK_OK(cf_mutex_init(&sn->mu));
    sn->simulated = 1;
    cf_evaluator_ops ops = k_note_ops;
    ops.simulated = 1;
    cf_evaluator ev = {.ops = &ops, .self = sn, .input = {1, 28, 28, 10}};
    cf_worker_desc w[2] = {kit_gpu(0, 8 * GB, 3), kit_gpu(1, 8 * GB, 2)};
    char full[600], cut[600];
    snprintf(full, sizeof full, "%s/slots-full.jsonl", dir);
    snprintf(cut, sizeof cut, "%s/slots-cut.jsonl", dir);
    unlink(full);
    CHECK_OK(search(s, &ev, w, 2, 20, full, NULL, 0, 0));
    static char want[1 << 16], got[1 << 16];
    finished_lines(full, want, sizeof want);
    CHECK(strstr(want, "\"slots\":[2]") != NULL, "no trial ran in slot 2: the resume would test little");
    /* cut after each line and resume: the same trial_finished lines, slots included */
    FILE *f = fopen(full, "r");
    char line[8192];
    int lines = 0, differ = 0;
    while (f && fgets(line, sizeof line, f)) lines++;
    for (int k = 2; f && k < lines; k += 3) {
        rewind(f);
        FILE *o = fopen(cut, "w");
        for (int i = 0; i < k && fgets(line, sizeof line, f); i++) fputs(line, o);
        fclose(o);
        cf_search_replay r;
        cf_journal_scan scan;
        CHECK_OK(cf_search_replay_load(cut, s, &r, &scan));
        CHECK_OK(search(s, &ev, w, 2, 20, cut, &r, scan.valid_bytes, scan.next_seq));
        cf_search_replay_free(&r);
        finished_lines(cut, got, sizeof got);
        if (strcmp(want, got) != 0) {
            if (!differ++) fprintf(stderr, "cut after line %d: the resumed record differs\n", k);
        }
    }
    if (f) fclose(f);
    CHECK(differ == 0, "%d resumed runs recorded other slots or results than the uninterrupted one", differ);
    cf_mutex_destroy(&sn->mu);
    free(sn);
    unlink(full);
    unlink(cut);
}

int main(int argc, char **argv) {
    cf_log_set_level(CF_LOG_LEVEL_WARN);
    snprintf(dir, sizeof dir, "%s", argc > 1 ? argv[1] : ".");
    cf_space *s = NULL;
    CHECK_OK(cf_space_parse(k_space, "tiny.json", &s));
    if (s) {
        test_threads(s);
        test_resume(s);
    }
    cf_space_destroy(s);
    return test_finish("test_slots");
}
