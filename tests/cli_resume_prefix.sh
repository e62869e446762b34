#!/bin/sh
# cli_resume_prefix.sh CELLFORGE SPACE_JSON WORKDIR [TRIALS] - every way a run can
# be cut short, resumed: for each strategy, a finished run with the table
# evaluator (a table written here, with out-of-memory and failed rows), hard
# constraints that reject proposals and a memory limit that halves batches at
# placement, is cut at every line boundary of its journal (and once inside its
# last line); each prefix is resumed and its record must equal the uninterrupted
# run's exactly: the trial_finished and trial_rejected events in order (without
# seq, wall time and crc; the clock is simulated) and trials.tsv byte for byte.
# An empty prefix must be refused. Last, an nb101 run whose networks often cannot
# be built. TRIALS (default 10) sets the length of each run (the slow variant
# passes more); STRATS="random asha" runs only those strategies.
set -u
cf=$1; space=$2; dir=$3; trials=${4:-10}
mkdir -p "$dir"; cd "$dir" || exit 1
rm -rf full cut t.tsv
fail() { echo "FAIL: $*"; exit 1; }

# the table: every arch of the test space at epochs 1..9, a seeded accuracy and
# time; a few rows out of memory (the trial retries at half the batch) or failed
"$cf" space sample "$space" --count 500 --seed 1 | sort -u > archs.txt
[ "$(wc -l < archs.txt)" = 27 ] || fail "the test space did not give its 27 archs"
awk 'BEGIN { printf "# space tiny201\narch\tepochs\tfraction\tstatus\tval_acc\ttrain_seconds\n" }
     { for (e = 1; e <= 9; e++) {
           s = (NR * 7 + e * 3) % 23 == 0 ? "oom" : (NR * 5 + e) % 31 == 0 ? "error" : "ok"
           printf "%s\t%d\t1\t%s\t%.4f\t%.2f\n", $0, e, s, 0.5 + ((NR * 37 + e * 11) % 41) / 100, (1 + NR % 5) * e * 0.75
       } }' archs.txt > t.tsv

# the record: results in the order they were told; trials.tsv as it is
record() {
    grep -E '"event":"trial_(finished|rejected)"' "$1/journal.jsonl" |
        sed 's/"seq":[0-9]*,//; s/"time":[0-9.]*,//; s/,"crc":"[0-9a-f]*"//'
}

cases=0; diffs=0; refused=0
check_prefix() { # check_prefix STRATEGY LABEL: resume cut/ and compare with full/
    # the exit status is the uninterrupted run's (1 when no trial finished ok): the record decides
    out=$("$cf" search --resume cut --quiet 2>&1); code=$?
    cases=$((cases + 1))
    record cut > cut.txt
    if [ $code != "$full_code" ] || ! cmp -s full.txt cut.txt || ! cmp -s full/trials.tsv cut/trials.tsv; then
        diffs=$((diffs + 1))
        echo "DIFF $1 $2 (exit $code, want $full_code):"; echo "$out" | tail -2
        diff full.txt cut.txt | head -4; diff full/trials.tsv cut/trials.tsv | head -4
    fi
}

# prefixes LABEL SEARCH_ARGS...: the uninterrupted run, then every prefix of its journal resumed
prefixes() {
    label=$1; shift
    rm -rf full
    "$cf" search "$@" --seed 11 --quiet --out full >/dev/null 2>full.err; full_code=$?
    grep -q '"event":"run_stopped"' full/journal.jsonl && [ $full_code -le 1 ] || { cat full.err; fail "$label: the uninterrupted run"; }
    record full > full.txt
    lines=$(wc -l < full/journal.jsonl)
    echo "$label: $lines journal lines, $(grep -c '"event":"trial_finished"' full/journal.jsonl) finished," \
         "$(grep -c '"event":"trial_rejected"' full/journal.jsonl) rejected, $(grep -c '"event":"trial_retry"' full/journal.jsonl) retries"
    k=0
    while [ $k -le "$lines" ]; do
        rm -rf cut; mkdir cut
        cp full/spec.json full/trials.tsv cut/
        head -n $k full/journal.jsonl > cut/journal.jsonl
        if [ $k = 0 ]; then
            # an empty journal is no run: refused, and nothing is overwritten
            out=$("$cf" search --resume cut --quiet 2>&1) && fail "$label: an empty journal was resumed"
            case "$out" in *"journal is empty"*) ;; *) echo "$out"; fail "$label: no 'journal is empty' in the refusal";; esac
            cmp -s full/trials.tsv cut/trials.tsv || fail "$label: the refused resume changed trials.tsv"
            refused=$((refused + 1))
        else
            check_prefix "$label" "cut after line $k"
        fi
        k=$((k + 1))
    done
    # inside the last line: torn, dropped, written again
    rm -rf cut; mkdir cut
    cp full/spec.json full/trials.tsv cut/
    size=$(wc -c < full/journal.jsonl)
    head -c $((size - 20)) full/journal.jsonl > cut/journal.jsonl
    check_prefix "$label" "torn last line"
}

for strategy in ${STRATS:-random grid evolution local sh hyperband asha bananas nsga2}; do
    case $strategy in
        random|evolution) opts="--strategy-options dedup=0" ;;
        grid) opts="--strategy-options shuffle=1" ;;
        sh|hyperband|asha) opts="--strategy-options eta=3,sample=3" ;;
        bananas) opts="--strategy-options ensemble=2,init=4,candidates=20,parents=4,steps=20" ;;
        nsga2) opts="--strategy-options population=4 --objectives acc,params" ;;
        *) opts="" ;;
    esac
    # --max-params rejects proposals; --cpu-memory halves batches at placement
    prefixes $strategy --space "$space" --evaluator "table:$dir/t.tsv" --strategy $strategy $opts --epochs 9 --fraction 1 \
        --trials "$trials" --cpu-workers 2 --cpu-memory 60M --min-batch 16 --oom-retries 2 --max-params 9K
done
# NAS-Bench-101 cells with 2 stem channels: the networks of many archs cannot be
# built (their channels do not split among the vertices); such a trial is an error
# (the one row gives the table its fidelity; other archs are "not in the table")
printf '# space nb101\narch\tepochs\tval_acc\ttrain_seconds\n' > n.tsv
printf '%s\t1\t0.5\t1\n' '{"matrix":[[0,1,1,1,1,0,1],[0,0,0,0,0,1,0],[0,0,0,1,1,0,1],[0,0,0,0,0,1,1],[0,0,0,0,0,0,1],[0,0,0,0,0,0,0],[0,0,0,0,0,0,0]],"ops":["input","conv1x1-bn-relu","maxpool3x3","conv1x1-bn-relu","conv3x3-bn-relu","conv1x1-bn-relu","output"]}' >> n.tsv
prefixes nb101-unbuildable --space nb101 --set stem_channels=2 --set stacks=1 --set cells_per_stack=1 \
    --evaluator "table:$dir/n.tsv" --strategy random --epochs 1 --fraction 1 --trials "$trials" --cpu-workers 2
echo "resume prefixes: $cases cases, $diffs differences, $refused empty journals refused"
[ $diffs = 0 ] || fail "$diffs resumed prefixes differ from the uninterrupted runs"
echo "all ok"
