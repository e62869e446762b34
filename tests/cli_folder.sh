#!/bin/sh
# cli_folder.sh CELLFORGE WORKDIR - a user's own images as `--dataset folder:DIR`: PNG
# and JPEG files (written by Pillow), one folder per class, color and grayscale,
# resized with folder:DIR:HxW, trained, searched, tested and exported; mixed sizes,
# an empty class, an undecodable file and a missing test split named in the messages.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cf=$1; dir=$2
mkdir -p "$dir"; cd "$dir" || exit 1
rm -rf shapes mixed empty flat run m.cfm
. "$here/cli_lib.sh"
/usr/bin/python3 -c "import PIL, numpy" 2> /dev/null || { echo "Pillow or numpy missing: skipped"; exit 77; }
"$cf" train --dataset folder:/nonexistent --space nb201 x 2>&1 | grep -q "reads no PNG" &&
    { echo "this build has no libpng/libjpeg: skipped"; exit 77; }
/usr/bin/python3 - <<'PY' || fail "Pillow could not write the test images"
import os
import numpy as np
from PIL import Image
r = np.random.default_rng(1)
def save(path, arr, fmt):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(arr).save(path, format=fmt)
# three classes told apart by brightness; 28x20 color, some grayscale, PNG and JPEG
for split, n in (("train", 40), ("test", 12)):
    for k, cls in enumerate(("bright", "dark", "mid")):
        level = (200, 30, 110)[k]
        for i in range(n):
            px = np.clip(level + r.integers(-25, 25, (28, 20, 3)), 0, 255).astype(np.uint8)
            if i % 5 == 0:
                save("shapes/%s/%s/g%03d.png" % (split, cls, i), px[..., 0], "PNG")
            elif i % 2:
                save("shapes/%s/%s/c%03d.jpg" % (split, cls, i), px, "JPEG")
            else:
                save("shapes/%s/%s/c%03d.png" % (split, cls, i), px, "PNG")
open("shapes/train/dark/broken.png", "wb").write(b"\x89PNG not really")
open("shapes/train/dark/notes.txt", "w").write("not an image")
# two sizes in one folder, an empty class, no split folders
for i in range(3):
    save("mixed/a/%d.png" % i, np.zeros((8 + i, 8, 3), np.uint8), "PNG")
    save("mixed/b/%d.png" % i, np.zeros((8, 8, 3), np.uint8), "PNG")
    save("flat/a/%d.png" % i, np.zeros((8, 8), np.uint8), "PNG")
    save("flat/b/%d.png" % i, np.full((8, 8), 255, np.uint8), "PNG")
save("empty/a/0.png", np.zeros((8, 8), np.uint8), "PNG")
os.makedirs("empty/b")
PY
arch='|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|'
out=$("$cf" train --space nb201 --set C=4 --set N=1 --dataset folder:shapes --epochs 4 --batch 16 --val-fraction 0.2 \
      --threads 1 "$arch" --out m.cfm 2>&1) || { echo "$out"; fail "training on folder:shapes"; }
case "$out" in *"broken.png: not a readable PNG or JPEG image; skipped"*) ;; *) echo "$out"; fail "the broken file is not named";; esac
case "$out" in *"1 file skipped"*) ;; *) echo "$out"; fail "the count of skipped files is not given";; esac
case "$out" in *"96 training, 24 validation, 36 test images"*) ;; *) echo "$out"; fail "wrong image counts";; esac
expect 0 "per class bright:" "$cf" eval m.cfm --dataset folder:shapes --threads 1
acc=$("$cf" eval m.cfm --dataset folder:shapes --threads 1 | sed -n 's/^accuracy *\([0-9]*\)\..*/\1/p')
[ "${acc:-0}" -ge 60 ] || fail "the folder model tests at ${acc}%, want at least 60% of 3 brightness classes"
expect 0 "final models (folder:shapes:16x16 test set)" "$cf" search --dataset folder:shapes:16x16 --set C=4 \
    --batch 16 --trials 2 --fraction 1 --retrain 1 --retrain-epochs 1 --threads 1 --out run
[ -s run/export/best.onnx ] || fail "the folder run exported no model"
grep -q '"classes": \["bright", "dark", "mid"\]' run/final/*/test.json || fail "test.json does not name the classes"
expect 1 "images of different sizes: mixed/a/0.png is 8x8, mixed/a/1.png is 9x8" "$cf" train --space nb201 \
    --dataset folder:mixed "$arch"
expect 1 "no test split" "$cf" train --space nb201 --set C=4 --set N=1 --dataset folder:mixed:8x8 --epochs 1 \
    --batch 2 --val-fraction 0.34 --threads 1 "$arch"
expect 1 "class 'b' has no readable image" "$cf" train --space nb201 --dataset folder:empty "$arch"
expect 1 "no test split" "$cf" train --space nb201 --dataset folder:flat "$arch"
expect 1 "'big' is not a size HxW" "$cf" train --space nb201 --dataset folder:flat:big "$arch"
