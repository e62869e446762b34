#!/usr/bin/python3
"""bench_oneshot.py - one-shot search (darts, gdas, spos) against the multi-trial default
search (nsga2) at the same wall time, with the same final phase, on Fashion-MNIST.

Every run is `cellforge search` on the NB201 search network (C=8, N=1) at the default
fidelity (a quarter of an epoch's batches per epoch), same seed and threads. A one-shot run
trains its supernet for --supernet-epochs, derives its architectures and trains them as
trials; its search wall time (the summary's `wall`, the final phase excluded) then becomes
the --time budget of the nsga2 run of the same seed. Each run then retrains its best
architecture from scratch for --retrain-epochs on the whole training split and measures it
on the test set. One JSON line per run, then the medians per search over the seeds.

    /usr/bin/python3 benchmarks/bench_oneshot.py [--seeds 2] [--supernet-epochs 6] [--threads 2]
    /usr/bin/python3 benchmarks/bench_oneshot.py --nsga2-only 95,100   # nsga2 at other walls
"""
import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(exe, out, seed, args, extra):
    cmd = [exe, "search", "--space", "nb201", "--set", "C=8", "--set", "N=1", "--seed", str(seed), "--threads",
           str(args.threads), "--retrain", "1", "--retrain-epochs", str(args.retrain_epochs), "--out", out,
           "--quiet"] + extra
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("failed (%d): %s\n%s%s" % (r.returncode, " ".join(cmd), r.stdout[-2000:], r.stderr[-2000:]))
    events = [json.loads(l) for l in open(os.path.join(out, "journal.jsonl"))]
    proposed = {e["id"]: e["arch"] for e in events if e["event"] == "trial_proposed"}
    finished = [e for e in events if e["event"] == "trial_finished"]
    ok = [e for e in finished if e["status"] == "ok" and proposed.get(e["id"]) != "supernet"]
    supernet = [e for e in finished if proposed.get(e["id"]) == "supernet"]
    tests = []
    for d in sorted(os.listdir(os.path.join(out, "final"))):
        p = os.path.join(out, "final", d, "test.json")
        if os.path.exists(p):
            tests.append(json.load(open(p)))
    best = max(tests, key=lambda t: t["test_acc"]) if tests else None
    wall = re.search(r"wall ([0-9.]+) s", r.stdout)
    row = {"trials_ok": len(ok), "best_val": max((e["val_acc"] for e in ok), default=0.0),
           "test_acc": best["test_acc"] if best else None, "final_arch": best["arch"] if best else None,
           "search_wall_s": float(wall.group(1)) if wall else None}
    if supernet:
        row["supernet_val"] = supernet[0]["val_acc"]
        row["supernet_s"] = supernet[0]["train_seconds"]
        row["derived_acc"] = supernet[0].get("metrics", {}).get("derived_acc")
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--supernet-epochs", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--retrain-epochs", type=int, default=3)
    ap.add_argument("--methods", default="darts,gdas,spos")
    ap.add_argument("--nsga2-only", default="",
                    help="comma-separated budgets in seconds: run nsga2 alone at each (per seed), e.g. the walls "
                         "of the one-shot runs of an earlier invocation")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()
    exe = os.path.join(args.build, "cellforge")
    tmp = tempfile.mkdtemp(prefix="cf_oneshot_")
    methods = args.methods.split(",")
    rows = {m: [] for m in methods + ["nsga2"]}
    try:
        if args.nsga2_only:
            for seed in range(args.seeds):
                for budget in [int(b) for b in args.nsga2_only.split(",")]:
                    out = os.path.join(tmp, "nsga2-%d-%d" % (seed, budget))
                    row = dict(run(exe, out, seed, args, ["--strategy", "nsga2", "--time", "%ds" % budget]),
                               search="nsga2", seed=seed, budget_s=budget)
                    print(json.dumps(row), flush=True)
            return
        for seed in range(args.seeds):
            walls = []
            for m in methods:
                out = os.path.join(tmp, "%s-%d" % (m, seed))
                # no budget cut: the one-shot run takes what its supernet epochs take
                extra = ["--strategy", m, "--strategy-options", "epochs=%d" % args.supernet_epochs, "--time", "2h"]
                row = dict(run(exe, out, seed, args, extra), search=m, seed=seed)
                walls.append(row["search_wall_s"])
                rows[m].append(row)
                print(json.dumps(row), flush=True)
            budget = int(math.ceil(walls[0]))  # the first method's (darts by default) wall time
            out = os.path.join(tmp, "nsga2-%d" % seed)
            row = dict(run(exe, out, seed, args, ["--strategy", "nsga2", "--time", "%ds" % budget]), search="nsga2",
                       seed=seed, budget_s=budget)
            rows["nsga2"].append(row)
            print(json.dumps(row), flush=True)
        summary = {"seeds": args.seeds, "supernet_epochs": args.supernet_epochs, "threads": args.threads,
                   "retrain_epochs": args.retrain_epochs}
        for name, rs in rows.items():
            tests = [r["test_acc"] for r in rs if r["test_acc"] is not None]
            summary[name] = {"test_acc_median": statistics.median(tests) if tests else None,
                             "search_wall_s_median": statistics.median(r["search_wall_s"] for r in rs),
                             "trials_ok_median": statistics.median(r["trials_ok"] for r in rs)}
        print(json.dumps(summary))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
