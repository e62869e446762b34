/* eval_cmd.c - the `cmd:` evaluator: any program trains a trial.
 *
 * For each trial the command runs under /bin/sh -c in its own process group,
 * with the trial as one JSON object on stdin:
 *
 *   {"trial": 7, "space": "nb201", "space_file": "/.../nb201.json",
 *    "options": {"C": 8, "N": 1}, "hparams": {}, "arch": "|nor_conv_3x3~0|+|...|",
 *    "epochs": 1, "fraction": 0.25, "batch": 256, "lr": 0.1, "seed": 123...,
 *    "dataset": "fashion-mnist", "input": {"height": 28, "width": 28,
 *    "channels": 1, "classes": 10}, "device": "cpu", "threads": 2,
 *    "params": 32258, "macs": 2967000}
 *
 * A space that searches hyperparameters gives each trial its own: "hparams"
 * holds the arch's values ({"lr": 0.0523, "C": 16, "augment": "flip"}, words
 * as strings), and "options", "lr", "batch" and "epochs" follow them.
 *
 * and CELLFORGE_TRIAL, CELLFORGE_DEVICE and OMP_NUM_THREADS in its
 * environment. Its result is the last line of its stdout that is a JSON
 * object: "acc" (or "val_acc"), the validation accuracy in [0, 1], is the
 * trial's score; "seconds" may give the training time (default: the
 * command's wall time); its other keys with number, string or boolean values
 * are recorded as the trial's metrics (the journal's trial_finished event). The
 * other lines of stdout and its stderr are its own (the last line of stderr
 * is kept for a failure's reason).
 *
 * Nothing the command does stops the search: a non-zero exit, a signal, no
 * JSON line, a line without "acc", a value out of range, or running past the
 * trial's time limit (the whole process group is killed) ends the trial as
 * failed with the reason. Tested by tests/cli_cmd_eval.sh.
 *
 * The same evaluator with a function instead of a command (the "callback"
 * evaluator, cf_evaluator_fn_create) serves the library API: the function
 * gets the same JSON and answers with the same result line, in process.
 */
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cellforge/journal.h"
#include "cellforge/sched.h"
#include "cellforge/thread.h"
#include "core/json_read.h"

extern char **environ;

#define OUT_KEEP (64 * 1024) /* the tail of stdout kept to find the result line */
#define ERR_KEEP 2048        /* the tail of stderr kept for a reason */

typedef struct cmd_eval {
    char *command;                 /* the cmd: transport, or NULL */
    cf_eval_fn fn;                 /* the function transport (cf_evaluator_fn_create) */
    void *fn_ctx;
    const cf_space *space;
    char dataset[64];
    double lr;
    uint64_t seed;
} cmd_eval;

static void device_name(const cf_worker_desc *w, char *buf, size_t cap) {
    if (w->kind == CF_WORKER_CUDA) snprintf(buf, cap, "cuda:%d", w->index);
    else snprintf(buf, cap, "cpu");
}

/* The trial as the command reads it. */
static void trial_json(const cmd_eval *ce, const cf_trial_task *task, const cf_net_input *in, char *buf,
                       size_t cap) {
    const cf_trial *t = task->trial;
    const cf_space *s = ce->space;
    const cf_arch *a = &t->cand.arch;
    char arch[2 * CF_ARCH_TEXT_MAX + 16], file[1100], dev[32], opts[1024] = "", hps[2048] = "";
    /* the options the trial's network is built with: the arch's where it searches them */
    for (int i = 0; i < s->n_options; i++) {
        size_t n = strlen(opts);
        snprintf(opts + n, sizeof opts - n, "%s\"%s\": %.17g", i ? ", " : "", s->options[i].name,
                 cf_arch_hparam(s, a, s->options[i].name, s->options[i].value));
    }
    for (int i = 0; i < s->n_hparams; i++) {
        size_t n = strlen(hps);
        const char *word = cf_arch_hparam_choice(s, a, s->hparams[i].name);
        double v = cf_arch_hparam(s, a, s->hparams[i].name, NAN);
        if (isnan(v)) snprintf(hps + n, sizeof hps - n, "%s\"%s\": \"%s\"", i ? ", " : "", s->hparams[i].name, word);
        else snprintf(hps + n, sizeof hps - n, "%s\"%s\": %.17g", i ? ", " : "", s->hparams[i].name, v);
    }
    device_name(task->worker, dev, sizeof dev);
    snprintf(buf, cap,
             "{\"trial\": %lld, \"space\": \"%s\", \"space_file\": \"%s\", \"options\": {%s}, \"hparams\": {%s}, "
             "\"arch\": \"%s\", "
             "\"epochs\": %d, \"fraction\": %.17g, \"batch\": %d, \"lr\": %.17g, \"seed\": %llu, "
             "\"dataset\": \"%s\", \"input\": {\"height\": %d, \"width\": %d, \"channels\": %d, \"classes\": %d}, "
             "\"device\": \"%s\", \"threads\": %d, \"params\": %lld, \"macs\": %lld}\n",
             (long long)t->id, s->name, cf_journal_escape(s->path, file, sizeof file), opts, hps,
             cf_journal_escape(t->arch, arch, sizeof arch), t->cand.epochs, t->cand.fraction > 0 ? t->cand.fraction : 1,
             t->batch, cf_arch_hparam(s, a, "lr", ce->lr), (unsigned long long)cf_trial_seed(ce->seed, t->id), ce->dataset, in->h, in->w, in->c,
             in->classes, dev, task->worker->threads, (long long)t->cost.params, (long long)t->cost.macs);
}

/* Append n bytes to a tail buffer of cap bytes, keeping the last ones. */
static void keep_tail(char *buf, size_t *len, size_t cap, const char *data, size_t n) {
    if (n > cap - 1) {
        data += n - (cap - 1);
        n = cap - 1;
    }
    if (*len + n > cap - 1) {
        size_t drop = *len + n - (cap - 1);
        memmove(buf, buf + drop, *len - drop);
        *len -= drop;
    }
    memcpy(buf + *len, data, n);
    *len += n;
    buf[*len] = 0;
}

/* The last line of text that is a JSON object (modified in place), or NULL. */
static char *last_json_line(char *text) {
    char *best = NULL;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        while (*line == ' ' || *line == '\t' || *line == '\r') line++;
        if (*line == '{') best = line;
    }
    return best;
}

/* The last non-empty line of text, for a reason. */
static const char *last_line(char *text) {
    char *end = text + strlen(text);
    while (end > text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ')) *--end = 0;
    char *nl = strrchr(text, '\n');
    return nl ? nl + 1 : text;
}

typedef struct child {
    pid_t pid;
    int in, out, err;
} child;

static cf_status spawn(const cmd_eval *ce, const cf_trial_task *task, child *c) {
    int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1};
    if (pipe2(pin, O_CLOEXEC) != 0 || pipe2(pout, O_CLOEXEC) != 0 || pipe2(perr, O_CLOEXEC) != 0) {
        int e = errno;
        for (int k = 0; k < 2; k++) {
            if (pin[k] >= 0) close(pin[k]);
            if (pout[k] >= 0) close(pout[k]);
            if (perr[k] >= 0) close(perr[k]);
        }
        CF_FAIL(CF_ERR_IO, "cmd evaluator: no pipe: %s", strerror(e));
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
    posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
    posix_spawn_file_actions_adddup2(&fa, perr[1], 2);
    posix_spawnattr_init(&at);
    posix_spawnattr_setpgroup(&at, 0); /* its own group: a time-out kills its children too */
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    /* the environment plus the trial's id, device and thread count */
    char trial_env[64], dev_env[64], dev[32], omp_env[64];
    device_name(task->worker, dev, sizeof dev);
    snprintf(trial_env, sizeof trial_env, "CELLFORGE_TRIAL=%lld", (long long)task->trial->id);
    snprintf(dev_env, sizeof dev_env, "CELLFORGE_DEVICE=%s", dev);
    snprintf(omp_env, sizeof omp_env, "OMP_NUM_THREADS=%d", task->worker->threads);
    size_t n_env = 0;
    while (environ[n_env]) n_env++;
    char **env = malloc((n_env + 4) * sizeof *env);
    cf_status st = CF_OK;
    if (!env) {
        st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "cmd evaluator: no memory");
    } else {
        size_t k = 0;
        for (size_t i = 0; i < n_env; i++)
            if (strncmp(environ[i], "CELLFORGE_TRIAL=", 16) != 0 && strncmp(environ[i], "CELLFORGE_DEVICE=", 17) != 0 &&
                strncmp(environ[i], "OMP_NUM_THREADS=", 16) != 0)
                env[k++] = environ[i];
        env[k++] = trial_env;
        env[k++] = dev_env;
        env[k++] = omp_env;
        env[k] = NULL;
        char *argv[] = {"/bin/sh", "-c", ce->command, NULL};
        int rc = posix_spawn(&c->pid, "/bin/sh", &fa, &at, argv, env);
        if (rc != 0) st = cf_error_set(CF_ERR_IO, __FILE__, __LINE__, "cmd evaluator: cannot run /bin/sh: %s", strerror(rc));
    }
    free(env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(pin[0]);
    close(pout[1]);
    close(perr[1]);
    c->in = pin[1];
    c->out = pout[0];
    c->err = perr[0];
    if (st != CF_OK) {
        close(c->in);
        close(c->out);
        close(c->err);
    }
    return st;
}

/* Feed stdin, drain stdout and stderr until both close or the limit passes
 * (then the process group is killed). Returns 1 when it timed out. */
static int pump(child *c, const char *input, double limit_s, char *out, size_t *out_len, char *err, size_t *err_len) {
    size_t in_left = strlen(input);
    const char *in_at = input;
    fcntl(c->in, F_SETFL, O_NONBLOCK);
    double t0 = cf_time_now();
    int open_out = 1, open_err = 1, timed_out = 0;
    while (open_out || open_err) {
        struct pollfd p[3];
        int n = 0, io = -1, oo = -1, eo = -1;
        if (c->in >= 0) { io = n; p[n++] = (struct pollfd){c->in, POLLOUT, 0}; }
        if (open_out) { oo = n; p[n++] = (struct pollfd){c->out, POLLIN, 0}; }
        if (open_err) { eo = n; p[n++] = (struct pollfd){c->err, POLLIN, 0}; }
        int wait_ms = 1000;
        if (limit_s > 0) {
            double left = limit_s - (cf_time_now() - t0);
            if (left <= 0) {
                timed_out = 1;
                kill(-c->pid, SIGKILL);
                break;
            }
            if (left * 1000 < wait_ms) wait_ms = (int)(left * 1000) + 1;
        }
        if (poll(p, (nfds_t)n, wait_ms) < 0 && errno != EINTR) break;
        char chunk[4096];
        if (io >= 0 && p[io].revents) {
            ssize_t w = (p[io].revents & POLLOUT) ? write(c->in, in_at, in_left) : -1;
            if (w > 0) {
                in_at += w;
                in_left -= (size_t)w;
            }
            if (w <= 0 && errno != EAGAIN) in_left = 0; /* the command does not read: fine */
            if (in_left == 0) {
                close(c->in);
                c->in = -1;
            }
        }
        if (oo >= 0 && p[oo].revents) {
            ssize_t r = read(c->out, chunk, sizeof chunk);
            if (r > 0) keep_tail(out, out_len, OUT_KEEP, chunk, (size_t)r);
            else if (r == 0 || errno != EINTR) open_out = 0;
        }
        if (eo >= 0 && p[eo].revents) {
            ssize_t r = read(c->err, chunk, sizeof chunk);
            if (r > 0) keep_tail(err, err_len, ERR_KEEP, chunk, (size_t)r);
            else if (r == 0 || errno != EINTR) open_err = 0;
        }
    }
    if (c->in >= 0) close(c->in);
    close(c->out);
    close(c->err);
    return timed_out;
}

/* The result's other keys with number, string or boolean values, as a compact
 * JSON object into buf: as many as fit, in their order. */
static void extra_metrics(const cJSON *root, char *buf, size_t cap) {
    cJSON *keep = cJSON_CreateObject();
    buf[0] = 0;
    for (const cJSON *m = root->child; keep && m; m = m->next) {
        if (!m->string || strcmp(m->string, "acc") == 0 || strcmp(m->string, "val_acc") == 0 ||
            strcmp(m->string, "seconds") == 0 || !(cJSON_IsNumber(m) || cJSON_IsString(m) || cJSON_IsBool(m)))
            continue;
        cJSON_AddItemToObject(keep, m->string, cJSON_Duplicate(m, 0));
        char *text = cJSON_PrintUnformatted(keep);
        if (!text || strlen(text) >= cap) {
            cJSON_DeleteItemFromObject(keep, m->string); /* this one does not fit */
        } else {
            snprintf(buf, cap, "%s", text);
        }
        free(text);
    }
    if (buf[0] && strcmp(buf, "{}") == 0) buf[0] = 0;
    cJSON_Delete(keep);
}

/* The result line into out: its "acc" (or "val_acc"), and "seconds" when given. */
static void read_result(char *stdout_text, const char *stderr_text, int64_t id, cf_trial_outcome *out) {
    char *line = last_json_line(stdout_text);
    if (!line) {
        snprintf(out->reason, sizeof out->reason, "no JSON line on stdout (the result is the last line that is a JSON "
                                                  "object, e.g. {\"acc\": 0.91})%s%.150s",
                 stderr_text[0] ? "; stderr: " : "", stderr_text);
        return;
    }
    char origin[64];
    snprintf(origin, sizeof origin, "trial %lld stdout", (long long)id);
    cJSON *root = NULL;
    if (cf_json_parse(line, origin, &root) != CF_OK || !cJSON_IsObject(root)) {
        snprintf(out->reason, sizeof out->reason, "%.250s", cf_error_message());
        cJSON_Delete(root);
        return;
    }
    const cJSON *acc = cJSON_GetObjectItemCaseSensitive(root, "acc");
    if (!acc) acc = cJSON_GetObjectItemCaseSensitive(root, "val_acc");
    const cJSON *secs = cJSON_GetObjectItemCaseSensitive(root, "seconds");
    if (!cJSON_IsNumber(acc)) {
        snprintf(out->reason, sizeof out->reason, "the result line has no number \"acc\": %.180s", line);
    } else if (!(acc->valuedouble >= 0 && acc->valuedouble <= 1)) {
        snprintf(out->reason, sizeof out->reason, "\"acc\" is %g, expected an accuracy in [0, 1]", acc->valuedouble);
    } else {
        out->status = CF_TRIAL_OK;
        out->val_acc = acc->valuedouble;
        out->reason[0] = 0;
        if (cJSON_IsNumber(secs) && secs->valuedouble >= 0) out->seconds = secs->valuedouble;
        extra_metrics(root, out->metrics, sizeof out->metrics);
    }
    cJSON_Delete(root);
}

/* The function transport: the trial's JSON in, its result line (or why it
 * failed) out. */
static void fn_run(const cmd_eval *ce, const cf_trial_task *task, const char *input, char *text, cf_trial_outcome *out) {
    double t0 = cf_time_now();
    text[0] = 0;
    int rc = ce->fn(ce->fn_ctx, input, text, OUT_KEEP);
    text[OUT_KEEP - 1] = 0;
    out->seconds = cf_time_now() - t0;
    if (rc == CF_EVAL_FN_OK) {
        read_result(text, "", task->trial->id, out);
    } else if (rc == CF_EVAL_FN_CUT) {
        out->status = CF_TRIAL_CUT;
        snprintf(out->reason, sizeof out->reason, "%.250s", text[0] ? text : "not run: the search was stopped");
    } else {
        snprintf(out->reason, sizeof out->reason, "the evaluator failed: %.230s", text[0] ? text : "no reason given");
    }
}

static cf_status cmd_run(void *self, void *state, const cf_trial_task *task, cf_trial_outcome *out) {
    (void)state;
    cmd_eval *ce = self;
    memset(out, 0, sizeof *out);
    out->val_acc = -1;
    out->status = CF_TRIAL_ERROR;
    if (task->rank != 0) { /* one command per trial: the other ranks have nothing to do */
        out->status = CF_TRIAL_OK;
        return CF_OK;
    }
    static const cf_net_input none = {0, 0, 0, 0};
    const cf_net_input *in = task->net ? &task->net->input : &none;
    char input[16384];
    trial_json(ce, task, in, input, sizeof input);
    char *text = malloc(OUT_KEEP), err[ERR_KEEP];
    size_t out_len = 0, err_len = 0;
    if (!text) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "cmd evaluator: no memory");
    text[0] = err[0] = 0;
    if (ce->fn) {
        fn_run(ce, task, input, text, out);
        free(text);
        return CF_OK;
    }
    child c;
    double t0 = cf_time_now();
    if (spawn(ce, task, &c) != CF_OK) {
        snprintf(out->reason, sizeof out->reason, "%s", cf_error_message());
        free(text);
        return CF_OK;
    }
    int timed_out = pump(&c, input, task->time_limit_s, text, &out_len, err, &err_len);
    int ws = 0;
    while (waitpid(c.pid, &ws, 0) < 0 && errno == EINTR) {}
    out->seconds = cf_time_now() - t0;
    const char *why = last_line(err);
    if (timed_out) {
        out->status = CF_TRIAL_TIMEOUT;
        snprintf(out->reason, sizeof out->reason, "the command ran past the trial's time limit of %.0f s and was killed",
                 task->time_limit_s);
    } else if (WIFSIGNALED(ws)) {
        snprintf(out->reason, sizeof out->reason, "the command was killed by signal %d%s%.180s", WTERMSIG(ws),
                 why[0] ? "; stderr: " : "", why);
    } else if (WIFEXITED(ws) && WEXITSTATUS(ws) != 0) {
        snprintf(out->reason, sizeof out->reason, "the command exited with status %d%s%.180s", WEXITSTATUS(ws),
                 why[0] ? "; stderr: " : "", why);
    } else {
        read_result(text, why, task->trial->id, out);
    }
    free(text);
    return CF_OK;
}

static void cmd_destroy(void *self) {
    cmd_eval *ce = self;
    if (ce) free(ce->command);
    free(ce);
}

static cf_status cmd_open(void *self, const cf_worker_desc *w, void **state) {
    (void)self;
    (void)w;
    *state = NULL;
    return CF_OK;
}

static void cmd_close(void *self, void *state) {
    (void)self;
    (void)state;
}

static const cf_evaluator_ops fn_ops = {
    .name = "callback",
    .simulated = 0,
    .open = cmd_open,
    .close = cmd_close,
    .run = cmd_run,
    .destroy = cmd_destroy,
};

static const cf_evaluator_ops cmd_ops = {
    .name = "cmd",
    .simulated = 0,
    .open = cmd_open,
    .close = cmd_close,
    .run = cmd_run,
    .destroy = cmd_destroy,
};

static cf_status create(const char *command, cf_eval_fn fn, void *fn_ctx, const cf_space *s, const cf_net_input *in,
                        const char *dataset, double lr, uint64_t seed, cf_evaluator **out) {
    *out = NULL;
    cf_evaluator *ev = calloc(1, sizeof *ev);
    cmd_eval *ce = calloc(1, sizeof *ce);
    char *copy = command ? strdup(command) : NULL;
    if (!ev || !ce || (command && !copy)) {
        free(ev);
        free(ce);
        free(copy);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s evaluator: no memory", command ? "cmd" : "callback");
    }
    /* a command that exits without reading its stdin must not end the search */
    if (command) signal(SIGPIPE, SIG_IGN);
    ce->command = copy;
    ce->fn = fn;
    ce->fn_ctx = fn_ctx;
    ce->space = s;
    snprintf(ce->dataset, sizeof ce->dataset, "%s", dataset ? dataset : "");
    ce->lr = lr;
    ce->seed = seed;
    ev->ops = command ? &cmd_ops : &fn_ops;
    ev->self = ce;
    ev->input = *in;
    *out = ev;
    return CF_OK;
}

cf_status cf_evaluator_cmd_create(const char *command, const cf_space *s, const cf_net_input *in, const char *dataset,
                                  double lr, uint64_t seed, cf_evaluator **out) {
    *out = NULL;
    if (!command || !*command) CF_FAIL(CF_ERR_INVALID_ARG, "cmd evaluator: the command is empty (cmd:\"python3 train.py\")");
    return create(command, NULL, NULL, s, in, dataset, lr, seed, out);
}

cf_status cf_evaluator_fn_create(cf_eval_fn fn, void *ctx, const cf_space *s, const cf_net_input *in,
                                 const char *dataset, double lr, uint64_t seed, cf_evaluator **out) {
    *out = NULL;
    if (!fn) CF_FAIL(CF_ERR_INVALID_ARG, "callback evaluator: no function");
    return create(NULL, fn, ctx, s, in, dataset, lr, seed, out);
}
