/* batch.c - training batches: epoch order, normalization and augmentation.
 *
 * Every random choice comes from the counter RNG at a position fixed by
 * (seed, epoch, image position), so a batch is the same whichever thread
 * builds it and a resumed run sees the same images. Tested by tests/test_batch.c.
 */
#include <string.h>

#include "cellforge/data.h"
#include "cellforge/rng.h"

void cf_data_epoch_order(size_t n, uint64_t seed, uint64_t epoch, uint32_t *order) {
    cf_rng r = cf_rng_make(seed, cf_rng_stream(epoch, CF_RNG_PURPOSE_DATA));
    cf_rng_permutation(&r, order, n);
}

/* Four draws per image: crop dy, crop dx, flip, cutout centre. Stream
 * (epoch | 1<<40) keeps them apart from the epoch's permutation stream. */
static uint32_t draw(uint64_t seed, uint64_t epoch, uint64_t pos, int k) {
    uint64_t stream = cf_rng_stream(epoch | (1ull << 40), CF_RNG_PURPOSE_DATA);
    return cf_rng_word_at(seed, stream, pos * 4 + (uint64_t)k);
}

uint64_t cf_data_erase_stream(uint64_t epoch) {
    return cf_rng_stream(epoch | (2ull << 40), CF_RNG_PURPOSE_DATA);
}

uint64_t cf_data_erase_threshold(double p) {
    if (!(p > 0)) return 0;
    return p >= 1 ? (1ull << 32) : (uint64_t)(p * 4294967296.0);
}

void cf_data_erase_rect(uint32_t w1, uint32_t w2, uint32_t w3, int H, int W, int *y0, int *x0, int *eh, int *ew) {
    int hl = H / 8 > 0 ? H / 8 : 1, hh = H / 2 > hl ? H / 2 : hl;
    int wl = W / 8 > 0 ? W / 8 : 1, wh = W / 2 > wl ? W / 2 : wl;
    *eh = hl + (int)(w1 % (uint32_t)(hh - hl + 1));
    *ew = wl + (int)(w2 % (uint32_t)(wh - wl + 1));
    *y0 = (int)((w3 >> 16) % (uint32_t)(H - *eh + 1));
    *x0 = (int)((w3 & 0xffffu) % (uint32_t)(W - *ew + 1));
}

void cf_data_batch(const cf_dataset *ds, const uint32_t *idx, int n, const float *mean,
                   const float *std, const cf_augment *aug, uint64_t seed, uint64_t epoch,
                   uint64_t pos0, float *x, int32_t *y) {
    const int C = ds->c, H = ds->h, W = ds->w;
    const size_t image = cf_dataset_image_bytes(ds);
    for (int k = 0; k < n; k++) {
        const uint8_t *src = ds->images + (size_t)idx[k] * image;
        float *dst = x + (size_t)k * image;
        y[k] = ds->labels[idx[k]];
        int dy = 0, dx = 0, flip = 0;
        uint64_t pos = pos0 + (uint64_t)k;
        if (aug && aug->crop_pad > 0) {
            uint32_t span = 2u * (uint32_t)aug->crop_pad + 1u;
            dy = (int)(draw(seed, epoch, pos, 0) % span) - aug->crop_pad;
            dx = (int)(draw(seed, epoch, pos, 1) % span) - aug->crop_pad;
        }
        if (aug && aug->flip) flip = draw(seed, epoch, pos, 2) & 1;
        for (int c = 0; c < C; c++) {
            /* (v/255 - mean) / std = v * scale + shift, for any channel count */
            const float scale = (float)(1.0 / (255.0 * std[c])), shift = (float)(-mean[c] / std[c]);
            /* padding is black (0) before normalization, as torchvision pads */
            for (int h = 0; h < H; h++) {
                int sh = h + dy;
                float *row = dst + ((size_t)c * H + h) * W;
                if (sh < 0 || sh >= H) {
                    for (int w = 0; w < W; w++) row[w] = shift;
                    continue;
                }
                const uint8_t *srow = src + ((size_t)c * H + sh) * W;
                for (int w = 0; w < W; w++) {
                    int sw = (flip ? W - 1 - w : w) + dx;
                    row[w] = sw < 0 || sw >= W ? shift : srow[sw] * scale + shift;
                }
            }
        }
        if (aug && aug->cutout > 0) {
            uint32_t r = draw(seed, epoch, pos, 3);
            int cy = (int)((r >> 16) % (uint32_t)H), cx = (int)((r & 0xffff) % (uint32_t)W);
            int h0 = cy - aug->cutout / 2, w0 = cx - aug->cutout / 2;
            for (int c = 0; c < C; c++)
                for (int h = h0 < 0 ? 0 : h0; h < h0 + aug->cutout && h < H; h++)
                    for (int w = w0 < 0 ? 0 : w0; w < w0 + aug->cutout && w < W; w++)
                        dst[((size_t)c * H + h) * W + w] = 0.0f;
        }
        if (aug && aug->erase > 0) {
            const uint64_t stream = cf_data_erase_stream(epoch);
            if ((uint64_t)cf_rng_word_at(seed, stream, pos * 4) < cf_data_erase_threshold(aug->erase)) {
                int y0, x0, eh, ew;
                cf_data_erase_rect(cf_rng_word_at(seed, stream, pos * 4 + 1), cf_rng_word_at(seed, stream, pos * 4 + 2),
                                   cf_rng_word_at(seed, stream, pos * 4 + 3), H, W, &y0, &x0, &eh, &ew);
                for (int c = 0; c < C; c++)
                    for (int h = y0; h < y0 + eh; h++)
                        for (int w = x0; w < x0 + ew; w++) dst[((size_t)c * H + h) * W + w] = 0.0f;
            }
        }
    }
}
