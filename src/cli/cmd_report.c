/* cmd_report.c - `cellforge report RUN`: a run directory as one self-contained
 * HTML page (src/report, include/cellforge/report.h).
 *
 *   cellforge report runs/nb201-20261123-181500
 *   cellforge report runs/nb201-20261123-181500 --out nb201.html
 *
 * Tested by tests/cli_report.sh.
 */
#include <stdlib.h>

#include "cellforge/report.h"
#include "cli.h"

const char *const cmd_report_usage =
    "usage: cellforge report RUN [--out FILE]\n\n"
    "Writes one self-contained HTML page about a search from its run directory:\n"
    "the settings and the command line that repeats the run, the Pareto front\n"
    "(validation accuracy against MACs and parameters), the best accuracy over the\n"
    "run clock, a timeline of every trial attempt per worker, learning curves of the\n"
    "top models, diagrams of the best cells, a table of the trials (the best 500\n"
    "when there are more), the failures with their reasons and, when the best models\n"
    "were retrained and tested (RUN/final/), per-class test accuracy and the\n"
    "confusion matrix. The page fetches nothing and needs no JavaScript (where\n"
    "scripts run, a click on a column header sorts the trial table); it prints as\n"
    "it shows.\n\n"
    "options:\n"
    "  --out FILE    where to write the page (default RUN/report.html); written to\n"
    "                FILE.tmp and renamed\n\n"
    "Works on a running, stopped or crashed run: a torn last journal line is left\n"
    "out; a journal damaged before its end is refused, naming the file and line.\n";

int cmd_report(int argc, char **argv) {
    cli_flag flags[] = {FLAG("out", 1, 0)};
    cli_args args = {.command = "report", .usage = cmd_report_usage, .flags = flags, .n_flags = 1};
    int rc = cli_parse(&args, argc, argv);
    if (rc >= 0) return rc;
    if (args.help) {
        fputs(cmd_report_usage, stdout);
        return EXIT_OK;
    }
    if (args.n_positional != 1) return cli_usage_error(&args, "expected one run directory");
    cf_report_summary sum;
    if (cf_report_write_summary(args.positional[0], cli_value(&args, "out"), &sum) != CF_OK) return cli_fail("report");
    if (sum.torn)
        fprintf(stderr,
                "cellforge report: %s/journal.jsonl:%lld: the last line is torn (the search was killed while writing "
                "it) and is left out\n",
                args.positional[0], (long long)sum.torn_line);
    printf("wrote %s (%.1f KB): %lld trials, %lld in the table, %d final model%s\n", sum.path, (double)sum.bytes / 1024,
           (long long)sum.trials, (long long)sum.rows, sum.finals, sum.finals == 1 ? "" : "s");
    return EXIT_OK;
}
