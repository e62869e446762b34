/* fuzz_journal.c - search journals (cf_search_replay_load on a file).
 *
 * The replay reads every line (checksums, seq, events) into trials, against
 * the tiny201 test space (tests/data). Each line's checksum is set right
 * before the read (where the line has a place for one), so mutations reach
 * the JSON and the replay instead of all failing the checksum. Run:
 * tools/fuzz.sh SECONDS.
 */
#include <zlib.h>

#include "cellforge/journal.h"
#include "cellforge/sched.h"
#include "cellforge/space.h"
#include "fuzz_util.h"

/* Write the CRC-32 of each line's text before "crc":" into its 8 hex digits. */
static void fix_checksums(char *text, size_t n) {
    static const char tail[] = "\"crc\":\"";
    for (char *line = text; line < text + n;) {
        char *end = memchr(line, '\n', (size_t)(text + n - line));
        if (!end) end = text + n;
        size_t len = (size_t)(end - line);
        char *c = NULL;
        for (char *p = line; len >= 20 && p + sizeof tail - 1 <= end; p++)
            if (memcmp(p, tail, sizeof tail - 1) == 0) c = p;
        if (c && end - (c + sizeof tail - 1) >= 8) {
            char hex[9];
            snprintf(hex, sizeof hex, "%08lx", (unsigned long)crc32(0L, (const Bytef *)line, (uInt)(c - line)));
            memcpy(c + sizeof tail - 1, hex, 8);
        }
        line = end + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    static cf_space *s;
    cf_fuzz_quiet();
    if (!s && cf_space_load(CF_FUZZ_TINY_SPACE, &s) != CF_OK) abort();
    char *text = cf_fuzz_text(data, n);
    fix_checksums(text, n);
    char path[64];
    cf_fuzz_file(0, (const uint8_t *)text, n, path, sizeof path);
    free(text);
    cf_search_replay r;
    cf_journal_scan scan;
    if (cf_search_replay_load(path, s, &r, &scan) == CF_OK) cf_search_replay_free(&r);
    cf_error_clear();
    return 0;
}
