"""PyTorch (CPU) on the shapes of bench_ref_ops.c, one JSON line per shape.

Run with Debian's python3-torch:
    /usr/bin/python3 benchmarks/peer_torch_ops.py [--threads T]
Pair the lines with bench_ref_ops's by "shape" for the ratio.
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
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
