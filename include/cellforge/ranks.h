/* ranks.h - one search over the ranks of an MPI job (mpirun, srun).
 *
 * Rank 0 runs the controller, the strategy and the journal; every rank, 0
 * included, runs the workers of its own node. Each rank loads the same space,
 * data and evaluator from the same command line and plans its own workers;
 * rank 0 gathers every rank's worker descriptions and places trials on all of
 * them. A trial travels to its rank as a JSON text (the trial's spec, the
 * worker, its time limit and state file), its outcome comes back the same way;
 * ranks above 0 serve such requests until rank 0 says stop. Heartbeats from
 * every serving rank let rank 0 notice one that hangs: after `timeout_s`
 * without one, the rank's trials fail with its rank and host named, and the
 * search stops. No network protocol of our own: MPI point-to-point messages
 * only (src/sched/ranks_mpi.c; src/sched/ranks_none.c where the build has no
 * MPI, whose cf_ranks_init says so). Tests: tests/mpi_*.sh (ctest -L mpi).
 *
 *   cf_ranks *rk = NULL;
 *   if (cf_ranks_wanted(0)) CF_TRY(cf_ranks_init(&rk));
 *   ...every rank: load the space, evaluator, local workers...
 *   CF_TRY(cf_ranks_join(rk, setup_ok, workers, &n, &n_local));
 *   if (cf_ranks_rank(rk) > 0) st = cf_ranks_serve(rk, ev, space, workers, n);
 *   else { CF_TRY(cf_ranks_wrap(rk, ev, 120, &ev)); ...cf_search_run over n workers... }
 *   cf_ranks_finish(rk);   // stop, finalize (every rank)
 */
#ifndef CELLFORGE_RANKS_H
#define CELLFORGE_RANKS_H

#include "cellforge/evaluator.h"
#include "cellforge/place.h"
#include "cellforge/space.h"
#include "cellforge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cf_ranks cf_ranks;

/* 1 when this build has MPI (CMake CF_MPI). */
int cf_ranks_built(void);

/* 1 when the process should join an MPI job: asked (flag) or started by an
 * MPI launcher (OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK in the environment). */
int cf_ranks_wanted(int flag);

/* The job's size as the launcher's environment says, without MPI (1 when
 * none says): lets a build without MPI refuse a job of several ranks. */
int cf_ranks_env_size(void);

/* MPI_Init_thread (MPI_THREAD_MULTIPLE) and this rank's place; caller ends it
 * with cf_ranks_finish. Fails in a build without MPI. */
cf_status cf_ranks_init(cf_ranks **out);

int cf_ranks_rank(const cf_ranks *rk);     /* 0 for NULL */
int cf_ranks_size(const cf_ranks *rk);     /* 1 for NULL */

/* Every rank, collectively, after its setup (ok: 1 when it succeeded). Fails
 * on every rank when one failed (naming it). On rank 0 workers[0..*n) grows
 * from its own workers to every rank's (rank 0's first, then rank 1's, ...;
 * remote names "rR/cpu:0"); *n_local keeps the count of rank 0's own. On the
 * other ranks the list is left as it is. NULL rk: nothing changes. */
cf_status cf_ranks_join(cf_ranks *rk, int ok, cf_worker_desc *workers, int *n, int *n_local);

/* Rank 0: an evaluator that runs rank 0's workers through ev and forwards a
 * remote worker's trial to its rank, waiting for the answer; a rank without a
 * heartbeat for timeout_s is dead: its trials fail (an evaluator error, which
 * stops the search) with the rank and host named. Takes ownership of ev (the
 * new evaluator destroys it); *out replaces it. */
cf_status cf_ranks_wrap(cf_ranks *rk, cf_evaluator *ev, double timeout_s, cf_evaluator **out);

/* Ranks above 0: run the trials rank 0 sends on workers[0..n) through ev
 * until rank 0 says stop. Borrowed: everything. */
cf_status cf_ranks_serve(cf_ranks *rk, cf_evaluator *ev, const cf_space *s, const cf_worker_desc *workers, int n);

/* 1 when a rank was found dead (rank 0), with its rank and host in buf. */
int cf_ranks_dead(const cf_ranks *rk, char *buf, size_t cap);

/* Every rank at the end: rank 0 tells the live ranks to stop; then
 * MPI_Finalize, or MPI_Abort(code) when a rank is dead (it would never reach
 * the finalize). Frees rk; NULL is accepted. */
void cf_ranks_finish(cf_ranks *rk, int code);

#ifdef __cplusplus
}
#endif
#endif
