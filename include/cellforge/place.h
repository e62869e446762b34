/* place.h - the workers of a search and where a trial runs on them.
 *
 * Workers come from `--devices auto|cpu|cuda:0,1,...` and `--cpu-workers K`
 * (the CPU split into K workers, threads divided among them), so every
 * scheduling path also runs on a machine without a GPU. Placement is pure: it
 * decides from described devices and their load, which is how tests/test_sched.c
 * checks it. Implemented in src/sched/place.c.
 *
 *   cf_worker_desc w[CF_MAX_WORKERS];
 *   int n;
 *   CF_TRY(cf_workers_plan("auto", 0, 0, 0, &report, w, &n));
 *   size_t need[2] = {0, cf_trial_memory(net, 256, 0)};
 *   cf_place_load load[CF_MAX_WORKERS] = {0};
 *   cf_place p = cf_place_decide(w, load, n, need, 0);
 */
#ifndef CELLFORGE_PLACE_H
#define CELLFORGE_PLACE_H

#include <stddef.h>
#include "cellforge/device.h"
#include "cellforge/net.h"
#include "cellforge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CF_MAX_WORKERS 32
#define CF_MAX_SLOTS 16     /* trials one worker runs at once, at most */
#define CF_HOST_MAX 64

/* ---- workers ---------------------------------------------------------------- */

typedef enum cf_worker_kind { CF_WORKER_CPU = 0, CF_WORKER_CUDA } cf_worker_kind;

/* One device as placement sees it. */
typedef struct cf_worker_desc {
    cf_worker_kind kind;
    int index;             /* GPU ordinal, or the CPU worker's number */
    char name[24];         /* "cpu:0", "cuda:1" */
    char device[64];       /* what it is: the GPU's name ("NVIDIA H200"), the CPU's model;
                              "" when not known */
    int threads;           /* CPU threads of this worker */
    size_t memory;         /* bytes trials may plan on this device */
    int slots;             /* trials that may run on it at once (a search clamps it to
                              1..CF_MAX_SLOTS) */
    int rank;              /* the MPI rank whose process runs it; 0 in one process */
    int local;             /* its index among that rank's own workers */
    char host[CF_HOST_MAX]; /* the host name of that process */
} cf_worker_desc;

/* Workers for a device list: "auto" (every usable GPU, else the CPU), "cpu", or
 * "cuda:0,1". The CPU becomes cpu_workers workers (0: one) sharing `threads`
 * threads (0: every core), each with an equal share of cpu_memory bytes (0: half
 * of the machine's RAM). A device that is named but absent or unusable fails
 * with a message naming it. Every worker is rank 0's, on this host. */
cf_status cf_workers_plan(const char *devices, int cpu_workers, int threads, size_t cpu_memory,
                          const cf_device_report *report, cf_worker_desc *out, int *n);

/* 1 when this build trains on GPUs (the CUDA training backend is built in). */
int cf_sched_gpu_training(void);

/* ---- placement (pure; tested with described devices) ------------------------ */

/* A worker's load at the moment of a decision. */
typedef struct cf_place_load {
    size_t used;           /* bytes planned by the trials running on it */
    int running;           /* trials (or data-parallel ranks) running on it */
} cf_place_load;

typedef enum cf_place_verdict {
    CF_PLACE_OK = 0,       /* run now on workers[0..count) */
    CF_PLACE_WAIT,         /* fits once running trials finish */
    CF_PLACE_NEVER,        /* does not fit these devices even when idle */
} cf_place_verdict;

typedef struct cf_place {
    cf_place_verdict verdict;
    int count;             /* replicas: 1, or the data-parallel group size */
    int workers[CF_MAX_WORKERS];
} cf_place;

/* Decide where a trial runs. need[k] is the bytes one replica needs when the
 * trial runs on k replicas (k = 1..n; need[0] unused). replicas: 0 lets
 * placement choose (one device when it fits, else the smallest data-parallel
 * group of one kind whose members fit); k > 1 asks for exactly k.
 * Among devices that fit, the least busy wins, then the tightest fit (so large
 * holes stay free for large trials), then the lowest index. A group takes the
 * workers of one MPI rank (one process, so one node) unless span is set, when
 * it may take workers of several (their gradients then travel over MPI). */
cf_place cf_place_decide(const cf_worker_desc *w, const cf_place_load *load, int n,
                         const size_t *need, int replicas, int span);

/* ---- slots: how many trials a device runs at once ---------------------------- */

/* Sized by measurement: start low, add a trial at a time while the work the
 * device finishes per second rises by 5% or more, settle at the best level
 * once it does not (or once the device's memory ran short at a level). A CPU
 * worker runs one trial (a second would split the same threads); a GPU is
 * tuned between 1 and its slots (src/sched/slots.c). */
typedef struct cf_slot_tuner {
    int limit;             /* trials it may run at once now */
    int max;               /* never more */
    int settled;           /* 1: the limit stays */
    double rate;           /* work per second at the settled or last raised level */
    /* the window at the current level */
    double since;          /* when the level began (-1 before the first trial) */
    double work;           /* work of the trials that started and ended in it */
    int done;              /* those trials */
    double prev_rate;      /* the level below's work per second; 0: none measured */
    int memory_short;      /* a trial had a slot but no memory at this level */
} cf_slot_tuner;

void cf_slot_tuner_init(cf_slot_tuner *t, int start, int max);
/* A trial of `work` units (any unit, the same for every trial: MACs x epochs
 * x fraction) ran on the device from `start` to `now` (seconds). 1 when the
 * limit changed. */
int cf_slot_tuner_finished(cf_slot_tuner *t, double start, double now, double work);
/* A trial waited though the device had a free slot: its memory was short. */
void cf_slot_tuner_short(cf_slot_tuner *t);

/* Worker w's tuner: a fixed limit (fixed > 0, at most its slots), or
 * measured from 1 up to its slots (measure), or its slots as they are. */
void cf_slot_tuner_for(cf_slot_tuner *t, const cf_worker_desc *w, int fixed, int measure);
/* A trial needing `need` bytes found no place: each tuning device that had a
 * free slot but not the memory is told it ran short. */
void cf_slot_tuners_waited(cf_slot_tuner *t, const cf_worker_desc *w, const cf_place_load *load, int n,
                           size_t need);
/* cf_slot_tuner_finished, with a line in the log when device `name` changes its limit. */
int cf_slot_tuner_tell(cf_slot_tuner *t, const char *name, double start, double now, double work);

/* Bytes a trial needs on one device, from the network's memory plan: weights,
 * gradients and momentum, batch-norm state, the activation arena at the batch
 * (the replica's shard), the input batch, and the backend's workspace. */
size_t cf_trial_memory(const cf_net *net, int batch, int with_aux);
/* The same with the activation arena at this batch already known (e.g. the
 * cost model's activation_bytes), which saves planning it again. */
size_t cf_trial_memory_act(const cf_net *net, int batch, int with_aux, size_t activation_bytes);

#ifdef __cplusplus
}
#endif
#endif
