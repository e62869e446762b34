/* test_data.c - the dataset readers on small files written here, in a fresh
 * temporary directory: IDX (gzip'd and plain) and CIFAR-10/100 files are read
 * back byte for byte, then corrupted one way at a time (bad magic, truncation
 * at several offsets, damaged gzip, out-of-range labels, count mismatches) and
 * each must fail with a status and a message naming the file and the offset.
 * Also: dataset names and suggestions, missing-file messages, the seeded
 * split and the per-channel statistics.
 *
 *   ctest --test-dir build -R test_data --output-on-failure
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "cellforge/data.h"
#include "cellforge/rng.h"
#include "check.h"

/* ---- the temporary directory and the files in it --------------------------- */

static char tmp_root[256];
static char made[128][512]; /* every file and folder made, removed in reverse order */
static int n_made;

static const char *path_in(char *buf, size_t size, const char *rel) {
    snprintf(buf, size, "%s/%s", tmp_root, rel);
    return buf;
}

static void remember(const char *path) {
    for (int i = 0; i < n_made; i++)
        if (strcmp(made[i], path) == 0) return;
    CF_ASSERT(n_made < 128);
    snprintf(made[n_made++], sizeof made[0], "%s", path);
}

static void make_dir(const char *rel) {
    char p[512];
    path_in(p, sizeof p, rel);
    CF_ASSERT(mkdir(p, 0700) == 0);
    remember(p);
}

/* Write bytes to tmp_root/rel, gzip'd when gz is set; returns the full path. */
static const char *write_file(const char *rel, const void *data, size_t len, int gz) {
    static char p[512];
    path_in(p, sizeof p, rel);
    if (gz) {
        gzFile f = gzopen(p, "wb9");
        CF_ASSERT(f != NULL);
        CF_ASSERT(len == 0 || gzwrite(f, data, (unsigned)len) == (int)len);
        CF_ASSERT(gzclose(f) == Z_OK);
    } else {
        FILE *f = fopen(p, "wb");
        CF_ASSERT(f != NULL);
        CF_ASSERT(fwrite(data, 1, len, f) == len);
        CF_ASSERT(fclose(f) == 0);
    }
    remember(p);
    return p;
}

static unsigned char *read_whole(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    CF_ASSERT(f != NULL);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    unsigned char *b = malloc(*len ? *len : 1);
    CF_ASSERT(b && fread(b, 1, *len, f) == *len);
    fclose(f);
    return b;
}

static void cleanup(void) {
    for (int i = n_made - 1; i >= 0; i--) remove(made[i]);
    rmdir(tmp_root);
}

/* ---- IDX files ----------------------------------------------------------- */

enum { N = 5, H = 3, W = 4, CLASSES = 10 };
#define IMAGES_BYTES (16 + N * H * W)
#define LABELS_BYTES (8 + N)

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static unsigned char pixel(int i, int y, int x) { return (unsigned char)(i * 31 + y * 7 + x * 3 + 200); }
static int label_of(int i) { return (i * 3) % CLASSES; }

static void make_idx_images(unsigned char *b) {
    put_be32(b, 0x00000803u);
    put_be32(b + 4, N);
    put_be32(b + 8, H);
    put_be32(b + 12, W);
    for (int i = 0; i < N; i++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) b[16 + (i * H + y) * W + x] = pixel(i, y, x);
}

static void make_idx_labels(unsigned char *b) {
    put_be32(b, 0x00000801u);
    put_be32(b + 4, N);
    for (int i = 0; i < N; i++) b[8 + i] = (unsigned char)label_of(i);
}

static void check_idx_contents(const cf_dataset *ds, const char *name) {
    CHECK(ds->n == N && ds->c == 1 && ds->h == H && ds->w == W && ds->classes == CLASSES,
          "%s: shape n=%zu (%d, %d, %d), %d classes", name, ds->n, ds->c, ds->h, ds->w, ds->classes);
    CHECK(strcmp(ds->name, name) == 0, "name '%s', expected '%s'", ds->name, name);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        const uint8_t *img = cf_dataset_image(ds, (size_t)i);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) bad += img[y * W + x] != pixel(i, y, x);
        bad += ds->labels[i] != label_of(i);
    }
    CHECK(bad == 0, "%s: %d pixels or labels differ from what was written", name, bad);
}

static void check_idx_roundtrip(void) {
    unsigned char im[IMAGES_BYTES], lb[LABELS_BYTES];
    make_idx_images(im);
    make_idx_labels(lb);
    char gi[512], gl[512], ri[512], rl[512];
    snprintf(gi, sizeof gi, "%s", write_file("im.gz", im, sizeof im, 1));
    snprintf(gl, sizeof gl, "%s", write_file("lb.gz", lb, sizeof lb, 1));
    snprintf(ri, sizeof ri, "%s", write_file("im.raw", im, sizeof im, 0));
    snprintf(rl, sizeof rl, "%s", write_file("lb.raw", lb, sizeof lb, 0));
    const char *pairs[4][2] = {{gi, gl}, {ri, rl}, {gi, rl}, {ri, gl}};
    for (int k = 0; k < 4; k++) {
        cf_dataset *ds = NULL;
        CHECK_OK(cf_data_idx_load(pairs[k][0], pairs[k][1], CLASSES, "tiny", &ds));
        if (ds) check_idx_contents(ds, "tiny");
        cf_dataset_destroy(ds);
    }
    /* a gzip file of concatenated members is one stream to zlib */
    size_t len1 = 0, len2 = 0;
    write_file("half1.gz", im, 30, 1);
    char h1[512];
    snprintf(h1, sizeof h1, "%s", made[n_made - 1]);
    unsigned char *a = read_whole(h1, &len1);
    const char *h2 = write_file("half2.gz", im + 30, sizeof im - 30, 1);
    unsigned char *b = read_whole(h2, &len2);
    unsigned char *both = malloc(len1 + len2);
    memcpy(both, a, len1);
    memcpy(both + len1, b, len2);
    const char *cat = write_file("cat.gz", both, len1 + len2, 0);
    cf_dataset *ds = NULL;
    CHECK_OK(cf_data_idx_load(cat, rl, CLASSES, "tiny", &ds));
    if (ds) check_idx_contents(ds, "tiny");
    cf_dataset_destroy(ds);
    free(a);
    free(b);
    free(both);
}

/* Corrupt IDX image and label files, each failing with the path and what was
 * wrong where; `labels` names a good label file, lb holds its bytes. */
static void idx_corrupt_magic(const char *labels) {
    unsigned char im[IMAGES_BYTES + 1];
    cf_dataset *ds = (cf_dataset *)&ds; /* must come back NULL on every failure */
    const char *p;

    /* bad magic numbers, each with what it looks like */
    make_idx_images(im);
    put_be32(im, 0x00000804u);
    p = write_file("magic.gz", im, IMAGES_BYTES, 1);
    CHECK_FAILS(cf_data_idx_load(p, labels, CLASSES, "x", &ds), CF_ERR_PARSE, p,
                "bad magic number 0x00000804 at byte 0, expected 0x00000803");
    CHECK(ds == NULL, "output not NULL after a failure");
    put_be32(im, 0x03080000u);
    p = write_file("swapped", im, IMAGES_BYTES, 0);
    CHECK_FAILS(cf_data_idx_load(p, labels, CLASSES, "x", &ds), CF_ERR_PARSE, p, "byte-swapped");
    CHECK_FAILS(cf_data_idx_load(labels, labels, CLASSES, "x", &ds), CF_ERR_PARSE, labels,
                "0x00000801 at byte 0, expected 0x00000803 (an IDX image file");
    CHECK(strstr(cf_error_message(), "a label file") != NULL, "a label file given as images is not named so: %s",
          cf_error_message());
    put_be32(im, 0x00000d03u);
    p = write_file("floats", im, IMAGES_BYTES, 0);
    CHECK_FAILS(cf_data_idx_load(p, labels, CLASSES, "x", &ds), CF_ERR_PARSE, p, "32-bit floats");
}

static void idx_corrupt_truncated(const char *labels, const unsigned char *lb) {
    unsigned char im[IMAGES_BYTES + 1];
    char want[128];
    cf_dataset *ds = (cf_dataset *)&ds; /* must come back NULL on every failure */
    const char *p;

    /* truncated at several offsets: inside the magic, the sizes, the pixels;
     * both plain and gzip'd (a valid gzip stream of too few bytes) */
    make_idx_images(im);
    const size_t cuts[] = {0, 2, 4, 9, 15, 16, 23, IMAGES_BYTES - 1};
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        for (int gz = 0; gz < 2; gz++) {
            char rel[64];
            snprintf(rel, sizeof rel, "cut_%zu%s", cuts[k], gz ? ".gz" : "");
            p = write_file(rel, im, cuts[k], gz);
            snprintf(want, sizeof want, "file ends at byte %zu, expected", cuts[k]);
            CHECK_FAILS(cf_data_idx_load(p, labels, CLASSES, "x", &ds), CF_ERR_PARSE, p, want);
            const char *upto = cuts[k] < 4 ? "up to byte 4" : cuts[k] < 16 ? "up to byte 16" : "up to byte 76";
            CHECK(strstr(cf_error_message(), upto) != NULL, "cut at %zu (gz %d): '%s' lacks '%s'", cuts[k], gz,
                  cf_error_message(), upto);
        }
    }
    /* the labels file cut short */
    char images[512];
    snprintf(images, sizeof images, "%s", write_file("good_images", im, IMAGES_BYTES, 0));
    p = write_file("cut_labels.gz", lb, LABELS_BYTES - 2, 1);
    CHECK_FAILS(cf_data_idx_load(images, p, CLASSES, "x", &ds), CF_ERR_PARSE, p,
                "file ends at byte 11, expected 5 one-byte labels, up to byte 13");

    /* damaged gzip: the compressed bytes cut in half, the trailer missing, a bad CRC */
    size_t glen = 0;
    write_file("whole.gz", im, IMAGES_BYTES, 1);
    unsigned char *g = read_whole(made[n_made - 1], &glen);
    p = write_file("half.gz", g, glen / 2, 0);
    CHECK_FAILS(cf_data_idx_load(p, labels, CLASSES, "x", &ds), CF_ERR_PARSE, p, "cut short");
    p = write_file("notrailer.gz", g, glen - 8, 0);
    CHECK_FAILS(cf_data_idx_load(p, labels, CLASSES, "x", &ds), CF_ERR_PARSE, p,
                "cut short after byte 76: its trailer is missing");
    /* bytes after the gzip stream that start no further member: zlib ignores them */
    unsigned char *tail = malloc(glen + 8);
    memcpy(tail, g, glen);
    memcpy(tail + glen, "garbage!", 8);
    p = write_file("trailing.gz", tail, glen + 8, 0);
    char want_tail[128];
    snprintf(want_tail, sizeof want_tail, "8 bytes of trailing data after the gzip stream, which ends at byte %zu", glen);
    CHECK_FAILS(cf_data_idx_load(p, labels, CLASSES, "x", &ds), CF_ERR_PARSE, p, want_tail);
    free(tail);
    g[glen - 8] ^= 0x55; /* first CRC byte */
    p = write_file("badcrc.gz", g, glen, 0);
    CHECK_FAILS(cf_data_idx_load(p, labels, CLASSES, "x", &ds), CF_ERR_PARSE, p,
                "corrupt gzip data after byte 0 of the uncompressed stream: incorrect data check");
    CHECK(strstr(strstr(cf_error_message(), p) + 1, p) == NULL, "the path is named twice: %s", cf_error_message());
    free(g);
}

static void idx_corrupt_sizes(const char *labels) {
    unsigned char im[IMAGES_BYTES + 1];
    cf_dataset *ds = (cf_dataset *)&ds; /* must come back NULL on every failure */
    const char *p;
    make_idx_images(im);

    /* one byte too many */
    im[IMAGES_BYTES] = 0;
    p = write_file("long", im, IMAGES_BYTES + 1, 0);
    CHECK_FAILS(cf_data_idx_load(p, labels, CLASSES, "x", &ds), CF_ERR_PARSE, p,
                "unexpected data after byte 76, where the last of 5 images ends");
    p = write_file("long.gz", im, IMAGES_BYTES + 1, 1);
    CHECK_FAILS(cf_data_idx_load(p, labels, CLASSES, "x", &ds), CF_ERR_PARSE, p, "unexpected data after byte 76");

    /* a size of 0, and a header promising far more than the file holds */
    put_be32(im + 8, 0);
    p = write_file("zero_h", im, IMAGES_BYTES, 0);
    CHECK_FAILS(cf_data_idx_load(p, labels, CLASSES, "x", &ds), CF_ERR_PARSE, p, "dimension 1 (bytes 8..12) is 0");
    make_idx_images(im);
    put_be32(im + 4, 0xffffffffu);
    put_be32(im + 8, 0x10000u);
    p = write_file("huge", im, IMAGES_BYTES, 0);
    CHECK_FAILS(cf_data_idx_load(p, labels, CLASSES, "x", &ds), CF_ERR_PARSE, p, "file ends at byte 76");
    p = write_file("huge.gz", im, IMAGES_BYTES, 1);
    CHECK_FAILS(cf_data_idx_load(p, labels, CLASSES, "x", &ds), CF_ERR_PARSE, p,
                "the file is truncated or its header is corrupt");
}

static void idx_corrupt_labels(const char *labels, unsigned char *lb) {
    unsigned char im[IMAGES_BYTES + 1];
    char images[512];
    cf_dataset *ds = (cf_dataset *)&ds; /* must come back NULL on every failure */
    const char *p;

    /* labels: out of range, count mismatch */
    make_idx_images(im);
    snprintf(images, sizeof images, "%s", write_file("good_images.gz", im, IMAGES_BYTES, 1));
    lb[8 + 3] = CLASSES;
    p = write_file("bad_label.gz", lb, LABELS_BYTES, 1);
    CHECK_FAILS(cf_data_idx_load(images, p, CLASSES, "x", &ds), CF_ERR_PARSE, p,
                "label 10 at byte 11 (image 3) is out of range, expected 0..9");
    make_idx_labels(lb);
    put_be32(lb + 4, N - 1);
    p = write_file("four_labels", lb, LABELS_BYTES - 1, 0);
    CHECK_FAILS(cf_data_idx_load(images, p, CLASSES, "x", &ds), CF_ERR_PARSE, images,
                "holds 5 images but");
    CHECK(strstr(cf_error_message(), "holds 4 labels") != NULL, "mismatch message: %s", cf_error_message());

    /* arguments and unreadable paths */
    CHECK_FAILS(cf_data_idx_load(images, labels, 0, "x", &ds), CF_ERR_INVALID_ARG, "0 classes", "1..256");
    CHECK_FAILS(cf_data_idx_load(images, labels, 300, "x", &ds), CF_ERR_INVALID_ARG, "300 classes", "1..256");
    char nowhere[512];
    path_in(nowhere, sizeof nowhere, "no_such_file.gz");
    CHECK_FAILS(cf_data_idx_load(nowhere, labels, CLASSES, "x", &ds), CF_ERR_IO, nowhere, "cannot open");
    CHECK_FAILS(cf_data_idx_load(tmp_root, labels, CLASSES, "x", &ds), CF_ERR_IO, tmp_root, "is a folder");
    CHECK(ds == NULL, "output not NULL after a failure");
}

static void check_idx_corrupt(void) {
    unsigned char lb[LABELS_BYTES];
    char labels[512];
    make_idx_labels(lb);
    snprintf(labels, sizeof labels, "%s", write_file("good_labels", lb, sizeof lb, 0));
    idx_corrupt_magic(labels);
    idx_corrupt_truncated(labels, lb);
    idx_corrupt_sizes(labels);
    idx_corrupt_labels(labels, lb);
}

/* ---- CIFAR files ---------------------------------------------------------- */

#define CIFAR_PX 3072

static unsigned char cifar_pixel(int i, int k) { return (unsigned char)(i * 101 + k * 7 + (k >> 10) * 50); }

/* Records first..first+count-1 of a CIFAR file; label bytes from label_fn. */
static unsigned char *make_cifar(int first, int count, int hundred, size_t *len) {
    const size_t rec = (size_t)(hundred ? 2 : 1) + CIFAR_PX;
    unsigned char *b = malloc(rec * (size_t)count + 1);
    for (int r = 0; r < count; r++) {
        unsigned char *p = b + rec * (size_t)r;
        int i = first + r;
        if (hundred) {
            p[0] = (unsigned char)(i % 20);
            p[1] = (unsigned char)((i * 7) % 100);
        } else {
            p[0] = (unsigned char)(i % 10);
        }
        for (int k = 0; k < CIFAR_PX; k++) p[rec - CIFAR_PX + (size_t)k] = cifar_pixel(i, k);
    }
    *len = rec * (size_t)count;
    return b;
}

static void check_cifar_contents(const cf_dataset *ds, int n, int first, int hundred, const char *name) {
    CHECK(ds->n == (size_t)n && ds->c == 3 && ds->h == 32 && ds->w == 32 && ds->classes == (hundred ? 100 : 10),
          "%s: n=%zu (%d, %d, %d), %d classes", name, ds->n, ds->c, ds->h, ds->w, ds->classes);
    CHECK(strcmp(ds->name, name) == 0, "name '%s', expected '%s'", ds->name, name);
    int bad = 0;
    for (int r = 0; r < n && (size_t)r < ds->n; r++) {
        int i = first + r;
        bad += ds->labels[r] != (hundred ? (i * 7) % 100 : i % 10);
        for (int k = 0; k < CIFAR_PX; k++) bad += cf_dataset_image(ds, (size_t)r)[k] != cifar_pixel(i, k);
    }
    CHECK(bad == 0, "%s: %d pixels or labels differ from what was written", name, bad);
}

static void check_cifar(void) {
    char dir[512], rel[128];
    size_t len;
    unsigned char *b;
    cf_dataset *ds = NULL;

    /* CIFAR-10 inside the folder its archive unpacks to: five train batches
     * of 2, 3, 1, 2, 2 records, read in order as one dataset */
    make_dir("c10");
    make_dir("c10/cifar-10-batches-bin");
    const int sizes[5] = {2, 3, 1, 2, 2};
    for (int f = 0, first = 0; f < 5; f++) {
        b = make_cifar(first, sizes[f], 0, &len);
        snprintf(rel, sizeof rel, "c10/cifar-10-batches-bin/data_batch_%d.bin", f + 1);
        write_file(rel, b, len, 0);
        free(b);
        first += sizes[f];
    }
    b = make_cifar(100, 3, 0, &len);
    write_file("c10/cifar-10-batches-bin/test_batch.bin", b, len, 0);
    free(b);
    path_in(dir, sizeof dir, "c10");
    CHECK_OK(cf_dataset_load("cifar10", dir, "train", &ds));
    if (ds) check_cifar_contents(ds, 10, 0, 0, "cifar10/train");
    cf_dataset_destroy(ds);
    ds = NULL;
    path_in(dir, sizeof dir, "c10/cifar-10-batches-bin");
    CHECK_OK(cf_dataset_load("cifar10", dir, "test", &ds));
    if (ds) check_cifar_contents(ds, 3, 100, 0, "cifar10/test");
    cf_dataset_destroy(ds);
    ds = NULL;

    /* CIFAR-100 straight in the folder, the test file gzip'd under its usual name */
    make_dir("c100");
    b = make_cifar(0, 4, 1, &len);
    write_file("c100/train.bin", b, len, 0);
    free(b);
    b = make_cifar(40, 2, 1, &len);
    write_file("c100/test.bin", b, len, 1);
    free(b);
    path_in(dir, sizeof dir, "c100");
    CHECK_OK(cf_dataset_load("cifar100", dir, "train", &ds));
    if (ds) check_cifar_contents(ds, 4, 0, 1, "cifar100/train");
    cf_dataset_destroy(ds);
    ds = NULL;
    CHECK_OK(cf_dataset_load("cifar100", dir, "test", &ds));
    if (ds) check_cifar_contents(ds, 2, 40, 1, "cifar100/test");
    cf_dataset_destroy(ds);
    ds = NULL;

    /* corruptions */
    const char *p;
    b = make_cifar(0, 2, 0, &len);
    p = write_file("part.bin", b, len - 100, 0);
    CHECK_FAILS(cf_data_cifar_load(&p, 1, CF_CIFAR_FORMAT_10, "x", &ds), CF_ERR_PARSE, p,
                "file ends at byte 6046, inside record 1 (from byte 3073), expected whole 3073-byte records");
    p = write_file("part.bin.gz", b, len - 100, 1);
    CHECK_FAILS(cf_data_cifar_load(&p, 1, CF_CIFAR_FORMAT_10, "x", &ds), CF_ERR_PARSE, p, "file ends at byte 6046");
    b[3073] = 10;
    p = write_file("label10.bin", b, len, 0);
    CHECK_FAILS(cf_data_cifar_load(&p, 1, CF_CIFAR_FORMAT_10, "x", &ds), CF_ERR_PARSE, p,
                "label 10 at byte 3073 (record 1) is out of range, expected 0..9");
    free(b);
    b = make_cifar(0, 2, 1, &len);
    b[3074 + 1] = 100;
    p = write_file("fine100.bin", b, len, 0);
    CHECK_FAILS(cf_data_cifar_load(&p, 1, CF_CIFAR_FORMAT_100, "x", &ds), CF_ERR_PARSE, p,
                "fine label 100 at byte 3075 (record 1) is out of range, expected 0..99");
    b[3074 + 1] = 99;
    b[0] = 20;
    p = write_file("coarse20.bin", b, len, 0);
    CHECK_FAILS(cf_data_cifar_load(&p, 1, CF_CIFAR_FORMAT_100, "x", &ds), CF_ERR_PARSE, p,
                "coarse label 20 at byte 0 (record 0) is out of range, expected 0..19");
    /* a CIFAR-100 file read as CIFAR-10 has the wrong record size */
    b[0] = 0;
    p = write_file("as10.bin", b, len, 0);
    CHECK_FAILS(cf_data_cifar_load(&p, 1, CF_CIFAR_FORMAT_10, "x", &ds), CF_ERR_PARSE, p, "3073-byte records");
    free(b);
    p = write_file("empty.bin", "", 0, 0);
    CHECK_FAILS(cf_data_cifar_load(&p, 1, CF_CIFAR_FORMAT_10, "x", &ds), CF_ERR_PARSE, p, "file is empty");
    CHECK(ds == NULL, "output not NULL after a failure");
}

/* ---- names, defaults and missing files ----------------------------------- */

static void check_names_and_missing(void) {
    cf_dataset *ds = NULL;
    char dir[512], want[1200];

    CHECK(cf_dataset_count() == 4, "%zu datasets", cf_dataset_count());
    const char *names[] = {"fashion-mnist", "mnist", "cifar10", "cifar100"};
    for (size_t i = 0; i < 4; i++)
        CHECK(cf_dataset_name_at(i) && strcmp(cf_dataset_name_at(i), names[i]) == 0, "name %zu", i);
    CHECK(cf_dataset_name_at(4) == NULL, "past the end is not NULL");

    CHECK_FAILS(cf_dataset_load("fashion_mnist", NULL, "train", &ds), CF_ERR_UNKNOWN_NAME,
                "unknown dataset 'fashion_mnist'", "did you mean 'fashion-mnist'");
    CHECK_FAILS(cf_dataset_load("cifar-10", NULL, "train", &ds), CF_ERR_UNKNOWN_NAME, "cifar-10",
                "did you mean 'cifar10'");
    CHECK_FAILS(cf_dataset_load("imagenet", NULL, "train", &ds), CF_ERR_UNKNOWN_NAME, "unknown dataset 'imagenet'",
                "known: fashion-mnist, mnist, cifar10, cifar100");
    CHECK_FAILS(cf_dataset_load(NULL, NULL, "train", &ds), CF_ERR_UNKNOWN_NAME, "unknown dataset", "(missing)");
    CHECK_FAILS(cf_dataset_load("mnist", tmp_root, "tset", &ds), CF_ERR_UNKNOWN_NAME, "unknown split 'tset'",
                "did you mean 'test'");
    CHECK_FAILS(cf_dataset_load("mnist", tmp_root, "validation", &ds), CF_ERR_UNKNOWN_NAME,
                "unknown split 'validation'", "expected train or test");

    /* IDX datasets from a folder: train gzip'd, test plain */
    unsigned char im[IMAGES_BYTES], lb[LABELS_BYTES];
    make_idx_images(im);
    make_idx_labels(lb);
    make_dir("mn");
    write_file("mn/train-images-idx3-ubyte.gz", im, sizeof im, 1);
    write_file("mn/train-labels-idx1-ubyte.gz", lb, sizeof lb, 1);
    write_file("mn/t10k-images-idx3-ubyte", im, sizeof im, 0);
    write_file("mn/t10k-labels-idx1-ubyte", lb, sizeof lb, 0);
    path_in(dir, sizeof dir, "mn");
    const char *idx_names[] = {"mnist", "fashion-mnist"};
    const char *splits[] = {"train", "test"};
    for (int k = 0; k < 2; k++) {
        for (int s = 0; s < 2; s++) {
            char full[64];
            snprintf(full, sizeof full, "%s/%s", idx_names[k], splits[s]);
            CHECK_OK(cf_dataset_load(idx_names[k], dir, splits[s], &ds));
            if (ds) check_idx_contents(ds, full);
            cf_dataset_destroy(ds);
            ds = NULL;
        }
    }

    /* missing files: the full path and how to get the files */
    make_dir("empty");
    path_in(dir, sizeof dir, "empty");
    snprintf(want, sizeof want, "cannot find %s/train-images-idx3-ubyte.gz", dir);
    CHECK_FAILS(cf_dataset_load("mnist", dir, "train", &ds), CF_ERR_IO, want, "--data-dir");
    CHECK(strstr(cf_error_message(), "MNIST database") != NULL, "no download hint: %s", cf_error_message());
    CHECK_FAILS(cf_dataset_load("fashion-mnist", dir, "test", &ds), CF_ERR_IO, "t10k-images-idx3-ubyte.gz",
                "apt-get install dataset-fashion-mnist");
    CHECK_FAILS(cf_dataset_load("mnist", NULL, "train", &ds), CF_ERR_INVALID_ARG, "no data directory given",
                "--data-dir");
    snprintf(want, sizeof want, "cannot find %s/data_batch_1.bin (nor %s/cifar-10-batches-bin/data_batch_1.bin)",
             dir, dir);
    CHECK_FAILS(cf_dataset_load("cifar10", dir, "train", &ds), CF_ERR_IO, want, "cifar-10-binary.tar.gz");
    snprintf(want, sizeof want, "cannot find %s/test.bin (nor %s/cifar-100-binary/test.bin)", dir, dir);
    CHECK_FAILS(cf_dataset_load("cifar100", dir, "test", &ds), CF_ERR_IO, want, "cifar-100-binary.tar.gz");

    /* one file of a set missing: named by its own full path */
    make_dir("mn2");
    write_file("mn2/train-images-idx3-ubyte.gz", im, sizeof im, 1);
    path_in(dir, sizeof dir, "mn2");
    snprintf(want, sizeof want, "cannot find %s/train-labels-idx1-ubyte.gz", dir);
    CHECK_FAILS(cf_dataset_load("mnist", dir, "train", &ds), CF_ERR_IO, want, "--data-dir");
    make_dir("c10b");
    size_t len;
    unsigned char *b = make_cifar(0, 1, 0, &len);
    write_file("c10b/data_batch_1.bin", b, len, 0);
    write_file("c10b/data_batch_2.bin", b, len, 0);
    free(b);
    path_in(dir, sizeof dir, "c10b");
    snprintf(want, sizeof want, "cannot find %s/data_batch_3.bin", dir);
    CHECK_FAILS(cf_dataset_load("cifar10", dir, "train", &ds), CF_ERR_IO, want, "cifar-10-binary.tar.gz");
    CHECK(ds == NULL, "output not NULL after a failure");
}

/* ---- create, split, statistics -------------------------------------------- */

static void check_create(void) {
    cf_dataset *ds = NULL;
    cf_dataset_destroy(NULL);
    CHECK_OK(cf_dataset_create("empty", 0, 1, 2, 2, 3, &ds));
    CHECK(ds && ds->n == 0 && ds->images && ds->labels, "an empty dataset has valid pointers");
    cf_dataset_destroy(ds);
    ds = NULL;
    CHECK_FAILS(cf_dataset_create("bad", 4, 1, 0, 2, 3, &ds), CF_ERR_SHAPE, "bad", "(1, 0, 2)");
    CHECK_FAILS(cf_dataset_create("bad", 4, 1, 2, 2, 0, &ds), CF_ERR_INVALID_ARG, "bad", "0 classes");
    CHECK_FAILS(cf_dataset_create("big", (size_t)1 << 62, 3, 32, 32, 10, &ds), CF_ERR_OUT_OF_MEMORY, "big",
                "do not fit in memory");
    CHECK(ds == NULL, "output not NULL after a failure");
}

enum { SPLIT_N = 1000, SPLIT_CLASSES = 7 };

/* A dataset whose image i spells i in its two pixels, so a part's images say
 * which source images they are. */
static cf_dataset *numbered_dataset(void) {
    cf_dataset *ds = NULL;
    CF_ASSERT(cf_dataset_create("numbered", SPLIT_N, 1, 1, 2, SPLIT_CLASSES, &ds) == CF_OK);
    for (int i = 0; i < SPLIT_N; i++) {
        ds->images[2 * i] = (uint8_t)(i & 0xff);
        ds->images[2 * i + 1] = (uint8_t)(i >> 8);
        ds->labels[i] = i % SPLIT_CLASSES;
    }
    return ds;
}

static int index_of(const cf_dataset *ds, size_t j) { return ds->images[2 * j] | ds->images[2 * j + 1] << 8; }

static void check_split(void) {
    cf_dataset *src = numbered_dataset(), *tr = NULL, *va = NULL, *tr2 = NULL, *va2 = NULL;
    CHECK_OK(cf_dataset_split(src, 0.1, 42, &tr, &va));
    if (!tr || !va) return;
    CHECK(tr->n == 900 && va->n == 100, "parts of %zu and %zu, expected 900 and 100", tr->n, va->n);
    CHECK(strcmp(tr->name, "numbered:train") == 0 && strcmp(va->name, "numbered:val") == 0, "part names %s, %s",
          tr->name, va->name);
    CHECK(tr->c == 1 && tr->h == 1 && tr->w == 2 && va->classes == SPLIT_CLASSES, "parts keep shape and classes");

    /* every source image in exactly one part, each part in source order, labels along */
    int seen[SPLIT_N] = {0}, order_ok = 1, labels_ok = 1;
    const cf_dataset *parts[2] = {tr, va};
    for (int p = 0; p < 2; p++) {
        int prev = -1;
        for (size_t j = 0; j < parts[p]->n; j++) {
            int i = index_of(parts[p], j);
            CF_ASSERT(i >= 0 && i < SPLIT_N);
            seen[i]++;
            order_ok &= i > prev;
            labels_ok &= parts[p]->labels[j] == i % SPLIT_CLASSES;
            prev = i;
        }
    }
    int once = 0;
    for (int i = 0; i < SPLIT_N; i++) once += seen[i] == 1;
    CHECK(once == SPLIT_N, "%d of %d images are in exactly one part", once, SPLIT_N);
    CHECK(order_ok, "a part is not in source order");
    CHECK(labels_ok, "a label did not travel with its image");

    /* the validation set is the first 100 of the seeded permutation */
    uint32_t perm[SPLIT_N];
    cf_rng r = cf_rng_make(42, cf_rng_stream(0, CF_RNG_PURPOSE_DATA));
    cf_rng_permutation(&r, perm, SPLIT_N);
    int in_val[SPLIT_N] = {0}, match = 1;
    for (int k = 0; k < 100; k++) in_val[perm[k]] = 1;
    for (size_t j = 0; j < va->n; j++) match &= in_val[index_of(va, j)];
    CHECK(match, "the validation set is not the permutation's first 100");

    /* same seed, same split; another seed, another split */
    CHECK_OK(cf_dataset_split(src, 0.1, 42, &tr2, &va2));
    if (tr2 && va2)
        CHECK(memcmp(va->images, va2->images, 200) == 0 && memcmp(tr->images, tr2->images, 1800) == 0 &&
                  memcmp(va->labels, va2->labels, 100 * sizeof(int32_t)) == 0,
              "the same seed gave another split");
    cf_dataset_destroy(tr2);
    cf_dataset_destroy(va2);
    tr2 = va2 = NULL;
    CHECK_OK(cf_dataset_split(src, 0.1, 43, &tr2, &va2));
    if (tr2 && va2) CHECK(memcmp(va->images, va2->images, 200) != 0, "seeds 42 and 43 gave the same split");
    cf_dataset_destroy(tr2);
    cf_dataset_destroy(va2);
    tr2 = va2 = NULL;

    /* rounding: 0.25% of 1000 is 2.5 -> 3 */
    CHECK_OK(cf_dataset_split(src, 0.0025, 1, &tr2, &va2));
    if (tr2 && va2) CHECK(va2->n == 3 && tr2->n == 997, "0.25%% of 1000 gave %zu", va2->n);
    cf_dataset_destroy(tr2);
    cf_dataset_destroy(va2);
    tr2 = va2 = NULL;

    const double bad[] = {0.0, 1.0, -0.1, 1.5, NAN, 1e-4, 0.9996};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        cf_status s = cf_dataset_split(src, bad[k], 1, &tr2, &va2);
        CHECK(s == CF_ERR_INVALID_ARG && tr2 == NULL && va2 == NULL, "fraction %g: %s (%s)", bad[k],
              cf_status_name(s), cf_error_message());
        CHECK(strstr(cf_error_message(), "numbered") != NULL, "fraction %g: message '%s' lacks the dataset name",
              bad[k], cf_error_message());
    }
    cf_dataset_destroy(tr);
    cf_dataset_destroy(va);
    cf_dataset_destroy(src);
}

static void check_stats(void) {
    /* two images of (2, 1, 2):
     *   channel 0 pixels 0, 255, 51, 102: sum 408, mean 102 -> 0.4 of 255;
     *     deviations -102, 153, -51, 0, squares 10404 + 23409 + 2601 + 0 = 36414,
     *     variance 36414 / 4 = 9103.5, std sqrt(9103.5) / 255
     *   channel 1 pixels all 255: mean 1, std 0 */
    cf_dataset *ds = NULL;
    CHECK_OK(cf_dataset_create("stats", 2, 2, 1, 2, 1, &ds));
    if (!ds) return;
    const uint8_t px[8] = {0, 255, 255, 255, 51, 102, 255, 255};
    memcpy(ds->images, px, sizeof px);
    double mean[2], std[2];
    CHECK_OK(cf_dataset_channel_stats(ds, mean, std));
    /* exact sums over a histogram: only the final divisions round */
    CHECK(fabs(mean[0] - 0.4) < 1e-15, "mean[0] %.17g, expected 0.4", mean[0]);
    CHECK(fabs(std[0] - sqrt(9103.5) / 255.0) < 1e-15, "std[0] %.17g, expected %.17g", std[0],
          sqrt(9103.5) / 255.0);
    CHECK(mean[1] == 1.0 && std[1] == 0.0, "channel 1: mean %g std %g, expected 1 and 0", mean[1], std[1]);
    cf_dataset_destroy(ds);
    ds = NULL;
    CHECK_OK(cf_dataset_create("none", 0, 1, 1, 1, 1, &ds));
    if (ds) CHECK_FAILS(cf_dataset_channel_stats(ds, mean, std), CF_ERR_INVALID_ARG, "none", "no images");
    cf_dataset_destroy(ds);
}

int main(void) {
    const char *base = getenv("TMPDIR");
    snprintf(tmp_root, sizeof tmp_root, "%s/cf_test_data_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp_root)) {
        perror("mkdtemp");
        return 1;
    }
    check_create();
    check_idx_roundtrip();
    check_idx_corrupt();
    check_cifar();
    check_names_and_missing();
    check_split();
    check_stats();
    cleanup();
    return test_finish("test_data");
}
