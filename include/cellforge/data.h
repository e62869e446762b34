/* data.h - image-classification datasets held in memory, and their readers.
 *
 * A dataset is a block of uint8 images in (N, C, H, W) order plus one int32
 * label per image; it is read once from the standard files of Fashion-MNIST,
 * MNIST (IDX, gzip'd or not), CIFAR-10 and CIFAR-100 (binary records), and
 * then lives on the worker that trains on it. Every format problem fails with
 * a message that names the file, the byte offset reached and what was expected.
 *
 *   cf_dataset *all = NULL, *train = NULL, *val = NULL;
 *   CF_TRY(cf_dataset_load("fashion-mnist", NULL, "train", &all));  // Debian's copy
 *   CF_TRY(cf_dataset_split(all, 0.1, seed, &train, &val));        // 54000 + 6000
 *   double mean[1], std[1];
 *   CF_TRY(cf_dataset_channel_stats(train, mean, std));            // about 0.286, 0.353
 *   const uint8_t *img = cf_dataset_image(train, 7);               // (1, 28, 28)
 *   ...
 *   cf_dataset_destroy(val); cf_dataset_destroy(train); cf_dataset_destroy(all);
 *
 * Nothing here keeps global state: the functions may run on any thread.
 */
#ifndef CELLFORGE_DATA_H
#define CELLFORGE_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "cellforge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where the Debian package dataset-fashion-mnist installs its files. */
#define CF_DATA_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

typedef struct cf_dataset {
    char name[64];    /* e.g. "fashion-mnist/train"; truncated if longer */
    size_t n;         /* number of images */
    int c, h, w;      /* shape of one image: channels, height, width */
    int classes;      /* every label is in [0, classes) */
    uint8_t *images;  /* (n, c, h, w) contiguous; owned by the dataset */
    int32_t *labels;  /* (n); owned by the dataset */
    char **class_names; /* (classes) or NULL; owned: set with cf_dataset_set_class_names */
} cf_dataset;

/* Copy the names of ds's classes (classes strings) into it; a split keeps them.
 * cf_dataset_class_name gives name k, or NULL when the set has none. */
cf_status cf_dataset_set_class_names(cf_dataset *ds, const char *const *names);
const char *cf_dataset_class_name(const cf_dataset *ds, int k);

/* A dataset of n zeroed images of (c, h, w) and n zero labels, for the caller
 * to fill. n may be 0; c, h, w and classes must be at least 1. The caller frees
 * *out with cf_dataset_destroy. On failure *out is NULL. */
cf_status cf_dataset_create(const char *name, size_t n, int c, int h, int w, int classes,
                            cf_dataset **out);

/* Frees the dataset and both of its arrays; NULL is accepted. */
void cf_dataset_destroy(cf_dataset *ds);

/* Bytes of one image: c * h * w. */
static inline size_t cf_dataset_image_bytes(const cf_dataset *ds) {
    return (size_t)ds->c * (size_t)ds->h * (size_t)ds->w;
}

/* Image i, (c, h, w); borrowed from the dataset. */
static inline const uint8_t *cf_dataset_image(const cf_dataset *ds, size_t i) {
    return ds->images + i * cf_dataset_image_bytes(ds);
}

/* The names cf_dataset_load knows, for help texts: cf_dataset_name_at(i) for
 * i < cf_dataset_count(), NULL past the end; static strings. */
size_t cf_dataset_count(void);
const char *cf_dataset_name_at(size_t i);

/* Load split "train" or "test" of a named dataset:
 *   "fashion-mnist"  IDX files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
 *                    t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (each .gz or
 *                    not) in data_dir, or in CF_DATA_FASHION_MNIST_DIR when data_dir is NULL or ""
 *   "mnist"          the same four file names in data_dir (required)
 *   "cifar10"        data_batch_1.bin .. data_batch_5.bin / test_batch.bin in data_dir or
 *                    data_dir/cifar-10-batches-bin (required)
 *   "cifar100"       train.bin / test.bin in data_dir or data_dir/cifar-100-binary
 *                    (required); the 100 fine labels are used
 *   "npz:FILE"       a NumPy .npz file (cf_data_npz_load below); data_dir unused
 *   "folder:DIR[:HxW]"  PNG/JPEG files, a folder per class (cf_data_folder_load)
 * The dataset is named "NAME/SPLIT". An unknown name or split fails with
 * CF_ERR_UNKNOWN_NAME and the closest valid one; a missing file with CF_ERR_IO
 * naming its full path and how to get it. The caller frees *out with
 * cf_dataset_destroy; on failure *out is NULL. */
cf_status cf_dataset_load(const char *name, const char *data_dir, const char *split,
                          cf_dataset **out);

/* A NumPy .npz file as a dataset (src/data/npz.c; cf_dataset_load's
 * "npz:FILE"): arrays x (uint8, [N,H,W] or [N,H,W,C], C <= 4) and y (integer
 * labels) for split train (train = 1), x_test and y_test for test. The class
 * count is the largest label of both splits plus one. Errors name the file,
 * the array and the problem. */
cf_status cf_data_npz_load(const char *path, int train, const char *ds_name, cf_dataset **out);

/* A folder of PNG/JPEG images as a dataset (src/data/folder.c; cf_dataset_load's
 * "folder:DIR" or "folder:DIR:HxW"): one subfolder per class (sorted names
 * give the labels), under DIR/train and DIR/test or directly under DIR (no
 * test split). Undecodable files are skipped with a warning; mixed sizes
 * without :HxW, an empty class or fewer than 2 classes fail naming the
 * folder or files. */
cf_status cf_data_folder_load(const char *spec, int train, const char *ds_name, cf_dataset **out);

/* Split src into a training part and a validation part of round(n * val_fraction)
 * images, chosen by a permutation from the counter RNG stream (seed, trial 0,
 * CF_RNG_PURPOSE_DATA): the same seed always gives the same split. Each part
 * keeps src's order. Both parts must be non-empty (0 < val_fraction < 1).
 * src is borrowed and unchanged; the parts are copies named "SRC:train" and
 * "SRC:val" that the caller frees with cf_dataset_destroy. On failure both
 * outputs are NULL. */
cf_status cf_dataset_split(const cf_dataset *src, double val_fraction, uint64_t seed,
                           cf_dataset **train, cf_dataset **val);

/* Per-channel mean and standard deviation (population, over every pixel of every
 * image) of the pixels scaled to [0, 1], i.e. divided by 255: what a trainer
 * subtracts and divides by. mean and std hold ds->c values each. Fails with
 * CF_ERR_INVALID_ARG on an empty dataset. */
cf_status cf_dataset_channel_stats(const cf_dataset *ds, double *mean, double *std);

/* ---- batches for training ------------------------------------------------ */

/* Augmentation of training images, each draw deterministic per (seed, epoch,
 * position in the epoch): the same run gives the same images whatever thread
 * builds the batch. */
typedef struct cf_augment {
    int crop_pad;   /* random crop of the original size from the image zero-padded by
                       this many pixels on every side; 0: off */
    int flip;       /* horizontal flip with probability 1/2 */
    int cutout;     /* side of a square set to 0 after normalization, centred at a
                       uniform pixel and clipped at the border (DARTS's cutout); 0: off */
    double erase;   /* random erasing (Zhong et al.) with this probability: a rectangle
                       of H/8..H/2 by W/8..W/2 pixels (each side uniform) at a uniform
                       place inside the image set to 0 after normalization, as
                       torchvision's RandomErasing with value 0; 0: off */
} cf_augment;

/* The words of image `pos`'s random erasing draws: stream (epoch | 2 << 40)
 * of CF_RNG_PURPOSE_DATA, words 4 pos + 0..3 (apply, height, width, place).
 * erase_threshold: an image is erased when word 0 is below it. */
uint64_t cf_data_erase_stream(uint64_t epoch);
uint64_t cf_data_erase_threshold(double p);
/* The rectangle (top row, left column, height, width) of one erasing, from its
 * draws; the same integer arithmetic on the GPU (kernels/batch.cu). */
void cf_data_erase_rect(uint32_t w1, uint32_t w2, uint32_t w3, int H, int W, int *y0, int *x0, int *eh, int *ew);

/* The order of the n images in epoch `epoch`: a uniform permutation from the
 * counter RNG stream (seed, epoch, CF_RNG_PURPOSE_DATA). */
void cf_data_epoch_order(size_t n, uint64_t seed, uint64_t epoch, uint32_t *order);

/* Fill x (n, c, h, w) with images ds[idx[k]], scaled to [0, 1], normalized per
 * channel ((v - mean) / std) and augmented when aug is not NULL, and y (n) with
 * their labels. Draws for image k use the RNG words at (seed, epoch, pos0 + k):
 * pos0 is the position of idx[0] in the epoch's order. */
void cf_data_batch(const cf_dataset *ds, const uint32_t *idx, int n, const float *mean,
                   const float *std, const cf_augment *aug, uint64_t seed, uint64_t epoch,
                   uint64_t pos0, float *x, int32_t *y);

/* ---- the file readers behind cf_dataset_load ----------------------------- */

/* Every dataset file (IDX, CIFAR; plain or gzip'd) is at most this many bytes
 * on disk; a larger file, a FIFO, a device or a folder fails with an error
 * naming the file (a FIFO never blocks the reader). A gzip'd file's contents
 * are bounded by what its header promises, checked against deflate's largest
 * ratio before anything is allocated. */
#define CF_DATA_FILE_MAX_BYTES ((size_t)8 << 30)

/* Read an IDX image file (magic 0x00000803: unsigned bytes, N x H x W, big-endian
 * sizes) and its IDX label file (0x00000801: N unsigned bytes), each gzip'd or
 * plain, into a dataset of N images of (1, H, W) named `name`. Checks the magic
 * numbers, that every size is at least 1, that each file holds exactly the bytes
 * its header promises, that both files hold the same count and that every label
 * is below `classes` (1..256). The caller frees *out with cf_dataset_destroy. */
cf_status cf_data_idx_load(const char *images_path, const char *labels_path, int classes,
                           const char *name, cf_dataset **out);

typedef enum cf_cifar_format {
    CF_CIFAR_FORMAT_10 = 0, /* record: label byte, then 3072 pixel bytes; 10 classes */
    CF_CIFAR_FORMAT_100     /* record: coarse byte, fine byte, 3072 pixel bytes; 100 fine classes */
} cf_cifar_format;

/* Read CIFAR binary files (each gzip'd or plain), in the given order, into one
 * dataset of (3, 32, 32) images named `name`. A record's 3072 pixel bytes are
 * the red, green and blue planes of 32 rows of 32, i.e. already (C, H, W).
 * Checks that each file is a whole, non-zero number of records and that every
 * label is in range. paths is borrowed. The caller frees *out with
 * cf_dataset_destroy. */
cf_status cf_data_cifar_load(const char *const *paths, size_t count, cf_cifar_format format,
                             const char *name, cf_dataset **out);

#ifdef __cplusplus
}
#endif
#endif
