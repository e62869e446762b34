/* arena.h - plan memory, then allocate once.
 *
 * Three helpers, used together by the network builder and the placement code:
 *
 *  - cf_size_table: named blocks (parameters, gradients, optimizer state) laid
 *    out back to back with alignment; its total is the one allocation.
 *  - cf_arena: one aligned host allocation, carved by offset or by bump
 *    allocation; reset between uses, never freed per step.
 *  - cf_plan_liveness: offsets for buffers that live over step intervals
 *    (activations), reusing space once a buffer is dead. The same total is the
 *    memory estimate placement needs before a trial starts.
 *
 *   cf_size_table st;  cf_size_table_init(&st, 64);
 *   size_t iw, ib;
 *   CF_TRY(cf_size_table_add(&st, "conv.w", 16 * 3 * 3 * 3 * 4, &iw));
 *   CF_TRY(cf_size_table_add(&st, "conv.b", 16 * 4, &ib));
 *   cf_arena a;  CF_TRY(cf_arena_create(&a, cf_size_table_total(&st), 64));
 *   float *w = cf_arena_at(&a, cf_size_table_offset(&st, iw));  // (16, 3, 3, 3)
 *   ...
 *   cf_arena_destroy(&a);  cf_size_table_destroy(&st);
 */
#ifndef CELLFORGE_ARENA_H
#define CELLFORGE_ARENA_H

#include <stddef.h>

#include "cellforge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cf_size_entry {
    char name[48];   /* for memory reports; truncated if longer */
    size_t bytes;
    size_t offset;
} cf_size_entry;

typedef struct cf_size_table {
    cf_size_entry *entries; /* owned; freed by cf_size_table_destroy */
    size_t count, capacity;
    size_t align;           /* every offset is a multiple of this */
    size_t total;
} cf_size_table;

/* align must be a power of two (64 covers AVX-512 and CUDA's 256 needs 256). */
void cf_size_table_init(cf_size_table *st, size_t align);
void cf_size_table_destroy(cf_size_table *st);
/* Append a block; *index_out (may be NULL) receives its index. */
cf_status cf_size_table_add(cf_size_table *st, const char *name, size_t bytes, size_t *index_out);
size_t cf_size_table_offset(const cf_size_table *st, size_t index);
size_t cf_size_table_total(const cf_size_table *st);

typedef struct cf_arena {
    unsigned char *base; /* owned unless created with cf_arena_wrap */
    size_t size;
    size_t used;         /* bump pointer */
    size_t align;
    int owns;
} cf_arena;

/* One zeroed allocation of `bytes` aligned to `align` (power of two). Fails
 * with CF_ERR_OUT_OF_MEMORY, leaving *a empty. */
cf_status cf_arena_create(cf_arena *a, size_t bytes, size_t align);
/* Use caller memory (borrowed): for device pools and tests. */
void cf_arena_wrap(cf_arena *a, void *base, size_t bytes, size_t align);
/* Frees owned memory; accepts an empty or zeroed arena. */
void cf_arena_destroy(cf_arena *a);
/* Pointer at a planned offset; NULL if outside the arena. */
void *cf_arena_at(const cf_arena *a, size_t offset);
/* Bump allocation; CF_ERR_OUT_OF_MEMORY names the request and what is left. */
cf_status cf_arena_alloc(cf_arena *a, size_t bytes, void **out);
void cf_arena_reset(cf_arena *a);

/* One buffer to place: live from step `first` to step `last` inclusive. */
typedef struct cf_buffer_life {
    size_t bytes;
    int first, last;
} cf_buffer_life;

/* Place buffers so that two whose live intervals overlap never overlap in
 * memory. Largest buffers first, each at the lowest aligned offset that does
 * not collide with an already placed, overlapping-in-time buffer.
 * offsets[i] receives buffer i's offset; *total the bytes the plan needs. */
cf_status cf_plan_liveness(const cf_buffer_life *buffers, size_t count, size_t align,
                           size_t *offsets, size_t *total);

#ifdef __cplusplus
}
#endif
#endif
