#!/usr/bin/python3
"""bench_strategies.py - search strategies compared on a benchmark table, many seeds each.

Every strategy searches the same table (made with `cellforge tabulate` on real data) with
the table evaluator, on the same simulated budget and the same number of workers, for
--seeds seeds. Single-fidelity strategies train every trial at the highest fidelity; the
multi-fidelity ones (sh, hyperband, asha) also use the lower rungs. The incumbent at time t
is the best validation accuracy among trials finished by t at the highest fidelity.

Prints one JSON line per strategy: the anytime curve (median and quartiles of the
incumbent over seeds at 20 points of the budget) and the final incumbent; for the
multi-objective rows (--objectives acc,macs) the final hypervolume of (error, MACs /
max MACs of the table) against the reference point (1, 1.1), median and quartiles.

    /usr/bin/python3 benchmarks/bench_strategies.py --table benchmarks/tables/nb201-3op-fmnist.tsv \
        --space benchmarks/spaces/nb201-3op.json [--seeds 20] [--budget-trials 30] [--workers 4]

With --zero-cost N, it compares instead evolution (accuracy) and NSGA-II (acc,macs) with and
without a zero-cost warm-up (--warmup N: the best tenth of N random cells, scored by
--proxy (synflow) or by params, the baseline, on the real networks at the table's options,
proposed first) and with a proxy pool (--proxy-pool 4), at the same simulated training budget: scoring costs wall time, not
training time. One JSON line per (strategy, variant): the final incumbent or hypervolume,
median and quartiles over the seeds, and the seconds spent scoring.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SINGLE = ["random", "evolution", "local", "bananas"]
MULTI_FIDELITY = ["sh", "hyperband", "asha"]
MULTI_OBJECTIVE = ["random", "nsga2"]
# Populations sized for budgets of tens of trials: with the defaults (50) evolution and
# NSGA-II would still be sampling their random first generation when the budget ends.
OPTIONS = {"evolution": "population=10,sample=3", "nsga2": "population=10"}


def spearman(a, b):
    def ranks(v):
        order = sorted(range(len(v)), key=lambda i: v[i])
        r = [0.0] * len(v)
        for pos, i in enumerate(order):
            r[i] = float(pos)
        return r
    ra, rb = ranks(a), ranks(b)
    ma, mb = statistics.mean(ra), statistics.mean(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va = sum((x - ma) ** 2 for x in ra) ** 0.5
    vb = sum((y - mb) ** 2 for y in rb) ** 0.5
    return cov / (va * vb) if va and vb else 0.0


def read_table(path):
    rows, header = [], None
    for line in open(path):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if header is None or fields == header:
            header = fields
            continue
        rows.append(dict(zip(header, fields)))
    return rows


def run_search(exe, space, table, strategy, seed, epochs, fraction, budget, workers, objectives, out, extra=()):
    args = [exe, "search", "--space", space, "--evaluator", "table:" + table, "--strategy", strategy,
            "--epochs", str(epochs), "--fraction", fraction, "--time", "%.3fs" % budget, "--cpu-workers", str(workers),
            "--seed", str(seed), "--out", out, "--quiet", "--retrain", "0"] + list(extra)
    if objectives:
        args += ["--objectives", objectives]
    if strategy in OPTIONS:
        args += ["--strategy-options", OPTIONS[strategy]]
    run = subprocess.run(args, check=False, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit("cellforge search failed (%d): %s\n%s" % (run.returncode, " ".join(args), run.stderr))
    run_search.proxy_seconds = 0.0
    for line in run.stdout.splitlines():
        if line.startswith("zero-cost proxies:"):
            run_search.proxy_seconds = float(line.split(" scored in ")[1].split(" s")[0])
    proposed, finished = {}, []
    with open(os.path.join(out, "journal.jsonl")) as f:
        for line in f:
            e = json.loads(line)
            if e["event"] == "trial_proposed":
                proposed[e["id"]] = e
            elif e["event"] == "trial_finished":
                finished.append(e)
    return proposed, finished


def incumbent_curve(proposed, finished, epochs, points):
    done = sorted((e["end"], e["val_acc"]) for e in finished
                  if e["status"] == "ok" and proposed[e["id"]]["epochs"] == epochs)
    curve, best, k = [], 0.0, 0
    for t in points:
        while k < len(done) and done[k][0] <= t:
            best = max(best, done[k][1])
            k += 1
        curve.append(best)
    return curve


def hypervolume_2d(points, ref):
    pts = sorted(p for p in points if p[0] < ref[0] and p[1] < ref[1])
    hv, best_y = 0.0, ref[1]
    for x, y in pts:
        if y < best_y:
            hv += (ref[0] - x) * (best_y - y)
            best_y = y
    return hv


def quartiles(values):
    q = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else [values[0]] * 3
    return {"q1": round(q[0], 5), "median": round(q[1], 5), "q3": round(q[2], 5)}


def zero_cost(args, exe, epochs, fraction, budget, points, max_macs, tmp):
    """Evolution and NSGA-II with and without zero-cost ranking, at the same training budget."""
    options = [o for o in open(args.table) if o.startswith("# options ")]
    sets = []
    for kv in (options[0][len("# options "):].strip().split(", ") if options else []):
        sets += ["--set", kv]
    # params is the baseline every proxy has to beat (ZiCo, ICLR 2023)
    variants = [("none", None, []),
                ("warmup", args.proxy, sets + ["--warmup", str(args.zero_cost), "--proxy", args.proxy]),
                ("warmup", "params", sets + ["--warmup", str(args.zero_cost), "--proxy", "params"]),
                ("pool", args.proxy, sets + ["--proxy-pool", "4", "--proxy", args.proxy])]
    for strategy, objectives in (("evolution", None), ("nsga2", "acc,macs")):
        for name, proxy, extra in variants:
            finals, hvs, secs = [], [], []
            for seed in range(args.seeds):
                out = os.path.join(tmp, "zc-%s-%s-%s-%d" % (strategy, name, proxy, seed))
                proposed, finished = run_search(exe, args.space, args.table, strategy, seed, epochs, fraction, budget,
                                                args.workers, objectives, out, extra)
                secs.append(run_search.proxy_seconds)
                finals.append(incumbent_curve(proposed, finished, epochs, points)[-1])
                pts = [(1 - e["val_acc"], proposed[e["id"]]["macs"] / max_macs) for e in finished
                       if e["status"] == "ok" and proposed[e["id"]]["epochs"] == epochs]
                hvs.append(hypervolume_2d(pts, (1.0, 1.1)))
                shutil.rmtree(out, ignore_errors=True)
            row = {"strategy": strategy, "variant": name, "proxy": proxy,
                   "final": quartiles(finals), "mean_final": round(statistics.mean(finals), 5),
                   "scoring_s_median": round(statistics.median(secs), 2)}
            if objectives:
                row.update({"objectives": objectives, "hypervolume": quartiles(hvs),
                            "mean_hypervolume": round(statistics.mean(hvs), 5)})
            print(json.dumps(row), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--table", required=True)
    ap.add_argument("--space", required=True)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--budget-trials", type=float, default=30,
                    help="budget: this many highest-fidelity trainings of median length, spread over the workers")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--zero-cost", type=int, default=0, metavar="N",
                    help="compare evolution and nsga2 with and without a zero-cost warm-up of N cells instead")
    ap.add_argument("--proxy", default="synflow", help="what --zero-cost ranks by (default synflow; params is always "
                    "run beside it as the baseline)")
    args = ap.parse_args()
    exe = os.path.join(args.build, "cellforge")
    rows = read_table(args.table)
    epochs = max(int(r["epochs"]) for r in rows)
    top = [r for r in rows if int(r["epochs"]) == epochs]
    fraction = top[0].get("fraction", "1")
    secs = statistics.median(float(r["train_seconds"]) for r in top)
    best_possible = max(float(r["val_acc"]) for r in top)
    max_macs = max(float(r["macs"]) for r in top)
    budget = args.budget_trials * secs / args.workers
    points = [budget * (i + 1) / 20 for i in range(20)]
    # how well the lowest fidelity ranks the cells of the highest (what multi-fidelity relies on)
    low = min(int(r["epochs"]) for r in rows)
    by_arch = {}
    for r in rows:
        by_arch.setdefault(r["arch"], {})[int(r["epochs"])] = float(r["val_acc"])
    pairs = [(v[low], v[epochs]) for v in by_arch.values() if low in v and epochs in v]
    rho = spearman([p[0] for p in pairs], [p[1] for p in pairs]) if low != epochs and pairs else None
    print(json.dumps({"table": args.table, "cells": len(top), "epochs": epochs, "budget_s": round(budget, 1),
                      "workers": args.workers, "seeds": args.seeds, "best_in_table": best_possible,
                      "spearman_lowest_vs_highest_fidelity": None if rho is None else round(rho, 3),
                      "options": OPTIONS}))
    tmp = tempfile.mkdtemp(prefix="cf_strategies_")
    try:
        if args.zero_cost:
            zero_cost(args, exe, epochs, fraction, budget, points, max_macs, tmp)
            return
        for strategy in SINGLE + MULTI_FIDELITY:
            curves, finals, trials = [], [], []
            for seed in range(args.seeds):
                out = os.path.join(tmp, "%s-%d" % (strategy, seed))
                proposed, finished = run_search(exe, args.space, args.table, strategy, seed, epochs, fraction, budget,
                                                args.workers, None, out)
                c = incumbent_curve(proposed, finished, epochs, points)
                curves.append(c)
                finals.append(c[-1])
                trials.append(len(finished))
            curve = [quartiles([c[i] for c in curves]) for i in range(len(points))]
            print(json.dumps({"strategy": strategy, "final": quartiles(finals),
                              "mean_final": round(statistics.mean(finals), 5),
                              "regret_median": round(best_possible - statistics.median(finals), 5),
                              "trials_median": statistics.median(trials),
                              "curve_t": [round(p, 1) for p in points], "curve": curve}))
        for strategy in MULTI_OBJECTIVE:
            hvs = []
            for seed in range(args.seeds):
                out = os.path.join(tmp, "mo-%s-%d" % (strategy, seed))
                proposed, finished = run_search(exe, args.space, args.table, strategy, seed, epochs, fraction, budget,
                                                args.workers, "acc,macs", out)
                pts = [(1 - e["val_acc"], proposed[e["id"]]["macs"] / max_macs) for e in finished
                       if e["status"] == "ok" and proposed[e["id"]]["epochs"] == epochs]
                hvs.append(hypervolume_2d(pts, (1.0, 1.1)))
            print(json.dumps({"strategy": strategy, "objectives": "acc,macs", "hypervolume": quartiles(hvs),
                              "mean_hypervolume": round(statistics.mean(hvs), 5)}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
