"""Reading a run directory: its trials, Pareto front and best model."""

import json
import os

# trial fields as the journal names them, in the order records show them
FIELDS = ("id", "status", "val_acc", "arch", "params", "macs", "activation_bytes", "latency_ms", "epochs",
          "fraction", "parent", "train_seconds", "start", "end", "batch", "attempts", "reason", "metrics")

# objectives of a run (spec "objectives") as trial fields, every one minimized
_OBJECTIVE = {"acc": lambda t: 1 - t["val_acc"], "macs": lambda t: t["macs"], "params": lambda t: t["params"],
              "memory": lambda t: t["activation_bytes"], "latency": lambda t: t["latency_ms"]}


class Run:
    """A run directory (``cellforge search --out DIR``, a :class:`Study` or
    :func:`search`), read from its journal: complete or not, running or not.

    ``trials`` is a list of dicts (the fields of ``FIELDS``; ``status`` is
    ok, nan, diverged, timeout, oom, error, rejected, cut, or pending /
    running for trials the journal has not seen end), ``spec`` the run's
    settings.
    """

    def __init__(self, path):
        self.path = str(path)
        journal = os.path.join(self.path, "journal.jsonl")
        if not os.path.isfile(journal):
            raise FileNotFoundError("%s: not a run directory (no journal.jsonl)" % self.path)
        with open(os.path.join(self.path, "spec.json"), encoding="utf-8") as f:
            self.spec = json.load(f)
        self.events = []
        with open(journal, encoding="utf-8") as f:
            lines = f.read().split("\n")
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                self.events.append(json.loads(line))
            except ValueError:
                if n < len(lines) - 1:  # only the last line may be torn by a crash
                    raise ValueError("%s: line %d is not JSON" % (journal, n)) from None
        self.trials = self._trials()

    def _trials(self):
        by_id = {}
        for e in self.events:
            kind, tid = e.get("event", ""), e.get("id")
            if not kind.startswith("trial_") or tid is None:
                continue
            t = by_id.setdefault(tid, {k: None for k in FIELDS})
            t["id"] = tid
            if kind == "trial_proposed":
                t["status"] = "pending"
            elif kind == "trial_started":
                t["status"] = "running"
            for k, v in e.items():
                if k in FIELDS and k != "id" and (k != "status" or kind != "trial_started"):
                    t[k] = v
            if kind == "trial_rejected":
                t["status"] = "rejected"
            elif kind == "trial_cut":
                t["status"] = "cut"
        return [by_id[k] for k in sorted(by_id)]

    def objectives(self):
        return self.spec.get("objectives", "acc").split(",")

    def ok(self):
        """The trials that finished ok."""
        return [t for t in self.trials if t["status"] == "ok"]

    def best(self):
        """The ok trial with the highest validation accuracy (the first of equals), or None."""
        best = None
        for t in self.ok():
            if best is None or t["val_acc"] > best["val_acc"]:
                best = t
        return best

    def front(self):
        """The Pareto front of the ok trials on the run's objectives, by accuracy."""
        keys = [_OBJECTIVE[o] for o in self.objectives()]
        pts = [(t, [k(t) for k in keys]) for t in self.ok()]

        def dominates(a, b):
            return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))

        front = [t for t, p in pts if not any(dominates(q, p) for _, q in pts)]
        return sorted(front, key=lambda t: -t["val_acc"])

    @property
    def best_model(self):
        """The best retrained model file (best.cfm), or None when the run has none."""
        path = os.path.join(self.path, "best.cfm")
        return path if os.path.exists(path) else None

    @property
    def test(self):
        """The final phase's test results (final/test.json), or None."""
        path = os.path.join(self.path, "final", "test.json")
        if not os.path.exists(path):
            return None
        with open(path, encoding="utf-8") as f:
            return json.load(f)

    def dataframe(self):
        """The trials as a pandas DataFrame (one row per trial, metrics as columns)."""
        try:
            import pandas
        except ImportError:
            raise ImportError("Run.dataframe needs pandas (pip install pandas, or apt-get install "
                              "python3-pandas); Run.trials has the same records as dicts") from None
        rows = []
        for t in self.trials:
            row = {k: v for k, v in t.items() if k != "metrics"}
            for k, v in (t["metrics"] or {}).items():
                row.setdefault(k, v)
            rows.append(row)
        return pandas.DataFrame(rows).set_index("id") if rows else pandas.DataFrame(columns=FIELDS)

    def __repr__(self):
        return "Run(%r: %d trials, %d ok)" % (self.path, len(self.trials), len(self.ok()))
