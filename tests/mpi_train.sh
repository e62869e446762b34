#!/bin/sh
# mpi_train.sh CELLFORGE SPACE_JSON WORKDIR - a real search over 3 MPI ranks on
# Fashion-MNIST (Debian's dataset-fashion-mnist): one CPU worker of one thread
# per rank, a few small trials at a low fidelity. Every trial trains (ok, above
# chance), trials ran on every rank, the learning curves came back with the
# results, and every process exits. `tabulate` over 2 ranks writes the table
# one process writes. Skipped (77) without mpirun, MPI or the data.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cf=$1; space=$2; dir=$3
mkdir -p "$dir"; cd "$dir" || exit 1
rm -rf run
. "$here/cli_lib.sh"
. "$here/mpi_lib.sh"
mpi_check "$cf"
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] ||
    { echo "Fashion-MNIST missing (apt-get install dataset-fashion-mnist): skipped"; exit 77; }

expect 0 "6 trials: 6 ok" run_mpi 3 "$cf" search --space "$space" --strategy random --seed 2 --trials 6 \
    --epochs 1 --fraction 0.05 --batch 64 --retrain 0 --cpu-workers 1 --threads 1 --quiet --out run
for r in 0 1 2; do
    grep '"event":"trial_started"' run/journal.jsonl | grep -q "\"rank\":$r," || fail "no trial ran on rank $r"
done
# above chance (10 classes) on ranks 1 and 2 as on rank 0, but for an arch
# whose output does not depend on the image (the reason says so)
grep '"event":"trial_finished"' run/journal.jsonl | grep '"reason":""' | sed 's/.*"val_acc":\([0-9.]*\),.*/\1/' |
    awk '$1 <= 0.15 { bad = 1 } END { exit bad }' || fail "a trial ended at chance level"
grep '"event":"trial_finished"' run/journal.jsonl | grep '"reason":""' | grep -q '"rank":[12],' ||
    fail "no trial trained above chance on rank 1 or 2"
# every trial's epoch is in the record, the remote ones' too
[ "$(grep -c '"event":"trial_epoch"' run/journal.jsonl)" = 6 ] || fail "not one trial_epoch event per trial"
expect 0 "6 ok" "$cf" status run

# a table tabulated over 2 ranks holds the rows of one process with 2 workers
# (in another order; train_seconds, column 6, is wall time)
rm -f one.tsv two.tsv
expect 0 "wrote one.tsv" "$cf" tabulate --space "$space" --epochs 1 --fraction 0.02 --batch 64 --cpu-workers 2 \
    --threads 2 --quiet --out one.tsv
expect 0 "wrote two.tsv" run_mpi 2 "$cf" tabulate --space "$space" --epochs 1 --fraction 0.02 --batch 64 \
    --cpu-workers 1 --threads 1 --quiet --out two.tsv
[ "$(grep -vc '^#' two.tsv)" -gt 10 ] || fail "the table over 2 ranks has too few rows"
cut -f1-5,7,8 one.tsv | sort > one.rows
cut -f1-5,7,8 two.tsv | sort > two.rows
cmp -s one.rows two.rows || { diff one.rows two.rows | head -5; fail "tabulate over 2 ranks differs from one process"; }
echo "PASS"
