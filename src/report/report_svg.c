/* report_svg.c - the frame of every chart in the report: axes fitted to the
 * data (linear or log), readable ticks (10k, 1M, 40%, whole epochs), grid,
 * axis labels, step lines and legend entries, as inline SVG.
 * Tests: tests/cli_report.sh (every <svg> parses as XML; screenshots).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_impl.h"

#define TICK_FONT 11.0
#define LABEL_FONT 12.0

const char *rp_series_color(int i) {
    static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b",
                                         "#e377c2", "#17becf", "#7f7f7f", "#bcbd22", "#ff7f0e"};
    int n = (int)(sizeof colors / sizeof colors[0]);
    return colors[((i % n) + n) % n];
}

void rp_pixels_init(rp_pixels *px, size_t n) {
    px->cap = 64;
    while (px->cap < 2 * n) px->cap *= 2;
    px->keys = calloc(px->cap, sizeof *px->keys);
}

void rp_pixels_free(rp_pixels *px) {
    free(px->keys);
    px->keys = NULL;
}

int rp_pixels_first(rp_pixels *px, double x, double y) {
    if (!px->keys || !isfinite(x) || !isfinite(y)) return 1;
    uint64_t key = ((uint64_t)(uint32_t)(int32_t)lround(x) << 32 | (uint32_t)(int32_t)lround(y)) + 1;
    size_t i = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 20) & (px->cap - 1);
    for (size_t probes = 0; probes < px->cap; probes++, i = (i + 1) & (px->cap - 1)) {
        if (px->keys[i] == key) return 0;
        if (px->keys[i] == 0) {
            px->keys[i] = key;
            return 1;
        }
    }
    return 1;
}

double rp_text_width(const char *s, double font_px) {
    double w = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c & 0xc0) == 0x80) continue; /* UTF-8 continuation bytes */
        w += strchr("il.,:;|!'1 ", c) ? 0.32 : strchr("mwMW%", c) ? 0.85 : (c >= 'A' && c <= 'Z') ? 0.66 : 0.56;
    }
    return w * font_px;
}

void rp_axis_fit(rp_axis *a, double lo, double hi, int log) {
    a->log = log;
    if (!isfinite(lo) || !isfinite(hi) || hi < lo) lo = hi = log ? 1 : 0;
    if (log) {
        if (hi <= 0) hi = 1;
        if (lo <= 0) lo = hi / 10;
        if (lo == hi) {
            lo /= 2;
            hi *= 2;
        } else {
            double pad = pow(hi / lo, 0.06);
            if (pad < 1.15) pad = 1.15;
            lo /= pad;
            hi *= pad;
        }
    } else if (lo == hi) {
        double d = fabs(lo) > 0 ? fabs(lo) * 0.1 : 0.5;
        lo -= d;
        hi += d;
    } else {
        double pad = (hi - lo) * 0.06;
        lo -= pad;
        hi += pad;
    }
    a->lo = lo;
    a->hi = hi;
    if (a->scale <= 0) a->scale = 1;
}

double rp_map(const rp_axis *a, double v) {
    double t;
    if (!isfinite(v)) return a->p0;
    if (a->log) {
        if (v <= 0) v = a->lo;
        t = (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo));
    } else {
        t = (v - a->lo) / (a->hi - a->lo);
    }
    if (!isfinite(t)) t = 0;
    return a->p0 + t * (a->p1 - a->p0);
}

static double nice_step(double range, int target) {
    if (!(range > 0) || target < 1) return 1;
    double raw = range / target, mag = pow(10, floor(log10(raw))), norm = raw / mag;
    double step = norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10;
    return step * mag;
}

/* Tick values into out (at most cap); *step receives the spacing for labels. */
static int ticks(const rp_axis *a, double *out, int cap, double *step) {
    double pixels = fabs(a->p1 - a->p0);
    int target = (int)(pixels / 55);
    if (target < 2) target = 2;
    int n = 0;
    if (a->log) {
        double l0 = floor(log10(a->lo)), l1 = ceil(log10(a->hi)), decades = log10(a->hi / a->lo);
        /* 1-2-5 per decade where they fit, every digit within a short range, and
         * only every few decades over a very wide one */
        static const double digits[] = {1, 1.5, 2, 3, 4, 5, 6, 7, 8, 9}, one_two_five[] = {1, 2, 5};
        const double *mult = decades < 1.2 ? digits : one_two_five;
        int n_mult = decades < 1.2 ? 10 : decades * 3 <= target ? 3 : 1;
        int every = 1;
        while (n_mult == 1 && decades / every > target) every++;
        for (double k = l0; k <= l1 && n < cap; k += 1) {
            if (n_mult == 1 && (long)(k - l0) % every) continue;
            for (int m = 0; m < n_mult && n < cap; m++) {
                double v = mult[m] * pow(10, k);
                if (v >= a->lo && v <= a->hi) out[n++] = v;
            }
        }
        *step = 0;
        if (n >= 3) return n;
        /* less than a decade: plain steps over the range, still placed on the log scale */
        n = 0;
    }
    double s = nice_step((a->hi - a->lo) / a->scale, target) * a->scale;
    if (a->ticks == RP_TICKS_INT && s < 1) s = 1;
    *step = s;
    for (double v = ceil(a->lo / s - 1e-9) * s; v <= a->hi + 1e-9 * s && n < cap; v += s) {
        if (fabs(v) < 1e-12 * s) v = 0;
        if (a->log && v <= 0) continue;
        out[n++] = v;
    }
    return n;
}

/* Decimals that tell ticks `step` apart: 0.5 steps need one, 0.25 two. */
static int step_digits(double step) {
    int digits = step >= 1 || step <= 0 ? 0 : (int)ceil(-log10(step) - 1e-9);
    while (digits < 4 && step > 0 && fabs(step * pow(10, digits) - round(step * pow(10, digits))) > 1e-6) digits++;
    return digits;
}

static void tick_label(const rp_axis *a, double v, double step, char *buf, size_t cap) {
    switch (a->ticks) {
    case RP_TICKS_SI: rp_fmt_si(v, buf, cap); break;
    case RP_TICKS_PCT: snprintf(buf, cap, "%.*f%%", step_digits(100 * step), 100 * v); break;
    case RP_TICKS_INT: snprintf(buf, cap, "%.0f", v); break;
    default: snprintf(buf, cap, "%.*f", step_digits(step / a->scale), v / a->scale);
    }
}

void rp_svg_open(rp_buf *b, const char *cls, double x0, double y0, double w, double h, const char *aria) {
    rp_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"%s\" viewBox=\"", cls);
    rp_xy(b, x0);
    rp_puts(b, " ");
    rp_xy(b, y0);
    rp_puts(b, " ");
    rp_xy(b, w);
    rp_puts(b, " ");
    rp_xy(b, h);
    rp_puts(b, "\" width=\"");
    rp_xy(b, w);
    rp_puts(b, "\" height=\"");
    rp_xy(b, h);
    rp_puts(b, "\" role=\"img\" aria-label=\"");
    rp_esc(b, aria);
    rp_puts(b, "\">\n");
}

void rp_plot_begin(rp_buf *b, rp_plot *p, const char *aria, const char *xlabel, const char *ylabel) {
    p->x.p0 = p->left;
    p->x.p1 = p->width - p->right;
    p->y.p0 = p->height - p->bottom;
    p->y.p1 = p->top;
    rp_svg_open(b, "chart", 0, 0, p->width, p->height, aria);
    rp_printf(b, "<rect class=\"plotbg\" x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\"/>\n", p->left, p->top,
              p->x.p1 - p->x.p0, p->y.p0 - p->y.p1);
    double v[64], step;
    char label[32];
    int n = ticks(&p->x, v, 64, &step);
    double last_right = -1e9;
    for (int i = 0; i < n; i++) {
        double x = rp_map(&p->x, v[i]);
        rp_puts(b, "<line class=\"grid\" x1=\"");
        rp_xy(b, x);
        rp_puts(b, "\" x2=\"");
        rp_xy(b, x);
        rp_printf(b, "\" y1=\"%.0f\" y2=\"%.0f\"/>", p->y.p1, p->y.p0 + 4);
        tick_label(&p->x, v[i], step, label, sizeof label);
        double w = rp_text_width(label, TICK_FONT);
        if (x - w / 2 < last_right + 6) continue; /* would overlap the previous label */
        last_right = x + w / 2;
        rp_puts(b, "<text class=\"tick\" text-anchor=\"middle\" x=\"");
        rp_xy(b, x);
        rp_printf(b, "\" y=\"%.0f\">", p->y.p0 + 17);
        rp_esc(b, label);
        rp_puts(b, "</text>\n");
    }
    n = p->y_hidden ? 0 : ticks(&p->y, v, 64, &step);
    for (int i = 0; i < n; i++) {
        double y = rp_map(&p->y, v[i]);
        rp_printf(b, "<line class=\"grid\" x1=\"%.0f\" x2=\"%.0f\" y1=\"", p->x.p0 - 4, p->x.p1);
        rp_xy(b, y);
        rp_puts(b, "\" y2=\"");
        rp_xy(b, y);
        rp_puts(b, "\"/>");
        tick_label(&p->y, v[i], step, label, sizeof label);
        rp_printf(b, "<text class=\"tick\" text-anchor=\"end\" x=\"%.0f\" y=\"", p->x.p0 - 7);
        rp_xy(b, y + 4);
        rp_puts(b, "\">");
        rp_esc(b, label);
        rp_puts(b, "</text>\n");
    }
    rp_printf(b, "<rect class=\"frame\" x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\"/>\n", p->left, p->top,
              p->x.p1 - p->x.p0, p->y.p0 - p->y.p1);
    if (xlabel) {
        rp_printf(b, "<text class=\"axis\" text-anchor=\"middle\" x=\"%.0f\" y=\"%.0f\">", (p->x.p0 + p->x.p1) / 2,
                  p->height - 6);
        rp_esc(b, xlabel);
        rp_puts(b, "</text>\n");
    }
    if (ylabel) {
        double cy = (p->y.p0 + p->y.p1) / 2;
        rp_printf(b, "<text class=\"axis\" text-anchor=\"middle\" transform=\"translate(14 %.0f) rotate(-90)\">", cy);
        rp_esc(b, ylabel);
        rp_puts(b, "</text>\n");
    }
}

void rp_plot_end(rp_buf *b) { rp_puts(b, "</svg>\n"); }

void rp_step_path(rp_buf *b, const rp_plot *p, const double *x, const double *y, size_t n, double x_end,
                  const char *cls) {
    if (n == 0) return;
    rp_printf(b, "<path class=\"%s\" d=\"M", cls);
    rp_xy(b, rp_map(&p->x, x[0]));
    rp_puts(b, " ");
    rp_xy(b, rp_map(&p->y, y[0]));
    for (size_t i = 1; i < n; i++) {
        rp_puts(b, "H");
        rp_xy(b, rp_map(&p->x, x[i]));
        rp_puts(b, "V");
        rp_xy(b, rp_map(&p->y, y[i]));
    }
    if (isfinite(x_end)) {
        rp_puts(b, "H");
        rp_xy(b, rp_map(&p->x, x_end));
    }
    rp_puts(b, "\"/>\n");
}

double rp_legend_item(rp_buf *b, double x, double y, const char *swatch_cls, int shape, const char *text) {
    switch (shape) {
    case 1:
        rp_printf(b, "<line class=\"%s\" x1=\"%.0f\" x2=\"%.0f\" y1=\"%.0f\" y2=\"%.0f\"/>", swatch_cls, x, x + 16,
                  y - 4, y - 4);
        break;
    case 2:
        rp_printf(b, "<rect class=\"%s\" x=\"%.0f\" y=\"%.0f\" width=\"14\" height=\"10\"/>", swatch_cls, x + 1, y - 9);
        break;
    case 3:
        rp_printf(b, "<path class=\"%s\" d=\"M%.0f %.0fl5 5l-5 5l-5 -5z\"/>", swatch_cls, x + 8, y - 9);
        break;
    default:
        rp_printf(b, "<circle class=\"%s\" cx=\"%.0f\" cy=\"%.0f\" r=\"4.5\"/>", swatch_cls, x + 8, y - 4);
    }
    rp_printf(b, "<text class=\"legend\" x=\"%.0f\" y=\"%.0f\">", x + 21, y);
    rp_esc(b, text);
    rp_puts(b, "</text>\n");
    return 21 + rp_text_width(text, 11) + 14;
}
