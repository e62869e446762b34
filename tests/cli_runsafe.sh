#!/bin/sh
# cli_runsafe.sh CELLFORGE SOURCE_DIR WORKDIR - nothing outside a run directory is
# touched through a symlink planted in it, and concurrent commands on one run do
# not collide. Symlinks to a canary file (or folder) outside the run stand for
# lock, journal.jsonl, spec.json, trials.tsv, report.html, trials/ID, the export
# folder and the models; search --resume, report, status and export must each fail
# with a message naming the symlink or replace the link, and the canary stays as
# it was. Then 12 reports run at once on a finished run, and reports run in a loop
# beside a search that writes its own report at the end: all succeed, the page is
# whole and no temporary file is left.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cf=$1; src=$2; dir=$3
mkdir -p "$dir"; cd "$dir" || exit 1
rm -rf run r* live outside canary.txt ./*.onnx ./*.log m.cfm
. "$here/cli_lib.sh"
tables="--space $src/benchmarks/spaces/nb201-3op.json --set C=4 --set N=1 --evaluator table:$src/benchmarks/tables/nb201-3op-fmnist.tsv"
expect 0 "20 trials: 20 ok" "$cf" search $tables --fraction 0.1 --trials 20 --cpu-workers 2 --out run --quiet
echo "canary" > canary.txt; mkdir outside
untouched() {
    [ "$(cat canary.txt)" = canary ] || fail "the canary was written through a symlink ($*)"
    [ -z "$(ls outside)" ] || fail "files appeared in the folder outside the run ($*): $(ls outside)"
}
plant() { # plant RUN NAME TARGET: a copy of the run with NAME a symlink to TARGET
    rm -rf "$1"; cp -r run "$1"; rm -rf "${1:?}/$2"; ln -s "$3" "$1/$2"
}
resume() { "$cf" search --resume "$1" --trials 24 --cpu-workers 2 --quiet; }

plant r1 lock "$dir/canary.txt"
expect 1 "is a symlink" resume r1; untouched lock
plant r2 journal.jsonl "$dir/canary.txt"
expect 1 "symlink" resume r2; untouched journal resume
expect 1 "symlink" "$cf" report r2; untouched journal report
expect 1 "symlink" "$cf" status r2; untouched journal status
plant r3 spec.json "$dir/canary.txt"
expect 1 "is a symlink" resume r3; untouched spec resume
expect 1 "is a symlink" "$cf" status r3; untouched spec status
plant r4 trials.tsv "$dir/canary.txt"
expect 0 "24 trials" resume r4; untouched trials.tsv
[ -L r4/trials.tsv ] && fail "trials.tsv is still the symlink"
plant r5 report.html "$dir/canary.txt"
expect 0 "report" "$cf" report r5; untouched report.html
[ -L r5/report.html ] && fail "report.html is still the symlink"
plant r6 trials/21 "$dir/outside"
expect 0 "24 trials" resume r6; untouched trials/21
plant r7 trials "$dir/outside"
expect 1 "is a symlink" resume r7; untouched trials
# export: a model in a run directory, the run's export folder, --out
expect 0 "wrote m.cfm" "$cf" train --space nb201 --set C=4 --set N=1 --epochs 1 --fraction 0.002 --threads 1 \
    --val-fraction 0.02 --out m.cfm "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
plant r8 best.cfm "$dir/m.cfm"
expect 1 "is a symlink" "$cf" export r8 --format onnx; untouched best.cfm
plant r9 export "$dir/outside"; cp m.cfm r9/best.cfm
expect 1 "is a symlink" "$cf" export r9 --format onnx; untouched export folder
ln -s "$dir/canary.txt" out.onnx
expect 0 "out.onnx" "$cf" export m.cfm --format onnx --out out.onnx; untouched export --out
[ -L out.onnx ] && fail "out.onnx is still the symlink"

# 12 reports at once on one run
pids=""
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
    "$cf" report run >"report$i.log" 2>&1 & pids="$pids $!"
done
bad=0
for p in $pids; do wait "$p" || bad=$((bad + 1)); done
[ "$bad" = 0 ] || { cat report*.log; fail "$bad of 12 concurrent reports failed"; }
tail -c 200 run/report.html | grep -q "</html>" || fail "report.html is not whole"
ls run | grep -q "\.tmp" && fail "temporary files left: $(ls run | grep '\.tmp')"
echo "ok: 12 concurrent reports"

# reports beside a search that ends with its own report
"$cf" search $tables --fraction 0.1 --trials 60 --cpu-workers 2 --out live --quiet >search.log 2>&1 & spid=$!
while kill -0 "$spid" 2>/dev/null; do
    [ -e live/journal.jsonl ] && "$cf" report live >/dev/null 2>>reports.log
done
wait "$spid" || { cat search.log; fail "the search failed beside concurrent reports"; }
"$cf" report live >/dev/null || fail "report after the search"
tail -c 200 live/report.html | grep -q "</html>" || fail "live/report.html is not whole"
ls live | grep -q "\.tmp" && fail "temporary files left: $(ls live | grep '\.tmp')"
echo "ok: reports beside a search"
echo PASS
