/* dataset.c - the in-memory dataset: create/destroy, the table of named
 * datasets behind cf_dataset_load, the seeded train/validation split and the
 * per-channel statistics used for normalization.
 * Tests: tests/test_data.c, tests/test_data_fmnist.c (the real Fashion-MNIST) */
#include "cellforge/data.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cellforge/rng.h"
#include "cellforge/text.h"
#include "reader.h"

cf_status cf_dataset_create(const char *name, size_t n, int c, int h, int w, int classes,
                            cf_dataset **out) {
    if (!out) CF_FAIL(CF_ERR_INVALID_ARG, "cf_dataset_create: out is NULL");
    *out = NULL;
    if (!name) name = "";
    if (c < 1 || h < 1 || w < 1)
        CF_FAIL(CF_ERR_SHAPE, "dataset '%s': image shape (%d, %d, %d), expected every size at least 1", name,
                c, h, w);
    if (classes < 1) CF_FAIL(CF_ERR_INVALID_ARG, "dataset '%s': %d classes, expected at least 1", name, classes);
    size_t per = (size_t)c;
    if (per > SIZE_MAX / (size_t)h || per * (size_t)h > SIZE_MAX / (size_t)w)
        CF_FAIL(CF_ERR_SHAPE, "dataset '%s': images of (%d, %d, %d) are too large", name, c, h, w);
    per = per * (size_t)h * (size_t)w;
    if (n > SIZE_MAX / per || n > SIZE_MAX / sizeof(int32_t))
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "dataset '%s': %zu images of %zu bytes do not fit in memory", name, n, per);

    cf_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "dataset '%s': cannot allocate the descriptor", name);
    snprintf(ds->name, sizeof ds->name, "%s", name);
    ds->n = n;
    ds->c = c;
    ds->h = h;
    ds->w = w;
    ds->classes = classes;
    /* One byte at least, so an empty dataset still has valid pointers. */
    ds->images = calloc(n ? n * per : 1, 1);
    ds->labels = calloc(n ? n : 1, sizeof(int32_t));
    if (!ds->images || !ds->labels) {
        cf_dataset_destroy(ds);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "dataset '%s': cannot allocate %zu images of %zu bytes", name, n, per);
    }
    *out = ds;
    return CF_OK;
}

static void free_class_names(cf_dataset *ds) {
    for (int k = 0; ds->class_names && k < ds->classes; k++) free(ds->class_names[k]);
    free(ds->class_names);
    ds->class_names = NULL;
}

cf_status cf_dataset_set_class_names(cf_dataset *ds, const char *const *names) {
    free_class_names(ds);
    if (!names) return CF_OK;
    ds->class_names = calloc((size_t)ds->classes, sizeof *ds->class_names);
    for (int k = 0; ds->class_names && k < ds->classes; k++)
        if (!(ds->class_names[k] = strdup(names[k] ? names[k] : ""))) {
            free_class_names(ds);
            break;
        }
    if (!ds->class_names) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "dataset '%s': no memory for the class names", ds->name);
    return CF_OK;
}

const char *cf_dataset_class_name(const cf_dataset *ds, int k) {
    return ds && ds->class_names && k >= 0 && k < ds->classes ? ds->class_names[k] : NULL;
}

void cf_dataset_destroy(cf_dataset *ds) {
    if (!ds) return;
    free_class_names(ds);
    free(ds->images);
    free(ds->labels);
    free(ds);
}

/* ---- named datasets ------------------------------------------------------ */

typedef struct dataset_entry dataset_entry;
typedef cf_status (*dataset_load_fn)(const dataset_entry *e, const char *dir, int train,
                                     const char *ds_name, cf_dataset **out);

struct dataset_entry {
    const char *name;
    const char *default_dir; /* NULL: a data directory must be given */
    const char *howto;       /* how to get the files: ends every missing-file message */
    dataset_load_fn load;
};

#define MNIST_FILES "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz " \
                    "and t10k-labels-idx1-ubyte.gz"

/* *found: path names a file. Absent (no such file) is not an error; anything
 * else there that is not a readable file (a directory, a symbolic link loop,
 * a path through a file) fails saying what it is, so the message never
 * suggests installing what is present. */
static cf_status probe_file(const dataset_entry *e, const char *path, int *found) {
    struct stat st;
    *found = 0;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT) return CF_OK;
        CF_FAIL(CF_ERR_IO, "%s: %s cannot be opened: %s", e->name, path, strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) CF_FAIL(CF_ERR_IO, "%s: %s is a directory, not a data file", e->name, path);
    *found = 1;
    return CF_OK;
}

static int file_exists(const dataset_entry *e, const char *path, cf_status *st) {
    int found = 0;
    if (*st == CF_OK) *st = probe_file(e, path, &found);
    return found;
}

static cf_status join_path(char *buf, size_t size, const char *dir, const char *sub, const char *file) {
    int len = sub ? snprintf(buf, size, "%s/%s/%s", dir, sub, file) : snprintf(buf, size, "%s/%s", dir, file);
    if (len < 0 || (size_t)len >= size)
        CF_FAIL(CF_ERR_INVALID_ARG, "data directory '%s' is too long for a path", dir);
    return CF_OK;
}

/* The IDX file `base` in dir, gzip'd (base.gz) or not (base). */
static cf_status find_idx_file(const dataset_entry *e, const char *dir, const char *base, char *path,
                               size_t size) {
    char gz[sizeof ".gz" + 64];
    snprintf(gz, sizeof gz, "%s.gz", base);
    cf_status st = CF_OK;
    CF_TRY(join_path(path, size, dir, NULL, base));
    if (file_exists(e, path, &st) || st != CF_OK) return st;
    CF_TRY(join_path(path, size, dir, NULL, gz));
    if (file_exists(e, path, &st) || st != CF_OK) return st;
    CF_FAIL(CF_ERR_IO, "%s: cannot find %s (nor %s/%s without .gz): %s", e->name, path, dir, base, e->howto);
}

static cf_status load_idx_pair(const dataset_entry *e, const char *dir, int train, const char *ds_name,
                               cf_dataset **out) {
    const char *prefix = train ? "train" : "t10k";
    char images_base[64], labels_base[64], images[4096], labels[4096];
    snprintf(images_base, sizeof images_base, "%s-images-idx3-ubyte", prefix);
    snprintf(labels_base, sizeof labels_base, "%s-labels-idx1-ubyte", prefix);
    CF_TRY(find_idx_file(e, dir, images_base, images, sizeof images));
    CF_TRY(find_idx_file(e, dir, labels_base, labels, sizeof labels));
    CF_TRY(cf_data_idx_load(images, labels, 10, ds_name, out));
    return CF_OK;
}

/* CIFAR files sit in dir itself or in the folder their archive unpacks to. */
static cf_status load_cifar_files(const dataset_entry *e, const char *dir, const char *subdir,
                                  const char *const *files, size_t count, cf_cifar_format format,
                                  const char *ds_name, cf_dataset **out) {
    char first[4096], nested[4096];
    CF_TRY(join_path(first, sizeof first, dir, NULL, files[0]));
    CF_TRY(join_path(nested, sizeof nested, dir, subdir, files[0]));
    const char *sub = NULL;
    cf_status st = CF_OK;
    if (!file_exists(e, first, &st)) {
        if (st != CF_OK) return st;
        if (!file_exists(e, nested, &st)) {
            if (st != CF_OK) return st;
            CF_FAIL(CF_ERR_IO, "%s: cannot find %s (nor %s): %s", e->name, first, nested, e->howto);
        }
        sub = subdir;
    }
    char paths[6][4096];
    const char *ptrs[6];
    CF_ASSERT(count <= 6);
    for (size_t i = 0; i < count; i++) {
        CF_TRY(join_path(paths[i], sizeof paths[i], dir, sub, files[i]));
        if (!file_exists(e, paths[i], &st)) {
            if (st != CF_OK) return st;
            CF_FAIL(CF_ERR_IO, "%s: cannot find %s: %s", e->name, paths[i], e->howto);
        }
        ptrs[i] = paths[i];
    }
    CF_TRY(cf_data_cifar_load(ptrs, count, format, ds_name, out));
    return CF_OK;
}

static cf_status load_cifar10(const dataset_entry *e, const char *dir, int train, const char *ds_name,
                              cf_dataset **out) {
    static const char *const train_files[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                              "data_batch_4.bin", "data_batch_5.bin"};
    static const char *const test_files[] = {"test_batch.bin"};
    if (train) return load_cifar_files(e, dir, "cifar-10-batches-bin", train_files, 5, CF_CIFAR_FORMAT_10, ds_name, out);
    return load_cifar_files(e, dir, "cifar-10-batches-bin", test_files, 1, CF_CIFAR_FORMAT_10, ds_name, out);
}

static cf_status load_cifar100(const dataset_entry *e, const char *dir, int train, const char *ds_name,
                               cf_dataset **out) {
    static const char *const train_files[] = {"train.bin"};
    static const char *const test_files[] = {"test.bin"};
    return load_cifar_files(e, dir, "cifar-100-binary", train ? train_files : test_files, 1,
                            CF_CIFAR_FORMAT_100, ds_name, out);
}

static const dataset_entry datasets[] = {
    {"fashion-mnist", CF_DATA_FASHION_MNIST_DIR,
     "install them with apt-get install dataset-fashion-mnist (into " CF_DATA_FASHION_MNIST_DIR ", "
     "read when no --data-dir is given), or pass --data-dir DIR with " MNIST_FILES
     " from the Fashion-MNIST repository",
     load_idx_pair},
    {"mnist", NULL,
     "download " MNIST_FILES " from the MNIST database (http://yann.lecun.com/exdb/mnist/ or a mirror "
     "of it) into one folder and pass --data-dir FOLDER",
     load_idx_pair},
    {"cifar10", NULL,
     "download the binary version (https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz), unpack it "
     "(tar xzf cifar-10-binary.tar.gz) and pass --data-dir with the folder it makes, cifar-10-batches-bin, "
     "or the folder that holds it",
     load_cifar10},
    {"cifar100", NULL,
     "download the binary version (https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz), unpack it "
     "(tar xzf cifar-100-binary.tar.gz) and pass --data-dir with the folder it makes, cifar-100-binary, "
     "or the folder that holds it",
     load_cifar100},
};
#define DATASET_COUNT (sizeof datasets / sizeof datasets[0])

size_t cf_dataset_count(void) { return DATASET_COUNT; }

const char *cf_dataset_name_at(size_t i) { return i < DATASET_COUNT ? datasets[i].name : NULL; }

cf_status cf_dataset_load(const char *name, const char *data_dir, const char *split, cf_dataset **out) {
    if (!out) CF_FAIL(CF_ERR_INVALID_ARG, "cf_dataset_load: out is NULL");
    *out = NULL;
    if (name && strncmp(name, "npz:", 4) == 0) {
        /* a user's own arrays: the file is the whole dataset */
        if (!split || (strcmp(split, "train") != 0 && strcmp(split, "test") != 0))
            CF_FAIL(CF_ERR_UNKNOWN_NAME, "%s: unknown split '%s', expected train or test", name,
                    split ? split : "(missing)");
        if (!name[4]) CF_FAIL(CF_ERR_INVALID_ARG, "npz: names no file (npz:FILE, e.g. npz:data.npz)");
        char ds_name[sizeof ((cf_dataset *)0)->name];
        const char *base = strrchr(name + 4, '/');
        snprintf(ds_name, sizeof ds_name, "%.50s/%s", base ? base + 1 : name + 4, split);
        return cf_data_npz_load(name + 4, strcmp(split, "train") == 0, ds_name, out);
    }
    if (name && strncmp(name, "folder:", 7) == 0) {
        if (!split || (strcmp(split, "train") != 0 && strcmp(split, "test") != 0))
            CF_FAIL(CF_ERR_UNKNOWN_NAME, "%s: unknown split '%s', expected train or test", name,
                    split ? split : "(missing)");
        char ds_name[sizeof ((cf_dataset *)0)->name];
        snprintf(ds_name, sizeof ds_name, "%.50s/%s", name + 7, split);
        return cf_data_folder_load(name + 7, strcmp(split, "train") == 0, ds_name, out);
    }
    const char *names[DATASET_COUNT];
    const dataset_entry *e = NULL;
    for (size_t i = 0; i < DATASET_COUNT; i++) {
        names[i] = datasets[i].name;
        if (name && strcmp(name, datasets[i].name) == 0) e = &datasets[i];
    }
    if (!e) {
        const char *near = name ? cf_text_closest(name, names, DATASET_COUNT) : NULL;
        if (near) CF_FAIL(CF_ERR_UNKNOWN_NAME, "unknown dataset '%s'; did you mean '%s'?", name, near);
        char known[256] = "";
        for (size_t i = 0, len = 0; i < DATASET_COUNT && len < sizeof known; i++)
            len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "", names[i]);
        CF_FAIL(CF_ERR_UNKNOWN_NAME, "unknown dataset '%s'; known: %s", name ? name : "(missing)", known);
    }
    static const char *const splits[] = {"train", "test"};
    int train;
    if (split && strcmp(split, "train") == 0) {
        train = 1;
    } else if (split && strcmp(split, "test") == 0) {
        train = 0;
    } else {
        const char *near = split ? cf_text_closest(split, splits, 2) : NULL;
        if (near)
            CF_FAIL(CF_ERR_UNKNOWN_NAME, "%s: unknown split '%s'; did you mean '%s'?", e->name, split, near);
        CF_FAIL(CF_ERR_UNKNOWN_NAME, "%s: unknown split '%s', expected train or test", e->name,
                split ? split : "(missing)");
    }
    const char *dir = data_dir && *data_dir ? data_dir : e->default_dir;
    if (!dir)
        CF_FAIL(CF_ERR_INVALID_ARG, "%s: no data directory given and %s has no default one: %s", e->name,
                e->name, e->howto);
    char ds_name[sizeof ((cf_dataset *)0)->name];
    snprintf(ds_name, sizeof ds_name, "%s/%s", e->name, split);
    CF_TRY(e->load(e, dir, train, ds_name, out));
    return CF_OK;
}

/* ---- split and statistics -------------------------------------------------- */

cf_status cf_dataset_split(const cf_dataset *src, double val_fraction, uint64_t seed, cf_dataset **train,
                           cf_dataset **val) {
    if (!train || !val) CF_FAIL(CF_ERR_INVALID_ARG, "cf_dataset_split: an output is NULL");
    *train = *val = NULL;
    if (!src) CF_FAIL(CF_ERR_INVALID_ARG, "cf_dataset_split: the dataset is NULL");
    if (!(val_fraction > 0.0 && val_fraction < 1.0))
        CF_FAIL(CF_ERR_INVALID_ARG, "%s: validation fraction %g, expected a value strictly between 0 and 1",
                src->name, val_fraction);
    if (src->n > UINT32_MAX)
        CF_FAIL(CF_ERR_UNSUPPORTED, "%s: %zu images; splits handle at most 2^32 - 1", src->name, src->n);
    const size_t n = src->n, n_val = (size_t)floor(val_fraction * (double)n + 0.5);
    if (n_val == 0 || n_val == n)
        CF_FAIL(CF_ERR_INVALID_ARG, "%s: a validation fraction of %g of %zu images leaves the %s part empty",
                src->name, val_fraction, n, n_val == 0 ? "validation" : "training");

    cf_status s = CF_OK;
    cf_dataset *tr = NULL, *va = NULL;
    uint32_t *perm = malloc(n * sizeof *perm);
    unsigned char *in_val = calloc(n, 1);
    if (!perm || !in_val)
        CF_DATA_FAIL_GOTO(s, done, CF_ERR_OUT_OF_MEMORY, "%s: cannot allocate a permutation of %zu", src->name, n);
    /* The first n_val entries of a seeded permutation pick the validation set;
     * copying in index order then keeps each part in src's order. */
    cf_rng r = cf_rng_make(seed, cf_rng_stream(0, CF_RNG_PURPOSE_DATA));
    cf_rng_permutation(&r, perm, n);
    for (size_t k = 0; k < n_val; k++) in_val[perm[k]] = 1;

    char part[sizeof src->name + 8];
    snprintf(part, sizeof part, "%s:train", src->name);
    CF_TRY_GOTO(s, cf_dataset_create(part, n - n_val, src->c, src->h, src->w, src->classes, &tr), done);
    snprintf(part, sizeof part, "%s:val", src->name);
    CF_TRY_GOTO(s, cf_dataset_create(part, n_val, src->c, src->h, src->w, src->classes, &va), done);
    CF_TRY_GOTO(s, cf_dataset_set_class_names(tr, (const char *const *)src->class_names), done);
    CF_TRY_GOTO(s, cf_dataset_set_class_names(va, (const char *const *)src->class_names), done);
    const size_t per = cf_dataset_image_bytes(src);
    size_t it = 0, iv = 0;
    for (size_t i = 0; i < n; i++) {
        cf_dataset *dst = in_val[i] ? va : tr;
        size_t *j = in_val[i] ? &iv : &it;
        memcpy(dst->images + *j * per, src->images + i * per, per);
        dst->labels[*j] = src->labels[i];
        (*j)++;
    }
done:
    free(perm);
    free(in_val);
    if (s != CF_OK) {
        cf_dataset_destroy(tr);
        cf_dataset_destroy(va);
        return s;
    }
    *train = tr;
    *val = va;
    return CF_OK;
}

cf_status cf_dataset_channel_stats(const cf_dataset *ds, double *mean, double *std) {
    if (!ds || !mean || !std) CF_FAIL(CF_ERR_INVALID_ARG, "cf_dataset_channel_stats: a NULL argument");
    if (ds->n == 0) CF_FAIL(CF_ERR_INVALID_ARG, "%s: no images to take statistics of", ds->name);
    const size_t plane = (size_t)ds->h * (size_t)ds->w, per = cf_dataset_image_bytes(ds);
    /* A histogram per channel makes both moments exact sums over 256 values,
     * with no rounding that grows with the number of pixels. */
    uint64_t hist[256];
    for (int c = 0; c < ds->c; c++) {
        memset(hist, 0, sizeof hist);
        for (size_t i = 0; i < ds->n; i++) {
            const uint8_t *p = ds->images + i * per + (size_t)c * plane;
            for (size_t k = 0; k < plane; k++) hist[p[k]]++;
        }
        const double count = (double)ds->n * (double)plane;
        double sum = 0, sq = 0;
        for (int v = 0; v < 256; v++) sum += (double)v * (double)hist[v];
        const double m = sum / count;
        for (int v = 0; v < 256; v++) sq += (double)hist[v] * ((double)v - m) * ((double)v - m);
        mean[c] = m / 255.0;
        std[c] = sqrt(sq / count) / 255.0;
    }
    return CF_OK;
}
