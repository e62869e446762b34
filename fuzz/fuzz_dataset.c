/* fuzz_dataset.c - dataset files (src/data): IDX images + labels, CIFAR-10
 * and CIFAR-100 records, each plain or gzip'd, and NumPy .npz files (both
 * splits).
 *
 * The first byte picks the reader; for IDX the next two bytes give the
 * length of the image file, the rest is the label file. Run:
 * tools/fuzz.sh SECONDS.
 */
#include "cellforge/data.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    cf_fuzz_quiet();
    if (n < 3) return 0;
    int kind = data[0] % 4;
    data++, n--;
    cf_dataset *ds = NULL;
    char a[64], b[64];
    cf_status st;
    if (kind == 0) {
        size_t first = ((size_t)data[0] << 8 | data[1]);
        data += 2, n -= 2;
        if (first > n) first = n;
        cf_fuzz_file(0, data, first, a, sizeof a);
        cf_fuzz_file(1, data + first, n - first, b, sizeof b);
        st = cf_data_idx_load(a, b, 10, "fuzz", &ds);
    } else if (kind == 3) {
        cf_fuzz_file(0, data, n, a, sizeof a);
        st = cf_data_npz_load(a, 1, "fuzz", &ds);
        if (st == CF_OK) cf_dataset_destroy(ds);
        ds = NULL;
        st = cf_data_npz_load(a, 0, "fuzz", &ds);
    } else {
        cf_fuzz_file(0, data, n, a, sizeof a);
        const char *paths[1] = {a};
        st = cf_data_cifar_load(paths, 1, kind == 1 ? CF_CIFAR_FORMAT_10 : CF_CIFAR_FORMAT_100, "fuzz", &ds);
    }
    if (st == CF_OK) cf_dataset_destroy(ds);
    cf_error_clear();
    return 0;
}
