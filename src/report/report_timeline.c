/* report_timeline.c - the report's timeline of the devices: one lane per
 * worker, named by its device ("cuda:0 (NVIDIA H200)", "cpu:0 (AMD EPYC ...)")
 * with its busy share (the run clock with at least one trial on it, of the
 * whole), and in each lane one row per slot that ran a trial, so the trials a
 * GPU runs at once lie side by side instead of on top of each other.
 *
 * A bar goes to the row of the slot its journal event names; an attempt
 * without one (a journal of an older version, a final model) goes to the
 * lowest row free at its start. Tests: tests/cli_report.sh.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../journal/journal_read.h"
#include "report_impl.h"

#define MAX_ROWS CF_MAX_SLOTS
#define LANE_GAP 8      /* between two workers' lanes */
#define ROW_GAP 2       /* between the rows of one lane */
#define LABEL_H 28      /* a lane is at least as high as its two label lines */
#define LABEL_MAX 38    /* characters of a lane's name before it is cut (the tooltip has it all) */

static const char *const bar_class[RP_BAR_KIND_COUNT] = {"bar-ok",    "bar-failed", "bar-oom",   "bar-timeout",
                                                         "bar-retry", "bar-open",   "bar-cut",   "bar-final",
                                                         "bar-final-failed"};
static const char *const bar_name[RP_BAR_KIND_COUNT] = {
    "ok", "failed", "out of memory", "timeout", "out of memory, retried", "cut off (unfinished)",
    "cut by the time budget", "final retrain", "final retrain failed"};

/* Where the lanes and rows are: each lane's rows and place. */
typedef struct layout {
    int rows[CF_MAX_WORKERS];    /* rows of each lane (1 at least) */
    double top[CF_MAX_WORKERS];  /* y of each lane's top */
    double row_h[CF_MAX_WORKERS];
    double busy[CF_MAX_WORKERS]; /* seconds with at least one bar */
    double height;               /* of all lanes, gaps included */
} layout;

/* A bar in its row. */
typedef struct placed {
    const rp_bar *bar;
    int row;
} placed;

static int cmp_start(const void *a, const void *b) {
    const rp_bar *x = ((const placed *)a)->bar, *y = ((const placed *)b)->bar;
    if (x->worker != y->worker) return x->worker < y->worker ? -1 : 1;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return x->trial < y->trial ? -1 : (x->trial > y->trial);
}

/* By lane, then row, then start: the order bars are drawn (and merged) in. */
static int cmp_row(const void *a, const void *b) {
    const placed *x = a, *y = b;
    if (x->bar->worker != y->bar->worker) return x->bar->worker < y->bar->worker ? -1 : 1;
    if (x->row != y->row) return x->row < y->row ? -1 : 1;
    return cmp_start(a, b);
}

/* Rows for the bars (v: sorted by cmp_start), the lanes' busy time and their
 * places. 0 when memory runs out. */
static int lay_out(const rp_run *run, placed *v, layout *L) {
    memset(L, 0, sizeof *L);
    cf_span *spans = malloc(run->n_bars * sizeof *spans);
    if (!spans) return 0;
    for (size_t k = 0; k < run->n_bars;) {
        const int w = v[k].bar->worker;
        double until[MAX_ROWS];
        for (int r = 0; r < MAX_ROWS; r++) until[r] = -INFINITY;
        size_t n = 0;
        for (; k < run->n_bars && v[k].bar->worker == w; k++) {
            const rp_bar *x = v[k].bar;
            int r = x->slot >= 0 && x->slot < MAX_ROWS ? x->slot : -1;
            for (int q = 0; r < 0 && q < MAX_ROWS; q++) /* the lowest row free at its start */
                if (until[q] <= x->start) r = q;
            if (r < 0) { /* every row taken: the one that frees first */
                r = 0;
                for (int q = 1; q < MAX_ROWS; q++)
                    if (until[q] < until[r]) r = q;
            }
            v[k].row = r;
            until[r] = fmax(until[r], x->end);
            if (r + 1 > L->rows[w]) L->rows[w] = r + 1;
            spans[n++] = (cf_span){x->start, x->end};
        }
        L->busy[w] = cf_span_union(spans, n);
    }
    free(spans);
    double y = LANE_GAP;
    for (int w = 0; w < run->workers; w++) {
        if (L->rows[w] < 1) L->rows[w] = 1;
        L->row_h[w] = L->rows[w] == 1 ? 22 : 15;
        double h = L->rows[w] * L->row_h[w] + (L->rows[w] - 1) * ROW_GAP;
        L->top[w] = y;
        y += fmax(h, LABEL_H) + LANE_GAP;
    }
    L->height = y;
    return 1;
}

/* A lane's name: "cuda:0 (NVIDIA H200)"; "rank 1: 3" over MPI ranks in a
 * journal without device records; else "worker 3". */
static void lane_name(const rp_run *run, int w, char *buf, size_t cap) {
    const cf_worker_desc *d = &run->devices[w];
    if (d->name[0] && d->device[0]) snprintf(buf, cap, "%s (%s)", d->name, d->device);
    else if (d->name[0]) snprintf(buf, cap, "%s", d->name);
    else if (run->ranks_seen > 1) snprintf(buf, cap, "rank %d: %d", run->lane_rank[w], w);
    else snprintf(buf, cap, "worker %d", w);
}

/* 1 when the lanes name their ranks: the run spans several. */
static int many_ranks(const rp_run *run) {
    for (int w = 0; w < run->workers; w++)
        if (run->devices[w].rank > 0) return 1;
    return run->ranks_seen > 1;
}

/* The lanes' labels, left of the plot: the name, then the busy share. */
static void draw_labels(rp_buf *b, const rp_run *run, const rp_plot *p, const layout *L, double end) {
    for (int w = 0; w < run->workers; w++) {
        const cf_worker_desc *d = &run->devices[w];
        char name[160], shown[LABEL_MAX + 8], pct[32], total[32];
        lane_name(run, w, name, sizeof name);
        snprintf(shown, sizeof shown, "%.*s", LABEL_MAX, name);
        if (strlen(name) > LABEL_MAX) memcpy(shown + LABEL_MAX - 3, "...", 4);
        double h = L->rows[w] * L->row_h[w] + (L->rows[w] - 1) * ROW_GAP, mid = p->top + L->top[w] + fmax(h, LABEL_H) / 2;
        int rank = d->name[0] ? d->rank : run->lane_rank[w], ranks = many_ranks(run);
        const char *host = d->name[0] ? d->host : run->lane_host[w];
        rp_printf(b, "<text class=\"tick\" text-anchor=\"end\" x=\"%.0f\" y=\"%.0f\">", p->left - 8, mid - 2);
        rp_esc(b, shown);
        rp_printf(b, "<title>worker %d: ", w);
        rp_esc(b, name);
        if (ranks) {
            rp_printf(b, ", rank %d, host ", rank);
            rp_esc(b, host);
        }
        rp_printf(b, "; busy %s of %s of run clock (at least one trial on it)</title></text>\n",
                  rp_fmt_duration(L->busy[w], pct, sizeof pct), rp_fmt_duration(end, total, sizeof total));
        rp_printf(b, "<text class=\"tick\" text-anchor=\"end\" x=\"%.0f\" y=\"%.0f\">", p->left - 8, mid + 11);
        if (ranks) rp_printf(b, "rank %d, ", rank);
        rp_printf(b, "busy %s</text>\n", rp_fmt_pct(end > 0 ? L->busy[w] / end : NAN, 1, pct, sizeof pct));
    }
}

/* A faint line between two lanes, where a lane has several rows (then the
 * gap alone does not show which rows belong together). */
static void draw_separators(rp_buf *b, const rp_run *run, const rp_plot *p, const layout *L) {
    int rows = 0;
    for (int w = 0; w < run->workers; w++) rows = rows > L->rows[w] ? rows : L->rows[w];
    for (int w = 1; rows > 1 && w < run->workers; w++) {
        double y = p->top + L->top[w] - LANE_GAP / 2.0;
        rp_puts(b, "<line class=\"grid\" x1=\"8\" x2=\"");
        rp_xy(b, p->width - p->right);
        rp_puts(b, "\" y1=\"");
        rp_xy(b, y);
        rp_puts(b, "\" y2=\"");
        rp_xy(b, y);
        rp_puts(b, "\"/>\n");
    }
}

/* A dashed vertical line across the plot at run clock t, labelled above it. */
static void time_marker(rp_buf *b, const rp_plot *p, double t, const char *label) {
    double x = rp_map(&p->x, t);
    rp_puts(b, "<line class=\"marker\" x1=\"");
    rp_xy(b, x);
    rp_puts(b, "\" x2=\"");
    rp_xy(b, x);
    rp_printf(b, "\" y1=\"%.0f\" y2=\"%.0f\"/><text class=\"ptlabel\" x=\"", p->top - 12, p->y.p0);
    rp_xy(b, x + 3);
    rp_printf(b, "\" y=\"%.0f\">%s</text>\n", p->top - 4, label);
}

/* One bar (or several narrow ones of a kind that touch in a row, merged);
 * returns the index after the last bar drawn. */
static size_t draw_bar(rp_buf *b, const rp_run *run, const rp_plot *p, const layout *L, const placed *v, size_t k,
                       int tips) {
    const rp_bar *r = v[k].bar;
    const int row = v[k].row, w = r->worker;
    double x0 = rp_map(&p->x, r->start), x1 = rp_map(&p->x, r->end);
    double y = p->top + L->top[w] + row * (L->row_h[w] + ROW_GAP);
    size_t next = k + 1;
    while (x1 - x0 < 4 && next < run->n_bars) {
        const rp_bar *q = v[next].bar;
        double a = rp_map(&p->x, q->start), c = rp_map(&p->x, q->end);
        if (q->worker != w || v[next].row != row || q->kind != r->kind || c - a >= 4 || a - x1 > 1) break;
        x1 = fmax(x1, c);
        next++;
    }
    int merged = next - k > 1;
    double width = x1 - x0 < 1 ? 1 : x1 - x0;
    rp_printf(b, "<rect class=\"%s\" x=\"", bar_class[r->kind]);
    rp_xy(b, x0);
    rp_printf(b, "\" y=\"%.0f\" width=\"", y);
    rp_xy(b, width);
    rp_printf(b, "\" height=\"%.0f\"", L->row_h[w]);
    if (tips && !merged) {
        char s0[32], s1[32], where[64] = "";
        if (L->rows[w] > 1) snprintf(where, sizeof where, ", slot %d", row);
        rp_printf(b, "><title>%s %lld, attempt %d: %s to %s, %s%s</title></rect>",
                  r->kind >= RP_BAR_FINAL ? "final model of trial" : "trial", (long long)r->trial, r->attempt,
                  rp_fmt_duration(r->start, s0, sizeof s0), rp_fmt_duration(r->end, s1, sizeof s1), bar_name[r->kind],
                  where);
    } else {
        rp_puts(b, "/>");
    }
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)r->trial);
    if (!merged && width >= rp_text_width(id, 10) + 6) {
        int light = r->kind == RP_BAR_FAILED || r->kind >= RP_BAR_FINAL;
        rp_printf(b, "<text class=\"barlabel%s\" text-anchor=\"middle\" x=\"", light ? " light" : "");
        rp_xy(b, x0 + width / 2);
        rp_printf(b, "\" y=\"%.0f\">%s</text>", y + L->row_h[w] / 2.0 + 3.5, id);
    }
    rp_puts(b, "\n");
    return next;
}

/* The left margin: room for the longest lane name (within LABEL_MAX) and the
 * busy line under it. */
static double label_room(const rp_run *run) {
    double widest = rp_text_width(many_ranks(run) ? "rank 00, busy 100.0%" : "busy 100.0%", 11);
    for (int w = 0; w < run->workers; w++) {
        char name[160];
        lane_name(run, w, name, sizeof name);
        if (strlen(name) > LABEL_MAX) name[LABEL_MAX] = 0;
        widest = fmax(widest, rp_text_width(name, 11));
    }
    return widest + 16;
}

void rp_chart_timeline(rp_buf *b, const rp_run *run) {
    if (run->n_bars == 0) {
        rp_empty(b, "No trial was started on a worker: there is no timeline to draw.");
        return;
    }
    double end = run->clock;
    int present[RP_BAR_KIND_COUNT] = {0};
    for (size_t i = 0; i < run->n_bars; i++) {
        end = fmax(end, run->bars[i].end);
        present[run->bars[i].kind] = 1;
    }
    placed *v = malloc(run->n_bars * sizeof *v);
    layout L;
    for (size_t i = 0; v && i < run->n_bars; i++) v[i] = (placed){&run->bars[i], 0};
    if (v) qsort(v, run->n_bars, sizeof *v, cmp_start);
    if (!v || !lay_out(run, v, &L)) {
        free(v);
        rp_empty(b, "Out of memory while drawing the timeline.");
        return;
    }
    qsort(v, run->n_bars, sizeof *v, cmp_row);
    rp_plot p = {.width = 1100, .left = label_room(run), .right = 18, .top = 46, .bottom = 46};
    p.height = p.top + p.bottom + L.height;
    p.y_hidden = 1;
    p.x.ticks = RP_TICKS_NUM;
    char label[80];
    snprintf(label, sizeof label, "%s%s", rp_time_unit(&p.x, end), run->simulated ? ", simulated" : "");
    rp_axis_fit(&p.x, 0, end > 0 ? end : 1, 0);
    p.x.lo = 0;
    p.x.hi = end > 0 ? end * 1.01 : 1;
    p.y.lo = 0;
    p.y.hi = 1;
    rp_plot_begin(b, &p, "trial attempts per device and slot over the run clock", label, NULL);
    draw_separators(b, run, &p, &L);
    draw_labels(b, run, &p, &L, end);
    int tips = run->n_bars <= 2 * RP_TOOLTIP_LIMIT;
    for (size_t k = 0; k < run->n_bars;) k = draw_bar(b, run, &p, &L, v, k, tips);
    for (int i = 0; i < run->n_resumes; i++) time_marker(b, &p, run->resume_at[i], "resumed");
    if (run->final_start >= 0) time_marker(b, &p, run->final_start, "final retrain starts");
    free(v);
    double lx = p.left;
    for (int k = 0; k < RP_BAR_KIND_COUNT; k++)
        if (present[k])
            lx += rp_legend_item(b, lx, 20, bar_class[k], 2,
                                 k == RP_BAR_OPEN && run->live ? "running (or cut off by a crash)" : bar_name[k]);
    rp_plot_end(b);
}
