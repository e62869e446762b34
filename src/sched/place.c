/* place.c - where a trial runs: device lists, memory needs, placement.
 *
 * Placement is a pure function of the devices, their current load and the
 * trial's memory need at each replica count, so it is tested with described
 * devices (several GPUs of different sizes) on a machine that has none
 * (tests/test_sched.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cellforge/backend.h"
#include "cellforge/sched.h"

/* ---- workers ------------------------------------------------------------------ */

static size_t machine_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || page <= 0) return (size_t)4 << 30;
    return (size_t)pages * (size_t)page;
}

static void add_cpu_workers(int cpu_workers, int threads, size_t cpu_memory, const cf_device_report *r,
                            cf_worker_desc *out, int *n) {
    int cores = threads > 0 ? threads : (r->cpu_cores > 0 ? r->cpu_cores : 1);
    if (cpu_workers < 1) cpu_workers = 1;
    if (cpu_memory == 0) cpu_memory = machine_memory() / 2;
    for (int k = 0; k < cpu_workers; k++) {
        cf_worker_desc *w = &out[(*n)++];
        memset(w, 0, sizeof *w);
        w->kind = CF_WORKER_CPU;
        w->index = k;
        snprintf(w->name, sizeof w->name, "cpu:%d", k);
        snprintf(w->device, sizeof w->device, "%.63s", r->cpu_model);
        /* threads divided as evenly as they go; every worker has at least one */
        int t = cores * (k + 1) / cpu_workers - cores * k / cpu_workers;
        w->threads = t > 0 ? t : 1;
        w->memory = cpu_memory / (size_t)cpu_workers;
        w->slots = 1; /* a second trial would only split the same threads */
    }
}

static void add_gpu_worker(const cf_gpu_info *g, cf_worker_desc *out, int *n) {
    cf_worker_desc *w = &out[(*n)++];
    memset(w, 0, sizeof *w);
    w->kind = CF_WORKER_CUDA;
    w->index = g->index;
    snprintf(w->name, sizeof w->name, "cuda:%d", g->index);
    snprintf(w->device, sizeof w->device, "%.63s", g->name);
    w->threads = 1;
    /* leave room for the CUDA context, cuDNN/cuBLAS handles and the resident dataset */
    size_t reserve = g->total_bytes / 10 > ((size_t)1 << 30) ? g->total_bytes / 10 : ((size_t)1 << 30);
    w->memory = g->free_bytes > reserve ? g->free_bytes - reserve : 0;
    w->slots = CF_MAX_SLOTS; /* the most; a search sizes its own use (cf_slot_tuner) */
}

/* Rank 0 of one process, this host; each worker its own local index. */
static void set_host(cf_worker_desc *out, int n) {
    char host[CF_HOST_MAX] = "";
    if (gethostname(host, sizeof host - 1) != 0) snprintf(host, sizeof host, "localhost");
    for (int i = 0; i < n; i++) {
        out[i].rank = 0;
        out[i].local = i;
        snprintf(out[i].host, sizeof out[i].host, "%s", host);
    }
}

cf_status cf_workers_plan(const char *devices, int cpu_workers, int threads, size_t cpu_memory,
                          const cf_device_report *report, cf_worker_desc *out, int *n) {
    *n = 0;
    if (cpu_workers > CF_MAX_WORKERS)
        CF_FAIL(CF_ERR_INVALID_ARG, "--cpu-workers %d: at most %d", cpu_workers, CF_MAX_WORKERS);
    if (!devices || !*devices || strcmp(devices, "auto") == 0) {
        /* GPUs train where the CUDA backend is built in; elsewhere "auto" means
         * the CPU and the GPUs are listed by `cellforge devices` only. Beside
         * GPUs the CPU gets a worker only when asked (cpu_workers > 0): its
         * training threads take the cores that the GPU workers' host threads
         * need, and on an H200 with 16 cores a CPU worker beside the GPU one
         * halved the search's trials per minute (194 against ~370). */
        if (report->gpu_count > 0 && cf_sched_gpu_training())
            for (int g = 0; g < report->gpu_count && *n < CF_MAX_WORKERS; g++) add_gpu_worker(&report->gpus[g], out, n);
        if (*n == 0 || cpu_workers > 0) add_cpu_workers(cpu_workers, threads, cpu_memory, report, out, n);
        set_host(out, *n);
        return CF_OK;
    }
    char buf[256];
    snprintf(buf, sizeof buf, "%s", devices);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "cpu") == 0) {
            if (*n + (cpu_workers > 0 ? cpu_workers : 1) > CF_MAX_WORKERS)
                CF_FAIL(CF_ERR_INVALID_ARG, "--devices %s: more than %d workers", devices, CF_MAX_WORKERS);
            add_cpu_workers(cpu_workers, threads, cpu_memory, report, out, n);
            continue;
        }
        const char *digits = tok;
        if (strncmp(tok, "cuda:", 5) == 0) digits = tok + 5;
        else if (tok != buf) digits = tok; /* "cuda:0,1": later entries may be bare ordinals */
        else
            CF_FAIL(CF_ERR_INVALID_ARG, "--devices %s: unknown device '%s' (auto, cpu, cuda:0,1,...)", devices, tok);
        char *end = NULL;
        long g = strtol(digits, &end, 10);
        if (!*digits || *end || g < 0)
            CF_FAIL(CF_ERR_INVALID_ARG, "--devices %s: '%s' is not a device (auto, cpu, cuda:0,1,...)", devices, tok);
        if (g >= report->gpu_count)
            CF_FAIL(CF_ERR_NO_DEVICE, "--devices %s: there is no GPU %ld (%d found%s%s)", devices, g,
                    report->gpu_count, report->gpu_note[0] ? ": " : "", report->gpu_note);
        if (!cf_sched_gpu_training())
            CF_FAIL(CF_ERR_UNSUPPORTED,
                    "--devices %s: this build cannot train on GPUs (it was built without the CUDA "
                    "toolkit); use --devices cpu",
                    devices);
        for (int k = 0; k < *n; k++)
            if (out[k].kind == CF_WORKER_CUDA && out[k].index == g)
                CF_FAIL(CF_ERR_INVALID_ARG, "--devices %s: GPU %ld named twice", devices, g);
        if (*n >= CF_MAX_WORKERS) CF_FAIL(CF_ERR_INVALID_ARG, "--devices %s: more than %d workers", devices, CF_MAX_WORKERS);
        add_gpu_worker(&report->gpus[g], out, n);
    }
    if (*n == 0) CF_FAIL(CF_ERR_INVALID_ARG, "--devices '%s' names no device", devices);
    set_host(out, *n);
    return CF_OK;
}

int cf_sched_gpu_training(void) {
    return cf_backend_cuda_built();
}

/* ---- memory ------------------------------------------------------------------- */

static size_t round16(size_t n) {
    return (n + 15) & ~(size_t)15;
}

size_t cf_trial_memory_act(const cf_net *net, int batch, int with_aux, size_t activation_bytes) {
    size_t weights = 0, state = 0, cols = 0;
    for (int i = 0; i < net->n; i++) {
        const cf_net_layer *l = &net->layers[i];
        if (l->aux && !with_aux) continue;
        for (int k = 0; k < l->n_w; k++) weights += round16((size_t)cf_net_weight_numel(l, k));
        if (l->kind == CF_OP_BATCHNORM) state += 4 * round16((size_t)l->c);
        if (l->kind == CF_OP_CONV2D && l->n_w > 0) {
            /* one image's im2col columns: (C/g * KH * KW, OH * OW) */
            size_t c = (size_t)(l->w_shape[0][1] * l->w_shape[0][2] * l->w_shape[0][3]) * (size_t)l->h * (size_t)l->w;
            if (c > cols) cols = c;
        }
    }
    const size_t image = (size_t)net->input.c * (size_t)net->input.h * (size_t)net->input.w;
    size_t bytes = 0;
    bytes += 3 * weights * sizeof(float);            /* parameters, gradients, momentum */
    if (net->mix_rows > 0) bytes += 3 * weights * sizeof(float); /* a supernet's one-shot trainer:
                                                        second-order DARTS's copies of the weights */
    bytes += state * sizeof(float);                  /* running and saved BN statistics */
    bytes += activation_bytes;                       /* activations and their gradients */
    bytes += (size_t)batch * (image * sizeof(float) + sizeof(int32_t)); /* the input batch */
    bytes += 16 * cols * sizeof(float);              /* convolution workspace: up to 16 columns
                                                        buffers in flight (threads or streams) */
    return bytes;
}

size_t cf_trial_memory(const cf_net *net, int batch, int with_aux) {
    cf_net_plan plan;
    size_t act = 0;
    if (cf_net_plan_activations(net, batch, sizeof(float), with_aux, &plan) == CF_OK) {
        act = plan.bytes;
        cf_net_plan_free(&plan);
    }
    return cf_trial_memory_act(net, batch, with_aux, act);
}

/* ---- placement ---------------------------------------------------------------- */

static int has_room(const cf_worker_desc *w, const cf_place_load *l, size_t need) {
    return l->running < w->slots && w->memory >= l->used && w->memory - l->used >= need;
}

/* Is a better than b for a single-device trial? */
static int better(const cf_worker_desc *w, const cf_place_load *load, int a, int b) {
    if (b < 0) return 1;
    if (load[a].running != load[b].running) return load[a].running < load[b].running;
    size_t fa = w[a].memory - load[a].used, fb = w[b].memory - load[b].used;
    if (fa != fb) return fa < fb;
    return a < b;
}

/* Pick k workers of one kind that fit need now (busy: honor load) or when idle,
 * from one rank's workers (rank >= 0) or from every rank's (rank < 0).
 * Prefers the least busy, then the ones with the most free memory; *busy gets
 * the trials running on the picked ones. */
static int pick_in(const cf_worker_desc *w, const cf_place_load *load, int n, size_t need, int k, int now,
                   int rank, int *out, int *busy) {
    for (int kind = 0; kind <= CF_WORKER_CUDA; kind++) {
        int cand[CF_MAX_WORKERS], m = 0;
        for (int i = 0; i < n; i++) {
            if ((int)w[i].kind != kind || (rank >= 0 && w[i].rank != rank)) continue;
            cf_place_load idle = {0, 0};
            if (has_room(&w[i], now ? &load[i] : &idle, need)) cand[m++] = i;
        }
        if (m < k) continue;
        /* selection sort of the k best: least busy, then most free */
        *busy = 0;
        for (int a = 0; a < k; a++) {
            int best = a;
            for (int b = a + 1; b < m; b++) {
                int x = cand[b], y = cand[best];
                size_t fx = w[x].memory - (now ? load[x].used : 0), fy = w[y].memory - (now ? load[y].used : 0);
                int rx = now ? load[x].running : 0, ry = now ? load[y].running : 0;
                if (rx < ry || (rx == ry && (fx > fy || (fx == fy && x < y)))) best = b;
            }
            int t = cand[a];
            cand[a] = cand[best];
            cand[best] = t;
            out[a] = cand[a];
            *busy += now ? load[cand[a]].running : 0;
        }
        return 1;
    }
    return 0;
}

/* A group of k: drawn from every rank's workers when span is set, else from
 * one rank's (a group on one node sums its gradients in memory): the rank
 * whose picks are least busy, then the lowest. */
static int pick_group(const cf_worker_desc *w, const cf_place_load *load, int n, size_t need, int k, int now,
                      int span, int *out) {
    int busy = 0;
    if (span) return pick_in(w, load, n, need, k, now, -1, out, &busy);
    int found = 0, best_busy = 0, picks[CF_MAX_WORKERS];
    for (int r = 0, last = -1; r < n; r++) {
        /* each rank once, at its first worker (a rank's workers are listed together) */
        if (w[r].rank == last) continue;
        last = w[r].rank;
        if (pick_in(w, load, n, need, k, now, w[r].rank, picks, &busy) && (!found || busy < best_busy)) {
            found = 1;
            best_busy = busy;
            memcpy(out, picks, (size_t)k * sizeof *out);
        }
    }
    return found;
}

cf_place cf_place_decide(const cf_worker_desc *w, const cf_place_load *load, int n, const size_t *need,
                         int replicas, int span) {
    cf_place p;
    memset(&p, 0, sizeof p);
    p.verdict = CF_PLACE_NEVER;
    if (n <= 0) return p;
    if (replicas > 1) {
        if (replicas > n) return p;
        if (pick_group(w, load, n, need[replicas], replicas, 1, span, p.workers)) {
            p.verdict = CF_PLACE_OK;
            p.count = replicas;
        } else if (pick_group(w, load, n, need[replicas], replicas, 0, span, p.workers)) {
            p.verdict = CF_PLACE_WAIT;
        }
        return p;
    }
    int best = -1, fits_idle = 0;
    for (int i = 0; i < n; i++) {
        if (w[i].memory >= need[1] && w[i].slots > 0) fits_idle = 1;
        if (has_room(&w[i], &load[i], need[1]) && better(w, load, i, best)) best = i;
    }
    if (best >= 0) {
        p.verdict = CF_PLACE_OK;
        p.count = 1;
        p.workers[0] = best;
        return p;
    }
    if (fits_idle) {
        p.verdict = CF_PLACE_WAIT;
        return p;
    }
    /* too big for any one device: the smallest data-parallel group that fits */
    for (int k = 2; k <= n; k++) {
        if (pick_group(w, load, n, need[k], k, 1, span, p.workers)) {
            p.verdict = CF_PLACE_OK;
            p.count = k;
            return p;
        }
        if (pick_group(w, load, n, need[k], k, 0, span, p.workers)) {
            p.verdict = CF_PLACE_WAIT;
            p.count = k;
            return p;
        }
    }
    return p;
}
