#!/usr/bin/python3
"""bench_contention.py - training throughput on a shared CPU: cellforge against PyTorch,
each alone and then beside a competing load, in one run.

The competing load is K busy processes (default: one per core) that spin in a Python
loop, started before and stopped after each measured run. Both sides train the NB201
reference network of bench_train.py on Fashion-MNIST (a share of an epoch, --fraction)
with the same threads; each reports images/s idle and loaded, and the slowdown
(idle / loaded). A training loop whose waiting threads spin slows down far more under
load than one whose threads sleep: the spinning threads take the time slices the
working ones need.

    /usr/bin/python3 benchmarks/bench_contention.py                  # 2 threads, 2 busy processes
    /usr/bin/python3 benchmarks/bench_contention.py --rounds 3 --fraction 0.2
    OMP_WAIT_POLICY=active /usr/bin/python3 benchmarks/bench_contention.py   # both sides spinning
    GOMP_SPINCOUNT=1000 /usr/bin/python3 benchmarks/bench_contention.py --skip-torch   # another spin

The cellforge binary sets its own short spin (GOMP_SPINCOUNT, README "Threads on a shared
machine") unless the environment has OMP_WAIT_POLICY or GOMP_SPINCOUNT; a variable set
here also reaches PyTorch, which runs in this process.

Prints one JSON line per side, condition and round, then a summary with the median
slowdowns and their ratio (cellforge's slowdown over PyTorch's; at most 1 means
cellforge suffers no more from the load than PyTorch does).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_train  # noqa: E402


def start_load(k):
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(k)]


def stop_load(procs):
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def measure(side, args, loaded):
    procs = start_load(args.load) if loaded else []
    try:
        row = bench_train.run_cellforge(args) if side == "cellforge" else bench_train.run_torch(args)
    finally:
        stop_load(procs)
    return row["images_per_s"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--load", type=int, default=os.cpu_count(), help="busy processes beside the run")
    p.add_argument("--fraction", type=float, default=0.1, help="share of an epoch each run trains")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--data", default=bench_train.DATA)
    p.add_argument("--cellforge", default=os.path.join(bench_train.ROOT, "build", "cellforge"))
    p.add_argument("--skip-torch", action="store_true", help="cellforge alone")
    args = p.parse_args()
    # what bench_train's runners read
    ns = argparse.Namespace(epochs=1, threads=args.threads, batch=256, lr=0.1, seed=0, data=args.data,
                            cellforge=args.cellforge, device="cpu", precision="fp32", net="nb201", warmup=0,
                            fraction=args.fraction, torch_compile=False, load=args.load)
    slow = {"cellforge": [], "pytorch": []}
    for r in range(args.rounds):
        for side in ("cellforge",) if args.skip_torch else ("cellforge", "pytorch"):
            idle = measure(side, ns, False)
            loaded = measure(side, ns, True)
            slow[side].append(idle / loaded)
            print(json.dumps({"impl": side, "round": r + 1, "threads": args.threads, "load": args.load,
                              "fraction": args.fraction, "idle_images_per_s": idle,
                              "loaded_images_per_s": loaded, "slowdown": round(idle / loaded, 2),
                              "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
                              "gomp_spincount": os.environ.get("GOMP_SPINCOUNT", "")}), flush=True)
    if args.skip_torch:
        return
    sc, sp = statistics.median(slow["cellforge"]), statistics.median(slow["pytorch"])
    print(json.dumps({"slowdown_cellforge": round(sc, 2), "slowdown_pytorch": round(sp, 2),
                      "ratio": round(sc / sp, 2), "rounds": args.rounds}))


if __name__ == "__main__":
    main()
