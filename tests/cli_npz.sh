#!/bin/sh
# cli_npz.sh CELLFORGE WORKDIR - a user's own images as `--dataset npz:FILE`: arrays
# written by numpy (compressed and not), odd image sizes, three channels, five classes
# and grayscale, trained, searched, tested and exported; bad files refused with the
# file, the array and the problem named.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cf=$1; dir=$2
mkdir -p "$dir"; cd "$dir" || exit 1
rm -rf run ./*.npz m.cfm
. "$here/cli_lib.sh"
/usr/bin/python3 -c "import numpy" 2> /dev/null || { echo "numpy missing: skipped"; exit 77; }
/usr/bin/python3 - <<'PY' || fail "numpy could not write the test files"
import numpy as np
r = np.random.default_rng(0)
def images(n, shape):
    y = r.integers(0, 5, n)
    x = (r.integers(0, 60, (n,) + shape) + 40 * y.reshape((n,) + (1,) * len(shape))).astype(np.uint8)
    return x, y
x, y = images(300, (20, 24, 3))
xt, yt = images(80, (20, 24, 3))
np.savez_compressed("odd.npz", x=x, y=y, x_test=xt, y_test=yt.astype(np.int32),
                    class_names=np.array(["zero", "one", "two", "three", "four"]))
np.savez("gray.npz", x=x[..., 0], y=y.astype(np.uint8), x_test=xt[..., 0], y_test=yt.astype(np.int16))
np.savez("notest.npz", x=x, y=y)
np.savez("float.npz", x=x.astype(np.float32), y=y)
np.savez("short.npz", x=x, y=y[:-1])
np.savez("negative.npz", x=x, y=y - 1)
np.savez("fortran.npz", x=np.asfortranarray(x), y=y)
np.savez("five.npz", x=np.zeros((4, 8, 8, 5), np.uint8), y=np.arange(4))
np.savez("names.npz", x=x, y=y, x_test=xt, y_test=yt, class_names=np.array(["a", "b"]))
PY
head -c 3000 odd.npz > truncated.npz
arch='|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|'
expect 0 "on npz:odd.npz: 240 training, 60 validation, 80 test images" "$cf" train --space nb201 --set C=4 --set N=1 \
    --dataset npz:odd.npz --epochs 3 --batch 32 --val-fraction 0.2 --threads 1 "$arch" --out m.cfm
# the classes are far apart in brightness: three epochs separate them
expect 0 "per class zero:" "$cf" eval m.cfm --dataset npz:odd.npz --threads 1
acc=$("$cf" eval m.cfm --dataset npz:odd.npz --threads 1 | sed -n 's/^accuracy *\([0-9]*\)\..*/\1/p')
[ "${acc:-0}" -ge 40 ] || fail "the odd-size model tests at ${acc}%, want at least 40% of 5 classes"
expect 0 "20x24x3" "$cf" cost --space nb201 --set C=4 --set N=1 --input 20x24x3 --classes 5 "$arch"
expect 0 "final models (npz:gray.npz test set)" "$cf" search --dataset npz:gray.npz --set C=4 --batch 32 \
    --trials 2 --fraction 1 --retrain 1 --retrain-epochs 1 --threads 1 --out run
[ -s run/export/best.onnx ] || fail "the grayscale run exported no model"
expect 1 "notest.npz: no arrays 'x_test' and 'y_test'" "$cf" eval m.cfm --dataset npz:notest.npz
expect 1 "float.npz: array 'x': dtype '<f4', expected uint8" "$cf" train --space nb201 --dataset npz:float.npz "$arch"
expect 1 "short.npz: array 'y': 299 labels for 300 images in 'x'" "$cf" train --space nb201 --dataset npz:short.npz "$arch"
expect 1 "negative.npz: array 'y': label -1 at index" "$cf" train --space nb201 --dataset npz:negative.npz "$arch"
expect 1 "fortran.npz: array 'x' is in Fortran order" "$cf" train --space nb201 --dataset npz:fortran.npz "$arch"
expect 1 "five.npz: array 'x': 5 channels, expected 1 to 4" "$cf" train --space nb201 --dataset npz:five.npz "$arch"
expect 1 "names.npz: array 'class_names': 2 names for 5 classes" "$cf" eval m.cfm --dataset npz:names.npz
expect 1 "truncated.npz: not a .npz file" "$cf" train --space nb201 --dataset npz:truncated.npz "$arch"
expect 1 "missing.npz" "$cf" train --space nb201 --dataset npz:missing.npz "$arch"
