#!/usr/bin/python3
"""bench_defaults.py - what a new user gets from `cellforge search` with its defaults.

Two measurements, each printing one JSON line per run (and a summary line at the end):

  --spaces nb201,darts,nb101,mobile   each space searched with its defaults and
      `--time 5m --retrain 0` (the search phase only): finished trials, best validation
      accuracy, trials at chance level and whether each is flagged with its cause, out of
      memory trials, cut trials, and the search phase's wall time against the budget.
  --budget 60m   one planned run, `cellforge search --budget 60m` (search, final phase,
      test, report and export inside the hour): the final model's test accuracy,
      parameters and MACs, and the whole command's wall time against the budget.

Run on an idle machine (the figures are wall times); --threads is passed to every search.

    /usr/bin/python3 benchmarks/bench_defaults.py --spaces nb201,darts,nb101,mobile
    /usr/bin/python3 benchmarks/bench_defaults.py --budget 60m [--extra "--max-params 100K"]
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CF = os.path.join(ROOT, "build", "cellforge")


def seconds(text):
    unit = {"s": 1, "m": 60, "h": 3600}
    return float(text[:-1]) * unit[text[-1]] if text[-1] in unit else float(text)


def journal(run_dir):
    events = []
    with open(os.path.join(run_dir, "journal.jsonl")) as f:
        for line in f:
            line = line.strip()
            if line:
                events.append(json.loads(line))
    return events


def search(args, extra, run_dir):
    cmd = [CF, "search"] + args + extra + ["--out", run_dir, "--quiet"]
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.monotonic() - t0
    return p, wall, cmd


def space_row(space, time_text, extra, work):
    run_dir = os.path.join(work, space)
    p, wall, cmd = search(["--space", space, "--time", time_text, "--retrain", "0"], extra, run_dir)
    budget = seconds(time_text)
    trials = {}
    search_wall = None
    started = None
    for e in journal(run_dir):
        if e["event"] == "run_started" and started is None:
            started = e["time"]
        if e["event"] == "trial_finished":
            trials[e["id"]] = e
        if e["event"] == "run_stopped":
            search_wall = e["time"] - started
    ok = [t for t in trials.values() if t["status"] == "ok"]
    chance = [t for t in ok if t["val_acc"] < 0.15]
    flagged = [t for t in chance if t["reason"].startswith("chance level")]
    cut = sum(1 for e in journal(run_dir) if e["event"] == "trial_cut")
    row = {
        "space": space, "budget_s": budget, "exit": p.returncode,
        "finished": len(trials), "ok": len(ok),
        "failed": sum(1 for t in trials.values() if t["status"] != "ok"),
        "oom": sum(1 for t in trials.values() if t["status"] == "oom"),
        "cut": cut,
        "best_val_acc": max((t["val_acc"] for t in ok), default=None),
        "chance": len(chance), "chance_flagged": len(flagged),
        "chance_reasons": sorted({t["reason"][:80] for t in chance}),
        "search_wall_s": round(search_wall, 1) if search_wall else None,
        "command_wall_s": round(wall, 1),
        "preflight": next((l for l in p.stdout.splitlines() if l.startswith("pre-flight")), None),
    }
    row["met"] = (row["ok"] >= 5 and (row["best_val_acc"] or 0) >= 0.70 and row["chance"] * 10 <= max(row["ok"], 1)
                  and row["chance"] == row["chance_flagged"] and row["oom"] == 0
                  and row["search_wall_s"] is not None and row["search_wall_s"] <= 1.1 * budget)
    return row


def budget_row(budget_text, extra, work):
    run_dir = os.path.join(work, "budget")
    p, wall, cmd = search(["--budget", budget_text], extra, run_dir)
    finals = []
    for path in glob.glob(os.path.join(run_dir, "final", "*", "test.json")):
        with open(path) as f:
            finals.append(json.load(f))
    best = max(finals, key=lambda r: r["val_acc"]) if finals else None
    trials = sum(1 for e in journal(run_dir) if e["event"] == "trial_finished")
    return {
        "budget_s": seconds(budget_text), "exit": p.returncode, "command": " ".join(cmd[1:]),
        "wall_s": round(wall, 1), "search_trials": trials,
        "final": [{k: r.get(k) for k in ("trial", "options", "epochs", "val_acc", "test_acc", "params", "macs",
                                         "seconds", "arch")} for r in finals],
        "test_acc": best["test_acc"] if best else None,
        "params": best["params"] if best else None,
        "tail": p.stdout.splitlines()[-12:],
    }


def main():
    global CF
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spaces", help="comma-separated spaces, each searched with --time (default 5m)")
    ap.add_argument("--time", default="5m")
    ap.add_argument("--budget", help="one planned run of this whole-run budget (e.g. 60m)")
    ap.add_argument("--extra", default="", help="more flags for every search")
    ap.add_argument("--keep", help="keep the run directories here")
    ap.add_argument("--cellforge", help="the binary (default: build/cellforge)")
    args = ap.parse_args()
    if args.cellforge:
        CF = os.path.abspath(args.cellforge)
    if not args.spaces and not args.budget:
        ap.error("give --spaces, --budget or both")
    work = args.keep or tempfile.mkdtemp(prefix="cf-defaults-")
    os.makedirs(work, exist_ok=True)
    extra = args.extra.split()
    rows = []
    try:
        for space in (args.spaces.split(",") if args.spaces else []):
            row = space_row(space, args.time, extra, work)
            rows.append(row)
            print(json.dumps(row), flush=True)
        if args.budget:
            row = budget_row(args.budget, extra, work)
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    spaces = [r for r in rows if "space" in r]
    if spaces:
        print(json.dumps({"summary": "spaces", "all_met": all(r["met"] for r in spaces),
                          "met": {r["space"]: r["met"] for r in spaces}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
