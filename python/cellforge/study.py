"""Searches driven from Python: ask/tell studies and callback searches.

Both run the engine's own search (the strategy, the exact-cost constraints, the
journal, the run directory, resume, the report) in process; only the training
is yours. A trial reaches you as a :class:`Trial`; what you answer is recorded
as its result.
"""

import atexit
import ctypes
import json
import math
import os
import threading
import time as _time
import traceback
import weakref

from . import _lib
from ._lib import lib, Error
from .space import Space
from .run import Run


class Trial:
    """One trial of a search: the arch to train and how.

    Attributes: ``id``, ``arch`` (the space's text form), ``space`` (its name),
    ``space_file``, ``options`` (the skeleton, e.g. ``{"C": 8, "N": 1}``),
    ``epochs``, ``fraction`` (share of each epoch), ``batch``, ``lr``,
    ``seed`` (the trial's own, for weights and data order), ``dataset``,
    ``input`` (height, width, channels, classes), ``device`` ("cpu" or
    "cuda:K"), ``threads``, ``params`` and ``macs`` (exact), ``hparams`` (the
    values of the searched hyperparameters, e.g. ``{"lr": 0.0523, "augment":
    "flip"}``; ``options``, ``lr``, ``batch`` and ``epochs`` already follow
    them). ``data`` is the whole record as a dict.
    """

    def __init__(self, data):
        self.data = data
        self.id = data["trial"]
        for key in ("arch", "space", "space_file", "options", "epochs", "fraction", "batch", "lr", "seed", "dataset",
                    "input", "device", "threads", "params", "macs"):
            setattr(self, key, data.get(key))
        self.hparams = data.get("hparams") or {}

    def __repr__(self):
        return "Trial(%d, %r, params=%s, macs=%s)" % (self.id, self.arch, self.params, self.macs)

    def space_object(self):
        """The trial's :class:`Space` with its options set."""
        return Space(self.space_file, **self.options)


def _result_text(value, metrics=None):
    """The result line for a number (the accuracy) or a dict with "acc"."""
    if isinstance(value, dict):
        data = dict(value)
    else:
        data = {"acc": value}
    if metrics:
        data.update(metrics)

    def plain(v):
        if hasattr(v, "item"):  # numpy and torch scalars
            return v.item()
        raise TypeError("%r is not a number, string or bool" % (v,))

    acc = data.get("acc", data.get("val_acc"))
    if hasattr(acc, "item"):
        acc = acc.item()
    if not isinstance(acc, (int, float)) or isinstance(acc, bool):
        raise TypeError("the result needs a number acc (the validation accuracy in [0, 1]), got %r" % (acc,))
    if not (0 <= acc <= 1) or math.isnan(acc):
        raise ValueError("acc is %r: the validation accuracy in [0, 1]" % (acc,))
    return json.dumps(data, default=plain, allow_nan=False)


def _knob_args(knobs):
    """Keyword arguments as `cellforge search` flags: max_macs=3e6 -> --max-macs 3000000;
    a dict repeats its flag: search={"lr": "log:0.01..0.5"} -> --search lr=log:0.01..0.5."""
    args = []
    for key, value in knobs.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            args.append(flag)
        elif isinstance(value, dict):
            for k, v in value.items():
                args += [flag, "%s=%s" % (k, v)]
        elif isinstance(value, (list, tuple)):
            args += [flag, ",".join(str(v) for v in value)]
        elif isinstance(value, float) and value.is_integer() and key.startswith("max_"):
            args += [flag, str(int(value))]
        else:
            args += [flag, str(value)]
    return args


def _space_args(space):
    if isinstance(space, Space):
        args = ["--space", space.source]
        for k, v in space.options.items():
            args += ["--set", "%s=%s" % (k, int(v) if float(v).is_integer() else v)]
        return args
    return ["--space", str(space)]


def _default_out(space):
    name = space.name if isinstance(space, Space) else os.path.splitext(os.path.basename(str(space)))[0]
    return os.path.join("runs", "%s-%s" % (name, _time.strftime("%Y%m%d-%H%M%S")))


# Knobs a resumed run may change (the rest come from its spec.json).
_RESUMABLE = {"trials", "time", "devices", "cpu_workers", "threads", "cpu_memory", "quiet", "retrain",
              "retrain_epochs", "retrain_fraction"}


def _run_args(space, out, knobs):
    """(args, resuming): a new run in out, or the resume of the run already there."""
    if os.path.exists(os.path.join(out, "journal.jsonl")):
        ignored = sorted(k for k, v in knobs.items() if k not in _RESUMABLE and v is not None)
        args = ["--resume", out] + _knob_args({k: v for k, v in knobs.items() if k in _RESUMABLE})
        return args, ignored
    return _space_args(space) + ["--out", out, "--evaluator", "callback"] + _knob_args(knobs), None


def _slots(devices, k):
    """Where trials run: k slots on the CPU, or the devices named (trial.device says
    which; GPUs take trials as their memory allows, as in `cellforge search`)."""
    if devices is None or devices == "cpu":
        return {"devices": "cpu", "cpu_workers": k}
    return {"devices": devices, "cpu_workers": None}


_open_studies = weakref.WeakSet()


@atexit.register
def _close_open_studies():
    for study in list(_open_studies):
        study.close()


class Study:
    """An ask/tell search over a space, recorded in a run directory.

    ::

        study = cellforge.Study("nb201", strategy="evolution", trials=20, out="runs/mine")
        while (trial := study.ask()) is not None:
            acc = my_training(trial)
            study.tell(trial, acc, loss=0.31)
        study.close()

    ``space`` is a name, a .json file or a :class:`Space` (its options then
    fix the skeleton). The other keywords are the flags of ``cellforge
    search`` (``strategy``, ``strategy_options``, ``objectives``, ``seed``,
    ``trials``, ``time``, ``epochs``, ``fraction``, ``batch``, ``lr``,
    ``dataset``, ``max_macs``, ``max_params``, ...): candidates that break a
    constraint are rejected before you see them. ``parallel`` is how many
    trials may be asked and not told at once; ``devices="auto"`` or
    ``"cuda:0,1"`` hands out trials for those devices instead (``trial.device``
    says which; a GPU takes as many as its memory allows, as in ``cellforge
    search``). Without ``trials`` or ``time``
    the study runs until closed.

    The run directory is the CLI's: ``out`` holds the journal (each tell is in
    it when tell returns), ``cellforge status OUT`` and the report work on it,
    and opening a Study on a directory that holds a run resumes it: trials
    asked and not told before a crash or a close are asked again, with the
    same ids and archs. A resumed run takes its settings from its spec.json;
    only the budget (``trials``, ``time``) and ``parallel`` may change.
    """

    def __init__(self, space="nb201", *, out=None, parallel=1, devices=None, trials=None, time=None, quiet=True,
                 **knobs):
        self.out = out or _default_out(space)
        if trials is None and time is None and not os.path.exists(os.path.join(self.out, "journal.jsonl")):
            trials = 1000000000  # until closed
        knobs = dict(knobs, trials=trials, time=time, quiet=quiet, retrain=0, **_slots(devices, parallel))
        args, ignored = _run_args(space, self.out, knobs)
        self.resumed = ignored is not None
        argc, argv = _lib.argv(args)
        handle = ctypes.c_void_p()
        if lib.cellforge_study_open(argc, argv, ctypes.byref(handle)) != 0:
            raise Error(_lib.error())
        self._h = handle
        self._rc = None
        _open_studies.add(self)

    def __enter__(self):
        return self

    def __del__(self):
        if getattr(self, "_h", None) is not None:
            self.close()

    def __exit__(self, *exc):
        self.close()

    def ask(self):
        """The next :class:`Trial`, or None when the search has ended (its budget, or
        the strategy ran out). Blocks while the engine prepares it."""
        if self._h is None:
            raise Error("the study is closed")
        buf = ctypes.create_string_buffer(64 * 1024)
        while True:
            rc = lib.cellforge_study_ask(self._h, 0.25, buf, len(buf))
            if rc == 1:
                return Trial(json.loads(buf.value.decode("utf-8")))
            if rc == 0:
                return None
            if rc < 0:
                raise Error(_lib.error())

    def tell(self, trial, acc=None, *, error=None, **metrics):
        """Record a trial's result: ``acc`` the validation accuracy in [0, 1], plus
        any metrics (numbers, strings, booleans; ``seconds`` is the training
        time, by default the time between ask and tell). ``error="why"`` records
        the trial as failed instead. Returns once the journal has it."""
        if self._h is None:
            raise Error("the study is closed")
        tid = trial.id if isinstance(trial, Trial) else int(trial)
        if error is not None:
            status, text = 1, str(error)
        else:
            status, text = 0, _result_text(acc, metrics)
        if lib.cellforge_study_tell(self._h, tid, status, text.encode("utf-8")) != 0:
            raise Error(_lib.error())

    def close(self):
        """Stop the search: trials asked and not told stay open for a resume. The run
        directory gets its report. Returns the search's exit code (0: done)."""
        if self._h is None:
            return self._rc
        h, self._h = self._h, None
        _open_studies.discard(self)
        self._rc = lib.cellforge_study_close(h)
        return self._rc

    @property
    def run(self):
        """The run directory as a :class:`Run`."""
        return Run(self.out)


def search(space, evaluator, *, workers=1, devices=None, trials=None, time=None, out=None, quiet=False, **knobs):
    """Run a search whose trials the engine hands to ``evaluator(trial)``.

    ``evaluator`` gets a :class:`Trial` and returns the validation accuracy, or
    a dict with "acc" and any other metrics to record. An exception fails
    only its trial, with the exception as the reason. ``workers`` trials run
    at once, each call on a worker thread of the engine (the GIL is held
    only inside your function); ``devices`` as for :class:`Study`. Budget: ``trials=N`` and/or ``time``
    ("90s", "10m", "2h"; with neither, 6 minutes). The other keywords are
    the flags of ``cellforge search``, as for :class:`Study`; a run already in
    ``out`` is resumed. Ctrl-C stops it: trials not yet answered are cut and
    run again by a resume. Returns the :class:`Run`.
    """
    out = out or _default_out(space)
    knobs = dict(knobs, trials=trials, time=time, quiet=quiet, retrain=0, **_slots(devices, workers))
    args, _ = _run_args(space, out, knobs)

    def call(ctx, trial_json, result, cap):
        try:
            trial = Trial(json.loads(trial_json.decode("utf-8")))
            text, status = _result_text(evaluator(trial)), 0
        except BaseException as exc:  # noqa: B902 - every failure is the trial's
            last = traceback.extract_tb(exc.__traceback__)[-1:]
            where = " (%s:%d)" % (os.path.basename(last[0].filename), last[0].lineno) if last else ""
            text, status = "%s: %s%s" % (type(exc).__name__, exc, where), 1
        data = text.encode("utf-8")[:cap - 1] + b"\0"
        ctypes.memmove(result, data, len(data))
        return status

    fn = _lib.TRIAL_FN(call)
    argc, argv = _lib.argv(args)
    box = {}

    def run():
        box["rc"] = lib.cellforge_search(argc, argv, fn, None)
        box["error"] = _lib.error()

    thread = threading.Thread(target=run, name="cellforge-search", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.25)
    except KeyboardInterrupt:
        lib.cellforge_search_stop()
        thread.join()
        raise
    rc = box.get("rc", 1)
    if rc == 2:
        raise Error(box.get("error") or "bad arguments (see the message above)")
    if not os.path.exists(os.path.join(out, "journal.jsonl")):
        raise Error("the search failed before it began (exit code %d; see the message above)" % rc)
    return Run(out)
