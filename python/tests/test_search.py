"""Callback searches: the engine calls a Python function per trial."""

import threading
import time

import pytest

import cellforge


def test_callback_search_records_results_and_exceptions(tmp_path):
    threads = set()

    def evaluate(trial):
        threads.add(threading.get_ident())
        if trial.id % 5 == 2:
            raise RuntimeError("diverged at step %d" % (trial.id * 10))
        if trial.id % 5 == 3:
            return {"acc": 0.5, "loss": 0.7, "note": "fine", "epochs_seen": trial.epochs}
        return 0.1 + trial.params / 1e6

    run = cellforge.search("nb201", evaluate, workers=2, trials=20, strategy="random", seed=2,
                           objectives=["acc", "params"], out=str(tmp_path / "s"), quiet=True)
    assert isinstance(run, cellforge.Run) and len(run.trials) == 20
    assert len(threads) == 2  # both workers called it, on the engine's threads
    by_id = {t["id"]: t for t in run.trials}
    for i, t in by_id.items():
        if i % 5 == 2:
            assert t["status"] == "error"
            assert "RuntimeError: diverged at step %d" % (i * 10) in t["reason"]
            assert "test_search.py" in t["reason"]
        elif i % 5 == 3:
            assert t["status"] == "ok" and t["val_acc"] == 0.5
            assert t["metrics"] == {"loss": 0.7, "note": "fine", "epochs_seen": 1}
        else:
            assert t["status"] == "ok" and t["val_acc"] == pytest.approx(0.1 + t["params"] / 1e6)
    front = run.front()
    assert front and all(t["status"] == "ok" for t in front)
    for t in front:  # nothing ok dominates a front trial
        assert not any(o["val_acc"] >= t["val_acc"] and o["params"] <= t["params"] and
                       (o["val_acc"] > t["val_acc"] or o["params"] < t["params"]) for o in run.ok())
    df = run.dataframe()
    assert len(df) == 20 and df.loc[3, "loss"] == 0.7 and df.loc[2, "status"] == "error"


def test_bad_results_fail_only_their_trial(tmp_path):
    answers = {0: 1.5, 1: "high", 2: {"loss": 1.0}, 3: float("nan"), 4: 0.75}
    run = cellforge.search("nb201", lambda t: answers[t.id], trials=5, strategy="random",
                           out=str(tmp_path / "b"), quiet=True)
    st = {t["id"]: (t["status"], t["reason"]) for t in run.trials}
    assert st[4] == ("ok", "")
    assert "ValueError" in st[0][1] and "TypeError" in st[1][1] and "TypeError" in st[2][1]
    assert "ValueError" in st[3][1]


def test_bad_arguments_raise(tmp_path):
    with pytest.raises(cellforge.Error, match="strategy"):
        cellforge.search("nb201", lambda t: 0.5, trials=2, strategy="evolutoin", out=str(tmp_path / "x"))
    with pytest.raises(cellforge.Error, match="--max-macs"):
        cellforge.search("nb201", lambda t: 0.5, trials=2, max_macs=-3, out=str(tmp_path / "y"))


def test_search_resumes_its_run(tmp_path):
    out = str(tmp_path / "r")
    first = cellforge.search("nb201", lambda t: 0.3, trials=4, strategy="random", out=out, quiet=True)
    assert len(first.trials) == 4
    more = cellforge.search("nb201", lambda t: 0.4, trials=7, out=out, quiet=True)
    assert [t["val_acc"] for t in more.trials] == [0.3] * 4 + [0.4] * 3


def test_workers_run_side_by_side(tmp_path):
    """Two workers call the function at the same time: the engine holds no GIL
    while it works, and a slow trial does not hold up the other worker."""
    live, most = [0], [0]
    lock = threading.Lock()

    def evaluate(trial):
        with lock:
            live[0] += 1
            most[0] = max(most[0], live[0])
        time.sleep(0.3)
        with lock:
            live[0] -= 1
        return 0.5

    run = cellforge.search("nb201", evaluate, workers=2, trials=6, strategy="random", out=str(tmp_path / "w"),
                           quiet=True)
    assert len(run.ok()) == 6 and most[0] == 2
