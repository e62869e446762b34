#!/bin/sh
# cli_precision.sh CELLFORGE WORKDIR - mixed precision from the command line:
# a value that is not a precision is refused; bf16 and fp16 training on
# Fashion-MNIST runs, learns, and writes an f32 checkpoint that `eval` reads;
# a bf16 search records its precision in the resolved spec.
set -u
cf=$1; work=$2
here=$(dirname "$0")
rm -rf "$work"; mkdir -p "$work"
arch='|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|'
fail=0
sh "$here/cli_expect.sh" 2 "--precision 'fp8': fp32, bf16 or fp16" \
    "$cf" train --space nb201 --set C=4 --set N=1 --precision fp8 "$arch" || fail=1
sh "$here/cli_expect.sh" 2 "--precision 'half': fp32, bf16 or fp16" \
    "$cf" search --precision half --trials 1 --out none || fail=1
if [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    echo "skipped the training runs: no Fashion-MNIST (apt-get install dataset-fashion-mnist)"; exit $fail
fi
for p in bf16 fp16; do
    out=$("$cf" train --space nb201 --set C=4 --set N=1 --epochs 1 --fraction 0.1 --precision $p --threads 2 \
          --out "$work/$p.cfm" "$arch" 2>&1) || { echo "$p training failed:"; echo "$out"; fail=1; continue; }
    case "$out" in *"mixed precision"*) ;; *) echo "$p: the run does not say it is mixed precision"; echo "$out"; fail=1 ;; esac
    acc=$(echo "$out" | sed -n 's/^test accuracy \([0-9.]*\)%.*/\1/p')
    # ten classes: chance is 10%; a tenth of an epoch gets well past it
    if [ -z "$acc" ] || ! awk "BEGIN { exit !($acc > 40) }"; then echo "$p: test accuracy '$acc'"; echo "$out"; fail=1; fi
    sh "$here/cli_expect.sh" 0 "accuracy " "$cf" eval "$work/$p.cfm" || fail=1
done
out=$("$cf" search --space nb201 --set C=4 --set N=1 --precision bf16 --devices cpu --trials 2 --fraction 0.02 \
      --retrain 0 --quiet --out "$work/run" 2>&1) || { echo "bf16 search failed:"; echo "$out"; fail=1; }
grep -q '"precision": "bf16"' "$work/run/spec.json" || { echo "spec.json lacks the precision"; fail=1; }
grep -c '"trial_finished"' "$work/run/journal.jsonl" | grep -q '^2$' || { echo "the bf16 search did not finish 2 trials"; fail=1; }
exit $fail
