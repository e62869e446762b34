/* test_sched.c - the controller and the scheduler: device lists, placement by
 * memory on described GPUs, packing, data-parallel groups, out-of-memory
 * retries, failures, constraints and determinism through the table evaluator,
 * and real searches on Fashion-MNIST with CPU workers.
 *
 *   ctest -R test_sched --output-on-failure
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cellforge/journal.h"
#include "cellforge/log.h"
#include "cellforge/sched.h"
#include "check.h"
#include "worker_kit.h"

/* ---- workers ---------------------------------------------------------------------- */

static void test_workers_plan(void) {
    cf_device_report r;
    memset(&r, 0, sizeof r);
    r.cpu_cores = 2;
    snprintf(r.gpu_note, sizeof r.gpu_note, "no NVIDIA driver");
    cf_worker_desc w[CF_MAX_WORKERS];
    int n = 0;
    CHECK_OK(cf_workers_plan("auto", 0, 0, 1 << 30, &r, w, &n));
    CHECK(n == 1 && w[0].kind == CF_WORKER_CPU && w[0].threads == 2 && w[0].slots == 1, "auto: %d workers", n);
    CHECK_OK(cf_workers_plan("cpu", 2, 5, 1000, &r, w, &n));
    CHECK(n == 2 && w[0].threads + w[1].threads == 5 && abs(w[0].threads - w[1].threads) == 1,
          "5 threads over 2 workers: %d + %d", w[0].threads, w[1].threads);
    CHECK(w[0].memory == 500 && w[1].memory == 500, "memory split: %zu", w[0].memory);
    CHECK(strcmp(w[1].name, "cpu:1") == 0, "name %s", w[1].name);
    CHECK_OK(cf_workers_plan("cpu", 3, 2, 0, &r, w, &n));
    CHECK(n == 3 && w[0].threads >= 1 && w[1].threads >= 1 && w[2].threads >= 1, "more workers than threads");
    CHECK_FAILS(cf_workers_plan("cuda:0", 0, 0, 0, &r, w, &n), CF_ERR_NO_DEVICE, "no GPU 0", "no NVIDIA driver");
    CHECK_FAILS(cf_workers_plan("tpu", 0, 0, 0, &r, w, &n), CF_ERR_INVALID_ARG, "unknown device 'tpu'", "cuda:0");
    CHECK_FAILS(cf_workers_plan("cuda:x", 0, 0, 0, &r, w, &n), CF_ERR_INVALID_ARG, "'cuda:x'", "not a device");
    CHECK_FAILS(cf_workers_plan("cpu", 40, 0, 0, &r, w, &n), CF_ERR_INVALID_ARG, "--cpu-workers 40", "at most");

    /* Two described GPUs and 16 cores: under auto the CPU gets a worker only
     * when asked, since its threads would take the GPU workers' cores. */
    r.cpu_cores = 16;
    r.gpu_count = 2;
    for (int g = 0; g < 2; g++) {
        r.gpus[g].index = g;
        r.gpus[g].total_bytes = r.gpus[g].free_bytes = 80 * ((size_t)1 << 30);
    }
    CHECK_OK(cf_workers_plan("auto", 0, 0, 1 << 30, &r, w, &n));
    if (cf_sched_gpu_training()) {
        CHECK(n == 2 && w[0].kind == CF_WORKER_CUDA && w[1].kind == CF_WORKER_CUDA, "auto beside GPUs: %d workers", n);
        CHECK_OK(cf_workers_plan("auto", 1, 4, 1 << 30, &r, w, &n));
        CHECK(n == 3 && w[2].kind == CF_WORKER_CPU && w[2].threads == 4, "auto with --cpu-workers 1: %d workers", n);
        CHECK_OK(cf_workers_plan("cuda:1,cpu", 0, 0, 1 << 30, &r, w, &n));
        CHECK(n == 2 && w[0].kind == CF_WORKER_CUDA && w[0].index == 1 && w[1].kind == CF_WORKER_CPU &&
                  w[1].threads == 16,
              "cuda:1,cpu: %d workers", n);
    } else {
        /* a build without the CUDA backend trains on the CPU alone */
        CHECK(n == 1 && w[0].kind == CF_WORKER_CPU && w[0].threads == 16, "auto without GPU training: %d workers", n);
    }
}

/* ---- placement on described devices --------------------------------------------- */

static void test_place(void) {
    cf_worker_desc w[4] = {kit_gpu(0, 80 * GB, 8), kit_gpu(1, 40 * GB, 8), kit_gpu(2, 16 * GB, 8),
                           kit_gpu(3, 16 * GB, 8)};
    cf_place_load load[4];
    memset(load, 0, sizeof load);
    size_t need[5] = {0, 10 * GB, 6 * GB, 4 * GB, 3 * GB};

    /* idle: the tightest fit, the lowest index among equals */
    cf_place p = cf_place_decide(w, load, 4, need, 0, 0);
    CHECK(p.verdict == CF_PLACE_OK && p.count == 1 && p.workers[0] == 2, "idle: verdict %d on %d", p.verdict,
          p.workers[0]);
    /* the least busy wins over a tighter fit */
    load[2] = (cf_place_load){10 * GB, 1};
    load[3] = (cf_place_load){1 * GB, 1};
    p = cf_place_decide(w, load, 4, need, 0, 0);
    CHECK(p.verdict == CF_PLACE_OK && p.workers[0] == 1, "busy small GPUs: on %d", p.workers[0]);
    /* packing: two trials on one device while they fit */
    memset(load, 0, sizeof load);
    load[0] = (cf_place_load){60 * GB, 3};
    need[1] = 50 * GB;
    p = cf_place_decide(w, load, 4, need, 0, 0);
    CHECK(p.verdict == CF_PLACE_WAIT, "50 GB with 20 GB free on the only big GPU: wait, got %d", p.verdict);
    load[0] = (cf_place_load){20 * GB, 1};
    p = cf_place_decide(w, load, 4, need, 0, 0);
    CHECK(p.verdict == CF_PLACE_OK && p.workers[0] == 0, "50 GB beside 20 GB on 80 GB: %d", p.verdict);
    /* slots are a limit too */
    load[0] = (cf_place_load){0, 8};
    p = cf_place_decide(w, load, 4, need, 0, 0);
    CHECK(p.verdict == CF_PLACE_WAIT, "every slot taken: %d", p.verdict);

    /* too big for any device: the smallest data-parallel group that fits */
    memset(load, 0, sizeof load);
    size_t big[5] = {0, 120 * GB, 60 * GB, 40 * GB, 30 * GB};
    p = cf_place_decide(w, load, 4, big, 0, 0);
    CHECK(p.verdict == CF_PLACE_NEVER, "120 GB, 60 GB on two: only one GPU holds 60: %d", p.verdict);
    size_t big2[5] = {0, 120 * GB, 38 * GB, 26 * GB, 15 * GB};
    p = cf_place_decide(w, load, 4, big2, 0, 0);
    CHECK(p.verdict == CF_PLACE_OK && p.count == 2 && p.workers[0] == 0 && p.workers[1] == 1,
          "two replicas of 38 GB on 80 + 40: count %d on %d,%d", p.count, p.workers[0], p.workers[1]);
    size_t big3[5] = {0, 120 * GB, 50 * GB, 41 * GB, 15 * GB};
    p = cf_place_decide(w, load, 4, big3, 0, 0);
    CHECK(p.verdict == CF_PLACE_OK && p.count == 4, "15 GB on each of 4: count %d", p.count);
    load[1] = (cf_place_load){30 * GB, 1};
    p = cf_place_decide(w, load, 4, big2, 0, 0);
    CHECK(p.verdict == CF_PLACE_WAIT && p.count == 2, "group member busy: wait for it, got %d", p.verdict);

    /* asked to scale: exactly k replicas, the least busy with the most room */
    memset(load, 0, sizeof load);
    size_t small[5] = {0, 8 * GB, 4 * GB, 3 * GB, 2 * GB};
    p = cf_place_decide(w, load, 4, small, 2, 0);
    CHECK(p.verdict == CF_PLACE_OK && p.count == 2 && p.workers[0] == 0 && p.workers[1] == 1,
          "replicas=2: %d,%d", p.workers[0], p.workers[1]);
    p = cf_place_decide(w, load, 4, small, 5, 0);
    CHECK(p.verdict == CF_PLACE_NEVER, "replicas=5 on 4 devices: %d", p.verdict);

    /* a group never mixes device kinds */
    cf_worker_desc mix[3] = {kit_gpu(0, 16 * GB, 8), w[0], w[0]};
    mix[1].kind = mix[2].kind = CF_WORKER_CPU;
    mix[1].memory = mix[2].memory = 8 * GB;
    mix[1].slots = mix[2].slots = 1;
    size_t need3[4] = {0, 30 * GB, 9 * GB, 7 * GB};
    memset(load, 0, sizeof load);
    p = cf_place_decide(mix, load, 3, need3, 0, 0);
    CHECK(p.verdict == CF_PLACE_NEVER, "one GPU + two CPUs cannot form a group: %d", p.verdict);

    /* MPI ranks: a group stays on one rank unless asked to span them */
    cf_worker_desc rk[5] = {kit_gpu(0, 80 * GB, 8), kit_gpu(0, 80 * GB, 8), kit_gpu(1, 80 * GB, 8),
                            kit_gpu(0, 80 * GB, 8), kit_gpu(1, 80 * GB, 8)};
    rk[1].rank = 1;
    rk[2].rank = 1;
    rk[3].rank = rk[4].rank = 2;
    cf_place_load rl[5];
    memset(rl, 0, sizeof rl);
    size_t two[6] = {0, 8 * GB, 4 * GB, 3 * GB, 2 * GB, 2 * GB};
    p = cf_place_decide(rk, rl, 5, two, 2, 0);
    CHECK(p.verdict == CF_PLACE_OK && p.count == 2 && rk[p.workers[0]].rank == 1 && rk[p.workers[1]].rank == 1,
          "replicas=2 over ranks: both on rank 1, got workers %d,%d", p.workers[0], p.workers[1]);
    rl[1] = (cf_place_load){1 * GB, 1};
    p = cf_place_decide(rk, rl, 5, two, 2, 0);
    CHECK(p.verdict == CF_PLACE_OK && rk[p.workers[0]].rank == 2 && rk[p.workers[1]].rank == 2,
          "rank 1 busier: the group goes to rank 2, got workers %d,%d", p.workers[0], p.workers[1]);
    p = cf_place_decide(rk, rl, 5, two, 3, 0);
    CHECK(p.verdict == CF_PLACE_NEVER, "replicas=3, no rank has 3 workers: %d", p.verdict);
    p = cf_place_decide(rk, rl, 5, two, 3, 1);
    CHECK(p.verdict == CF_PLACE_OK && p.count == 3 && rk[p.workers[0]].rank != rk[p.workers[2]].rank,
          "replicas=3 spanning ranks: %d, workers %d,%d,%d", p.verdict, p.workers[0], p.workers[1], p.workers[2]);
    rl[0] = rl[2] = rl[3] = (cf_place_load){0, 8};
    p = cf_place_decide(rk, rl, 5, two, 2, 0);
    CHECK(p.verdict == CF_PLACE_WAIT, "every rank has a full worker: wait, got %d", p.verdict);
}

/* ---- the table evaluator ------------------------------------------------------------ */

/* A small nb201-style space: 4 nodes, 3 ops, 729 texts. */
static const char *k_tiny_space =
    "{\"name\": \"tiny201\", \"family\": \"nb201\", \"doc\": \"test space\",\n"
    " \"cell\": {\"nodes\": 4, \"ops\": [\n"
    "   {\"name\": \"none\", \"prim\": \"zero\"},\n"
    "   {\"name\": \"skip_connect\", \"prim\": \"identity\"},\n"
    "   {\"name\": \"nor_conv_3x3\", \"prim\": \"relu_conv_bn\", \"kernel\": 3}]},\n"
    " \"skeleton\": {\"options\": {\n"
    "   \"C\": {\"default\": 4, \"min\": 1, \"max\": 64, \"integer\": true, \"doc\": \"channels\"},\n"
    "   \"N\": {\"default\": 1, \"min\": 1, \"max\": 8, \"integer\": true, \"doc\": \"cells\"}}}}\n";

typedef struct table_writer {
    const cf_space *s;
    FILE *f;
    uint64_t seen[1024];
    int n;
} table_writer;

static int count_op(const cf_arch *a, int op) {
    int k = 0;
    const cf_arch_cell *c = &a->cell[0];
    for (int j = 1; j < c->n_nodes; j++)
        for (int i = 0; i < c->n_in[j]; i++) k += c->in[j][i].op == op;
    return k;
}

/* A made-up but structured benchmark: more 3x3 convolutions, higher accuracy and
 * longer training; two cells recorded as failures. */
static int write_row(const cf_arch *a, void *ctx) {
    table_writer *tw = ctx;
    cf_arch canon;
    cf_arch_canonical(tw->s, a, &canon);
    uint64_t h = cf_arch_hash(tw->s, &canon);
    for (int i = 0; i < tw->n; i++)
        if (tw->seen[i] == h) return 0;
    tw->seen[tw->n++] = h;
    char text[CF_ARCH_TEXT_MAX];
    cf_arch_format(tw->s, &canon, text, sizeof text);
    int convs = count_op(&canon, 2), skips = count_op(&canon, 1);
    const char *status = "ok";
    if (convs == 6) status = "oom";       /* the biggest cell: out of memory */
    if (skips == 6) status = "nan";       /* all skips: diverges */
    double acc = 0.5 + 0.07 * convs + 0.01 * skips + 0.001 * (double)(h % 7);
    fprintf(tw->f, "%s\t1\t1\t%s\t%.4f\t%.1f\t0\t0\n", text, status, acc, 10.0 + 5.0 * convs);
    return 0;
}

static int make_table(const cf_space *s, const char *path) {
    table_writer tw = {s, fopen(path, "w"), {0}, 0};
    if (!tw.f) return 0;
    fprintf(tw.f, "# cellforge-table 1\n# space tiny201\n# input 28x28x1 classes 10\n");
    fprintf(tw.f, "arch\tepochs\tfraction\tstatus\tval_acc\ttrain_seconds\tparams\tmacs\n");
    cf_space_enumerate(s, 100000, write_row, &tw);
    fclose(tw.f);
    return tw.n;
}

#define MAX_EV 4096

typedef struct recorder {
    int n;
    int64_t id[MAX_EV];
    uint64_t arch_hash[MAX_EV];
    int kind[MAX_EV];
    cf_trial_status status[MAX_EV];
    double start[MAX_EV], end[MAX_EV];
    int replicas[MAX_EV], worker[MAX_EV], attempts[MAX_EV], batch[MAX_EV];
    int64_t macs[MAX_EV];
    double latency[MAX_EV];
    const cf_space *s;
} recorder;

static int record(void *ctx, cf_search_event_kind kind, const cf_trial *t, double clock) {
    (void)clock;
    recorder *r = ctx;
    if (r->n >= MAX_EV || (kind != CF_EVENT_FINISHED && kind != CF_EVENT_REJECTED && kind != CF_EVENT_CUT)) return 0;
    int i = r->n++;
    r->id[i] = t->id;
    r->arch_hash[i] = cf_arch_hash(r->s, &t->cand.arch);
    r->kind[i] = kind;
    r->status[i] = t->status;
    r->start[i] = t->start;
    r->end[i] = t->end;
    r->replicas[i] = t->replicas;
    r->worker[i] = t->workers[0];
    r->attempts[i] = t->attempts;
    r->batch[i] = t->batch;
    r->macs[i] = t->cost.macs;
    r->latency[i] = t->latency_ms;
    return 0;
}

static cf_status run_search(const cf_search_config *cfg, const cf_space *s, const char *strategy, cf_evaluator *ev,
                            const cf_worker_desc *w, int n, recorder *rec, cf_search_summary *sum) {
    cf_strategy_config sc;
    cf_strategy_config_default(&sc);
    sc.seed = cfg->seed;
    cf_strategy *st = NULL;
    CF_TRY(cf_strategy_create(strategy, s, &sc, &st));
    memset(rec, 0, sizeof *rec);
    rec->s = s;
    cf_search_hooks hooks = {record, NULL, rec, NULL};
    cf_status status = cf_search_run(cfg, s, st, ev, w, n, &hooks, NULL, sum);
    cf_strategy_destroy(st);
    return status;
}

/* Largest number of trials overlapping in simulated time on worker w. */
static int max_overlap(const recorder *r, int w) {
    int best = 0;
    for (int i = 0; i < r->n; i++) {
        if (r->worker[i] != w || r->kind[i] != CF_EVENT_FINISHED) continue;
        int k = 0;
        for (int j = 0; j < r->n; j++)
            if (r->worker[j] == w && r->kind[j] == CF_EVENT_FINISHED && r->start[j] <= r->start[i] &&
                r->end[j] > r->start[i])
                k++;
        if (k > best) best = k;
    }
    return best;
}

/* The table evaluator's searches: a tiny NB-201 table, three described GPUs
 * taking one trial at a time, a recorder per run; `a` is the biggest cell. */
static cf_worker_desc *three_gpus(cf_worker_desc w[3]) {
    for (int i = 0; i < 3; i++) {
        w[i] = kit_gpu(i, 8 * GB, 8);
        w[i].slots = 1;
    }
    return w;
}

/* The table searches' setting: seed 3 on three described GPUs. */
static void table_setup(cf_search_config *cfg, cf_worker_desc w[3]) {
    cf_search_config_default(cfg);
    cfg->seed = 3;
    three_gpus(w);
}

/* Random search until it runs out of distinct cells; the same again. */
static void table_random(cf_space *s, cf_evaluator *ev, int rows, recorder *rec) {
    cf_search_summary sum, sum2;
    cf_search_config cfg;
    cf_search_config_default(&cfg);
    cfg.max_trials = 0; /* until random runs out of distinct cells */
    cfg.seed = 3;
    cf_worker_desc w[3];
    three_gpus(w);
    /* three described GPUs, each taking one trial at a time (slots 1) */
    CHECK_OK(run_search(&cfg, s, "random", ev, w, 3, &rec[0], &sum));
    int64_t trials = sum.proposed - sum.rejected;
    CHECK(trials == rows && sum.finished == rows, "random runs out of distinct cells: %lld trials, %d cells",
          (long long)trials, rows);
    CHECK(sum.failed == 2 && sum.ok == rows - 2, "two recorded failures: %lld failed", (long long)sum.failed);
    double busy = 0, work = 0;
    for (int i = 0; i < 3; i++) busy += sum.busy_s[i];
    /* every attempt of a retried trial took the device for its recorded time */
    for (int i = 0; i < rec[0].n; i++) work += (rec[0].end[i] - rec[0].start[i]) * rec[0].attempts[i];
    CHECK(fabs(busy - work) < 1e-6, "busy time %.1f equals the trials' time %.1f", busy, work);
    CHECK(sum.clock_s >= work / 3 - 1e-9 && sum.clock_s < work / 3 + 60, "simulated clock %.1f for %.1f s of work on 3",
          sum.clock_s, work);
    for (int i = 0; i < rec[0].n; i++) {
        if (rec[0].status[i] == CF_TRIAL_OOM)
            CHECK(rec[0].attempts[i] == cfg.oom_retries + 1 && rec[0].batch[i] == 256 >> cfg.oom_retries,
                  "a recorded OOM is retried %d times with half the batch: %d attempts, batch %d", cfg.oom_retries,
                  rec[0].attempts[i], rec[0].batch[i]);
        CHECK(max_overlap(&rec[0], rec[0].worker[i]) == 1, "one trial at a time on a slot-1 device");
    }

    /* same seed, same trials and results, whatever the thread timing */
    CHECK_OK(run_search(&cfg, s, "random", ev, w, 3, &rec[1], &sum2));
    int same = rec[0].n == rec[1].n;
    for (int i = 0; same && i < rec[0].n; i++)
        same = rec[0].id[i] == rec[1].id[i] && rec[0].arch_hash[i] == rec[1].arch_hash[i] &&
               rec[0].end[i] == rec[1].end[i] && rec[0].worker[i] == rec[1].worker[i];
    CHECK(same && sum.clock_s == sum2.clock_s, "two runs of seed 3 differ");
}

/* Evolution, packing, data-parallel trials, placement out of memory. */
static void table_placement(cf_space *s, cf_evaluator *ev, int rows, recorder *rec, const cf_arch *a) {
    cf_search_summary sum;
    cf_search_config cfg;
    cf_worker_desc w[3];
    table_setup(&cfg, w);
    /* evolution through the controller, asynchronously over 3 devices */
    cfg.max_trials = 40;
    CHECK_OK(run_search(&cfg, s, "evolution", ev, w, 3, &rec[0], &sum));
    CHECK(sum.finished == 40 && sum.best_val_acc > 0.8, "evolution: %lld finished, best %.3f", (long long)sum.finished,
          sum.best_val_acc);

    /* packing: a device takes as many trials as its memory holds */
    cfg.max_trials = 30;
    cf_worker_desc one = kit_gpu(0, 1, 8);
    cf_search_config probe = cfg;
    probe.max_trials = 1;
    one.memory = 1;
    CHECK_OK(run_search(&probe, s, "random", ev, &one, 1, &rec[0], &sum)); /* learn a trial's size */
    CHECK(rec[0].n == 1 && rec[0].status[0] == CF_TRIAL_OOM, "1 byte device: OOM, got %s",
          cf_trial_status_name(rec[0].status[0]));
    cf_net *net = NULL;
    CHECK_OK(cf_net_build(s, a, &ev->input, &net));
    size_t biggest = net ? cf_trial_memory(net, 256, 0) : 0;
    cf_net_destroy(net);
    one.memory = 3 * biggest;
    CHECK_OK(run_search(&cfg, s, "random", ev, &one, 1, &rec[0], &sum));
    int overlap = max_overlap(&rec[0], 0);
    CHECK(overlap >= 3 && overlap <= 8, "several trials share the device: at most %d at once", overlap);

    /* a trial too big for one device runs data-parallel over two */
    cf_worker_desc two[2] = {kit_gpu(0, biggest * 3 / 4, 8), kit_gpu(1, biggest * 3 / 4, 8)};
    cfg.max_trials = 0;
    CHECK_OK(run_search(&cfg, s, "random", ev, two, 2, &rec[0], &sum));
    int dp = 0;
    for (int i = 0; i < rec[0].n; i++) dp += rec[0].replicas[i] == 2;
    CHECK(dp >= 1 && sum.finished == rows, "the biggest cells run on 2 devices: %d trials did", dp);

    /* placement out of memory: retries down to the minimum batch, then failed; the search ends */
    one.memory = biggest / 64;
    cfg.max_trials = 10;
    CHECK_OK(run_search(&cfg, s, "random", ev, &one, 1, &rec[0], &sum));
    int ooms = 0;
    for (int i = 0; i < rec[0].n; i++) ooms += rec[0].status[i] == CF_TRIAL_OOM;
    CHECK(sum.finished == 10 && ooms >= 1, "tiny device: %d of %lld out of memory", ooms, (long long)sum.finished);
    CHECK(sum.retries >= 4, "batch halved 256 -> 16: %lld retries", (long long)sum.retries);
}

/* Constraints, measured latency, a time budget. */
static void table_limits(cf_space *s, cf_evaluator *ev, int rows, recorder *rec, const cf_arch *a) {
    cf_search_summary sum;
    cf_search_config cfg;
    cf_worker_desc w[3];
    table_setup(&cfg, w);
    /* hard constraints: never dispatched, counted */
    cfg.max_trials = 0;
    cf_cost cmax;
    CHECK_OK(cf_cost_of(s, a, &ev->input, 256, &cmax));
    cfg.limit[CF_LIMIT_MACS] = cmax.macs / 2;
    CHECK_OK(run_search(&cfg, s, "random", ev, w, 3, &rec[0], &sum));
    int over = 0;
    for (int i = 0; i < rec[0].n; i++)
        if (rec[0].kind[i] == CF_EVENT_FINISHED) over += rec[0].macs[i] > cfg.limit[CF_LIMIT_MACS];
    CHECK(sum.rejected > 0 && over == 0 && sum.rejected + sum.finished == rows,
          "constraints: %lld rejected, %lld ran, %d over the limit", (long long)sum.rejected, (long long)sum.finished,
          over);
    cfg.limit[CF_LIMIT_MACS] = 0;

    /* measured latency: an objective, and a limit nothing meets */
    cfg.n_objectives = 2;
    cfg.objectives[1] = CF_LIMIT_LATENCY;
    cfg.max_trials = 5;
    CHECK_OK(run_search(&cfg, s, "random", ev, w, 3, &rec[0], &sum));
    int measured = 0;
    for (int i = 0; i < rec[0].n; i++) measured += rec[0].latency[i] > 0 && rec[0].latency[i] < 1e3;
    CHECK(sum.finished == 5 && measured == 5, "latency measured for %d of 5 trials", measured);
    cfg.n_objectives = 1;
    cfg.limit[CF_LIMIT_LATENCY] = 1; /* 1 us: no network runs that fast */
    cfg.max_trials = 0;
    CHECK_OK(run_search(&cfg, s, "random", ev, w, 3, &rec[0], &sum));
    CHECK(sum.finished == 0 && sum.rejected == rows, "latency limit of 1 us: %lld rejected of %d, %lld ran",
          (long long)sum.rejected, rows, (long long)sum.finished);
    cfg.limit[CF_LIMIT_LATENCY] = 0;

    /* a simulated time budget: the clock stops at it, trials in flight are cut
     * there, and a trial that cannot finish in the time left is not started */
    cfg.time_budget_s = 100;
    CHECK_OK(run_search(&cfg, s, "random", ev, w, 3, &rec[0], &sum));
    int cut = 0, stopped = 0, timeouts = 0;
    for (int i = 0; i < rec[0].n; i++) {
        cut += rec[0].kind[i] == CF_EVENT_CUT;
        stopped += rec[0].kind[i] == CF_EVENT_CUT && rec[0].end[i] > rec[0].start[i];
        timeouts += rec[0].status[i] == CF_TRIAL_TIMEOUT;
        CHECK((rec[0].kind[i] == CF_EVENT_CUT) == (rec[0].status[i] == CF_TRIAL_CUT), "trial %lld: event %d, %s",
              (long long)rec[0].id[i], rec[0].kind[i], cf_trial_status_name(rec[0].status[i]));
        CHECK(rec[0].end[i] <= 100 + 1e-9, "trial %lld ends at %.1f past the budget", (long long)rec[0].id[i],
              rec[0].end[i]);
    }
    CHECK(sum.clock_s <= 100 + 1e-9 && cut >= 1 && stopped <= 3 && timeouts == 0,
          "budget 100 s: clock %.1f, %d cut (%d stopped while running), %d timeouts", sum.clock_s, cut, stopped,
          timeouts);
    CHECK(sum.cut == cut && sum.finished == sum.ok + sum.failed && sum.proposed == sum.finished + sum.cut + sum.rejected,
          "cut counted apart: %lld cut, %lld finished = %lld ok + %lld failed, %lld proposed", (long long)sum.cut,
          (long long)sum.finished, (long long)sum.ok, (long long)sum.failed, (long long)sum.proposed);
    CHECK(sum.est_s_per_work > 0, "an estimate per unit of work after ok trials: %g", sum.est_s_per_work);
}

/* ---- the time budget and resuming ------------------------------------------------- */

/* The recorder's events written to a journal as well, as the command line does. */
typedef struct journaled {
    recorder *rec;
    cf_journal *j;
} journaled;

static int record_journal(void *ctx, cf_search_event_kind kind, const cf_trial *t, double clock) {
    journaled *jr = ctx;
    CHECK_OK(cf_journal_event(jr->j, kind, t, clock));
    return record(jr->rec, kind, t, clock);
}

/* Evolution on one described GPU with a time budget, its events appended to the
 * journal at path (resumed from it when resume); est: the first guess of the
 * seconds per unit of work. Events go on after those already in rec. */
static cf_status budget_run(const cf_space *s, cf_evaluator *ev, double budget, double est, const char *path,
                            int resume, recorder *rec, cf_search_summary *sum) {
    cf_search_config cfg;
    cf_search_config_default(&cfg);
    cfg.seed = 3;
    cfg.time_budget_s = budget;
    cfg.est_s_per_work = est;
    cf_worker_desc w = kit_gpu(0, 8 * GB, 8);
    w.slots = 1;
    cf_strategy_config sc;
    cf_strategy_config_default(&sc);
    sc.seed = cfg.seed;
    cf_strategy *st = NULL;
    cf_search_replay rep;
    memset(&rep, 0, sizeof rep);
    cf_journal_scan scan = {0};
    journaled jr = {rec, NULL};
    rec->s = s;
    cf_search_hooks hooks = {record_journal, NULL, &jr, NULL};
    cf_status status = cf_strategy_create("evolution", s, &sc, &st);
    if (status == CF_OK && resume) status = cf_search_replay_load(path, s, &rep, &scan);
    if (status == CF_OK) status = cf_journal_open(path, scan.next_seq, scan.valid_bytes, &jr.j);
    if (status == CF_OK) status = cf_search_run(&cfg, s, st, ev, &w, 1, &hooks, resume ? &rep : NULL, sum);
    cf_status closed = cf_journal_close(jr.j);
    if (status == CF_OK) status = closed;
    cf_search_replay_free(&rep);
    cf_strategy_destroy(st);
    return status;
}

/* The results of two records in the order they were told (cut trials left out):
 * the same trials, statuses, times and workers. */
static int same_tells(const recorder *a, const recorder *b) {
    int i = 0, j = 0;
    for (;;) {
        while (i < a->n && a->kind[i] == CF_EVENT_CUT) i++;
        while (j < b->n && b->kind[j] == CF_EVENT_CUT) j++;
        if (i == a->n || j == b->n) return i == a->n && j == b->n;
        if (a->id[i] != b->id[j] || a->arch_hash[i] != b->arch_hash[j] || a->status[i] != b->status[j] ||
            a->start[i] != b->start[j] || a->end[i] != b->end[j] || a->worker[i] != b->worker[j] ||
            a->attempts[i] != b->attempts[j])
            return 0;
        i++;
        j++;
    }
}

/* Each trial the journal records as cut is asked once and never told. */
static int cut_asked_not_told(const char *path, const cf_space *s, int64_t *n_cut) {
    cf_search_replay r;
    cf_journal_scan scan;
    *n_cut = 0;
    if (cf_search_replay_load(path, s, &r, &scan) != CF_OK) return 0;
    int good = 1;
    for (int64_t i = 0; i < r.n; i++) {
        if (r.trials[i].status != CF_TRIAL_CUT) continue;
        int asks = 0, tells = 0;
        for (int64_t k = 0; k < r.n_steps; k++) {
            asks += r.steps[k].trial == i && !r.steps[k].tell;
            tells += r.steps[k].trial == i && r.steps[k].tell;
        }
        good &= asks == 1 && tells == 0;
        (*n_cut)++;
    }
    cf_search_replay_free(&r);
    return good;
}

/* A budget that ends mid-run cuts trials (stopped at the budget, or not started
 * because they could not finish in the time left): counted apart, not told, and
 * a resume with twice the budget runs them first and ends with the record of a
 * run given that budget from the start. On one worker this is exact: when the
 * shorter run stops proposing, nothing else is running, so its record is a
 * prefix of the longer run's. */
static void table_budget_resume(const cf_space *s, cf_evaluator *ev, const char *dir) {
    recorder *rec = calloc(2, sizeof *rec);
    char full[512], part[512];
    snprintf(full, sizeof full, "%s/budget_full.jsonl", dir);
    snprintf(part, sizeof part, "%s/budget_part.jsonl", dir);
    int stopped = 0, unstarted = 0;
    for (int k = 0; rec && k < 5; k++) {
        /* 5 s: the first trial (10 s or more) runs, with no estimate yet, into the budget */
        const double shorter = k == 0 ? 5 : 23 + 37 * k, longer = 2 * shorter;
        cf_search_summary sum, psum, rsum;
        memset(rec, 0, 2 * sizeof *rec);
        unlink(full);
        unlink(part);
        CHECK_OK(budget_run(s, ev, longer, 0, full, 0, &rec[0], &sum));
        CHECK_OK(budget_run(s, ev, shorter, 0, part, 0, &rec[1], &psum));
        int cut = 0;
        for (int i = 0; i < rec[1].n; i++) {
            if (rec[1].kind[i] != CF_EVENT_CUT) continue;
            cut++;
            if (rec[1].attempts[i] > 0 && rec[1].end[i] > rec[1].start[i]) stopped++;
            else unstarted++;
            CHECK(rec[1].end[i] <= shorter, "a cut trial ends at %.1f, past the budget %.0f", rec[1].end[i], shorter);
        }
        int64_t journaled_cut = 0;
        CHECK(cut_asked_not_told(part, s, &journaled_cut) && journaled_cut == cut && psum.cut == cut && cut >= 1,
              "budget %.0f s: %d cut, %lld in the journal, %lld counted, each asked and not told", shorter, cut,
              (long long)journaled_cut, (long long)psum.cut);
        CHECK(psum.finished == psum.ok + psum.failed && psum.clock_s <= shorter, "budget %.0f s: %lld failed, clock %.1f",
              shorter, (long long)psum.failed, psum.clock_s);
        CHECK_OK(budget_run(s, ev, longer, 0, part, 1, &rec[1], &rsum));
        CHECK(same_tells(&rec[0], &rec[1]) && rsum.clock_s == sum.clock_s && rsum.ok == sum.ok &&
                  rsum.failed == sum.failed && rsum.cut == sum.cut,
              "%.0f s resumed with %.0f s: the record differs from a %.0f s run (clock %.1f vs %.1f, %lld vs %lld ok)",
              shorter, longer, longer, rsum.clock_s, sum.clock_s, (long long)rsum.ok, (long long)sum.ok);
    }
    CHECK(stopped > 0 && unstarted > 0, "both kinds of cut: %d stopped at the budget, %d not started", stopped,
          unstarted);
    /* a first guess that no trial fits: the first is cut before it starts */
    cf_search_summary sum;
    if (rec) memset(rec, 0, sizeof *rec);
    unlink(part);
    CHECK_OK(budget_run(s, ev, 100, 1, part, 0, &rec[0], &sum));
    CHECK(sum.proposed == 1 && sum.cut == 1 && sum.dispatched == 0 && rec[0].n == 1 && rec[0].attempts[0] == 0,
          "a guess of 1 s per MAC: %lld proposed, %lld cut, %lld dispatched", (long long)sum.proposed,
          (long long)sum.cut, (long long)sum.dispatched);
    unlink(full);
    unlink(part);
    free(rec);
}

/* Bad tables name the file and line. */
static void table_bad_files(cf_space *s, const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/bad.tsv", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "arch\tepochs\tval_acc\ttrain_seconds\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|\t1\tx\t3\n");
    fclose(f);
    cf_evaluator *bad = NULL;
    CHECK_FAILS(cf_evaluator_table_create(path, s, &bad), CF_ERR_PARSE, "bad.tsv:2", "'val_acc': 'x'");
    f = fopen(path, "w");
    fprintf(f, "arch\tepochs\tval_acc\n");
    fclose(f);
    CHECK_FAILS(cf_evaluator_table_create(path, s, &bad), CF_ERR_PARSE, "bad.tsv:1", "'train_seconds'");
    f = fopen(path, "w");
    fprintf(f, "arch\tepochs\tval_acc\ttrain_seconds\n|none~0|+|none~0|bogus~1|+|none~0|none~1|none~2|\t1\t0.5\t3\n");
    fclose(f);
    CHECK_FAILS(cf_evaluator_table_create(path, s, &bad), CF_ERR_PARSE, "bad.tsv:2", "column 'arch'");
    CHECK_FAILS(cf_evaluator_table_create("/nonexistent/t.tsv", s, &bad), CF_ERR_IO, "/nonexistent/t.tsv",
                "tabulate");
    unlink(path);
}

static void test_table_search(const char *dir) {
    cf_space *s = NULL;
    CHECK_OK(cf_space_parse(k_tiny_space, "tiny201.json", &s));
    if (!s) return;
    char path[512];
    snprintf(path, sizeof path, "%s/tiny201.tsv", dir);
    int rows = make_table(s, path);
    CHECK(rows > 20, "%d canonical cells in the table", rows);
    cf_evaluator *ev = NULL;
    CHECK_OK(cf_evaluator_table_create(path, s, &ev));
    if (!ev) {
        cf_space_destroy(s);
        return;
    }
    recorder *rec = calloc(2, sizeof *rec);
    cf_arch a;
    CHECK_OK(cf_arch_parse(s, "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|", &a));
    table_random(s, ev, rows, rec);
    table_placement(s, ev, rows, rec, &a);
    table_limits(s, ev, rows, rec, &a);
    table_budget_resume(s, ev, dir);
    table_bad_files(s, dir);
    free(rec);
    cf_evaluator_destroy(ev);
    cf_space_destroy(s);
}

/* ---- real training on Fashion-MNIST -------------------------------------------------- */

static void test_train_search(void) {
    cf_dataset *all = NULL, *rest = NULL, *small = NULL, *train = NULL, *val = NULL;
    if (cf_dataset_load("fashion-mnist", NULL, "train", &all) != CF_OK) {
        printf("fashion-mnist not installed: the training searches are skipped\n");
        return;
    }
    /* 2400 training and 600 validation images keep each trial under a second */
    CHECK_OK(cf_dataset_split(all, 0.05, 1, &rest, &small));
    CHECK_OK(cf_dataset_split(small, 0.2, 2, &train, &val));
    cf_space *s = NULL;
    CHECK_OK(cf_space_parse(k_tiny_space, "tiny201.json", &s));
    cf_train_config tc;
    cf_train_config_default(&tc);
    tc.batch = 64;
    cf_evaluator *ev = NULL;
    CHECK_OK(cf_evaluator_train_create(s, train, val, &tc, &ev));
    cf_search_config cfg;
    cf_search_config_default(&cfg);
    cfg.max_trials = 6;
    cfg.batch = 64;
    cfg.seed = 5;
    cf_device_report rep;
    cf_devices_discover(&rep);
    cf_worker_desc w[CF_MAX_WORKERS];
    int n = 0;
    CHECK_OK(cf_workers_plan("cpu", 2, 2, 0, &rep, w, &n));
    recorder *rec = calloc(1, sizeof *rec);
    cf_search_summary sum;

    /* two CPU workers side by side */
    CHECK_OK(run_search(&cfg, s, "random", ev, w, n, rec, &sum));
    CHECK(sum.finished == 6 && sum.ok == 6 && sum.best_val_acc > 0.5,
          "6 trials on 2 CPU workers: %lld ok, best %.3f", (long long)sum.ok, sum.best_val_acc);
    CHECK(sum.busy_s[0] > 0 && sum.busy_s[1] > 0, "both workers trained: %.2f / %.2f s", sum.busy_s[0], sum.busy_s[1]);
    printf("2 CPU workers: 6 trials in %.2f s, best val %.2f%%, controller %.1f ms\n", sum.wall_s,
           100 * sum.best_val_acc, 1e3 * sum.controller_s);

    /* data-parallel over the two workers */
    cfg.replicas = 2;
    cfg.max_trials = 2;
    CHECK_OK(run_search(&cfg, s, "random", ev, w, n, rec, &sum));
    CHECK(sum.ok == 2 && rec->replicas[0] == 2 && rec->replicas[1] == 2, "data-parallel trials: %lld ok, replicas %d",
          (long long)sum.ok, rec->replicas[0]);
    cfg.replicas = 0;
    cf_evaluator_destroy(ev);

    /* a learning rate that blows up: every trial fails, the search finishes */
    tc.lr = 1e6;
    CHECK_OK(cf_evaluator_train_create(s, train, val, &tc, &ev));
    cfg.max_trials = 3;
    CHECK_OK(run_search(&cfg, s, "random", ev, w, n, rec, &sum));
    int failed = 0;
    for (int i = 0; i < rec->n; i++)
        failed += rec->status[i] == CF_TRIAL_NAN || rec->status[i] == CF_TRIAL_DIVERGED;
    CHECK(sum.finished == 3 && failed + (int)sum.ok == 3 && failed >= 1,
          "lr 1e6: %d of 3 trials NaN or diverged, the search finished", failed);
    cf_evaluator_destroy(ev);

    /* CPU workers with too little memory: out of memory, recorded, finished */
    tc.lr = 0.1;
    CHECK_OK(cf_evaluator_train_create(s, train, val, &tc, &ev));
    CHECK_OK(cf_workers_plan("cpu", 2, 2, 64 << 10, &rep, w, &n));
    cfg.max_trials = 2;
    CHECK_OK(run_search(&cfg, s, "random", ev, w, n, rec, &sum));
    CHECK(sum.finished == 2 && sum.ok == 0 && rec->status[0] == CF_TRIAL_OOM, "64 KiB of CPU memory: %s",
          cf_trial_status_name(rec->status[0]));

    free(rec);
    cf_evaluator_destroy(ev);
    cf_space_destroy(s);
    cf_dataset_destroy(all);
    cf_dataset_destroy(rest);
    cf_dataset_destroy(small);
    cf_dataset_destroy(train);
    cf_dataset_destroy(val);
}

/* ---- a device whose evaluator does not fit -------------------------------------------- */

static cf_status oom_open(void *self, const cf_worker_desc *w, void **state) {
    (void)self;
    *state = NULL;
    CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: the backend's buffers do not fit the address-space limit", w->name);
}
static void oom_close(void *self, void *state) { (void)self, (void)state; }
static cf_status oom_run(void *self, void *state, const cf_trial_task *task, cf_trial_outcome *out) {
    (void)self, (void)state, (void)task, (void)out;
    CF_FAIL(CF_ERR_INTERNAL, "a trial ran on a device that never opened");
}
static void oom_destroy(void *self) { (void)self; }

static const cf_evaluator_ops k_oom_ops = {
    .name = "oom",
    .open = oom_open,
    .close = oom_close,
    .run = oom_run,
    .destroy = oom_destroy,
};

/* Every trial is recorded out of memory, with the device's reason, after its
 * retries; the search goes on to its end instead of stopping. */
static void test_open_oom(void) {
    cf_space *s = NULL;
    CHECK_OK(cf_space_parse(k_tiny_space, "tiny201.json", &s));
    cf_evaluator ev = {.ops = &k_oom_ops, .input = {1, 28, 28, 10}};
    cf_search_config cfg;
    cf_search_config_default(&cfg);
    cfg.max_trials = 3;
    cfg.batch = 64;
    cfg.oom_retries = 1;
    cf_worker_desc w = kit_gpu(0, 8 * GB, 8);
    w.slots = 1;
    recorder *rec = calloc(1, sizeof *rec);
    cf_search_summary sum;
    CHECK_OK(run_search(&cfg, s, "random", &ev, &w, 1, rec, &sum));
    CHECK(sum.finished == 3 && sum.failed == 3 && sum.ok == 0, "3 trials out of memory: %lld finished, %lld failed",
          (long long)sum.finished, (long long)sum.failed);
    int oom = 0;
    for (int i = 0; i < rec->n; i++) oom += rec->kind[i] == CF_EVENT_FINISHED && rec->status[i] == CF_TRIAL_OOM;
    CHECK(oom == 3, "%d of 3 trials recorded as oom", oom);
    free(rec);
    cf_space_destroy(s);
}

int main(int argc, char **argv) {
    cf_log_set_level(CF_LOG_LEVEL_WARN);
    const char *dir = argc > 1 ? argv[1] : ".";
    test_workers_plan();
    test_place();
    test_table_search(dir);
    test_train_search();
    test_open_oom();
    return test_finish("test_sched");
}
