/* search_ranks.c - `cellforge search` as one rank of an MPI job.
 *
 *   mpirun -np 3 cellforge search --space nb201 --cpu-workers 1 --trials 30
 *
 * Every rank parses the same command line and loads the same space, data and
 * evaluator; rank 0 then runs the search over every rank's workers and keeps
 * the journal, the other ranks serve its trials (include/cellforge/ranks.h).
 * Tests: tests/mpi_table.sh, tests/mpi_train.sh, tests/mpi_faults.sh.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int search_ranks_begin(int argc, char **argv, cf_ranks **rk) {
    *rk = NULL;
    int flag = 0;
    for (int i = 1; i < argc; i++) flag |= strcmp(argv[i], "--mpi") == 0;
    if (!cf_ranks_wanted(flag)) return -1;
    if (!cf_ranks_built()) {
        /* one rank of a plain build would run a search of its own beside the others */
        if (!flag && cf_ranks_env_size() <= 1) return -1;
        cf_ranks *none = NULL;
        (void)cf_ranks_init(&none);
        fprintf(stderr, "cellforge search: %s\n", cf_error_message());
        return EXIT_USAGE;
    }
    if (cf_ranks_init(rk) != CF_OK) return cli_fail("search");
    return -1;
}

/* Rank 0, once every rank joined: --replicas K needs K workers on one rank,
 * or on all of them together with --span-ranks. */
static int check_replicas(const cli_args *a, const run_setup *r) {
    const int K = r->cfg.replicas;
    if (K <= 1) return -1;
    int most = 0, total = r->n_workers;
    for (int i = 0, count = 0; i < total; i++) {
        count = i > 0 && r->workers[i].rank == r->workers[i - 1].rank ? count + 1 : 1;
        if (count > most) most = count;
    }
    if (r->cfg.span_ranks && K > total)
        return cli_usage_error(a, "--replicas %d: the ranks have %d workers in all", K, total);
    if (!r->cfg.span_ranks && K > most)
        return cli_usage_error(a, "--replicas %d: no rank has %d workers (at most %d); --span-ranks lets a group "
                               "take workers of several ranks", K, K, most);
    return -1;
}

int search_ranks_join(const cli_args *a, cf_ranks *rk, int rc, run_setup *r) {
    double timeout = 120;
    if (rc < 0) {
        int trc = cli_knob_number(a, "rank-timeout", &timeout);
        if (trc >= 0) rc = trc;
    }
    if (!rk) return rc;
    /* every rank reaches the join, so none waits for one that gave up */
    cf_status st = cf_ranks_join(rk, rc < 0 || rc == EXIT_OK, r->workers, &r->n_workers, &r->n_local);
    if (rc >= 0) return rc;
    if (st != CF_OK) return cli_fail(a->command);
    if (cf_ranks_rank(rk) > 0) {
        st = cf_ranks_serve(rk, r->ev, r->space, r->workers, r->n_workers);
        return st == CF_OK ? EXIT_OK : cli_fail(a->command);
    }
    if ((rc = check_replicas(a, r)) >= 0) return rc;
    if (cf_ranks_wrap(rk, r->ev, timeout, &r->ev) != CF_OK) return cli_fail(a->command);
    return -1;
}
