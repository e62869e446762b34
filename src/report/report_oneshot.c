/* report_oneshot.c - the report's section on one-shot search, one part per
 * supernet trial (arch "supernet", proposed by --strategy darts|gdas|spos):
 *   - its method and the supernet's validation accuracy per epoch (the
 *     journal's trial_epoch events, as for any trial);
 *   - a heat map per edge of the architecture weights softmax(alpha) over the
 *     epochs (x epoch, y the ops, the colour the weight on one scale for the
 *     whole supernet, the value in each cell's title), all edges in a grid in
 *     one SVG, from trials/ID/alphas.json;
 *   - the architectures it derived (its trial_finished metrics) in the
 *     method's order, best first, with the supernet's accuracy of each, the
 *     trials that trained them alone (their parent is the supernet), and
 *     their cells drawn.
 * alphas.json is parsed with cJSON and checked (rows x cols numbers for each
 * epoch) before anything is drawn; a missing or damaged file becomes a note
 * naming it and the position, never a failure of the report. SPOS has no
 * architecture weights (its alpha stays zero): the section says so instead of
 * drawing a flat map. Tests: tests/cli_report.sh.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cellforge/file.h"
#include "core/json_read.h"
#include "report_impl.h"

#define MAX_ROWS 256      /* edges of a supernet (darts: 28) */
#define MAX_COLS 64       /* candidate ops (darts: 8) */
#define MAX_CELLS 2500    /* heat-map cells drawn (about 120 bytes each): a long search shows evenly spaced epochs */
#define MAX_FIGURES 4     /* derived architectures drawn (all are listed) */
#define GRID_WIDTH 1100.0 /* the heat maps' width at most, as the page's wide charts */

/* trials/ID/alphas.json as read and checked. alphas_free frees it. */
typedef struct alphas {
    char method[32];
    int rows, cols, epochs;
    char (*ops)[48];   /* (cols) op names */
    char (*edges)[64]; /* (rows) edge names */
    double *w;         /* (epochs, rows, cols) softmax(alpha) of each row */
    int all_zero;      /* every alpha is 0: no architecture weights (spos) */
} alphas;

static void alphas_free(alphas *a) {
    free(a->ops);
    free(a->edges);
    free(a->w);
    memset(a, 0, sizeof *a);
}

/* The names of an array of n strings into names (n rows of cap bytes). */
static cf_status read_names(cf_json_reader *r, const cJSON *arr, char *names, size_t cap) {
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, arr) {
        size_t mark = cf_json_enter_index(r, i);
        CF_TRY(cf_json_as_string(r, e, 0, names + (size_t)i * cap, cap));
        cf_json_leave(r, mark);
        i++;
    }
    return CF_OK;
}

/* One epoch's rows x cols alphas into w, as softmax per row. */
static cf_status read_epoch(cf_json_reader *r, const cJSON *row, alphas *a, double *w) {
    const int n = a->rows * a->cols;
    CF_TRY(cf_json_as_array(r, row, n, n));
    const cJSON *e;
    int k = 0;
    cJSON_ArrayForEach(e, row) {
        size_t mark = cf_json_enter_index(r, k);
        CF_TRY(cf_json_as_number(r, e, -1e300, 1e300, &w[k]));
        cf_json_leave(r, mark);
        if (w[k] != 0) a->all_zero = 0;
        k++;
    }
    for (int i = 0; i < a->rows; i++) {
        double *p = w + (size_t)i * (size_t)a->cols, top = p[0], sum = 0;
        for (int j = 1; j < a->cols; j++) top = fmax(top, p[j]);
        for (int j = 0; j < a->cols; j++) sum += p[j] = exp(p[j] - top);
        for (int j = 0; j < a->cols; j++) p[j] /= sum;
    }
    return CF_OK;
}

/* Fill a from the parsed file; a failure names the file and the JSON path. */
static cf_status alphas_check(const cJSON *root, const char *origin, alphas *a) {
    cf_json_reader r;
    cf_json_reader_init(&r, origin);
    CF_TRY(cf_json_as_object(&r, root));
    snprintf(a->method, sizeof a->method, "?");
    CF_TRY(cf_json_get_string(&r, root, "method", CF_JSON_OPTIONAL, 0, a->method, sizeof a->method));
    CF_TRY(cf_json_get_int(&r, root, "rows", CF_JSON_REQUIRED, 1, MAX_ROWS, &a->rows));
    CF_TRY(cf_json_get_int(&r, root, "cols", CF_JSON_REQUIRED, 1, MAX_COLS, &a->cols));
    const cJSON *ops = NULL, *edges = NULL, *hist = NULL;
    CF_TRY(cf_json_get_array(&r, root, "ops", CF_JSON_REQUIRED, a->cols, a->cols, &ops));
    CF_TRY(cf_json_get_array(&r, root, "edges", CF_JSON_REQUIRED, a->rows, a->rows, &edges));
    CF_TRY(cf_json_get_array(&r, root, "alpha", CF_JSON_REQUIRED, 0, CF_TRAIN_MAX_EPOCHS, &hist));
    a->epochs = cJSON_GetArraySize(hist);
    const size_t per = (size_t)a->rows * (size_t)a->cols;
    a->ops = calloc((size_t)a->cols, sizeof *a->ops);
    a->edges = calloc((size_t)a->rows, sizeof *a->edges);
    a->w = malloc((a->epochs > 0 ? (size_t)a->epochs : 1) * per * sizeof *a->w);
    if (!a->ops || !a->edges || !a->w) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory", origin);
    size_t mark = cf_json_enter_key(&r, "ops");
    CF_TRY(read_names(&r, ops, &a->ops[0][0], sizeof a->ops[0]));
    cf_json_leave(&r, mark);
    mark = cf_json_enter_key(&r, "edges");
    CF_TRY(read_names(&r, edges, &a->edges[0][0], sizeof a->edges[0]));
    cf_json_leave(&r, mark);
    mark = cf_json_enter_key(&r, "alpha");
    a->all_zero = 1;
    const cJSON *row;
    int e = 0;
    cJSON_ArrayForEach(row, hist) {
        size_t m = cf_json_enter_index(&r, e);
        CF_TRY(read_epoch(&r, row, a, a->w + (size_t)e * per));
        cf_json_leave(&r, m);
        e++;
    }
    cf_json_leave(&r, mark);
    return CF_OK;
}

/* Read RUN/trials/ID/alphas.json into a: 1, or 0 with a note saying why not. */
static int alphas_read(const rp_run *run, int64_t id, alphas *a, char *note, size_t cap) {
    memset(a, 0, sizeof *a);
    char path[1300];
    snprintf(path, sizeof path, "%s/trials/%lld/alphas.json", run->dir, (long long)id);
    struct stat sb;
    if (stat(path, &sb) != 0 && errno == ENOENT) {
        snprintf(note, cap, "No heat map: trials/%lld/alphas.json is missing (the run was copied without its trials/ "
                            "directory, or the supernet has not finished an epoch).", (long long)id);
        return 0;
    }
    char *text = NULL;
    cJSON *root = NULL;
    cf_status st = cf_file_read(path, 64u << 20, CF_FILE_NOFOLLOW, &text, NULL);
    if (st == CF_OK) st = cf_json_parse(text, path, &root);
    if (st == CF_OK) st = alphas_check(root, path, a);
    free(text);
    cJSON_Delete(root);
    if (st == CF_OK && a->epochs == 0) {
        snprintf(note, cap, "No heat map: trials/%lld/alphas.json holds no epoch yet.", (long long)id);
        st = CF_ERR_PARSE;
    } else if (st != CF_OK) {
        snprintf(note, cap, "No heat map: %s", cf_error_message());
    }
    cf_error_clear();
    if (st != CF_OK) alphas_free(a);
    return st == CF_OK;
}

/* ---- the heat maps ----------------------------------------------------------------- */

/* An op's label as the cell diagrams write it, where the space knows the name. */
static const char *op_label(const rp_run *run, const char *name, char *buf, size_t cap) {
    for (int k = 0; run->space && k < run->space->n_ops; k++)
        if (strcmp(run->space->ops[k].name, name) == 0) return rp_op_label(run->space, k, buf, cap);
    snprintf(buf, cap, "%s", name);
    return buf;
}

/* White to dark blue, as the confusion matrix. */
static void weight_color(double t, char *buf, size_t cap) {
    t = !isfinite(t) || t < 0 ? 0 : t > 1 ? 1 : t;
    snprintf(buf, cap, "#%02x%02x%02x", (int)lround(255 - t * (255 - 8)), (int)lround(255 - t * (255 - 48)),
             (int)lround(255 - t * (255 - 107)));
}

/* The layout of the grid of heat maps: a panel per edge. */
typedef struct hm_layout {
    int shown[CF_TRAIN_MAX_EPOCHS]; /* (n_shown) the epochs drawn, from 0 */
    int n_shown;
    double lo, hi;                  /* the colour scale: the weights' range */
    double label_w, cw, ch, pw, ph, gap, top;
    int per_row, grid_rows;
    int gx[MAX_ROWS], gy[MAX_ROWS]; /* each edge's panel: column and row of the grid */
} hm_layout;

/* The part of an edge's name before its first '.' ("normal", "reduce"), as a length. */
static size_t edge_group(const char *name) {
    const char *dot = strchr(name, '.');
    return dot ? (size_t)(dot - name) : 0;
}

/* The panels in rows of per_row, each group of edges (a darts space's normal
 * and reduction cell) starting a row of its own. */
static void hm_grid(const alphas *a, hm_layout *L) {
    int x = 0, y = 0;
    for (int i = 0; i < a->rows; i++) {
        size_t g = edge_group(a->edges[i]);
        int new_group = i > 0 && (g != edge_group(a->edges[i - 1]) || strncmp(a->edges[i], a->edges[i - 1], g) != 0);
        if (i > 0 && (x == L->per_row || new_group)) {
            x = 0;
            y++;
        }
        L->gx[i] = x++;
        L->gy[i] = y;
    }
    L->grid_rows = y + 1;
}

static void hm_plan(const rp_run *run, const alphas *a, hm_layout *L) {
    int per = a->rows * a->cols, most = MAX_CELLS / per > 10 ? MAX_CELLS / per : 10;
    L->n_shown = a->epochs <= most ? a->epochs : most;
    for (int k = 0; k < L->n_shown; k++)
        L->shown[k] = L->n_shown == a->epochs ? k : (int)lround((double)k * (a->epochs - 1) / (L->n_shown - 1));
    L->lo = INFINITY;
    L->hi = -INFINITY;
    for (int k = 0; k < L->n_shown; k++)
        for (int i = 0; i < per; i++) {
            double v = a->w[(size_t)L->shown[k] * (size_t)per + (size_t)i];
            L->lo = fmin(L->lo, v);
            L->hi = fmax(L->hi, v);
        }
    char buf[64];
    L->label_w = 40;
    for (int j = 0; j < a->cols; j++)
        L->label_w = fmax(L->label_w, 1.15 * rp_text_width(op_label(run, a->ops[j], buf, sizeof buf), 11) + 14);
    double title_w = 0;
    for (int i = 0; i < a->rows; i++) title_w = fmax(title_w, rp_text_width(a->edges[i], 10) + 6);
    L->cw = 180.0 / L->n_shown;
    L->cw = L->cw > 28 ? 28 : L->cw < 2 ? 2 : L->cw;
    if (L->cw * L->n_shown < title_w) L->cw = title_w / L->n_shown;
    L->pw = L->cw * L->n_shown;
    L->ch = 14;
    L->gap = 14;
    L->ph = 14 + a->cols * L->ch + 22;
    L->top = 34;
    L->per_row = (int)((GRID_WIDTH - L->label_w) / (L->pw + L->gap));
    L->per_row = L->per_row < 1 ? 1 : L->per_row > 7 ? 7 : L->per_row;
    if (L->per_row > a->rows) L->per_row = a->rows;
    hm_grid(a, L);
}

/* The colour scale above the grid: ten steps from the lowest weight to the highest. */
static void hm_legend(rp_buf *b, const hm_layout *L) {
    char c[16];
    rp_puts(b, "<text class=\"legend\" x=\"4\" y=\"14\">weight</text>\n");
    rp_puts(b, "<text class=\"legend\" text-anchor=\"end\" x=\"94\" y=\"14\">");
    rp_num(b, L->lo, 3);
    rp_puts(b, "</text>");
    for (int k = 0; k < 10; k++) {
        weight_color((k + 0.5) / 10, c, sizeof c);
        rp_printf(b, "<rect x=\"%d\" y=\"4\" width=\"12\" height=\"12\" fill=\"%s\"/>", 100 + 12 * k, c);
    }
    rp_puts(b, "<text class=\"legend\" x=\"226\" y=\"14\">");
    rp_num(b, L->hi, 3);
    rp_puts(b, "</text>\n");
}

/* One edge's panel at (x, y): its name, a cell per op and epoch, the first and last epoch. */
static void hm_panel(rp_buf *b, const rp_run *run, const alphas *a, const hm_layout *L, int row, double x, double y) {
    rp_printf(b, "<text class=\"hmlabel\" style=\"font-size:10px\" x=\"");
    rp_xy(b, x);
    rp_puts(b, "\" y=\"");
    rp_xy(b, y + 10);
    rp_puts(b, "\">");
    rp_esc(b, a->edges[row]);
    rp_puts(b, "</text>\n");
    const size_t per = (size_t)a->rows * (size_t)a->cols;
    char c[16], op[64];
    double span = L->hi - L->lo;
    for (int j = 0; j < a->cols; j++) {
        op_label(run, a->ops[j], op, sizeof op);
        double cy = y + 14 + j * L->ch;
        for (int k = 0; k < L->n_shown; k++) {
            double v = a->w[(size_t)L->shown[k] * per + (size_t)row * (size_t)a->cols + (size_t)j];
            weight_color(span > 0 ? (v - L->lo) / span : 0, c, sizeof c);
            rp_puts(b, "<rect x=\"");
            rp_xy(b, x + k * L->cw);
            rp_puts(b, "\" y=\"");
            rp_xy(b, cy);
            rp_puts(b, "\" width=\"");
            rp_xy(b, L->cw);
            rp_puts(b, "\" height=\"");
            rp_xy(b, L->ch);
            rp_printf(b, "\" fill=\"%s\"><title>", c);
            rp_esc(b, a->edges[row]);
            rp_puts(b, ", ");
            rp_esc(b, op);
            rp_printf(b, ", epoch %d: ", L->shown[k] + 1);
            rp_num(b, v, 4);
            rp_puts(b, "</title></rect>");
        }
        rp_puts(b, "\n");
    }
    double by = y + 14 + a->cols * L->ch;
    rp_puts(b, "<rect class=\"frame\" x=\"");
    rp_xy(b, x);
    rp_printf(b, "\" y=\"%.0f\" width=\"", y + 14);
    rp_xy(b, L->pw);
    rp_printf(b, "\" height=\"%.0f\"/>", by - (y + 14));
    rp_puts(b, "<text class=\"tick\" x=\"");
    rp_xy(b, x);
    rp_printf(b, "\" y=\"%.0f\">%d</text>", by + 12, L->shown[0] + 1);
    if (L->n_shown > 1) {
        rp_puts(b, "<text class=\"tick\" text-anchor=\"end\" x=\"");
        rp_xy(b, x + L->pw);
        rp_printf(b, "\" y=\"%.0f\">%d</text>", by + 12, L->shown[L->n_shown - 1] + 1);
    }
    rp_puts(b, "\n");
}

static void heat_maps(rp_buf *b, const rp_run *run, const alphas *a) {
    hm_layout *L = calloc(1, sizeof *L);
    if (!L) {
        rp_puts(b, "<p class=\"empty\">Out of memory while drawing the heat maps.</p>\n");
        return;
    }
    hm_plan(run, a, L);
    double w = fmax(L->label_w + L->per_row * (L->pw + L->gap), 280), h = L->top + L->grid_rows * L->ph;
    rp_svg_open(b, "chart", 0, 0, w, h, "architecture weights softmax(alpha) of each edge over the epochs");
    hm_legend(b, L);
    char op[64];
    for (int g = 0; g < L->grid_rows; g++) {
        double y = L->top + g * L->ph;
        for (int j = 0; j < a->cols; j++) {
            rp_printf(b, "<text class=\"tick\" text-anchor=\"end\" x=\"");
            rp_xy(b, L->label_w - 6);
            rp_puts(b, "\" y=\"");
            rp_xy(b, y + 14 + (j + 0.5) * L->ch + 4);
            rp_puts(b, "\">");
            rp_esc(b, op_label(run, a->ops[j], op, sizeof op));
            rp_puts(b, "</text>\n");
        }
        for (int i = 0; i < a->rows; i++)
            if (L->gy[i] == g) hm_panel(b, run, a, L, i, L->label_w + L->gx[i] * (L->pw + L->gap), y);
    }
    rp_puts(b, "</svg>\n");
    if (L->n_shown < a->epochs)
        rp_printf(b, "<p class=\"note\">%d of the %d epochs are shown, evenly spaced, the first and the last "
                     "included.</p>\n", L->n_shown, a->epochs);
    free(L);
}

/* ---- one supernet ------------------------------------------------------------------- */

/* The supernet's validation accuracy per epoch. */
static void accuracy_chart(rp_buf *b, const rp_trial *t) {
    double lo = INFINITY, hi = -INFINITY;
    int n = 0;
    for (int e = 0; e < t->n_curve; e++) {
        if (t->curve[e].val_acc < 0) continue;
        lo = fmin(lo, t->curve[e].val_acc);
        hi = fmax(hi, t->curve[e].val_acc);
        n++;
    }
    if (n == 0) {
        rp_puts(b, "<p class=\"empty\">No epoch of the supernet has a validation accuracy yet.</p>\n");
        return;
    }
    rp_plot p = {.width = 540, .height = 280, .left = 62, .right = 18, .top = 16, .bottom = 46};
    p.x.ticks = RP_TICKS_INT;
    p.y.ticks = RP_TICKS_PCT;
    rp_axis_fit(&p.x, 1, t->n_curve, 0);
    if (t->n_curve == 1) p.x.lo = 0.5, p.x.hi = 1.5;
    rp_axis_fit(&p.y, lo, hi, 0);
    if (p.y.lo < 0) p.y.lo = 0;
    if (p.y.hi > 1) p.y.hi = 1;
    rp_plot_begin(b, &p, "the supernet's validation accuracy per epoch", "epoch", "validation accuracy");
    rp_printf(b, "<polyline class=\"curve\" style=\"stroke:%s\" points=\"", rp_series_color(0));
    for (int e = 0, any = 0; e < t->n_curve; e++) {
        if (t->curve[e].val_acc < 0) continue;
        if (any++) rp_puts(b, " ");
        rp_xy(b, rp_map(&p.x, e + 1));
        rp_puts(b, ",");
        rp_xy(b, rp_map(&p.y, t->curve[e].val_acc));
    }
    rp_puts(b, "\"/>\n");
    char a[32];
    for (int e = 0; e < t->n_curve && t->n_curve <= 100; e++) {
        if (t->curve[e].val_acc < 0) continue;
        rp_puts(b, "<circle cx=\"");
        rp_xy(b, rp_map(&p.x, e + 1));
        rp_puts(b, "\" cy=\"");
        rp_xy(b, rp_map(&p.y, t->curve[e].val_acc));
        rp_printf(b, "\" r=\"3\" style=\"fill:%s\"><title>epoch %d: %s</title></circle>", rp_series_color(0), e + 1,
                  rp_fmt_pct(t->curve[e].val_acc, 2, a, sizeof a));
    }
    rp_plot_end(b);
}

/* The trial that trained a derived architecture alone: the supernet's child with its text. */
static const rp_trial *derived_trial(const rp_run *run, const rp_trial *sn, const char *arch) {
    for (int64_t i = 0; i < run->n_trials; i++)
        if (run->trials[i].parent == sn->id && strcmp(run->trials[i].arch, arch) == 0) return &run->trials[i];
    return NULL;
}

static void derived_row(rp_buf *b, const rp_run *run, const rp_trial *sn, int rank, const char *arch, double acc) {
    const rp_trial *t = derived_trial(run, sn, arch);
    char a[32], p[32], m[32];
    rp_printf(b, "<tr class=\"derived\"><td class=\"n\">%d</td><td><code>", rank);
    rp_esc(b, arch);
    rp_printf(b, "</code></td><td class=\"n\">%s</td>", rp_fmt_pct(acc, 2, a, sizeof a));
    if (!t) {
        rp_puts(b, "<td colspan=\"5\">not proposed as a trial (yet)</td></tr>\n");
        return;
    }
    rp_printf(b, "<td class=\"n\"><a href=\"#trial-%lld\">%lld</a></td><td>%s</td>", (long long)t->id,
              (long long)t->id, cf_trial_status_name(t->status));
    rp_printf(b, "<td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td></tr>\n",
              rp_fmt_pct(t->val_acc, 2, a, sizeof a), rp_fmt_si((double)t->params, p, sizeof p),
              rp_fmt_si((double)t->macs, m, sizeof m));
}

/* The architectures the supernet derived, from its metrics. */
static void derived(rp_buf *b, const rp_run *run, const rp_trial *sn, const cJSON *metrics) {
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(metrics, "derived");
    const cJSON *accs = cJSON_GetObjectItemCaseSensitive(metrics, "derived_acc");
    int n = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : 0;
    if (n == 0) {
        rp_puts(b, "<p class=\"empty\">The supernet's metrics name no derived architecture.</p>\n");
        return;
    }
    rp_puts(b, "<h3>Derived architectures</h3>\n<p class=\"note\">In the method's order, best first (darts, gdas: "
               "the most probable under softmax(alpha); spos: the evolutionary search's best), with the supernet's "
               "validation accuracy of each on its own paths and the trial that then trained it alone.</p>\n"
               "<table><thead><tr><th class=\"n\">rank</th><th>architecture</th><th class=\"n\">supernet acc</th>"
               "<th class=\"n\">trial</th><th>status</th><th class=\"n\">val acc (alone)</th>"
               "<th class=\"n\">params</th><th class=\"n\">MACs</th></tr></thead><tbody>\n");
    const cJSON *e;
    int k = 0;
    cJSON_ArrayForEach(e, list) {
        const cJSON *acc = cJSON_GetArrayItem(accs, k);
        double v = cJSON_IsNumber(acc) && acc->valuedouble >= 0 && acc->valuedouble <= 1 ? acc->valuedouble : -1;
        if (cJSON_IsString(e)) derived_row(b, run, sn, k + 1, e->valuestring, v);
        k++;
    }
    rp_puts(b, "</tbody></table>\n");
    int wide = run->space && run->space->family == CF_SPACE_FAMILY_DARTS;
    rp_printf(b, "<div class=\"cells%s\">\n", wide ? " wide" : "");
    k = 0;
    cJSON_ArrayForEach(e, list) {
        if (k == MAX_FIGURES || !cJSON_IsString(e)) break;
        const rp_trial *t = derived_trial(run, sn, e->valuestring);
        const cJSON *acc = cJSON_GetArrayItem(accs, k);
        char title[200], a[32], c[32];
        double v = cJSON_IsNumber(acc) ? acc->valuedouble : -1;
        int len = snprintf(title, sizeof title, "derived #%d: supernet acc %s", k + 1, rp_fmt_pct(v, 2, a, sizeof a));
        if (t && len > 0 && (size_t)len < sizeof title)
            snprintf(title + len, sizeof title - (size_t)len, "; trial %lld: val %s", (long long)t->id,
                     rp_fmt_pct(t->val_acc, 2, c, sizeof c));
        rp_cell_figure(b, run, title, e->valuestring);
        k++;
    }
    rp_puts(b, "</div>\n");
    if (n > MAX_FIGURES) rp_printf(b, "<p class=\"note\">The first %d are drawn.</p>\n", MAX_FIGURES);
}

/* The architecture weights: a heat map, or a note saying why there is none. */
static void weights(rp_buf *b, const rp_run *run, const rp_trial *sn, const char *method, const cJSON *metrics) {
    alphas a;
    char note[1400];
    int ok = alphas_read(run, sn->id, &a, note, sizeof note);
    int spos = strcmp(method, "spos") == 0 || (ok && strcmp(a.method, "spos") == 0);
    rp_puts(b, "<h3>Architecture weights</h3>\n");
    if (spos || (ok && a.all_zero)) {
        const cJSON *scored = cJSON_GetObjectItemCaseSensitive(metrics, "scored");
        rp_puts(b, "<p class=\"note\">");
        rp_puts(b, spos ? "spos has no architecture weights: each training step runs one path drawn uniformly, so "
                          "there is no heat map; its architectures come from an evolutionary search scored by the "
                          "supernet's validation accuracy"
                        : "Every architecture weight is zero: there is nothing to draw");
        if (spos && cJSON_IsNumber(scored)) rp_printf(b, " (%d candidates scored)", (int)scored->valuedouble);
        rp_puts(b, ".</p>\n");
    } else if (!ok) {
        rp_puts(b, "<p class=\"notice\">");
        rp_esc(b, note);
        rp_puts(b, "</p>\n");
    } else {
        rp_printf(b, "<p class=\"note\">softmax(alpha) of each edge after each of the %d epochs (x: the epoch, y: "
                     "the edge's candidate ops): darker is a larger weight, on one scale for all the edges from the "
                     "lowest weight shown to the highest; each cell's tooltip holds its value.</p>\n", a.epochs);
        heat_maps(b, run, &a);
    }
    if (ok) alphas_free(&a);
}

static void supernet(rp_buf *b, const rp_run *run, const rp_trial *sn) {
    cJSON *metrics = sn->metrics ? cJSON_Parse(sn->metrics) : NULL;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(metrics, "method");
    const char *method = cJSON_IsString(m) ? m->valuestring : rp_spec(run, "strategy") ? rp_spec(run, "strategy") : "?";
    char a[32], s[32];
    rp_printf(b, "<h3>Supernet: trial <a href=\"#trial-%lld\">%lld</a>, method ", (long long)sn->id, (long long)sn->id);
    rp_esc(b, method);
    rp_printf(b, "</h3>\n<p>Status %s, %d of %d epochs, last validation accuracy %s, %s of training. Every candidate "
                 "op of every edge, mixed; it is no model of the space, so it is left out of the best models, the "
                 "front and the final phase.</p>\n",
              cf_trial_status_name(sn->status), sn->epochs_done > 0 ? sn->epochs_done : sn->n_curve, sn->epochs, rp_fmt_pct(sn->val_acc, 2, a, sizeof a),
              rp_fmt_duration(sn->seconds, s, sizeof s));
    if (sn->status != CF_TRIAL_OK && sn->reason[0]) {
        rp_puts(b, "<p class=\"notice\">");
        rp_esc(b, sn->reason);
        rp_puts(b, "</p>\n");
    }
    rp_puts(b, "<div class=\"charts\">\n");
    accuracy_chart(b, sn);
    rp_puts(b, "</div>\n");
    weights(b, run, sn, method, metrics);
    if (metrics) derived(b, run, sn, metrics);
    else if (sn->status == CF_TRIAL_PENDING || sn->status == CF_TRIAL_RUNNING)
        rp_puts(b, "<p class=\"empty\">The supernet has not finished: no architecture is derived yet.</p>\n");
    else
        rp_puts(b, "<p class=\"empty\">No architecture was derived (the supernet did not finish ok).</p>\n");
    cJSON_Delete(metrics);
}

int rp_has_oneshot(const rp_run *run) {
    for (int64_t i = 0; i < run->n_trials; i++)
        if (run->trials[i].supernet && run->trials[i].status != CF_TRIAL_REJECTED) return 1;
    return 0;
}

void rp_oneshot_section(rp_buf *b, const rp_run *run) {
    for (int64_t i = 0; i < run->n_trials; i++)
        if (run->trials[i].supernet && run->trials[i].status != CF_TRIAL_REJECTED) supernet(b, run, &run->trials[i]);
}
