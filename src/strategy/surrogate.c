/* surrogate.c - the MLP ensemble of surrogate.h: plain loops, one member
 * trained at a time, one allocation per fit.
 *
 * Tested through the bananas strategy in tests/test_search_bananas.c:
 *   ctest --test-dir build -R test_search_bananas --output-on-failure
 */
#include "surrogate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/grow.h"
#include "cellforge/rng.h"

#define H CF_SURROGATE_HIDDEN
/* Examples per Adam step: the whole set up to this many, else draws with
 * replacement. BANANAS trains with batches of 32. */
#define BATCH 32
/* Streams of the fits: trial ids from 2^47 up, which no controller reaches,
 * so they never meet the streams a trial of the same seed draws from. */
#define STREAM_BASE (UINT64_C(1) << 47)

struct cf_surrogate {
    size_t n_features;
    int members, steps;
    float lr;
    uint64_t seed;
    uint64_t key;             /* of the last fit */
    double mean, scale;       /* target = mean + scale * network output */
    int32_t *active;          /* n_features: the stored first-layer row of a feature, or -1 */
    uint32_t *rows;           /* n_active: the feature of each stored row */
    size_t n_active, rows_cap;
    size_t n_params;          /* per member: n_active * H + TAIL */
    float *params;            /* (members, n_params) */
    float *grad, *m1, *m2;    /* (n_params): the member being trained */
};

/* After the stored first-layer rows (n_active, H), each member holds: */
enum {
    OFF_B1 = 0,                 /* (H) */
    OFF_W2 = OFF_B1 + H,        /* (H out, H in) */
    OFF_B2 = OFF_W2 + H * H,    /* (H) */
    OFF_W3 = OFF_B2 + H,        /* (H) */
    OFF_B3 = OFF_W3 + H,        /* (1) */
    TAIL = OFF_B3 + 1
};

cf_status cf_surrogate_create(size_t n_features, int members, int steps, double lr, uint64_t seed,
                              cf_surrogate **out) {
    *out = NULL;
    if (n_features == 0 || members < 1 || members > CF_SURROGATE_MAX_MEMBERS || steps < 1 || !(lr > 0))
        CF_FAIL(CF_ERR_INVALID_ARG, "surrogate: %zu features, %d members, %d steps, lr %g", n_features, members,
                steps, lr);
    cf_surrogate *m = calloc(1, sizeof *m);
    if (!m) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "surrogate: no memory");
    m->active = malloc(n_features * sizeof *m->active);
    if (!m->active) {
        free(m);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "surrogate: no memory for %zu features", n_features);
    }
    for (size_t f = 0; f < n_features; f++) m->active[f] = -1;
    m->n_features = n_features;
    m->members = members;
    m->steps = steps;
    m->lr = (float)lr;
    m->seed = seed;
    m->scale = 1;
    *out = m;
    return CF_OK;
}

void cf_surrogate_destroy(cf_surrogate *m) {
    if (!m) return;
    free(m->active);
    free(m->rows);
    free(m->params);
    free(m->grad);
    free(m->m1);
    free(m->m2);
    free(m);
}

static uint64_t stream_of(uint64_t key, int member, cf_rng_purpose purpose) {
    return cf_rng_stream(STREAM_BASE + key * CF_SURROGATE_MAX_MEMBERS + (uint64_t)member, purpose);
}

/* Initial value of the parameter at `pos` of the dense layout (first-layer
 * row f at f * H, then the tail): uniform in [-bound, bound). */
static float init_at(const cf_surrogate *m, uint64_t stream, uint64_t pos, float bound) {
    uint32_t w = cf_rng_word_at(m->seed, stream, pos);
    return bound * ((float)(w >> 8) * (2.0f / 16777216.0f) - 1.0f);
}

static void init_member(const cf_surrogate *m, int member, float *p) {
    uint64_t stream = stream_of(m->key, member, CF_RNG_PURPOSE_INIT);
    float in_bound = 1.0f / sqrtf((float)m->n_features), hidden_bound = 1.0f / sqrtf((float)H);
    for (size_t r = 0; r < m->n_active; r++)
        for (int h = 0; h < H; h++)
            p[r * H + (size_t)h] = init_at(m, stream, (uint64_t)m->rows[r] * H + (uint64_t)h, in_bound);
    float *tail = p + m->n_active * H;
    uint64_t at = (uint64_t)m->n_features * H;
    for (int t = 0; t < TAIL; t++) tail[t] = init_at(m, stream, at + (uint64_t)t, t < OFF_W2 ? in_bound : hidden_bound);
}

/* One member's activations for one example whose first-layer sum is in a1. */
typedef struct acts {
    float a1[H], h1[H], a2[H], h2[H];
    float y;
} acts;

/* a . b over H values, summed in 8 lanes: the compiler may not reorder a
 * plain running sum, but it vectorizes this one, whose order the code fixes. */
static float dot(const float *a, const float *b) {
    float lane[8] = {0};
    for (int i = 0; i < H; i += 8)
        for (int l = 0; l < 8; l++) lane[l] += a[i + l] * b[i + l];
    return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
}

static void forward_rest(const float *tail, acts *t) {
    for (int h = 0; h < H; h++) t->h1[h] = t->a1[h] > 0 ? t->a1[h] : 0;
    for (int o = 0; o < H; o++) {
        float s = tail[OFF_B2 + o] + dot(&tail[OFF_W2 + o * H], t->h1);
        t->a2[o] = s;
        t->h2[o] = s > 0 ? s : 0;
    }
    t->y = tail[OFF_B3] + dot(&tail[OFF_W3], t->h2);
}

/* Accumulate the gradient of scale * (y - target)^2 / 2 for one example. */
static void backward(const float *tail, float *grad, float *grad_tail, const acts *t, float dy, const uint32_t *rows,
                     const float *value, size_t nnz) {
    float dh2[H], dh1[H];
    grad_tail[OFF_B3] += dy;
    for (int h = 0; h < H; h++) {
        grad_tail[OFF_W3 + h] += dy * t->h2[h];
        dh2[h] = t->a2[h] > 0 ? dy * tail[OFF_W3 + h] : 0;
        grad_tail[OFF_B2 + h] += dh2[h];
        dh1[h] = 0;
    }
    for (int o = 0; o < H; o++) {
        const float *w = &tail[OFF_W2 + o * H];
        float *g = &grad_tail[OFF_W2 + o * H];
        for (int i = 0; i < H; i++) {
            g[i] += dh2[o] * t->h1[i];
            dh1[i] += w[i] * dh2[o];
        }
    }
    for (int h = 0; h < H; h++) {
        dh1[h] = t->a1[h] > 0 ? dh1[h] : 0;
        grad_tail[OFF_B1 + h] += dh1[h];
    }
    for (size_t k = 0; k < nnz; k++) {
        float *g = &grad[(size_t)rows[k] * H];
        for (int h = 0; h < H; h++) g[h] += value[k] * dh1[h];
    }
}

static void train_member(cf_surrogate *m, int member, const cf_surrogate_data *d, const uint32_t *row_of) {
    const size_t P = m->n_params;
    float *p = m->params + (size_t)member * P, *tail = p + m->n_active * H;
    float *grad_tail = m->grad + m->n_active * H;
    init_member(m, member, p);
    memset(m->m1, 0, P * sizeof *m->m1);
    memset(m->m2, 0, P * sizeof *m->m2);
    cf_rng rng = cf_rng_make(m->seed, stream_of(m->key, member, CF_RNG_PURPOSE_DATA));
    size_t batch = d->n < BATCH ? d->n : BATCH;
    const float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
    float decay1 = 1, decay2 = 1;
    for (int step = 1; step <= m->steps; step++) {
        memset(m->grad, 0, P * sizeof *m->grad);
        for (size_t b = 0; b < batch; b++) {
            size_t i = d->n <= BATCH ? b : cf_rng_below(&rng, (uint32_t)d->n);
            size_t s = d->start[i], nnz = d->start[i + 1] - s;
            acts t;
            memcpy(t.a1, &tail[OFF_B1], sizeof t.a1);
            for (size_t k = 0; k < nnz; k++) {
                const float *w = &p[(size_t)row_of[s + k] * H];
                for (int h = 0; h < H; h++) t.a1[h] += d->value[s + k] * w[h];
            }
            forward_rest(tail, &t);
            float target = (float)((d->target[i] - m->mean) / m->scale);
            backward(tail, m->grad, grad_tail, &t, 2.0f * (t.y - target) / (float)batch, &row_of[s], &d->value[s],
                     nnz);
        }
        decay1 *= beta1;
        decay2 *= beta2;
        const float step_size = m->lr / (1 - decay1), inv_c2 = 1 / (1 - decay2);
        for (size_t j = 0; j < P; j++) {
            float g = m->grad[j];
            m->m1[j] = beta1 * m->m1[j] + (1 - beta1) * g;
            m->m2[j] = beta2 * m->m2[j] + (1 - beta2) * g * g;
            p[j] -= step_size * m->m1[j] / (sqrtf(m->m2[j] * inv_c2) + eps);
        }
    }
}

cf_status cf_surrogate_fit(cf_surrogate *m, const cf_surrogate_data *d, uint64_t key) {
    if (d->n == 0) CF_FAIL(CF_ERR_INVALID_ARG, "surrogate: nothing to fit");
    m->key = key;
    /* The first-layer rows to store: every feature of the training set. */
    for (size_t r = 0; r < m->n_active; r++) m->active[m->rows[r]] = -1;
    m->n_active = 0;
    size_t nnz = d->start[d->n];
    uint32_t *row_of = malloc((nnz ? nnz : 1) * sizeof *row_of);
    if (!row_of) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "surrogate: no memory for %zu features", nnz);
    for (size_t k = 0; k < nnz; k++) {
        uint32_t f = d->index[k];
        if (f >= m->n_features) {
            free(row_of);
            CF_FAIL(CF_ERR_INVALID_ARG, "surrogate: feature %u of %zu", f, m->n_features);
        }
        if (m->active[f] < 0) {
            if (cf_grow((void **)&m->rows, &m->rows_cap, m->n_active + 1, sizeof *m->rows) != CF_OK) {
                free(row_of);
                CF_FAIL(CF_ERR_OUT_OF_MEMORY, "surrogate: no memory for %zu rows", m->n_active + 1);
            }
            m->active[f] = (int32_t)m->n_active;
            m->rows[m->n_active++] = f;
        }
        row_of[k] = (uint32_t)m->active[f];
    }
    /* Standardized targets: the fit does not depend on the objective's units. */
    double sum = 0, sq = 0;
    for (size_t i = 0; i < d->n; i++) sum += d->target[i];
    m->mean = sum / (double)d->n;
    for (size_t i = 0; i < d->n; i++) sq += (d->target[i] - m->mean) * (d->target[i] - m->mean);
    m->scale = sqrt(sq / (double)d->n);
    if (!(m->scale > 1e-12)) m->scale = 1;
    m->n_params = m->n_active * H + TAIL;
    free(m->params);
    free(m->grad);
    free(m->m1);
    free(m->m2);
    m->params = malloc((size_t)m->members * m->n_params * sizeof *m->params);
    m->grad = malloc(m->n_params * sizeof *m->grad);
    m->m1 = malloc(m->n_params * sizeof *m->m1);
    m->m2 = malloc(m->n_params * sizeof *m->m2);
    if (!m->params || !m->grad || !m->m1 || !m->m2) {
        free(row_of);
        free(m->params), free(m->grad), free(m->m1), free(m->m2);
        m->params = m->grad = m->m1 = m->m2 = NULL;
        for (size_t r = 0; r < m->n_active; r++) m->active[m->rows[r]] = -1;
        m->n_active = 0;
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "surrogate: no memory for %d members of %zu parameters", m->members,
                m->n_params);
    }
    for (int member = 0; member < m->members; member++) train_member(m, member, d, row_of);
    free(row_of);
    return CF_OK;
}

void cf_surrogate_predict(const cf_surrogate *m, size_t nnz, const uint32_t *index, const float *value, double *out) {
    float in_bound = 1.0f / sqrtf((float)m->n_features);
    for (int member = 0; member < m->members; member++) {
        if (!m->params) {
            out[member] = m->mean;
            continue;
        }
        const float *p = m->params + (size_t)member * m->n_params, *tail = p + m->n_active * H;
        uint64_t stream = stream_of(m->key, member, CF_RNG_PURPOSE_INIT);
        acts t;
        memcpy(t.a1, &tail[OFF_B1], sizeof t.a1);
        for (size_t k = 0; k < nnz; k++) {
            CF_ASSERT(index[k] < m->n_features);
            int32_t r = m->active[index[k]];
            for (int h = 0; h < H; h++) {
                /* A feature absent from the training set keeps its initial row. */
                float w = r >= 0 ? p[(size_t)r * H + (size_t)h]
                                 : init_at(m, stream, (uint64_t)index[k] * H + (uint64_t)h, in_bound);
                t.a1[h] += value[k] * w;
            }
        }
        forward_rest(tail, &t);
        out[member] = m->mean + m->scale * t.y;
    }
}
