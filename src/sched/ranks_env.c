/* ranks_env.c - whether this process was started as one rank of an MPI job,
 * read from the launcher's environment (built with or without MPI).
 * API: include/cellforge/ranks.h. Tests: tests/mpi_table.sh.
 */
#include <stdlib.h>

#include "cellforge/ranks.h"

/* OpenMPI's mpirun, then PMI (Slurm's srun, MPICH's hydra), then PMIx. */
static const char *const size_vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};

int cf_ranks_env_size(void) {
    for (size_t i = 0; i < sizeof size_vars / sizeof size_vars[0]; i++) {
        const char *v = getenv(size_vars[i]);
        if (v && atoi(v) > 0) return atoi(v);
    }
    return 1;
}

int cf_ranks_wanted(int flag) {
    return flag || getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}
