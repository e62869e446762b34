/* journal_read.h - reading a journal back (private to src/: cJSON stays inside).
 *
 * cf_journal_read checks every line (complete, valid JSON, its checksum, seq
 * without gaps) and hands each parsed object to fn in file order. A damaged
 * last line (torn by a crash) is ignored and reported in scan->torn; a damaged
 * line before the last fails with CF_ERR_PARSE naming the file and the line.
 */
#ifndef CF_JOURNAL_READ_H
#define CF_JOURNAL_READ_H

#include <cjson/cJSON.h>

#include "cellforge/journal.h"

/* Called per valid line; the object is borrowed for the call. A failure stops
 * the read and is returned. */
typedef cf_status (*cf_journal_line_fn)(void *ctx, const cJSON *line, int64_t lineno);

cf_status cf_journal_read(const char *path, cf_journal_line_fn fn, void *ctx, cf_journal_scan *scan);

/* ---- a run's devices (resume.c), for `cellforge status` and the report ---------- */

/* The "devices" of a run_started line (cf_journal_devices_json) into
 * w[0..max), zeroed first, each at its "worker" index; returns 1 + the highest
 * index read, 0 when the line has none (a journal of an older version). A
 * member missing from an entry stays 0 or "". */
int cf_journal_read_devices(const cJSON *line, cf_worker_desc *w, int max);

/* The "slots" of a trial event beside its "workers": slots[r] for r < n, -1
 * where the line has none (a journal of an older version). */
void cf_journal_read_slots(const cJSON *line, int *slots, int n);

/* A stretch of the run clock a device was busy with one trial attempt. */
typedef struct cf_span {
    double start, end;
} cf_span;

/* Seconds covered by at least one of spans[0..n) (sorted in place by start):
 * a device's busy time however many trials overlapped on it. */
double cf_span_union(cf_span *spans, size_t n);

#endif
