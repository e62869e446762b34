/* worker_kit.h - described workers for the scheduler tests (test_sched.c,
 * test_slots.c, test_slot_tuner.c): placement and the controller decide from
 * descriptions, so a GPU can be described where there is none.
 */
#ifndef CF_TESTS_WORKER_KIT_H
#define CF_TESTS_WORKER_KIT_H

#include <stdio.h>
#include <string.h>

#include "cellforge/place.h"

#define GB ((size_t)1 << 30)

/* GPU `i` with `memory` bytes for trials and `slots` trials at once. */
static inline cf_worker_desc kit_gpu(int i, size_t memory, int slots) {
    cf_worker_desc w;
    memset(&w, 0, sizeof w);
    w.kind = CF_WORKER_CUDA;
    w.index = i;
    snprintf(w.name, sizeof w.name, "cuda:%d", i);
    w.threads = 1;
    w.memory = memory;
    w.slots = slots;
    return w;
}

#endif
