/* run_dir.c - the run directory of `cellforge search`: creating and locking it,
 * its default name, links swapped in atomically, and what a finished run
 * leaves in it (the report, the best model as ONNX). Tested by
 * tests/cli_search.sh and tests/cli_resume.sh.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cellforge/file.h"
#include "cellforge/report.h"
#include "cli.h"

static int is_empty_dir(const char *path) {
    DIR *d = opendir(path);
    if (!d) return 0;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) empty = 0;
    closedir(d);
    return empty;
}

static int mkdirs(const char *path) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    return mkdir(buf, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

static int has_spec(const char *dir) {
    char path[1100];
    snprintf(path, sizeof path, "%.1080s/spec.json", dir);
    return access(path, F_OK) == 0;
}

/* Lock dir (dir/lock, with our pid in it for `status`) against a second search.
 * -1, or an exit code after a message. */
static int lock_run_dir(const cli_args *a, const char *dir, const char *shown, int *lock_fd) {
    char path[1100];
    snprintf(path, sizeof path, "%.1080s/trials", dir);
    if (cf_file_make_dir(path) != CF_OK) return cli_fail(a->command);
    snprintf(path, sizeof path, "%.1080s/lock", dir);
    /* never through a symlink (its target would be truncated below), never a FIFO */
    *lock_fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
    struct stat lsb;
    if (*lock_fd >= 0 && (fstat(*lock_fd, &lsb) != 0 || !S_ISREG(lsb.st_mode))) {
        close(*lock_fd);
        *lock_fd = -1;
        errno = EINVAL;
    }
    if (*lock_fd < 0 || flock(*lock_fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr, "cellforge %s: %s/lock: %s\n", a->command, shown,
                *lock_fd >= 0    ? "another cellforge search is running in this directory"
                : errno == ELOOP ? "is a symlink, not used (files of a run directory must be plain files)"
                : errno == EINVAL ? "is not a plain file"
                                  : strerror(errno));
        if (*lock_fd >= 0) close(*lock_fd);
        *lock_fd = -1;
        return EXIT_ERROR;
    }
    char pid[32];
    snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(*lock_fd, 0) != 0 || write(*lock_fd, pid, strlen(pid)) < 0) { /* the pid is informational */
    }
    return -1;
}

/* The run directory, locked against a second search. A resume works in dir
 * itself (work = dir). A new run is refused when dir holds anything; it is
 * built in a fresh directory beside dir (work, hidden: .NAME.new-XXXXXX) and
 * gets its name from cli_publish_run_dir once spec.json and the journal's
 * first line are in it, so a directory under a run's name is always a whole
 * run, whenever the process is killed. Returns -1, or an exit code after a
 * message. */
int cli_open_run_dir(const cli_args *a, const char *dir, int resuming, int *lock_fd, char *work, size_t cap) {
    struct stat sb;
    *lock_fd = -1;
    snprintf(work, cap, "%s", dir);
    if (stat(dir, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "cellforge %s: %s is a file, not a directory: %s\n", a->command, dir,
                resuming ? "--resume takes the run directory of a search" : "pick another --out (nothing is overwritten)");
        return resuming ? EXIT_ERROR : EXIT_USAGE;
    }
    if (resuming) {
        if (stat(dir, &sb) != 0) {
            fprintf(stderr, "cellforge %s: --resume %s: %s\n", a->command, dir, strerror(errno));
            return EXIT_ERROR;
        }
        return lock_run_dir(a, dir, dir, lock_fd);
    }
    if (stat(dir, &sb) == 0 && !is_empty_dir(dir)) {
        if (has_spec(dir))
            return cli_usage_error(a, "%s already holds a run; resume it with --resume %s, or pick another --out "
                                      "(nothing is overwritten)",
                                   dir, dir);
        return cli_usage_error(a, "%s exists and is not a run directory (no spec.json); pick another --out or "
                                  "remove it (nothing is overwritten)",
                               dir);
    }
    char parent[1024];
    snprintf(parent, sizeof parent, "%s", dir);
    size_t len = strlen(parent);
    while (len > 1 && parent[len - 1] == '/') parent[--len] = 0;
    char *slash = strrchr(parent, '/');
    char base[512];
    snprintf(base, sizeof base, "%s", slash ? slash + 1 : parent);
    if (slash) slash[1] = 0; /* parent keeps its '/' */
    else parent[0] = 0;
    if (parent[0] && strcmp(parent, "/") != 0 && mkdirs(parent) != 0) {
        fprintf(stderr, "cellforge %s: %s: cannot create the run directory: %s\n", a->command, dir, strerror(errno));
        return EXIT_ERROR;
    }
    snprintf(work, cap, "%s.%s.new-XXXXXX", parent, base);
    if (!mkdtemp(work)) {
        fprintf(stderr, "cellforge %s: %s: cannot create the run directory: %s\n", a->command, dir, strerror(errno));
        return EXIT_ERROR;
    }
    chmod(work, 0755); /* mkdtemp makes it 0700; a run directory is as readable as any other */
    int rc = lock_run_dir(a, work, dir, lock_fd);
    if (rc >= 0) cli_discard_run_dir(work);
    return rc;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

void cli_discard_run_dir(const char *work) {
    (void)nftw(work, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int cli_publish_run_dir(const cli_args *a, const char *work, const char *dir) {
    if (strcmp(work, dir) == 0) return -1;
    /* rename replaces an empty directory (one the user made for the run) */
    if (rename(work, dir) != 0) {
        fprintf(stderr, "cellforge %s: %s: cannot name the run directory: %s\n", a->command, dir, strerror(errno));
        cli_discard_run_dir(work);
        return EXIT_ERROR;
    }
    (void)cf_file_sync_parent(dir); /* best effort: the run's name outlives a power cut */
    return -1;
}

/* Not cf_file_writer: dst becomes a second name of src's file (a hard link,
 * no copy of the weights), so there is nothing to write or fsync, only a name
 * to swap in (cf_file_link_atomic). -1 after cf_error_set. */
int cli_link_atomic(const char *src, const char *dst) { return cf_file_link_atomic(src, dst) == CF_OK ? 0 : -1; }

/* The end of a run: its report, and its best model as ONNX when there is a
 * model (a table run has none). -1, or EXIT_ERROR after a message; the run
 * itself is complete either way. */
int cli_finish_run_dir(const char *dir) {
    int rc = -1;
    cf_report_summary rs;
    if (cf_report_write_summary(dir, NULL, &rs) == CF_OK) {
        printf("report: %s (%.0f KiB; open it in a browser)\n", rs.path, (double)rs.bytes / 1024);
    } else {
        fprintf(stderr, "cellforge search: report: %s\n", cf_error_message());
        rc = EXIT_ERROR;
    }
    char cfm[1100], cfs[1100];
    snprintf(cfm, sizeof cfm, "%s/best.cfm", dir);
    snprintf(cfs, sizeof cfs, "%s/best.cfs", dir);
    if (access(cfm, R_OK) == 0 || access(cfs, R_OK) == 0) {
        char *argv[] = {"export", (char *)dir, NULL};
        fflush(stdout);
        if (cmd_export(2, argv) != EXIT_OK) rc = EXIT_ERROR;
    }
    fflush(stdout);
    return rc;
}

void cli_default_run_dir(const cf_space *s, char *buf, size_t cap) {
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(buf, cap, "runs/%s-%s", s->name, stamp);
}

