#!/bin/sh
# cli_run_state.sh CELLFORGE SPACE_JSON WORKDIR - what a run directory says about
# itself is true: an empty journal is refused by status and resume (naming the
# file, trials.tsv untouched); status counts a final model as tested only when it
# was; status names each worker's device, its busy share and the trials on it
# with their slots (also for a journal of an older version); --oom-retries
# bounds the batch halvings at placement; a new run that
# cannot be written leaves no directory under its name, and a directory without
# spec.json is named as not a run. The full-filesystem part needs a tmpfs (root)
# and is skipped without one; the rest runs everywhere.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cf=$1; space=$2; dir=$3
mkdir -p "$dir"; cd "$dir" || exit 1
. "$here/cli_lib.sh"
umount small 2>/dev/null; rm -rf run empty oom small notrun t.tsv gpus gpus-old

printf '# space tiny201\narch\tepochs\tval_acc\ttrain_seconds\n' > t.tsv
printf '|none~0|+|none~0|none~1|\t1\t0.5\t2\n|skip_connect~0|+|none~0|none~1|\t1\t0.6\t3\n' >> t.tsv
printf '|nor_conv_3x3~0|+|none~0|none~1|\t1\t0.7\t5\n' >> t.tsv
common="--space $space --evaluator table:$dir/t.tsv --strategy evolution --strategy-options population=3,sample=2,dedup=0
        --epochs 1 --fraction 1 --cpu-workers 2 --seed 5 --quiet"
"$cf" search $common --trials 40 --out run >/dev/null 2>&1

# an empty journal: no run to show or resume, and trials.tsv stays as it was
cp -r run empty
: > empty/journal.jsonl
expect 1 "empty/journal.jsonl: the journal is empty" "$cf" status empty
expect 1 "empty/journal.jsonl: the journal is empty" "$cf" search --resume empty
cmp -s run/trials.tsv empty/trials.tsv || fail "a refused resume rewrote trials.tsv"

# the final phase as status reads it: one model tested, one failed (a full disk)
if command -v python3 >/dev/null; then
    python3 - run/journal.jsonl <<'EOF'
import json, sys, zlib
path = sys.argv[1]
seq = json.loads(open(path).read().splitlines()[-1])["seq"] + 1
with open(path, "a") as f:
    for event, fields in [("final_started", '"id":1,"epochs":1'), ("final_started", '"id":2,"epochs":1'),
                          ("final_finished", '"id":1,"status":"ok","reason":"","val_acc":0.7,"test_acc":0.69,"seconds":1'),
                          ("final_finished", '"id":2,"status":"error","reason":"disk is full","val_acc":-1,"test_acc":-1,"seconds":1')]:
        line = '{"seq":%d,"event":"%s","time":1.000,"clock":9,%s,' % (seq, event, fields)
        f.write(line + '"crc":"%08x"}\n' % zlib.crc32(line.encode()))
        seq += 1
EOF
    expect 0 "final     1 of 2 models retrained and tested, 1 failed" "$cf" status run

    # the devices: each worker's device (rank and host over MPI ranks), its busy
    # share, the trials on it now with their slots; the story and its figures are
    # in tests/devices_run.py
    rm -rf gpus gpus-old
    python3 "$here/devices_run.py" run gpus || fail "devices_run.py"
    out=$("$cf" status gpus) || { echo "$out"; fail "status gpus"; }
    for want in "devices   busy: the share of the run clock (40.0 s) with a trial on the device" \
        "  cuda:0     NVIDIA H200, 8 slots            rank 0, host node-a  busy  75.0%  running trial 7 (slot 0), trial 4 (slot 1)" \
        "  cuda:1     NVIDIA H200, 8 slots            rank 1, host node-b  busy  50.0%  running trial 6 (slot 3)" \
        "  trial 4     on cuda:0 slot 1, epoch 1 of 1" "  trial 6     on cuda:1 slot 3, epoch 0 of 1"; do
        case "$out" in *"$want"*) ;; *) echo "$out"; fail "status gpus: no '$want'";; esac
    done
    # a journal of an older version: no device names or slots, the same busy shares
    python3 "$here/devices_run.py" run gpus-old --old || fail "devices_run.py --old"
    out=$("$cf" status gpus-old) || { echo "$out"; fail "status gpus-old"; }
    for want in "  worker 0   (device not recorded)           busy  75.0%  running trial 4, trial 7" \
        "  worker 1   (device not recorded)           busy  50.0%  running trial 6" "  trial 4     on worker 0, epoch 1"; do
        case "$out" in *"$want"*) ;; *) echo "$out"; fail "status gpus-old: no '$want'";; esac
    done
    echo "ok: status shows the devices"
fi
# a real run: its two CPU workers by name and device, their busy shares
out=$("$cf" status run)
echo "$out" | grep -q '^  cpu:0      .*, 1 thread  *busy  *[0-9.]*%' || { echo "$out"; fail "status run: no line for cpu:0"; }
echo "$out" | grep -q '^  cpu:1      .*, 1 thread  *busy  *[0-9.]*%' || { echo "$out"; fail "status run: no line for cpu:1"; }

# --oom-retries 1: at most one halving of the batch per trial, also at placement
"$cf" search $common --trials 10 --cpu-memory 25M --min-batch 16 --oom-retries 1 --out oom >/dev/null 2>&1
most=$(grep '"event":"trial_retry"' oom/journal.jsonl | sed 's/.*"id":\([0-9]*\),.*/\1/' | sort | uniq -c | sort -n | tail -1 | awk '{print $1}')
[ "${most:-0}" = 1 ] || fail "a trial was retried ${most:-0} times under --oom-retries 1, want at most 1 (and some retry)"
grep -q "\"status\":\"oom\",\"reason\":\"out of memory: needs" oom/journal.jsonl || fail "no trial ran out of retries"
echo "ok: --oom-retries 1 holds at placement"

# a directory with something in it but no spec.json is not a run
mkdir -p notrun; echo x > notrun/notes.txt
expect 2 "notrun exists and is not a run directory (no spec.json)" "$cf" search $common --trials 3 --out notrun
[ ! -e notrun/spec.json ] && [ -f notrun/notes.txt ] || fail "a refused run touched notrun"

# a new run that cannot be written (a full filesystem) leaves nothing under its name
mkdir -p small
if mount -t tmpfs -o size=4k tmpfs small 2>/dev/null; then
    "$cf" search $common --trials 3 --out small/run >/dev/null 2>&1 && { umount small; fail "a run on a full filesystem succeeded"; }
    left=$(ls -A small)
    umount small
    [ -z "$left" ] || fail "a run that could not be written left: $left"
    echo "ok: no half-made run directory on a full filesystem"
else
    echo "cannot mount a tmpfs here: the full-filesystem part is skipped"
fi
echo "all ok"
