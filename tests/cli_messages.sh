#!/bin/sh
# cli_messages.sh CELLFORGE WORKDIR - failures say what happened: an --out that
# is a file, a dataset path that is a directory or a symbolic link loop, and a
# search where every trial fails.
set -u
cf=$1; work=$2
here=$(dirname "$0")
rm -rf "$work"; mkdir -p "$work/dir/train-images-idx3-ubyte" "$work/loop"
ln -s b "$work/loop/train-images-idx3-ubyte"; ln -s train-images-idx3-ubyte "$work/loop/b"
touch "$work/afile"
arch='|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|'
fail=0
sh "$here/cli_expect.sh" 2 "$work/afile is a file, not a directory" \
    "$cf" search --out "$work/afile" --trials 1 || fail=1
sh "$here/cli_expect.sh" 1 "train-images-idx3-ubyte is a directory, not a data file" \
    "$cf" train --space nb201 --set C=4 --set N=1 --data-dir "$work/dir" "$arch" || fail=1
sh "$here/cli_expect.sh" 1 "Too many levels of symbolic links" \
    "$cf" train --space nb201 --set C=4 --set N=1 --data-dir "$work/loop" "$arch" || fail=1
if [ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    sh "$here/cli_expect.sh" 1 "every trial failed; first failure: trial 0 (oom): out of memory" \
        "$cf" search --space nb201 --set C=4 --set N=1 --trials 2 --cpu-memory 1K --out none --retrain 0 --quiet \
        || fail=1
fi
exit $fail
