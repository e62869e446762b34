/* reader.c - offset-keeping reads of plain or gzip'd dataset files through zlib.
 * Tests: tests/test_data.c (truncated, trailing and corrupt files). */
#include "reader.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cellforge/data.h"
#include "cellforge/file.h"

/* zlib reads through its own buffer; the default 8 KiB makes a 26 MB file take
 * thousands of small read() calls. */
#define READER_BUFFER_BYTES (256u * 1024u)
/* gzread counts in unsigned int: large reads go in chunks. */
#define READER_CHUNK_BYTES (1u << 30)

cf_status cf_data_reader_open(cf_data_reader *r, const char *path) {
    memset(r, 0, sizeof *r);
    r->path = path;
    int fd = -1;
    size_t size = 0;
    CF_TRY(cf_file_open_read(path, CF_DATA_FILE_MAX_BYTES, 0, &fd, &size));
    r->disk_bytes = (uint64_t)size;
    errno = 0;
    r->gz = gzdopen(fd, "rb"); /* owns fd from here: gzclose_r closes it */
    if (!r->gz) {
        close(fd);
        CF_FAIL(CF_ERR_IO, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
    }
    if (gzbuffer(r->gz, READER_BUFFER_BYTES) != 0)
        CF_FAIL(CF_ERR_INTERNAL, "%s: gzbuffer refused %u bytes", path, READER_BUFFER_BYTES);
    /* gzdirect looks at the first bytes: 1 means not gzip, read as it is. */
    r->compressed = !gzdirect(r->gz);
    return CF_OK;
}

void cf_data_reader_close(cf_data_reader *r) {
    if (r && r->gz) gzclose_r(r->gz);
    if (r) r->gz = NULL;
}

uint64_t cf_data_reader_offset(const cf_data_reader *r) {
    z_off_t pos = gztell(r->gz);
    return pos < 0 ? 0 : (uint64_t)pos;
}

uint64_t cf_data_reader_capacity(const cf_data_reader *r) {
    return r->compressed ? r->disk_bytes * 1032u : r->disk_bytes;
}

/* After gzread returned less than asked: a read error or corrupt gzip data
 * fails here; a plain end of file returns CF_OK and sets *cut_short when the
 * gzip stream stopped in the middle. */
static cf_status check_gz_error(cf_data_reader *r, int *cut_short) {
    int err = Z_OK;
    const char *msg = gzerror(r->gz, &err);
    *cut_short = (err == Z_BUF_ERROR);
    if (err == Z_ERRNO)
        CF_FAIL(CF_ERR_IO, "%s: read error after byte %llu: %s", r->path,
                (unsigned long long)cf_data_reader_offset(r), strerror(errno));
    if (err != Z_OK && err != Z_BUF_ERROR) {
        /* zlib prefixes its message with what it opened ("<fd:N>"); ours
         * names the path already */
        const char *sep = msg && strncmp(msg, "<fd:", 4) == 0 ? strstr(msg, ">: ") : NULL;
        if (sep) msg = sep + 3;
        /* zlib drops the bytes of a read that fails, so the offset is where
         * the failing read began, not where the damage is. */
        CF_FAIL(CF_ERR_PARSE, "%s: corrupt gzip data after byte %llu of the uncompressed stream: %s",
                r->path, (unsigned long long)cf_data_reader_offset(r), msg ? msg : "unknown zlib error");
    }
    return CF_OK;
}

cf_status cf_data_reader_read_exact(cf_data_reader *r, void *buf, size_t n, const char *what_fmt, ...) {
    uint64_t start = cf_data_reader_offset(r);
    unsigned char *p = buf;
    size_t left = n;
    while (left > 0) {
        unsigned chunk = left > READER_CHUNK_BYTES ? READER_CHUNK_BYTES : (unsigned)left;
        int got = gzread(r->gz, p, chunk);
        if (got > 0) {
            p += got;
            left -= (size_t)got;
        }
        if (got == (int)chunk) continue;
        /* gzread is short only at the end of the file or on an error */
        int cut_short = 0;
        CF_TRY(check_gz_error(r, &cut_short));
        break;
    }
    if (left == 0) return CF_OK;
    char what[256];
    va_list ap;
    va_start(ap, what_fmt);
    vsnprintf(what, sizeof what, what_fmt, ap);
    va_end(ap);
    int err = Z_OK;
    gzerror(r->gz, &err);
    CF_FAIL(CF_ERR_PARSE, "%s: file ends at byte %llu, expected %s, up to byte %llu%s", r->path,
            (unsigned long long)cf_data_reader_offset(r), what, (unsigned long long)(start + n),
            err == Z_BUF_ERROR ? " (the gzip stream is cut short)" : "");
}

/* Where the gzip members of path end (*end), and the file's size (*size):
 * zlib's gzread stops quietly at bytes after the last member that do not start
 * another one, so the raw file is walked member by member here. */
static cf_status gzip_end(const char *path, uint64_t *end, uint64_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) CF_FAIL(CF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    static _Thread_local unsigned char in[64 * 1024], out[64 * 1024];
    z_stream z;
    memset(&z, 0, sizeof z);
    cf_status st = CF_OK;
    if (inflateInit2(&z, 15 + 16) != Z_OK) {
        fclose(f);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: zlib cannot start", path);
    }
    uint64_t read = 0;
    *end = 0;
    for (int member_done = 0;;) {
        if (z.avail_in == 0) {
            z.avail_in = (uInt)fread(in, 1, sizeof in, f);
            z.next_in = in;
            read += z.avail_in;
            if (z.avail_in == 0) break;
        }
        if (member_done) {
            if (z.next_in[0] != 0x1f) break; /* not another gzip member: trailing data */
            inflateReset(&z);
            member_done = 0;
        }
        z.next_out = out;
        z.avail_out = sizeof out;
        int rc = inflate(&z, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) {
            member_done = 1;
            *end = read - z.avail_in;
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
            break; /* corrupt data: gzread has reported it already */
        }
    }
    inflateEnd(&z);
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) st = cf_error_set(CF_ERR_IO, __FILE__, __LINE__, "%s: %s", path, strerror(errno));
    *size = (uint64_t)sb.st_size;
    fclose(f);
    return st;
}

cf_status cf_data_reader_expect_end(cf_data_reader *r, const char *what) {
    unsigned char extra;
    int got = gzread(r->gz, &extra, 1);
    if (got == 1)
        CF_FAIL(CF_ERR_PARSE, "%s: unexpected data after byte %llu, where %s ends", r->path,
                (unsigned long long)(cf_data_reader_offset(r) - 1), what);
    /* The gzip trailer (CRC and length) is only checked when reading past the
     * data, so this is where a damaged or missing trailer shows. */
    int cut_short = 0;
    CF_TRY(check_gz_error(r, &cut_short));
    if (cut_short)
        CF_FAIL(CF_ERR_PARSE, "%s: the gzip stream is cut short after byte %llu: its trailer is missing",
                r->path, (unsigned long long)cf_data_reader_offset(r));
    if (r->compressed) {
        uint64_t end = 0, size = 0;
        CF_TRY(gzip_end(r->path, &end, &size));
        if (end < size)
            CF_FAIL(CF_ERR_PARSE, "%s: %llu bytes of trailing data after the gzip stream, which ends at byte %llu "
                    "of %llu (the file is damaged or was appended to)", r->path, (unsigned long long)(size - end),
                    (unsigned long long)end, (unsigned long long)size);
    }
    return CF_OK;
}

cf_status cf_data_reader_size(cf_data_reader *r, uint64_t *bytes) {
    if (!r->compressed) {
        *bytes = r->disk_bytes;
        return CF_OK;
    }
    static _Thread_local unsigned char scratch[64 * 1024];
    uint64_t total = 0;
    for (;;) {
        int got = gzread(r->gz, scratch, sizeof scratch);
        if (got > 0) total += (uint64_t)got;
        if (got == (int)sizeof scratch) continue;
        int cut_short = 0;
        CF_TRY(check_gz_error(r, &cut_short));
        if (cut_short)
            CF_FAIL(CF_ERR_PARSE, "%s: file ends at byte %llu (the gzip stream is cut short)", r->path,
                    (unsigned long long)total);
        if (got <= 0) break;
    }
    if (gzrewind(r->gz) != 0) CF_FAIL(CF_ERR_IO, "%s: cannot rewind after measuring it", r->path);
    *bytes = total;
    return CF_OK;
}
