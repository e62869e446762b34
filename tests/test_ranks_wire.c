/* test_ranks_wire.c - the texts a trial and its outcome travel as between MPI
 * ranks (src/sched/ranks_wire.c): read back, they hold exactly what was
 * written (the doubles to the last bit, the arch, the curve, the metrics); a
 * broken evaluator's message travels as such; garbage fails with a message.
 * Built and run with or without MPI.
 *
 *   ./test_ranks_wire
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/sched.h"
#include "check.h"
#include "../src/sched/ranks_wire.h"

static void test_task(const cf_space *s) {
    cf_trial t;
    memset(&t, 0, sizeof t);
    t.id = 41;
    snprintf(t.arch, sizeof t.arch, "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|nor_conv_3x3~0|none~1|skip_connect~2|");
    CHECK_OK(cf_arch_parse(s, t.arch, &t.cand.arch));
    t.cand.epochs = 3;
    t.cand.fraction = 0.1;          /* not a binary fraction: must come back bit for bit */
    t.cand.parent = 7;
    t.batch = 128;
    t.cost.params = 14062;
    t.cost.macs = 1395680;
    t.memory = 37492608;
    t.latency_ms = 1.0 / 3.0;
    t.attempts = 2;
    t.start = 12.345678901234567;
    cf_worker_desc w = {.kind = CF_WORKER_CPU, .threads = 1};
    cf_trial_task task = {.trial = &t, .worker = &w, .slot = 5, .replicas = 1, .time_limit_s = 99.5,
                          .checkpoint = "runs/x/trials/41/train.cfs"};
    char *text = NULL;
    CHECK_OK(cf_wire_task_write(&task, 2, NULL, &text));
    cf_trial back;
    int worker = -1;
    double limit = 0;
    char ckpt[512];
    cf_wire_group g;
    CHECK_OK(cf_wire_task_read(s, text, &back, &worker, &limit, ckpt, sizeof ckpt, &g));
    CHECK(g.size == 0 && back.replicas == 1, "a trial on one worker read back with a group of %d", g.size);
    CHECK(back.id == 41 && worker == 2 && limit == 99.5, "id %lld worker %d limit %g", (long long)back.id, worker, limit);
    CHECK(strcmp(back.arch, t.arch) == 0, "arch %s", back.arch);
    CHECK(cf_arch_hash(s, &back.cand.arch) == cf_arch_hash(s, &t.cand.arch), "the parsed arch differs");
    CHECK(back.cand.fraction == t.cand.fraction && back.latency_ms == t.latency_ms && back.start == t.start,
          "doubles changed: %.17g %.17g %.17g", back.cand.fraction, back.latency_ms, back.start);
    CHECK(back.cand.epochs == 3 && back.cand.parent == 7 && back.batch == 128 && back.attempts == 2, "ints changed");
    CHECK(back.cost.params == 14062 && back.cost.macs == 1395680 && back.memory == 37492608, "cost changed");
    CHECK(strcmp(ckpt, task.checkpoint) == 0, "checkpoint %s", ckpt);
    CHECK(back.slots[0] == 5, "slot %d, want 5", back.slots[0]);
    free(text);
    /* one replica of a data-parallel group over ranks */
    cf_wire_group grp = {.id = 123456789012LL, .replica = 2, .size = 3, .procs = {0, 4, 2}, .local = {1, 0, 3},
                         .device = 1};
    task.replicas = 3;
    CHECK_OK(cf_wire_task_write(&task, 1, &grp, &text));
    CHECK_OK(cf_wire_task_read(s, text, &back, &worker, &limit, ckpt, sizeof ckpt, &g));
    CHECK(g.id == grp.id && g.replica == 2 && g.size == 3 && g.procs[0] == 0 && g.procs[1] == 4 && g.procs[2] == 2 &&
              g.local[0] == 1 && g.local[2] == 3 && g.device == 1 && back.replicas == 3,
          "group read back as id %lld replica %d of %d", g.id, g.replica, g.size);
    free(text);
    const char *broken[] = {
        "{\"arch\":\"%s\",\"group\":{\"id\":1,\"replica\":3,\"procs\":[0,1,2],\"local\":[0,0,0]}}",
        "{\"arch\":\"%s\",\"group\":{\"id\":1,\"replica\":0,\"procs\":[],\"local\":[]}}",
        "{\"arch\":\"%s\",\"group\":{\"id\":-1,\"replica\":0,\"procs\":[0,1],\"local\":[0,0]}}",
        "{\"arch\":\"%s\",\"group\":{\"id\":1,\"replica\":0,\"procs\":[0,\"x\"],\"local\":[0,0]}}",
        "{\"arch\":\"%s\",\"group\":{\"id\":1,\"replica\":0,\"procs\":[0,1],\"local\":[0]}}",
    };
    for (int k = 0; k < 5; k++) {
        char msg[1024];
        snprintf(msg, sizeof msg, broken[k], t.arch);
        CHECK(cf_wire_task_read(s, msg, &back, &worker, &limit, ckpt, sizeof ckpt, &g) == CF_ERR_PARSE,
              "broken group %d was read", k);
    }
    /* a message without a slot (an older sender) runs in any slot */
    char old[CF_ARCH_TEXT_MAX + 64];
    snprintf(old, sizeof old, "{\"arch\":\"%s\",\"id\":1,\"worker\":0}", t.arch);
    CHECK_OK(cf_wire_task_read(s, old, &back, &worker, &limit, ckpt, sizeof ckpt, &g));
    CHECK(back.slots[0] == -1, "slot %d without one in the message, want -1", back.slots[0]);
    /* an arch the space cannot read fails with the space's message */
    CHECK(cf_wire_task_read(s, "{\"arch\":\"|bogus~0|\",\"id\":1}", &back, &worker, &limit, ckpt, sizeof ckpt, &g) !=
              CF_OK,
          "a bad arch was read");
    CHECK(cf_wire_task_read(s, "not json", &back, &worker, &limit, ckpt, sizeof ckpt, &g) == CF_ERR_PARSE,
          "garbage read");
}

static void test_outcome(void) {
    cf_trial_outcome o;
    memset(&o, 0, sizeof o);
    o.status = CF_TRIAL_TIMEOUT;
    snprintf(o.reason, sizeof o.reason, "ran past \"its\" limit\n");
    o.val_acc = 0.1 + 0.2;
    o.epochs_done = 2;
    o.seconds = 3.0 / 7.0;
    snprintf(o.metrics, sizeof o.metrics, "{\"loss\":1.25,\"note\":\"fine\"}");
    cf_epoch_record curve[2] = {{1, 2.3, 0.2, 0.25, 0.1, 1.5}, {2, 1.1, 0.5, 1.0 / 3.0, 0.0, 1.25}};
    o.curve = curve;
    char *text = NULL;
    CHECK_OK(cf_wire_outcome_write(&o, CF_OK, NULL, &text));
    cf_trial_outcome back;
    int broke = 1;
    char err[256];
    CHECK_OK(cf_wire_outcome_read(text, &back, &broke, err, sizeof err));
    CHECK(!broke && back.status == CF_TRIAL_TIMEOUT, "status %d broke %d", back.status, broke);
    CHECK(strcmp(back.reason, o.reason) == 0 && strcmp(back.metrics, o.metrics) == 0, "texts %s / %s", back.reason,
          back.metrics);
    CHECK(back.val_acc == o.val_acc && back.seconds == o.seconds && back.epochs_done == 2, "numbers changed");
    CHECK(back.curve && memcmp(back.curve, curve, sizeof curve) == 0, "the curve changed");
    free(back.curve);
    free(text);
    CHECK_OK(cf_wire_outcome_write(&o, CF_ERR_DEVICE, "no device", &text));
    CHECK_OK(cf_wire_outcome_read(text, &back, &broke, err, sizeof err));
    CHECK(broke && strcmp(err, "no device") == 0, "broke %d err %s", broke, err);
    free(text);
    CHECK(cf_wire_outcome_read("{\"status\":\"fine\"}", &back, &broke, err, sizeof err) == CF_ERR_PARSE,
          "an unknown status was read");
}

int main(int argc, char **argv) {
    if (argc > 1) setenv("CELLFORGE_SPACES", argv[1], 1);
    cf_space *s = NULL;
    CHECK_OK(cf_space_load("nb201", &s));
    if (s) test_task(s);
    test_outcome();
    cf_space_destroy(s);
    return test_finish("test_ranks_wire");
}
