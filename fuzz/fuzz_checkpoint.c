/* fuzz_checkpoint.c - model files and training states (src/train/checkpoint.c).
 *
 * cf_checkpoint_load_full reads the header (space, arch, options), builds the
 * model on the CPU reference backend and fills its tensors. The file's
 * CRC-32 (its last 4 bytes) is set right before the read, so mutations reach
 * the header and the tensors instead of all failing the checksum. Run:
 * tools/fuzz.sh SECONDS.
 */
#include <zlib.h>

#include "cellforge/backend.h"
#include "cellforge/checkpoint.h"
#include "cellforge/model.h"
#include "cellforge/space.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    cf_fuzz_quiet();
    uint8_t *copy = (uint8_t *)cf_fuzz_text(data, n);
    if (n >= 20) {
        uLong crc = crc32(crc32(0L, Z_NULL, 0), copy, (uInt)(n - 4));
        for (int i = 0; i < 4; i++) copy[n - 4 + i] = (uint8_t)(crc >> (8 * i));
    }
    char path[64];
    cf_fuzz_file(0, copy, n, path, sizeof path);
    free(copy);
    cf_model *m = NULL;
    cf_space *s = NULL;
    cf_checkpoint_info info;
    if (cf_checkpoint_load_full(path, cf_backend_cpu_ref(), 1, &m, &info, &s) == CF_OK) {
        cf_model_destroy(m);
        cf_space_destroy(s);
    }
    cf_error_clear();
    return 0;
}
