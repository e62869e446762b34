#!/bin/sh
# mpi_faults.sh CELLFORGE SPACE_JSON TABLE WORKDIR - faults of a search over MPI ranks.
# 1. A rank that hangs (CF_TEST_HANG_RANK=1, a test-only switch: rank 1 stops,
#    no heartbeat and no answer, when its first trial arrives) is found within
#    --rank-timeout: its trial is recorded as cut (unfinished) naming rank and
#    host, the search stops, and every process of the job exits; a resume runs
#    that trial again and finishes the search, no trial twice.
# 2. kill -9 of a worker rank mid-run ends the job (OpenMPI); the run then
#    resumes under mpirun from rank 0's journal: no finished trial is lost or
#    run twice, and the run reaches its --trials.
# Skipped (77) without mpirun or MPI.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cf=$1; space=$2; table=$3; dir=$4
mkdir -p "$dir"; cd "$dir" || exit 1
rm -rf hang killed trainer.sh
. "$here/cli_lib.sh"
. "$here/mpi_lib.sh"
mpi_check "$cf"
host=$(hostname)

# ---- 1. a hanging rank --------------------------------------------------------
t0=$(date +%s)
out=$(CF_TEST_HANG_RANK=1 MPI_TIMEOUT=90 run_mpi 3 -x CF_TEST_HANG_RANK "$cf" search --space "$space" --set C=4 \
      --evaluator "table:$table" --fraction 0.1 --seed 5 --trials 60 --retrain 0 --quiet --threads 1 \
      --cpu-workers 1 --rank-timeout 3s --out hang 2>&1); rc=$?
t1=$(date +%s)
echo "$out" | tail -5
[ "$rc" = 124 ] || [ "$rc" = 137 ] && fail "the job with a hung rank did not end (killed by the timeout)"
[ "$rc" != 0 ] || fail "a search with a hung rank exited 0"
[ $((t1 - t0)) -le 40 ] || fail "the hung rank took $((t1 - t0)) s to be found (timeout 3 s)"
case "$out" in *"rank 1 (host $host)"*) ;; *) fail "the output does not name rank 1 on $host";; esac
lost=$(grep '"event":"trial_cut"' hang/journal.jsonl | grep "rank 1 (host $host) stopped answering" |
       sed 's/.*"id":\([0-9]*\),.*/\1/')
[ -n "$lost" ] || fail "no trial recorded as cut naming rank 1 and its host"
grep '"event":"trial_finished"' hang/journal.jsonl | grep -q '"status":"error"' && fail "a trial of the hung rank was recorded as an error"
sleep 1
pgrep -f "$dir/hang|--out hang" > /dev/null && fail "a process of the hung job is still running"
echo "ok: a hung rank was found in $((t1 - t0)) s and the job ended"
expect 0 "60 trials" run_mpi 3 "$cf" search --resume hang --quiet
ids=$(grep '"event":"trial_finished"' hang/journal.jsonl | sed 's/.*"id":\([0-9]*\),.*/\1/' | sort -n)
[ "$(echo "$ids" | grep -c .)" = 60 ] || fail "not 60 trials finished after resuming the hung run"
[ "$(echo "$ids" | uniq -d | grep -c .)" = 0 ] || fail "trials finished twice after the hang: $(echo "$ids" | uniq -d | tr '\n' ' ')"
for id in $lost; do
    echo "$ids" | grep -qx "$id" || fail "the hung rank's trial $id was not run again by the resume"
done
echo "ok: the resume ran the hung rank's trial $lost again"

# ---- 2. kill -9 of a worker rank, then resume ---------------------------------
cat > trainer.sh <<'SH'
cat > /dev/null
sleep 0.3
echo '{"acc": 0.5}'
SH
cmd="sh $dir/trainer.sh"
MPI_TIMEOUT=120 run_mpi 3 "$cf" search --space "$space" --set C=4 --evaluator "cmd:$cmd" --strategy random --seed 3 \
    --trials 40 --retrain 0 --quiet --threads 1 --cpu-workers 1 --out killed > killed.log 2>&1 &
job=$!
# rank 2's process, found by its environment, killed once trials have finished
victim=""
for i in $(seq 1 200); do
    sleep 0.1
    n=$(grep -c "\"event\":\"trial_finished\"" killed/journal.jsonl 2>/dev/null); n=${n:-0}
    [ "$n" -ge 6 ] || continue
    for p in $(pgrep -f -- "--out killed"); do
        tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=2' && victim=$p
    done
    [ -n "$victim" ] && break
done
[ -n "$victim" ] || { kill "$job"; fail "no rank 2 process found while the search ran"; }
kill -9 "$victim"
wait "$job"; rc=$?
[ "$rc" != 0 ] || fail "the job went on after rank 2 was killed"
before=$(grep '"event":"trial_finished"' killed/journal.jsonl | sed 's/.*"id":\([0-9]*\),.*/\1/' | sort -n)
nb=$(echo "$before" | grep -c .)
[ "$nb" -lt 40 ] || fail "the killed run had finished already"
expect 0 "40 trials" run_mpi 3 "$cf" search --resume killed --quiet
after=$(grep '"event":"trial_finished"' killed/journal.jsonl | sed 's/.*"id":\([0-9]*\),.*/\1/' | sort -n)
[ "$(echo "$after" | grep -c .)" = 40 ] || fail "not 40 trials finished after the resume"
[ "$(echo "$after" | uniq -d | grep -c .)" = 0 ] || fail "trials finished twice: $(echo "$after" | uniq -d | tr '\n' ' ')"
for id in $before; do
    echo "$after" | grep -qx "$id" || fail "finished trial $id was lost"
done
echo "ok: killed after $nb trials; the resume finished the other $((40 - nb)), none twice"
echo "PASS"
