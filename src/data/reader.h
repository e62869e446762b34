/* reader.h - private to src/data: a byte reader over plain or gzip'd files that
 * keeps its offset in the uncompressed stream, so that every format error in
 * a dataset file can say where it happened. zlib reads a plain file directly,
 * so callers never care which kind they were given. Tests: tests/test_data.c
 */
#ifndef CF_DATA_READER_H
#define CF_DATA_READER_H

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include "cellforge/status.h"

typedef struct cf_data_reader {
    gzFile gz;
    const char *path;    /* borrowed: the messages name it */
    uint64_t disk_bytes; /* size of the file on disk */
    int compressed;      /* 1 when the file is gzip data, 0 when read as it is */
} cf_data_reader;

/* Open path for reading. Fails with CF_ERR_IO naming the path and the reason.
 * Close with cf_data_reader_close, also after a failed open. */
cf_status cf_data_reader_open(cf_data_reader *r, const char *path);
void cf_data_reader_close(cf_data_reader *r);

/* Bytes of uncompressed data consumed so far. */
uint64_t cf_data_reader_offset(const cf_data_reader *r);

/* An upper bound on the uncompressed bytes the file can hold: its size when
 * plain, 1032 times its size when gzip'd (deflate's largest ratio). Checked
 * before allocating what a header promises, so a corrupt header cannot ask for
 * terabytes. */
uint64_t cf_data_reader_capacity(const cf_data_reader *r);

/* Read exactly n bytes into buf. A file that ends first fails with CF_ERR_PARSE:
 * "PATH: file ends at byte X, expected WHAT (bytes A..B)", where WHAT is the
 * printf-formatted description; corrupt gzip data or a read error fail too. */
cf_status cf_data_reader_read_exact(cf_data_reader *r, void *buf, size_t n, const char *what_fmt,
                                    ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Fail with CF_ERR_PARSE if any byte is left: "PATH: unexpected data after
 * byte X, where WHAT ends". */
cf_status cf_data_reader_expect_end(cf_data_reader *r, const char *what);

/* Total uncompressed size of the file: the disk size when plain, a full
 * decompression pass when gzip'd. The reader is rewound afterwards. */
cf_status cf_data_reader_size(cf_data_reader *r, uint64_t *bytes);

/* Record a failure and jump to a cleanup label (CF_FAIL for functions with one
 * exit path). */
#define CF_DATA_FAIL_GOTO(var, label, status, ...)                        \
    do {                                                                  \
        (var) = cf_error_set((status), __FILE__, __LINE__, __VA_ARGS__);  \
        goto label;                                                       \
    } while (0)

#endif
