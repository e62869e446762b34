/* api.c - the stable C interface (cellforge/api.h) over the library and the
 * search command.
 *
 * Spaces, archs and costs call the space and cost modules directly. A search
 * runs `cellforge search` in process, so its run directory, journal, resume,
 * report and export are the command's own; `--evaluator callback` sends each
 * trial through the caller's function (search_external, search_setup.c).
 *
 * A study runs that search in a thread of its own whose trial function hands
 * each trial to ask() and waits for tell(). Trials come out of ask in the
 * order the controller dispatched them (the STARTED events), never in the
 * order the worker threads happen to reach the function, so a study's asks
 * repeat exactly for a seed and a sequence of tells.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cellforge/api.h"
#include "cellforge/buf.h"
#include "cellforge/journal.h"
#include "cellforge/backend.h"
#include "cellforge/checkpoint.h"
#include "cellforge/cost.h"
#include "cellforge/device.h"
#include "cellforge/evaluator.h"
#include "cellforge/net.h"
#include "cellforge/proxy.h"
#include "cellforge/space.h"
#include "cli/cli.h"

struct cellforge_space {
    cf_space *s;
};

int cellforge_api_version(void) {
    return CELLFORGE_API_VERSION;
}

const char *cellforge_version(void) {
    return cf_version();
}

const char *cellforge_error(void) {
    return cf_error_message();
}

void cellforge_free(void *p) {
    free(p);
}

/* ---- spaces and architectures ---------------------------------------------- */

int cellforge_space_load(const char *name_or_path, const char *options, cellforge_space **out) {
    *out = NULL;
    cellforge_space *h = calloc(1, sizeof *h);
    if (!h) return cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "no memory");
    if (cf_space_load(name_or_path, &h->s) != CF_OK) {
        free(h);
        return 1;
    }
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", options ? options : "");
    for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        while (*kv == ' ') kv++;
        if (*kv && cf_space_set_kv(h->s, kv) != CF_OK) {
            cellforge_space_free(h);
            return 1;
        }
    }
    *out = h;
    return 0;
}

void cellforge_space_free(cellforge_space *s) {
    if (!s) return;
    cf_space_destroy(s->s);
    free(s);
}

/* A JSON string literal of s into t (the journal's escaping). */
static void put_str(cf_buf *t, const char *s) {
    char esc[2 * CF_ARCH_TEXT_MAX + 8];
    cf_buf_printf(t, "\"%s\"", cf_journal_escape(s, esc, sizeof esc));
}

/* The text of t for the caller to free, or NULL (with the error) when an
 * allocation failed. */
static char *finish_text(cf_buf *t) {
    if (t->failed) {
        cf_buf_free(t);
        cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "no memory for the answer");
        return NULL;
    }
    return t->p;
}

char *cellforge_space_json(const cellforge_space *h) {
    const cf_space *s = h->s;
    cf_buf t = {0};
    cf_buf_printf(&t, "{\"name\": ");
    put_str(&t, s->name);
    cf_buf_printf(&t, ", \"family\": \"%s\", \"path\": ", cf_space_family_name(s->family));
    put_str(&t, s->path);
    cf_buf_printf(&t, ", \"doc\": ");
    put_str(&t, s->doc);
    cf_buf_printf(&t, ", \"ops\": [");
    for (int i = 0; i < s->n_ops; i++) {
        cf_buf_printf(&t, "%s", i ? ", " : "");
        put_str(&t, s->ops[i].name);
    }
    cf_buf_printf(&t, "], \"options\": {");
    for (int i = 0; i < s->n_options; i++) cf_buf_printf(&t, "%s\"%s\": %.17g", i ? ", " : "", s->options[i].name, s->options[i].value);
    cf_buf_printf(&t, "}, \"size\": %.17g, \"syntax\": ", cf_space_size(s));
    put_str(&t, cf_space_arch_syntax(s));
    cf_buf_printf(&t, ", \"encoding_sizes\": {\"onehot\": %zu, \"path\": %zu}}", cf_arch_encoding_size(s, CF_ARCH_ENCODING_ONEHOT),
        cf_arch_encoding_size(s, CF_ARCH_ENCODING_PATH));
    return finish_text(&t);
}

char *cellforge_spaces_json(void) {
    char names[64][32];
    size_t n = cf_space_list(names, 64);
    cf_buf t = {0};
    cf_buf_printf(&t, "[");
    for (size_t i = 0; i < n && i < 64; i++) {
        cf_buf_printf(&t, "%s", i ? ", " : "");
        put_str(&t, names[i]);
    }
    cf_buf_printf(&t, "]");
    return finish_text(&t);
}

static int parse(const cellforge_space *h, const char *arch, cf_arch *a) {
    if (!arch) return cf_error_set(CF_ERR_INVALID_ARG, __FILE__, __LINE__, "no arch text");
    return cf_arch_parse(h->s, arch, a) != CF_OK;
}

static int format(const cellforge_space *h, const cf_arch *a, char *out, size_t cap) {
    return cf_arch_format(h->s, a, out, cap) != CF_OK;
}

int cellforge_arch_sample(const cellforge_space *h, uint64_t seed, char *out, size_t cap) {
    cf_rng rng = cf_rng_make(seed, cf_rng_stream(0, CF_RNG_PURPOSE_SAMPLE));
    cf_arch a;
    cf_arch_sample(h->s, &rng, &a);
    return format(h, &a, out, cap);
}

int cellforge_arch_format(const cellforge_space *h, const char *arch, char *out, size_t cap) {
    cf_arch a;
    if (parse(h, arch, &a)) return 1;
    return format(h, &a, out, cap);
}

int cellforge_arch_mutate(const cellforge_space *h, const char *arch, uint64_t seed, char *out, size_t cap) {
    cf_arch a, b;
    if (parse(h, arch, &a)) return 1;
    cf_rng rng = cf_rng_make(seed, cf_rng_stream(0, CF_RNG_PURPOSE_SAMPLE));
    if (cf_arch_mutate(h->s, &rng, &a, &b) != CF_OK) return 1;
    return format(h, &b, out, cap);
}

int cellforge_arch_canonical(const cellforge_space *h, const char *arch, char *out, size_t cap, uint64_t *hash) {
    cf_arch a, c;
    if (parse(h, arch, &a)) return 1;
    cf_arch_canonical(h->s, &a, &c);
    if (hash) *hash = cf_arch_hash(h->s, &a);
    return format(h, &c, out, cap);
}

int cellforge_arch_cost(const cellforge_space *h, const char *arch, int c, int hh, int w, int classes, int batch,
                        int64_t out[3]) {
    cf_arch a;
    if (parse(h, arch, &a)) return 1;
    cf_net_input in = {.c = c, .h = hh, .w = w, .classes = classes};
    cf_cost cost;
    if (cf_cost_of(h->s, &a, &in, batch, &cost) != CF_OK) return 1;
    out[0] = cost.params;
    out[1] = cost.macs;
    out[2] = (int64_t)cost.activation_bytes;
    return 0;
}

int cellforge_arch_encode(const cellforge_space *h, const char *arch, int kind, float *out, size_t cap, size_t *n) {
    if (kind != CF_ARCH_ENCODING_ONEHOT && kind != CF_ARCH_ENCODING_PATH)
        return cf_error_set(CF_ERR_INVALID_ARG, __FILE__, __LINE__, "encoding %d: 0 (one-hot) or 1 (path)", kind);
    cf_arch a;
    if (parse(h, arch, &a)) return 1;
    size_t size = cf_arch_encoding_size(h->s, (cf_arch_encoding)kind);
    *n = size;
    float *v = malloc((size ? size : 1) * sizeof *v);
    if (!v) return cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "no memory");
    cf_arch_encode(h->s, &a, (cf_arch_encoding)kind, v);
    memcpy(out, v, (size < cap ? size : cap) * sizeof *v);
    free(v);
    return 0;
}

/* One layer's op settings as JSON members. */
static void put_params(cf_buf *t, const cf_net_layer *l) {
    const cf_op_params *p = &l->params;
    switch (l->kind) {
    case CF_OP_CONV2D:
        cf_buf_printf(t, ", \"stride\": [%d, %d], \"padding\": [%d, %d], \"dilation\": [%d, %d], \"groups\": %d",
            p->conv.stride_h, p->conv.stride_w, p->conv.pad_h, p->conv.pad_w, p->conv.dil_h, p->conv.dil_w, p->conv.groups);
        break;
    case CF_OP_AVGPOOL2D:
    case CF_OP_MAXPOOL2D:
        cf_buf_printf(t, ", \"kernel\": [%d, %d], \"stride\": [%d, %d], \"padding\": [%d, %d]", p->pool.kernel_h, p->pool.kernel_w,
            p->pool.stride_h, p->pool.stride_w, p->pool.pad_h, p->pool.pad_w);
        break;
    case CF_OP_BATCHNORM:
        cf_buf_printf(t, ", \"eps\": %.17g, \"momentum\": %.17g, \"relu\": %d", p->bn.eps, p->bn.momentum, p->bn.relu);
        break;
    case CF_OP_ZERO:
        cf_buf_printf(t, ", \"stride\": %d", p->zero.stride);
        break;
    case CF_OP_DROPOUT:
        cf_buf_printf(t, ", \"p\": %.17g", p->dropout.p);
        break;
    case CF_OP_SLICE:
        cf_buf_printf(t, ", \"c0\": %d, \"top\": %d, \"left\": %d", p->slice.c0, p->slice.top, p->slice.left);
        break;
    case CF_OP_MIX: /* no settings: the coefficients are its one weight, listed under "weights" */
    default:
        break;
    }
}

char *cellforge_arch_net_json(const cellforge_space *h, const char *arch, int c, int hh, int w, int classes) {
    cf_arch a;
    if (parse(h, arch, &a)) return NULL;
    cf_net_input in = {.c = c, .h = hh, .w = w, .classes = classes};
    cf_net *net = NULL;
    if (cf_net_build(h->s, &a, &in, &net) != CF_OK) return NULL;
    cf_buf t = {0};
    cf_buf_printf(&t, "{\"input\": [%d, %d, %d], \"classes\": %d, \"logits\": %d, \"aux_logits\": %d, \"layers\": [", c, hh, w,
        classes, net->logits, net->aux_logits);
    for (int i = 0; i < net->n; i++) {
        const cf_net_layer *l = &net->layers[i];
        cf_buf_printf(&t, "%s\n{\"name\": ", i ? "," : "");
        put_str(&t, l->name);
        cf_buf_printf(&t, ", \"op\": \"%s\", \"inputs\": [", cf_op_name(l->kind));
        for (int k = 0; k < l->n_in; k++) cf_buf_printf(&t, "%s%d", k ? ", " : "", l->in[k]);
        cf_buf_printf(&t, "], \"shape\": [%d, %d, %d], \"weights\": [", l->c, l->h, l->w);
        for (int k = 0; k < l->n_w; k++)
            cf_buf_printf(&t, "%s[%lld, %lld, %lld, %lld]", k ? ", " : "", (long long)l->w_shape[k][0], (long long)l->w_shape[k][1],
                (long long)l->w_shape[k][2], (long long)l->w_shape[k][3]);
        cf_buf_printf(&t, "], \"aux\": %d, \"drop_path\": %d", l->aux, l->drop_path);
        put_params(&t, l);
        cf_buf_printf(&t, "}");
    }
    cf_buf_printf(&t, "]}");
    cf_net_destroy(net);
    return finish_text(&t);
}

/* The dataset of the last score, kept for the next (name and images). */
static pthread_mutex_t score_mu = PTHREAD_MUTEX_INITIALIZER;
static char score_name[1024];
static cf_dataset *score_data;

_Static_assert(CF_PROXY_COUNT == 8, "cellforge_arch_score's out[8] (api.h) follows cf_proxy_kind");

int cellforge_arch_score(const cellforge_space *h, const char *arch, const char *dataset, int batch, uint64_t seed,
                         int threads, double out[8]) {
    cf_arch a;
    if (parse(h, arch, &a)) return 1;
    if (!dataset || !*dataset) dataset = "fashion-mnist";
    pthread_mutex_lock(&score_mu);
    int rc = 0;
    if (!score_data || strcmp(score_name, dataset) != 0) {
        cf_dataset_destroy(score_data);
        score_data = NULL;
        snprintf(score_name, sizeof score_name, "%s", dataset);
        rc = cf_dataset_load(dataset, NULL, "train", &score_data) != CF_OK;
    }
    cf_dataset *ds = score_data;
    float *x = NULL;
    int32_t *y = NULL;
    cf_net *net = NULL;
    cf_backend *be = NULL;
    if (!rc) {
        x = malloc((size_t)(batch > 0 ? batch : 1) * ds->c * ds->h * ds->w * sizeof *x);
        y = malloc((size_t)(batch > 0 ? batch : 1) * sizeof *y);
        cf_net_input in = {ds->c, ds->h, ds->w, ds->classes};
        if (!x || !y) rc = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "no memory for the minibatch");
        else rc = cf_proxy_minibatch(ds, batch, seed, x, y) != CF_OK || cf_net_build(h->s, &a, &in, &net) != CF_OK ||
                  cf_backend_cpu_fast_create(threads, &be) != CF_OK || cf_proxy_score(net, be, seed, x, y, batch, out) != CF_OK;
    }
    pthread_mutex_unlock(&score_mu);
    cf_backend_cpu_fast_destroy(be);
    cf_net_destroy(net);
    free(x);
    free(y);
    return rc;
}

/* ---- models ------------------------------------------------------------------- */

int cellforge_model_logits(const char *path, const float *x, int n, float *out, size_t cap) {
    if (n <= 0) return cf_error_set(CF_ERR_INVALID_ARG, __FILE__, __LINE__, "%d images: at least one", n);
    cf_model *m = NULL;
    cf_checkpoint_info info;
    if (cf_checkpoint_load(path, cf_backend_cpu_ref(), n, &m, &info) != CF_OK) return 1;
    int rc = 0;
    size_t need = (size_t)n * (size_t)m->net->input.classes;
    if (need > cap) {
        rc = cf_error_set(CF_ERR_INVALID_ARG, __FILE__, __LINE__, "%s: %zu logits do not fit in %zu floats", path, need, cap);
    } else if (cf_model_forward(m, x, n, 0) != CF_OK || cf_model_logits_host(m, out) != CF_OK) {
        rc = 1;
    }
    cf_model_destroy(m);
    return rc;
}

/* ---- searches ----------------------------------------------------------------- */

/* One search or study at a time: the command's evaluator hook is the process's. */
static pthread_mutex_t busy_mu = PTHREAD_MUTEX_INITIALIZER;
static int busy;
static volatile int stop_flag;

static int claim(void) {
    pthread_mutex_lock(&busy_mu);
    int was = busy;
    busy = 1;
    pthread_mutex_unlock(&busy_mu);
    if (was) return cf_error_set(CF_ERR_INVALID_ARG, __FILE__, __LINE__, "a search is already running in this process "
                                                                         "(one at a time: close the study or let the search end)");
    stop_flag = 0;
    return 0;
}

static void release(void) {
    search_external_set(NULL);
    pthread_mutex_lock(&busy_mu);
    busy = 0;
    pthread_mutex_unlock(&busy_mu);
}

/* argv with argv[0] "search" whatever the caller put there, as the command reads it. */
static char **copy_args(int argc, const char *const *argv) {
    char **v = calloc((size_t)argc + 2, sizeof *v);
    if (!v) return NULL;
    v[0] = strdup("search");
    for (int i = 1; i < argc; i++) v[i] = strdup(argv[i] ? argv[i] : "");
    for (int i = 0; i < argc; i++)
        if (!v[i]) {
            for (int k = 0; k < argc; k++) free(v[k]);
            free(v);
            return NULL;
        }
    return v;
}

static void free_args(char **v, int argc) {
    if (!v) return;
    for (int i = 0; i < argc; i++) free(v[i]);
    free(v);
}

typedef struct plain_fn {
    cellforge_trial_fn fn;
    void *ctx;
} plain_fn;

/* After a stop, trials not yet answered are cut. */
static int plain_call(void *ctx, const char *trial, char *result, size_t cap) {
    const plain_fn *p = ctx;
    if (stop_flag) {
        snprintf(result, cap, "not run: the search was stopped");
        return CF_EVAL_FN_CUT;
    }
    return p->fn(p->ctx, trial, result, cap);
}

int cellforge_search(int argc, const char *const *argv, cellforge_trial_fn fn, void *ctx) {
    if (argc < 1 || !argv) return cf_error_set(CF_ERR_INVALID_ARG, __FILE__, __LINE__, "no arguments"), EXIT_USAGE;
    if (claim()) return EXIT_USAGE;
    char **v = copy_args(argc, argv);
    if (!v) {
        release();
        return cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "no memory"), EXIT_ERROR;
    }
    plain_fn p = {fn, ctx};
    search_external x = {.fn = plain_call, .ctx = &p, .stop = &stop_flag};
    if (fn) search_external_set(&x);
    cf_error_clear();
    int rc = cmd_search(argc, v);
    fflush(stdout);
    free_args(v, argc);
    release();
    return rc;
}

void cellforge_search_stop(void) {
    stop_flag = 1;
}

/* ---- studies ------------------------------------------------------------------ */

/* A trial between the search and the caller. */
typedef struct slot {
    int used;
    int64_t id;
    char *trial;         /* its JSON, from the search */
    int handed;          /* ask gave it out */
    int told;            /* tell answered it */
    int status;          /* CELLFORGE_TRIAL_* */
    char *result;
    int recorded;        /* the journal has its end */
} slot;

/* in flight (up to 8 trials on each of up to CF_MAX_WORKERS GPU workers,
 * place.c), plus as many told whose end the journal does not have yet */
#define STUDY_MAX_SLOTS (16 * CF_MAX_WORKERS)
#define STUDY_FIFO 4096

struct cellforge_study {
    pthread_t thread;
    int argc;
    char **argv;
    int rc, ended;
    char error[512];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    volatile int stop;
    int closing;
    slot slots[STUDY_MAX_SLOTS];
    int64_t fifo[STUDY_FIFO];    /* dispatched trials not asked yet, in dispatch order */
    int fifo_head, fifo_n;
    int parallel;                /* trials the search runs at once (--cpu-workers) */
};

static slot *find_slot(cellforge_study *st, int64_t id) {
    for (int i = 0; i < STUDY_MAX_SLOTS; i++)
        if (st->slots[i].used && st->slots[i].id == id) return &st->slots[i];
    return NULL;
}

static void study_started(void *ctx, int64_t id) {
    cellforge_study *st = ctx;
    pthread_mutex_lock(&st->mu);
    if (st->fifo_n < STUDY_FIFO) st->fifo[(st->fifo_head + st->fifo_n++) % STUDY_FIFO] = id;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

static void study_recorded(void *ctx, int64_t id) {
    cellforge_study *st = ctx;
    pthread_mutex_lock(&st->mu);
    slot *s = find_slot(st, id);
    if (s) s->recorded = 1;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

/* On a worker's thread: hand the trial to ask, wait for its tell. */
static int study_call(void *ctx, const char *trial, char *result, size_t cap) {
    cellforge_study *st = ctx;
    long long id = -1;
    if (sscanf(trial, "{\"trial\": %lld", &id) != 1) {
        snprintf(result, cap, "internal: the trial JSON has no id");
        return CF_EVAL_FN_FAILED;
    }
    pthread_mutex_lock(&st->mu);
    slot *s = NULL;
    for (int i = 0; i < STUDY_MAX_SLOTS && !s; i++)
        if (!st->slots[i].used) s = &st->slots[i];
    char *copy = strdup(trial);
    if (!s || !copy || st->closing) {
        pthread_mutex_unlock(&st->mu);
        free(copy);
        snprintf(result, cap, "not run: the study was closed before this trial was told");
        return CF_EVAL_FN_CUT;
    }
    memset(s, 0, sizeof *s);
    s->used = 1;
    s->id = id;
    s->trial = copy;
    pthread_cond_broadcast(&st->cv);
    while (!s->told && !st->closing) pthread_cond_wait(&st->cv, &st->mu);
    int rc;
    if (s->told) {
        snprintf(result, cap, "%s", s->result ? s->result : "");
        rc = s->status == CELLFORGE_TRIAL_OK ? CF_EVAL_FN_OK : CF_EVAL_FN_FAILED;
        /* the slot stays until the journal has the trial's end (tell waits for it) */
    } else {
        snprintf(result, cap, "not run: the study was closed before this trial was told");
        rc = CF_EVAL_FN_CUT;
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

static void *study_main(void *arg) {
    cellforge_study *st = arg;
    int rc = cmd_search(st->argc, st->argv);
    fflush(stdout);
    pthread_mutex_lock(&st->mu);
    st->rc = rc;
    if (rc != EXIT_OK) snprintf(st->error, sizeof st->error, "%s", cf_error_message());
    st->ended = 1;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

static search_external study_hook;

int cellforge_study_open(int argc, const char *const *argv, cellforge_study **out) {
    *out = NULL;
    if (argc < 1 || !argv) return cf_error_set(CF_ERR_INVALID_ARG, __FILE__, __LINE__, "no arguments");
    if (claim()) return 1;
    cellforge_study *st = calloc(1, sizeof *st);
    if (!st || !(st->argv = copy_args(argc, argv))) {
        free(st);
        release();
        return cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "no memory");
    }
    st->argc = argc;
    /* how many trials run at once: --cpu-workers on the CPU; on GPUs the
     * placement decides, and ask cannot tell a wait from a deadlock */
    st->parallel = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--cpu-workers") == 0 && i + 1 < argc) st->parallel = atoi(argv[i + 1]);
        else if (strncmp(argv[i], "--cpu-workers=", 14) == 0) st->parallel = atoi(argv[i] + 14);
        else if (strcmp(argv[i], "--devices") == 0 && i + 1 < argc && strcmp(argv[i + 1], "cpu") != 0)
            st->parallel = STUDY_MAX_SLOTS;
    }
    if (st->parallel < 1) st->parallel = 1;
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    study_hook = (search_external){.fn = study_call, .ctx = st, .on_started = study_started,
                                   .on_recorded = study_recorded, .stop = &st->stop};
    search_external_set(&study_hook);
    if (pthread_create(&st->thread, NULL, study_main, st) != 0) {
        free_args(st->argv, argc);
        free(st);
        release();
        return cf_error_set(CF_ERR_INTERNAL, __FILE__, __LINE__, "cannot start the study's thread");
    }
    /* open once the search runs (its first trial is out) or has ended: bad
     * arguments fail here, not at the first ask */
    pthread_mutex_lock(&st->mu);
    while (st->fifo_n == 0 && !st->ended) pthread_cond_wait(&st->cv, &st->mu);
    int failed = st->ended && st->rc != EXIT_OK;
    char why[sizeof st->error];
    snprintf(why, sizeof why, "%s", st->error);
    int rc = st->rc;
    pthread_mutex_unlock(&st->mu);
    if (failed) {
        cellforge_study_close(st);
        return cf_error_set(CF_ERR_INVALID_ARG, __FILE__, __LINE__, "%s", why[0] ? why : rc == EXIT_USAGE ?
                            "bad arguments (see the message above)" : "the search failed (see the message above)");
    }
    *out = st;
    return 0;
}

static void deadline_in(struct timespec *ts, double s) {
    clock_gettime(CLOCK_REALTIME, ts);
    double whole = (double)(long long)s;
    ts->tv_sec += (time_t)whole;
    ts->tv_nsec += (long)((s - whole) * 1e9);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int cellforge_study_ask(cellforge_study *st, double timeout_s, char *out, size_t cap) {
    struct timespec until;
    deadline_in(&until, timeout_s > 0 ? timeout_s : 0);
    pthread_mutex_lock(&st->mu);
    int rc = 2;
    for (;;) {
        if (st->fifo_n > 0) {
            int64_t id = st->fifo[st->fifo_head];
            slot *s = find_slot(st, id);
            if (s && !s->handed) {
                snprintf(out, cap, "%s", s->trial);
                s->handed = 1;
                st->fifo_head = (st->fifo_head + 1) % STUDY_FIFO;
                st->fifo_n--;
                rc = 1;
                break;
            }
        }
        if (st->ended) {
            rc = 0;
            if (st->rc != EXIT_OK)
                rc = -1, cf_error_set(CF_ERR_INVALID_ARG, __FILE__, __LINE__, "the search ended with exit code %d: %s",
                                      st->rc, st->error[0] ? st->error : "see its messages above");
            break;
        }
        int open = 0, waiting = 0;
        for (int i = 0; i < STUDY_MAX_SLOTS; i++) {
            open += st->slots[i].used && st->slots[i].handed && !st->slots[i].told;
            waiting += st->slots[i].used && !st->slots[i].handed;
        }
        if (st->fifo_n == 0 && waiting == 0 && open > 0 && open >= st->parallel) {
            rc = -1;
            cf_error_set(CF_ERR_INVALID_ARG, __FILE__, __LINE__,
                         "all %d trials the study runs at once are asked and not told: tell one first, or open the "
                         "study with more at once (parallel=)", open);
            break;
        }
        if (pthread_cond_timedwait(&st->cv, &st->mu, &until) != 0) break;
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int cellforge_study_tell(cellforge_study *st, int64_t trial, int status, const char *result) {
    pthread_mutex_lock(&st->mu);
    slot *s = find_slot(st, trial);
    if (!s || !s->handed || s->told) {
        pthread_mutex_unlock(&st->mu);
        return cf_error_set(CF_ERR_INVALID_ARG, __FILE__, __LINE__, "trial %lld is not waiting for a result (%s)",
                            (long long)trial, s && s->told ? "told already" : "not asked, or asked from another study");
    }
    s->result = strdup(result ? result : "");
    s->status = status;
    s->told = 1;
    pthread_cond_broadcast(&st->cv);
    /* back once the journal has it: a crash after tell loses nothing */
    while (!s->recorded && !st->ended) pthread_cond_wait(&st->cv, &st->mu);
    free(s->trial);
    free(s->result);
    memset(s, 0, sizeof *s);
    pthread_mutex_unlock(&st->mu);
    return 0;
}

int cellforge_study_close(cellforge_study *st) {
    if (!st) return 0;
    pthread_mutex_lock(&st->mu);
    st->closing = 1;
    st->stop = 1;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
    pthread_join(st->thread, NULL);
    int rc = st->rc;
    for (int i = 0; i < STUDY_MAX_SLOTS; i++) {
        free(st->slots[i].trial);
        free(st->slots[i].result);
    }
    free_args(st->argv, st->argc);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    free(st);
    release();
    return rc;
}
