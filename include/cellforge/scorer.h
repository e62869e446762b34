/* scorer.h - zero-cost proxies inside a search: the proxies (proxy.h) of the
 * archs of one space on one seeded minibatch, cached per canonical arch,
 * written to the run's journal as they are computed and read back from it
 * when the run resumes, so a resumed search ranks with the very same numbers
 * and never pays for a score twice.
 *
 *   cf_scorer *sc = NULL;
 *   CF_TRY(cf_scorer_create(space, data, 64, seed, 2, &sc));
 *   cf_proxy_kind vote[CF_PROXY_COUNT];
 *   int n = 0;
 *   CF_TRY(cf_scorer_parse("vote", vote, CF_PROXY_COUNT, &n));  // synflow, snip, naswot
 *   cf_strategy_config cfg;
 *   cf_strategy_config_default(&cfg);
 *   cfg.scorer = cf_scorer_for_strategy(sc, vote, n);           // rank proposals by the vote
 *   cfg.warmup = 500;
 *   ...
 *   cf_scorer_destroy(sc);                                      // after the strategy
 */
#ifndef CELLFORGE_SCORER_H
#define CELLFORGE_SCORER_H

#include <stddef.h>
#include <stdint.h>

#include "cellforge/data.h"
#include "cellforge/journal.h"
#include "cellforge/proxy.h"
#include "cellforge/space.h"
#include "cellforge/strategy.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cf_scorer cf_scorer;

/* A scorer for archs of s (borrowed) on the minibatch of `batch` images of ds
 * (borrowed; only read here) drawn with seed (cf_proxy_minibatch), the
 * networks initialized with seed, on a fast CPU backend of `threads` threads
 * (0: all cores). The caller frees *out with cf_scorer_destroy, after every
 * strategy that borrows it. */
cf_status cf_scorer_create(const cf_space *s, const cf_dataset *ds, int batch, uint64_t seed, int threads,
                           cf_scorer **out);
void cf_scorer_destroy(cf_scorer *sc); /* NULL is accepted */

/* Every proxy of a into out, computed once per canonical arch (later calls
 * read the cache). A network that cannot be built fails with its message. */
cf_status cf_scorer_score(cf_scorer *sc, const cf_arch *a, double out[CF_PROXY_COUNT]);

/* What to rank by, from text: a proxy name, several joined by commas (a
 * vote), or "vote" (synflow, snip and naswot, the vote `cellforge score`
 * reports). Up to cap kinds into kinds, their number into *n. Unknown names
 * fail naming the closest one. */
cf_status cf_scorer_parse(const char *text, cf_proxy_kind *kinds, int cap, int *n);

/* A strategy scorer (strategy.h) ranking by kinds[0..n) of sc (copied; n at
 * most CF_STRATEGY_MAX_SCORES). sc is borrowed and must outlive its use. */
cf_strategy_scorer cf_scorer_for_strategy(cf_scorer *sc, const cf_proxy_kind *kinds, int n);

/* From now on every newly computed score is appended to j (borrowed) as a
 * proxy_scored event: {"arch": TEXT, "params": ..., "synflow": ..., ...}, a
 * non-finite score as null; *clock (borrowed, may be NULL for 0) is the run
 * clock written with it. NULL j: stop writing. */
void cf_scorer_set_journal(cf_scorer *sc, cf_journal *j, const double *clock);

/* Fill the cache from the proxy_scored events of the journal at path (a
 * resumed run's), so they are not computed again. Lines of other events, and
 * scores of archs that do not parse in this space or lack a proxy, are
 * skipped; an unreadable journal fails naming it. *loaded (may be NULL)
 * receives how many scores were read. */
cf_status cf_scorer_load(cf_scorer *sc, const char *path, size_t *loaded);

/* Counters: scores computed, answers from the cache, seconds spent computing. */
void cf_scorer_stats(const cf_scorer *sc, size_t *computed, size_t *cached, double *seconds);

#ifdef __cplusplus
}
#endif
#endif
