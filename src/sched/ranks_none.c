/* ranks_none.c - the ranks API in a build without MPI (CMake CF_MPI off, or no
 * MPI found): one process is the whole search, and asking for more says how to
 * get it. API: include/cellforge/ranks.h. Tests: tests/mpi_table.sh (which
 * checks the message when the build has no MPI).
 */
#include <stddef.h>

#include "cellforge/ranks.h"

int cf_ranks_built(void) { return 0; }

cf_status cf_ranks_init(cf_ranks **out) {
    *out = NULL;
    CF_FAIL(CF_ERR_UNSUPPORTED, "this cellforge was built without MPI: install libopenmpi-dev and openmpi-bin, "
                                "then configure again (cmake -DCF_MPI=ON) to run a search over MPI ranks");
}

int cf_ranks_rank(const cf_ranks *rk) { return 0; }
int cf_ranks_size(const cf_ranks *rk) { return 1; }

cf_status cf_ranks_join(cf_ranks *rk, int ok, cf_worker_desc *workers, int *n, int *n_local) {
    *n_local = *n;
    return CF_OK;
}

cf_status cf_ranks_wrap(cf_ranks *rk, cf_evaluator *ev, double timeout_s, cf_evaluator **out) {
    *out = ev;
    return CF_OK;
}

cf_status cf_ranks_serve(cf_ranks *rk, cf_evaluator *ev, const cf_space *s, const cf_worker_desc *workers, int n) {
    CF_FAIL(CF_ERR_UNSUPPORTED, "this cellforge was built without MPI");
}

int cf_ranks_dead(const cf_ranks *rk, char *buf, size_t cap) { return 0; }

void cf_ranks_finish(cf_ranks *rk, int code) {}
