/* test_data_fmnist.c - the real Fashion-MNIST, as Debian's dataset-fashion-mnist
 * installs it, read through cf_dataset_load: counts, shapes, balanced classes,
 * the first labels and image sums, and the pixel statistics everyone
 * normalizes with. The expected values were computed independently from the
 * same files with Python's gzip module. Exits 77 (skipped) only when the
 * directory is absent. Prints how long the training set took to load.
 *
 *   ctest --test-dir build -R test_data_fmnist --output-on-failure
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cellforge/data.h"
#include "check.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t image_sum(const cf_dataset *ds, size_t i) {
    uint64_t s = 0;
    const uint8_t *p = cf_dataset_image(ds, i);
    for (size_t k = 0; k < cf_dataset_image_bytes(ds); k++) s += p[k];
    return s;
}

static const struct expected {
    const char *split;
    size_t n;
    uint64_t pixel_sum;          /* every pixel of every image */
    double mean, std;            /* of pixels / 255, population std */
    int first_labels[10];
    uint64_t first_sum, last_sum; /* pixel sums of the first and last image */
} expected[] = {
    {"train", 60000, 3431114169ull, 0.2860405969887955, 0.3530242445149226,
     {9, 0, 0, 3, 0, 2, 7, 2, 5, 5}, 76247, 16684},
    {"test", 10000, 573469082ull, 0.28684928071228494, 0.35244415324744,
     {9, 2, 1, 1, 6, 1, 4, 6, 5, 7}, 33456, 24390},
};

static void check_split(const struct expected *e) {
    cf_dataset *ds = NULL;
    double t0 = now();
    CHECK_OK(cf_dataset_load("fashion-mnist", NULL, e->split, &ds));
    double seconds = now() - t0;
    if (!ds) return;
    printf("fashion-mnist %s: %zu images of (%d, %d, %d) loaded in %.3f s\n", e->split, ds->n, ds->c, ds->h,
           ds->w, seconds);
    CHECK(ds->n == e->n && ds->c == 1 && ds->h == 28 && ds->w == 28 && ds->classes == 10,
          "%s: %zu images of (%d, %d, %d), %d classes; expected %zu of (1, 28, 28), 10 classes", e->split, ds->n,
          ds->c, ds->h, ds->w, ds->classes, e->n);
    if (ds->n != e->n || ds->h != 28 || ds->w != 28) {
        cf_dataset_destroy(ds);
        return;
    }
    size_t per_class[10] = {0};
    int in_range = 1;
    for (size_t i = 0; i < ds->n; i++) {
        in_range &= ds->labels[i] >= 0 && ds->labels[i] < 10;
        if (ds->labels[i] >= 0 && ds->labels[i] < 10) per_class[ds->labels[i]]++;
    }
    CHECK(in_range, "%s: a label outside 0..9", e->split);
    for (int c = 0; c < 10; c++)
        CHECK(per_class[c] == e->n / 10, "%s: class %d has %zu images, expected %zu", e->split, c, per_class[c],
              e->n / 10);
    for (int i = 0; i < 10; i++)
        CHECK(ds->labels[i] == e->first_labels[i], "%s: label %d is %d, expected %d", e->split, i, ds->labels[i],
              e->first_labels[i]);
    CHECK(image_sum(ds, 0) == e->first_sum, "%s: first image sums to %llu, expected %llu", e->split,
          (unsigned long long)image_sum(ds, 0), (unsigned long long)e->first_sum);
    CHECK(image_sum(ds, ds->n - 1) == e->last_sum, "%s: last image sums to %llu, expected %llu", e->split,
          (unsigned long long)image_sum(ds, ds->n - 1), (unsigned long long)e->last_sum);
    uint64_t total = 0;
    for (size_t k = 0; k < ds->n * cf_dataset_image_bytes(ds); k++) total += ds->images[k];
    CHECK(total == e->pixel_sum, "%s: pixels sum to %llu, expected %llu", e->split, (unsigned long long)total,
          (unsigned long long)e->pixel_sum);

    double mean, std;
    CHECK_OK(cf_dataset_channel_stats(ds, &mean, &std));
    /* Both sides are exact sums rounded once at the end; 1e-12 leaves room
     * only for the order of the final divisions. */
    CHECK(fabs(mean - e->mean) < 1e-12, "%s: mean %.16f, expected %.16f", e->split, mean, e->mean);
    CHECK(fabs(std - e->std) < 1e-12, "%s: std %.16f, expected %.16f", e->split, std, e->std);
    printf("fashion-mnist %s: pixel mean %.4f (%.2f of 255), std %.4f\n", e->split, mean, mean * 255, std);
    cf_dataset_destroy(ds);
}

int main(void) {
    struct stat st;
    if (stat(CF_DATA_FASHION_MNIST_DIR, &st) != 0 || !S_ISDIR(st.st_mode)) {
        printf("test_data_fmnist: skipped: %s is absent (apt-get install dataset-fashion-mnist)\n",
               CF_DATA_FASHION_MNIST_DIR);
        return CF_TEST_SKIP;
    }
    for (size_t k = 0; k < sizeof expected / sizeof expected[0]; k++) check_split(&expected[k]);
    return test_finish("test_data_fmnist");
}
