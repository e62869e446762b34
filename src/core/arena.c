/* arena.c - size tables, arenas and the liveness planner. Tests: tests/test_arena.c */
#include "cellforge/arena.h"
#include "cellforge/grow.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t align_up(size_t x, size_t align) { return (x + align - 1) & ~(align - 1); }

static int is_pow2(size_t x) { return x && !(x & (x - 1)); }

void cf_size_table_init(cf_size_table *st, size_t align) {
    memset(st, 0, sizeof *st);
    st->align = is_pow2(align) ? align : 64;
}

void cf_size_table_destroy(cf_size_table *st) {
    if (!st) return;
    free(st->entries);
    memset(st, 0, sizeof *st);
}

cf_status cf_size_table_add(cf_size_table *st, const char *name, size_t bytes, size_t *index_out) {
    if (cf_grow((void **)&st->entries, &st->capacity, st->count + 1, sizeof *st->entries) != CF_OK)
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "size table: cannot grow past %zu entries", st->count);
    size_t offset = align_up(st->total, st->align);
    if (offset < st->total || offset + bytes < offset)
        CF_FAIL(CF_ERR_INVALID_ARG, "size table: block '%s' of %zu bytes overflows the address space",
                name ? name : "", bytes);
    cf_size_entry *e = &st->entries[st->count];
    snprintf(e->name, sizeof e->name, "%s", name ? name : "");
    e->bytes = bytes;
    e->offset = offset;
    st->total = offset + bytes;
    if (index_out) *index_out = st->count;
    st->count++;
    return CF_OK;
}

size_t cf_size_table_offset(const cf_size_table *st, size_t index) {
    CF_ASSERT(index < st->count);
    return st->entries[index].offset;
}

size_t cf_size_table_total(const cf_size_table *st) { return align_up(st->total, st->align); }

cf_status cf_arena_create(cf_arena *a, size_t bytes, size_t align) {
    memset(a, 0, sizeof *a);
    if (!is_pow2(align) || align < sizeof(void *))
        CF_FAIL(CF_ERR_INVALID_ARG, "arena: alignment %zu is not a power of two >= %zu", align,
                sizeof(void *));
    size_t size = align_up(bytes ? bytes : 1, align);
    void *p = NULL;
    if (posix_memalign(&p, align, size) != 0)
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "arena: cannot allocate %zu bytes", size);
    memset(p, 0, size);
    a->base = p;
    a->size = size;
    a->align = align;
    a->owns = 1;
    return CF_OK;
}

void cf_arena_wrap(cf_arena *a, void *base, size_t bytes, size_t align) {
    memset(a, 0, sizeof *a);
    a->base = base;
    a->size = bytes;
    a->align = is_pow2(align) ? align : 1;
}

void cf_arena_destroy(cf_arena *a) {
    if (!a) return;
    if (a->owns) free(a->base);
    memset(a, 0, sizeof *a);
}

void *cf_arena_at(const cf_arena *a, size_t offset) {
    if (!a->base || offset > a->size) return NULL;
    return a->base + offset;
}

cf_status cf_arena_alloc(cf_arena *a, size_t bytes, void **out) {
    size_t start = align_up(a->used, a->align);
    if (start > a->size || bytes > a->size - start)
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "arena: request of %zu bytes does not fit (%zu of %zu left)",
                bytes, start > a->size ? 0 : a->size - start, a->size);
    *out = a->base + start;
    a->used = start + bytes;
    return CF_OK;
}

void cf_arena_reset(cf_arena *a) { a->used = 0; }

typedef struct placed {
    size_t offset, end;
    int first, last;
} placed;

static int cmp_by_size_desc(const void *pa, const void *pb, void *ctx) {
    const cf_buffer_life *b = ctx;
    size_t ia = *(const size_t *)pa, ib = *(const size_t *)pb;
    if (b[ia].bytes != b[ib].bytes) return b[ia].bytes < b[ib].bytes ? 1 : -1;
    return ia < ib ? -1 : (ia > ib); /* stable: equal sizes keep their order */
}

cf_status cf_plan_liveness(const cf_buffer_life *buffers, size_t count, size_t align,
                           size_t *offsets, size_t *total) {
    if (!is_pow2(align)) CF_FAIL(CF_ERR_INVALID_ARG, "plan: alignment %zu is not a power of two", align);
    for (size_t i = 0; i < count; i++)
        if (buffers[i].first > buffers[i].last)
            CF_FAIL(CF_ERR_INVALID_ARG, "plan: buffer %zu lives from step %d to step %d (first > last)",
                    i, buffers[i].first, buffers[i].last);
    *total = 0;
    if (count == 0) return CF_OK;

    cf_status st = CF_OK;
    size_t *order = malloc(count * sizeof *order);
    placed *done = malloc(count * sizeof *done);
    if (!order || !done) {
        st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "plan: no memory for %zu buffers", count);
        goto exit;
    }
    for (size_t i = 0; i < count; i++) order[i] = i;
    qsort_r(order, count, sizeof *order, cmp_by_size_desc, (void *)buffers);

    /* done is kept sorted by offset, so the buffers alive beside b come out of
     * one pass in offset order: O(n^2) in all, no sort per buffer */
    size_t ndone = 0, peak = 0;
    for (size_t k = 0; k < count; k++) {
        const cf_buffer_life *b = &buffers[order[k]];
        /* first gap among the placed buffers alive at the same time */
        size_t offset = 0;
        for (size_t j = 0; j < ndone; j++) {
            if (done[j].first > b->last || b->first > done[j].last) continue;
            if (offset + b->bytes <= done[j].offset) break;
            if (done[j].end > offset) offset = align_up(done[j].end, align);
        }
        offsets[order[k]] = offset;
        size_t at = ndone;
        while (at > 0 && done[at - 1].offset > offset) at--;
        memmove(done + at + 1, done + at, (ndone - at) * sizeof *done);
        done[at] = (placed){offset, offset + b->bytes, b->first, b->last};
        ndone++;
        if (offset + b->bytes > peak) peak = offset + b->bytes;
    }
    *total = align_up(peak, align);
exit:
    free(order);
    free(done);
    return st;
}
