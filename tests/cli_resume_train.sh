#!/bin/sh
# cli_resume_train.sh CELLFORGE SPACE_JSON WORKDIR [KILLS] - real training, the
# final phase included, killed with SIGKILL at random moments and resumed each
# time until it ends: every trial's result and every final model's accuracies
# must equal an uninterrupted run's, bit for bit, none lost, none twice.
# KILLS (default 12) caps the kills; the run is then resumed to its end.
# Needs Fashion-MNIST (Debian's dataset-fashion-mnist); skipped (77) without it.
set -u
cf=$1; space=$2; dir=$3; max_kills=${4:-12}
mkdir -p "$dir"; cd "$dir" || exit 1
rm -rf full killed .killed.new-*
fail() { echo "FAIL: $*"; exit 1; }
rand() { od -An -N2 -tu2 /dev/urandom | tr -d ' '; }
[ -r /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || { echo "skipped: no Fashion-MNIST"; exit 77; }

# one worker and one thread: a run's numbers are then a function of its seed alone
common="--space $space --epochs 3 --fraction 0.02 --val-fraction 0.01 --batch 64 --trials 8 --cpu-workers 1
        --threads 1 --seed 11 --strategy evolution --strategy-options population=3,sample=2
        --retrain 2 --retrain-epochs 2 --retrain-fraction 0.02 --quiet"
# shellcheck disable=SC2086
"$cf" search $common --out full >/dev/null || fail "the uninterrupted run"

# what a trial and a final model came to, without wall times
record() {
    grep '"event":"trial_finished"' "$1/journal.jsonl" |
        sed 's/.*\("id":[0-9]*,"status":.*"epochs_done":[0-9]*\).*/\1/' | sort
    for f in "$1"/final/*/test.json; do
        [ -f "$f" ] || continue
        printf '%s ' "$f" | sed "s|^$1/||"
        grep -o '"\(val_acc\|test_acc\)": [0-9.e-]*' "$f" | tr '\n' ' '
        echo
    done
}

kills=0; starts=0; ended=0
while [ $ended = 0 ] && [ $starts -lt $((max_kills * 3)) ]; do
    ms=$(( $(rand) % 3500 + 500 ))
    t=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
    [ $kills -ge "$max_kills" ] && t=600   # enough kills: let it end
    starts=$((starts + 1))
    if [ -f killed/spec.json ]; then
        # shellcheck disable=SC2086
        timeout -s KILL "$t" "$cf" search --resume killed --quiet >/dev/null 2>&1
    else
        rm -rf killed .killed.new-*
        # shellcheck disable=SC2086
        timeout -s KILL "$t" "$cf" search $common --out killed >/dev/null 2>&1
    fi
    rc=$?
    if [ $rc = 137 ]; then kills=$((kills + 1)); else ended=1; fi
done
[ $ended = 1 ] || fail "the killed run did not end in $starts starts"
[ $rc = 0 ] || fail "the last resume ended with $rc"
dups=$(grep '"event":"trial_finished"' killed/journal.jsonl | sed 's/.*"id":\([0-9]*\),.*/\1/' | sort | uniq -d | wc -l)
[ "$dups" = 0 ] || fail "$dups trials finished twice"
record full > full.txt; record killed > killed.txt
n=$(grep -c '"id"' full.txt); m=$(grep -c 'test_acc' full.txt)
[ "$n" = 8 ] && [ "$m" = 2 ] || { cat full.txt; fail "the uninterrupted run has $n trials and $m final models, want 8 and 2"; }
cmp -s full.txt killed.txt || { diff full.txt killed.txt | head -8; fail "the killed and resumed run differs"; }
echo "ok: $n trials and $m final models equal bit for bit after $kills kills in $starts starts"
echo "all ok"
