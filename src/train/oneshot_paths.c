/* oneshot_paths.c - a supernet's mix layers seen as rows of architecture
 * weights: coefficients and paths in, gradients out, architectures mapped on
 * to rows, and the k best architectures of a set of weights.
 *
 * Rows follow build_supernet.c: nb201 edge (i, j) is row j (j - 1) / 2 + i;
 * darts cell type t (0 normal, 1 reduction), node j >= 2, input i is row
 * t E + (j - 1) j / 2 - 1 + i with E edges per cell type. Tested by
 * tests/test_oneshot.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "oneshot_impl.h"

cf_status os_mix_table(os_run *r) {
    const cf_net *net = r->m->net;
    if (net->mix_rows < 1) CF_FAIL(CF_ERR_INVALID_ARG, "one-shot: the model is not a supernet (no mix layers)");
    r->rows = net->mix_rows;
    r->cols = net->mix_cols;
    r->n_mix = 0;
    for (int i = 0; i < net->n; i++) r->n_mix += net->layers[i].kind == CF_OP_MIX;
    r->mix = calloc((size_t)r->n_mix, sizeof *r->mix);
    if (!r->mix) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "one-shot: no memory for %d mix layers", r->n_mix);
    for (int i = 0, k = 0; i < net->n; i++) {
        const cf_net_layer *l = &net->layers[i];
        if (l->kind != CF_OP_MIX) continue;
        if (l->params.mix.row < 0 || l->params.mix.row >= r->rows || l->n_in != r->cols)
            CF_FAIL(CF_ERR_INTERNAL, "one-shot: mix layer %s has row %d of %d and %d inputs of %d", l->name,
                    l->params.mix.row, r->rows, l->n_in, r->cols);
        r->mix[k++] = (os_mix){i, l->params.mix.row};
    }
    return CF_OK;
}

cf_status os_write_coefs(os_run *r, const double *coef) {
    cf_model *m = r->m;
    const size_t tail = m->n_params - m->mix_offset;
    const int f64 = m->dtype == CF_DTYPE_F64;
    for (int k = 0; k < r->n_mix; k++) {
        size_t at = m->layers[r->mix[k].layer].w_offset[0] - m->mix_offset;
        const double *c = coef + (size_t)r->mix[k].row * r->cols;
        for (int j = 0; j < r->cols; j++) {
            if (f64) ((double *)r->tail)[at + (size_t)j] = c[j];
            else ((float *)r->tail)[at + (size_t)j] = (float)c[j];
        }
    }
    memcpy((char *)m->param + m->mix_offset * m->elem, r->tail, tail * m->elem);
    if (!m->on_device) return CF_OK;
    return cf_backend_copy(m->be, (char *)m->dparam + m->mix_offset * m->elem, r->tail, tail * m->elem,
                           CF_COPY_TO_DEVICE);
}

cf_status os_set_row_paths(os_run *r, const uint8_t *row_paths) {
    if (!row_paths) return cf_model_set_paths(r->m, NULL);
    memset(r->paths, 0xff, (size_t)r->m->net->n);
    for (int k = 0; k < r->n_mix; k++) r->paths[r->mix[k].layer] = row_paths[r->mix[k].row];
    return cf_model_set_paths(r->m, r->paths);
}

cf_status os_read_coef_grad(os_run *r, double *out) {
    cf_model *m = r->m;
    const size_t tail = m->n_params - m->mix_offset;
    const int f64 = m->dtype == CF_DTYPE_F64;
    CF_TRY(cf_backend_copy(m->be, r->tail, (const char *)m->grad + m->mix_offset * m->elem, tail * m->elem,
                           CF_COPY_TO_HOST));
    memset(out, 0, (size_t)r->rows * r->cols * sizeof *out);
    for (int k = 0; k < r->n_mix; k++) {
        size_t at = m->layers[r->mix[k].layer].w_offset[0] - m->mix_offset;
        double *o = out + (size_t)r->mix[k].row * r->cols;
        for (int j = 0; j < r->cols; j++)
            o[j] += f64 ? ((const double *)r->tail)[at + (size_t)j] : ((const float *)r->tail)[at + (size_t)j];
    }
    return CF_OK;
}

void cf_oneshot_softmax_backward(const double *p, int rows, int cols, double tau, double *grad) {
    for (int i = 0; i < rows; i++) {
        double *g = grad + (size_t)i * cols;
        const double *q = p + (size_t)i * cols;
        double dot = 0;
        for (int c = 0; c < cols; c++) dot += q[c] * g[c];
        for (int c = 0; c < cols; c++) g[c] = q[c] * (g[c] - dot) / tau;
    }
}

void cf_oneshot_softmax(const double *alpha, int rows, int cols, double *p) {
    for (int i = 0; i < rows; i++) {
        const double *a = alpha + (size_t)i * cols;
        double mx = a[0], z = 0;
        for (int c = 1; c < cols; c++) mx = a[c] > mx ? a[c] : mx;
        for (int c = 0; c < cols; c++) z += (p[(size_t)i * cols + c] = exp(a[c] - mx));
        for (int c = 0; c < cols; c++) p[(size_t)i * cols + c] /= z;
    }
}

static int zero_op(const cf_space *s) {
    for (int k = 0; k < s->n_ops; k++)
        if (s->ops[k].prim == CF_PRIM_ZERO) return k;
    return -1;
}

/* Row of darts input i of node j in cell type t. */
static int darts_row(const cf_space *s, int t, int j, int i) {
    return t * (s->nodes * (s->nodes + 3) / 2) + (j - 1) * j / 2 - 1 + i;
}

cf_status os_arch_rows(const cf_space *s, const cf_arch *a, int rows, int cols, uint8_t *row_paths) {
    memset(row_paths, 0, (size_t)rows);
    if (a->supernet || cols != s->n_ops) CF_FAIL(CF_ERR_INVALID_ARG, "one-shot: not an architecture of the supernet");
    if (s->family == CF_SPACE_FAMILY_NB201) {
        for (int j = 1, row = 0; j < s->nodes; j++)
            for (int i = 0; i < j; i++, row++) row_paths[row] = (uint8_t)(1u << a->cell[0].in[j][i].op);
        return CF_OK;
    }
    if (s->family != CF_SPACE_FAMILY_DARTS) CF_FAIL(CF_ERR_UNSUPPORTED, "one-shot: space %s has no supernet", s->name);
    for (int t = 0; t < 2; t++)
        for (int j = 2; j < 2 + s->nodes; j++)
            for (int e = 0; e < a->cell[t].n_in[j]; e++) {
                cf_arch_in in = a->cell[t].in[j][e];
                row_paths[darts_row(s, t, j, in.from)] |= (uint8_t)(1u << in.op);
            }
    int none = zero_op(s);
    for (int row = 0; row < rows; row++) {
        if (row_paths[row]) continue;
        if (none < 0)
            CF_FAIL(CF_ERR_UNSUPPORTED, "one-shot: space %s has no \"zero\" op for the edges an architecture leaves out",
                    s->name);
        row_paths[row] = (uint8_t)(1u << none);
    }
    return CF_OK;
}

cf_status os_use_arch(os_run *r, const cf_arch *a) {
    CF_TRY(os_arch_rows(r->s, a, r->rows, r->cols, r->row_paths));
    for (int row = 0; row < r->rows; row++)
        for (int c = 0; c < r->cols; c++) r->coef[(size_t)row * r->cols + c] = r->row_paths[row] >> c & 1;
    CF_TRY(os_write_coefs(r, r->coef));
    return os_set_row_paths(r, r->row_paths);
}

cf_status cf_oneshot_set_arch(cf_model *m, const cf_space *s, const cf_arch *a) {
    os_run r = {.m = m, .s = s};
    cf_status st = os_mix_table(&r);
    size_t cells = (size_t)r.rows * r.cols;
    if (st == CF_OK) {
        r.row_paths = malloc((size_t)r.rows);
        r.coef = malloc(cells * sizeof *r.coef);
        r.paths = malloc((size_t)m->net->n);
        r.tail = malloc((m->n_params - m->mix_offset + 1) * m->elem);
        if (!r.row_paths || !r.coef || !r.paths || !r.tail)
            st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "one-shot: no memory");
    }
    if (st == CF_OK) st = os_use_arch(&r, a);
    free(r.mix);
    free(r.row_paths);
    free(r.coef);
    free(r.paths);
    free(r.tail);
    return st;
}

/* ---- the k best architectures ----------------------------------------------------
 * An architecture is a choice per part (nb201: an op per edge; darts: two
 * inputs and their ops per node), its score the sum of its parts' scores, so
 * a beam that keeps the k best partial sums over the parts, each part cut to
 * its own k best options, finds the k best exactly. */

typedef struct option {
    double score;
    int16_t in[2], op[2];           /* nb201: op[0]; darts: (in, op) twice */
} option;

typedef struct partial {
    double score;
    int16_t pick[2 * CF_CELL_MAX_NODES]; /* option index per part */
} partial;

static int by_score(const void *pa, const void *pb) {
    const option *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return memcmp(a->in, b->in, sizeof a->in + sizeof a->op); /* ties: a fixed order */
}

static int by_partial(const void *pa, const void *pb) {
    const partial *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return memcmp(a->pick, b->pick, sizeof a->pick);
}

/* The options of part `part`, best first, at most k; returns their count. */
static int part_options(const cf_space *s, const double *lp, int cols, int part, int k, option *out, int cap) {
    int n = 0, none = zero_op(s);
    if (s->family == CF_SPACE_FAMILY_NB201) {
        for (int c = 0; c < cols && n < cap; c++) out[n++] = (option){lp[(size_t)part * cols + c], {0, 0}, {(int16_t)c, 0}};
    } else {
        int t = part / s->nodes, j = 2 + part % s->nodes;
        for (int i1 = 0; i1 < j; i1++)
            for (int i2 = i1 + 1; i2 < j; i2++)
                for (int o1 = 0; o1 < cols; o1++)
                    for (int o2 = 0; o2 < cols && n < cap; o2++) {
                        if (o1 == none || o2 == none) continue;
                        double v = lp[(size_t)darts_row(s, t, j, i1) * cols + o1] +
                                   lp[(size_t)darts_row(s, t, j, i2) * cols + o2];
                        out[n++] = (option){v, {(int16_t)i1, (int16_t)i2}, {(int16_t)o1, (int16_t)o2}};
                    }
    }
    qsort(out, (size_t)n, sizeof *out, by_score);
    return n < k ? n : k;
}

static void make_arch(const cf_space *s, option *const *opts, const partial *p, int parts, cf_arch *a) {
    memset(a, 0, sizeof *a);
    if (s->family == CF_SPACE_FAMILY_NB201) {
        a->n_cells = 1;
        a->cell[0].n_nodes = (int8_t)s->nodes;
        for (int j = 1, row = 0; j < s->nodes; j++) {
            a->cell[0].n_in[j] = (int8_t)j;
            for (int i = 0; i < j; i++, row++)
                a->cell[0].in[j][i] = (cf_arch_in){(int8_t)i, (int8_t)opts[row][p->pick[row]].op[0]};
        }
        return;
    }
    a->n_cells = 2;
    for (int part = 0; part < parts; part++) {
        int t = part / s->nodes, j = 2 + part % s->nodes;
        const option *o = &opts[part][p->pick[part]];
        cf_arch_cell *c = &a->cell[t];
        c->n_nodes = (int8_t)(s->nodes + 2);
        c->n_in[j] = 2;
        c->in[j][0] = (cf_arch_in){(int8_t)o->in[0], (int8_t)o->op[0]};
        c->in[j][1] = (cf_arch_in){(int8_t)o->in[1], (int8_t)o->op[1]};
        c->concat |= (uint16_t)(1u << j);
    }
}

cf_status cf_oneshot_derive(const cf_space *s, const double *alpha, int rows, int cols, int k, cf_arch *out,
                            double *score, int *n) {
    *n = 0;
    if (k < 1 || k > CF_ONESHOT_MAX_DERIVED)
        CF_FAIL(CF_ERR_INVALID_ARG, "one-shot: derive %d architectures (1..%d)", k, CF_ONESHOT_MAX_DERIVED);
    if (s->family == CF_SPACE_FAMILY_DARTS && s->inputs_per_node != 2)
        CF_FAIL(CF_ERR_UNSUPPORTED, "one-shot: a darts space with %d inputs per node (derivation keeps 2)",
                s->inputs_per_node);
    int parts = s->family == CF_SPACE_FAMILY_NB201 ? rows : 2 * s->nodes;
    const int want = k;
    k *= 4; /* canonical forms may coincide (an edge after a dead node): keep spares */
    const int cap = 2048; /* darts: at most 10 input pairs x 8 x 8 ops */
    double *lp = malloc((size_t)rows * cols * sizeof *lp);
    option *pool = malloc((size_t)parts * cap * sizeof *pool);
    option *opts[2 * CF_CELL_MAX_NODES];
    int n_opt[2 * CF_CELL_MAX_NODES];
    partial *beam = malloc((size_t)k * k * sizeof *beam), *next = malloc((size_t)k * k * sizeof *next);
    cf_status st = CF_OK;
    if (!lp || !pool || !beam || !next) {
        st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "one-shot: no memory to derive");
        goto exit;
    }
    cf_oneshot_softmax(alpha, rows, cols, lp);
    for (size_t i = 0; i < (size_t)rows * cols; i++) lp[i] = log(lp[i] > 1e-300 ? lp[i] : 1e-300);
    int nb = 1;
    memset(beam, 0, sizeof *beam);
    for (int part = 0; part < parts; part++) {
        opts[part] = pool + (size_t)part * cap;
        n_opt[part] = part_options(s, lp, cols, part, k, opts[part], cap);
        int nn = 0;
        for (int b = 0; b < nb; b++)
            for (int o = 0; o < n_opt[part]; o++) {
                next[nn] = beam[b];
                next[nn].pick[part] = (int16_t)o;
                next[nn++].score = beam[b].score + opts[part][o].score;
            }
        qsort(next, (size_t)nn, sizeof *next, by_partial);
        nb = nn < k ? nn : k;
        memcpy(beam, next, (size_t)nb * sizeof *beam);
    }
    int got = 0;
    for (int b = 0; b < nb && got < want; b++) {
        cf_arch a;
        make_arch(s, opts, &beam[b], parts, &a);
        CF_TRY_GOTO(st, cf_arch_validate(s, &a), exit);
        cf_arch_canonical(s, &a, &a);
        int seen = 0;
        for (int i = 0; i < got && !seen; i++) seen = memcmp(&out[i], &a, sizeof a) == 0;
        if (seen) continue;
        out[got] = a;
        if (score) score[got] = beam[b].score;
        got++;
    }
    *n = got;
exit:
    free(lp);
    free(pool);
    free(beam);
    free(next);
    return st;
}
