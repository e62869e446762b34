/* fuzz_spec.c - spec files (cf_spec_load), with the search's spec keys.
 * Run: tools/fuzz.sh SECONDS.
 */
#include "cellforge/spec.h"
#include "fuzz_util.h"

static const char *const k_known[] = {
    "space",  "set",         "dataset",        "data-dir",         "strategy", "strategy-options", "objectives",
    "max-macs", "max-params", "max-memory",     "max-latency",      "trials",   "time",             "sample",
    "epochs", "fraction",    "batch",          "min-batch",        "lr",       "val-fraction",     "evaluator",
    "seed",   "retrain",     "retrain-epochs", "retrain-fraction", "devices",  "cpu-workers",      "threads",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    cf_fuzz_quiet();
    char path[64];
    cf_fuzz_file(0, data, n, path, sizeof path);
    cf_spec *s = NULL;
    if (cf_spec_load(path, k_known, sizeof k_known / sizeof k_known[0], 1, &s) == CF_OK) {
        for (int i = 0; i < s->n; i++) (void)cf_spec_get(s, s->items[i].name);
    }
    cf_spec_destroy(s);
    cf_error_clear();
    return 0;
}
