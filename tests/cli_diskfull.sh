#!/bin/sh
# cli_diskfull.sh CELLFORGE SPACE_JSON WORKDIR - a search whose run directory fills
# a small filesystem (a size-limited tmpfs) stops with a clear error, keeps
# everything it wrote, and once there is room again resumes to the same record
# as a run that never ran out of space. Needs permission to mount a tmpfs (root);
# exits 77 (skipped) without it.
set -u
cf=$1; space=$2; dir=$3
mkdir -p "$dir"; cd "$dir" || exit 1
fail() { echo "FAIL: $*"; umount "$dir/small" 2>/dev/null; exit 1; }
rm -rf full t.tsv; umount small 2>/dev/null; mkdir -p small
mount -t tmpfs -o size=96k tmpfs small 2>/dev/null || { echo "cannot mount a tmpfs here: skipped"; exit 77; }

# a table written by hand: 3 cells of the test space (the search repeats them)
printf '# space tiny201\narch\tepochs\tval_acc\ttrain_seconds\n' > t.tsv
printf '|none~0|+|none~0|none~1|\t1\t0.5\t2\n|skip_connect~0|+|none~0|none~1|\t1\t0.6\t3\n' >> t.tsv
printf '|nor_conv_3x3~0|+|none~0|none~1|\t1\t0.7\t5\n' >> t.tsv
common="--space $space --evaluator table:$dir/t.tsv --strategy evolution --strategy-options population=3,sample=2,dedup=0
        --trials 600 --cpu-workers 2 --seed 5 --quiet"
# the other cells of the space are not in the table: those trials fail as errors,
# which the record compares like any other result
"$cf" search $common --out full >/dev/null 2>&1 || true
out=$("$cf" search $common --out small/run 2>&1); code=$?
[ $code = 1 ] || { echo "$out"; fail "a full disk: exit $code, want 1"; }
case "$out" in *"disk is full"*) ;; *) echo "$out"; fail "no 'disk is full' in the message";; esac
"$cf" status small/run >/dev/null || fail "status of the run that filled the disk"
mount -o remount,size=16m small || fail "remount"
"$cf" search --resume small/run --quiet >/dev/null 2>&1
record() { grep '"event":"trial_finished"' "$1/journal.jsonl" | sed 's/"seq":[0-9]*,//; s/"time":[0-9.]*,//; s/,"crc":"[0-9a-f]*"//' | sort; }
record full > a.txt; record small/run > b.txt
umount small
[ "$(wc -l < a.txt)" -gt 100 ] || fail "the reference run finished $(wc -l < a.txt) trials"
cmp -s a.txt b.txt || { diff a.txt b.txt | head -4; fail "the run that filled the disk differs after resuming"; }
echo "ok: a full disk stopped the search cleanly and the resumed run equals the reference ($(wc -l < a.txt) trials)"
