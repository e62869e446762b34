#!/bin/sh
# cli_resume.sh CELLFORGE SPACE_JSON WORKDIR - kill -9 a search at random moments,
# resume it each time, and check that the final record equals an uninterrupted
# run's: the same trials with the same results at the same simulated times, none
# lost, none twice. Then the same with real training: a trial killed mid-way
# continues from its last epoch. KILLS (default 8) sets the number of kills:
#   KILLS=200 tests/cli_resume.sh build/cellforge tests/data/tiny201.json /tmp/kills
set -u
cf=$1; space=$2; dir=$3
mkdir -p "$dir"; cd "$dir" || exit 1
rm -rf full killed train t.tsv
fail() { echo "FAIL: $*"; exit 1; }
rand() { od -An -N2 -tu2 /dev/urandom | tr -d ' '; }

"$cf" tabulate --space "$space" --epochs 1 --fraction 0.02 --val-fraction 0.01 --batch 64 --cpu-workers 2 \
    --out t.tsv --quiet >/dev/null || fail "tabulate"
common="--space $space --evaluator table:t.tsv --epochs 1 --fraction 0.02 --strategy evolution
        --strategy-options population=6,sample=3,dedup=0 --trials 3000 --cpu-workers 3 --seed 7 --quiet"
"$cf" search $common --out full >/dev/null || fail "the uninterrupted run"

# every finished trial without the fields that differ between runs (seq, wall time, crc)
record() { grep '"event":"trial_finished"' "$1/journal.jsonl" | sed 's/"seq":[0-9]*,//; s/"time":[0-9.]*,//; s/,"crc":"[0-9a-f]*"//' | sort; }

kills=0
unborn=0   # starts killed before the run directory appeared (it appears whole, with spec.json)
while [ $kills -lt "${KILLS:-8}" ]; do
    ms=$(( $(rand) % 700 + 20 ))
    if [ -f killed/spec.json ]; then
        timeout -s KILL "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))" "$cf" search --resume killed --quiet >/dev/null 2>&1
    else
        # each start killed that early gets half a second more (a slow build, e.g. under sanitizers)
        ms=$((ms + 500 * unborn))
        rm -rf killed .killed.new-*
        timeout -s KILL "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))" "$cf" search $common --out killed >/dev/null 2>&1
        [ -f killed/spec.json ] || unborn=$((unborn + 1))
    fi
    kills=$((kills + 1))
done
[ -f killed/spec.json ] || fail "no run was ever started in $kills tries"
"$cf" search --resume killed --quiet >/dev/null || fail "the last resume"
n=$(record full | wc -l)
[ "$n" = 3000 ] || fail "the uninterrupted run finished $n trials, want 3000"
dups=$(grep '"event":"trial_finished"' killed/journal.jsonl | sed 's/.*"id":\([0-9]*\),.*/\1/' | sort | uniq -d | wc -l)
[ "$dups" = 0 ] || fail "$dups trials finished twice after the resumes"
record full > full.txt; record killed > killed.txt
cmp -s full.txt killed.txt || { diff full.txt killed.txt | head -5; fail "killed and resumed run differs"; }
resumes=$(grep -c '"event":"run_started"' killed/journal.jsonl)
echo "ok: 3000 trials equal after $kills kills ($resumes starts)"
"$cf" status killed | grep -q "state     stopped" || fail "status after the end"

# real training: kill while the first trials train, resume, no epoch trained twice
# long enough (4 trials of 6 epochs) that the search is still running when status and kill come
train="--space $space --epochs 6 --fraction 0.05 --val-fraction 0.01 --batch 64 --trials 4 --cpu-workers 2 --seed 3 --retrain 0 --quiet"
"$cf" search $train --out train >/dev/null 2>&1 &
pid=$!
# up to two minutes: sanitizer builds on a loaded machine train slowly
for i in $(seq 1 2400); do
    grep -q '"event":"trial_epoch"' train/journal.jsonl 2>/dev/null && break
    sleep 0.05
done
"$cf" status train | grep -q "state     running" || fail "status of a running search"
kill -9 $pid; wait $pid 2>/dev/null
grep -q '"event":"trial_epoch"' train/journal.jsonl || fail "no epoch finished before the kill"
"$cf" status train | grep -q "stopped before the end" || fail "status of the killed training run"
"$cf" search --resume train --quiet >/dev/null || fail "resume of the training run"
fin=$(grep -c '"event":"trial_finished"' train/journal.jsonl)
[ "$fin" = 4 ] || fail "$fin trials finished, want 4"
twice=$(grep '"event":"trial_epoch"' train/journal.jsonl | sed 's/.*"id":\([0-9]*\),"epoch":\([0-9]*\),.*/\1 \2/' | sort | uniq -d | wc -l)
[ "$twice" = 0 ] || fail "$twice epochs were trained twice: a killed trial restarted from zero"
echo "ok: training resumed from epoch checkpoints"
echo "all ok"
