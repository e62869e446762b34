/* rng.h - counter-based random numbers (Philox4x32-10).
 *
 * A generator is a pure function of (key, counter): the key is the run seed,
 * the high half of the counter is a stream id, the low half the position in
 * that stream. Streams for different (trial, purpose) pairs never overlap, so
 * results do not depend on which worker drew what, or when, and a position
 * can be saved and restored as one integer (cf_rng_tell / cf_rng_seek).
 *
 *   cf_rng r = cf_rng_make(seed, cf_rng_stream(trial_id, CF_RNG_PURPOSE_INIT));
 *   float w = cf_rng_normal(&r) * 0.1f;
 *   uint32_t k = cf_rng_below(&r, 10);   // unbiased integer in [0, 10)
 *
 * The stream is the same on every platform and backend: CUDA kernels compute
 * the same Philox blocks from the same (key, counter).
 */
#ifndef CELLFORGE_RNG_H
#define CELLFORGE_RNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One Philox4x32 block with 10 rounds (Salmon et al., SC'11). */
void cf_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* What a stream is used for; part of the stream id so purposes never collide. */
typedef enum cf_rng_purpose {
    CF_RNG_PURPOSE_TEST = 0,
    CF_RNG_PURPOSE_SAMPLE,   /* the strategy's proposals */
    CF_RNG_PURPOSE_INIT,     /* weight initialization */
    CF_RNG_PURPOSE_DATA,     /* shuffling, splits, augmentation */
    CF_RNG_PURPOSE_DROPOUT,  /* dropout and drop-path masks */
    CF_RNG_PURPOSE_PATH,     /* one-shot search: supernet paths, Gumbel draws, alpha init */
    CF_RNG_PURPOSE_COUNT
} cf_rng_purpose;

/* Stream id for (trial, purpose): trial in the high 48 bits, purpose below. */
uint64_t cf_rng_stream(uint64_t trial, cf_rng_purpose purpose);

typedef struct cf_rng {
    uint32_t key[2];    /* the seed */
    uint64_t stream;    /* counter words 2..3 */
    uint64_t block;     /* counter words 0..1: next block to compute */
    uint32_t buf[4];    /* current block */
    int      used;      /* words of buf already handed out (4 = empty) */
    int      has_spare; /* a cached second normal from Box-Muller */
    double   spare;
} cf_rng;

cf_rng cf_rng_make(uint64_t seed, uint64_t stream);

/* Position in 32-bit words since the start of the stream; seek restores it. */
uint64_t cf_rng_tell(const cf_rng *r);
void cf_rng_seek(cf_rng *r, uint64_t position);

uint32_t cf_rng_u32(cf_rng *r);
uint64_t cf_rng_u64(cf_rng *r);
/* Unbiased integer in [0, n); n must be > 0. */
uint32_t cf_rng_below(cf_rng *r, uint32_t n);
/* Uniform in [0, 1) with 24 (float) or 53 (double) random bits. */
float cf_rng_uniform(cf_rng *r);
double cf_rng_uniform_f64(cf_rng *r);
/* Standard normal (Box-Muller on 53-bit uniforms). */
float cf_rng_normal(cf_rng *r);
double cf_rng_normal_f64(cf_rng *r);
/* out[0..n) = a uniformly random permutation of 0..n-1 (Fisher-Yates). */
void cf_rng_permutation(cf_rng *r, uint32_t *out, size_t n);

/* Stateless access for element-wise masks: word `index` of stream (seed, stream).
 * Equal to the index-th cf_rng_u32 of cf_rng_make(seed, stream). */
uint32_t cf_rng_word_at(uint64_t seed, uint64_t stream, uint64_t index);

#ifdef __cplusplus
}
#endif
#endif
