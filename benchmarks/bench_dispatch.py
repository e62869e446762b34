#!/usr/bin/python3
"""bench_dispatch.py - controller overhead per trial, cellforge against Optuna, in one run.

cellforge: build/benchmarks/bench_dispatch runs N trials of the table evaluator through the
whole controller (strategy ask and tell, exact cost model, placement, worker threads and
queues, a table row written and flushed per trial) on 4 CPU workers.
Optuna: its plain ask/tell loop over the same search space (the 6 edges of a NAS-Bench-201
cell, 5 ops each, as categorical parameters) with an in-memory study and a trivial
objective, RandomSampler for `random` and the default TPESampler for the model-based row.
TPE's cost grows with the number of trials, so it runs fewer (--tpe-trials).

    /usr/bin/python3 benchmarks/bench_dispatch.py [--trials 10000] [--tpe-trials 1000]

Needs Optuna (pip install optuna). Prints one JSON line per configuration and a last
line with the ratio of microseconds per trial (Optuna over cellforge; above 1 means
cellforge's whole controller costs less per trial than Optuna's ask/tell alone).
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]


def optuna_loop(trials, sampler_name):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.RandomSampler(seed=1) if sampler_name == "random" else optuna.samplers.TPESampler(seed=1)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    t0 = time.perf_counter()
    for _ in range(trials):
        trial = study.ask()
        ops = [trial.suggest_categorical("edge%d" % e, OPS) for e in range(6)]
        value = ops.count("nor_conv_3x3") / 6.0
        study.tell(trial, value)
    wall = time.perf_counter() - t0
    return {"bench": "dispatch", "impl": "optuna " + optuna.__version__, "strategy": sampler_name,
            "trials": trials, "wall_s": round(wall, 4), "us_per_trial": round(1e6 * wall / trials, 2)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=10000)
    ap.add_argument("--tpe-trials", type=int, default=1000)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()
    exe = os.path.join(args.build, "benchmarks", "bench_dispatch")
    out = subprocess.run([exe, "--trials", str(args.trials), "--workers", "4"], check=True,
                         capture_output=True, text=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    for r in rows:
        print(json.dumps(r))
    try:
        peer = optuna_loop(args.trials, "random")
        tpe = optuna_loop(args.tpe_trials, "tpe")
    except ImportError:
        print("optuna is not installed (pip install optuna): cellforge figures only", file=sys.stderr)
        return
    print(json.dumps(peer))
    print(json.dumps(tpe))
    ours = next(r for r in rows if r["strategy"] == "random")
    print(json.dumps({"ratio": "optuna_random_us_per_trial / cellforge_random_us_per_trial",
                      "value": round(peer["us_per_trial"] / ours["us_per_trial"], 2)}))


if __name__ == "__main__":
    main()
