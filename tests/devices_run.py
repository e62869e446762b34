#!/usr/bin/python3
"""devices_run.py SRC_RUN DST_RUN [--old] - a run directory whose journal tells
a search over two GPUs on two MPI ranks, several trials at once on each, for
the devices section of `cellforge status` and the report's timeline
(tests/cli_run_state.sh, tests/cli_report.sh). spec.json and the architectures
come from SRC_RUN, a finished run; the journal is written here, with its
checksums. --old writes it as a version before device records would have: no
"devices", no "slots", no rank or host.

The story (run clock in seconds; the journal ends at 40):
  cuda:0 (rank 0): trial 0 [0, 10] slot 0, trial 1 [2, 12] slot 1, trial 2 [4, 8]
                   slot 2, trial 3 [11, 20] slot 0, trial 4 from 30 and trial 7 from 32,
                   running, slots 1 and 0
                   busy: [0, 20] and [30, 40] = 30 s of 40, 75.0%
  cuda:1 (rank 1): trial 5 [0, 5] out of memory and retried, again [5, 15] slot 0,
                   trial 6 from 35, running, slot 3
                   busy: [0, 15] and [35, 40] = 20 s of 40, 50.0%
"""
import json
import os
import shutil
import sys
import zlib

src, dst = sys.argv[1], sys.argv[2]
old = "--old" in sys.argv[3:]
os.makedirs(dst)
shutil.copy(os.path.join(src, "spec.json"), dst)
proposed = [json.loads(l) for l in open(os.path.join(src, "journal.jsonl"), encoding="utf-8")
            if '"event":"trial_proposed"' in l][:8]
assert len(proposed) == 8, "%s has fewer than 8 proposals" % src
HOSTS = ("node-a", "node-b")
devices = [{"worker": w, "name": "cuda:%d" % w, "device": "NVIDIA H200", "kind": "cuda", "threads": 1, "slots": 8,
            "rank": w, "host": HOSTS[w]} for w in (0, 1)]
events = [(0, "run_started", {"cellforge": "0.1.0", "resumed": False, "workers": 2, "pid": 1, "devices": devices})]
for i, p in enumerate(proposed):
    events.append((0, "trial_proposed", {k: v for k, v in p.items() if k not in ("seq", "event", "time", "clock", "crc")}
                   | {"id": i, "parent": -1}))


def where(worker, slot):
    return {"replicas": 1, "workers": [worker], "slots": [slot], "rank": worker, "host": HOSTS[worker]}


def started(t, worker, slot, start, attempt=1):
    return (start, "trial_started", {"id": t, "attempt": attempt, "batch": 64, **where(worker, slot), "start": start,
                                     "memory": 1000})


def finished(t, worker, slot, start, end, attempts=1):
    return (end, "trial_finished", {"id": t, "status": "ok", "reason": "", "val_acc": 0.5 + t / 100, "epochs_done": 1,
                                    "train_seconds": end - start, "start": start, "end": end, "attempts": attempts,
                                    "batch": 64, **where(worker, slot), "memory": 1000})


events += [started(0, 0, 0, 0), started(5, 1, 0, 0), started(1, 0, 1, 2), started(2, 0, 2, 4),
           (5, "trial_retry", {"id": 5, "attempts": 1, "batch": 32}), started(5, 1, 0, 5, attempt=2),
           finished(2, 0, 2, 4, 8), finished(0, 0, 0, 0, 10), started(3, 0, 0, 11), finished(1, 0, 1, 2, 12),
           finished(5, 1, 0, 5, 15, attempts=2), finished(3, 0, 0, 11, 20), started(4, 0, 1, 30), started(7, 0, 0, 32),
           started(6, 1, 3, 35),
           (40, "trial_epoch", {"id": 4, "epoch": 0, "train_loss": 1.5, "train_acc": 0.4, "val_acc": 0.45, "lr": 0.1,
                                "seconds": 10})]
with open(os.path.join(dst, "journal.jsonl"), "w", encoding="utf-8") as f:
    for seq, (clock, name, fields) in enumerate(events):
        if old:
            fields = {k: v for k, v in fields.items() if k not in ("devices", "slots", "rank", "host")}
        body = '{"seq":%d,"event":"%s","time":%.3f,"clock":%.17g,%s,' % (
            seq, name, 1796600000 + clock, clock, json.dumps(fields, separators=(",", ":"))[1:-1])
        f.write(body + '"crc":"%08x"}\n' % zlib.crc32(body.encode()))
