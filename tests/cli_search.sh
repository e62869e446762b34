#!/bin/sh
# cli_search.sh CELLFORGE SPACE_JSON WORKDIR - `cellforge tabulate` and `cellforge search`
# end to end on Fashion-MNIST with a 15-cell test space: a table is written, searched
# with the table evaluator, searched with training on 2 CPU workers (also
# data-parallel), and bad input is refused with the documented exit codes.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cf=$1; space=$2; dir=$3
mkdir -p "$dir"; cd "$dir" || exit 1
rm -rf tiny.tsv run runs newer afile spent
. "$here/cli_lib.sh"
fast="--epochs 1 --fraction 0.02 --val-fraction 0.01 --batch 64"

expect 0 "15 trials: 15 ok" "$cf" tabulate --space "$space" $fast --cpu-workers 2 --out tiny.tsv
[ "$(grep -c '^|' tiny.tsv)" = 15 ] || fail "tiny.tsv has $(grep -c '^|' tiny.tsv) rows, want 15"
expect 2 "exists" "$cf" tabulate --space "$space" $fast --out tiny.tsv

# the table evaluator: every cell once (grid), then evolution, in simulated time
expect 0 "15 trials: 15 ok" "$cf" search --space "$space" --evaluator table:tiny.tsv --strategy grid --epochs 1 --fraction 0.02 --cpu-workers 3 --out none
expect 0 "(simulated)" "$cf" search --space "$space" --evaluator table:tiny.tsv --strategy local --epochs 1 --fraction 0.02 --trials 10 --out none
# a resume whose budget is spent says so (budgets count from the run's start)
expect 0 "5 trials: 5 ok" "$cf" search --space "$space" --evaluator table:tiny.tsv --epochs 1 --fraction 0.02 \
    --trials 5 --out spent --quiet
expect 0 "the trial budget is spent (5 of --trials 5)" "$cf" search --resume spent --trials 5
expect 0 "7 trials: 7 ok" "$cf" search --resume spent --trials 7 --quiet
# a fidelity the table does not have: refused before any trial, naming what it holds
expect 1 "no rows at fraction 1, which this search trains with (the table holds fractions 0.02" "$cf" search \
    --space "$space" --evaluator table:tiny.tsv --epochs 1 --trials 3 --out none
expect 1 "no rows at 3 epochs and fraction 0.02" "$cf" search --space "$space" --evaluator table:tiny.tsv \
    --epochs 3 --fraction 0.02 --trials 3 --out none

# training on 2 CPU workers, then every trial data-parallel over both
# then the final phase: two models of the front trained again and tested
final="--retrain 2 --retrain-epochs 2 --retrain-fraction 0.02"
expect 0 "4 trials: 4 ok" "$cf" search --space "$space" $fast --trials 4 --cpu-workers 2 $final --out run
n_final=$(ls run/final/*/test.json 2>/dev/null | wc -l)
[ "$n_final" = 2 ] || fail "run/final holds $n_final test.json files, want 2"
[ "$(grep -c '"event":"final_finished"' run/journal.jsonl)" = 2 ] || fail "the journal does not hold 2 finished final models"
[ "$(grep -c '"event":"final_epoch"' run/journal.jsonl)" = 4 ] || fail "the journal does not hold 2 epochs of 2 final models"
for f in run/final/*/test.json; do
    grep -q '"confusion": \[\[' "$f" && grep -q '"test_acc": 0\.[0-9]' "$f" || { cat "$f"; fail "$f lacks a test accuracy or a confusion matrix"; }
    [ -f "${f%test.json}model.cfm" ] || fail "no model.cfm beside $f"
done
[ -f run/best.cfm ] || fail "no run/best.cfm"
[ -s run/report.html ] || fail "the search wrote no run/report.html"
[ -s run/export/best.onnx ] || fail "the search wrote no run/export/best.onnx"
expect 0 "accuracy" "$cf" eval run/best.cfm --threads 1
expect 0 "2 of 2 models retrained and tested" "$cf" status run
[ "$(grep -c '^|' run/trials.tsv)" = 4 ] || fail "run/trials.tsv has $(grep -c '^|' run/trials.tsv) rows, want 4"
[ "$(grep -c '"event":"trial_finished"' run/journal.jsonl)" = 4 ] || fail "the journal does not hold 4 finished trials"
expect 0 "trials    4: 4 ok" "$cf" status run
expect 2 "already holds a run" "$cf" search --space "$space" $fast --trials 4 --out run
expect 2 "cannot change in a resumed run" "$cf" search --resume run --lr 0.5
# a larger budget continues a finished run
expect 0 "6 trials: 6 ok" "$cf" search --resume run --trials 6
# a model of the final phase done before the resume is not trained again
[ "$(grep -c '"event":"final_finished"' run/journal.jsonl)" -le 4 ] || fail "final models trained again after the resume"
# a run directory that cannot be created, and one written by a newer version
touch afile
expect 1 "cannot create the run directory" "$cf" search --space "$space" $fast --trials 1 --out afile/run
sed 's/"format": 1/"format": 99/' run/spec.json > newer.json && mkdir -p newer && mv newer.json newer/spec.json
expect 1 "newer" "$cf" search --resume newer
# a spec file sets options, flags override it; --print-spec shows the result
printf '{"space": "%s", "trials": 2, "epochs": "1", "fraction": 0.02, "batch": 64, "val-fraction": 0.01}\n' "$space" > spec.json
expect 0 '"trials": "3"' "$cf" search spec.json --trials 3 --print-spec
expect 0 "2 trials: 2 ok" "$cf" search spec.json --out none
printf '{"space": "%s", "trails": 2}\n' "$space" > bad.json
expect 1 'did you mean "trials"' "$cf" search bad.json
expect 0 "w0+1" "$cf" search --space "$space" $fast --trials 2 --cpu-workers 2 --replicas 2 --out none
# constraints: nothing under 1 MAC, so every proposal is rejected and none runs
expect 1 "rejected by the constraints" "$cf" search --space "$space" $fast --trials 3 --max-macs 1 --out none
expect 0 "latency ms" "$cf" search --space "$space" --evaluator table:tiny.tsv --epochs 1 --fraction 0.02 --objectives acc,latency --trials 5 --out none
# failures are recorded and the search finishes: a learning rate that diverges (the
# cells that survive it keep the exit status 0)
expect 0 "diverged: loss" "$cf" search --space "$space" $fast --trials 3 --lr 100 --out none

# bad input
expect 2 "did you mean 'evolution'" "$cf" search --space "$space" --strategy evolutoin --trials 1
expect 2 "unknown 'flops'" "$cf" search --space "$space" --objectives acc,flops --trials 1
expect 1 "there is no GPU 7" "$cf" search --space "$space" --devices cuda:7 --trials 1
expect 2 "--replicas 3: only 2 workers" "$cf" search --space "$space" --cpu-workers 2 --replicas 3 --trials 1
expect 2 "--slots 0: auto, or a count from 1 to 16" "$cf" search --space "$space" --slots 0 --trials 1
expect 2 "--slots many: auto, or a count from 1 to 16" "$cf" search --space "$space" --slots many --trials 1
expect 1 "cannot open the table" "$cf" search --space "$space" --evaluator table:missing.tsv --trials 1
echo "all ok"
