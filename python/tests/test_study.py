"""Ask/tell studies: deterministic per seed, constrained before you train,
parallel asks, and a resume after kill -9 that loses nothing."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

import cellforge


def fake_acc(trial):
    """A made-up accuracy that depends only on the arch."""
    return (sum(map(ord, trial.arch)) % 997) / 1000.0


def drive(out, seed, n, strategy="evolution", **kw):
    archs = []
    with cellforge.Study("nb201", strategy=strategy, strategy_options="population=4,sample=2", seed=seed,
                         trials=n, out=str(out), **kw) as study:
        while (t := study.ask()) is not None:
            archs.append((t.id, t.arch))
            study.tell(t, fake_acc(t), loss=1.0 - fake_acc(t))
    return archs


def test_ask_tell_is_deterministic_per_seed(tmp_path):
    a = drive(tmp_path / "a", 3, 12)
    b = drive(tmp_path / "b", 3, 12)
    c = drive(tmp_path / "c", 4, 12)
    assert len(a) == 12 and a == b
    assert a != c
    run = cellforge.Run(tmp_path / "a")
    assert [t["id"] for t in run.trials] == list(range(12))
    assert all(t["status"] == "ok" and t["metrics"]["loss"] == pytest.approx(1 - t["val_acc"]) for t in run.trials)
    assert run.best()["val_acc"] == max(t["val_acc"] for t in run.trials)
    # the run directory is the command line's: report, status
    assert (tmp_path / "a" / "report.html").exists()
    assert (tmp_path / "a" / "spec.json").exists()


def test_constraints_reject_before_the_user_trains(tmp_path):
    space = cellforge.Space("nb201", C=8, N=1)
    limit = 40000
    with cellforge.Study(space, strategy="random", trials=15, max_params=limit, out=str(tmp_path / "r")) as study:
        seen = 0
        while (t := study.ask()) is not None:
            assert t.params <= limit and space.cost(t.arch).params == t.params
            assert t.options == {"C": 8, "N": 1}
            study.tell(t, 0.5)
            seen += 1
    run = cellforge.Run(tmp_path / "r")
    rejected = [t for t in run.trials if t["status"] == "rejected"]
    assert seen == 15 and rejected and all(t["params"] > limit for t in rejected)


def test_parallel_asks_and_failed_trials(tmp_path):
    with cellforge.Study("nb201", strategy="random", trials=9, parallel=3, out=str(tmp_path / "p")) as study:
        while True:
            batch = [study.ask() for _ in range(3)]
            if batch[0] is None:
                break
            assert len({t.id for t in batch if t}) == len([t for t in batch if t])
            with pytest.raises(cellforge.Error, match="asked and not told"):
                study.ask()
            for t in reversed([t for t in batch if t]):
                if t.id % 4 == 1:
                    study.tell(t, error="CUDA out of memory in my loop")
                else:
                    study.tell(t, 0.25)
            with pytest.raises(cellforge.Error, match="not waiting"):
                study.tell(batch[0], 0.3)
    run = cellforge.Run(tmp_path / "p")
    failed = [t for t in run.trials if t["status"] == "error"]
    assert len(run.trials) == 9 and [t["id"] for t in failed] == [1, 5]
    assert "CUDA out of memory in my loop" in failed[0]["reason"]
    with cellforge.Study("nb201", trials=1, out=str(tmp_path / "q")) as study:
        t = study.ask()
        with pytest.raises(TypeError, match="number acc"):
            study.tell(t, "high")
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            study.tell(t, 91.5)
        study.tell(t, 0.915)


DRIVER = textwrap.dedent("""
    import os, signal, sys
    import cellforge
    sys.path.insert(0, %r)
    from test_study import fake_acc
    study = cellforge.Study("nb201", strategy="evolution", strategy_options="population=4,sample=2", seed=9,
                            trials=10, out=sys.argv[1])
    while (t := study.ask()) is not None:
        print(t.id, t.arch, flush=True)
        if t.id == 6:
            os.kill(os.getpid(), signal.SIGKILL)   # trial 6 asked, never told
        study.tell(t, fake_acc(t))
""")


def test_resume_after_kill_9(tmp_path):
    out = tmp_path / "k"
    script = tmp_path / "driver.py"
    script.write_text(DRIVER % os.path.dirname(os.path.abspath(__file__)))
    res = subprocess.run([sys.executable, str(script), str(out)], capture_output=True, text=True, timeout=120)
    assert res.returncode == -signal.SIGKILL, res.stderr
    before = [line.split(" ", 1) for line in res.stdout.strip().split("\n") if line[:1].isdigit()]
    assert [int(i) for i, _ in before] == list(range(7))
    # the same study again, on the same directory: it resumes
    study = cellforge.Study("nb201", out=str(out))
    assert study.resumed
    first = study.ask()
    assert (first.id, first.arch) == (6, before[6][1])
    resumed = [(first.id, first.arch)]
    study.tell(first, fake_acc(first))
    while (t := study.ask()) is not None:
        resumed.append((t.id, t.arch))
        study.tell(t, fake_acc(t))
    assert study.close() == 0
    # the record equals an uninterrupted run's
    whole = drive(tmp_path / "w", 9, 10)
    assert [(int(i), a) for i, a in before[:6]] + resumed == whole
    got = cellforge.Run(out)
    assert [(t["id"], t["arch"], t["val_acc"]) for t in got.trials] == \
           [(t["id"], t["arch"], t["val_acc"]) for t in cellforge.Run(tmp_path / "w").trials]


def test_close_with_open_trials_then_resume(tmp_path):
    out = str(tmp_path / "c")
    study = cellforge.Study("nb201", strategy="random", parallel=2, out=out, seed=1)
    t0, t1 = study.ask(), study.ask()
    study.tell(t0, 0.4)
    assert study.close() == 0
    first = cellforge.Run(out)
    status = {t["id"]: t["status"] for t in first.trials}
    # trial 0 told; trial 1 asked and not told; trials the engine had proposed
    # meanwhile (a freed worker's next, depending on timing) are cut too
    assert status[0] == "ok" and status[1] == "cut" and set(status.values()) <= {"ok", "cut"}
    with cellforge.Study("nb201", out=out, trials=3, parallel=2) as again:
        t = again.ask()
        assert (t.id, t.arch) == (t1.id, t1.arch)
        again.tell(t, 0.5)
        while (t := again.ask()) is not None:
            again.tell(t, 0.6)
    final = cellforge.Run(out)
    assert [t["id"] for t in final.trials] == sorted(status) and all(t["status"] == "ok" for t in final.trials)
    assert [t["arch"] for t in final.trials] == [t["arch"] for t in first.trials]


def test_bad_settings_fail_when_opened(tmp_path):
    with pytest.raises(cellforge.Error, match="did you mean 'evolution'"):
        cellforge.Study("nb201", strategy="evolutoin", out=str(tmp_path / "a"))
    with pytest.raises(cellforge.Error, match="rejected by the constraints"):
        cellforge.Study("nb201", max_params=10, out=str(tmp_path / "b"))
    # nothing stays claimed: the next study opens
    with cellforge.Study("nb201", trials=1, out=str(tmp_path / "c")) as study:
        t = study.ask()
        study.tell(t, 0.5)
        assert study.ask() is None


def test_zero_cost_warmup_from_python(tmp_path):
    """A study ranks its first proposals by a proxy: the first trials are the
    warm-up's best by synflow, best first, and the scores are in the journal."""
    import json
    space = cellforge.Space("nb201", C=4, N=1)
    with cellforge.Study(space, strategy="evolution", strategy_options="population=4,sample=2", seed=2, trials=6,
                         warmup=12, warmup_keep=3, proxy="synflow", proxy_batch=8, out=str(tmp_path / "w")) as study:
        archs = []
        while (t := study.ask()) is not None:
            archs.append(t.arch)
            study.tell(t, fake_acc(t))
    events = [json.loads(line) for line in open(tmp_path / "w" / "journal.jsonl")]
    scored = {e["arch"]: e["synflow"] for e in events if e["event"] == "proxy_scored"}
    assert len(scored) == 12
    best = sorted(scored, key=scored.get, reverse=True)[:3]
    assert archs[:3] == best
    # the same numbers as Space.score, which scores the same way
    assert space.score(best[0], batch=8, seed=2)["synflow"] == pytest.approx(scored[best[0]], rel=1e-12)


def test_hyperparameters_searched_from_python(tmp_path):
    """search={...} declares dimensions; each trial carries its values, and
    its options, lr and batch follow them."""
    with cellforge.Study("nb201", strategy="random", seed=1, trials=5, out=str(tmp_path / "h"),
                         search={"lr": "log:0.01..0.5", "C": "int:4..8", "batch": "choice:32,64",
                                 "augment": "choice:none,flip"}) as study:
        seen = []
        while (t := study.ask()) is not None:
            assert set(t.hparams) == {"lr", "C", "batch", "augment"}
            assert 0.01 <= t.hparams["lr"] <= 0.5 and t.lr == t.hparams["lr"]
            assert t.options["C"] == t.hparams["C"] and 4 <= t.hparams["C"] <= 8
            assert t.batch == t.hparams["batch"] in (32, 64)
            assert t.hparams["augment"] in ("none", "flip")
            assert t.macs == cellforge.Space("nb201", C=t.hparams["C"], N=1).cost(t.arch.split(" {")[0]).macs
            seen.append(t.hparams["lr"])
            study.tell(t, 0.5)
    assert len(set(seen)) == 5
