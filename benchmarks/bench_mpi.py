#!/usr/bin/python3
"""bench_mpi.py - what a search over MPI ranks costs, on one host (mpirun --oversubscribe).

1. Overhead: the table evaluator (results looked up, time simulated, so a trial is nothing
   but dispatch) over N trials, in one process with K CPU workers and over K ranks with one
   worker each. Printed per trial: the controller's own time (ask, cost, placement, tell;
   the summary's `controller` figure) and the wall time, which over ranks adds the round
   trip of each trial's message (the controller of a simulated run waits for every running
   trial's result before it completes the earliest).
2. Scaling: trials of simulated work (a `cmd:` trainer that sleeps --work seconds, so the
   CPU count of this host does not limit it) over 1, 2, 4 ranks of one worker each; the
   efficiency is trials per second over (ranks x the one-rank figure).
3. Data-parallel trials (--replicas 2) that train on Fashion-MNIST: the group in one process
   (2 workers of one thread) against the group spanning 2 ranks (--span-ranks, gradients
   summed over MPI), seconds per trial and whether both trained to the same numbers.

One JSON line per configuration.

    /usr/bin/python3 benchmarks/bench_mpi.py [--exe build/cellforge] [--trials 2000] [--ranks 3]
                                             [--work 0.2] [--work-trials 40] [--scale 1,2,4]
                                             [--dp-trials 6] [--parts overhead,scaling,dp]
"""
import argparse
import json
import os
import re
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
SUMMARY = re.compile(r"wall ([0-9.]+) s, controller ([0-9.]+) s")


def search(exe, ranks, workers, args, tmp, name):
    """One search; ranks 0 runs it in one process. Its wall and controller seconds, and the
    trial_finished lines' accuracies (id, val_acc) in id order."""
    out = os.path.join(tmp, name)
    cmd = [exe, "search"] + args + ["--cpu-workers", str(workers), "--threads", "1", "--retrain", "0",
                                    "--quiet", "--out", out]
    if ranks:
        cmd = ["mpirun", "--oversubscribe", "--bind-to", "none", "-np", str(ranks)] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=900)
    m = SUMMARY.search(p.stdout)
    if p.returncode != 0 or not m:
        raise SystemExit("failed: %s\n%s%s" % (" ".join(cmd), p.stdout[-2000:], p.stderr[-2000:]))
    with open(os.path.join(out, "journal.jsonl")) as f:
        done = sorted((e["id"], e["val_acc"]) for e in map(json.loads, f) if e.get("event") == "trial_finished")
    return float(m.group(1)), float(m.group(2)), done


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exe", default=os.path.join(ROOT, "build", "cellforge"))
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--ranks", type=int, default=3)
    ap.add_argument("--work", type=float, default=0.2)
    ap.add_argument("--work-trials", type=int, default=40)
    ap.add_argument("--scale", default="1,2,4")
    ap.add_argument("--dp-trials", type=int, default=6)
    ap.add_argument("--parts", default="overhead,scaling,dp")
    a = ap.parse_args()
    parts = a.parts.split(",")
    table = ["--space", os.path.join(ROOT, "benchmarks/spaces/nb201-3op.json"), "--set", "C=4", "--evaluator",
             "table:" + os.path.join(ROOT, "benchmarks/tables/nb201-3op-fmnist.tsv"), "--fraction", "0.1",
             "--strategy", "random", "--strategy-options", "dedup=0", "--seed", "1", "--trials", str(a.trials)]
    with tempfile.TemporaryDirectory() as tmp:
        for label, ranks, workers in (("one process", 0, a.ranks), ("ranks", a.ranks, 1)):
            if "overhead" not in parts:
                break
            wall, ctl, _ = search(a.exe, ranks, workers, table, tmp, "o%d" % ranks)
            print(json.dumps({"bench": "overhead", "config": label, "ranks": ranks or 1, "workers": a.ranks,
                              "trials": a.trials, "wall_s": round(wall, 3),
                              "controller_us_per_trial": round(1e6 * ctl / a.trials, 1),
                              "wall_us_per_trial": round(1e6 * wall / a.trials, 1)}), flush=True)
        trainer = os.path.join(tmp, "trainer.sh")
        with open(trainer, "w") as f:
            f.write("cat > /dev/null\nsleep %g\necho '{\"acc\": 0.5}'\n" % a.work)
        work = ["--space", os.path.join(ROOT, "benchmarks/spaces/nb201-3op.json"), "--set", "C=4",
                "--evaluator", "cmd:sh " + trainer, "--strategy", "random", "--strategy-options", "dedup=0",
                "--seed", "1", "--trials", str(a.work_trials)]
        base = None
        for k in [int(x) for x in a.scale.split(",")] if "scaling" in parts else []:
            wall, _, _ = search(a.exe, k, 1, work, tmp, "s%d" % k)
            rate = a.work_trials / wall
            base = base or rate
            print(json.dumps({"bench": "scaling", "ranks": k, "trials": a.work_trials, "work_s": a.work,
                              "wall_s": round(wall, 3), "trials_per_s": round(rate, 3),
                              "efficiency": round(rate / (k * base), 3)}), flush=True)
        dp = ["--space", "nb201", "--set", "C=8", "--set", "N=1", "--strategy", "random", "--seed", "1",
              "--trials", str(a.dp_trials), "--fraction", "0.1", "--batch", "256", "--replicas", "2"]
        results = {}
        for label, ranks, extra in (("one process", 0, []), ("2 ranks", 2, ["--span-ranks"])):
            if "dp" not in parts:
                break
            wall, _, results[label] = search(a.exe, ranks, 1 if ranks else 2, dp + extra, tmp, "d%d" % ranks)
            print(json.dumps({"bench": "data-parallel", "config": label, "trials": a.dp_trials,
                              "wall_s": round(wall, 3), "s_per_trial": round(wall / a.dp_trials, 3),
                              "same_results": results[label] == results.get("one process")}), flush=True)


if __name__ == "__main__":
    main()
