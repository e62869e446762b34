#!/bin/sh
# cli_oneshot.sh CELLFORGE SOURCE_DIR WORKDIR - one-shot search from the command
# line on Fashion-MNIST: darts, gdas and spos on NB201 and darts on the DARTS
# space each train a supernet (trial 0), derive architectures, train those as
# trials and retrain the best in the final phase; the supernet's alphas land
# beside its state and in the report; a darts search killed with SIGKILL in its
# supernet's second epoch and resumed ends with the record of an uninterrupted
# run; bad settings are refused with a clear message.
# Skipped (77) without Fashion-MNIST.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cf=$1; src=$2; dir=$3
mkdir -p "$dir"; cd "$dir" || exit 1
rm -rf darts gdas spos ddarts full killed
. "$here/cli_lib.sh"
[ -r /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || { echo "skipped: no Fashion-MNIST"; exit 77; }

common="--space nb201 --set C=4 --set N=1 --epochs 1 --fraction 0.02 --val-fraction 0.02 --batch 64 --cpu-workers 1
        --threads 1 --seed 3 --retrain 1 --retrain-epochs 1 --retrain-fraction 0.01 --quiet"

for m in darts gdas spos; do
    # shellcheck disable=SC2086
    expect 0 "final" "$cf" search $common --strategy $m --strategy-options epochs=2,derive=2,population=4,generations=1,val_images=128 --out $m
    grep -q '"event":"trial_proposed".*"arch":"supernet"' $m/journal.jsonl || fail "$m: no supernet trial"
    grep '"event":"trial_finished"' $m/journal.jsonl | head -1 | grep -q '"metrics":{"method":"'$m'","derived":\["|' ||
        fail "$m: the supernet's metrics name no derived architecture"
    n=$(grep '"event":"trial_finished"' $m/journal.jsonl | grep -c '"status":"ok"')
    [ "$n" = 3 ] || fail "$m: $n trials ok, expected the supernet and 2 derived"
    [ -s $m/trials/0/alphas.json ] || fail "$m: no alphas.json"
    grep -q '"edges": \["e0_1"' $m/trials/0/alphas.json || fail "$m: alphas.json names no edges"
    ls $m/final/*/test.json >/dev/null 2>&1 || fail "$m: nothing retrained"
    grep -q 'supernet' $m/final/*/test.json && fail "$m: the supernet itself went to the final phase"
    grep -q 'One-shot search' $m/report.html || fail "$m: the report has no one-shot section"
    [ -s $m/best.cfm ] || fail "$m: no best model"
done

# the DARTS space: a small search network, darts second order
# shellcheck disable=SC2086
expect 0 "final" "$cf" search --space darts --set C=4 --set layers=3 --epochs 1 --fraction 0.01 --val-fraction 0.02 --batch 32 \
    --cpu-workers 1 --threads 1 --seed 3 --retrain 1 --retrain-epochs 1 --retrain-fraction 0.005 --quiet \
    --strategy darts --strategy-options epochs=1,order=2 --out ddarts
grep '"event":"trial_finished"' ddarts/journal.jsonl | head -1 | grep -q '"derived":\["Genotype(normal=' ||
    fail "darts space: no genotype derived"

# killed in the supernet's second epoch, resumed: the record of an uninterrupted run
record() {
    grep '"event":"trial_finished"' "$1/journal.jsonl" |
        sed 's/.*"id":\([0-9]*\),"status":"\([a-z]*\)".*"val_acc":\([-0-9.e+]*\),.*/\1 \2 \3/' | sort
    grep -o '"metrics":{[^}]*}' "$1/journal.jsonl"
}
kc="--space nb201 --set C=4 --set N=1 --epochs 1 --fraction 0.1 --val-fraction 0.02 --batch 64 --cpu-workers 1
    --threads 1 --seed 5 --retrain 0 --quiet --strategy darts --strategy-options epochs=3"
# shellcheck disable=SC2086
"$cf" search $kc --out full >/dev/null 2>&1 || fail "the uninterrupted run"
# shellcheck disable=SC2086
"$cf" search $kc --out killed >/dev/null 2>&1 &
pid=$!
i=0
while [ $i -lt 600 ]; do
    n=$(grep -c '"event":"trial_epoch"' killed/journal.jsonl 2>/dev/null)
    [ "${n:-0}" -ge 1 ] && break
    sleep 0.1; i=$((i + 1))
done
sleep 0.5
kill -9 $pid 2>/dev/null || fail "the run ended before it could be killed"
wait $pid 2>/dev/null
expect 0 "" "$cf" search --resume killed --quiet
[ "$(record full)" = "$(record killed)" ] || { record full; echo ---; record killed; fail "the resumed run's record differs"; }
cmp -s full/trials/0/alphas.json killed/trials/0/alphas.json || fail "alphas.json differs after the resume"

# refusals
# shellcheck disable=SC2086
expect 2 "has no supernet" "$cf" search --space mobile --strategy darts --trials 1 --out none
# shellcheck disable=SC2086
expect 2 "order" "$cf" search $common --strategy darts --strategy-options order=3 --out none
# shellcheck disable=SC2086
expect 2 "unknown" "$cf" search $common --strategy gdas --strategy-options tau=3 --out none
# shellcheck disable=SC2086
expect 2 "use --evaluator train" "$cf" search --space $src/benchmarks/spaces/nb201-3op.json --set C=4 \
    --fraction 0.1 --strategy spos --out none --evaluator table:$src/benchmarks/tables/nb201-3op-fmnist.tsv
rm -rf none
echo "cli_oneshot: ok"
