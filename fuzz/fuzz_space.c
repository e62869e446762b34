/* fuzz_space.c - space files (cf_space_parse).
 *
 * A space that parses is then used: an arch is sampled, formatted, parsed
 * back, mutated and costed by its neighbors count, so a space the loader
 * accepts cannot make the codec misbehave. Run: tools/fuzz.sh SECONDS.
 */
#include <string.h>

#include "cellforge/rng.h"
#include "cellforge/space.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    cf_fuzz_quiet();
    char *text = cf_fuzz_text(data, n);
    cf_space *s = NULL;
    if (cf_space_parse(text, "fuzz.json", &s) == CF_OK) {
        cf_rng rng = cf_rng_make(1, cf_rng_stream(2, CF_RNG_PURPOSE_INIT));
        cf_arch a, b;
        cf_arch_sample(s, &rng, &a);
        char out[CF_ARCH_TEXT_MAX];
        if (cf_arch_format(s, &a, out, sizeof out) != CF_OK) abort();
        if (cf_arch_parse(s, out, &b) != CF_OK || memcmp(&a, &b, sizeof a) != 0) abort();
        if (cf_arch_neighbors(s, &a, NULL, 0) > 0 && cf_arch_mutate(s, &rng, &a, &b) != CF_OK) abort();
        char desc[4096];
        cf_space_describe(s, desc, sizeof desc);
        (void)cf_space_size(s);
    }
    cf_space_destroy(s);
    free(text);
    cf_error_clear();
    return 0;
}
