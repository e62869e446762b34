#!/usr/bin/python3
"""bench_train.py - training throughput and accuracy, cellforge against PyTorch, in one run.

The reference network of the CPU training path: NAS-Bench-201, C=16, N=1, the arch
|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|,
on Fashion-MNIST (all 60,000 training images, no augmentation), batch 256 (last partial
batch dropped), SGD with Nesterov momentum 0.9, weight decay 5e-4, lr 0.1 with a per-step
cosine to 0, the same number of threads on both sides. PyTorch (Debian's python3-torch,
CPU) builds the same network from tools/make_cost_golden.py, which the cost tests check
layer for layer against cellforge's. Both sides time the training loop (batch assembly,
forward, backward, update), not the evaluation, and both report test accuracy.

    /usr/bin/python3 benchmarks/bench_train.py                 # 1 epoch, 2 threads
    /usr/bin/python3 benchmarks/bench_train.py --epochs 10 --threads 2
    /usr/bin/python3 benchmarks/bench_train.py --rounds 3      # alternate 3 times, compare medians
    /usr/bin/python3 benchmarks/bench_train.py --skip-torch    # cellforge only (--skip-cellforge: PyTorch only)
    python3 benchmarks/bench_train.py --device cuda --precision fp32   # on a GPU: cuDNN on both sides
    python3 benchmarks/bench_train.py --device cuda --precision bf16

On a GPU both sides keep the dataset on the device, PyTorch runs eager with cuDNN
(benchmark mode on, TF32 off for fp32 as cellforge's fp32 is plain fp32, autocast for
bf16), and its timing waits for the device at the end of each epoch.

Prints one JSON line per implementation and run, and a last line with the ratio
(cellforge images/s over PyTorch images/s; above 1 means cellforge is faster). With
--rounds K both sides run K times, alternating, so that a slow spell of a shared machine
falls on both; the ratio is then of the medians, and each round's ratio is listed too.
"""
import argparse
import gzip
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    import numpy as np
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def run_torch(args):
    import numpy as np
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    from make_cost_golden import build_nb201

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    dev = torch.device(args.device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    xtr = read_idx(os.path.join(args.data, "train-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
    ytr = read_idx(os.path.join(args.data, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    xte = read_idx(os.path.join(args.data, "t10k-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
    yte = read_idx(os.path.join(args.data, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    mean, std = float(xtr.mean()), float(xtr.std())
    xtr = torch.from_numpy((xtr - mean) / std).unsqueeze(1)
    xte = torch.from_numpy((xte - mean) / std).unsqueeze(1)
    ytr, yte = torch.from_numpy(ytr), torch.from_numpy(yte)
    xtr, ytr, xte, yte = xtr.to(dev), ytr.to(dev), xte.to(dev), yte.to(dev)

    net = build_nb201(ARCH, {"C": 16, "N": 1}, 1, 10).to(dev)
    amp = torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=args.precision == "bf16")
    opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    steps = len(xtr) // args.batch
    total = steps * args.epochs
    t = 0
    seconds = 0.0
    g = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        net.train()
        order = torch.randperm(len(xtr), generator=g).to(dev)
        start = time.perf_counter()
        for s in range(steps):
            for group in opt.param_groups:
                group["lr"] = 0.5 * args.lr * (1 + math.cos(math.pi * t / total))
            idx = order[s * args.batch:(s + 1) * args.batch]
            xb, yb = xtr[idx], ytr[idx]
            with amp:
                loss = F.cross_entropy(net(xb)[0], yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            t += 1
        if dev.type == "cuda":
            torch.cuda.synchronize()
        seconds += time.perf_counter() - start
    net.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(xte), 1000):
            correct += (net(xte[i:i + 1000])[0].argmax(1) == yte[i:i + 1000]).sum().item()
    return {"impl": "pytorch", "version": torch.__version__, "device": args.device, "precision": args.precision,
            "threads": args.threads,
            "epochs": args.epochs, "batch": args.batch, "images_per_s": round(steps * args.batch * args.epochs / seconds, 1),
            "train_seconds": round(seconds, 2), "test_acc": correct / len(xte)}


def run_cellforge(args):
    cmd = [args.cellforge, "train", "--space", "nb201", "--set", "C=16", "--set", "N=1",
           "--dataset", "fashion-mnist", "--data-dir", args.data, "--epochs", str(args.epochs),
           "--batch", str(args.batch), "--lr", str(args.lr), "--val-fraction", "0",
           "--threads", str(args.threads), "--seed", str(args.seed), "--device", args.device, ARCH]
    if args.precision != "fp32":
        raise SystemExit("cellforge trains in fp32 only for now (--precision %s)" % args.precision)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    m = re.search(r"test accuracy ([0-9.]+)% \(\d+ images\); ([0-9.]+) training images/s", out)
    if not m:
        raise SystemExit("unexpected cellforge output:\n" + out)
    return {"impl": "cellforge", "device": args.device, "precision": args.precision, "threads": args.threads,
            "epochs": args.epochs, "batch": args.batch,
            "images_per_s": float(m.group(2)), "test_acc": float(m.group(1)) / 100}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=DATA)
    p.add_argument("--cellforge", default=os.path.join(ROOT, "build", "cellforge"))
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (both sides)")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--skip-torch", action="store_true")
    p.add_argument("--skip-cellforge", action="store_true")
    p.add_argument("--rounds", type=int, default=1,
                   help="run both sides this many times, alternating, and compare medians")
    args = p.parse_args()
    ours, theirs = [], []
    for r in range(max(1, args.rounds)):
        if not args.skip_cellforge:
            ours.append(dict(run_cellforge(args), round=r + 1))
            print(json.dumps(ours[-1]), flush=True)
        if not args.skip_torch:
            theirs.append(dict(run_torch(args), round=r + 1))
            print(json.dumps(theirs[-1]), flush=True)
    if not ours or not theirs:
        return
    ips_ours = statistics.median(o["images_per_s"] for o in ours)
    ips_theirs = statistics.median(t["images_per_s"] for t in theirs)
    summary = {"ratio_images_per_s": round(ips_ours / ips_theirs, 3),
               "test_acc_cellforge": ours[-1]["test_acc"], "test_acc_pytorch": theirs[-1]["test_acc"]}
    if len(ours) > 1:
        summary.update({"rounds": len(ours), "median_images_per_s_cellforge": ips_ours,
                        "median_images_per_s_pytorch": ips_theirs,
                        "ratio_per_round": [round(o["images_per_s"] / t["images_per_s"], 3)
                                            for o, t in zip(ours, theirs)]})
    print(json.dumps(summary))

if __name__ == "__main__":
    main()
