/* rng.c - Philox4x32-10 and the distributions built on it.
 * Tested in tests/test_rng.c against the published Random123 known answers. */
#include "cellforge/rng.h"

#include "cellforge/philox.h"

#include <math.h>

void cf_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    cf_philox_rounds(ctr, key[0], key[1], out);
}

uint64_t cf_rng_stream(uint64_t trial, cf_rng_purpose purpose) {
    return (trial << 16) | (uint64_t)(purpose & 0xffff);
}

static void rng_block(uint64_t seed_key0, uint64_t seed_key1, uint64_t stream, uint64_t block,
                      uint32_t out[4]) {
    uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), (uint32_t)stream,
                       (uint32_t)(stream >> 32)};
    uint32_t key[2] = {(uint32_t)seed_key0, (uint32_t)seed_key1};
    cf_philox4x32_10(ctr, key, out);
}

cf_rng cf_rng_make(uint64_t seed, uint64_t stream) {
    cf_rng r;
    r.key[0] = (uint32_t)seed;
    r.key[1] = (uint32_t)(seed >> 32);
    r.stream = stream;
    r.block = 0;
    r.used = 4;
    r.has_spare = 0;
    r.spare = 0.0;
    for (int i = 0; i < 4; i++) r.buf[i] = 0;
    return r;
}

uint64_t cf_rng_tell(const cf_rng *r) {
    /* block counts blocks already computed; used counts words taken from the last one */
    if (r->used == 4) return r->block * 4;
    return (r->block - 1) * 4 + (uint64_t)r->used;
}

void cf_rng_seek(cf_rng *r, uint64_t position) {
    r->block = position / 4;
    r->used = 4;
    r->has_spare = 0;
    unsigned within = (unsigned)(position % 4);
    if (within) {
        rng_block(r->key[0], r->key[1], r->stream, r->block, r->buf);
        r->block++;
        r->used = (int)within;
    }
}

uint32_t cf_rng_u32(cf_rng *r) {
    if (r->used == 4) {
        rng_block(r->key[0], r->key[1], r->stream, r->block, r->buf);
        r->block++;
        r->used = 0;
    }
    return r->buf[r->used++];
}

uint64_t cf_rng_u64(cf_rng *r) {
    uint64_t lo = cf_rng_u32(r);
    uint64_t hi = cf_rng_u32(r);
    return (hi << 32) | lo;
}

uint32_t cf_rng_below(cf_rng *r, uint32_t n) {
    /* Lemire's multiply-and-reject: unbiased, usually one draw. */
    uint64_t m = (uint64_t)cf_rng_u32(r) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while (low < threshold) {
            m = (uint64_t)cf_rng_u32(r) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

float cf_rng_uniform(cf_rng *r) { return (float)(cf_rng_u32(r) >> 8) * 0x1.0p-24f; }

double cf_rng_uniform_f64(cf_rng *r) { return (double)(cf_rng_u64(r) >> 11) * 0x1.0p-53; }

double cf_rng_normal_f64(cf_rng *r) {
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    /* 1 - u lies in (0, 1], so the log is finite. */
    double u1 = 1.0 - cf_rng_uniform_f64(r);
    double u2 = cf_rng_uniform_f64(r);
    double radius = sqrt(-2.0 * log(u1));
    double angle = 2.0 * M_PI * u2;
    r->spare = radius * sin(angle);
    r->has_spare = 1;
    return radius * cos(angle);
}

float cf_rng_normal(cf_rng *r) { return (float)cf_rng_normal_f64(r); }

void cf_rng_permutation(cf_rng *r, uint32_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = (uint32_t)i;
    for (size_t i = n; i > 1; i--) {
        uint32_t j = cf_rng_below(r, (uint32_t)i);
        uint32_t t = out[i - 1];
        out[i - 1] = out[j];
        out[j] = t;
    }
}

uint32_t cf_rng_word_at(uint64_t seed, uint64_t stream, uint64_t index) {
    uint32_t out[4];
    rng_block((uint32_t)seed, (uint32_t)(seed >> 32), stream, index / 4, out);
    return out[index % 4];
}
