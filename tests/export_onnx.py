#!/usr/bin/env python3
"""export_onnx.py - ONNX files written by `cellforge export` against cellforge itself.

    export_onnx.py [--data-dir DIR] NAME.onnx NAME.f32 ACCURACY [NAME.onnx NAME.f32 ACCURACY]...

For each model: the ONNX file passes onnx.checker (full check, with shape
inference against the shapes the file declares) when the onnx package is
importable; onnxruntime runs it on the whole Fashion-MNIST test set, pixels
scaled to [0, 1] and nothing else; its logits are compared with the ones
`cellforge eval --logits` wrote (NAME.f32, raw float32, test-set order), and
the accuracy of onnxruntime's predictions with cellforge's (ACCURACY, the
count of correct images).

Tolerance: both sides compute in float32 with different summation orders
(cellforge's fast CPU backend: im2col and OpenBLAS, or direct kernels;
onnxruntime: MLAS), and the normalization is folded differently (cellforge
scales bytes by 1/(255 std), the graph divides (x - mean) by std). Each
float32 operation is exact to 6e-8 relative, and a logit is the end of a
few dozen layers whose sums have at most a few thousand terms, so the
differences stay in the 1e-6 range of the logits' scale (measured: 2e-7 to
8e-7). The test allows 1e-4 of the largest |logit| (at least 1e-4 absolute):
a hundred times that, and still far below an error in a layer's semantics
(counting the padding in the average pools, or a BN epsilon of 1e-3 for
1e-5, moves these models' logits by 2% to 15% of their scale). Predictions
must agree on every image whose two largest logits are further apart than the
tolerance; closer ones are counted as ties and reported (none is expected).

Exits 77 (skipped) when onnxruntime or numpy cannot be imported.
Run by tests/cli_export.sh (ctest cli_export_onnx).
"""
import gzip
import os
import struct
import sys

try:
    import numpy as np
    import onnxruntime as ort
except ImportError as e:
    print(f"skipped: {e}; install onnxruntime with `pip install onnxruntime` "
          f"(`pip install --break-system-packages onnxruntime` on Debian)")
    sys.exit(77)

try:
    import onnx
    import onnx.checker
except ImportError:
    onnx = None

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
REL_TOL = 1e-4


def read_idx(path):
    """An IDX file (gzip'd or not) as a uint8 array of its dimensions."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    dims = magic & 0xFF
    if magic >> 8 != 0x08:
        raise ValueError(f"{path}: magic {magic:#010x} is not an IDX file of unsigned bytes")
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def find(dir_, stem):
    for name in (stem + ".gz", stem):
        path = os.path.join(dir_, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"{dir_}: no {stem}(.gz)")


def check(onnx_path, logits_path, want_correct, images, labels):
    if onnx is not None:
        model = onnx.load(onnx_path)
        onnx.checker.check_model(model, full_check=True)
        checked = f"onnx {onnx.__version__} checker ok (full), opset {model.opset_import[0].version}"
    else:
        checked = "onnx not importable: checker not run"
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(onnx_path, opts, providers=["CPUExecutionProvider"])
    inp, out = sess.get_inputs()[0], sess.get_outputs()[0]
    if inp.name != "image" or out.name != "logits":
        return f"{onnx_path}: input {inp.name!r}, output {out.name!r}; expected 'image' and 'logits'"
    x = (images.astype(np.float32) / np.float32(255.0))[:, None, :, :]
    got = np.concatenate([sess.run(["logits"], {"image": x[i:i + 1000]})[0] for i in range(0, len(x), 1000)])
    want = np.fromfile(logits_path, dtype="<f4")
    if want.size != got.size:
        return f"{logits_path}: {want.size} values, onnxruntime gave {got.shape}"
    want = want.reshape(got.shape)
    scale = float(np.abs(want).max())
    tol = REL_TOL * max(scale, 1.0)
    diff = np.abs(got - want)
    worst = float(diff.max())
    top2 = np.sort(want, axis=1)[:, -2:]
    ties = (top2[:, 1] - top2[:, 0]) <= tol
    pred_cf, pred_ort = want.argmax(axis=1), got.argmax(axis=1)
    disagree = int(((pred_cf != pred_ort) & ~ties).sum())
    flipped_ties = int(((pred_cf != pred_ort) & ties).sum())
    correct_ort = int((pred_ort == labels).sum())
    correct_cf = int((pred_cf == labels).sum())
    print(f"{onnx_path}: {checked}; {len(x)} images; max |logit| {scale:.4g}; "
          f"max |diff| {worst:.3g} ({worst / max(scale, 1e-30):.3g} of the scale, tolerance {tol:.3g}); "
          f"argmax agreement {100.0 * (pred_cf == pred_ort).mean():.2f}% ({int(ties.sum())} near-ties, "
          f"{flipped_ties} flipped); accuracy onnxruntime {correct_ort}/{len(x)}, cellforge {want_correct}")
    if not np.isfinite(got).all():
        return f"{onnx_path}: onnxruntime gave non-finite logits"
    if worst > tol:
        i = np.unravel_index(diff.argmax(), diff.shape)
        return f"{onnx_path}: logit {i} differs by {worst:.3g} ({got[i]:.7g} vs {want[i]:.7g}), over {tol:.3g}"
    if disagree:
        return f"{onnx_path}: {disagree} predictions differ away from ties"
    if correct_cf != want_correct:
        return f"{logits_path}: its predictions give {correct_cf} correct, cellforge eval said {want_correct}"
    if abs(correct_ort - want_correct) > flipped_ties:
        return f"{onnx_path}: onnxruntime gets {correct_ort} right, cellforge {want_correct}"
    return None


def main(argv):
    data_dir = DEFAULT_DIR
    if len(argv) >= 2 and argv[0] == "--data-dir":
        data_dir, argv = argv[1], argv[2:]
    if not argv or len(argv) % 3:
        print(__doc__.split("\n\n")[1])
        return 2
    images = read_idx(find(data_dir, "t10k-images-idx3-ubyte"))
    labels = read_idx(find(data_dir, "t10k-labels-idx1-ubyte")).astype(np.int64)
    print(f"onnxruntime {ort.__version__}, numpy {np.__version__}")
    failures = []
    for k in range(0, len(argv), 3):
        err = check(argv[k], argv[k + 1], int(argv[k + 2]), images, labels)
        if err:
            failures.append(err)
    for err in failures:
        print("FAIL:", err)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
