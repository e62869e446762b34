/* fuzz_arch.c - architecture texts of every shipped space (cf_arch_parse).
 *
 * The first byte picks the space (nb201, darts, nb101, mobile), the rest is
 * the text. A text that parses must format, and its canonical text must
 * parse back to the same arch. Run: tools/fuzz.sh SECONDS.
 */
#include <string.h>

#include "cellforge/space.h"
#include "fuzz_util.h"

static const char *const k_spaces[] = {"nb201", "darts", "nb101", "mobile"};
enum { N_SPACES = sizeof k_spaces / sizeof k_spaces[0] };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    static cf_space *spaces[N_SPACES];
    cf_fuzz_quiet();
    if (n < 1) return 0;
    int k = data[0] % N_SPACES;
    if (!spaces[k] && cf_space_load(k_spaces[k], &spaces[k]) != CF_OK) abort();
    const cf_space *s = spaces[k];
    char *text = cf_fuzz_text(data + 1, n - 1);
    cf_arch a, b;
    if (cf_arch_parse(s, text, &a) == CF_OK) {
        char out[CF_ARCH_TEXT_MAX];
        if (cf_arch_format(s, &a, out, sizeof out) != CF_OK) abort();
        if (cf_arch_parse(s, out, &b) != CF_OK || memcmp(&a, &b, sizeof a) != 0) abort();
        (void)cf_arch_hash(s, &a);
        cf_arch c;
        cf_arch_canonical(s, &a, &c);
        if (cf_arch_validate(s, &c) != CF_OK) abort();
    }
    free(text);
    cf_error_clear();
    return 0;
}
