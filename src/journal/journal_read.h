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

#endif
