/* test_arena.c - size tables, arenas and the liveness planner. */
#include <stdint.h>
#include <stdlib.h>

#include "cellforge/arena.h"
#include "cellforge/rng.h"
#include "check.h"

static void check_size_table(void) {
    cf_size_table st;
    cf_size_table_init(&st, 64);
    size_t i0, i1, i2;
    CHECK_OK(cf_size_table_add(&st, "conv.w", 432, &i0));
    CHECK_OK(cf_size_table_add(&st, "conv.b", 4, &i1));
    CHECK_OK(cf_size_table_add(&st, "bn.gamma", 64, &i2));
    CHECK(cf_size_table_offset(&st, i0) == 0, "first block at %zu", cf_size_table_offset(&st, i0));
    CHECK(cf_size_table_offset(&st, i1) == 448, "second block at %zu, expected 448", cf_size_table_offset(&st, i1));
    CHECK(cf_size_table_offset(&st, i2) == 512, "third block at %zu, expected 512", cf_size_table_offset(&st, i2));
    CHECK(cf_size_table_total(&st) == 576, "total %zu, expected 576", cf_size_table_total(&st));

    cf_arena a;
    CHECK_OK(cf_arena_create(&a, cf_size_table_total(&st), 64));
    float *w = cf_arena_at(&a, cf_size_table_offset(&st, i0));
    CHECK(w != NULL && ((uintptr_t)w % 64) == 0, "carved pointer not 64-byte aligned");
    CHECK(w[0] == 0.0f && w[107] == 0.0f, "arena memory is not zeroed");
    CHECK(cf_arena_at(&a, a.size + 1) == NULL, "pointer past the end was handed out");
    cf_arena_destroy(&a);
    cf_size_table_destroy(&st);
    cf_arena_destroy(NULL); /* destroy accepts NULL */
    cf_size_table_destroy(NULL);
}

static void check_bump(void) {
    cf_arena a;
    CHECK_OK(cf_arena_create(&a, 256, 32));
    void *p = NULL, *q = NULL;
    CHECK_OK(cf_arena_alloc(&a, 100, &p));
    CHECK_OK(cf_arena_alloc(&a, 100, &q));
    CHECK((char *)q - (char *)p == 128, "second allocation at +%td, expected +128", (char *)q - (char *)p);
    void *r = NULL;
    CHECK(cf_arena_alloc(&a, 100, &r) == CF_ERR_OUT_OF_MEMORY, "over-allocation did not fail");
    cf_arena_reset(&a);
    CHECK_OK(cf_arena_alloc(&a, 256, &r));
    CHECK(r == p, "reset did not rewind");
    cf_arena_destroy(&a);
    CHECK(cf_arena_create(&a, 16, 3) == CF_ERR_INVALID_ARG, "alignment 3 accepted");
}

/* Random interval sets: no two buffers alive at once may overlap in memory,
 * and the plan is never larger than giving every buffer its own space. */
static void check_liveness(void) {
    cf_rng r = cf_rng_make(77, 0);
    for (int trial = 0; trial < 200; trial++) {
        size_t n = 1 + cf_rng_below(&r, 40);
        cf_buffer_life b[40];
        size_t off[40], total = 0, naive = 0;
        for (size_t i = 0; i < n; i++) {
            int first = (int)cf_rng_below(&r, 30);
            b[i].first = first;
            b[i].last = first + (int)cf_rng_below(&r, 8);
            b[i].bytes = 1 + cf_rng_below(&r, 5000);
            naive += (b[i].bytes + 63) & ~(size_t)63;
        }
        CHECK_OK(cf_plan_liveness(b, n, 64, off, &total));
        CHECK(total <= naive, "plan of %zu bytes is larger than no reuse (%zu)", total, naive);
        for (size_t i = 0; i < n; i++) {
            CHECK(off[i] % 64 == 0, "offset %zu not aligned", off[i]);
            CHECK(off[i] + b[i].bytes <= total, "buffer %zu ends past the total", i);
            for (size_t j = i + 1; j < n; j++) {
                int alive_together = b[i].first <= b[j].last && b[j].first <= b[i].last;
                int overlap = off[i] < off[j] + b[j].bytes && off[j] < off[i] + b[i].bytes;
                CHECK(!(alive_together && overlap), "trial %d: buffers %zu and %zu overlap while both alive", trial, i, j);
            }
        }
    }
    /* a chain where each buffer dies as the next is born reuses space:
     * 4 buffers of 1000 bytes, two alive at a time -> 2 slots of 1024 */
    cf_buffer_life chain[4] = {{1000, 0, 1}, {1000, 1, 2}, {1000, 2, 3}, {1000, 3, 4}};
    size_t off[4], total = 0;
    CHECK_OK(cf_plan_liveness(chain, 4, 64, off, &total));
    CHECK(total == 2048, "chain plan needs %zu bytes, expected 2048", total);
    cf_buffer_life bad = {10, 5, 2};
    CHECK(cf_plan_liveness(&bad, 1, 64, off, &total) == CF_ERR_INVALID_ARG, "first > last accepted");
}

int main(void) {
    check_size_table();
    check_bump();
    check_liveness();
    return test_finish("test_arena");
}
