#!/usr/bin/python3
"""bench_hpo.py - a joint architecture + hyperparameter search against the same search with
the hyperparameters fixed, at equal wall time, on Fashion-MNIST.

Both runs are `cellforge search` on the default NB201 search network (C=8, N=1, a quarter
epoch per trial) with the default strategy and objectives, the same --time, seed and threads,
and the same final phase (the best cell retrained --retrain-epochs on the whole training
split, then measured on the test set). The joint run adds --search dimensions for the
learning rate, weight decay, batch and augmentation; the fixed run trains every trial with
the defaults (lr 0.1, wd 5e-4, batch 256, no augmentation). The final model of the joint run
trains with the values its cell was found with. Rounds alternate fixed and joint so both
see the same machine; one JSON line per run, then the medians.

    /usr/bin/python3 benchmarks/bench_hpo.py [--time 4m] [--seeds 2] [--threads 2] [--retrain-epochs 3]
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JOINT = ["--search", "lr=log:0.02..0.5", "--search", "wd=log:0.00001..0.001",
         "--search", "batch=choice:64,128,256", "--search", "augment=choice:none,flip,crop+flip"]


def run(exe, out, seed, args, extra):
    cmd = [exe, "search", "--time", args.time, "--seed", str(seed), "--threads", str(args.threads), "--retrain", "1",
           "--retrain-epochs", str(args.retrain_epochs), "--out", out, "--quiet"] + extra
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("failed (%d): %s\n%s%s" % (r.returncode, " ".join(cmd), r.stdout[-2000:], r.stderr[-2000:]))
    finished = [json.loads(l) for l in open(os.path.join(out, "journal.jsonl")) if '"trial_finished"' in l]
    ok = [e for e in finished if e["status"] == "ok"]
    tests = []
    for d in sorted(os.listdir(os.path.join(out, "final"))):
        p = os.path.join(out, "final", d, "test.json")
        if os.path.exists(p):
            tests.append(json.load(open(p)))
    best = max(tests, key=lambda t: t["test_acc"]) if tests else None
    wall = re.search(r"wall ([0-9.]+) s", r.stdout)
    return {"trials_ok": len(ok), "best_val": max((e["val_acc"] for e in ok), default=0.0),
            "test_acc": best["test_acc"] if best else None, "final_arch": best["arch"] if best else None,
            "search_wall_s": float(wall.group(1)) if wall else None}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--time", default="4m")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--retrain-epochs", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()
    exe = os.path.join(args.build, "cellforge")
    tmp = tempfile.mkdtemp(prefix="cf_hpo_")
    rows = {"fixed": [], "joint": []}
    try:
        for seed in range(args.seeds):
            for name, extra in (("fixed", []), ("joint", JOINT)):
                out = os.path.join(tmp, "%s-%d" % (name, seed))
                row = dict(run(exe, out, seed, args, extra), search=name, seed=seed, time=args.time)
                rows[name].append(row)
                print(json.dumps(row), flush=True)
        summary = {"time": args.time, "seeds": args.seeds, "threads": args.threads}
        for name, rs in rows.items():
            summary[name] = {"best_val_median": statistics.median(r["best_val"] for r in rs),
                             "test_acc_median": statistics.median(r["test_acc"] for r in rs if r["test_acc"] is not None),
                             "trials_ok_median": statistics.median(r["trials_ok"] for r in rs)}
        print(json.dumps(summary))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
