/* file.h - whole files, written atomically and read with a size limit.
 *
 * A file that other runs, tools or a resumed search read back (a spec, a
 * checkpoint, a report, an export) is never seen half written: it goes to a
 * temporary file beside it, NAME.tmp.PID.N, created exclusively (O_EXCL, so two
 * writers never share one and a symlink planted under that name is never
 * followed), is flushed to the disk, and then renamed over NAME, and the folder
 * is synced so the rename survives a power cut. A symlink at NAME itself is
 * replaced by the rename, never written through.
 *
 *   CF_TRY(cf_file_write_atomic("run/spec.json", text));
 *
 *   cf_file_writer w;                       // streaming: fprintf into w.f
 *   CF_TRY(cf_file_writer_open(&w, "run/trials.tsv"));
 *   fprintf(w.f, "id\tacc\n");
 *   CF_TRY(cf_file_writer_commit(&w));      // or cf_file_writer_abort(&w)
 *
 *   char *text; size_t n;
 *   CF_TRY(cf_file_read("run/summary.json", 1 << 20, CF_FILE_NOFOLLOW, &text, &n));
 *   free(text);
 *
 * Tested by tests/test_core_file.c; the symlink checks of run directories by
 * tests/cli_runsafe.sh.
 */
#ifndef CELLFORGE_FILE_H
#define CELLFORGE_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "cellforge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Write text (borrowed) to path atomically. Errors are CF_ERR_IO naming
 * PATH.tmp (cannot create) or path (cannot write, flush or rename). */
cf_status cf_file_write_atomic(const char *path, const char *text);
/* The same for n bytes of data (borrowed). */
cf_status cf_file_write_bytes_atomic(const char *path, const void *data, size_t n);

/* A streaming atomic write. Open creates the temporary file; write to it with
 * cf_file_writer_write or straight into f (fprintf, fwrite: errors are caught
 * at commit). Commit flushes, fsyncs, renames and syncs the folder; abort
 * removes the temporary file. Either one ends the writer (the stream is
 * closed, f is NULL) on success and on failure; abort of an ended or
 * zero-initialized writer does nothing, so a cleanup path may always call it. */
typedef struct cf_file_writer {
    FILE *f;         /* the temporary file; owned until commit or abort */
    char path[4096]; /* the final name */
    char tmp[4160];  /* the temporary name, removed unless committed */
    int err;         /* errno of the first failed cf_file_writer_write, or 0 */
} cf_file_writer;

cf_status cf_file_writer_open(cf_file_writer *w, const char *path);
cf_status cf_file_writer_write(cf_file_writer *w, const void *p, size_t n);
cf_status cf_file_writer_commit(cf_file_writer *w);
void cf_file_writer_abort(cf_file_writer *w);

/* fsync the folder that holds path, so a rename or a new name in it survives
 * a power cut. CF_ERR_IO where the folder cannot be opened; a file system
 * that cannot sync folders is not an error (nothing more can be done). */
cf_status cf_file_sync_parent(const char *path);

/* Flags of cf_file_read. */
enum {
    CF_FILE_NOFOLLOW = 1 /* refuse a symlink at path (files of a run directory) */
};

/* The whole file at path into *out (NUL-terminated; the caller frees it) and
 * its length into *n (n may be NULL). A file larger than limit bytes fails
 * with CF_ERR_PARSE naming the file and the limit; a FIFO, device, socket or
 * folder fails with CF_ERR_IO (it is opened without blocking, so a FIFO with
 * no writer cannot hang the reader). *out is NULL on failure. */
cf_status cf_file_read(const char *path, size_t limit, int flags, char **out, size_t *n);

/* Open path for streaming reads with cf_file_read's checks: a FIFO, device,
 * socket or folder fails with CF_ERR_IO (a FIFO is opened without blocking,
 * then the descriptor is set back to blocking reads), a file larger than limit
 * bytes with CF_ERR_PARSE naming the file and the limit. *fd (close it) and
 * *size (may be NULL) on success; *fd is -1 on failure. */
cf_status cf_file_open_read(const char *path, size_t limit, int flags, int *fd, size_t *size);
/* The same as a stdio stream (the caller fcloses *out; NULL on failure). */
cf_status cf_file_fopen_read(const char *path, size_t limit, int flags, FILE **out);

/* One line of f into *line (grown as needed; the caller frees it, also on
 * failure), with its newline when it has one, NUL-terminated; its length in
 * *len, 0 at the end of the file. A line longer than limit bytes fails with
 * CF_ERR_PARSE naming path and the limit, so an endless line cannot take all
 * memory; a read error with CF_ERR_IO. */
cf_status cf_file_read_line(FILE *f, const char *path, size_t limit, char **line, size_t *cap, size_t *len);

/* CF_OK when path is missing or a plain file; CF_ERR_IO when it is a symlink
 * or something else (a check before handing a run directory's file to a
 * reader that takes a path: what is there then is read, never written). */
cf_status cf_file_check_plain(const char *path);

/* A folder of a run directory: created, or kept when it is a folder already.
 * CF_ERR_IO when it cannot be created or is anything else, a symlink to a
 * folder included (files written under it would land outside the run). */
cf_status cf_file_make_dir(const char *path);

/* dst becomes a second name (a hard link) of the file src, atomically: a link
 * under a unique temporary name (as the writers above use) renamed over dst.
 * A symlink at dst is replaced, never followed. CF_ERR_IO naming dst. */
cf_status cf_file_link_atomic(const char *src, const char *dst);

#ifdef __cplusplus
}
#endif
#endif
