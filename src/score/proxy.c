/* proxy.c - zero-cost proxies of an untrained network (definitions in
 * include/cellforge/proxy.h) and the rank correlations that judge them.
 * Tests: tests/test_proxy.c (finite differences, a hand-made kernel),
 * python/tests/test_proxy.py (the same scores computed by PyTorch).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/cost.h"
#include "cellforge/linalg.h"
#include "cellforge/model.h"
#include "cellforge/proxy.h"

static const char *const names[CF_PROXY_COUNT] = {"params", "macs",   "grad_norm", "snip",
                                                  "synflow", "naswot", "fisher",    "jacob_cov"};

const char *cf_proxy_name(cf_proxy_kind k) {
    return k >= 0 && k < CF_PROXY_COUNT ? names[k] : "?";
}

int cf_proxy_parse(const char *name, cf_proxy_kind *out) {
    for (int k = 0; k < CF_PROXY_COUNT; k++)
        if (strcmp(name, names[k]) == 0) {
            *out = (cf_proxy_kind)k;
            return 1;
        }
    return 0;
}

/* A layer whose weight slot 0 the gradient proxies sum over. */
static int scored(const cf_net_layer *l) {
    return !l->aux && l->n_w > 0 && (l->kind == CF_OP_CONV2D || l->kind == CF_OP_LINEAR);
}

/* fisher's running sum, fed by the backward hook: the host copies of a
 * scored layer's output and its gradient. */
typedef struct fisher_sum {
    double sum;
    float *buf; /* (2 * cap): output, then gradient */
    size_t cap;
} fisher_sum;

/* Before layer i's backward: 0.5 x the batch mean of (sum over h, w of a x g)^2
 * per output channel, times the channel's weights (zero-cost-nas spreads each
 * channel's value over them before summing). */
static cf_status fisher_hook(cf_model *m, int i, void *y, const void *dy, void *ctx) {
    const cf_net_layer *l = &m->net->layers[i];
    if (!scored(l)) return CF_OK;
    if (m->dtype != CF_DTYPE_F32) CF_FAIL(CF_ERR_INVALID_ARG, "proxies: fisher reads f32 activations");
    fisher_sum *f = ctx;
    const int n = m->n;
    const size_t plane = (size_t)l->h * l->w, numel = (size_t)n * l->c * plane;
    if (numel > f->cap) {
        free(f->buf);
        f->cap = numel;
        f->buf = malloc(2 * numel * sizeof *f->buf);
        if (!f->buf) {
            f->cap = 0;
            CF_FAIL(CF_ERR_OUT_OF_MEMORY, "proxies: no memory for fisher's copy of layer %d", i);
        }
    }
    const float *a = f->buf, *g = f->buf + numel;
    CF_TRY(cf_backend_copy(m->be, f->buf, y, numel * sizeof *f->buf, CF_COPY_TO_HOST));
    CF_TRY(cf_backend_copy(m->be, f->buf + numel, dy, numel * sizeof *f->buf, CF_COPY_TO_HOST));
    const double per_channel = (double)cf_net_weight_numel(l, 0) / l->c;
    for (int c = 0; c < l->c; c++) {
        double sq = 0;
        for (int b = 0; b < n; b++) {
            size_t at = ((size_t)b * l->c + c) * plane;
            double dot = 0;
            for (size_t k = 0; k < plane; k++) dot += (double)a[at + k] * g[at + k];
            sq += dot * dot;
        }
        f->sum += 0.5 * sq / n * per_channel;
    }
    return CF_OK;
}

/* grad_norm, snip and fisher from the loss gradient of a training-mode forward. */
static cf_status gradient_proxies(cf_model *m, const float *x, const int32_t *y, int n, double *grad_norm,
                                  double *snip, double *fisher) {
    double loss;
    CF_TRY(cf_model_forward(m, x, n, 1));
    CF_TRY(cf_model_loss(m, y, 0, &loss));
    fisher_sum f = {0};
    cf_model_set_hooks(m, NULL, fisher_hook, &f);
    cf_status st = cf_model_backward(m);
    cf_model_set_hooks(m, NULL, NULL, NULL);
    free(f.buf);
    CF_TRY(st);
    *fisher = f.sum;
    float *g = malloc((m->n_params ? m->n_params : 1) * sizeof *g);
    if (!g) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "proxies: no memory for %zu gradients", m->n_params);
    st = cf_backend_copy(m->be, g, m->grad, m->n_params * sizeof *g, CF_COPY_TO_HOST);
    if (st == CF_OK) st = cf_model_to_host(m);
    *grad_norm = *snip = 0;
    for (int i = 0; st == CF_OK && i < m->net->n; i++) {
        const cf_net_layer *l = &m->net->layers[i];
        if (!scored(l)) continue;
        const float *w = cf_model_weight(m, i, 0), *gw = g + m->layers[i].w_offset[0];
        double sq = 0, s = 0;
        for (int64_t k = 0; k < cf_net_weight_numel(l, 0); k++) {
            sq += (double)gw[k] * gw[k];
            s += fabs((double)gw[k] * w[k]);
        }
        *grad_norm += sqrt(sq);
        *snip += s;
    }
    free(g);
    return st;
}

static int relu_layer(const cf_net_layer *l) {
    return !l->aux && (l->kind == CF_OP_RELU || (l->kind == CF_OP_BATCHNORM && l->params.bn.relu));
}

/* The ReLU units' agreement kernel of a training-mode forward, then log|det|. */
static cf_status naswot(cf_model *m, const float *x, int n, double *out) {
    CF_TRY(cf_model_forward(m, x, n, 1));
    const cf_net *net = m->net;
    double *kern = calloc((size_t)n * n, sizeof *kern);
    size_t cap = 0;
    float *act = NULL;
    uint64_t *bits = NULL;
    cf_status st = kern ? CF_OK : CF_ERR_OUT_OF_MEMORY;
    for (int i = 0; st == CF_OK && i < net->n; i++) {
        const cf_net_layer *l = &net->layers[i];
        if (!relu_layer(l)) continue;
        size_t units = (size_t)cf_net_layer_numel(l), words = (units + 63) / 64;
        if ((size_t)n * units > cap) {
            free(act);
            free(bits);
            cap = (size_t)n * units;
            act = malloc(cap * sizeof *act);
            bits = malloc((size_t)n * words * sizeof *bits + sizeof *bits);
            if (!act || !bits) {
                st = CF_ERR_OUT_OF_MEMORY;
                break;
            }
        }
        st = cf_backend_copy(m->be, act, cf_model_output(m, i), (size_t)n * units * sizeof *act, CF_COPY_TO_HOST);
        for (int b = 0; st == CF_OK && b < n; b++) {
            uint64_t *row = bits + (size_t)b * words;
            memset(row, 0, words * sizeof *row);
            for (size_t u = 0; u < units; u++)
                if (act[(size_t)b * units + u] > 0) row[u / 64] |= (uint64_t)1 << (u % 64);
        }
        for (int a = 0; st == CF_OK && a < n; a++)
            for (int b = a; b < n; b++) {
                size_t differ = 0;
                for (size_t w = 0; w < words; w++)
                    differ += (size_t)__builtin_popcountll(bits[(size_t)a * words + w] ^ bits[(size_t)b * words + w]);
                kern[a * n + b] += (double)(units - differ);
            }
    }
    if (st == CF_OK) {
        for (int a = 0; a < n; a++)
            for (int b = 0; b < a; b++) kern[a * n + b] = kern[b * n + a];
        *out = cf_linalg_log_abs_det(kern, n);
    } else if (st == CF_ERR_OUT_OF_MEMORY) {
        cf_error_set(st, __FILE__, __LINE__, "proxies: no memory for the naswot kernel of %d images", n);
    }
    free(kern);
    free(act);
    free(bits);
    return st;
}

/* synflow: |parameters|, batch norm left out, ones in, d(sum of logits)/dW. */
static cf_status synflow(const cf_model *m, double *out) {
    cf_net *lin = NULL;
    CF_TRY(cf_net_clone(m->net, &lin));
    for (int i = 0; i < lin->n; i++) {
        cf_net_layer *l = &lin->layers[i];
        if (l->kind != CF_OP_BATCHNORM) continue;
        l->kind = l->params.bn.relu ? CF_OP_RELU : CF_OP_IDENTITY;
        memset(&l->params, 0, sizeof l->params);
        l->n_w = 0;
    }
    cf_model *d = NULL;
    CF_TRY(cf_model_create_dtype(lin, 1, cf_backend_cpu_ref(), 0, CF_DTYPE_F64, &d));
    for (int i = 0; i < lin->n; i++) {
        const cf_net_layer *l = &d->net->layers[i];
        for (int k = 0; k < l->n_w; k++) {
            const float *src = cf_model_weight(m, i, k);
            double *dst = cf_model_weight(d, i, k);
            for (int64_t e = 0; e < cf_net_weight_numel(l, k); e++) dst[e] = fabs((double)src[e]);
        }
    }
    cf_model_host_changed(d);
    const cf_net_input *in = &d->net->input;
    size_t n_in = (size_t)in->c * in->h * in->w;
    double *ones = malloc(n_in * sizeof *ones), *dlogits = malloc((size_t)in->classes * sizeof *dlogits);
    cf_status st = ones && dlogits ? CF_OK : cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "proxies: no memory");
    for (size_t k = 0; ones && k < n_in; k++) ones[k] = 1;
    for (int k = 0; dlogits && k < in->classes; k++) dlogits[k] = 1;
    if (st == CF_OK) st = cf_model_forward(d, ones, 1, 1);
    if (st == CF_OK) st = cf_model_output_gradient(d, dlogits);
    if (st == CF_OK) st = cf_model_backward(d);
    double s = 0;
    for (int i = 0; st == CF_OK && i < d->net->n; i++) {
        const cf_net_layer *l = &d->net->layers[i];
        if (!scored(l)) continue;
        const double *w = cf_model_weight(d, i, 0), *g = cf_model_weight_grad(d, i, 0);
        for (int64_t e = 0; e < cf_net_weight_numel(l, 0); e++) s += fabs(w[e] * g[e]);
    }
    *out = s;
    free(ones);
    free(dlogits);
    cf_model_destroy(d);
    return st;
}

cf_status cf_proxy_jacob_cov(const double *j, int n, size_t d, double *out) {
    double *r = malloc((size_t)n * d * sizeof *r), *corr = malloc((size_t)n * n * sizeof *corr),
           *v = malloc((size_t)n * sizeof *v);
    if (!r || !corr || !v) {
        free(r);
        free(corr);
        free(v);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "proxies: no memory for the correlations of %d images", n);
    }
    double score = NAN;
    int constant = 0;
    for (int a = 0; a < n; a++) { /* centered rows and their norms */
        double mean = 0, sq = 0;
        for (size_t k = 0; k < d; k++) mean += j[(size_t)a * d + k];
        mean /= (double)d;
        for (size_t k = 0; k < d; k++) {
            double c = j[(size_t)a * d + k] - mean;
            r[(size_t)a * d + k] = c;
            sq += c * c;
        }
        constant |= !(sq > 0);
        corr[a * n + a] = sqrt(sq);
    }
    if (!constant) { /* numpy.corrcoef: covariances over the norms, clipped to [-1, 1] */
        for (int a = 0; a < n; a++)
            for (int b = a + 1; b < n; b++) {
                double dot = 0;
                for (size_t k = 0; k < d; k++) dot += r[(size_t)a * d + k] * r[(size_t)b * d + k];
                double c = dot / (corr[a * n + a] * corr[b * n + b]);
                corr[a * n + b] = c > 1 ? 1 : c < -1 ? -1 : c;
            }
        for (int a = 0; a < n; a++) corr[a * n + a] = 1;
        cf_linalg_sym_eigenvalues(corr, n, v);
        score = 0;
        for (int a = 0; a < n; a++) score -= log(v[a] + 1e-5) + 1 / (v[a] + 1e-5);
    }
    free(r);
    free(corr);
    free(v);
    *out = score;
    return CF_OK;
}

/* jacob_cov: d(sum of the logits)/d(input) of a training-mode forward, one
 * row per image. Last of the passes: the model keeps computing the input
 * gradient from here on. */
static cf_status jacob_cov(cf_model *m, const float *x, int n, double *out) {
    const cf_net_input *in = &m->net->input;
    const size_t d = (size_t)in->c * in->h * in->w, rows = (size_t)n * d;
    CF_TRY(cf_model_keep_input_gradient(m));
    CF_TRY(cf_model_forward(m, x, n, 1));
    float *ones = malloc((size_t)n * in->classes * sizeof *ones), *jf = malloc(rows * sizeof *jf);
    double *j = malloc(rows * sizeof *j);
    cf_status st = ones && jf && j ? CF_OK
                                   : cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__,
                                                  "proxies: no memory for the Jacobian of %d images", n);
    for (size_t k = 0; ones && k < (size_t)n * in->classes; k++) ones[k] = 1;
    if (st == CF_OK) st = cf_model_output_gradient(m, ones);
    if (st == CF_OK) st = cf_model_backward(m);
    if (st == CF_OK) st = cf_backend_copy(m->be, jf, cf_model_input_gradient(m), rows * sizeof *jf, CF_COPY_TO_HOST);
    if (st == CF_OK) {
        for (size_t k = 0; k < rows; k++) j[k] = jf[k];
        st = cf_proxy_jacob_cov(j, n, d, out);
    }
    free(ones);
    free(jf);
    free(j);
    return st;
}

cf_status cf_proxy_score(const cf_net *net, const cf_backend *be, uint64_t seed, const float *x, const int32_t *y,
                         int n, double out[CF_PROXY_COUNT]) {
    return cf_proxy_score_some(net, be, seed, x, y, n, CF_PROXY_ALL, out);
}

cf_status cf_proxy_score_some(const cf_net *net, const cf_backend *be, uint64_t seed, const float *x, const int32_t *y,
                              int n, unsigned mask, double out[CF_PROXY_COUNT]) {
    if (n < 1) CF_FAIL(CF_ERR_INVALID_ARG, "proxies: %d images; at least 1", n);
    for (int k = 0; k < CF_PROXY_COUNT; k++) out[k] = NAN;
    cf_cost cost;
    CF_TRY(cf_cost_of_net(net, n, 0, &cost));
    out[CF_PROXY_PARAMS] = (double)cost.params;
    out[CF_PROXY_MACS] = (double)cost.macs;
    cf_net *copy = NULL;
    CF_TRY(cf_net_clone(net, &copy));
    cf_model *m = NULL;
    CF_TRY(cf_model_create(copy, n, be, 0, &m));
    cf_model_init(m, seed);
    /* synflow first: it reads the initial weights (training moves nothing, but
     * the batch norm statistics of the other passes are not its business) */
    cf_status st = CF_OK;
    if (mask & CF_PROXY_BIT(CF_PROXY_SYNFLOW)) st = synflow(m, &out[CF_PROXY_SYNFLOW]);
    /* the passes after it are independent of each other: training-mode
     * forwards on batch statistics, no weight moves */
    unsigned gradient = CF_PROXY_BIT(CF_PROXY_GRAD_NORM) | CF_PROXY_BIT(CF_PROXY_SNIP) | CF_PROXY_BIT(CF_PROXY_FISHER);
    if (st == CF_OK && (mask & gradient))
        st = gradient_proxies(m, x, y, n, &out[CF_PROXY_GRAD_NORM], &out[CF_PROXY_SNIP], &out[CF_PROXY_FISHER]);
    if (st == CF_OK && (mask & CF_PROXY_BIT(CF_PROXY_NASWOT))) st = naswot(m, x, n, &out[CF_PROXY_NASWOT]);
    if (st == CF_OK && (mask & CF_PROXY_BIT(CF_PROXY_JACOB_COV))) st = jacob_cov(m, x, n, &out[CF_PROXY_JACOB_COV]);
    cf_model_destroy(m);
    return st;
}

cf_status cf_proxy_minibatch(const cf_dataset *ds, int n, uint64_t seed, float *x, int32_t *y) {
    if (n < 1 || (size_t)n > ds->n) CF_FAIL(CF_ERR_INVALID_ARG, "proxies: a minibatch of %d of %zu images", n, ds->n);
    int nc = ds->c;
    double *stats = malloc(2 * (size_t)nc * sizeof *stats);
    float *norm = malloc(2 * (size_t)nc * sizeof *norm);
    uint32_t *order = malloc(ds->n * sizeof *order);
    cf_status st = stats && norm && order ? cf_dataset_channel_stats(ds, stats, stats + nc)
                                          : cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "proxies: no memory");
    if (st == CF_OK) {
        for (int c = 0; c < nc; c++) {
            norm[c] = (float)stats[c];
            norm[nc + c] = (float)(stats[nc + c] > 0 ? stats[nc + c] : 1);
        }
        cf_data_epoch_order(ds->n, seed, 0, order);
        cf_data_batch(ds, order, n, norm, norm + nc, NULL, seed, 0, 0, x, y);
    }
    free(stats);
    free(norm);
    free(order);
    return st;
}

/* ---- rank correlations ------------------------------------------------------ */

typedef struct ranked {
    double v;
    size_t i;
} ranked;

static int by_value(const void *a, const void *b) {
    double x = ((const ranked *)a)->v, y = ((const ranked *)b)->v;
    return x < y ? -1 : x > y;
}

/* Mean ranks (1-based) of v into r. */
static int ranks(const double *v, size_t n, double *r) {
    ranked *t = malloc(n * sizeof *t);
    if (!t) return 0;
    for (size_t i = 0; i < n; i++) t[i] = (ranked){v[i], i};
    qsort(t, n, sizeof *t, by_value);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && t[j + 1].v == t[i].v) j++;
        for (size_t k = i; k <= j; k++) r[t[k].i] = (double)(i + j) / 2 + 1;
        i = j + 1;
    }
    free(t);
    return 1;
}

double cf_spearman(const double *a, const double *b, size_t n) {
    if (n < 2) return NAN;
    double *ra = malloc(n * sizeof *ra), *rb = malloc(n * sizeof *rb);
    double rho = NAN;
    if (ra && rb && ranks(a, n, ra) && ranks(b, n, rb)) {
        double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
        for (size_t i = 0; i < n; i++) {
            ma += ra[i];
            mb += rb[i];
        }
        ma /= (double)n;
        mb /= (double)n;
        for (size_t i = 0; i < n; i++) {
            sab += (ra[i] - ma) * (rb[i] - mb);
            saa += (ra[i] - ma) * (ra[i] - ma);
            sbb += (rb[i] - mb) * (rb[i] - mb);
        }
        if (saa > 0 && sbb > 0) rho = sab / sqrt(saa * sbb);
    }
    free(ra);
    free(rb);
    return rho;
}

double cf_kendall(const double *a, const double *b, size_t n) {
    if (n < 2) return NAN;
    double concordant = 0, discordant = 0, ties_a = 0, ties_b = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            double da = a[i] - a[j], db = b[i] - b[j];
            if (da == 0 && db == 0) continue;
            if (da == 0) ties_a++;
            else if (db == 0) ties_b++;
            else if ((da > 0) == (db > 0)) concordant++;
            else discordant++;
        }
    double denom = sqrt((concordant + discordant + ties_a) * (concordant + discordant + ties_b));
    return denom > 0 ? (concordant - discordant) / denom : NAN;
}
