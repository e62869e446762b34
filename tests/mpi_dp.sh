#!/bin/sh
# mpi_dp.sh CELLFORGE SPACE_JSON WORKDIR - data-parallel trials (--replicas 2)
# in a search over MPI ranks, on Fashion-MNIST (one CPU thread per worker):
# 1. a group spanning two ranks (--span-ranks, gradients summed over MPI)
#    trains exactly as the same group in one process: the same losses and
#    accuracies to the last digit, epoch by epoch;
# 2. without --span-ranks a group stays on one rank: with two workers on each
#    of two ranks, groups run on both, the remote one through its rank's own
#    communicator, and again the results are one process's;
# 3. asking for a group no rank can hold is refused with a message, and a
#    usage error or --help is printed once, by rank 0;
# 4. a rank that hangs inside a spanning group is found within --rank-timeout:
#    the trial is recorded unfinished (cut) naming the rank, every process
#    exits, and a resume runs the trial again.
# Skipped (77) without mpirun, MPI or the data.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cf=$1; space=$2; dir=$3
mkdir -p "$dir"; cd "$dir" || exit 1
rm -rf one span local hang
. "$here/cli_lib.sh"
. "$here/mpi_lib.sh"
mpi_check "$cf"
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] ||
    { echo "Fashion-MNIST missing (apt-get install dataset-fashion-mnist): skipped"; exit 77; }
host=$(hostname)

common="--space $space --strategy random --seed 3 --trials 4 --epochs 2 --fraction 0.02 --batch 64 --retrain 0
        --replicas 2 --quiet"
# what training produced, epoch by epoch, without where and when
results() {
    grep -E '"event":"trial_(epoch|finished)"' "$1/journal.jsonl" |
        sed 's/.*"event":"\([a-z_]*\)".*"id":\([0-9]*\),/\1 \2 /; s/"seconds":[0-9.e-]*//; s/"lr":[0-9.e-]*//;
             s/"train_seconds":[0-9.e-]*//; s/"start":.*//; s/,"crc".*//' | sort
}

# ---- 1. one group over two ranks ------------------------------------------------
expect 0 "2 workers: cpu:0 cpu:1" "$cf" search $common --cpu-workers 2 --threads 2 --out one
expect 0 "2 workers: cpu:0 r1/cpu:0" run_mpi 2 "$cf" search $common --cpu-workers 1 --threads 1 --span-ranks --out span
results one > one.txt
results span > span.txt
[ "$(grep -c '^trial_finished' one.txt)" = 4 ] || fail "the one-process run did not finish 4 trials"
[ "$(grep -c '^trial_epoch' one.txt)" = 8 ] || fail "the one-process run has not 2 epochs per trial"
grep '^trial_finished' one.txt | grep -q '"status":"ok"' || fail "no trial trained in one process"
cmp -s one.txt span.txt || { diff one.txt span.txt | head -6; fail "a group over two ranks trained otherwise than in one process"; }
grep '"event":"trial_started"' span/journal.jsonl | grep -q '"replicas":2,"workers":\[0,1\]' ||
    fail "no trial ran on workers 0 (rank 0) and 1 (rank 1) together"
echo "ok: a data-parallel group over two ranks equals one process, epoch by epoch"

# ---- 2. groups within each rank -------------------------------------------------
expect 0 "4 workers: cpu:0 cpu:1 r1/cpu:0 r1/cpu:1" run_mpi 2 "$cf" search $common --cpu-workers 2 --threads 2 \
    --out local
results local > local.txt
cmp -s one.txt local.txt || { diff one.txt local.txt | head -6; fail "groups within ranks trained otherwise than in one process"; }
grep '"event":"trial_started"' local/journal.jsonl | grep -q '"workers":\[2,3\],.*"rank":1,' ||
    fail "no group ran on rank 1's two workers"
grep '"event":"trial_started"' local/journal.jsonl | grep -q '"workers":\[[01],[23]\]' &&
    fail "a group spanned ranks without --span-ranks"
echo "ok: without --span-ranks every group stays on one rank, rank 1's too"

# ---- 3. a group no rank holds ---------------------------------------------------
expect 2 "no rank has 2 workers (at most 1); --span-ranks" run_mpi 2 "$cf" search $common --cpu-workers 1 --threads 1 \
    --out none
expect 2 "--replicas 3: the ranks have 2 workers in all" run_mpi 2 "$cf" search --space "$space" --trials 1 \
    --cpu-workers 1 --threads 1 --span-ranks --replicas 3 --out none

# every rank parses the command line; rank 0 alone says what is wrong with it
out=$(run_mpi 2 "$cf" search --space "$space" --bogus 2>&1)
[ "$(echo "$out" | grep -c "unknown option '--bogus'")" = 1 ] || { echo "$out"; fail "a usage error not printed once"; }
[ "$(run_mpi 2 "$cf" search --help 2>&1 | grep -c '^usage: cellforge search')" = 1 ] || fail "--help not printed once"

# ---- 4. a rank that hangs inside a group ----------------------------------------
t0=$(date +%s)
out=$(CF_TEST_HANG_RANK=1 MPI_TIMEOUT=90 run_mpi 2 -x CF_TEST_HANG_RANK "$cf" search $common --cpu-workers 1 \
      --threads 1 --span-ranks --rank-timeout 3s --out hang 2>&1); rc=$?
t1=$(date +%s)
[ "$rc" = 124 ] || [ "$rc" = 137 ] && fail "the job with a hung rank did not end (killed by the timeout)"
[ "$rc" != 0 ] || fail "a search with a hung rank exited 0"
[ $((t1 - t0)) -le 40 ] || fail "the hung rank took $((t1 - t0)) s to be found (timeout 3 s)"
grep '"event":"trial_cut"' hang/journal.jsonl | grep -q "rank 1 (host $host) stopped answering" ||
    { echo "$out" | tail -5; fail "the hung group's trial was not recorded as cut naming rank 1"; }
grep -q '"event":"trial_finished"' hang/journal.jsonl && fail "a trial of the hung group was recorded as finished"
sleep 1
pgrep -f -- "--out hang" > /dev/null && fail "a process of the hung job is still running"
expect 0 "4 trials" run_mpi 2 "$cf" search --resume hang --span-ranks --cpu-workers 1 --threads 1 --quiet
results hang > hang.txt
cmp -s one.txt hang.txt || { diff one.txt hang.txt | head -6; fail "the resumed run's trials differ from one process's"; }
echo "ok: a hung rank in a group was found in $((t1 - t0)) s; the resume trained its trial again"
echo "PASS"
