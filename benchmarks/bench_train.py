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
    python3 benchmarks/bench_train.py --device cuda --net darts --epochs 3 --warmup 1
    python3 benchmarks/bench_train.py --device cuda --compile     # PyTorch through torch.compile too

--net picks the network (both sides build the same one; tools/make_cost_golden.py is
the PyTorch side, checked layer for layer against cellforge's cost model):
  nb201     NAS-Bench-201 C=16 N=1, the reference arch above (default)
  nb201n5   the same cell at C=16 N=5 (141 M MACs)
  darts     DARTS_V2 (the published genotype), C=16, 8 layers, no auxiliary head
  mobile    an MBConv network of the mobile space, width 1.0, expand 6 everywhere
--warmup K leaves the first K epochs out of the timing on both sides (cuDNN's
autotuning, CUDA graph capture, allocator growth), so the figure is steady state.
--compile adds PyTorch with torch.compile(mode="reduce-overhead") (CUDA graphs
through Inductor), the strongest PyTorch setup; its compile time is reported apart.
Each JSON line also gives the network's MACs per image (cellforge cost) and the
achieved training TFLOP/s, counted as 6 x MACs per image (forward 2, backward 4).

On a GPU both sides keep the dataset on the device, PyTorch runs eager with cuDNN
(benchmark mode on, TF32 off for fp32 as cellforge's fp32 is plain fp32, autocast for
bf16 and fp16, fp16 with GradScaler), and its timing waits for the device at the end of
each epoch. --precision bf16|fp16 runs cellforge in mixed precision too; TFLOP/s are then
set against the GPU's 16-bit tensor-core peak.

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
DARTS_V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
            "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
            "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
            "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
            "('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])")
MOBILE = "k3e6-k3e6|k5e6-k5e6|k5e6-k5e6-k5e6|k3e6-k3e6|k7e6-k7e6"
# name: (space, options, arch)
NETS = {
    "nb201": ("nb201", {"C": 16, "N": 1}, ARCH),
    "nb201n5": ("nb201", {"C": 16, "N": 5}, ARCH),
    "darts": ("darts", {"C": 16, "layers": 8, "auxiliary": 0}, DARTS_V2),
    "mobile": ("mobile", {"width": 1.0}, MOBILE),
}
# Published dense peaks of an H200 SXM (TFLOP/s): fp32 on CUDA cores, bf16 and fp16 on tensor cores.
PEAK = {"fp32": 67.0, "bf16": 989.0, "fp16": 989.0}
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
    from make_cost_golden import build_darts, build_mobile, build_nb201

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

    space, opts, arch = NETS[args.net]
    if space == "nb201":
        net = build_nb201(arch, opts, 1, 10)
    elif space == "darts":
        net = build_darts(arch, opts, 1, 10, 28)
    else:
        net = build_mobile(arch, opts, 1, 10)
    net = net.to(dev)
    model = net
    compile_s = None
    if getattr(args, "torch_compile", False):
        model = torch.compile(net, mode="reduce-overhead")
    half = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.precision)
    amp = torch.autocast(device_type=dev.type, dtype=half or torch.float32, enabled=half is not None)
    # fp16 scales its loss as cellforge does (GradScaler's defaults: 2^16, halve, double after 2000)
    scaler = torch.amp.GradScaler(dev.type) if args.precision == "fp16" else None
    opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    steps = max(1, math.ceil(len(xtr) // args.batch * args.fraction))
    total = steps * args.epochs
    t = 0
    seconds = 0.0
    g = torch.Generator().manual_seed(args.seed)
    # the learning rate as a tensor: a compiled step does not recompile when it changes
    lr_t = torch.tensor(args.lr, device=dev) if getattr(args, "torch_compile", False) else None
    if lr_t is not None:
        for group in opt.param_groups:
            group["lr"] = lr_t
    for epoch in range(args.epochs):
        net.train()
        order = torch.randperm(len(xtr), generator=g).to(dev)
        start = time.perf_counter()
        for s in range(steps):
            lr = 0.5 * args.lr * (1 + math.cos(math.pi * t / total))
            if lr_t is not None:
                lr_t.fill_(lr)
            else:
                for group in opt.param_groups:
                    group["lr"] = lr
            idx = order[s * args.batch:(s + 1) * args.batch]
            xb, yb = xtr[idx], ytr[idx]
            with amp:
                loss = F.cross_entropy(model(xb)[0], yb)
            opt.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
            t += 1
            if compile_s is None and lr_t is not None and s == 0:
                torch.cuda.synchronize()
                compile_s = time.perf_counter() - start
        if dev.type == "cuda":
            torch.cuda.synchronize()
        if epoch >= args.warmup:
            seconds += time.perf_counter() - start
    net.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(xte), 1000):
            correct += (net(xte[i:i + 1000])[0].argmax(1) == yte[i:i + 1000]).sum().item()
    timed = args.epochs - args.warmup
    out = {"impl": "pytorch-compile" if lr_t is not None else "pytorch", "version": torch.__version__,
           "net": args.net, "device": args.device, "precision": args.precision, "threads": args.threads,
           "epochs": args.epochs, "warmup": args.warmup, "batch": args.batch,
           "images_per_s": round(steps * args.batch * timed / seconds, 1),
           "train_seconds": round(seconds, 2), "test_acc": correct / len(xte)}
    if compile_s is not None:
        out["first_step_seconds"] = round(compile_s, 1)
    return out


def space_args(args):
    space, opts, arch = NETS[args.net]
    out = ["--space", space]
    for k, v in opts.items():
        out += ["--set", "%s=%s" % (k, v)]
    return out, arch


def macs_per_image(args):
    sargs, arch = space_args(args)
    out = subprocess.run([args.cellforge, "cost"] + sargs + ["--json", arch], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out.splitlines()[0])["macs"]


def run_cellforge(args):
    sargs, arch = space_args(args)
    cmd = [args.cellforge, "train"] + sargs + [
           "--dataset", "fashion-mnist", "--data-dir", args.data, "--epochs", str(args.epochs),
           "--batch", str(args.batch), "--lr", str(args.lr), "--val-fraction", "0", "--fraction", str(args.fraction),
           "--threads", str(args.threads), "--seed", str(args.seed), "--device", args.device,
           "--precision", args.precision, arch]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    m = re.search(r"test accuracy ([0-9.]+)% \(\d+ images\); ([0-9.]+) training images/s", out)
    if not m:
        raise SystemExit("unexpected cellforge output:\n" + out)
    # steady state: the epochs after the warm-up, from the per-epoch lines
    secs = [float(x) for x in re.findall(r"^epoch \d+/\d+  loss .* ([0-9.]+) s$", out, re.M)]
    ips = float(m.group(2))
    if args.warmup and len(secs) == args.epochs:
        images = math.ceil(60000 // args.batch * args.fraction) * args.batch * (args.epochs - args.warmup)
        ips = round(images / sum(secs[args.warmup:]), 1)
    return {"impl": "cellforge", "net": args.net, "device": args.device, "precision": args.precision,
            "threads": args.threads, "epochs": args.epochs, "warmup": args.warmup, "batch": args.batch,
            "images_per_s": ips, "epoch_seconds": secs, "test_acc": float(m.group(1)) / 100}


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
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"],
                   help="both sides: cellforge --precision, PyTorch autocast (fp16 with GradScaler)")
    p.add_argument("--skip-torch", action="store_true")
    p.add_argument("--skip-cellforge", action="store_true")
    p.add_argument("--rounds", type=int, default=1,
                   help="run both sides this many times, alternating, and compare medians")
    p.add_argument("--net", default="nb201", choices=sorted(NETS))
    p.add_argument("--fraction", type=float, default=1.0, help="share of each epoch's batches, both sides")
    p.add_argument("--warmup", type=int, default=0, help="epochs left out of the timing on both sides")
    p.add_argument("--compile", dest="torch_compile", action="store_true",
                   help="also PyTorch with torch.compile(mode='reduce-overhead')")
    args = p.parse_args()
    if args.warmup >= args.epochs:
        raise SystemExit("--warmup %d leaves no timed epoch of %d" % (args.warmup, args.epochs))
    macs = macs_per_image(args) if os.path.exists(args.cellforge) else None

    def show(row):
        if macs:
            tflops = 6.0 * macs * row["images_per_s"] / 1e12
            row["macs_per_image"] = macs
            row["train_tflops"] = round(tflops, 2)
            if row["device"].startswith("cuda"):
                row["pct_of_peak"] = round(100 * tflops / PEAK[row["precision"]], 2)
        print(json.dumps(row), flush=True)

    ours, theirs, compiled = [], [], []
    for r in range(max(1, args.rounds)):
        if not args.skip_cellforge:
            ours.append(dict(run_cellforge(args), round=r + 1))
            show(ours[-1])
        if not args.skip_torch:
            theirs.append(dict(run_torch(argparse.Namespace(**dict(vars(args), torch_compile=False))), round=r + 1))
            show(theirs[-1])
            if args.torch_compile:
                compiled.append(dict(run_torch(args), round=r + 1))
                show(compiled[-1])
    if not ours or not theirs:
        return
    ips_ours = statistics.median(o["images_per_s"] for o in ours)
    ips_theirs = statistics.median(t["images_per_s"] for t in theirs)
    summary = {"net": args.net, "ratio_images_per_s": round(ips_ours / ips_theirs, 3),
               "test_acc_cellforge": ours[-1]["test_acc"], "test_acc_pytorch": theirs[-1]["test_acc"]}
    if len(ours) > 1:
        summary.update({"rounds": len(ours), "median_images_per_s_cellforge": ips_ours,
                        "median_images_per_s_pytorch": ips_theirs,
                        "ratio_per_round": [round(o["images_per_s"] / t["images_per_s"], 3)
                                            for o, t in zip(ours, theirs)]})
    if compiled:
        ips_c = statistics.median(c["images_per_s"] for c in compiled)
        summary["ratio_vs_compile"] = round(ips_ours / ips_c, 3)
    print(json.dumps(summary))

if __name__ == "__main__":
    main()
