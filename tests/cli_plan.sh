#!/bin/sh
# cli_plan.sh CELLFORGE SPACE_JSON WORKDIR - what a search works out for its user:
# the skeleton each built-in space is searched with when --set leaves it out, the
# pre-flight line and its warning, the final phase's own network and training
# (--retrain-set, --augment, --cutout, --label-smoothing), and a --budget run that
# plans its search and final phase inside the budget, on Fashion-MNIST.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cf=$1; space=$2; dir=$3
mkdir -p "$dir"; cd "$dir" || exit 1
rm -rf wide planned
. "$here/cli_lib.sh"
fast="--epochs 1 --fraction 0.02 --val-fraction 0.01 --batch 64"

# the search skeletons of the built-in spaces; --set still wins, a space file keeps its own
expect 0 '"set": ["C=8", "layers=5", "auxiliary=0", "drop_path=0"]' "$cf" search --space darts --print-spec
expect 0 '"set": ["layers=5", "auxiliary=0", "drop_path=0", "C=4"]' "$cf" search --space darts --set C=4 --print-spec
expect 0 '"set": ["stem_channels=16", "cells_per_stack=1"]' "$cf" search --space nb101 --print-spec
expect 0 '"set": ["width=0.5"]' "$cf" search --space mobile --print-spec
expect 0 '"set": ["C=8", "N=1"]' "$cf" search --print-spec
out=$("$cf" search --space "$space" --print-spec) || fail "print-spec of a space file"
case "$out" in *'"set"'*) echo "$out"; fail "a space file got a skeleton it did not ask for";; esac
# --budget fills the final phase's plan, which flags still override
expect 0 '"retrain-set": ["C=16"]' "$cf" search --budget 1h --print-spec
expect 0 '"label-smoothing": "0.1"' "$cf" search --budget 1h --print-spec
expect 0 '"retrain": "2"' "$cf" search --budget 1h --retrain 2 --print-spec
expect 2 "--time 7200 s is longer than the whole --budget 3600 s" "$cf" search --budget 1h --time 2h
expect 2 "--augment: unknown 'blur'" "$cf" search --space "$space" $fast --trials 1 --augment blur --out none
expect 2 "--retrain-set: space tiny201: unknown option 'Q'" "$cf" search --space "$space" $fast --trials 1 --retrain-set Q=3 --out none

# a trial that cannot fit the budget is announced before it starts
expect 1 "no trial is likely to finish" "$cf" search --space nb201 --set C=16 --set N=2 --fraction 1 --time 1s \
    --retrain 0 --out none

# the final phase trains a wider network with augmentation: its model, test.json, cost
# and export are of that network
expect 0 "final: 1 model from the front (C=6, N=1)" "$cf" search --space "$space" $fast --trials 3 --retrain 1 \
    --retrain-epochs 1 --retrain-fraction 0.05 --retrain-set C=6 --augment crop,flip --cutout 4 \
    --label-smoothing 0.1 --out wide
grep -q '"options": "C=6, N=1"' wide/final/*/test.json || fail "test.json does not name the final network's options"
params=$(sed -n 's/.*"params": \([0-9]*\).*/\1/p' wide/final/*/test.json)
arch=$(sed -n 's/.*"arch": "\([^"]*\)".*/\1/p' wide/final/*/test.json)
want=$("$cf" cost --space "$space" --set C=6 --set N=1 --json "$arch" | sed -n 's/.*"params": *\([0-9]*\).*/\1/p')
[ -n "$params" ] && [ "$params" = "$want" ] || fail "test.json has $params params, the C=6 network $want"
expect 0 "options C=6, N=1" "$cf" export wide --format arch
expect 0 "accuracy" "$cf" eval wide/best.cfm --threads 1

# a planned run: a third of the budget searches, the final phase trains as many
# epochs as the rest allows, and the whole command ends inside the budget
t0=$(date +%s)
# (a tenth of each final epoch: whole epochs of this network fit the minute even under
# the sanitizers, which run it ten times slower)
expect 0 "fit the" "$cf" search --space "$space" --fraction 0.02 --val-fraction 0.01 --batch 64 --budget 60s \
    --retrain-fraction 0.1 --out planned
t1=$(date +%s)
# the budget is the run's; loading the data and the pre-flight come before its clock
# starts (a few seconds, several more under the sanitizers)
limit=66; [ -n "${CF_SANITIZED:-}" ] && limit=90
[ $((t1 - t0)) -le $limit ] || fail "a --budget 60s run took $((t1 - t0)) s"
grep -q '"epochs": [1-9]' planned/final/plan.json || fail "no final/plan.json with the planned epochs"
[ -f planned/best.cfm ] || fail "the planned run has no best.cfm"
echo "planned run: $((t1 - t0)) s; $(cat planned/final/plan.json)"
