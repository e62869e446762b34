/* report_charts.c - the report's data charts as inline SVG: the Pareto front
 * (validation accuracy against MACs or parameters, log x), the best accuracy
 * over the run clock and the learning curves of the top models (the timeline
 * of the devices is report_timeline.c). Each prints a short message instead of
 * a chart when there is nothing to draw. Tests: tests/cli_report.sh.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/pareto.h"
#include "report_impl.h"

void rp_empty(rp_buf *b, const char *msg) {
    rp_puts(b, "<p class=\"empty\">");
    rp_esc(b, msg);
    rp_puts(b, "</p>\n");
}

static double cost_of(const rp_trial *t, int by_params) { return (double)(by_params ? t->params : t->macs); }

static void circle(rp_buf *b, const char *cls, double x, double y, double r) {
    rp_printf(b, "<circle class=\"%s\" cx=\"", cls);
    rp_xy(b, x);
    rp_puts(b, "\" cy=\"");
    rp_xy(b, y);
    rp_printf(b, "\" r=\"%.1f\"", r);
}

/* A dense scatter (no tooltips): every mark of a class as a dot of one path,
 * a tenth of the bytes of a circle each. */
static void dot(rp_buf *b, double x, double y) {
    rp_puts(b, "M");
    rp_xy(b, x);
    rp_puts(b, " ");
    rp_xy(b, y);
    rp_puts(b, "h0");
}

static void trial_title(rp_buf *b, const rp_trial *t, int by_params) {
    char a[32], c[32];
    rp_printf(b, "<title>trial %lld: val %s, %s %s</title>", (long long)t->id, rp_fmt_pct(t->val_acc, 2, a, sizeof a),
              rp_fmt_si(cost_of(t, by_params), c, sizeof c), by_params ? "params" : "MACs");
}

/* ---- Pareto front ------------------------------------------------------------------- */

typedef struct label_box {
    double x0, y0, x1, y1;
} label_box;

static int overlaps(const label_box *boxes, int n, label_box k) {
    for (int i = 0; i < n; i++)
        if (k.x0 < boxes[i].x1 && boxes[i].x0 < k.x1 && k.y0 < boxes[i].y1 && boxes[i].y0 < k.y1) return 1;
    return 0;
}

/* Widen [lo, hi] of x and y to hold a point. */
static void grow_range(double *r, double x, double y) {
    r[0] = fmin(r[0], x);
    r[1] = fmax(r[1], x);
    r[2] = fmin(r[2], y);
    r[3] = fmax(r[3], y);
}

static int cmp_by_x(const void *a, const void *b) {
    const double *x = a, *y = b;
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

/* Not a point of the chart: failed, a supernet, or its accuracy or cost unknown. */
static int off_chart(const rp_trial *t, int by_params) {
    return !rp_trial_is_model(t) || t->val_acc < 0 || cost_of(t, by_params) <= 0;
}

/* A trial trained for fewer epochs than the run's fidelity (multi-fidelity strategies). */
static int is_low(const rp_run *run, const rp_trial *t) {
    return run->fidelity > 0 && t->epochs != run->fidelity && t->epochs != 0;
}

/* The cost of a final model: its own, else its search trial's. */
static double final_cost(const rp_run *run, const rp_final *f, int by_params) {
    double cost = (double)(by_params ? f->params : f->macs);
    if (cost <= 0 && f->trial >= 0 && f->trial < run->n_trials) cost = cost_of(&run->trials[f->trial], by_params);
    return cost;
}

/* What the chart draws: the points' range and the front of the trials at the
 * run's fidelity. pareto_free frees it. */
typedef struct pareto_data {
    int64_t n_ok;     /* points */
    double range[4];  /* cost lo, hi; accuracy lo, hi (final models included) */
    double *pts;      /* (error, cost) of the trials at the run's fidelity */
    int64_t *ids;     /* their trial ids */
    size_t *front, m; /* the front: indices into pts */
    double *line;     /* (cost, accuracy) of the front, by cost */
    char *on_front;   /* per trial: on the front; NULL without memory */
} pareto_data;

static void pareto_free(pareto_data *d) {
    free(d->pts);
    free(d->ids);
    free(d->front);
    free(d->line);
    free(d->on_front);
}

static void pareto_range(const rp_run *run, int by_params, pareto_data *d) {
    double *range = d->range;
    range[0] = range[2] = INFINITY;
    range[1] = range[3] = -INFINITY;
    for (int64_t i = 0; i < run->n_trials; i++) {
        const rp_trial *t = &run->trials[i];
        if (off_chart(t, by_params)) continue;
        d->n_ok++;
        grow_range(range, cost_of(t, by_params), t->val_acc);
    }
    for (int i = 0; i < run->n_finals; i++) {
        const rp_final *f = &run->finals[i];
        double x = final_cost(run, f, by_params);
        if (f->val_acc >= 0 && x > 0) grow_range(range, x, f->val_acc);
    }
}

/* The front of (error, cost); -1 without memory. */
static int pareto_find(const rp_run *run, int by_params, pareto_data *d) {
    d->pts = malloc((size_t)d->n_ok * 2 * sizeof *d->pts);
    d->ids = malloc((size_t)d->n_ok * sizeof *d->ids);
    d->front = malloc((size_t)d->n_ok * sizeof *d->front);
    d->line = malloc((size_t)d->n_ok * 2 * sizeof *d->line);
    if (!d->pts || !d->ids || !d->front || !d->line) return -1;
    size_t n = 0;
    for (int64_t i = 0; i < run->n_trials; i++) {
        const rp_trial *t = &run->trials[i];
        if (off_chart(t, by_params) || is_low(run, t)) continue;
        d->pts[2 * n] = 1 - t->val_acc;
        d->pts[2 * n + 1] = cost_of(t, by_params);
        d->ids[n++] = t->id;
    }
    d->m = n ? cf_pareto_front(d->pts, n, 2, d->front) : 0;
    d->on_front = calloc((size_t)(run->n_trials > 0 ? run->n_trials : 1), 1);
    for (size_t k = 0; k < d->m; k++) {
        d->line[2 * k] = d->pts[2 * d->front[k] + 1];
        d->line[2 * k + 1] = 1 - d->pts[2 * d->front[k]];
        if (d->on_front) d->on_front[d->ids[d->front[k]]] = 1;
    }
    qsort(d->line, d->m, 2 * sizeof *d->line, cmp_by_x);
    return 0;
}

/* The trials off the front: those at fewer epochs first, under the others. */
static void draw_off_front(rp_buf *b, const rp_plot *p, const rp_run *run, const pareto_data *d, int by_params) {
    int tips = d->n_ok <= RP_TOOLTIP_LIMIT;
    rp_pixels px;
    rp_pixels_init(&px, (size_t)d->n_ok);
    for (int pass = 0; pass < 2; pass++) {
        if (!tips) rp_printf(b, "<path class=\"dots %s\" d=\"", pass == 0 ? "dots-low" : "dots-pt");
        for (int64_t i = 0; i < run->n_trials; i++) {
            const rp_trial *t = &run->trials[i];
            if (off_chart(t, by_params)) continue;
            if (d->on_front && d->on_front[i]) continue;
            int low = is_low(run, t);
            if (low != (pass == 0)) continue;
            double x = rp_map(&p->x, cost_of(t, by_params)), y = rp_map(&p->y, t->val_acc);
            if (!rp_pixels_first(&px, x, y)) continue;
            if (!tips) {
                dot(b, x, y);
                continue;
            }
            circle(b, low ? "pt-low" : "pt", x, y, 3.5);
            rp_puts(b, ">");
            trial_title(b, t, by_params);
            rp_puts(b, "</circle>\n");
        }
        if (!tips) rp_puts(b, "\"/>\n");
    }
    rp_pixels_free(&px);
}

/* The attainment line: the best accuracy reachable at each cost. */
static void draw_front_line(rp_buf *b, const rp_plot *p, const pareto_data *d) {
    if (d->m == 0) return;
    rp_puts(b, "<path class=\"front-line\" d=\"M");
    for (size_t k = 0; k < d->m; k++) {
        if (k) rp_puts(b, "H"), rp_xy(b, rp_map(&p->x, d->line[2 * k])), rp_puts(b, "V");
        else rp_xy(b, rp_map(&p->x, d->line[0])), rp_puts(b, " ");
        rp_xy(b, rp_map(&p->y, d->line[2 * k + 1]));
    }
    rp_puts(b, "H");
    rp_xy(b, p->x.p1);
    rp_puts(b, "\"/>\n");
}

/* The front's trials, labelled with their ids where a label fits. */
static void draw_front_points(rp_buf *b, const rp_plot *p, const rp_run *run, const pareto_data *d, int by_params) {
    label_box boxes[64];
    int n_boxes = 0;
    for (size_t k = 0; k < d->m; k++) {
        const rp_trial *t = &run->trials[d->ids[d->front[k]]];
        double x = rp_map(&p->x, cost_of(t, by_params)), y = rp_map(&p->y, t->val_acc);
        circle(b, "pt-front", x, y, 5);
        rp_puts(b, ">");
        trial_title(b, t, by_params);
        rp_puts(b, "</circle>\n");
        if (d->m > 24) continue;
        char id[24];
        snprintf(id, sizeof id, "#%lld", (long long)t->id);
        double w = rp_text_width(id, 10);
        /* right of the point, else left, else above */
        label_box cand[3] = {{x + 7, y - 14, x + 7 + w, y - 3}, {x - 7 - w, y - 14, x - 7, y - 3},
                             {x - w / 2, y - 20, x + w / 2, y - 9}};
        for (int c = 0; c < 3; c++) {
            if (cand[c].x1 > p->x.p1 || cand[c].x0 < p->x.p0 || cand[c].y0 < p->y.p1) continue;
            if (overlaps(boxes, n_boxes, cand[c])) continue;
            rp_puts(b, "<text class=\"ptlabel\" x=\"");
            rp_xy(b, cand[c].x0);
            rp_puts(b, "\" y=\"");
            rp_xy(b, cand[c].y1 - 1);
            rp_printf(b, "\">%s</text>\n", id);
            if (n_boxes < 64) boxes[n_boxes++] = cand[c];
            break;
        }
    }
}

/* The final models as diamonds, each linked to its search trial; returns how many. */
static int draw_finals(rp_buf *b, const rp_plot *p, const rp_run *run, int by_params) {
    int n_final = 0;
    for (int i = 0; i < run->n_finals; i++) {
        const rp_final *f = &run->finals[i];
        double cost = final_cost(run, f, by_params);
        const rp_trial *t = f->trial >= 0 && f->trial < run->n_trials ? &run->trials[f->trial] : NULL;
        if (f->val_acc < 0 || cost <= 0) continue;
        double x = rp_map(&p->x, cost), y = rp_map(&p->y, f->val_acc);
        if (t && t->val_acc >= 0) {
            rp_puts(b, "<line class=\"final-link\" x1=\"");
            rp_xy(b, rp_map(&p->x, cost_of(t, by_params)));
            rp_puts(b, "\" y1=\"");
            rp_xy(b, rp_map(&p->y, t->val_acc));
            rp_puts(b, "\" x2=\"");
            rp_xy(b, x);
            rp_puts(b, "\" y2=\"");
            rp_xy(b, y);
            rp_puts(b, "\"/>");
        }
        char a[32], c[32];
        rp_puts(b, "<path class=\"pt-final\" d=\"M");
        rp_xy(b, x);
        rp_puts(b, " ");
        rp_xy(b, y - 7);
        rp_printf(b, "l7 7l-7 7l-7 -7z\"><title>final model of trial %lld: val %s, test %s</title></path>\n",
                  (long long)f->trial, rp_fmt_pct(f->val_acc, 2, a, sizeof a), rp_fmt_pct(f->test_acc, 2, c, sizeof c));
        n_final++;
    }
    return n_final;
}

static void pareto_legend(rp_buf *b, const rp_plot *p, const rp_run *run, int n_final) {
    double lx = p->left;
    lx += rp_legend_item(b, lx, 22, "pt", 0, "trial");
    if (run->fidelity > 0) {
        int any_low = 0;
        for (int64_t i = 0; i < run->n_trials && !any_low; i++)
            any_low = rp_trial_is_model(&run->trials[i]) && is_low(run, &run->trials[i]);
        if (any_low) lx += rp_legend_item(b, lx, 22, "pt-low", 0, "fewer epochs");
    }
    lx += rp_legend_item(b, lx, 22, "pt-front", 0, "Pareto front");
    if (n_final) rp_legend_item(b, lx, 22, "pt-final", 3, "final (retrained)");
}

void rp_chart_pareto(rp_buf *b, const rp_run *run, int by_params) {
    pareto_data d;
    memset(&d, 0, sizeof d);
    pareto_range(run, by_params, &d);
    if (d.n_ok == 0) {
        rp_empty(b, "No trial finished ok with a known cost: there is no front to draw.");
        return;
    }
    if (pareto_find(run, by_params, &d) != 0) {
        pareto_free(&d);
        rp_empty(b, "Out of memory while drawing the front.");
        return;
    }
    rp_plot p = {.width = 540, .height = 380, .left = 62, .right = 18, .top = 40, .bottom = 46};
    p.x.ticks = RP_TICKS_SI;
    p.y.ticks = RP_TICKS_PCT;
    rp_axis_fit(&p.x, d.range[0], d.range[1], 1);
    rp_axis_fit(&p.y, d.range[2], d.range[3], 0);
    if (p.y.lo < 0) p.y.lo = 0;
    if (p.y.hi > 1) p.y.hi = 1;
    char aria[128], xlabel[64];
    snprintf(aria, sizeof aria, "validation accuracy against %s, %lld trials, %zu on the front",
             by_params ? "parameters" : "MACs", (long long)d.n_ok, d.m);
    snprintf(xlabel, sizeof xlabel, "%s (log scale)", by_params ? "parameters" : "MACs per image");
    rp_plot_begin(b, &p, aria, xlabel, "validation accuracy");
    draw_off_front(b, &p, run, &d, by_params);
    draw_front_line(b, &p, &d);
    draw_front_points(b, &p, run, &d, by_params);
    int n_final = draw_finals(b, &p, run, by_params);
    pareto_legend(b, &p, run, n_final);
    rp_plot_end(b);
    pareto_free(&d);
}

/* ---- best so far over the run clock --------------------------------------------------- */

static int cmp_end(const void *a, const void *b) {
    const rp_trial *x = *(const rp_trial *const *)a, *y = *(const rp_trial *const *)b;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->id < y->id ? -1 : (x->id > y->id);
}

const char *rp_time_unit(rp_axis *a, double span) {
    if (span >= 3 * 3600) {
        a->scale = 3600;
        return "run clock (h)";
    }
    if (span >= 180) {
        a->scale = 60;
        return "run clock (min)";
    }
    a->scale = 1;
    return "run clock (s)";
}

/* The trials that finished ok, by end time, with their accuracy range (a
 * supernet is none: it is no model to pick); the failures are only counted.
 * v is freed by the caller. */
typedef struct progress_data {
    const rp_trial **v;
    size_t n, n_failed;
    double ylo, yhi;
} progress_data;

static void progress_collect(const rp_run *run, progress_data *d) {
    d->v = malloc((size_t)(run->n_trials > 0 ? run->n_trials : 1) * sizeof *d->v);
    d->n = d->n_failed = 0;
    d->ylo = INFINITY;
    d->yhi = -INFINITY;
    for (int64_t i = 0; d->v && i < run->n_trials; i++) {
        const rp_trial *t = &run->trials[i];
        if (rp_trial_is_model(t) && t->val_acc >= 0) {
            d->v[d->n++] = t;
            d->ylo = fmin(d->ylo, t->val_acc);
            d->yhi = fmax(d->yhi, t->val_acc);
        } else if (t->status > CF_TRIAL_OK && t->status < CF_TRIAL_REJECTED) {
            d->n_failed++;
        }
    }
    if (d->n) qsort(d->v, d->n, sizeof *d->v, cmp_end);
}

/* The end of the search's clock: the final retraining after it is on the timeline. */
static double search_end(const rp_run *run) {
    double end = run->final_start >= 0 ? run->final_start : run->clock;
    for (int64_t i = 0; i < run->n_trials; i++)
        if (run->trials[i].status != CF_TRIAL_REJECTED && run->trials[i].end > end) end = run->trials[i].end;
    return end;
}

/* Every ok trial, faint, at its end. */
static void draw_progress_points(rp_buf *b, const rp_plot *p, const progress_data *d) {
    int tips = d->n <= RP_TOOLTIP_LIMIT;
    rp_pixels px;
    rp_pixels_init(&px, d->n);
    if (!tips) rp_puts(b, "<path class=\"dots dots-faint\" d=\"");
    for (size_t i = 0; i < d->n; i++) {
        double x = rp_map(&p->x, d->v[i]->end), y = rp_map(&p->y, d->v[i]->val_acc);
        if (!rp_pixels_first(&px, x, y)) continue;
        if (!tips) {
            dot(b, x, y);
            continue;
        }
        circle(b, "pt-faint", x, y, 3);
        rp_puts(b, ">");
        trial_title(b, d->v[i], 0);
        rp_puts(b, "</circle>\n");
    }
    if (!tips) rp_puts(b, "\"/>\n");
    rp_pixels_free(&px);
}

/* Failures as short red marks on the bottom edge, where they happened. */
static void draw_fail_marks(rp_buf *b, const rp_plot *p, const rp_run *run, size_t n_failed) {
    rp_pixels px;
    rp_pixels_init(&px, n_failed);
    for (int64_t i = 0; i < run->n_trials && n_failed; i++) {
        const rp_trial *t = &run->trials[i];
        if (t->status <= CF_TRIAL_OK || t->status >= CF_TRIAL_REJECTED) continue;
        if (!rp_pixels_first(&px, rp_map(&p->x, t->end), 0)) continue;
        rp_puts(b, "<line class=\"fail-mark\" x1=\"");
        rp_xy(b, rp_map(&p->x, t->end));
        rp_puts(b, "\" x2=\"");
        rp_xy(b, rp_map(&p->x, t->end));
        rp_printf(b, "\" y1=\"%.0f\" y2=\"%.0f\"/>\n", p->y.p0, p->y.p0 - 9);
    }
    rp_pixels_free(&px);
}

/* The best accuracy so far as a step line to end, each new best marked with its id. */
static void draw_best_steps(rp_buf *b, const rp_plot *p, const progress_data *d, double end) {
    size_t n = d->n;
    double *xs = malloc(n * sizeof *xs), *ys = malloc(n * sizeof *ys);
    int64_t *who = malloc(n * sizeof *who);
    size_t k = 0;
    for (size_t i = 0; xs && ys && who && i < n; i++) {
        if (k && d->v[i]->val_acc <= ys[k - 1]) continue;
        xs[k] = d->v[i]->end;
        ys[k] = d->v[i]->val_acc;
        who[k++] = d->v[i]->id;
    }
    rp_step_path(b, p, xs, ys, k, end, "best-line");
    double last_label = -1e9;
    for (size_t i = 0; i < k; i++) {
        double x = rp_map(&p->x, xs[i]), y = rp_map(&p->y, ys[i]);
        circle(b, "pt-best", x, y, 4);
        rp_puts(b, "/>");
        char id[24];
        snprintf(id, sizeof id, "#%lld", (long long)who[i]);
        /* above the step where there is room, else below it */
        double ly = y > p->y.p1 + 14 ? y - 7 : y + 15;
        if (x - 2 > last_label) {
            rp_puts(b, "<text class=\"ptlabel\" x=\"");
            rp_xy(b, x + 4);
            rp_puts(b, "\" y=\"");
            rp_xy(b, ly);
            rp_printf(b, "\">%s</text>\n", id);
            last_label = x + 4 + rp_text_width(id, 10);
        }
    }
    free(xs);
    free(ys);
    free(who);
}

void rp_chart_progress(rp_buf *b, const rp_run *run) {
    progress_data d;
    progress_collect(run, &d);
    if (d.n == 0) {
        free(d.v);
        rp_empty(b, "No trial finished ok: there is no best accuracy to follow.");
        return;
    }
    double end = search_end(run);
    rp_plot p = {.width = 1100, .height = 320, .left = 62, .right = 18, .top = 34, .bottom = 46};
    p.y.ticks = RP_TICKS_PCT;
    p.x.ticks = RP_TICKS_NUM;
    const char *xlabel = rp_time_unit(&p.x, end);
    char label[80];
    snprintf(label, sizeof label, "%s%s", xlabel, run->simulated ? ", simulated" : "");
    rp_axis_fit(&p.x, 0, end > 0 ? end : 1, 0);
    p.x.lo = 0;
    rp_axis_fit(&p.y, d.ylo, d.yhi, 0);
    if (p.y.lo < 0) p.y.lo = 0;
    if (p.y.hi > 1) p.y.hi = 1;
    rp_plot_begin(b, &p, "best validation accuracy over the run clock", label, "validation accuracy");
    draw_progress_points(b, &p, &d);
    draw_fail_marks(b, &p, run, d.n_failed);
    draw_best_steps(b, &p, &d, end);
    double lx = p.left;
    lx += rp_legend_item(b, lx, 20, "pt-faint", 0, "trial (at its end)");
    lx += rp_legend_item(b, lx, 20, "best-line", 1, "best so far");
    if (d.n_failed) rp_legend_item(b, lx, 20, "fail-mark", 1, "failed trial");
    rp_plot_end(b);
    free(d.v);
}

/* ---- learning curves ------------------------------------------------------------------- */

typedef struct series {
    const cf_epoch_record *curve;
    int n;
    char name[96];
    int final;
} series;

static void curve_chart(rp_buf *b, const series *s, int n, int loss) {
    int max_epoch = 1;
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++)
        for (int e = 0; e < s[i].n; e++) {
            double v = loss ? s[i].curve[e].train_loss : s[i].curve[e].val_acc;
            if (v < 0 || !isfinite(v)) continue;
            lo = fmin(lo, v), hi = fmax(hi, v);
            if (e + 1 > max_epoch) max_epoch = e + 1;
        }
    rp_plot p = {.width = 540, .height = 320, .left = 62, .right = 18, .top = 16, .bottom = 46};
    p.x.ticks = RP_TICKS_INT;
    p.y.ticks = loss ? RP_TICKS_NUM : RP_TICKS_PCT;
    rp_axis_fit(&p.x, 1, max_epoch, 0);
    if (max_epoch == 1) p.x.lo = 0.5, p.x.hi = 1.5;
    rp_axis_fit(&p.y, lo, hi, 0);
    if (p.y.lo < 0) p.y.lo = 0;
    if (!loss && p.y.hi > 1) p.y.hi = 1;
    rp_plot_begin(b, &p, loss ? "training loss per epoch" : "validation accuracy per epoch", "epoch",
                  loss ? "training loss" : "validation accuracy");
    for (int i = n - 1; i >= 0; i--) {
        const char *color = rp_series_color(i);
        rp_printf(b, "<polyline class=\"curve%s\" style=\"stroke:%s\" points=\"", s[i].final ? " curve-final" : "", color);
        int any = 0;
        for (int e = 0; e < s[i].n; e++) {
            double v = loss ? s[i].curve[e].train_loss : s[i].curve[e].val_acc;
            if (v < 0 || !isfinite(v)) continue;
            if (any++) rp_puts(b, " ");
            rp_xy(b, rp_map(&p.x, e + 1));
            rp_puts(b, ",");
            rp_xy(b, rp_map(&p.y, v));
        }
        rp_puts(b, "\"/>\n");
        for (int e = 0; e < s[i].n && s[i].n <= 60; e++) {
            double v = loss ? s[i].curve[e].train_loss : s[i].curve[e].val_acc;
            if (v < 0 || !isfinite(v)) continue;
            circle(b, "curve-pt", rp_map(&p.x, e + 1), rp_map(&p.y, v), s[i].final ? 4 : 3);
            rp_printf(b, " style=\"fill:%s\"/>", color);
        }
    }
    rp_plot_end(b);
}

void rp_chart_curves(rp_buf *b, const rp_run *run) {
    series s[8];
    int n = 0;
    char a[32];
    for (int i = 0; i < run->n_finals && n < 3; i++) {
        const rp_final *f = &run->finals[i];
        if (f->n_curve == 0) continue;
        s[n] = (series){f->curve, f->n_curve, "", 1};
        snprintf(s[n].name, sizeof s[n].name, "final model of trial %lld (%d epochs, test %s)", (long long)f->trial,
                 f->n_curve, rp_fmt_pct(f->test_acc, 2, a, sizeof a));
        n++;
    }
    const rp_trial **v = rp_sorted_trials(run);
    for (int64_t i = 0; v && i < run->n_trials && n < 6; i++) {
        const rp_trial *t = v[i];
        if (!rp_trial_is_model(t) || t->n_curve == 0) continue;
        s[n] = (series){t->curve, t->n_curve, "", 0};
        snprintf(s[n].name, sizeof s[n].name, "trial %lld (search, val %s)", (long long)t->id,
                 rp_fmt_pct(t->val_acc, 2, a, sizeof a));
        n++;
    }
    free(v);
    if (n == 0) {
        rp_empty(b, run->simulated ? "No learning curves: the trials were looked up in a benchmark table, not trained."
                                : "No learning curves: no trial recorded a finished epoch.");
        return;
    }
    int longest = 0;
    for (int i = 0; i < n; i++) longest = s[i].n > longest ? s[i].n : longest;
    rp_puts(b, "<div class=\"charts\">\n");
    curve_chart(b, s, n, 0);
    curve_chart(b, s, n, 1);
    rp_puts(b, "</div>\n<ul class=\"legend\">\n");
    for (int i = 0; i < n; i++) {
        rp_printf(b, "<li><span class=\"swatch%s\" style=\"background:%s\"></span>", s[i].final ? " thick" : "",
                  rp_series_color(i));
        rp_esc(b, s[i].name);
        rp_puts(b, "</li>\n");
    }
    rp_puts(b, "</ul>\n");
    if (longest == 1)
        rp_puts(b, "<p class=\"note\">Every curve has one epoch (the search trained each trial for one), so each "
                   "model shows as a single point.</p>\n");
}
