#!/bin/sh
# cli_cmd_eval.sh CELLFORGE WORKDIR - `cellforge search --evaluator cmd:COMMAND`: a
# program trains each trial (here a small Python script standing in for a user's
# trainer), reading the trial as JSON on stdin and answering with a JSON line. A
# command that fails, prints no JSON, answers out of range or hangs fails only its
# trial, with the reason; the run resumes and reports like any other.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cf=$1; dir=$2
mkdir -p "$dir"; cd "$dir" || exit 1
rm -rf run hang trainer.py seen
. "$here/cli_lib.sh"
command -v python3 > /dev/null || { echo "python3 missing: skipped"; exit 77; }
cat > trainer.py <<'PY'
import json, os, sys, time
t = json.load(sys.stdin)
for key in ("trial", "arch", "space", "options", "epochs", "fraction", "batch", "seed", "device", "input"):
    assert key in t, key
assert os.environ["CELLFORGE_TRIAL"] == str(t["trial"])
with open("seen", "a") as f:
    f.write("%d %s %s\n" % (t["trial"], t["device"], t["arch"]))
mode = sys.argv[1] if len(sys.argv) > 1 else ""
n = t["trial"]
if mode == "hang" and n == 1:
    time.sleep(600)
if n == 2:
    print("cannot train this one", file=sys.stderr)
    sys.exit(3)
if n == 3:
    print("no result here")
    sys.exit(0)
if n == 4:
    print(json.dumps({"acc": 7}))
    sys.exit(0)
print("epoch 1 done")
print(json.dumps({"acc": 0.5 + 0.01 * n, "loss": 1.25, "note": "fine", "curve": [1, 2]}))
PY
expect 0 "8 trials: 5 ok, 3 failed" "$cf" search --evaluator "cmd:python3 trainer.py" --trials 8 --out run
grep -q '"reason":"the command exited with status 3; stderr: cannot train this one"' run/journal.jsonl ||
    fail "the failing command's reason is not in the journal"
grep -q 'no JSON line on stdout' run/journal.jsonl || fail "a command without a JSON line is not named"
grep -q '\\"acc\\" is 7, expected an accuracy in \[0, 1\]' run/journal.jsonl || fail "an accuracy of 7 is not refused"
grep -q '"id":7,"status":"ok","reason":"","val_acc":0.57' run/journal.jsonl || fail "trial 7's result is not recorded"
grep '"id":7,"status":"ok"' run/journal.jsonl | grep -q '"metrics":{"loss":1.25,"note":"fine"}' ||
    fail "trial 7's other keys are not recorded as its metrics"
[ "$(wc -l < seen)" = 8 ] || fail "the trainer ran $(wc -l < seen) times, want 8"
expect 0 "final: no retraining with the cmd evaluator" "$cf" search --resume run --trials 10
[ "$(wc -l < seen)" = 10 ] || fail "the resumed run ran the trainer $(wc -l < seen) times in all, want 10"
expect 0 "trials    10: 7 ok, 3 failed" "$cf" status run
expect 0 "wrote run/report.html" "$cf" report run
# a command that hangs is killed at the trial's time limit (the end of --time); the
# others go on beside it
t0=$(date +%s)
expect 0 "ran past the trial's time limit" "$cf" search --evaluator "cmd:python3 trainer.py hang" --time 6s \
    --cpu-workers 2 --retrain 0 --out hang
t1=$(date +%s)
[ $((t1 - t0)) -le 20 ] || fail "the search with a hanging command took $((t1 - t0)) s"
expect 2 "the command is empty" "$cf" search --evaluator "cmd:" --trials 1 --out none
