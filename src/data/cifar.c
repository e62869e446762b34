/* cifar.c - the binary version of CIFAR-10 and CIFAR-100.
 *
 * A file is a run of fixed-size records with no header: CIFAR-10 has one label
 * byte then 3072 pixel bytes; CIFAR-100 a coarse label byte (20 superclasses),
 * a fine label byte (100 classes), then 3072 pixel bytes. The pixels are the
 * red, green and blue planes of a 32x32 image, row by row, so they copy
 * straight into (C, H, W). The standard files hold 10000 records each (CIFAR-100
 * train.bin 50000), but any whole number is accepted, which keeps small test
 * files possible. Tests: tests/test_data.c
 */
#include "cellforge/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reader.h"

#define CIFAR_SIDE 32
#define CIFAR_PIXELS (3 * CIFAR_SIDE * CIFAR_SIDE)

typedef struct cifar_layout {
    int label_bytes;  /* bytes before the pixels */
    int classes;      /* of the label used */
    const char *desc; /* for messages */
} cifar_layout;

static const cifar_layout layouts[] = {
    [CF_CIFAR_FORMAT_10] = {1, 10, "1 label byte + 3072 pixel bytes"},
    [CF_CIFAR_FORMAT_100] = {2, 100, "1 coarse label byte + 1 fine label byte + 3072 pixel bytes"},
};

#define CIFAR100_COARSE_CLASSES 20

/* Records in one file: its uncompressed size must be a whole, non-zero number
 * of records. */
static cf_status count_records(const char *path, const cifar_layout *lay, uint64_t *records) {
    cf_data_reader r;
    cf_status s = cf_data_reader_open(&r, path);
    uint64_t bytes = 0;
    if (s == CF_OK) s = cf_data_reader_size(&r, &bytes);
    cf_data_reader_close(&r);
    CF_TRY(s);
    const uint64_t rec = (uint64_t)lay->label_bytes + CIFAR_PIXELS;
    if (bytes == 0) CF_FAIL(CF_ERR_PARSE, "%s: file is empty, expected records of %s", path, lay->desc);
    if (bytes % rec != 0)
        CF_FAIL(CF_ERR_PARSE, "%s: file ends at byte %llu, inside record %llu (from byte %llu), expected "
                "whole %llu-byte records (%s), up to byte %llu", path, (unsigned long long)bytes,
                (unsigned long long)(bytes / rec), (unsigned long long)(bytes / rec * rec),
                (unsigned long long)rec, lay->desc, (unsigned long long)((bytes / rec + 1) * rec));
    *records = bytes / rec;
    return CF_OK;
}

/* Read `records` records of one file into ds from image `first` on. */
static cf_status read_records(const char *path, const cifar_layout *lay, uint64_t records,
                              cf_dataset *ds, size_t first) {
    cf_data_reader r;
    cf_status s = CF_OK;
    const uint64_t rec = (uint64_t)lay->label_bytes + CIFAR_PIXELS;
    CF_TRY_GOTO(s, cf_data_reader_open(&r, path), done);
    for (uint64_t i = 0; i < records; i++) {
        unsigned char lab[2];
        uint8_t *img = ds->images + (first + i) * CIFAR_PIXELS;
        CF_TRY_GOTO(s, cf_data_reader_read_exact(&r, lab, (size_t)lay->label_bytes,
                                                 "the label of record %llu", (unsigned long long)i), done);
        CF_TRY_GOTO(s, cf_data_reader_read_exact(&r, img, CIFAR_PIXELS, "the pixels of record %llu",
                                                 (unsigned long long)i), done);
        const unsigned label = lab[lay->label_bytes - 1];
        if (lay->label_bytes == 2 && lab[0] >= CIFAR100_COARSE_CLASSES)
            CF_DATA_FAIL_GOTO(s, done, CF_ERR_PARSE, "%s: coarse label %u at byte %llu (record %llu) is out "
                              "of range, expected 0..%d", path, lab[0], (unsigned long long)(i * rec),
                              (unsigned long long)i, CIFAR100_COARSE_CLASSES - 1);
        if (label >= (unsigned)lay->classes)
            CF_DATA_FAIL_GOTO(s, done, CF_ERR_PARSE, "%s: %slabel %u at byte %llu (record %llu) is out of "
                              "range, expected 0..%d", path, lay->label_bytes == 2 ? "fine " : "", label,
                              (unsigned long long)(i * rec + (uint64_t)lay->label_bytes - 1),
                              (unsigned long long)i, lay->classes - 1);
        ds->labels[first + i] = (int32_t)label;
    }
    CF_TRY_GOTO(s, cf_data_reader_expect_end(&r, "the last record"), done);
done:
    cf_data_reader_close(&r);
    return s;
}

cf_status cf_data_cifar_load(const char *const *paths, size_t count, cf_cifar_format format,
                             const char *name, cf_dataset **out) {
    if (!out) CF_FAIL(CF_ERR_INVALID_ARG, "cf_data_cifar_load: out is NULL");
    *out = NULL;
    if (format != CF_CIFAR_FORMAT_10 && format != CF_CIFAR_FORMAT_100)
        CF_FAIL(CF_ERR_INVALID_ARG, "cf_data_cifar_load: unknown format %d", (int)format);
    if (!paths || count == 0) CF_FAIL(CF_ERR_INVALID_ARG, "cf_data_cifar_load: no files given");
    const cifar_layout *lay = &layouts[format];

    /* Count first, so the images are one allocation of the final size. */
    uint64_t *records = calloc(count, sizeof *records);
    if (!records) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "cf_data_cifar_load: cannot allocate %zu counts", count);
    cf_status s = CF_OK;
    cf_dataset *ds = NULL;
    uint64_t total = 0;
    for (size_t f = 0; f < count; f++) {
        CF_TRY_GOTO(s, count_records(paths[f], lay, &records[f]), done);
        total += records[f];
    }
    if (total > SIZE_MAX / CIFAR_PIXELS)
        CF_DATA_FAIL_GOTO(s, done, CF_ERR_OUT_OF_MEMORY, "%s: %llu records do not fit in memory", paths[0],
                          (unsigned long long)total);
    CF_TRY_GOTO(s, cf_dataset_create(name, (size_t)total, 3, CIFAR_SIDE, CIFAR_SIDE, lay->classes, &ds), done);
    size_t first = 0;
    for (size_t f = 0; f < count; f++) {
        CF_TRY_GOTO(s, read_records(paths[f], lay, records[f], ds, first), done);
        first += (size_t)records[f];
    }
done:
    free(records);
    if (s != CF_OK) {
        cf_dataset_destroy(ds);
        return s;
    }
    *out = ds;
    return CF_OK;
}
