/* report_html.c - the report page: style, the run's summary and command line,
 * the sections in order (each with a message where it has nothing to show;
 * the one-shot search only for a run with a supernet),
 * the trial table, the failures, the best final model's per-class accuracy
 * and confusion matrix, and the atomic write (cf_report_write).
 * Format of the inputs: include/cellforge/report.h. Tests: tests/cli_report.sh.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cellforge/file.h"
#include "cellforge/report.h"
#include "report_impl.h"

static const char *const style =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',Arial,sans-serif;color:#1a1a1a;"
    "background:#fff;margin:0 auto;max-width:1160px;padding:18px 28px}\n"
    "h1{font-size:24px;margin:0 0 2px}h2{font-size:19px;margin:30px 0 10px;padding-bottom:4px;"
    "border-bottom:2px solid #e3e6ea}h3{font-size:15px;margin:16px 0 6px}\n"
    "a{color:#1f5fa8}.sub{color:#555;margin:0 0 10px}nav.toc{font-size:13px;margin:6px 0 14px}"
    "nav.toc a{margin-right:14px}\n"
    ".kpis{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}.kpi{border:1px solid #d9dde3;border-radius:6px;"
    "padding:8px 14px;min-width:120px}.kpi b{display:block;font-size:22px}.kpi span{color:#555;font-size:12px}\n"
    "dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:3px 18px;margin:8px 0}dt{color:#555}dd{margin:0}\n"
    "pre.cmd{background:#f5f6f8;border:1px solid #e1e4e8;border-radius:4px;padding:8px 10px;white-space:pre-wrap;"
    "word-break:break-all;font-size:12.5px}\n"
    ".notice{border-left:4px solid #d97706;background:#fff7e6;padding:6px 10px;margin:8px 0}\n"
    ".charts{display:flex;flex-wrap:wrap;gap:14px}svg.chart{max-width:100%;height:auto;display:block}\n"
    ".tick{font-size:11px;fill:#444}.axis{font-size:12px;fill:#222}.legend{font-size:11px;fill:#222}\n"
    ".grid{stroke:#e8e8e8}.frame{fill:none;stroke:#888}.plotbg{fill:#fff}\n"
    ".pt{fill:#6b8fc7;fill-opacity:.6;stroke:#3d5f95;stroke-width:.6}.pt-low{fill:#fff;stroke:#9aa4b1}\n"
    ".pt-front{fill:#e8590c;stroke:#7a2e05}.front-line{fill:none;stroke:#e8590c;stroke-width:2}\n"
    ".pt-final{fill:#7b3fb5;stroke:#3c1d5a}.final-link{stroke:#7b3fb5;stroke-dasharray:3 3}.ptlabel{font-size:10px;fill:#333}\n"
    ".dots{fill:none;stroke-linecap:round}.dots-pt{stroke:#5f84bf;stroke-opacity:.7;stroke-width:7}"
    ".dots-low{stroke:#b9c0ca;stroke-width:6}.dots-faint{stroke:#6b8fc7;stroke-opacity:.45;stroke-width:6}\n"
    ".pt-faint{fill:#6b8fc7;fill-opacity:.4}.best-line{fill:none;stroke:#1f4e8c;stroke-width:2}.pt-best{fill:#1f4e8c}\n"
    ".fail-mark{stroke:#d62728;stroke-width:2}.marker{stroke:#555;stroke-dasharray:4 3}\n"
    ".bar-ok{fill:#5b9bd5}.bar-failed{fill:#d62728}.bar-oom{fill:#e8710a}.bar-timeout{fill:#c9b400}"
    ".bar-retry{fill:#f5b971}.bar-open{fill:#c4c4c4}.bar-cut{fill:#9aa7b8}.bar-final{fill:#7b3fb5}"
    ".bar-final-failed{fill:#c2185b}\n"
    "rect.bar-ok,rect.bar-failed,rect.bar-oom,rect.bar-timeout,rect.bar-retry,rect.bar-open,rect.bar-cut,rect.bar-final,"
    "rect.bar-final-failed{stroke:#fff;stroke-width:.6}\n"
    ".barlabel{font-size:10px;fill:#0d1b2e}.barlabel.light{fill:#fff}\n"
    ".curve{fill:none;stroke-width:1.6}.curve-final{stroke-width:2.6}\n"
    "ul.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:4px 18px;font-size:12.5px}"
    ".swatch{display:inline-block;width:18px;height:4px;margin-right:6px;vertical-align:middle}.swatch.thick{height:6px}\n"
    ".cells{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:14px}"
    ".cells.wide{grid-template-columns:1fr}\n"
    "figure.cell{border:1px solid #e1e4e8;border-radius:6px;padding:10px 12px;margin:0;break-inside:avoid}\n"
    "figcaption{font-weight:600;margin-bottom:6px}.subcap{font-size:12.5px;color:#555;margin-top:6px}\n"
    "svg.cellsvg{max-width:100%;height:auto;display:block;margin:4px 0}\n"
    ".node{fill:#f4f6fa;stroke:#333;stroke-width:1.2}.nodelabel{font-size:11px;fill:#111}.caption{font-size:10px;fill:#555}\n"
    ".node.dead{fill:#fff;stroke:#aaa;stroke-dasharray:3 3}.nodelabel.dead{fill:#999}.faint{opacity:.35}\n"
    ".edge{fill:none;stroke-width:1.8}.edge.dashed{stroke-dasharray:4 4;stroke-width:1.2}\n"
    ".edgebg{fill:#fff;fill-opacity:.92}.edgelabel{font-size:11px;font-weight:600}\n"
    "code.arch{display:block;font-size:11.5px;color:#333;word-break:break-all;white-space:pre-wrap}\n"
    "table{border-collapse:collapse;font-size:12.5px;width:100%}th,td{padding:3px 7px;border-bottom:1px solid #eceef1;"
    "text-align:left;vertical-align:top}th{background:#f3f5f8;position:sticky;top:0}table.sortable th{cursor:pointer}\n"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td code{font-size:11px;"
    "word-break:break-all}\n"
    ".s-ok{color:#1b6e2a}.s-bad{color:#b3261e;font-weight:600}.s-rej{color:#8a6d00}.s-cut{color:#5a6a80}\n"
    "p.empty{color:#555;font-style:italic;background:#f7f7f8;padding:10px 12px;border-radius:4px}p.note{color:#444;"
    "font-size:13px}\n"
    ".hm{font-size:10px}.hmlabel{font-size:11px;fill:#222}.pcbar{fill:#5b9bd5}.pcbg{fill:#eef1f5}\n"
    "@media print{body{max-width:none;padding:0;font-size:11.5px}nav.toc{display:none}th{position:static}"
    "figure,svg,.charts,.kpis{break-inside:avoid}a{color:inherit;text-decoration:none}}\n";

/* Clicking a header sorts by that column (numbers by data-v); the page reads
 * the same without it, sorted by validation accuracy. */
static const char *const script =
    "document.querySelectorAll('table.sortable th').forEach(function(th,i){th.addEventListener('click',function(){"
    "var tb=th.closest('table').tBodies[0],rows=Array.prototype.slice.call(tb.rows),"
    "up=th.getAttribute('data-dir')!=='asc';th.setAttribute('data-dir',up?'asc':'desc');"
    "function key(r){var c=r.cells[i],v=c.getAttribute('data-v');return v===null?c.textContent:parseFloat(v);}"
    "rows.sort(function(a,b){var x=key(a),y=key(b);return (x<y?-1:x>y?1:0)*(up?1:-1);});"
    "rows.forEach(function(r){tb.appendChild(r);});});});\n";

static int is_failure(cf_trial_status s) { return s > CF_TRIAL_OK && s < CF_TRIAL_REJECTED; }

static const char *status_class(cf_trial_status s) {
    return s == CF_TRIAL_OK        ? "s-ok"
           : s == CF_TRIAL_REJECTED ? "s-rej"
           : s == CF_TRIAL_CUT      ? "s-cut"
           : is_failure(s)          ? "s-bad"
                                    : "";
}

static void workers_text(const rp_trial *t, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = 0;
    for (int r = 0; r < t->replicas && n + 8 < cap; r++) n += (size_t)snprintf(buf + n, cap - n, r ? "+%d" : "%d", t->workers[r]);
    if (!t->replicas) snprintf(buf, cap, "-");
}

static void fact(rp_buf *b, const char *name, const char *value) {
    rp_puts(b, "<dt>");
    rp_esc(b, name);
    rp_puts(b, "</dt><dd>");
    rp_esc(b, value);
    rp_puts(b, "</dd>\n");
}

static void kpi(rp_buf *b, const char *value, const char *what) {
    rp_puts(b, "<div class=\"kpi\"><b>");
    rp_esc(b, value);
    rp_puts(b, "</b><span>");
    rp_esc(b, what);
    rp_puts(b, "</span></div>\n");
}

static const rp_final *best_final(const rp_run *run) {
    for (int i = 0; i < run->n_finals; i++)
        if (run->finals[i].is_best) return &run->finals[i];
    return run->n_finals ? &run->finals[0] : NULL;
}

/* A shell word: quoted when it holds anything but plain characters. */
static void shell_word(rp_buf *b, const char *s) {
    int plain = *s != 0;
    for (const char *p = s; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:=,+-@%", *p)) plain = 0;
    if (plain) {
        rp_esc(b, s);
        return;
    }
    rp_puts(b, "'");
    for (const char *p = s; *p; p++) {
        char c[2] = {*p, 0};
        rp_esc(b, *p == '\'' ? "'\\''" : c);
    }
    rp_puts(b, "'");
}

static void command_line(rp_buf *b, const rp_run *run) {
    rp_puts(b, "<pre class=\"cmd\">cellforge search");
    for (int i = 0; i < run->n_spec; i++) {
        const rp_kv *kv = &run->spec[i];
        if (!strcmp(kv->key, "format") || !strcmp(kv->key, "cellforge") || !strcmp(kv->key, "out") ||
            !strcmp(kv->key, "resume") || !strcmp(kv->key, "print-spec"))
            continue;
        if (!kv->is_array && !strcmp(kv->value, "false")) continue;
        int n = kv->is_array ? kv->n_items : 1;
        for (int k = 0; k < n; k++) {
            rp_puts(b, " --");
            rp_esc(b, kv->key);
            if (!kv->is_array && !strcmp(kv->value, "true")) break;
            rp_puts(b, " ");
            shell_word(b, kv->is_array ? kv->items[k] : kv->value);
        }
    }
    rp_puts(b, " --out NEW_DIR</pre>\n<p class=\"note\">The same from the saved settings: <code>cellforge search ");
    shell_word(b, run->dir);
    rp_puts(b, "/spec.json --out NEW_DIR</code>; go on with this run: <code>cellforge search --resume ");
    shell_word(b, run->dir);
    rp_puts(b, " --trials N</code>.</p>\n");
}

static void summary(rp_buf *b, const rp_run *run) {
    int64_t ok = 0, failed = 0, rejected = 0, open = 0, cut = 0, best = -1;
    for (int64_t i = 0; i < run->n_trials; i++) {
        const rp_trial *t = &run->trials[i];
        ok += t->status == CF_TRIAL_OK;
        rejected += t->status == CF_TRIAL_REJECTED;
        cut += t->status == CF_TRIAL_CUT;
        failed += is_failure(t->status);
        open += t->status == CF_TRIAL_PENDING || t->status == CF_TRIAL_RUNNING;
        /* a supernet is no model: its derived architectures are */
        if (rp_trial_is_model(t) && t->val_acc >= 0 && (best < 0 || t->val_acc > run->trials[best].val_acc))
            best = i;
    }
    char v[256], a[64], c[64];
    const rp_final *fin = best_final(run);
    rp_puts(b, "<div class=\"kpis\">\n");
    kpi(b, best >= 0 ? rp_fmt_pct(run->trials[best].val_acc, 2, a, sizeof a) : "-", "best validation accuracy");
    if (fin && fin->test_acc >= 0) {
        snprintf(v, sizeof v, "test accuracy (final model of trial %lld)", (long long)fin->trial);
        kpi(b, rp_fmt_pct(fin->test_acc, 2, a, sizeof a), v);
    }
    snprintf(a, sizeof a, "%lld", (long long)(run->n_trials - rejected));
    snprintf(v, sizeof v, "trials: %lld ok, %lld failed", (long long)ok, (long long)failed);
    if (cut) snprintf(v + strlen(v), sizeof v - strlen(v), ", %lld cut by the budget", (long long)cut);
    kpi(b, a, v);
    kpi(b, rp_fmt_duration(run->clock, a, sizeof a), run->simulated ? "run clock (simulated)" : "run clock");
    rp_puts(b, "</div>\n<dl class=\"facts\">\n");
    if (run->space) {
        cf_space_format_options(run->space, c, sizeof c);
        const char *family = cf_space_family_name(run->space->family);
        snprintf(v, sizeof v, "%s (%s)%s%s%s", run->space->name, c, strcmp(family, run->space->name) ? ", " : "",
                 strcmp(family, run->space->name) ? family : "", strcmp(family, run->space->name) ? " family" : "");
    } else {
        snprintf(v, sizeof v, "%s (could not be loaded: %.180s)", rp_spec(run, "space") ? rp_spec(run, "space") : "nb201",
                 run->space_error);
    }
    fact(b, "space", v);
    fact(b, "dataset", rp_spec(run, "dataset") ? rp_spec(run, "dataset") : "fashion-mnist");
    const char *so = rp_spec(run, "strategy-options");
    snprintf(v, sizeof v, "%s%s%s%s", rp_spec(run, "strategy") ? rp_spec(run, "strategy") : "random", so ? " (" : "",
             so ? so : "", so ? ")" : "");
    fact(b, "strategy", v);
    fact(b, "objectives", rp_spec(run, "objectives") ? rp_spec(run, "objectives") : "acc");
    const char *ev = rp_spec(run, "evaluator");
    if (run->simulated) {
        snprintf(v, sizeof v, "benchmark table %s (results looked up, clock simulated), %s epoch(s)", ev + 6,
                 rp_spec(run, "epochs") ? rp_spec(run, "epochs") : "1");
    } else {
        snprintf(v, sizeof v, "%s: %s epoch(s) per trial, fraction %s of each epoch, batch %s, lr %s", ev ? ev : "train",
                 rp_spec(run, "epochs") ? rp_spec(run, "epochs") : "1",
                 rp_spec(run, "fraction") ? rp_spec(run, "fraction") : "1",
                 rp_spec(run, "batch") ? rp_spec(run, "batch") : "256", rp_spec(run, "lr") ? rp_spec(run, "lr") : "0.1");
    }
    fact(b, "evaluator", v);
    snprintf(v, sizeof v, "%s, %d worker%s%s%s%s", rp_spec(run, "devices") ? rp_spec(run, "devices") : "auto",
             run->workers, run->workers == 1 ? "" : "s", rp_spec(run, "cpu-workers") ? " (cpu-workers " : "",
             rp_spec(run, "cpu-workers") ? rp_spec(run, "cpu-workers") : "", rp_spec(run, "cpu-workers") ? ")" : "");
    fact(b, "devices", v);
    const char *trials = rp_spec(run, "trials"), *time_budget = rp_spec(run, "time");
    snprintf(v, sizeof v, "%s%s%s%s%s", trials ? trials : "", trials ? " trials" : "", trials && time_budget ? ", " : "",
             time_budget ? time_budget : "", time_budget ? " of run clock" : "");
    if (!trials && !time_budget) snprintf(v, sizeof v, "6 minutes of run clock (the default)");
    for (int k = 0; k < 4; k++) {
        static const char *const limits[] = {"max-macs", "max-params", "max-memory", "max-latency"};
        const char *l = rp_spec(run, limits[k]);
        if (l) snprintf(v + strlen(v), sizeof v - strlen(v), ", %s %s", limits[k], l);
    }
    fact(b, "budget", v);
    time_t t0 = (time_t)run->wall_first;
    struct tm tm;
    char date[64] = "-";
    if (run->wall_first > 0 && gmtime_r(&t0, &tm)) strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tm);
    snprintf(v, sizeof v, "%s%s; started %s, wall %s; %s", rp_fmt_duration(run->clock, a, sizeof a),
             run->simulated ? " simulated" : "", date, rp_fmt_duration(run->wall_last - run->wall_first, c, sizeof c),
             run->stopped ? "stopped" : run->live ? "running now" : "no stop recorded (killed, or crashed)");
    if (run->stopped && run->stop_reason[0]) snprintf(v + strlen(v), sizeof v - strlen(v), " (%s)", run->stop_reason);
    if (run->n_resumes) snprintf(v + strlen(v), sizeof v - strlen(v), ", resumed %d time(s)", run->n_resumes);
    fact(b, "run clock", v);
    snprintf(v, sizeof v,
             "%lld: %lld ok, %lld failed, %lld cut by the budget, %lld rejected by the constraints, %lld retries, "
             "%lld unfinished",
             (long long)(run->n_trials - rejected), (long long)ok, (long long)failed, (long long)cut,
             (long long)rejected, (long long)run->retries, (long long)open);
    fact(b, "trials", v);
    if (best >= 0)
        snprintf(v, sizeof v, "%s (trial %lld)", rp_fmt_pct(run->trials[best].val_acc, 2, a, sizeof a), (long long)best);
    else
        snprintf(v, sizeof v, "- (no trial finished ok)");
    fact(b, "best validation", v);
    if (fin) {
        snprintf(v, sizeof v, "trial %lld retrained: val %s, test %s; %d final model%s", (long long)fin->trial,
                 rp_fmt_pct(fin->val_acc, 2, a, sizeof a), rp_fmt_pct(fin->test_acc, 2, c, sizeof c), run->n_finals,
                 run->n_finals == 1 ? "" : "s");
    } else {
        snprintf(v, sizeof v, "none (no final/ directory: the best models were not retrained and tested)");
    }
    fact(b, "final models", v);
    rp_puts(b, "</dl>\n<h3>Repeat this search</h3>\n");
    command_line(b, run);
}

static void trial_table(rp_buf *b, const rp_run *run, int64_t *rows_out) {
    const rp_trial **v = rp_sorted_trials(run);
    int64_t ran = 0, rejected = 0;
    for (int64_t i = 0; i < run->n_trials; i++) rejected += run->trials[i].status == CF_TRIAL_REJECTED;
    ran = run->n_trials - rejected;
    int64_t rows = ran < CF_REPORT_MAX_ROWS ? ran : CF_REPORT_MAX_ROWS;
    *rows_out = 0;
    if (!v || ran == 0) {
        rp_printf(b, "<p class=\"empty\">No trial was run%s.</p>\n",
                  rejected ? ": every proposal broke a constraint (see Failures)" : "");
        free(v);
        return;
    }
    rp_puts(b, "<table class=\"sortable\" id=\"trial-table\">\n<thead><tr><th class=\"n\">id</th><th>arch</th>"
               "<th>status</th><th class=\"n\">val acc</th><th class=\"n\">params</th><th class=\"n\">MACs</th>"
               "<th class=\"n\">epochs</th><th class=\"n\">seconds</th><th class=\"n\">worker</th>"
               "<th class=\"n\">attempts</th></tr></thead>\n<tbody>\n");
    char a[32], w[64];
    /* the display order puts the rejected proposals last: the first `rows` ran */
    for (int64_t i = 0, shown = 0; i < run->n_trials && shown < rows; i++) {
        const rp_trial *t = v[i];
        if (t->status == CF_TRIAL_REJECTED) continue;
        shown++;
        rp_printf(b, "<tr class=\"trial\" id=\"trial-%lld\"><td class=\"n\">%lld</td><td><code>", (long long)t->id,
                  (long long)t->id);
        rp_esc(b, t->arch);
        rp_puts(b, t->supernet ? "</code> (see <a href=\"#oneshot\">One-shot search</a>)</td>" : "</code></td>");
        rp_printf(b, "<td class=\"%s\">%s</td>", status_class(t->status), cf_trial_status_name(t->status));
        rp_puts(b, "<td class=\"n\" data-v=\"");
        rp_num(b, t->val_acc >= 0 ? t->val_acc : -1, 6);
        rp_printf(b, "\">%s</td><td class=\"n\" data-v=\"%lld\">", rp_fmt_pct(t->val_acc, 2, a, sizeof a),
                  (long long)t->params);
        rp_printf(b, "%s</td><td class=\"n\" data-v=\"%lld\">", rp_fmt_si((double)t->params, a, sizeof a),
                  (long long)t->macs);
        rp_printf(b, "%s</td><td class=\"n\">%d/%d</td><td class=\"n\" data-v=\"", rp_fmt_si((double)t->macs, a, sizeof a),
                  t->epochs_done, t->epochs);
        rp_num(b, t->seconds >= 0 ? t->seconds : -1, 3);
        rp_puts(b, "\">");
        if (t->seconds >= 0) rp_num(b, t->seconds, 1);
        else rp_puts(b, "-");
        workers_text(t, w, sizeof w);
        rp_printf(b, "</td><td class=\"n\">%s</td><td class=\"n\">%d</td></tr>\n", w, t->attempts);
    }
    rp_puts(b, "</tbody></table>\n");
    if (rows < ran)
        rp_printf(b, "<p class=\"note\">The %lld best of %lld trials are shown; every trial is in journal.jsonl and "
                     "the finished ones in trials.tsv.</p>\n",
                  (long long)rows, (long long)ran);
    if (rejected)
        rp_printf(b, "<p class=\"note\">%lld proposal%s rejected by the constraints (never run) %s listed under "
                     "Failures.</p>\n",
                  (long long)rejected, rejected == 1 ? "" : "s", rejected == 1 ? "is" : "are");
    *rows_out = rows;
    free(v);
}

/* The trials the time budget cut: no failures (no result, not told to the
 * strategy), so they are listed apart, with what --resume does with them. */
static void cut_note(rp_buf *b, const rp_run *run, int64_t cut) {
    if (!cut) return;
    const char *it = cut == 1 ? "it" : "them";
    rp_printf(b, "<p class=\"note\">%lld trial%s cut by the time budget (stopped when it ended, or not started "
                 "because %s could not finish in the time left), not counted as failed: <code>--resume</code> with a "
                 "larger <code>--time</code> runs %s first:",
              (long long)cut, cut == 1 ? " was" : "s were", cut == 1 ? "it" : "they", it);
    int64_t shown = 0;
    for (int64_t i = 0; i < run->n_trials && shown < 40; i++) {
        if (run->trials[i].status != CF_TRIAL_CUT) continue;
        rp_printf(b, " %lld", (long long)run->trials[i].id);
        shown++;
    }
    rp_puts(b, shown < cut ? " ...</p>\n" : ".</p>\n");
}

static void failures(rp_buf *b, const rp_run *run) {
    int64_t failed = 0, rejected = 0, open = 0, cut = 0, shown = 0;
    for (int64_t i = 0; i < run->n_trials; i++) {
        cf_trial_status s = run->trials[i].status;
        failed += is_failure(s);
        rejected += s == CF_TRIAL_REJECTED;
        open += s == CF_TRIAL_PENDING || s == CF_TRIAL_RUNNING;
        cut += s == CF_TRIAL_CUT;
    }
    int final_failed = 0;
    for (int i = 0; i < run->n_finals; i++)
        final_failed += run->finals[i].finished && strcmp(run->finals[i].status, "ok") != 0;
    cut_note(b, run, cut);
    if (!failed && !rejected && !open && !final_failed && !run->retries) {
        rp_puts(b, "<p class=\"empty\">No trial failed, none was rejected and none needed a retry.</p>\n");
        return;
    }
    if (failed) {
        rp_printf(b, "<h3>%lld failed trial%s</h3>\n<table id=\"failure-table\"><thead><tr><th class=\"n\">id</th>"
                     "<th>status</th><th>reason</th><th class=\"n\">attempts</th><th class=\"n\">worker</th>"
                     "<th>arch</th></tr></thead><tbody>\n",
                  (long long)failed, failed == 1 ? "" : "s");
        char w[64];
        for (int64_t i = 0; i < run->n_trials && shown < 200; i++) {
            const rp_trial *t = &run->trials[i];
            if (!is_failure(t->status)) continue;
            workers_text(t, w, sizeof w);
            rp_printf(b, "<tr class=\"failure\"><td class=\"n\">%lld</td><td class=\"s-bad\">%s</td><td>", (long long)t->id,
                      cf_trial_status_name(t->status));
            rp_esc(b, t->reason[0] ? t->reason : "(no reason recorded)");
            rp_printf(b, "</td><td class=\"n\">%d</td><td class=\"n\">%s</td><td><code>", t->attempts, w);
            rp_esc(b, t->arch);
            rp_puts(b, "</code></td></tr>\n");
            shown++;
        }
        rp_puts(b, "</tbody></table>\n");
        if (shown < failed) rp_printf(b, "<p class=\"note\">The first %lld are shown.</p>\n", (long long)shown);
    } else {
        rp_puts(b, "<p class=\"note\">No trial failed.</p>\n");
    }
    if (run->retries)
        rp_printf(b, "<p class=\"note\">%lld time%s a trial ran out of memory (at placement or while training) and "
                     "%s retried with more room or half the batch; attempts that had started show on the timeline in "
                     "light orange.</p>\n",
                  (long long)run->retries, run->retries == 1 ? "" : "s", run->retries == 1 ? "was" : "were");
    if (rejected) {
        rp_printf(b, "<h3>%lld rejected by the constraints (never run)</h3>\n<ul class=\"rejected\">\n", (long long)rejected);
        shown = 0;
        for (int64_t i = 0; i < run->n_trials && shown < 20; i++) {
            const rp_trial *t = &run->trials[i];
            if (t->status != CF_TRIAL_REJECTED) continue;
            rp_printf(b, "<li>trial %lld: ", (long long)t->id);
            rp_esc(b, t->reason);
            rp_puts(b, "</li>\n");
            shown++;
        }
        rp_puts(b, "</ul>\n");
        if (shown < rejected) rp_printf(b, "<p class=\"note\">The first %lld are listed.</p>\n", (long long)shown);
    }
    if (open) {
        rp_printf(b, "<p class=\"note\">%lld trial%s had not finished when the journal ends:", (long long)open,
                  open == 1 ? "" : "s");
        shown = 0;
        for (int64_t i = 0; i < run->n_trials && shown < 40; i++) {
            if (run->trials[i].status != CF_TRIAL_PENDING && run->trials[i].status != CF_TRIAL_RUNNING) continue;
            rp_printf(b, " %lld", (long long)run->trials[i].id);
            shown++;
        }
        rp_puts(b, shown < open ? " ...</p>\n" : ".</p>\n");
    }
    for (int i = 0; i < run->n_finals; i++) {
        const rp_final *f = &run->finals[i];
        if (!f->finished || !strcmp(f->status, "ok")) continue;
        rp_printf(b, "<p class=\"note\">The retraining of trial %lld ended with status ", (long long)f->trial);
        rp_esc(b, f->status);
        rp_puts(b, ": ");
        rp_esc(b, f->reason && f->reason[0] ? f->reason : "(no reason recorded)");
        rp_puts(b, "</p>\n");
    }
}

/* ---- the best model ------------------------------------------------------------------ */

/* Trials that finished at chance level, with the cause the search found. */
static void chance_trials(rp_buf *b, const rp_run *run) {
    int64_t n = 0;
    for (int64_t i = 0; i < run->n_trials; i++)
        n += run->trials[i].status == CF_TRIAL_OK && strncmp(run->trials[i].reason, "chance level", 12) == 0;
    if (!n) return;
    rp_printf(b, "<h3>%lld trial%s at chance level</h3>\n<ul class=\"rejected\">\n", (long long)n, n == 1 ? "" : "s");
    for (int64_t i = 0, shown = 0; i < run->n_trials && shown < 50; i++) {
        const rp_trial *t = &run->trials[i];
        if (t->status != CF_TRIAL_OK || strncmp(t->reason, "chance level", 12) != 0) continue;
        rp_printf(b, "<li>trial %lld (val %.2f%%): ", (long long)t->id, 100 * t->val_acc);
        rp_esc(b, t->reason);
        rp_puts(b, "</li>\n");
        shown++;
    }
    rp_puts(b, "</ul>\n");
}

static void per_class(rp_buf *b, const rp_final *f) {
    const double label_w = 130, bar_w = 360, row = 20;
    double h = f->n_classes * row + 10, w = label_w + bar_w + 70;
    rp_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
                 "height=\"%.0f\" role=\"img\" aria-label=\"test accuracy per class\">\n",
              w, h, w, h);
    char a[32];
    for (int k = 0; k < f->n_classes; k++) {
        double y = 5 + k * row, acc = f->per_class[k];
        rp_printf(b, "<text class=\"hmlabel\" text-anchor=\"end\" x=\"%.0f\" y=\"%.0f\">", label_w - 8, y + 14);
        rp_esc(b, f->classes[k]);
        rp_printf(b, "</text><rect class=\"pcbg\" x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\"/>", label_w, y + 2,
                  bar_w, row - 5);
        if (acc >= 0) {
            rp_printf(b, "<rect class=\"pcbar\" x=\"%.0f\" y=\"%.0f\" width=\"", label_w, y + 2);
            rp_xy(b, bar_w * acc);
            rp_printf(b, "\" height=\"%.0f\"/>", row - 5);
        }
        rp_printf(b, "<text class=\"hmlabel\" x=\"%.0f\" y=\"%.0f\">%s</text>\n", label_w + bar_w + 6, y + 14,
                  rp_fmt_pct(acc, 1, a, sizeof a));
    }
    rp_puts(b, "</svg>\n");
}

static void confusion(rp_buf *b, const rp_final *f) {
    const int k = f->n_classes;
    double cs = 560.0 / k;
    cs = cs > 46 ? 46 : cs < 8 ? 8 : cs;
    double longest = 0;
    for (int i = 0; i < k; i++) longest = fmax(longest, rp_text_width(f->classes[i], 11));
    if (longest > 150) longest = 150;
    const double left = longest + 44, top = longest * 0.72 + 46;
    double w = left + k * cs + longest * 0.72 + 10, h = top + k * cs + 10;
    rp_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
                 "height=\"%.0f\" role=\"img\" aria-label=\"confusion matrix: rows true class, columns predicted\">\n",
              w, h, w, h);
    rp_printf(b, "<text class=\"axis\" text-anchor=\"middle\" x=\"%.0f\" y=\"14\">predicted class</text>\n", left + k * cs / 2);
    rp_printf(b, "<text class=\"axis\" text-anchor=\"middle\" transform=\"translate(14 %.0f) rotate(-90)\">true class</text>\n",
              top + k * cs / 2);
    int label_font = cs >= 14 ? 11 : 8;
    for (int i = 0; i < k; i++) {
        rp_printf(b, "<text class=\"hmlabel\" style=\"font-size:%dpx\" text-anchor=\"end\" x=\"%.0f\" y=\"", label_font,
                  left - 6);
        rp_xy(b, top + (i + 0.5) * cs + 4);
        rp_puts(b, "\">");
        rp_esc(b, f->classes[i]);
        rp_puts(b, "</text>");
        rp_printf(b, "<text class=\"hmlabel\" style=\"font-size:%dpx\" transform=\"translate(", label_font);
        rp_xy(b, left + (i + 0.5) * cs + 4);
        rp_printf(b, " %.0f) rotate(-45)\">", top - 6);
        rp_esc(b, f->classes[i]);
        rp_puts(b, "</text>\n");
    }
    for (int i = 0; i < k; i++) {
        int64_t total = 0;
        for (int j = 0; j < k; j++) total += f->confusion[(size_t)i * (size_t)k + (size_t)j];
        for (int j = 0; j < k; j++) {
            int64_t c = f->confusion[(size_t)i * (size_t)k + (size_t)j];
            double frac = total > 0 ? (double)c / (double)total : 0, t = sqrt(frac);
            /* white to dark blue; the square root lifts the small off-diagonal counts */
            int r = (int)lround(255 - t * (255 - 8)), g = (int)lround(255 - t * (255 - 48)),
                bl = (int)lround(255 - t * (255 - 107));
            rp_printf(b, "<rect x=\"");
            rp_xy(b, left + j * cs);
            rp_puts(b, "\" y=\"");
            rp_xy(b, top + i * cs);
            rp_puts(b, "\" width=\"");
            rp_xy(b, cs);
            rp_puts(b, "\" height=\"");
            rp_xy(b, cs);
            rp_printf(b, "\" style=\"fill:#%02x%02x%02x;stroke:#fff;stroke-width:1\"><title>true ", r, g, bl);
            rp_esc(b, f->classes[i]);
            rp_puts(b, ", predicted ");
            rp_esc(b, f->classes[j]);
            rp_printf(b, ": %lld</title></rect>", (long long)c);
            char count[24];
            snprintf(count, sizeof count, "%lld", (long long)c);
            double font = cs >= 34 ? 10.5 : 9;
            if (cs >= 20 && rp_text_width(count, font) < cs - 3) {
                rp_printf(b, "<text class=\"hm\" style=\"font-size:%.1fpx;fill:%s\" text-anchor=\"middle\" x=\"", font,
                          t > 0.6 ? "#fff" : "#1a1a1a");
                rp_xy(b, left + (j + 0.5) * cs);
                rp_puts(b, "\" y=\"");
                rp_xy(b, top + (i + 0.5) * cs + font * 0.36);
                rp_printf(b, "\">%s</text>", count);
            }
        }
        rp_puts(b, "\n");
    }
    rp_puts(b, "</svg>\n");
}

static void best_model(rp_buf *b, const rp_run *run) {
    const rp_final *f = best_final(run);
    if (!f) {
        rp_printf(b, "<p class=\"empty\">%s</p>\n",
                  run->simulated ? "No final models: a run on a benchmark table has no trained models to retrain and test."
                                 : "No final models: this run has no final/ directory (the best models were not "
                                   "retrained and tested, or the run stopped before), so there is no test accuracy, "
                                   "per-class accuracy or confusion matrix.");
        if (run->final_note[0]) {
            rp_puts(b, "<p class=\"notice\">");
            rp_esc(b, run->final_note);
            rp_puts(b, "</p>\n");
        }
        return;
    }
    char a[32], c[32], p[32], m[32], s[32];
    const rp_trial *t = f->trial >= 0 && f->trial < run->n_trials ? &run->trials[f->trial] : NULL;
    int64_t params = f->params > 0 ? f->params : t ? t->params : 0, macs = f->macs > 0 ? f->macs : t ? t->macs : 0;
    rp_printf(b, "<p>Final model of trial %lld (<code>final/%lld/model.cfm</code>%s): status ", (long long)f->trial,
              (long long)f->trial, f->is_best ? ", linked as <code>best.cfm</code>" : "");
    rp_esc(b, f->status);
    rp_printf(b, ", %d epochs, validation %s, <b>test %s</b>, %s, %s params, %s MACs.</p>\n", f->epochs,
              rp_fmt_pct(f->val_acc, 2, a, sizeof a), rp_fmt_pct(f->test_acc, 2, c, sizeof c),
              rp_fmt_duration(f->seconds, s, sizeof s), rp_fmt_si((double)params, p, sizeof p),
              rp_fmt_si((double)macs, m, sizeof m));
    if (f->note[0]) {
        rp_puts(b, "<p class=\"notice\">");
        rp_esc(b, f->note);
        rp_puts(b, "</p>\n");
    }
    if (f->n_classes > 0) {
        rp_puts(b, "<div class=\"charts\">\n<div><h3>Test accuracy per class</h3>\n");
        per_class(b, f);
        rp_puts(b, "</div>\n");
        if (f->confusion) {
            rp_puts(b, "<div><h3>Confusion matrix (test set; rows true, columns predicted)</h3>\n");
            confusion(b, f);
            rp_puts(b, "</div>\n");
        }
        rp_puts(b, "</div>\n");
    } else if (f->have_test) {
        rp_puts(b, "<p class=\"empty\">test.json has no per-class results.</p>\n");
    }
    if (run->n_finals > 1) {
        rp_puts(b, "<h3>All final models</h3>\n<table><thead><tr><th class=\"n\">trial</th><th>status</th>"
                   "<th class=\"n\">epochs</th><th class=\"n\">val acc</th><th class=\"n\">test acc</th>"
                   "<th class=\"n\">seconds</th><th>note</th></tr></thead><tbody>\n");
        for (int i = 0; i < run->n_finals; i++) {
            const rp_final *g = &run->finals[i];
            rp_printf(b, "<tr class=\"final\"><td class=\"n\">%lld</td><td>", (long long)g->trial);
            rp_esc(b, g->status);
            rp_printf(b, "</td><td class=\"n\">%d</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">",
                      g->epochs, rp_fmt_pct(g->val_acc, 2, a, sizeof a), rp_fmt_pct(g->test_acc, 2, c, sizeof c));
            if (g->seconds >= 0) rp_num(b, g->seconds, 1);
            else rp_puts(b, "-");
            rp_puts(b, "</td><td>");
            rp_esc(b, g->note);
            rp_puts(b, "</td></tr>\n");
        }
        rp_puts(b, "</tbody></table>\n");
    }
}

/* ---- the page -------------------------------------------------------------------------- */

static void section(rp_buf *b, const char *id, const char *title) {
    rp_printf(b, "</section>\n<section id=\"%s\">\n<h2>%s</h2>\n", id, title);
}

static void document(rp_buf *b, const rp_run *run, int64_t *rows) {
    const char *name = strrchr(run->dir, '/');
    name = name && name[1] ? name + 1 : run->dir;
    rp_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>cellforge report: ");
    rp_esc(b, name);
    rp_printf(b, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<header>\n<h1>cellforge report: ", style);
    rp_esc(b, name);
    rp_puts(b, "</h1>\n<p class=\"sub\">run directory <code>");
    rp_esc(b, run->dir);
    rp_puts(b, "</code></p>\n<nav class=\"toc\"><a href=\"#summary\">summary</a><a href=\"#pareto\">Pareto front</a>"
               "<a href=\"#progress\">best over time</a><a href=\"#timeline\">timeline</a>"
               "<a href=\"#curves\">learning curves</a>");
    if (rp_has_oneshot(run)) rp_puts(b, "<a href=\"#oneshot\">one-shot search</a>");
    rp_puts(b, "<a href=\"#cells\">cells</a><a href=\"#trials\">trials</a>"
               "<a href=\"#failures\">failures</a><a href=\"#best-model\">best model</a></nav>\n</header>\n");
    if (run->torn)
        rp_printf(b, "<p class=\"notice\">journal.jsonl:%lld: the last line is torn (the search was killed while "
                     "writing it) and is left out.</p>\n",
                  (long long)run->torn_line);
    rp_puts(b, "<section id=\"summary\">\n<h2>Summary</h2>\n");
    summary(b, run);
    section(b, "pareto", "Pareto front");
    rp_puts(b, "<p class=\"note\">Every trial that finished ok; the orange line joins the non-dominated trials "
               "(no other trial is both more accurate and cheaper) at the run's fidelity and shows the best "
               "accuracy reachable at each cost. Diamonds are the retrained final models.");
    if (rp_has_oneshot(run))
        rp_puts(b, " The supernet is left out here and wherever the best models are picked: it is no model of the "
                   "space; the architectures derived from it are.");
    rp_puts(b, "</p>\n<div class=\"charts\">\n");
    rp_chart_pareto(b, run, 0);
    rp_chart_pareto(b, run, 1);
    rp_puts(b, "</div>\n");
    section(b, "progress", "Best accuracy over time");
    rp_chart_progress(b, run);
    if (rp_has_hparams(run)) {
        section(b, "hparams", "Hyperparameters");
        rp_puts(b, "<p class=\"note\">The hyperparameters searched with the architecture against validation accuracy: "
                   "one dot per trial that finished ok.</p>\n");
        rp_chart_hparams(b, run);
    }
    section(b, "timeline", "Timeline of the devices");
    rp_puts(b, "<p class=\"note\">One lane per worker, named by its device, with one row per slot of it that ran a "
               "trial (a GPU runs several trials at once); busy is the share of the run clock with at least one trial "
               "on the device.</p>\n");
    rp_chart_timeline(b, run);
    section(b, "curves", "Learning curves");
    rp_chart_curves(b, run);
    if (rp_has_oneshot(run)) {
        section(b, "oneshot", "One-shot search");
        rp_oneshot_section(b, run);
    }
    section(b, "cells", "Best architectures");
    rp_cells_section(b, run);
    section(b, "trials", "All trials");
    trial_table(b, run, rows);
    section(b, "failures", "Failures");
    failures(b, run);
    chance_trials(b, run);
    section(b, "best-model", "Best model on the test set");
    best_model(b, run);
    rp_printf(b, "</section>\n<script>\n%s</script>\n</body>\n</html>\n", script);
}

cf_status cf_report_write_summary(const char *run_dir, const char *out_path, cf_report_summary *sum) {
    cf_report_summary local;
    if (!sum) sum = &local;
    memset(sum, 0, sizeof *sum);
    if (!run_dir || !run_dir[0]) CF_FAIL(CF_ERR_INVALID_ARG, "report: no run directory given");
    if (out_path) snprintf(sum->path, sizeof sum->path, "%s", out_path);
    else snprintf(sum->path, sizeof sum->path, "%s/report.html", run_dir);
    rp_run run;
    CF_TRY(rp_run_load(run_dir, &run));
    rp_buf b = {0};
    int64_t rows = 0;
    document(&b, &run, &rows);
    sum->trials = run.n_trials;
    sum->rows = rows;
    sum->finals = run.n_finals;
    sum->torn = run.torn;
    sum->torn_line = run.torn_line;
    rp_run_free(&run);
    cf_status st = CF_OK;
    if (b.failed || !b.p) st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "%s: no memory for the page", sum->path);
    else st = cf_file_write_atomic(sum->path, b.p);
    sum->bytes = st == CF_OK ? b.n : 0;
    rp_buf_free(&b);
    return st;
}

cf_status cf_report_write(const char *run_dir, const char *out_path) {
    return cf_report_write_summary(run_dir, out_path, NULL);
}
