#!/usr/bin/env python3
"""What a search adds per trial when the training is yours: cellforge from Python
against Optuna's ask/tell, in the same run.

A trivial evaluator (returns a constant) over N trials (10,000) of the NB201
space (6 edges, 5 ops each), random sampling with repeats allowed, so the
figures are the machinery alone:

  cellforge Study      ask/tell, run directory with the journal (fsync'd events,
                       each tell in the journal before it returns), the report at close
  cellforge search     the engine calls a Python function per trial (1 worker)
  optuna in memory     Optuna ask/tell, RandomSampler, InMemoryStorage (nothing on disk)
  optuna journal file  Optuna ask/tell, RandomSampler, JournalFileStorage (a crash-safe
                       file, the closest to cellforge's journal)

Rounds alternate the setups (the machine is shared and noisy) and the table gives
the median microseconds per trial and the ratio to cellforge's Study.

  python3 benchmarks/bench_python_overhead.py [--trials 10000] [--rounds 3]
Needs the cellforge package (pip install ., or PYTHONPATH=python with a build) and
Optuna (apt-get install python3-optuna, or pip install optuna).
"""

import argparse
import logging
import os
import shutil
import statistics
import tempfile
import time

import cellforge

OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]


def run_study(n, tmp):
    out = os.path.join(tmp, "study")
    t0 = time.perf_counter()
    with cellforge.Study("nb201", strategy="random", strategy_options="dedup=0", trials=n, out=out) as study:
        while (t := study.ask()) is not None:
            study.tell(t, 0.5)
    dt = time.perf_counter() - t0
    assert len(cellforge.Run(out).ok()) == n
    return dt


def run_search(n, tmp):
    out = os.path.join(tmp, "search")
    t0 = time.perf_counter()
    run = cellforge.search("nb201", lambda t: 0.5, workers=1, trials=n, strategy="random",
                           strategy_options="dedup=0", out=out, quiet=True)
    dt = time.perf_counter() - t0
    assert len(run.ok()) == n
    return dt


def optuna_objective_params(trial):
    return [trial.suggest_categorical("e%d" % i, OPS) for i in range(6)]


def run_optuna(n, storage):
    import optuna
    t0 = time.perf_counter()
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0), storage=storage)
    for _ in range(n):
        t = study.ask()
        optuna_objective_params(t)
        study.tell(t, 0.5)
    dt = time.perf_counter() - t0
    assert len(study.trials) == n
    return dt


def run_optuna_memory(n, tmp):
    return run_optuna(n, None)


def run_optuna_journal(n, tmp):
    import optuna
    path = os.path.join(tmp, "optuna.log")
    storage = optuna.storages.JournalStorage(optuna.storages.JournalFileStorage(path))
    return run_optuna(n, storage)


SETUPS = [("cellforge Study (ask/tell, journal)", run_study),
          ("cellforge search (callback)", run_search),
          ("Optuna ask/tell, in memory", run_optuna_memory),
          ("Optuna ask/tell, journal file", run_optuna_journal)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    import optuna
    optuna.logging.set_verbosity(logging.WARNING)
    print("cellforge %s, Optuna %s, %d trials per setup, %d rounds" % (cellforge.__version__, optuna.__version__,
                                                                    args.trials, args.rounds), flush=True)
    times = {name: [] for name, _ in SETUPS}
    for r in range(args.rounds):
        order = SETUPS if r % 2 == 0 else list(reversed(SETUPS))
        for name, fn in order:
            tmp = tempfile.mkdtemp(prefix="cf-overhead-")
            try:
                dt = fn(args.trials, tmp)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            times[name].append(dt)
            print("round %d  %-36s %8.2f s  %8.1f us/trial" % (r + 1, name, dt, 1e6 * dt / args.trials), flush=True)
    base = statistics.median(times[SETUPS[0][0]])
    print("\n| setup | us per trial (median of %d) | vs cellforge Study |" % args.rounds)
    print("|---|---|---|")
    for name, _ in SETUPS:
        m = statistics.median(times[name])
        print("| %s | %.1f | %.2fx |" % (name, 1e6 * m / args.trials, m / base))


if __name__ == "__main__":
    main()
