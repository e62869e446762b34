#!/bin/sh
# cli_proxy.sh CELLFORGE SOURCE_DIR WORKDIR - zero-cost proxies in a search, on the
# committed 3-op NB201 table (Fashion-MNIST, simulated time) with real scores of
# the real networks: a warm-up by synflow journals every score (proxy_scored) and
# proposes the best first; stopped after 12 trials and resumed to 24, it reads the
# scores back instead of computing them, and ends with the record of an
# uninterrupted 24-trial run; a pool, a vote and bananas' features run; a proxy as
# an objective is journaled with each proposal and makes the front; bad settings
# are refused with a clear message.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cf=$1; src=$2; dir=$3
mkdir -p "$dir"; cd "$dir" || exit 1
rm -rf full part pool vote bananas objective
. "$here/cli_lib.sh"

record() {
    grep -E '"event":"trial_(finished|rejected)"' "$1/journal.jsonl" |
        sed 's/"seq":[0-9]*,//; s/"time":[0-9.]*,//; s/,"crc":"[0-9a-f]*"//'
}
common="--space $src/benchmarks/spaces/nb201-3op.json --set C=4
        --evaluator table:$src/benchmarks/tables/nb201-3op-fmnist.tsv --fraction 0.1 --cpu-workers 1
        --threads 1 --seed 3 --retrain 0 --quiet --proxy-batch 16"

expect 0 "the best 6 are proposed first" "$cf" search $common --strategy evolution --warmup 40 --warmup-keep 6 \
    --proxy synflow --trials 24 --out full
case "$out" in *"40 architectures scored"*) ;; *) fail "the warm-up did not score 40 archs: $out";; esac
n=$(grep -c '"event":"proxy_scored"' full/journal.jsonl)
[ "$n" = 40 ] || fail "$n proxy_scored events, expected 40"
grep '"event":"proxy_scored"' full/journal.jsonl | head -1 | grep -q '"synflow":' || fail "no synflow in proxy_scored"
# the first proposal is the warm-up's best by synflow
best=$(grep '"event":"proxy_scored"' full/journal.jsonl |
       sed 's/.*"arch":"\([^"]*\)".*"synflow":\([-0-9.e+]*\).*/\2 \1/' | sort -g -r | head -1 | cut -d' ' -f2)
first=$(grep '"event":"trial_proposed"' full/journal.jsonl | head -1 | sed 's/.*"arch":"\([^"]*\)".*/\1/')
[ "$best" = "$first" ] || fail "first proposal $first, the warm-up's best $best"

expect 0 "the best 6 are proposed first" "$cf" search $common --strategy evolution --warmup 40 --warmup-keep 6 \
    --proxy synflow --trials 12 --out part
expect 0 "40 zero-cost scores read back" "$cf" search --resume part --trials 24
case "$out" in *"0 architectures scored"*) ;; *) fail "the resume computed scores again: $out";; esac
[ "$(record full)" = "$(record part)" ] || fail "the resumed run's record differs from the uninterrupted one"
cmp -s full/trials.tsv part/trials.tsv || fail "trials.tsv differs after the resume"

expect 0 "zero-cost proxies:" "$cf" search $common --strategy random --proxy-pool 4 --proxy naswot --trials 6 --out pool
n=$(grep -c '"event":"proxy_scored"' pool/journal.jsonl)
[ "$n" -ge 12 ] || fail "a pool of 4 over 6 trials scored only $n archs (candidates met again come from the cache)"
grep '"event":"proxy_scored"' pool/journal.jsonl | head -1 | grep -q '"synflow"' && fail "naswot alone also computed synflow"
expect 0 "zero-cost proxies:" "$cf" search $common --strategy nsga2 --warmup 20 --proxy-pool 2 --trials 10 --out vote
grep '"event":"proxy_scored"' vote/journal.jsonl | head -1 | grep -q '"snip":.*"synflow":.*"naswot":' ||
    fail "the default vote did not score snip, synflow and naswot"
expect 0 "zero-cost proxies:" "$cf" search $common --strategy bananas --strategy-options init=4,candidates=8,steps=20 \
    --proxy synflow --trials 10 --out bananas

expect 0 "pareto front" "$cf" search $common --strategy nsga2 --objectives acc,synflow --trials 8 --out objective
n=$(grep '"event":"trial_proposed"' objective/journal.jsonl | grep -c '"proxy":')
[ "$n" = 8 ] || fail "$n of 8 proposals carry the proxy objective"

expect 2 "did you mean 'synflow'" "$cf" search $common --proxy synflw --warmup 5 --trials 1 --out none
expect 2 "without --warmup" "$cf" search $common --warmup-keep 3 --trials 1 --out none
expect 2 "is more than --warmup" "$cf" search $common --warmup 3 --warmup-keep 5 --trials 1 --out none
expect 2 "takes no zero-cost warm-up" "$cf" search $common --strategy grid --warmup 5 --trials 1 --out none
expect 2 "one zero-cost proxy at most" "$cf" search $common --objectives acc,synflow,naswot --trials 1 --out none
expect 2 "did you mean 'naswot'" "$cf" search $common --objectives acc,naswt --trials 1 --out none
echo "all ok"
