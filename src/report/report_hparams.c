/* report_hparams.c - the report's hyperparameter charts: for a space that
 * searches training knobs or skeleton options with the architecture, one
 * small scatter per hyperparameter of its value (log x for log ranges, the
 * choice's position for choices) against the validation accuracy of every
 * trial that finished ok. Tests: tests/cli_hparams.sh.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_impl.h"

/* The x of a trial's value of hparams[i]: the number, or a choice's index. */
static void one_chart(rp_buf *b, const rp_run *run, int i, const cf_arch *archs, const rp_trial **ok, size_t n) {
    const cf_space *s = run->space;
    const cf_space_hparam *h = &s->hparams[i];
    rp_plot p = {.width = 360, .height = 250, .left = 58, .right = 14, .top = 18, .bottom = 46};
    p.y.ticks = RP_TICKS_PCT;
    double ylo = INFINITY, yhi = -INFINITY;
    for (size_t k = 0; k < n; k++) {
        ylo = fmin(ylo, ok[k]->val_acc);
        yhi = fmax(yhi, ok[k]->val_acc);
    }
    rp_axis_fit(&p.y, ylo, yhi, 0);
    if (p.y.lo < 0) p.y.lo = 0;
    if (p.y.hi > 1) p.y.hi = 1;
    char xlabel[256];
    if (h->kind == CF_HPARAM_CHOICE) {
        p.x.ticks = RP_TICKS_INT;
        rp_axis_fit(&p.x, 0, h->n_choices - 1 > 0 ? h->n_choices - 1 : 1, 0);
        size_t len = (size_t)snprintf(xlabel, sizeof xlabel, "%s:", h->name);
        for (int c = 0; c < h->n_choices && len < sizeof xlabel; c++)
            len += (size_t)snprintf(xlabel + len, sizeof xlabel - len, " %d=%s", c, h->choices[c]);
    } else {
        p.x.ticks = h->kind == CF_HPARAM_INT ? RP_TICKS_INT : RP_TICKS_NUM;
        rp_axis_fit(&p.x, h->lo, h->hi, h->kind == CF_HPARAM_LOG);
        snprintf(xlabel, sizeof xlabel, "%s%s", h->name, h->kind == CF_HPARAM_LOG ? " (log scale)" : "");
    }
    char aria[96];
    snprintf(aria, sizeof aria, "validation accuracy against %s", h->name);
    rp_plot_begin(b, &p, aria, xlabel, "validation accuracy");
    for (size_t k = 0; k < n; k++) {
        double x = rp_map(&p.x, archs[k].hp[i]), y = rp_map(&p.y, ok[k]->val_acc);
        rp_puts(b, "<circle class=\"pt-faint\" cx=\"");
        rp_xy(b, x);
        rp_puts(b, "\" cy=\"");
        rp_xy(b, y);
        rp_printf(b, "\" r=\"3\"><title>trial %lld: %s ", (long long)ok[k]->id, h->name);
        char v[64];
        if (h->kind == CF_HPARAM_CHOICE) snprintf(v, sizeof v, "%s", h->choices[(int)archs[k].hp[i]]);
        else snprintf(v, sizeof v, "%g", archs[k].hp[i]);
        rp_esc(b, v);
        rp_puts(b, ", val ");
        rp_num(b, 100 * ok[k]->val_acc, 2);
        rp_puts(b, "%</title></circle>\n");
    }
    rp_plot_end(b);
}

int rp_has_hparams(const rp_run *run) { return run->space && run->space->n_hparams > 0; }

void rp_chart_hparams(rp_buf *b, const rp_run *run) {
    const cf_space *s = run->space;
    size_t cap = (size_t)(run->n_trials > 0 ? run->n_trials : 1);
    const rp_trial **ok = malloc(cap * sizeof *ok);
    cf_arch *archs = malloc(cap * sizeof *archs);
    size_t n = 0;
    for (int64_t i = 0; ok && archs && i < run->n_trials; i++) {
        const rp_trial *t = &run->trials[i];
        if (!rp_trial_is_model(t) || t->val_acc < 0 || !t->arch) continue;
        if (cf_arch_parse(s, t->arch, &archs[n]) != CF_OK) continue;
        ok[n++] = t;
    }
    if (n == 0) {
        rp_puts(b, "<p class=\"empty\">No trial finished ok: there is no accuracy to plot.</p>\n");
    } else {
        rp_puts(b, "<div class=\"charts\">\n");
        for (int i = 0; i < s->n_hparams; i++) one_chart(b, run, i, archs, ok, n);
        rp_puts(b, "</div>\n");
    }
    free(ok);
    free(archs);
}
