#!/bin/sh
# cli_memlimit.sh CELLFORGE WORKDIR - training under an address-space limit
# (`ulimit -v`) ends in bounded time: it either trains or reports out of memory,
# never spins in OpenBLAS's retry of a failed buffer mapping. The limit is swept
# in 64 MiB steps from just above what the process maps before its backend
# exists to where the training fits, so one step lands where the activations
# fit but a BLAS buffer would not (the case that used to hang).
set -u
cf=$1; dir=$2
mkdir -p "$dir"; cd "$dir" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
arch='|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|'
train() { # train LIMIT_KIB: the run's output in out.txt, its exit status returned
    (ulimit -v "$1" && CELLFORGE_LOG=debug exec timeout 120 "$cf" train --space nb201 --set C=4 --set N=1 \
        --epochs 1 --fraction 0.002 --batch 1024 --threads 2 --val-fraction 0.02 --out m.cfm "$arch") >out.txt 2>&1
}
big=$((64 * 1024 * 1024)) # 64 GiB, in KiB
train $big || { cat out.txt; fail "training under a generous limit failed"; }
free=$(sed -n 's/.*cpu-fast: \([0-9]*\) MiB free under the address-space limit.*/\1/p' out.txt | head -n 1)
[ -n "$free" ] || { cat out.txt; fail "no address-space note in the debug log"; }
base=$((big / 1024 - free)) # MiB mapped before the backend
echo "mapped before the backend: $base MiB"
oom=0; trained=0
for k in 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do
    limit=$(((base + 64 * k) * 1024))
    start=$(date +%s)
    train $limit; rc=$?
    took=$(($(date +%s) - start))
    [ "$rc" = 124 ] && { tail -n 5 out.txt; fail "ulimit -v $limit: still running after 120 s"; }
    if [ "$rc" = 0 ]; then trained=1; echo "ok: ulimit -v $limit: trained (${took} s)"; break; fi
    grep -q "do not fit under the address-space limit\|no memory\|cannot allocate" out.txt ||
        { cat out.txt; fail "ulimit -v $limit: exit $rc without an out-of-memory message"; }
    echo "ok: ulimit -v $limit: out of memory, exit $rc (${took} s): $(tail -n 1 out.txt)"
    oom=1
done
[ "$oom" = 1 ] || fail "no limit of the sweep was too small"
[ "$trained" = 1 ] || fail "no limit of the sweep was large enough"
echo "PASS"
