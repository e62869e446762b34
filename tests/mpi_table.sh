#!/bin/sh
# mpi_table.sh CELLFORGE SPACE_JSON TABLE WORKDIR - one search over 3 MPI ranks
# (mpirun --oversubscribe on this host, one CPU worker each) with the table
# evaluator gives the same trials and results as one process with 3 workers
# (the trial_finished records without time, seq, crc, rank and host), trials
# ran on every rank, the journal names rank and host, and every process exits.
# A single rank is a plain search. Skipped (77) without mpirun or MPI.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cf=$1; space=$2; table=$3; dir=$4
mkdir -p "$dir"; cd "$dir" || exit 1
rm -rf one three single
. "$here/cli_lib.sh"
. "$here/mpi_lib.sh"
mpi_check "$cf"

common="--space $space --set C=4 --evaluator table:$table --fraction 0.1 --strategy evolution --seed 5
        --trials 120 --retrain 0 --quiet --threads 1"
expect 0 "3 workers: cpu:0 cpu:1 cpu:2" "$cf" search $common --cpu-workers 3 --cpu-memory 3G --out one
expect 0 "3 workers: cpu:0 r1/cpu:0 r2/cpu:0" run_mpi 3 "$cf" search $common --cpu-workers 1 --cpu-memory 1G --out three
record one > one.txt
record three > three.txt
[ "$(wc -l < one.txt)" = 120 ] || fail "the one-process run did not finish 120 trials"
cmp -s one.txt three.txt || { diff one.txt three.txt | head -5; fail "3 ranks gave other trials or results than 1 process with 3 workers"; }
for r in 0 1 2; do
    grep '"event":"trial_started"' three/journal.jsonl | grep -q "\"rank\":$r," || fail "no trial ran on rank $r"
done
host=$(hostname)
grep '"event":"trial_finished"' three/journal.jsonl | grep -q "\"host\":\"$host\"" || fail "trial_finished does not name the host $host"
# a plain run names rank 0 and this host as well
grep '"event":"trial_finished"' one/journal.jsonl | grep -v "\"rank\":0,\"host\":\"$host\"" | grep -q . &&
    fail "a plain run's trials do not all name rank 0 on $host"
# status and report read the run as any other; the report's timeline and status
# name each worker's node
expect 0 "120 ok" "$cf" status three
for r in 1 2; do
    "$cf" status three | grep -q "^  r$r/cpu:0 .* rank $r, host $host  busy" || fail "status names no worker of rank $r on $host"
done
expect 0 "report" "$cf" report three
for r in 0 1 2; do
    grep -q "<title>worker $r: [^<]*, rank $r, host $host; busy" three/report.html ||
        fail "the report's timeline has no lane of rank $r on $host"
    grep -q ">rank $r, busy [0-9.]*%</text>" three/report.html || fail "the lane of rank $r does not name its rank"
done
grep -q ">rank 0, busy" one/report.html 2>/dev/null && fail "a plain run's timeline names ranks"
# one rank: a plain search over its own workers
expect 0 "3 workers: cpu:0 cpu:1 cpu:2" run_mpi 1 "$cf" search $common --cpu-workers 3 --cpu-memory 3G --out single
record single > single.txt
cmp -s one.txt single.txt || fail "mpirun -np 1 gave another record than a plain run"
echo "PASS"
