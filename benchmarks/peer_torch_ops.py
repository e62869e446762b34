"""PyTorch (CPU) on the shapes of bench_ref_ops.c, one JSON line per shape,
or with --fast on the configurations of bench_fast_ops.c (batch 256).

Run with Debian's python3-torch:
    /usr/bin/python3 benchmarks/peer_torch_ops.py [--threads T]
    /usr/bin/python3 benchmarks/peer_torch_ops.py --fast [--threads T] [--only NAME]
Pair the lines with bench_ref_ops's by "shape", or bench_fast_ops's by
"config" (benchmarks/compare_fast.py does it), for the ratio.
"""
import argparse
import json
import time

import torch

SHAPES = [  # name, n, c, hw, oc, k, stride, pad, dil, groups
    ("nb201_c16_conv3x3", 16, 16, 32, 16, 3, 1, 1, 1, 1),
    ("nb201_c16_conv1x1", 16, 16, 32, 16, 1, 1, 0, 1, 1),
    ("darts_c16_sep3x3_dw", 16, 16, 32, 16, 3, 1, 1, 1, 16),
    ("darts_c16_dil3x3_dw", 16, 16, 32, 16, 3, 1, 2, 2, 16),
    ("stem_fmnist_conv3x3", 16, 1, 28, 16, 3, 1, 1, 1, 1),
]


B = 256
X16 = (B, 16, 28, 28)
F = torch.nn.functional

# The configurations of bench_fast_ops.c: name -> (inputs, weights, forward).
# Each input and weight is a shape; forward maps the tensors to the output.
FAST = [
    ("conv3x3_c16_28", [X16], [(16, 16, 3, 3)], lambda x, w: F.conv2d(x, w, padding=1)),
    ("conv3x3_c32_14", [(B, 32, 14, 14)], [(32, 32, 3, 3)], lambda x, w: F.conv2d(x, w, padding=1)),
    ("conv3x3_c64_7", [(B, 64, 7, 7)], [(64, 64, 3, 3)], lambda x, w: F.conv2d(x, w, padding=1)),
    ("conv3x3_s2_c16to32_28", [X16], [(32, 16, 3, 3)], lambda x, w: F.conv2d(x, w, stride=2, padding=1)),
    ("conv3x3_s2_c32to64_14", [(B, 32, 14, 14)], [(64, 32, 3, 3)], lambda x, w: F.conv2d(x, w, stride=2, padding=1)),
    ("conv3x3_stem_c1to16_28", [(B, 1, 28, 28)], [(16, 1, 3, 3)], lambda x, w: F.conv2d(x, w, padding=1)),
    ("conv1x1_c16_28", [X16], [(16, 16, 1, 1)], lambda x, w: F.conv2d(x, w)),
    ("conv1x1_c16to32_14", [(B, 16, 14, 14)], [(32, 16, 1, 1)], lambda x, w: F.conv2d(x, w)),
    ("conv1x1_c32to64_7", [(B, 32, 7, 7)], [(64, 32, 1, 1)], lambda x, w: F.conv2d(x, w)),
    ("conv5x5_c16_28", [X16], [(16, 16, 5, 5)], lambda x, w: F.conv2d(x, w, padding=2)),
    ("dw3x3_c16_28", [X16], [(16, 1, 3, 3)], lambda x, w: F.conv2d(x, w, padding=1, groups=16)),
    ("dw3x3_dil2_c16_28", [X16], [(16, 1, 3, 3)], lambda x, w: F.conv2d(x, w, padding=2, dilation=2, groups=16)),
    ("dw5x5_c16_28", [X16], [(16, 1, 5, 5)], lambda x, w: F.conv2d(x, w, padding=2, groups=16)),
    ("dw7x7_c16_28", [X16], [(16, 1, 7, 7)], lambda x, w: F.conv2d(x, w, padding=3, groups=16)),
    ("bn_train_c16_28", [X16], [(16,), (16,)], "bn_train"),
    ("bn_train_c32_14", [(B, 32, 14, 14)], [(32,), (32,)], "bn_train"),
    ("bn_train_c64_7", [(B, 64, 7, 7)], [(64,), (64,)], "bn_train"),
    ("bn_eval_c16_28", [X16], [(16,), (16,)], "bn_eval"),
    ("relu_c16_28", [X16], [], F.relu),
    ("avgpool3x3_c16_28", [X16], [], lambda x: F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)),
    ("maxpool3x3_c16_28", [X16], [], lambda x: F.max_pool2d(x, 3, 1, 1)),
    ("avgpool2x2_s2_c16_28", [X16], [], lambda x: F.avg_pool2d(x, 2, 2)),
    ("sum2_c16_28", [X16, X16], [], lambda a, b: a + b),
    ("sum3_c16_28", [X16, X16, X16], [], lambda a, b, c: a + b + c),
    ("concat2_c16_28", [X16, X16], [], lambda a, b: torch.cat([a, b], 1)),
    ("global_avgpool_c64_7", [(B, 64, 7, 7)], [], lambda x: F.adaptive_avg_pool2d(x, 1)),
    ("linear_64to10", [(B, 64)], [(10, 64), (10,)], F.linear),
    ("softmax_xent_10", [(B, 10)], [], "xent"),
]


def run_fast(args):
    for name, ins, ws, fn in FAST:
        if args.only and args.only not in name:
            continue
        xs = [torch.randn(*s, requires_grad=True) for s in ins]
        params = [torch.randn(*s, requires_grad=True) for s in ws]
        if fn in ("bn_train", "bn_eval"):
            rm, rv = torch.zeros(ws[0]), torch.ones(ws[0])
            training = fn == "bn_train"
            fn = (lambda x, g, b, t=training: F.batch_norm(x, rm, rv, g, b, training=t, momentum=0.1, eps=1e-5))
        elif fn == "xent":
            labels = torch.randint(0, 10, (B,))
            fn = (lambda z: F.cross_entropy(z, labels))
        has_bwd = name != "bn_eval_c16_28"
        with torch.no_grad():
            y = fn(*xs, *params)
        dy = torch.randn_like(y) if y.dim() else None  # drawn once, outside the timing
        best_f = best_b = float("inf")
        for k in range(args.reps + 1):
            t0 = time.perf_counter()
            y = fn(*xs, *params)
            t1 = time.perf_counter()
            if has_bwd:
                y.backward(dy)
            t2 = time.perf_counter()
            for t in xs + params:
                t.grad = None
            if k == 0:
                continue  # warm-up
            best_f, best_b = min(best_f, t1 - t0), min(best_b, t2 - t1)
        print(json.dumps({"bench": "torch_op", "config": name, "threads": args.threads,
                          "forward_ms": round(best_f * 1e3, 3),
                          "backward_ms": round(best_b * 1e3, 3) if has_bwd else 0.0,
                          "torch": torch.__version__}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--fast", action="store_true", help="the configurations of bench_fast_ops.c")
    ap.add_argument("--only", default=None, help="with --fast: configurations whose name contains this")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    if args.fast:
        run_fast(args)
        return
    for name, n, c, hw, oc, k, s, p, d, g in SHAPES:
        x = torch.randn(n, c, hw, hw, requires_grad=True)
        w = torch.randn(oc, c // g, k, k, requires_grad=True)
        best_f = best_b = float("inf")
        for _ in range(args.reps):
            t0 = time.perf_counter()
            y = torch.nn.functional.conv2d(x, w, stride=s, padding=p, dilation=d, groups=g)
            t1 = time.perf_counter()
            y.backward(torch.ones_like(y))
            t2 = time.perf_counter()
            best_f, best_b = min(best_f, t1 - t0), min(best_b, t2 - t1)
            x.grad = None
            w.grad = None
        print(json.dumps({"bench": "torch_conv2d", "shape": name, "threads": args.threads,
                          "forward_ms": round(best_f * 1e3, 3), "backward_ms": round(best_b * 1e3, 3),
                          "torch": torch.__version__}))


if __name__ == "__main__":
    main()
