/* report.h - a search's run directory as one self-contained HTML page.
 *
 * The page (inline SVG and CSS, no network, readable on screen and on paper)
 * shows, from spec.json, journal.jsonl and the optional final/ directory:
 *   the settings, trial counts, best accuracies and the command line that
 *   repeats the run; the Pareto front (validation accuracy against MACs and
 *   against parameters); the best accuracy over the run clock; a timeline of
 *   every trial attempt per worker (and the final retraining); learning curves
 *   of the top models; for a one-shot search, the supernet's architecture
 *   weights per edge over the epochs (trials/ID/alphas.json) and the
 *   architectures it derived; diagrams of the best cells; every trial in a table
 *   (the best 500 when there are more); the failures with their reasons; and,
 *   when the best models were retrained and tested (final/ID/test.json),
 *   per-class accuracy and the confusion matrix of the best one.
 *
 * The run may be running, stopped or crashed: a torn last journal line is left
 * out (and said so on the page and in the summary), a journal damaged before
 * its end fails with CF_ERR_PARSE naming the file and line, as `cellforge
 * status` and `--resume` do. A final model whose files are missing or damaged
 * is described on the page (file and position) and never stops the report.
 *
 *   cf_report_summary sum;
 *   CF_TRY(cf_report_write_summary("runs/nb201-20261123-181500", NULL, &sum));
 *   printf("wrote %s (%zu bytes)\n", sum.path, sum.bytes);
 */
#ifndef CELLFORGE_REPORT_H
#define CELLFORGE_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "cellforge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CF_REPORT_MAX_ROWS 500 /* rows of the trial table; the best by validation accuracy */

typedef struct cf_report_summary {
    char path[1100];       /* the file written */
    size_t bytes;          /* its size */
    int64_t trials;        /* trials in the journal, rejected ones included */
    int64_t rows;          /* rows of the trial table */
    int finals;            /* final models found (final/ID or the journal's final events) */
    int torn;              /* the journal's last line was torn and left out ... */
    int64_t torn_line;     /* ... this line (1-based) */
} cf_report_summary;

/* Write the report of the run in run_dir to out_path, or to run_dir/report.html
 * when out_path is NULL. The file is written to a temporary file and renamed
 * (cf_file_write_atomic), so a reader never sees half a page. Both strings are borrowed; nothing is kept.
 * Fails with CF_ERR_IO (spec.json or the journal cannot be read, the page cannot
 * be written), CF_ERR_PARSE (spec.json is not JSON, the journal is damaged
 * before its last line) or CF_ERR_OUT_OF_MEMORY; the message names the file. */
cf_status cf_report_write(const char *run_dir, const char *out_path);

/* The same, filling *sum (may be NULL) with what was written. */
cf_status cf_report_write_summary(const char *run_dir, const char *out_path, cf_report_summary *sum);

#ifdef __cplusplus
}
#endif
#endif
