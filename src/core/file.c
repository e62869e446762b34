/* file.c - atomic whole-file writes (temporary file, fsync, rename, folder
 * sync) and whole-file reads with a size limit (see file.h).
 * Tested by tests/test_core_file.c; tests/test_journal.c and
 * tests/cli_export.sh check the messages.
 */
#include "cellforge/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cellforge/grow.h"

/* Temporary names are NAME.tmp.PID.N: the pid keeps two processes apart, the
 * counter two writers of one process. O_EXCL makes a clash (a stale file of a
 * dead process whose pid came back, or a planted symlink) fail with EEXIST
 * rather than follow or truncate it; then the next counter value is tried. */
static atomic_uint g_temp_counter;

static int create_temp(const char *path, char *tmp, size_t cap) {
    for (int tries = 0; tries < 100; tries++) {
        unsigned k = atomic_fetch_add(&g_temp_counter, 1u);
        int len = snprintf(tmp, cap, "%s.tmp.%ld.%u", path, (long)getpid(), k);
        if (len < 0 || (size_t)len >= cap) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    return -1; /* errno is EEXIST */
}

cf_status cf_file_sync_parent(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = 0; /* a file in / */
    else *slash = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) CF_FAIL(CF_ERR_IO, "%s: cannot open the folder to sync it: %s", dir, strerror(errno));
    /* some file systems cannot sync a folder (EINVAL); the file is whole and
     * in place either way, so that is not an error */
    (void)fsync(fd);
    close(fd);
    return CF_OK;
}

cf_status cf_file_writer_open(cf_file_writer *w, const char *path) {
    memset(w, 0, sizeof *w);
    if (strlen(path) >= sizeof w->path) CF_FAIL(CF_ERR_INVALID_ARG, "%.200s...: the path is too long", path);
    snprintf(w->path, sizeof w->path, "%s", path);
    int fd = create_temp(path, w->tmp, sizeof w->tmp);
    if (fd < 0) {
        int e = errno;
        w->tmp[0] = 0;
        CF_FAIL(CF_ERR_IO, "%s.tmp: cannot create (the temporary file of %s): %s", path, path, strerror(e));
    }
    w->f = fdopen(fd, "wb");
    if (!w->f) {
        int e = errno;
        close(fd);
        unlink(w->tmp);
        w->tmp[0] = 0;
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory for a stream: %s", path, strerror(e));
    }
    return CF_OK;
}

cf_status cf_file_writer_write(cf_file_writer *w, const void *p, size_t n) {
    if (w->err) CF_FAIL(CF_ERR_IO, "%s: cannot write: %s", w->path, strerror(w->err));
    if (n && fwrite(p, 1, n, w->f) != n) {
        w->err = errno ? errno : EIO;
        CF_FAIL(CF_ERR_IO, "%s: cannot write: %s", w->path, strerror(w->err));
    }
    return CF_OK;
}

void cf_file_writer_abort(cf_file_writer *w) {
    if (w->f) fclose(w->f);
    w->f = NULL;
    if (w->tmp[0]) unlink(w->tmp);
    w->tmp[0] = 0;
}

cf_status cf_file_writer_commit(cf_file_writer *w) {
    if (!w->f) CF_FAIL(CF_ERR_INTERNAL, "%s: commit of a writer that is not open", w->path);
    errno = 0;
    int err = w->err;
    if (!err && (fflush(w->f) != 0 || ferror(w->f))) err = errno ? errno : EIO;
    if (!err && fsync(fileno(w->f)) != 0) err = errno;
    int closed = fclose(w->f);
    w->f = NULL;
    if (!err && closed != 0) err = errno;
    if (err) {
        cf_file_writer_abort(w);
        CF_FAIL(CF_ERR_IO, "%s: cannot write: %s", w->path, strerror(err));
    }
    if (rename(w->tmp, w->path) != 0) {
        err = errno;
        cf_file_writer_abort(w);
        CF_FAIL(CF_ERR_IO, "%s: cannot rename into place: %s", w->path, strerror(err));
    }
    w->tmp[0] = 0;
    /* the file is in place; a folder that cannot be synced leaves it there */
    (void)cf_file_sync_parent(w->path);
    return CF_OK;
}

cf_status cf_file_write_bytes_atomic(const char *path, const void *data, size_t n) {
    cf_file_writer w;
    CF_TRY(cf_file_writer_open(&w, path));
    cf_status st = cf_file_writer_write(&w, data, n);
    if (st != CF_OK) {
        cf_file_writer_abort(&w);
        return st;
    }
    return cf_file_writer_commit(&w);
}

cf_status cf_file_write_atomic(const char *path, const char *text) {
    return cf_file_write_bytes_atomic(path, text, strlen(text));
}

static const char *kind_name(mode_t m) {
    if (S_ISDIR(m)) return "a folder";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m) || S_ISBLK(m)) return "a device";
    if (S_ISSOCK(m)) return "a socket";
    return "not a regular file";
}

/* Open path for reading, refusing what is not a regular file. Non-blocking,
 * so that opening a FIFO returns at once (and is then refused). */
static cf_status open_regular(const char *path, size_t limit, int flags, int *fd_out, size_t *size) {
    int oflags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | (flags & CF_FILE_NOFOLLOW ? O_NOFOLLOW : 0);
    int fd = open(path, oflags);
    if (fd < 0 && errno == ELOOP && (flags & CF_FILE_NOFOLLOW))
        CF_FAIL(CF_ERR_IO, "%s: is a symlink, not read (files of a run directory must be plain files)", path);
    if (fd < 0) CF_FAIL(CF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        CF_FAIL(CF_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        CF_FAIL(CF_ERR_IO, "%s: is %s, not a regular file (only regular files of up to %zu bytes are read)", path,
                kind_name(sb.st_mode), limit);
    }
    if ((unsigned long long)sb.st_size > limit) {
        close(fd);
        CF_FAIL(CF_ERR_PARSE, "%s: larger than %zu bytes (%lld), the limit for this file", path, limit,
                (long long)sb.st_size);
    }
    (void)fcntl(fd, F_SETFL, O_RDONLY); /* plain blocking reads from here */
    *fd_out = fd;
    *size = (size_t)sb.st_size;
    return CF_OK;
}

cf_status cf_file_open_read(const char *path, size_t limit, int flags, int *fd, size_t *size) {
    size_t ignored;
    *fd = -1;
    return open_regular(path, limit, flags, fd, size ? size : &ignored);
}

cf_status cf_file_fopen_read(const char *path, size_t limit, int flags, FILE **out) {
    *out = NULL;
    int fd = -1;
    CF_TRY(cf_file_open_read(path, limit, flags, &fd, NULL));
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int e = errno;
        close(fd);
        CF_FAIL(CF_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    *out = f;
    return CF_OK;
}

cf_status cf_file_read_line(FILE *f, const char *path, size_t limit, char **line, size_t *cap, size_t *len) {
    size_t n = 0;
    *len = 0;
    int c = 0;
    flockfile(f);
    while ((c = getc_unlocked(f)) != EOF) {
        if (n >= limit) {
            funlockfile(f);
            CF_FAIL(CF_ERR_PARSE, "%s: a line longer than %zu bytes, the limit for this file", path, limit);
        }
        if (n + 2 > *cap && cf_grow((void **)line, cap, n + 2, 1) != CF_OK) {
            funlockfile(f);
            CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory for a line of %zu bytes", path, n + 2);
        }
        (*line)[n++] = (char)c;
        if (c == '\n') break;
    }
    int err = ferror(f);
    funlockfile(f);
    if (err) CF_FAIL(CF_ERR_IO, "%s: read error: %s", path, strerror(errno));
    if (*line) (*line)[n] = 0;
    *len = n;
    return CF_OK;
}

cf_status cf_file_check_plain(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return CF_OK; /* missing: the reader says so */
    if (S_ISLNK(sb.st_mode))
        CF_FAIL(CF_ERR_IO, "%s: is a symlink, not read (files of a run directory must be plain files)", path);
    if (!S_ISREG(sb.st_mode)) CF_FAIL(CF_ERR_IO, "%s: is %s, not a file to read", path, kind_name(sb.st_mode));
    return CF_OK;
}

cf_status cf_file_make_dir(const char *path) {
    if (mkdir(path, 0755) == 0) return CF_OK;
    int e = errno;
    struct stat sb;
    if (e != EEXIST || lstat(path, &sb) != 0) CF_FAIL(CF_ERR_IO, "%s: cannot create the folder: %s", path, strerror(e));
    if (S_ISLNK(sb.st_mode))
        CF_FAIL(CF_ERR_IO, "%s: is a symlink, not used (folders of a run directory must be plain folders)", path);
    if (!S_ISDIR(sb.st_mode)) CF_FAIL(CF_ERR_IO, "%s: is %s, not a folder", path, kind_name(sb.st_mode));
    return CF_OK;
}

cf_status cf_file_link_atomic(const char *src, const char *dst) {
    char tmp[4160];
    for (int tries = 0; tries < 100; tries++) {
        unsigned k = atomic_fetch_add(&g_temp_counter, 1u);
        int len = snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u", dst, (long)getpid(), k);
        if (len < 0 || (size_t)len >= sizeof tmp) CF_FAIL(CF_ERR_INVALID_ARG, "%.200s...: the path is too long", dst);
        if (link(src, tmp) == 0) break;
        if (errno != EEXIST) CF_FAIL(CF_ERR_IO, "%s: cannot link to %s: %s", dst, src, strerror(errno));
        tmp[0] = 0;
    }
    if (!tmp[0]) CF_FAIL(CF_ERR_IO, "%s: no free temporary name", dst);
    if (rename(tmp, dst) != 0) {
        int e = errno;
        unlink(tmp);
        CF_FAIL(CF_ERR_IO, "%s: cannot rename into place: %s", dst, strerror(e));
    }
    (void)cf_file_sync_parent(dst); /* best effort, as for any rename */
    return CF_OK;
}

cf_status cf_file_read(const char *path, size_t limit, int flags, char **out, size_t *n_out) {
    *out = NULL;
    if (n_out) *n_out = 0;
    int fd = -1;
    size_t size = 0;
    CF_TRY(open_regular(path, limit, flags, &fd, &size));
    /* room for the size seen, the NUL and one byte more, to notice a file
     * that grew since (it then grows by doubling) */
    size_t cap = size + 2, n = 0;
    char *buf = malloc(cap);
    cf_status st = CF_OK;
    for (;;) {
        if (!buf || cf_grow((void **)&buf, &cap, n + 2, 1) != CF_OK) {
            st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "%s: no memory to read it", path);
            break;
        }
        ssize_t got = read(fd, buf + n, cap - n - 1);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            st = cf_error_set(CF_ERR_IO, __FILE__, __LINE__, "%s: read error: %s", path, strerror(errno));
            break;
        }
        if (got == 0) break;
        n += (size_t)got;
        if (n > limit) {
            st = cf_error_set(CF_ERR_PARSE, __FILE__, __LINE__, "%s: larger than %zu bytes, the limit for this file",
                              path, limit);
            break;
        }
    }
    close(fd);
    if (st != CF_OK) {
        free(buf);
        return st;
    }
    buf[n] = 0;
    *out = buf;
    if (n_out) *n_out = n;
    return CF_OK;
}
