/* slots.c - how many trials a device runs at once, sized by measurement.
 * API: include/cellforge/place.h. Tests: tests/test_sched.c (described
 * throughput curves, and searches through the controller).
 *
 * A window is the trials that both started and finished at the current
 * limit; its rate is their work per second since the limit was set. Once it
 * holds 2 x limit + 2 trials the rate is compared with the previous level's:
 * 5% more raises the limit again; less settles at the better of the two
 * (so a flat curve ends at the smaller limit: the same throughput with fewer
 * trials in memory), and a device whose memory ran short at this level
 * settles where it is.
 */
#include <string.h>

#include "cellforge/log.h"
#include "cellforge/place.h"

#define GAIN 1.05

void cf_slot_tuner_init(cf_slot_tuner *t, int start, int max) {
    memset(t, 0, sizeof *t);
    t->max = max < 1 ? 1 : max;
    t->limit = start < 1 ? 1 : start > t->max ? t->max : start;
    t->settled = t->limit >= t->max;
    t->since = -1;
}

void cf_slot_tuner_short(cf_slot_tuner *t) { t->memory_short = 1; }

static void next_level(cf_slot_tuner *t, int limit, double now) {
    t->limit = limit;
    t->since = now;
    t->work = 0;
    t->done = 0;
    t->memory_short = 0;
}

int cf_slot_tuner_finished(cf_slot_tuner *t, double start, double now, double work) {
    if (t->settled) return 0;
    if (t->since < 0) t->since = start; /* the first trial opens the first window */
    if (start < t->since || work <= 0) return 0; /* started at another level, or nothing to weigh */
    t->work += work;
    t->done++;
    if (t->done < 2 * t->limit + 2 || now <= t->since) return 0;
    const double rate = t->work / (now - t->since);
    const int was = t->limit;
    if (t->memory_short) {
        t->settled = 1;
        t->rate = rate;
    } else if (t->prev_rate <= 0 || rate > GAIN * t->prev_rate) {
        t->prev_rate = t->rate = rate;
        if (t->limit < t->max) next_level(t, t->limit + 1, now);
        else t->settled = 1;
    } else {
        /* no real gain: the level below does as well, or better */
        t->settled = 1;
        t->rate = t->prev_rate;
        t->limit--;
    }
    return t->limit != was;
}

void cf_slot_tuner_for(cf_slot_tuner *t, const cf_worker_desc *w, int fixed, int measure) {
    cf_slot_tuner_init(t, fixed > 0 ? fixed : measure ? 1 : w->slots, w->slots);
    t->settled |= fixed > 0 || !measure;
}

void cf_slot_tuners_waited(cf_slot_tuner *t, const cf_worker_desc *w, const cf_place_load *load, int n,
                           size_t need) {
    for (int i = 0; i < n; i++)
        if (!t[i].settled && load[i].running > 0 && load[i].running < t[i].limit && w[i].memory >= need &&
            w[i].memory - load[i].used < need)
            cf_slot_tuner_short(&t[i]);
}

int cf_slot_tuner_tell(cf_slot_tuner *t, const char *name, double start, double now, double work) {
    const int was = t->limit;
    if (!cf_slot_tuner_finished(t, start, now, work)) return 0;
    if (t->limit > was)
        CF_LOG_INFO("%s: %d trials at once finish %.3g units of work per second; trying %d", name, was, t->rate,
                    t->limit);
    else
        CF_LOG_INFO("%s: runs %d trials at once (%.3g units of work per second; more did not help)", name, t->limit,
                    t->rate);
    return 1;
}
