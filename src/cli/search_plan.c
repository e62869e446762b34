/* search_plan.c - what `cellforge search` works out before its first trial
 * and before its final phase.
 *
 * The pre-flight: before the first trial, 24 cells of the space (drawn with
 * the run's seed, apart from the strategy's own draws) are costed exactly
 * and the median one trains a few steps on the first worker's CPU threads.
 * One line then says how long a median trial should take, how many fit the
 * budget on the workers found and the activation memory of the largest
 * sampled cell, with a warning when not even one fits. The measurement also
 * seeds the controller's estimate of a trial's time (est_s_per_work in
 * sched.h), which the trials that finish then calibrate.
 *
 * The final phase's network and training: --retrain-set widens the skeleton
 * of the final models only, --augment, --cutout, --erase and --label-smoothing
 * apply to their training only (short low-fidelity trials rank cells better
 * without them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/backend.h"
#include "cellforge/cost.h"
#include "cellforge/log.h"
#include "cellforge/model.h"
#include "cellforge/rng.h"
#include "cli.h"

#define PREFLIGHT_SAMPLES 24
#define PREFLIGHT_STEPS 4

static int cmp_i64(const void *x, const void *y) {
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

/* Images per second of training the network of arch on the first worker's
 * CPU threads, over PREFLIGHT_STEPS steps at the run's batch; 0 when it
 * cannot be measured (a GPU worker, or a failure, which the trials will meet
 * and report themselves). */
double search_measure_ips(const cf_space *s, const cf_arch *arch, const cf_dataset *train,
                          const cf_train_config *cfg, const cf_worker_desc *w, int batch) {
    if (w->kind != CF_WORKER_CPU || !train || train->n == 0) return 0;
    cf_net_input in = {train->c, train->h, train->w, train->classes};
    cf_net *net = NULL;
    cf_backend *be = NULL;
    cf_model *m = NULL;
    double ips = 0;
    if (batch > (int)train->n) batch = (int)train->n;
    if (cf_net_build(s, arch, &in, &net) != CF_OK) goto done;
    if (cf_backend_create((cf_device){CF_DEVICE_CPU, 0}, w->threads, 0, &be) != CF_OK) goto done;
    if (cf_model_create_dtype(net, batch, be, cf_space_get_or(s, "auxiliary", 0) != 0, cfg->precision, &m) != CF_OK)
        goto done; /* takes net */
    net = NULL;
    m->threads = w->threads;
    cf_model_init(m, cfg->seed);
    cf_train_config tc = *cfg;
    tc.epochs = 1;
    tc.batch = batch;
    tc.time_limit_s = 60;
    tc.epoch_end = NULL;
    tc.progress = NULL;
    cf_train_result *res = calloc(1, sizeof *res);
    /* one step first: the first touches every buffer and starts the threads */
    for (int steps = 1; res && steps <= PREFLIGHT_STEPS; steps += PREFLIGHT_STEPS - 1) {
        tc.max_epoch_fraction = (double)(steps * batch) / (double)train->n;
        if (tc.max_epoch_fraction > 1) tc.max_epoch_fraction = 1;
        ips = 0;
        if (cf_train(m, train, NULL, &tc, res) != CF_OK || res->status != CF_TRAIN_OK) break;
        ips = res->images_per_s;
    }
    free(res);
done:
    if (ips <= 0) CF_LOG_DEBUG("pre-flight: no measurement: %s", cf_error_message());
    cf_model_destroy(m);
    cf_net_destroy(net);
    cf_backend_destroy(be);
    return ips;
}

static void print_memory(char *buf, size_t cap, double bytes) {
    if (bytes >= 1e9) snprintf(buf, cap, "%.1f GB", bytes / 1e9);
    else snprintf(buf, cap, "%.0f MB", bytes / 1e6);
}

void search_preflight(run_setup *r) {
    if (r->ev->ops->simulated || !r->train) return;
    cf_rng rng = cf_rng_make(r->cfg.seed ^ 0x5052454649ull, cf_rng_stream(0, CF_RNG_PURPOSE_TEST));
    cf_arch archs[PREFLIGHT_SAMPLES];
    int64_t macs[PREFLIGHT_SAMPLES], sorted[PREFLIGHT_SAMPLES];
    double most_memory = 0;
    int n = 0;
    for (int i = 0; i < PREFLIGHT_SAMPLES; i++) {
        cf_cost c;
        cf_arch_sample(r->space, &rng, &archs[n]);
        if (cf_cost_of(r->space, &archs[n], &r->ev->input, r->cfg.batch, &c) != CF_OK) continue;
        macs[n] = c.macs;
        sorted[n] = c.macs;
        if ((double)c.activation_bytes > most_memory) most_memory = (double)c.activation_bytes;
        n++;
    }
    if (n == 0) return;
    qsort(sorted, (size_t)n, sizeof sorted[0], cmp_i64);
    int64_t median = sorted[n / 2];
    const cf_search_config *cfg = &r->cfg;
    int pick = 0;
    for (int i = 0; i < n; i++)
        if (macs[i] == median) pick = i;
    double ips = search_measure_ips(r->space, &archs[pick], r->train, &r->tc, &r->workers[0], cfg->batch);
    char mem[32];
    print_memory(mem, sizeof mem, most_memory);
    double fraction = cfg->fraction > 0 && cfg->fraction < 1 ? cfg->fraction : 1;
    if (ips <= 0) {
        printf("pre-flight: median cell %.2fM MACs; activations up to %s per trial at batch %d; trial "
               "times are known after the first trial on %s\n",
               (double)median / 1e6, mem, cfg->batch, r->workers[0].name);
        return;
    }
    /* training images, then the validation split at about a third of a
     * training step's cost per image */
    double images = (double)cfg->epochs * fraction * (double)r->train->n;
    double trial_s = images / ips + (double)cfg->epochs * (r->val ? (double)r->val->n : 0) / (3 * ips);
    r->cfg.est_s_per_work = trial_s / ((double)median * cfg->epochs * fraction);
    printf("pre-flight: median cell %.2fM MACs trains at %.0f images/s on %s: about %.1f s per trial",
           (double)median / 1e6, ips, r->workers[0].name, trial_s);
    double fit = cfg->time_budget_s * r->n_workers / trial_s;
    if (cfg->time_budget_s > 0 && fit >= 1)
        printf(", about %.0f trial%s in %.0f s on %d worker%s", fit, fit >= 1.5 ? "s" : "", cfg->time_budget_s,
               r->n_workers, r->n_workers == 1 ? "" : "s");
    else if (cfg->time_budget_s > 0)
        printf(", less than one trial in %.0f s", cfg->time_budget_s);
    printf("; activations up to %s per trial at batch %d\n", mem, cfg->batch);
    if (cfg->time_budget_s > 0 && trial_s > cfg->time_budget_s)
        printf("warning: a median trial needs about %.0f s, more than the whole --time of %.0f s: no trial is "
               "likely to finish; lower --fraction or --epochs, set a smaller network (--set), or give more "
               "--time\n", trial_s, cfg->time_budget_s);
    fflush(stdout);
}

/* The final models' skeleton: the search's options, then --retrain-set. */
static int final_space(const cli_args *a, const run_setup *r, cf_space **out) {
    *out = NULL;
    const cli_flag *more = cli_get(a, "retrain-set");
    if (!more || more->count == 0) return -1;
    cf_space *s = NULL;
    int rc = cli_load_space(a, &s);
    if (rc >= 0) return rc;
    for (int i = 0; i < more->count; i++)
        if (cf_space_set_kv(s, more->values[i]) != CF_OK) {
            cf_space_destroy(s);
            return cli_usage_error(a, "--retrain-set: %s", cf_error_message());
        }
    (void)r;
    *out = s;
    return -1;
}

int search_final_setup(const cli_args *a, const run_setup *r, search_final_setup_out *out) {
    memset(out, 0, sizeof *out);
    if (r->ev->ops->simulated || !r->train) return -1;
    int rc = final_space(a, r, &out->space);
    if (rc >= 0) return rc;
    cf_train_config tc = r->tc;
    long long cutout = 0;
    double smoothing = 0, erase = 0;
    if ((rc = cli_knob_count(a, "cutout", &cutout)) >= 0 ||
        (rc = cli_knob_number(a, "label-smoothing", &smoothing)) >= 0 || (rc = cli_knob_number(a, "erase", &erase)) >= 0)
        return rc;
    tc.augment.cutout = (int)cutout;
    tc.augment.erase = erase;
    tc.label_smoothing = smoothing;
    int crop = 0;
    if ((rc = cli_augment(a, &crop, &tc.augment.flip)) >= 0) return rc;
    if (crop) tc.augment.crop_pad = r->train->h <= 28 ? 2 : 4;
    const cf_space *s = out->space ? out->space : r->space;
    double dp = cf_space_get_or(s, "drop_path", 0);
    tc.drop_path = dp > 0 ? dp : 0;
    out->tc = tc;
    if (cf_evaluator_train_create(s, r->train, r->val, &tc, &out->ev) != CF_OK) return cli_fail(a->command);
    return -1;
}

void search_final_setup_free(search_final_setup_out *o) {
    cf_evaluator_destroy(o->ev);
    cf_space_destroy(o->space);
    memset(o, 0, sizeof *o);
}
