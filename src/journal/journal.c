/* journal.c - the append-only event journal of a run: writing with grouped
 * fsync, reading back with checksums and torn-line detection.
 * Format and guarantees: include/cellforge/journal.h. Tests: tests/test_journal.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "cellforge/file.h"
#include "cellforge/grow.h"
#include "cellforge/journal.h"
#include "cellforge/thread.h"
#include "journal_read.h"
#include "core/json_read.h"

#define SYNC_LINES 64
#define SYNC_SECONDS 1.0

struct cf_journal {
    char path[512];
    int fd;
    cf_mutex mu;
    int64_t seq;
    size_t bytes;          /* length of the file as written */
    int unsynced;
    double last_sync;
    char *line;            /* scratch for one line */
    size_t cap;
    cf_status failed;      /* a write failed: nothing more is appended (sticky) */
    char why[256];
};

static double wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

char *cf_journal_escape(const char *s, char *buf, size_t cap) {
    size_t n = 0;
    if (cap == 0) return buf;
    for (; *s && n + 7 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)ch;
        } else if (ch < 0x20) {
            n += (size_t)snprintf(buf + n, cap - n, "\\u%04x", ch);
        } else {
            buf[n++] = (char)ch;
        }
    }
    buf[n] = 0;
    return buf;
}

cf_status cf_journal_open(const char *path, int64_t next_seq, size_t keep_bytes, cf_journal **out) {
    *out = NULL;
    cf_journal *j = calloc(1, sizeof *j);
    if (!j) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory for the journal", path);
    snprintf(j->path, sizeof j->path, "%s", path);
    /* O_NOFOLLOW: the journal is a file of the run directory, never a symlink
     * planted there to make the search append somewhere else */
    j->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
    struct stat sb;
    if (j->fd >= 0 && (fstat(j->fd, &sb) != 0 || !S_ISREG(sb.st_mode))) {
        close(j->fd);
        j->fd = -1;
        errno = EINVAL;
    }
    if (j->fd < 0) {
        int e = errno;
        free(j);
        CF_FAIL(CF_ERR_IO, "%s: cannot open the journal for writing: %s", path,
                e == ELOOP ? "a symlink, refused" : e == EINVAL ? "not a plain file" : strerror(e));
    }
    (void)fcntl(j->fd, F_SETFL, O_WRONLY | O_APPEND); /* blocking writes from here */
    if (fstat(j->fd, &sb) == 0 && (size_t)sb.st_size != keep_bytes) {
        /* drop a torn last line (or refuse a file that is not what was scanned) */
        if ((size_t)sb.st_size < keep_bytes || ftruncate(j->fd, (off_t)keep_bytes) != 0) {
            int e = errno;
            close(j->fd);
            free(j);
            CF_FAIL(CF_ERR_IO, "%s: cannot cut the journal back to its %zu valid bytes: %s", path, keep_bytes,
                    strerror(e));
        }
    }
    cf_status st = cf_mutex_init(&j->mu);
    if (st != CF_OK) {
        close(j->fd);
        free(j);
        return st;
    }
    j->seq = next_seq;
    j->bytes = keep_bytes;
    j->last_sync = wall_now();
    *out = j;
    return CF_OK;
}

static cf_status sync_locked(cf_journal *j) {
    if (j->unsynced == 0) return CF_OK;
    if (fdatasync(j->fd) != 0) CF_FAIL(CF_ERR_IO, "%s: fsync failed: %s", j->path, strerror(errno));
    j->unsynced = 0;
    j->last_sync = wall_now();
    return CF_OK;
}

cf_status cf_journal_append(cf_journal *j, const char *event, double clock, const char *fields) {
    if (!j) return CF_OK;
    cf_mutex_lock(&j->mu);
    cf_status st = CF_OK;
    if (j->failed != CF_OK) {
        /* after a failed write nothing more goes in, even if space comes back: a
         * later event could refer to the one that was lost */
        st = cf_error_set(j->failed, __FILE__, __LINE__, "%s", j->why);
        cf_mutex_unlock(&j->mu);
        return st;
    }
    size_t need = strlen(fields) + strlen(event) + 160;
    if (need > j->cap) {
        if (cf_grow((void **)&j->line, &j->cap, need, 1) != CF_OK) {
            cf_mutex_unlock(&j->mu);
            CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory for a line of %zu bytes", j->path, need);
        }
    }
    double now = wall_now();
    int n = snprintf(j->line, j->cap, "{\"seq\":%lld,\"event\":\"%s\",\"time\":%.3f,\"clock\":%.17g%s%s,",
                     (long long)j->seq, event, now, clock, fields[0] ? "," : "", fields);
    uLong crc = crc32(0L, (const Bytef *)j->line, (uInt)n);
    n += snprintf(j->line + n, j->cap - (size_t)n, "\"crc\":\"%08lx\"}\n", (unsigned long)crc);
    ssize_t w = write(j->fd, j->line, (size_t)n);
    if (w != n) {
        int e = w < 0 ? errno : ENOSPC;
        /* cut a partial line off so the file stays a sequence of whole lines */
        if (ftruncate(j->fd, (off_t)j->bytes) != 0) { /* the reader drops a torn tail anyway */
        }
        st = cf_error_set(CF_ERR_IO, __FILE__, __LINE__, "%s: cannot append to the journal: %s%s", j->path,
                          strerror(e), e == ENOSPC ? " (the disk is full; everything before this event is kept)" : "");
        j->failed = st;
        snprintf(j->why, sizeof j->why, "%s", cf_error_message());
        cf_mutex_unlock(&j->mu);
        return st;
    }
    j->bytes += (size_t)n;
    j->seq++;
    j->unsynced++;
    int important = strcmp(event, "run_started") == 0 || strcmp(event, "run_stopped") == 0;
    if (important || j->unsynced >= SYNC_LINES || now - j->last_sync >= SYNC_SECONDS) st = sync_locked(j);
    cf_mutex_unlock(&j->mu);
    return st;
}

void cf_journal_rename(cf_journal *j, const char *path) {
    if (j) snprintf(j->path, sizeof j->path, "%s", path);
}

cf_status cf_journal_sync(cf_journal *j) {
    if (!j) return CF_OK;
    cf_mutex_lock(&j->mu);
    cf_status st = sync_locked(j);
    cf_mutex_unlock(&j->mu);
    return st;
}

cf_status cf_journal_close(cf_journal *j) {
    if (!j) return CF_OK;
    cf_status st = cf_journal_sync(j);
    if (close(j->fd) != 0 && st == CF_OK) st = cf_error_set(CF_ERR_IO, __FILE__, __LINE__, "%s: close: %s", j->path, strerror(errno));
    cf_mutex_destroy(&j->mu);
    free(j->line);
    free(j);
    return st;
}

/* ---- reading ------------------------------------------------------------------ */

/* Check one line (without its newline): checksum, JSON, seq. 0 when good. */
static int check_line(char *line, size_t len, int64_t want_seq, cJSON **out, char *why, size_t cap) {
    *out = NULL;
    const char *tail = "\"crc\":\"";
    char *c = len >= 20 ? strstr(line + len - 20, tail) : NULL;
    if (!c || line[len - 1] != '}') {
        snprintf(why, cap, "no checksum at the end of the line");
        return 1;
    }
    unsigned long want = strtoul(c + strlen(tail), NULL, 16);
    uLong got = crc32(0L, (const Bytef *)line, (uInt)(c - line));
    if (got != want) {
        snprintf(why, cap, "checksum mismatch (line says %08lx, content gives %08lx)", want, (unsigned long)got);
        return 1;
    }
    cJSON *obj = cJSON_ParseWithLength(line, len);
    if (!obj || !cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        snprintf(why, cap, "not a JSON object");
        return 1;
    }
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(obj, "seq");
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(obj, "event");
    if (!cJSON_IsNumber(seq) || !cJSON_IsString(ev)) {
        cJSON_Delete(obj);
        snprintf(why, cap, "no seq or event");
        return 1;
    }
    if (!(seq->valuedouble == (double)want_seq)) { /* no cast: a huge seq would be undefined */
        snprintf(why, cap, "seq %.17g where %lld was expected (a line is missing or repeated)", seq->valuedouble,
                 (long long)want_seq);
        cJSON_Delete(obj);
        return 1;
    }
    *out = obj;
    return 0;
}

cf_status cf_journal_read(const char *path, cf_journal_line_fn fn, void *ctx, cf_journal_scan *scan) {
    memset(scan, 0, sizeof *scan);
    FILE *f = NULL;
    CF_TRY(cf_file_fopen_read(path, CF_JOURNAL_MAX_BYTES, CF_FILE_NOFOLLOW, &f));
    char *line = NULL;
    size_t cap = 0, offset = 0, len = 0;
    int64_t lineno = 0;
    cf_status st = CF_OK;
    char why[160];
    /* hold each bad line until we know whether it is the last one */
    int64_t bad_line = 0;
    char bad_why[160] = "";
    for (;;) {
        CF_TRY_GOTO(st, cf_file_read_line(f, path, CF_JOURNAL_LINE_MAX, &line, &cap, &len), exit);
        if (len == 0) break;
        lineno++;
        if (bad_line) {
            st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__,
                              "%s:%lld: %s; the journal is damaged before its end and cannot be trusted "
                              "(lines after it exist)",
                              path, (long long)bad_line, bad_why);
            goto exit;
        }
        int complete = line[len - 1] == '\n';
        size_t body = len - (complete ? 1 : 0);
        cJSON *obj = NULL;
        if (!complete) {
            bad_line = lineno;
            snprintf(bad_why, sizeof bad_why, "the line has no end (a write cut short)");
        } else if (check_line(line, body, scan->next_seq, &obj, why, sizeof why)) {
            bad_line = lineno;
            snprintf(bad_why, sizeof bad_why, "%s", why);
        } else {
            st = fn ? fn(ctx, obj, lineno) : CF_OK;
            cJSON_Delete(obj);
            if (st != CF_OK) goto exit;
            scan->lines++;
            scan->next_seq++;
            offset += len;
            scan->valid_bytes = offset;
        }
    }
    if (bad_line) scan->torn = 1;
exit:
    free(line);
    fclose(f);
    return st;
}
