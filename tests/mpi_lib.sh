# mpi_lib.sh - what the MPI test scripts share; sourced after cli_lib.sh.
#
#   . "$here/cli_lib.sh"; . "$here/mpi_lib.sh"
#   mpi_check "$cf"                  # exits 77 (skipped) without mpirun or MPI
#   run_mpi 3 "$cf" search ...       # mpirun --oversubscribe -np 3 (as root too), with a timeout

# OpenMPI refuses root unless told; CI runs as root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# containers often forbid the cross-memory attach (ptrace) of OpenMPI's shared-memory
# transport; copying through the shared segment works everywhere
export OMPI_MCA_btl_vader_single_copy_mechanism=none

mpi_check() {
    command -v mpirun > /dev/null || { echo "mpirun missing (apt-get install openmpi-bin libopenmpi-dev): skipped"; exit 77; }
    out=$("$1" search --mpi --trials 1 --out none --space nb201 --evaluator table:/nonexistent 2>&1)
    case "$out" in
    *"built without MPI"*) echo "this cellforge was built without MPI (CF_MPI): skipped"; exit 77;;
    esac
}

run_mpi() { # run_mpi K CMD...: K ranks on this host, killed after MPI_TIMEOUT s (120)
    k=$1; shift
    timeout -k 10 "${MPI_TIMEOUT:-120}" mpirun --oversubscribe --bind-to none -np "$k" "$@"
}

# The trial_finished records without what differs between runs (time, seq,
# crc) and where the trials ran (rank, host).
record() {
    grep '"event":"trial_finished"' "$1/journal.jsonl" |
        sed 's/"seq":[0-9]*,//; s/"time":[0-9.]*,//; s/,"crc":"[0-9a-f]*"//; s/,"rank":[0-9]*,"host":"[^"]*"//'
}
