/* fuzz_spec.c - spec files (cf_spec_load), with the search's spec keys.
 * Run: tools/fuzz.sh SECONDS.
 */
#include "cellforge/spec.h"
#include "fuzz_util.h"

/* A sample of the search's keys with the kinds and ranges the knob table gives them. */
#define TEXT {CF_VALUE_TEXT, 0, 0}
static const cf_spec_key k_known[] = {
    {"space", TEXT},
    {"set", TEXT},
    {"dataset", TEXT},
    {"strategy", TEXT},
    {"objectives", TEXT},
    {"max-macs", {CF_VALUE_COUNT, 1, 1e15}},
    {"max-latency", {CF_VALUE_NUMBER, 0.001, 1e6}},
    {"trials", {CF_VALUE_COUNT, 1, 1e9}},
    {"time", {CF_VALUE_DURATION, 1, 8760 * 3600}},
    {"epochs", {CF_VALUE_COUNT, 1, 1024}},
    {"fraction", {CF_VALUE_NUMBER, 0.001, 1}},
    {"batch", {CF_VALUE_COUNT, 1, 65536}},
    {"lr", {CF_VALUE_NUMBER, 0, 100}},
    {"seed", {CF_VALUE_COUNT, 0, CF_VALUE_COUNT_MAX}},
    {"evaluator", TEXT},
    {"devices", TEXT},
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
