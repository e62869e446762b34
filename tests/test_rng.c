/* test_rng.c - Philox4x32-10 against the published Random123 known answers,
 * then the stream layer and the distributions built on it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/rng.h"
#include "check.h"

/* Random123 kat_vectors, "philox4x32 10": counter, key, expected output. */
static const struct {
    uint32_t ctr[4], key[2], out[4];
} kat[] = {
    {{0x00000000, 0x00000000, 0x00000000, 0x00000000}, {0x00000000, 0x00000000},
     {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

static void check_known_answers(void) {
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        uint32_t out[4];
        cf_philox4x32_10(kat[i].ctr, kat[i].key, out);
        for (int k = 0; k < 4; k++)
            CHECK(out[k] == kat[i].out[k], "vector %zu word %d: got %08x, expected %08x", i, k, out[k], kat[i].out[k]);
    }
}

/* The stream is Philox over counters (block, stream) with the seed as key. */
static void check_stream_layout(void) {
    const uint64_t seed = 0x299f31d0a4093822ULL, stream = 0x0370734413198a2eULL;
    cf_rng r = cf_rng_make(seed, stream);
    uint32_t ctr[4] = {0, 0, 0x13198a2e, 0x03707344}, key[2] = {0xa4093822, 0x299f31d0}, block[4];
    for (uint32_t b = 0; b < 3; b++) {
        ctr[0] = b;
        cf_philox4x32_10(ctr, key, block);
        for (int k = 0; k < 4; k++) {
            uint32_t got = cf_rng_u32(&r);
            CHECK(got == block[k], "block %u word %d: %08x != %08x", b, k, got, block[k]);
        }
    }
    /* a far block: positions count words, so blocks up to 2^62 are reachable */
    const uint64_t far = 0x0123456789abcdefULL;
    cf_rng_seek(&r, far * 4 + 2);
    ctr[0] = (uint32_t)far;
    ctr[1] = (uint32_t)(far >> 32);
    cf_philox4x32_10(ctr, key, block);
    CHECK(cf_rng_u32(&r) == block[2], "seek to a far block does not land on its word 2");
}

static void check_tell_seek_and_word_at(void) {
    cf_rng a = cf_rng_make(42, cf_rng_stream(7, CF_RNG_PURPOSE_DATA));
    uint32_t first[23];
    for (int i = 0; i < 23; i++) first[i] = cf_rng_u32(&a);
    for (uint64_t pos = 0; pos < 23; pos++) {
        cf_rng b = cf_rng_make(42, cf_rng_stream(7, CF_RNG_PURPOSE_DATA));
        cf_rng_seek(&b, pos);
        CHECK(cf_rng_tell(&b) == pos, "tell after seek(%llu) = %llu", (unsigned long long)pos,
              (unsigned long long)cf_rng_tell(&b));
        CHECK(cf_rng_u32(&b) == first[pos], "seek(%llu) then draw differs from the stream", (unsigned long long)pos);
        CHECK(cf_rng_word_at(42, cf_rng_stream(7, CF_RNG_PURPOSE_DATA), pos) == first[pos],
              "word_at(%llu) differs from the stream", (unsigned long long)pos);
    }
    cf_rng c = cf_rng_make(42, cf_rng_stream(7, CF_RNG_PURPOSE_DATA));
    for (int i = 0; i < 10; i++) cf_rng_u32(&c);
    CHECK(cf_rng_tell(&c) == 10, "tell after 10 draws = %llu", (unsigned long long)cf_rng_tell(&c));
    /* different purposes and trials give different streams */
    cf_rng d = cf_rng_make(42, cf_rng_stream(7, CF_RNG_PURPOSE_INIT));
    cf_rng e = cf_rng_make(42, cf_rng_stream(8, CF_RNG_PURPOSE_DATA));
    CHECK(cf_rng_u32(&d) != first[0] && cf_rng_u32(&e) != first[0], "streams of other purposes/trials collide");
}

static void check_distributions(void) {
    cf_rng r = cf_rng_make(2024, cf_rng_stream(0, CF_RNG_PURPOSE_TEST));
    const int n = 200000;
    double sum = 0, sum2 = 0, usum = 0;
    float umin = 1, umax = 0;
    for (int i = 0; i < n; i++) {
        double z = cf_rng_normal_f64(&r);
        sum += z;
        sum2 += z * z;
        float u = cf_rng_uniform(&r);
        usum += u;
        if (u < umin) umin = u;
        if (u > umax) umax = u;
    }
    double mean = sum / n, var = sum2 / n - mean * mean;
    /* sd of the mean of n normals = 1/sqrt(n) = 0.0022; of the variance ~ sqrt(2/n) = 0.0032; 5 sd bounds */
    CHECK(fabs(mean) < 0.011, "normal mean %.5f", mean);
    CHECK(fabs(var - 1) < 0.016, "normal variance %.5f", var);
    CHECK(umin >= 0 && umax < 1, "uniform outside [0, 1): [%g, %g]", umin, umax);
    /* sd of the mean of n uniforms = sqrt(1/12/n) = 0.00065 */
    CHECK(fabs(usum / n - 0.5) < 0.0033, "uniform mean %.5f", usum / n);

    /* below(n): every value hit, roughly equally, never out of range */
    int counts[7] = {0};
    for (int i = 0; i < 70000; i++) {
        uint32_t k = cf_rng_below(&r, 7);
        CHECK(k < 7, "below(7) returned %u", k);
        if (k < 7) counts[k]++;
    }
    for (int k = 0; k < 7; k++) /* expected 10000, sd ~93 */
        CHECK(abs(counts[k] - 10000) < 500, "below(7): value %d drawn %d times of 70000", k, counts[k]);
    CHECK(cf_rng_below(&r, 1) == 0, "below(1) must be 0");
}

static void check_permutation(void) {
    cf_rng r = cf_rng_make(5, cf_rng_stream(1, CF_RNG_PURPOSE_DATA));
    uint32_t p[100];
    int seen[100];
    cf_rng_permutation(&r, p, 100);
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < 100; i++) {
        CHECK(p[i] < 100, "permutation value %u out of range", p[i]);
        if (p[i] < 100) seen[p[i]]++;
    }
    for (int i = 0; i < 100; i++) CHECK(seen[i] == 1, "value %d appears %d times", i, seen[i]);

    /* every position is uniform: element 0 lands in each of 4 slots ~1/4 of the time */
    int where[4] = {0};
    for (int t = 0; t < 40000; t++) {
        uint32_t q[4];
        cf_rng_permutation(&r, q, 4);
        for (int i = 0; i < 4; i++)
            if (q[i] == 0) where[i]++;
    }
    for (int i = 0; i < 4; i++) /* expected 10000, sd ~87 */
        CHECK(abs(where[i] - 10000) < 450, "element 0 at slot %d %d times of 40000", i, where[i]);

    /* same seed and stream, same permutation */
    cf_rng a = cf_rng_make(9, 3), b = cf_rng_make(9, 3);
    uint32_t pa[50], pb[50];
    cf_rng_permutation(&a, pa, 50);
    cf_rng_permutation(&b, pb, 50);
    CHECK(memcmp(pa, pb, sizeof pa) == 0, "permutation is not reproducible");
}

int main(void) {
    check_known_answers();
    check_stream_layout();
    check_tell_seek_and_word_at();
    check_distributions();
    check_permutation();
    return test_finish("test_rng");
}
