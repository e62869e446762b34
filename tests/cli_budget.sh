#!/bin/sh
# cli_budget.sh CELLFORGE SPACE_JSON WORKDIR - the time budget of a search. With the
# table evaluator on one worker: a run with --time 60s cuts trials (stopped when
# the budget ends, or not started because they could not finish in the time
# left) and counts them apart from the failures (summary, run_stopped, `status`,
# the report), never as rows of trials.tsv and never told (no trial_finished);
# resumed with --time 120s it ends with the record of an uninterrupted --time
# 120s run: the trial_finished and trial_rejected events in order (without seq,
# wall time and crc) and trials.tsv byte for byte. Evolution, whose proposals
# depend on the results told; one worker, so nothing is running when the shorter
# run stops proposing and its record is a prefix of the longer run's. The same
# from --time 1s, shorter than any trial, which stops the first one. Then real
# training with --time 3s: the search phase ends within the budget.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cf=$1; space=$2; dir=$3
mkdir -p "$dir"; cd "$dir" || exit 1
rm -rf full short tiny trained archs.txt t.tsv
. "$here/cli_lib.sh"

# every arch of the test space at 3 epochs, 2 to 11 s each; a few rows out of
# memory (retried at half the batch) or failed
"$cf" space sample "$space" --count 500 --seed 1 | sort -u > archs.txt
[ "$(wc -l < archs.txt)" = 27 ] || fail "the test space did not give its 27 archs"
awk 'BEGIN { printf "# space tiny201\narch\tepochs\tfraction\tstatus\tval_acc\ttrain_seconds\n" }
     { s = NR % 11 == 0 ? "oom" : NR % 13 == 0 ? "error" : "ok"
       printf "%s\t3\t1\t%s\t%.4f\t%.2f\n", $0, s, 0.5 + ((NR * 37) % 41) / 100, (1 + NR % 5) * 2.25 }' archs.txt > t.tsv

record() {
    grep -E '"event":"trial_(finished|rejected)"' "$1/journal.jsonl" |
        sed 's/"seq":[0-9]*,//; s/"time":[0-9.]*,//; s/,"crc":"[0-9a-f]*"//'
}
common="--space $space --evaluator table:$dir/t.tsv --strategy evolution --strategy-options dedup=0 --epochs 3
        --fraction 1 --cpu-workers 1 --seed 11 --retrain 0 --quiet"

expect 0 "cut by the budget" "$cf" search $common --time 120s --out full
expect 0 "cut by the budget" "$cf" search $common --time 60s --out short
# the cut trials: counted apart and journaled as trial_cut, never finished
cut=$(echo "$out" | sed -n 's/.*failed, \([0-9]*\) cut by the budget.*/\1/p')
[ -n "$cut" ] && [ "$cut" -ge 1 ] || fail "the 60 s run cut no trial: $out"
[ "$(grep -c '"event":"trial_cut"' short/journal.jsonl)" = "$cut" ] || fail "not $cut trial_cut events in the journal"
grep -q '"event":"run_stopped".*"cut":'"$cut"',' short/journal.jsonl || fail "run_stopped does not count $cut cut"
for id in $(grep '"event":"trial_cut"' short/journal.jsonl | sed 's/.*"id":\([0-9]*\),.*/\1/'); do
    grep -q '"event":"trial_finished",.*"id":'"$id"',' short/journal.jsonl && fail "cut trial $id was told as finished"
done
finished=$(grep -c '"event":"trial_finished"' short/journal.jsonl)
[ "$(grep -c '^|' short/trials.tsv)" = "$finished" ] || fail "trials.tsv holds other rows than the $finished finished trials"
failed=$(grep '"event":"trial_finished"' short/journal.jsonl | grep -vc '"status":"ok"')
expect 0 "$failed failed, 0 running, 0 waiting, $cut cut by the budget" "$cf" status short
expect 0 "cut by the time budget (--resume with a larger --time runs them)" "$cf" status short
# the report lists them as cut, not among the failures
"$cf" report short >/dev/null 2>&1 || fail "cellforge report short"
grep -q "$cut cut by the budget" short/report.html || fail "the report does not count the cut trials"
grep -q 'class="s-cut">cut<' short/report.html || fail "the report's trial table does not show cut trials as cut"
grep -q 'class="s-bad">cut<' short/report.html && fail "the report lists cut trials among the failures"

# resumed with twice the time: the cut trials run first, the record is the 120 s run's
expect 0 "($cut cut by the budget)" "$cf" search --resume short --time 120s --quiet
record full > full.txt
record short > short.txt
cmp -s full.txt short.txt || { diff full.txt short.txt | head -6; fail "the resumed record differs from the 120 s run's"; }
cmp -s full/trials.tsv short/trials.tsv || { diff full/trials.tsv short/trials.tsv | head -6; fail "trials.tsv differs"; }
echo "ok: $cut cut at 60 s; resumed to 120 s, $(wc -l < full.txt) results equal to the uninterrupted run's"
# a budget shorter than the first trial: it is stopped there, and the resume runs
# it again from its recorded start
expect 1 "0 ok, 0 failed" "$cf" search $common --time 1s --out tiny
grep -q '"event":"trial_cut",.*"reason":"the time budget ended during training".*"attempts":1,' tiny/journal.jsonl ||
    fail "the first trial was not stopped at the 1 s budget"
expect 0 "cut by the budget" "$cf" search --resume tiny --time 120s --quiet
record tiny > tiny.txt
cmp -s full.txt tiny.txt && cmp -s full/trials.tsv tiny/trials.tsv || fail "1 s resumed to 120 s differs from the 120 s run"

# real training: the search phase ends within its budget (run_stopped's clock), give or
# take the last training step of the trials stopped there
expect 0 "cut by the budget" "$cf" search --space "$space" --epochs 1 --fraction 0.02 --val-fraction 0.01 --batch 64 \
    --cpu-workers 2 --time 3s --retrain 0 --quiet --out trained
clock=$(grep '"event":"run_stopped"' trained/journal.jsonl | sed 's/.*"clock":\([0-9.]*\),.*/\1/')
awk -v c="$clock" 'BEGIN { exit !(c <= 4) }' || fail "the 3 s search stopped at run clock $clock"
echo "all ok"
