/* fuzz_table.c - tabulated benchmarks, the `table:` evaluator's files
 * (src/sched/eval_table.c), against the tiny201 test space. Run:
 * tools/fuzz.sh SECONDS.
 */
#include "cellforge/evaluator.h"
#include "cellforge/space.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    static cf_space *s;
    cf_fuzz_quiet();
    if (!s && cf_space_load(CF_FUZZ_TINY_SPACE, &s) != CF_OK) abort();
    char path[64];
    cf_fuzz_file(0, data, n, path, sizeof path);
    cf_evaluator *ev = NULL;
    if (cf_evaluator_table_create(path, s, &ev) == CF_OK) cf_evaluator_destroy(ev);
    cf_error_clear();
    return 0;
}
