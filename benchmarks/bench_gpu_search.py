#!/usr/bin/python3
"""bench_gpu_search.py - search throughput on one GPU: trials per minute, cellforge against
PyTorch, in one run.

The search: NAS-Bench-201 C=8 N=1, random cells, each trial trains a quarter epoch of the
54,000-image training split of Fashion-MNIST (batch 256, SGD with Nesterov momentum 0.9,
weight decay 5e-4, lr 0.1 cosine per step) and then evaluates the 6,000 held-out images,
for --time seconds per configuration:

  cellforge cuda:0   `cellforge search --devices cuda:0` (trials at once sized by measurement)
  cellforge auto     `cellforge search --devices auto`
  pytorch xN         N PyTorch processes sharing the GPU (N = 1: the one-trial-per-GPU way of
                     NNI and Ray Tune; N > 1: Ray Tune's fractional GPUs), each training
                     trials one after another; eager, cudnn.benchmark on, TF32 off

Both sides build the same networks: PyTorch from tools/make_cost_golden.py, whose layers
the cost tests check against cellforge's. A trial counts when it finished inside the time.
The GPU's SM activity comes from `nvidia-smi dmon -s u` sampled once a second during each
configuration (null where nvidia-smi is missing). Prints one JSON line per configuration
and a summary: cellforge's best trials/min over the best PyTorch configuration's.

    python3 benchmarks/bench_gpu_search.py --time 60                 # on the GPU machine
    python3 benchmarks/bench_gpu_search.py --time 60 --procs 1,4,8,16
    /usr/bin/python3 benchmarks/bench_gpu_search.py --device cpu --time 20 --procs 1,2   # CPU check
"""
import argparse
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_train  # noqa: E402

ROOT = bench_train.ROOT
OPTS = {"C": 8, "N": 1}


def torch_worker(args, seed, deadline, out_path):
    """One PyTorch process: trials until the deadline; writes how many finished."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    from make_cost_golden import build_nb201, nb201_format, nb201_sample

    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    x = bench_train.read_idx(os.path.join(args.data, "train-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
    y = bench_train.read_idx(os.path.join(args.data, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    x = torch.from_numpy((x - x.mean()) / x.std()).unsqueeze(1).to(dev)
    y = torch.from_numpy(y).to(dev)
    xtr, ytr, xva, yva = x[:54000], y[:54000], x[54000:], y[54000:]
    rng = random.Random(seed)
    steps = max(1, int(len(xtr) // args.batch * args.fraction))
    done = 0
    while time.time() < deadline:
        net = build_nb201(nb201_format(nb201_sample(rng)), OPTS, 1, 10).to(dev)
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
        order = torch.randperm(len(xtr), device=dev)
        net.train()
        for s in range(steps):
            for group in opt.param_groups:
                group["lr"] = 0.05 * (1 + math.cos(math.pi * s / steps))
            idx = order[s * args.batch:(s + 1) * args.batch]
            loss = F.cross_entropy(net(xtr[idx])[0], ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            correct = sum((net(xva[i:i + 1000])[0].argmax(1) == yva[i:i + 1000]).sum().item()
                          for i in range(0, len(xva), 1000))
        if time.time() <= deadline:
            done += 1
        del correct
    with open(out_path, "w") as f:
        f.write(str(done))


class SmMonitor:
    """nvidia-smi dmon in the background: the mean SM % while it ran."""

    def __init__(self, device):
        self.p = None
        if device == "cuda" and shutil.which("nvidia-smi"):
            self.p = subprocess.Popen(["nvidia-smi", "dmon", "-s", "u", "-d", "1", "-i", "0"],
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def stop(self):
        if not self.p:
            return None
        self.p.terminate()
        out = self.p.communicate()[0]
        sm = [float(line.split()[1]) for line in out.splitlines()
              if line.strip() and not line.startswith("#") and line.split()[1].replace(".", "").isdigit()]
        return round(statistics.mean(sm), 1) if sm else None


def run_cellforge(args, devices, tmp):
    out = os.path.join(tmp, "cf-" + devices.replace(":", ""))
    cmd = [args.cellforge, "search", "--space", "nb201", "--set", "C=8", "--set", "N=1", "--strategy", "random",
           "--devices", devices, "--epochs", "1", "--fraction", str(args.fraction), "--batch", str(args.batch),
           "--time", "%ds" % args.time, "--retrain", "0", "--quiet", "--out", out]
    if args.device == "cpu":
        cmd += ["--threads", str(args.threads)]
    mon = SmMonitor(args.device)
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.time * 3 + 300)
    wall = time.time() - t0
    sm = mon.stop()
    if p.returncode != 0:
        raise SystemExit("cellforge failed:\n" + p.stdout[-1500:] + p.stderr[-1500:])
    with open(os.path.join(out, "journal.jsonl")) as f:
        ends = [e for e in map(json.loads, f) if e.get("event") == "trial_finished"]
    done = sum(1 for e in ends if e.get("end", 0) <= args.time)
    slots = [line.strip() for line in p.stdout.splitlines() if "trials at once" in line]
    return {"config": "cellforge " + devices, "trials": done, "seconds": args.time,
            "trials_per_min": round(60 * done / args.time, 1), "sm_pct": sm, "wall_s": round(wall, 1),
            "slots": slots}


def run_torch(args, n, tmp):
    import multiprocessing as mp
    ctx = mp.get_context("spawn")
    start = time.time() + 5  # data loading and CUDA start-up before the clock starts
    deadline = start + args.time
    paths = [os.path.join(tmp, "torch-%d-%d" % (n, i)) for i in range(n)]
    procs = [ctx.Process(target=torch_worker, args=(args, 1000 * n + i, deadline, paths[i])) for i in range(n)]
    for p in procs:
        p.start()
    time.sleep(max(0.0, start - time.time()))
    mon = SmMonitor(args.device)
    for p in procs:
        p.join()
    sm = mon.stop()
    done = 0
    for path in paths:
        with open(path) as f:
            done += int(f.read())
    return {"config": "pytorch x%d" % n, "trials": done, "seconds": args.time,
            "trials_per_min": round(60 * done / args.time, 1), "sm_pct": sm}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--time", type=int, default=60, help="seconds per configuration")
    p.add_argument("--procs", default="1,4,8,16", help="PyTorch process counts")
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--threads", type=int, default=1, help="CPU threads per PyTorch process (and cellforge on cpu)")
    p.add_argument("--fraction", type=float, default=0.25)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--data", default=bench_train.DATA)
    p.add_argument("--cellforge", default=os.path.join(ROOT, "build", "cellforge"))
    p.add_argument("--skip-auto", action="store_true", help="no `--devices auto` configuration")
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        configs = [("cellforge", "cuda:0" if args.device == "cuda" else "cpu")]
        if not args.skip_auto and args.device == "cuda":
            configs.append(("cellforge", "auto"))
        configs += [("torch", int(n)) for n in args.procs.split(",")]
        for kind, what in configs:
            row = run_cellforge(args, what, tmp) if kind == "cellforge" else run_torch(args, what, tmp)
            row["device"] = args.device
            print(json.dumps(row), flush=True)
            rows.append(row)
    best_cf = max((r for r in rows if r["config"].startswith("cellforge")), key=lambda r: r["trials_per_min"])
    best_pt = max((r for r in rows if r["config"].startswith("pytorch")), key=lambda r: r["trials_per_min"])
    print(json.dumps({"summary": "trials/min", "cellforge": best_cf["config"], "cellforge_tpm": best_cf["trials_per_min"],
                      "pytorch": best_pt["config"], "pytorch_tpm": best_pt["trials_per_min"],
                      "ratio": round(best_cf["trials_per_min"] / max(best_pt["trials_per_min"], 1e-9), 2)}))


if __name__ == "__main__":
    main()
