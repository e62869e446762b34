#!/bin/sh
# cli_hparams.sh CELLFORGE SPACE_JSON WORKDIR - training knobs and skeleton
# options searched with the architecture (`search --search KEY=SPEC`): every
# strategy runs such a search (a small Python script as the cmd: evaluator
# checks that each trial's JSON carries the arch's values), a stopped and
# resumed run equals an uninterrupted one, usage errors name the flag, and a
# real tiny joint search trains on Fashion-MNIST with each trial's own lr,
# width, batch, augmentation and epochs, retrains its best model and reports.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cf=$1; space=$2; dir=$3
mkdir -p "$dir"; cd "$dir" || exit 1
rm -rf s-* full part real seen-* trainer.py
. "$here/cli_lib.sh"
command -v python3 > /dev/null || { echo "python3 missing: skipped"; exit 77; }

cat > trainer.py <<'PY'
import json, math, sys
t = json.load(sys.stdin)
hp = t["hparams"]
# the values in the JSON are the ones in the arch text
block = t["arch"].rsplit(" {", 1)[1].rstrip("}")
text = dict(kv.split("=") for kv in block.split(","))
assert set(text) == set(hp), (text, hp)
assert float(text["lr"]) == hp["lr"] == t["lr"], (text, hp, t["lr"])
assert int(text["C"]) == hp["C"] == t["options"]["C"], (text, hp, t["options"])
assert int(text["batch"]) == hp["batch"] == t["batch"], (text, t["batch"])
assert text["augment"] == hp["augment"] and hp["augment"] in ("none", "flip", "crop+flip")
with open(sys.argv[1], "a") as f:
    f.write("%s %d %d\n" % (t["arch"], t["epochs"], t["params"]))
acc = 0.9 - 0.1 * abs(math.log(hp["lr"] / 0.1)) - 0.01 * (8 - hp["C"]) - (0 if hp["augment"] == "flip" else 0.05)
print(json.dumps({"acc": max(acc, 0.0)}))
PY
dims="--search lr=log:0.01..1 --search C=int:2..8 --search batch=choice:32,64 --search augment=choice:none,flip,crop+flip"

# every strategy proposes archs with values, and varies them
for st in random grid evolution local sh hyperband asha bananas nsga2; do
    case $st in
        evolution) opts="population=6,sample=3" ;;
        bananas) opts="init=6,candidates=30,steps=20" ;;
        nsga2) opts="population=6" ;;
        *) opts="" ;;
    esac
    expect 0 "12 trials: 12 ok" "$cf" search --space "$space" $dims --evaluator "cmd:python3 trainer.py seen-$st" \
        --strategy "$st" --strategy-options "$opts" --epochs 3 --trials 12 --seed 5 --retrain 0 --quiet --out "s-$st"
    n=$(sed 's/.* {//' "seen-$st" | sort -u | wc -l)
    [ "$n" -ge 3 ] || fail "$st proposed only $n distinct value sets"
done
# the epochs are the arch's where searched and no multi-fidelity strategy sets them
expect 0 "6 trials: 6 ok" "$cf" search --space "$space" $dims --search epochs=int:1..3 \
    --evaluator "cmd:python3 trainer.py seen-epochs" --strategy random --trials 6 --retrain 0 --quiet --out s-epochs
while read -r line; do
    epochs=$(echo "$line" | awk '{print $(NF-1)}')
    want=$(echo "$line" | sed 's/.*epochs=\([0-9]*\).*/\1/')
    [ "$want" = "$epochs" ] || fail "trial $line ran $epochs epochs"
done < seen-epochs

# a run stopped at 5 trials and resumed to 14 equals one run of 14 (local search:
# its proposals follow the results; evolution proposes ahead of results in flight,
# so a run stopped between two proposals may go on differently)
record() {
    python3 - "$1/journal.jsonl" <<'PY'
import json, sys
arch, out = {}, []
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["event"] == "trial_proposed": arch[e["id"]] = e["arch"]
    if e["event"] == "trial_finished": out.append("%d %s %s %r" % (e["id"], arch[e["id"]], e["status"], e["val_acc"]))
print("\n".join(sorted(out)))
PY
}
resumable() {
    "$cf" search --space "$space" $dims --evaluator "cmd:python3 trainer.py seen-resume" --strategy local \
        --seed 9 --retrain 0 --quiet "$@" > /dev/null
}
resumable --trials 14 --out full || fail "the uninterrupted run"
resumable --trials 5 --out part || fail "the first part"
"$cf" search --resume part --trials 14 --quiet > /dev/null || fail "the resume"
record full > full.txt; record part > part.txt
[ "$(wc -l < full.txt)" = 14 ] || fail "the uninterrupted run recorded $(wc -l < full.txt) trials"
cmp -s full.txt part.txt || { diff full.txt part.txt | head -5; fail "the resumed run differs"; }
grep -q " {lr=" full.txt || fail "the journal's archs carry no values"
echo "ok: a resumed run with hyperparameters equals an uninterrupted one"

# usage errors name the flag and what was expected
expect 2 "--search lrr=0..1: unknown hyperparameter 'lrr' (did you mean 'lr'?)" \
    "$cf" search --space "$space" --search lrr=0..1 --trials 1 --out none
expect 2 "outside the range of option C" "$cf" search --space "$space" --search C=int:1..100 --trials 1 --out none
expect 2 "expected KEY=SPEC" "$cf" search --space "$space" --search lr --trials 1 --out none
expect 1 "cannot score the hyperparameters" "$cf" search --space "$space" --search lr=0.01..0.1 \
    --evaluator table:nothing.tsv --trials 1 --out none
# cost builds the arch's network: C=8 has more parameters than C=2
arch=$(head -1 seen-random | sed 's/ {.*//')
p2=$("$cf" cost --space "$space" --search C=int:2..8 --json "$arch {C=2}" | sed 's/.*"params":\([0-9]*\).*/\1/')
p8=$("$cf" cost --space "$space" --search C=int:2..8 --json "$arch {C=8}" | sed 's/.*"params":\([0-9]*\).*/\1/')
p8set=$("$cf" cost --space "$space" --set C=8 --json "$arch" | sed 's/.*"params":\([0-9]*\).*/\1/')
[ "$p8" = "$p8set" ] && [ "$p2" -lt "$p8" ] || fail "cost: C=2 $p2, C=8 $p8, --set C=8 $p8set params"

# a real joint search: Fashion-MNIST, a sliver of each epoch, the best model retrained and exported
data=/usr/share/datasets/fashion-mnist
[ -f "$data/train-images-idx3-ubyte.gz" ] || { echo "Fashion-MNIST missing: the rest skipped"; exit 0; }
expect 0 "6 trials: 6 ok" "$cf" search --space "$space" --search lr=log:0.02..0.2 --search C=int:2..4 \
    --search batch=choice:32,64 --search augment=choice:none,flip --search epochs=int:1..2 --strategy evolution \
    --strategy-options population=3,sample=2 --fraction 0.02 --val-fraction 0.02 --trials 6 --cpu-workers 1 \
    --retrain 1 --retrain-epochs 1 --retrain-fraction 0.02 --seed 3 --quiet --out real
python3 - real/journal.jsonl <<'PY' || fail "the trials did not run with their arch's batch and epochs"
import json, sys
arch = {}
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["event"] == "trial_proposed" and e["id"] < 6:
        arch[e["id"]] = e["arch"]
        want = int(e["arch"].split("epochs=")[1].rstrip("}"))
        assert e["epochs"] == want, (e["epochs"], e["arch"])
    if e["event"] == "trial_finished" and e["id"] in arch:
        want = int(arch[e["id"]].split("batch=")[1].split(",")[0])
        assert e["batch"] == want and e["status"] == "ok", (e, arch[e["id"]])
PY
expect 0 "{lr=" "$cf" status real
expect 0 "params" "$cf" cost --from real
grep -q "validation accuracy against lr" real/report.html || fail "the report has no hyperparameter plots"
echo "ok: hyperparameters searched with the architecture"
