#!/bin/sh
# cli_export.sh CELLFORGE WORKDIR - `cellforge export` and `cellforge eval --logits`
# end to end on Fashion-MNIST: a small model of each space family is trained (nb201
# with zero, pool and skip ops; darts with sep/dil convs, pools, a stride-2 zero and
# its auxiliary head; nb101 with concat and a channel slice; mobile MBConv blocks),
# exported in every format, and evaluated with its logits written; a search's run
# directory is exported by its best model and by trial, from training states and
# from a final model; bad input gets the documented exit codes. The ONNX files and
# logits are listed in WORKDIR/onnx_cases for the comparison below.
#
# cli_export.sh --compare WORKDIR SCRIPT - run SCRIPT (tests/export_onnx.py) on the
# cases with the first python that imports onnxruntime and numpy (onnx too where
# one has it); exit 77 (skipped) when none does.
set -u
here=$(cd "$(dirname "$0")" && pwd)

if [ "$1" = "--compare" ]; then
    dir=$2; script=$3
    [ -s "$dir/onnx_cases" ] || { echo "FAIL: no $dir/onnx_cases (run the cli_export test first)"; exit 1; }
    py=""
    for want in "import numpy, onnxruntime, onnx" "import numpy, onnxruntime"; do
        for cand in ${PYTHON:-} python3 /usr/bin/python3 /usr/local/bin/python3; do
            if command -v "$cand" >/dev/null 2>&1 && "$cand" -c "$want" >/dev/null 2>&1; then py=$cand; break 2; fi
        done
    done
    if [ -z "$py" ]; then
        echo "skipped: no python with numpy and onnxruntime; pip install onnxruntime" \
             "(pip install --break-system-packages onnxruntime on Debian; python3-onnx adds the checker)"
        exit 77
    fi
    cd "$dir" || exit 1
    # shellcheck disable=SC2046
    exec "$py" "$script" $(cat onnx_cases)
fi

cf=$1; dir=$2
fmnist=/usr/share/datasets/fashion-mnist
[ -e "$fmnist/t10k-images-idx3-ubyte.gz" ] || [ -e "$fmnist/t10k-images-idx3-ubyte" ] ||
    { echo "skipped: no Fashion-MNIST in $fmnist (apt-get install dataset-fashion-mnist)"; exit 77; }
tests=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"; cd "$dir" || exit 1
rm -rf ./*.cfm ./*.onnx ./*.f32 ./*.json ./*.txt run notrun empty onnx_cases
. "$here/cli_lib.sh"
# correct NAME MODEL: evaluate with logits into NAME.f32, add the case, print the count
correct() {
    out=$("$cf" eval "$2" --threads 1 --logits "$1.f32" 2>&1) || { echo "$out"; fail "eval $2"; }
    n=$(echo "$out" | sed -n 's/^accuracy .*(\([0-9]*\) of [0-9]*).*/\1/p')
    [ -n "$n" ] || { echo "$out"; fail "no accuracy count from eval $2"; }
    [ "$(wc -c < "$1.f32")" = 400000 ] || fail "$1.f32 is not 10000 x 10 float32"
    echo "$n"
}
fast="--epochs 1 --threads 1 --val-fraction 0.02"

# ---- one model per family ------------------------------------------------------
nb201='|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|'
darts="Genotype(normal=[('sep_conv_3x3', 0), ('dil_conv_3x3', 1), ('skip_connect', 0), ('max_pool_3x3', 2), ('avg_pool_3x3', 1), ('sep_conv_5x5', 3), ('dil_conv_5x5', 2), ('skip_connect', 4)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('skip_connect', 1), ('none', 0), ('avg_pool_3x3', 0), ('dil_conv_3x3', 1), ('skip_connect', 3), ('sep_conv_3x3', 0), ('sep_conv_3x3', 4)], reduce_concat=[2, 3, 4, 5])"
nb101='{"matrix":[[0,1,1,0,0,1,0],[0,0,0,1,0,0,0],[0,0,0,0,1,0,1],[0,0,0,0,1,0,0],[0,0,0,0,0,0,1],[0,0,0,0,0,0,1],[0,0,0,0,0,0,0]],"ops":["input","conv3x3-bn-relu","maxpool3x3","conv1x1-bn-relu","conv3x3-bn-relu","conv1x1-bn-relu","output"]}'
mobile='k3e3-k5e4|k5e6|k7e3|k3e4|k5e3'
expect 0 "wrote nb201.cfm" "$cf" train --space nb201 --set C=4 --set N=1 $fast --fraction 0.05 --batch 64 --out nb201.cfm "$nb201"
expect 0 "wrote darts.cfm" "$cf" train --space darts --set C=4 --set layers=3 --set auxiliary=1 $fast --fraction 0.05 --batch 64 --out darts.cfm "$darts"
expect 0 "wrote nb101.cfm" "$cf" train --space nb101 --set stem_channels=8 --set stacks=2 --set cells_per_stack=1 $fast --fraction 0.05 --batch 64 --out nb101.cfm "$nb101"
expect 0 "wrote mobile.cfm" "$cf" train --space mobile --set width=0.25 $fast --fraction 0.05 --batch 64 --out mobile.cfm "$mobile"

for m in nb201 darts nb101 mobile; do
    # the default name: MODEL less its extension, .onnx, in the current directory
    expect 0 "wrote $m.onnx from $m.cfm: ONNX opset 13" "$cf" export $m.cfm
    [ -s $m.onnx ] && [ ! -e $m.onnx.tmp ] || fail "$m.onnx not written whole"
    echo "$m.onnx $m.f32 $(correct $m $m.cfm)" >> onnx_cases
    # json: the cost model's figures, the same as `cellforge cost` gives
    "$cf" export $m.cfm --format json > $m.json || fail "export $m.cfm --format json"
    arch=$("$cf" export $m.cfm --format arch | tail -n 1) || fail "export $m.cfm --format arch"
    [ "$(grep -c '"params":' $m.json)" = 1 ] && grep -q '"input": \[1, 28, 28\]' $m.json &&
        grep -q '"classes": 10' $m.json && grep -q '"kind": "model"' $m.json || { cat $m.json; fail "$m.json"; }
    space=$(sed -n 's/^  "space": "\(.*\)",$/\1/p' $m.json)
    sets=$(sed -n 's/^  "options": {\(.*\)},$/\1/p' $m.json | sed 's/"\([^"]*\)": \([^,]*\)/--set \1=\2/g; s/,//g')
    # shellcheck disable=SC2086
    cost=$("$cf" cost --space "$space" $sets --dataset fashion-mnist --json "$arch") || fail "cost of $m"
    params=$(echo "$cost" | sed 's/.*"params":\([0-9]*\),.*/\1/'); macs=$(echo "$cost" | sed 's/.*"macs":\([0-9]*\),.*/\1/')
    grep -q "\"params\": $params," $m.json && grep -q "\"macs\": $macs," $m.json ||
        { cat $m.json; echo "$cost"; fail "$m.json: params/macs are not cost's $params/$macs"; }
    echo "ok: $m.json: params $params, macs $macs as \`cellforge cost\` counts"
    # the options travel with the arch: cost --from the model, and from its arch text, give the same
    [ "$("$cf" cost --from $m.cfm --json)" = "$cost" ] || fail "cost --from $m.cfm differs from $cost"
    "$cf" export $m.cfm --format arch --out $m.arch >/dev/null || fail "export $m.cfm --format arch --out"
    [ "$("$cf" cost --from $m.arch --json)" = "$cost" ] || fail "cost --from $m.arch differs from $cost"
    echo "ok: cost --from $m.cfm and --from $m.arch: the trained network"
done
[ "$("$cf" export nb201.cfm --format arch | tail -n 1)" = "$nb201" ] || fail "the arch string is not the one trained"
"$cf" export nb201.cfm --format arch | grep -qx "# options C=4, N=1" || fail "export --format arch lost the options"
# cfm from cfm: the same model again (same accuracy)
expect 0 "wrote again.cfm from nb201.cfm" "$cf" export nb201.cfm --format cfm --out again.cfm
n1=$(sed -n 1p onnx_cases | cut -d' ' -f3)
expect 0 "($n1 of 10000)" "$cf" eval again.cfm --threads 1
expect 0 "wrote nb201-arch.txt" "$cf" export nb201.cfm --format arch --out nb201-arch.txt
[ "$(tail -n 1 nb201-arch.txt)" = "$nb201" ] || fail "nb201-arch.txt"
# --set still applies over --from; --space with --from is refused; a damaged arch file names its line
expect 0 "C=8, N=1" "$cf" cost --from nb201-arch.txt --set C=8
expect 2 "--from gives the space" "$cf" cost --from nb201-arch.txt --space nb201
sed 's/^# input .*/# input 28x28 classes 10/' nb201-arch.txt > bad.arch
expect 1 "bad.arch:5: expected \"# input HxWxC classes K\"" "$cf" cost --from bad.arch

# ---- a search's run directory: training states, trials, a final model -----------
expect 0 "best model: run/best.cfs" "$cf" search --space "$tests/data/tiny201.json" --epochs 1 --fraction 0.02 \
    --val-fraction 0.01 --batch 64 --trials 2 --cpu-workers 1 --threads 1 --retrain 0 --out run
expect 0 "wrote run/export/best.onnx from run/best.cfs" "$cf" export run
cp run/export/best.onnx run-best.onnx
echo "run-best.onnx run-best.f32 $(correct run-best run)" >> onnx_cases
expect 0 "model     run/best.cfs" "$cf" eval run --threads 1
"$cf" export run --format json | grep -q '"kind": "training state"' || fail "json of a state"
"$cf" export run --format json | grep -q '"test_acc": null' || fail "a state has no test accuracy"
expect 0 "wrote run/export/trial-1.cfm from run/trials/1/train.cfs" "$cf" export run --trial 1 --format cfm
expect 0 "wrote run/export/trial-1.onnx from run/trials/1/train.cfs" "$cf" export run --trial 1
expect 0 "wrote from-state.onnx from run/trials/0/train.cfs" "$cf" export run/trials/0/train.cfs --out from-state.onnx
# a state converted to a model file evaluates the same
n=$(correct trial1 run/trials/1/train.cfs)
echo "run/export/trial-1.onnx trial1.f32 $n" >> onnx_cases
expect 0 "($n of 10000)" "$cf" eval run/export/trial-1.cfm --threads 1
# a retrained final model takes precedence (RUN/final/ID/model.cfm, RUN/best.cfm linking to it)
mkdir -p run/final/1 && cp run/export/trial-1.cfm run/final/1/model.cfm && ln run/final/1/model.cfm run/best.cfm
expect 0 "wrote run/export/best.onnx from run/best.cfm" "$cf" export run
expect 0 "from run/final/1/model.cfm" "$cf" export run --trial 1 --format arch --out run/export/t1.arch
expect 0 "from run/trials/0/train.cfs" "$cf" export run --trial 0 --format arch --out run/export/t0.arch
# a run's trial: its space (a file outside the spaces directory here) and options come along
expect 0 "tiny201" "$cf" cost --from run --trial 0
expect 0 "tiny201" "$cf" cost --from run/export/t0.arch
expect 0 "test accuracy" "$cf" train --from run --trial 0 --epochs 1 --fraction 0.02 --val-fraction 0.01 --batch 64 \
    --threads 1
expect 2 "built for 28x28x1 images of 10 classes" "$cf" train --from run --trial 0 --dataset cifar10 --epochs 1

# ---- bad input -------------------------------------------------------------------
expect 1 "nothing.cfm: cannot open" "$cf" export nothing.cfm
expect 1 "nothing.cfs: cannot open" "$cf" eval nothing.cfs
echo "not a model at all" > junk.cfm
expect 1 "junk.cfm: byte 0: not a cellforge model or training state" "$cf" export junk.cfm
expect 1 "junk.cfm: byte 0: not a cellforge model or training state" "$cf" eval junk.cfm
expect 2 "unknown format 'tflite' (onnx, cfm, json, arch)" "$cf" export nb201.cfm --format tflite
expect 2 "--trial goes with a run directory" "$cf" export nb201.cfm --trial 1
expect 2 "expected one RUN directory or MODEL file" "$cf" export
expect 2 "is binary" "$cf" export nb201.cfm --out -
expect 2 "unknown option '--formt'; did you mean '--format'?" "$cf" export nb201.cfm --formt json
expect 1 "run: trial 99 has no model (neither final/99/model.cfm nor trials/99/train.cfs)" "$cf" export run --trial 99
mkdir -p notrun empty && cp run/spec.json empty/
expect 1 "notrun is a directory but not a run of \`cellforge search\`" "$cf" export notrun
expect 1 "empty: no best model yet" "$cf" export empty
expect 1 "empty: no best model yet" "$cf" eval empty
expect 1 "no/such/dir/m.onnx.tmp: cannot create" "$cf" export nb201.cfm --out no/such/dir/m.onnx
expect 0 "usage: cellforge export RUN|MODEL" "$cf" export --help
expect 0 "usage: cellforge export RUN|MODEL" "$cf" help export
echo "cases for the onnxruntime comparison (cli_export_onnx):"
cat onnx_cases
