#!/bin/sh
# cli_search.sh CELLFORGE SPACE_JSON WORKDIR - `cellforge tabulate` and `cellforge search`
# end to end on Fashion-MNIST with a 15-cell test space: a table is written, searched
# with the table evaluator, searched with training on 2 CPU workers (also
# data-parallel), and bad input is refused with the documented exit codes.
set -u
cf=$1; space=$2; dir=$3
mkdir -p "$dir"; cd "$dir" || exit 1
rm -f tiny.tsv run.tsv
fail() { echo "FAIL: $*"; exit 1; }
expect() { # expect CODE TEXT CMD...: exit status CODE and TEXT in the output
    code=$1; text=$2; shift 2
    out=$("$@" 2>&1); got=$?
    [ "$got" = "$code" ] || { echo "$out"; fail "exit $got (want $code): $*"; }
    case "$out" in *"$text"*) ;; *) echo "$out"; fail "no '$text' in the output of: $*";; esac
    echo "ok: $*"
}
fast="--epochs 1 --fraction 0.02 --val-fraction 0.01 --batch 64"

expect 0 "15 trials: 15 ok" "$cf" tabulate --space "$space" $fast --cpu-workers 2 --out tiny.tsv
[ "$(grep -c '^|' tiny.tsv)" = 15 ] || fail "tiny.tsv has $(grep -c '^|' tiny.tsv) rows, want 15"
expect 2 "exists" "$cf" tabulate --space "$space" $fast --out tiny.tsv

# the table evaluator: every cell once (grid), then evolution, in simulated time
expect 0 "15 trials: 15 ok" "$cf" search --space "$space" --evaluator table:tiny.tsv --strategy grid --epochs 1 --fraction 0.02 --cpu-workers 3
expect 0 "(simulated)" "$cf" search --space "$space" --evaluator table:tiny.tsv --strategy local --epochs 1 --fraction 0.02 --trials 10
# a fidelity the table does not have: every trial fails, the search still ends
expect 1 "not in the table" "$cf" search --space "$space" --evaluator table:tiny.tsv --epochs 3 --trials 3

# training on 2 CPU workers, then every trial data-parallel over both
expect 0 "4 trials: 4 ok" "$cf" search --space "$space" $fast --trials 4 --cpu-workers 2 --out run.tsv
[ "$(grep -c '^|' run.tsv)" = 4 ] || fail "run.tsv has $(grep -c '^|' run.tsv) rows, want 4"
expect 0 "w0+1" "$cf" search --space "$space" $fast --trials 2 --cpu-workers 2 --replicas 2
# constraints: nothing under 1 MAC, so every proposal is rejected and none runs
expect 1 "rejected by the constraints" "$cf" search --space "$space" $fast --trials 3 --max-macs 1
# failures are recorded and the search finishes: a learning rate that diverges (the
# cells that survive it keep the exit status 0)
expect 0 "diverged: loss" "$cf" search --space "$space" $fast --trials 3 --lr 100

# bad input
expect 2 "did you mean 'evolution'" "$cf" search --space "$space" --strategy evolutoin --trials 1
expect 2 "unknown 'flops'" "$cf" search --space "$space" --objectives acc,flops --trials 1
expect 1 "there is no GPU 7" "$cf" search --space "$space" --devices cuda:7 --trials 1
expect 2 "--replicas 3: only 2 workers" "$cf" search --space "$space" --cpu-workers 2 --replicas 3 --trials 1
expect 1 "cannot open the table" "$cf" search --space "$space" --evaluator table:missing.tsv --trials 1
echo "all ok"
