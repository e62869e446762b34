/* test_core_file.c - the shared core helpers: atomic file writes, whole-file
 * reads with a limit, array growth and the byte buffer (cellforge/file.h,
 * cellforge/grow.h, cellforge/buf.h).
 *
 * Run: test_core_file [DIR] (a scratch folder is made under DIR, default /tmp,
 * and removed at the end).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cellforge/buf.h"
#include "cellforge/file.h"
#include "cellforge/grow.h"
#include "check.h"

/* symlinks name their targets relative to this folder, so DIR may be relative */
static char dir[512];

static void at(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "%s/%s", dir, name); }

/* Files in dir whose name starts with prefix. */
static int count_prefix(const char *prefix) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) n++;
    if (d) closedir(d);
    return n;
}

static int has(const char *path, const char *want) {
    char *text = NULL;
    if (cf_file_read(path, 1 << 20, 0, &text, NULL) != CF_OK) return 0;
    int same = strcmp(text, want) == 0;
    free(text);
    return same;
}

/* Symlinks planted under the names the next temporary files would take are
 * skipped (O_EXCL), never followed: the file they point to stays as it was.
 * Run first, while the writer's counter is still below the planted range. */
static void test_planted_temp_symlinks(void) {
    char victim[600], path[600], link_name[700];
    at(victim, sizeof victim, "victim");
    at(path, sizeof path, "planted.txt");
    CHECK_OK(cf_file_write_atomic(victim, "untouched"));
    for (int k = 0; k < 48; k++) {
        snprintf(link_name, sizeof link_name, "%s.tmp.%ld.%d", path, (long)getpid(), k);
        CHECK(symlink("victim", link_name) == 0, "symlink %s: %s", link_name, strerror(errno));
    }
    CHECK_OK(cf_file_write_atomic(path, "new"));
    CHECK(has(path, "new"), "the file holds what was written");
    CHECK(has(victim, "untouched"), "a planted temp symlink was followed");
    for (int k = 0; k < 48; k++) {
        struct stat sb;
        snprintf(link_name, sizeof link_name, "%s.tmp.%ld.%d", path, (long)getpid(), k);
        CHECK(lstat(link_name, &sb) == 0 && S_ISLNK(sb.st_mode), "%s is still the planted symlink", link_name);
        unlink(link_name);
    }
    unlink(path);
    unlink(victim);
}

static void test_write(void) {
    char path[600];
    at(path, sizeof path, "a.txt");
    CHECK_OK(cf_file_write_atomic(path, "first"));
    CHECK_OK(cf_file_write_atomic(path, "second, longer"));
    CHECK(has(path, "second, longer"), "an atomic write replaces the content");
    CHECK(count_prefix("a.txt.tmp") == 0, "no temporary file is left behind");

    /* streaming, then abort: neither the file nor a temporary file remains */
    char other[600];
    at(other, sizeof other, "b.txt");
    cf_file_writer w;
    CHECK_OK(cf_file_writer_open(&w, other));
    fprintf(w.f, "half of it");
    cf_file_writer_abort(&w);
    cf_file_writer_abort(&w); /* twice is harmless */
    CHECK(access(other, F_OK) != 0, "abort left %s", other);
    CHECK(count_prefix("b.txt") == 0, "abort left a temporary file");

    /* two writers of one file at once: each its own temporary file */
    cf_file_writer w1, w2;
    CHECK_OK(cf_file_writer_open(&w1, path));
    CHECK_OK(cf_file_writer_open(&w2, path));
    CHECK(strcmp(w1.tmp, w2.tmp) != 0, "two writers share %s", w1.tmp);
    CHECK_OK(cf_file_writer_write(&w1, "one", 3));
    CHECK_OK(cf_file_writer_write(&w2, "two", 3));
    CHECK_OK(cf_file_writer_commit(&w1));
    CHECK(has(path, "one"), "the first commit is in place");
    CHECK_OK(cf_file_writer_commit(&w2));
    CHECK(has(path, "two"), "the second commit replaces it whole");
    CHECK(count_prefix("a.txt.tmp") == 0, "no temporary file is left behind");
    cf_file_writer_abort(&w1); /* after commit: nothing to do, the file stays */
    CHECK(has(path, "two"), "abort after commit removed the file");

    /* a symlink at the target is replaced by the rename, never written through */
    char victim[600], link_path[600];
    at(victim, sizeof victim, "victim");
    at(link_path, sizeof link_path, "link.txt");
    CHECK_OK(cf_file_write_atomic(victim, "keep me"));
    CHECK(symlink("victim", link_path) == 0, "symlink: %s", strerror(errno));
    CHECK_OK(cf_file_write_atomic(link_path, "replaced"));
    struct stat sb;
    CHECK(lstat(link_path, &sb) == 0 && S_ISREG(sb.st_mode), "the symlink became a plain file");
    CHECK(has(link_path, "replaced") && has(victim, "keep me"), "the write went through the symlink");
    unlink(link_path);
    unlink(victim);
    unlink(path);

    CHECK_FAILS(cf_file_write_atomic("/nonexistent/dir/x.json", "{}"), CF_ERR_IO, "/nonexistent/dir/x.json.tmp",
                "cannot create");
}

static void test_read(void) {
    char path[600];
    at(path, sizeof path, "r.txt");
    CHECK_OK(cf_file_write_atomic(path, "0123456789abcdef"));
    char *text = NULL;
    size_t n = 0;
    CHECK_OK(cf_file_read(path, 16, 0, &text, &n));
    CHECK(text && n == 16 && strcmp(text, "0123456789abcdef") == 0, "read back %zu bytes", n);
    free(text);
    CHECK_FAILS(cf_file_read(path, 10, 0, &text, &n), CF_ERR_PARSE, path, "larger than 10 bytes");
    CHECK(text == NULL, "no text on failure");

    char fifo[600];
    at(fifo, sizeof fifo, "fifo");
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo: %s", strerror(errno));
    /* with no writer a blocking open would hang here */
    CHECK_FAILS(cf_file_read(fifo, 1 << 20, 0, &text, NULL), CF_ERR_IO, fifo, "is a FIFO");
    unlink(fifo);
    CHECK_FAILS(cf_file_read(dir, 1 << 20, 0, &text, NULL), CF_ERR_IO, dir, "is a folder");
    CHECK_FAILS(cf_file_read("/dev/null", 1 << 20, 0, &text, NULL), CF_ERR_IO, "/dev/null", "is a device");

    char link_path[600];
    at(link_path, sizeof link_path, "r.link");
    CHECK(symlink("r.txt", link_path) == 0, "symlink: %s", strerror(errno));
    CHECK_OK(cf_file_read(link_path, 1 << 20, 0, &text, NULL));
    free(text);
    CHECK_FAILS(cf_file_read(link_path, 1 << 20, CF_FILE_NOFOLLOW, &text, NULL), CF_ERR_IO, link_path,
                "is a symlink");
    CHECK_FAILS(cf_file_read("/nonexistent/f", 1 << 20, 0, &text, NULL), CF_ERR_IO, "/nonexistent/f",
                "cannot open");
    unlink(link_path);
    unlink(path);
}

static void test_grow(void) {
    int *v = NULL;
    size_t cap = 0;
    CHECK_OK(cf_grow((void **)&v, &cap, 5, sizeof *v));
    CHECK(v && cap == 16, "first growth to %zu", cap);
    for (int i = 0; i < 5; i++) v[i] = i;
    CHECK_OK(cf_grow((void **)&v, &cap, 16, sizeof *v));
    CHECK(cap == 16, "no growth when it fits (%zu)", cap);
    CHECK_OK(cf_grow((void **)&v, &cap, 17, sizeof *v));
    CHECK(cap == 32 && v[4] == 4, "doubles and keeps the contents (%zu)", cap);
    int *before = v;
    CHECK_FAILS(cf_grow((void **)&v, &cap, SIZE_MAX / 2, sizeof *v), CF_ERR_OUT_OF_MEMORY, "no memory",
                "elements");
    CHECK(v == before && cap == 32, "a failed growth changes nothing");
    CHECK_FAILS(cf_grow((void **)&v, &cap, SIZE_MAX, 1), CF_ERR_OUT_OF_MEMORY, "no memory", "elements");
    CHECK(v == before && cap == 32, "a failed growth changes nothing");
    free(v);
}

static void test_buf(void) {
    cf_buf b = {0};
    cf_buf_puts(&b, "ab");
    cf_buf_append(&b, "c\0d", 3); /* bytes, a NUL among them */
    CHECK(b.n == 5 && memcmp(b.p, "abc\0d", 5) == 0 && b.p[5] == 0, "append keeps bytes and a NUL after them");
    char wide[2000];
    memset(wide, 'x', sizeof wide - 1);
    wide[sizeof wide - 1] = 0;
    cf_buf_printf(&b, "[%s]%d", wide, 42); /* longer than the stack buffer of one pass */
    CHECK(b.n == 5 + 2 + 1999 + 2 && b.p[6] == 'x' && strcmp(b.p + b.n - 3, "]42") == 0, "long printf (%zu)", b.n);
    CHECK(!b.failed && b.cap >= b.n + 1, "capacity %zu for %zu bytes", b.cap, b.n);
    cf_buf_free(&b);
    CHECK(b.p == NULL && b.n == 0 && b.cap == 0, "free zeroes the buffer");
}

int main(int argc, char **argv) {
    snprintf(dir, sizeof dir, "%s/cf_test_core_file_XXXXXX", argc > 1 ? argv[1] : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "test_core_file: mkdtemp %s: %s\n", dir, strerror(errno));
        return 1;
    }
    test_planted_temp_symlinks();
    test_write();
    test_read();
    test_grow();
    test_buf();
    CHECK(rmdir(dir) == 0, "%s: not empty at the end: %s", dir, strerror(errno));
    return test_finish("test_core_file");
}
