/* journal.h - the run directory and its journal: crash-safe, resumable, replayable.
 *
 * A run directory (runs/NAME/ by default) holds:
 *   spec.json        the search as resolved: every setting with its value, so the
 *                    run can be resumed or repeated (format 1)
 *   journal.jsonl    one JSON object per line per event, append-only
 *   trials.tsv       every finished trial as a benchmark-table row
 *   trials/ID/       a trial's training state after each epoch (train.cfs)
 *
 * Journal lines (jq-readable; `jq -c 'select(.event=="trial_finished")' journal.jsonl`):
 *   {"seq":7,"event":"trial_finished","time":1763920000.125,"clock":81.250,
 *    ...event fields...,"crc":"89abcdef"}
 * seq counts from 0 without gaps; time is the wall clock (Unix seconds); clock is
 * the run clock (simulated with a table evaluator; written exactly, so a
 * resumed run goes on from the very same clock); crc is the CRC-32 (zlib) of
 * the line's bytes before `"crc"`. Events: run_started, trial_proposed,
 * trial_rejected, trial_started, trial_retry, trial_epoch, trial_finished,
 * trial_cut (stopped by the end of the time budget, or not started because it
 * could not finish in the time left: no result, and no tell, so a resume runs
 * it again; fields id, reason, epochs_done, train_seconds, start, end,
 * attempts, batch, replicas, workers, memory), run_stopped (budget reached,
 * stopped, or failed; with the counts trials, ok, failed, cut, rejected).
 * run_started lists the workers ("devices", cf_journal_devices_json); the
 * events of a dispatched trial name its workers and the slot of each
 * ("workers":[0,2],"slots":[3,0]).
 *
 * Durability: each line goes to the kernel in one write() (a killed process
 * loses nothing it logged); lines are fsync'd in groups, at most 1 s or 64 lines
 * apart, and at every run_started/run_stopped. After a crash the last line may be
 * torn: readers detect it by its missing newline or checksum and ignore it; a
 * bad line anywhere else is reported with its line number and never accepted.
 *
 *   cf_journal *j = NULL;
 *   CF_TRY(cf_journal_open("runs/a/journal.jsonl", 0, 0, &j));
 *   CF_TRY(cf_journal_append(j, "trial_proposed", 12.5, "\"id\":3,\"arch\":\"...\""));
 *   CF_TRY(cf_journal_close(j));
 */
#ifndef CELLFORGE_JOURNAL_H
#define CELLFORGE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cellforge/sched.h"
#include "cellforge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CF_RUN_FORMAT 1 /* spec.json "format" this version writes and reads */
/* Limits of a journal read back: a line is at most CF_JOURNAL_LINE_MAX bytes
 * (the longest line written is a trial_proposed with an escaped arch text of
 * CF_ARCH_TEXT_MAX bytes, a few KiB), the file at most CF_JOURNAL_MAX_BYTES.
 * A longer line, a larger file, a FIFO or a device fails the read with an
 * error naming the file and the limit, instead of filling memory. */
#define CF_JOURNAL_LINE_MAX ((size_t)1 << 20)
#define CF_JOURNAL_MAX_BYTES ((size_t)16 << 30)

typedef struct cf_journal cf_journal;

/* Open (creating) the journal at path for appending. next_seq is the seq of the
 * first line to write; keep_bytes truncates the file to that length first (the
 * valid part found by cf_journal_scan, dropping a torn last line); pass 0, 0 for
 * a new journal. The caller closes with cf_journal_close. */
cf_status cf_journal_open(const char *path, int64_t next_seq, size_t keep_bytes, cf_journal **out);

/* Append one event. fields: the event's JSON members, comma-separated, without
 * braces ("" for none); the journal adds seq, event, time, clock and crc.
 * Thread-safe. A failed write (disk full, I/O error) returns CF_ERR_IO naming the
 * file; the lines before it stay intact, a partial line is cut off again, and
 * every later append fails the same way (no event may follow a lost one). */
cf_status cf_journal_append(cf_journal *j, const char *event, double clock, const char *fields);

/* The journal's file now has another name (its directory was renamed while it
 * was open): later messages name path. */
void cf_journal_rename(cf_journal *j, const char *path);

/* fsync what was appended. */
cf_status cf_journal_sync(cf_journal *j);

/* Sync and close; NULL is accepted. */
cf_status cf_journal_close(cf_journal *j);

/* What a scan of a journal found. */
typedef struct cf_journal_scan {
    int64_t lines;        /* valid lines */
    int64_t next_seq;     /* seq for the next line */
    size_t valid_bytes;   /* length of the valid part */
    int torn;             /* the last line was torn and is ignored */
} cf_journal_scan;

/* Escape s as the body of a JSON string (no quotes) into buf; returns buf. */
char *cf_journal_escape(const char *s, char *buf, size_t cap);

/* ---- a search's journal (src/journal/resume.c) ------------------------------ */

/* Read a journal into *out for cf_search_run, checking every line;
 * scan receives where the valid part ends, to reopen the journal for appending.
 * The caller frees *out with cf_search_replay_free. */
cf_status cf_search_replay_load(const char *journal, const cf_space *s, cf_search_replay *out,
                                cf_journal_scan *scan);
void cf_search_replay_free(cf_search_replay *r);

/* The "devices" member of run_started: one object per worker,
 *   [{"worker":0,"name":"cuda:0","device":"NVIDIA H200","kind":"cuda","threads":1,
 *     "slots":8,"rank":0,"host":"node1"}, ...]
 * (a JSON array, without the key) into buf; returns buf. A journal of an older
 * version has no "devices"; the trial events' "slots" (beside "workers": the
 * slot of each worker the attempt ran in) are new as well. */
char *cf_journal_devices_json(const cf_worker_desc *w, int n, char *buf, size_t cap);

/* A search's events as journal lines: hook these into cf_search_hooks. */
cf_status cf_journal_event(cf_journal *j, cf_search_event_kind kind, const cf_trial *t, double clock);
cf_status cf_journal_epoch(cf_journal *j, const cf_trial *t, const cf_epoch_record *r, double clock);

#ifdef __cplusplus
}
#endif
#endif
