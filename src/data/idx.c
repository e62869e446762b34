/* idx.c - the IDX format of MNIST and Fashion-MNIST.
 *
 * An IDX file is a big-endian header, then the elements: the magic number
 * 0x0000TTDD (TT the element type, 0x08 = unsigned byte; DD the number of
 * dimensions), DD 32-bit sizes, then the product of the sizes in elements.
 * Images are 0x00000803 (N, H, W); labels 0x00000801 (N). Each file arrives
 * gzip'd as published; zlib reads a decompressed copy just the same.
 * Tests: tests/test_data.c (made-up and corrupted files), tests/test_data_fmnist.c
 */
#include "cellforge/data.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reader.h"

#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAGIC_IMAGES 0x00000803u

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static const char *idx_type_name(unsigned code) {
    switch (code) {
    case 0x08: return "unsigned bytes";
    case 0x09: return "signed bytes";
    case 0x0B: return "16-bit integers";
    case 0x0C: return "32-bit integers";
    case 0x0D: return "32-bit floats";
    case 0x0E: return "64-bit floats";
    default: return NULL;
    }
}

/* A wrong magic number usually means a known mistake; say which. */
static void describe_magic(uint32_t magic, char *buf, size_t size) {
    unsigned b0 = magic >> 24, b1 = (magic >> 16) & 0xffu, type = (magic >> 8) & 0xffu, nd = magic & 0xffu;
    if (b0 == 0x1f && b1 == 0x8b)
        snprintf(buf, size, "it holds gzip data after decompression: the file was compressed twice");
    else if (magic == 0x03080000u || magic == 0x01080000u)
        snprintf(buf, size, "it is byte-swapped: the header was written little-endian");
    else if (b0 == 0 && b1 == 0 && idx_type_name(type))
        snprintf(buf, size, "it is an IDX file of %s in %u dimension%s%s", idx_type_name(type), nd,
                 nd == 1 ? "" : "s",
                 magic == IDX_MAGIC_LABELS   ? ", i.e. a label file"
                 : magic == IDX_MAGIC_IMAGES ? ", i.e. an image file"
                                             : "");
    else
        snprintf(buf, size, "it is not an IDX file");
}

/* Read and check the header of an IDX file of unsigned bytes with as many
 * dimensions as want_magic says; dims receives the sizes. */
static cf_status read_header(cf_data_reader *r, uint32_t want_magic, const char *kind, uint32_t *dims) {
    unsigned ndims = want_magic & 0xffu;
    unsigned char b[16];
    CF_TRY(cf_data_reader_read_exact(r, b, 4, "the 4-byte magic number of an IDX %s file", kind));
    uint32_t magic = be32(b);
    if (magic != want_magic) {
        char how[128];
        describe_magic(magic, how, sizeof how);
        CF_FAIL(CF_ERR_PARSE, "%s: bad magic number 0x%08x at byte 0, expected 0x%08x (an IDX %s file: "
                "unsigned bytes in %u dimension%s); %s", r->path, magic, want_magic, kind, ndims,
                ndims == 1 ? "" : "s", how);
    }
    CF_TRY(cf_data_reader_read_exact(r, b, 4 * ndims, "the %u dimension size%s of the header", ndims,
                                     ndims == 1 ? "" : "s"));
    for (unsigned i = 0; i < ndims; i++) {
        dims[i] = be32(b + 4 * i);
        if (dims[i] == 0)
            CF_FAIL(CF_ERR_PARSE, "%s: dimension %u (bytes %u..%u) is 0, expected at least 1", r->path, i,
                    4 + 4 * i, 8 + 4 * i);
    }
    return CF_OK;
}

/* Fail before allocating when a header promises more bytes than the file can
 * hold, which a corrupt header easily does. */
static cf_status check_capacity(cf_data_reader *r, uint64_t end, const char *what) {
    uint64_t cap = cf_data_reader_capacity(r);
    if (end <= cap) return CF_OK;
    if (!r->compressed)
        CF_FAIL(CF_ERR_PARSE, "%s: file ends at byte %llu, expected %s, up to byte %llu", r->path,
                (unsigned long long)cap, what, (unsigned long long)end);
    CF_FAIL(CF_ERR_PARSE, "%s: the header promises %s, up to byte %llu, but %llu bytes of gzip data "
            "hold at most %llu: the file is truncated or its header is corrupt", r->path, what,
            (unsigned long long)end, (unsigned long long)r->disk_bytes, (unsigned long long)cap);
}

cf_status cf_data_idx_load(const char *images_path, const char *labels_path, int classes,
                           const char *name, cf_dataset **out) {
    if (!out) CF_FAIL(CF_ERR_INVALID_ARG, "cf_data_idx_load: out is NULL");
    *out = NULL;
    if (!images_path || !labels_path) CF_FAIL(CF_ERR_INVALID_ARG, "cf_data_idx_load: a file path is NULL");
    if (classes < 1 || classes > 256)
        CF_FAIL(CF_ERR_INVALID_ARG, "%s: %d classes do not fit byte labels, expected 1..256", labels_path,
                classes);

    cf_status s = CF_OK;
    cf_data_reader ri, rl;
    memset(&ri, 0, sizeof ri);
    memset(&rl, 0, sizeof rl);
    cf_dataset *ds = NULL;
    uint8_t *raw = NULL;
    uint32_t idims[3], ldims[1];
    char what[128];

    CF_TRY_GOTO(s, cf_data_reader_open(&ri, images_path), done);
    CF_TRY_GOTO(s, read_header(&ri, IDX_MAGIC_IMAGES, "image", idims), done);
    const uint32_t n = idims[0], h = idims[1], w = idims[2];
    if (h > INT_MAX || w > INT_MAX)
        CF_DATA_FAIL_GOTO(s, done, CF_ERR_PARSE, "%s: images of %ux%u are too large", images_path, h, w);
    /* n * h always fits 64 bits; n * h * w may not. */
    const uint64_t nh = (uint64_t)n * h;
    if (w > (UINT64_MAX - 16) / nh)
        CF_DATA_FAIL_GOTO(s, done, CF_ERR_PARSE, "%s: the header promises %u images of %ux%u, more bytes than "
                          "any file holds: the header is corrupt", images_path, n, h, w);
    const uint64_t pixels = nh * w;
    snprintf(what, sizeof what, "the pixels of %u images of %ux%u", n, h, w);
    CF_TRY_GOTO(s, check_capacity(&ri, 16 + pixels, what), done);

    CF_TRY_GOTO(s, cf_data_reader_open(&rl, labels_path), done);
    CF_TRY_GOTO(s, read_header(&rl, IDX_MAGIC_LABELS, "label", ldims), done);
    if (ldims[0] != n)
        CF_DATA_FAIL_GOTO(s, done, CF_ERR_PARSE, "%s holds %u images but %s holds %u labels: expected one "
                          "label per image (are both files from the same split?)", images_path, n,
                          labels_path, ldims[0]);
    snprintf(what, sizeof what, "%u one-byte labels", n);
    CF_TRY_GOTO(s, check_capacity(&rl, 8 + (uint64_t)n, what), done);

    CF_TRY_GOTO(s, cf_dataset_create(name, n, 1, (int)h, (int)w, classes, &ds), done);
    CF_TRY_GOTO(s, cf_data_reader_read_exact(&ri, ds->images, (size_t)pixels,
                                             "the pixels of %u images of %ux%u", n, h, w), done);
    snprintf(what, sizeof what, "the last of %u images", n);
    CF_TRY_GOTO(s, cf_data_reader_expect_end(&ri, what), done);

    raw = malloc(n);
    if (!raw) CF_DATA_FAIL_GOTO(s, done, CF_ERR_OUT_OF_MEMORY, "%s: cannot allocate %u labels", labels_path, n);
    CF_TRY_GOTO(s, cf_data_reader_read_exact(&rl, raw, n, "%u one-byte labels", n), done);
    snprintf(what, sizeof what, "the last of %u labels", n);
    CF_TRY_GOTO(s, cf_data_reader_expect_end(&rl, what), done);
    for (uint32_t i = 0; i < n; i++) {
        if (raw[i] >= classes)
            CF_DATA_FAIL_GOTO(s, done, CF_ERR_PARSE, "%s: label %u at byte %llu (image %u) is out of range, "
                              "expected 0..%d (%d classes)", labels_path, raw[i],
                              8ull + i, i, classes - 1, classes);
        ds->labels[i] = raw[i];
    }

done:
    free(raw);
    cf_data_reader_close(&rl);
    cf_data_reader_close(&ri);
    if (s != CF_OK) {
        cf_dataset_destroy(ds);
        return s;
    }
    *out = ds;
    return CF_OK;
}
