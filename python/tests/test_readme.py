"""The README's Python tour runs as written (its ```python blocks, in order, in
one interpreter, in a fresh directory)."""

import os
import re

import pytest

README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")
FMNIST = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"


def tour_blocks():
    with open(README, encoding="utf-8") as f:
        text = f.read()
    start = text.index("## From Python")
    end = text.index("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end], re.S)


def test_the_tour_runs_as_written(chdir_tmp, capsys):
    pytest.importorskip("torch", reason="the tour trains with PyTorch (apt-get install python3-torch)")
    pytest.importorskip("pandas", reason="the tour reads a run with pandas (apt-get install python3-pandas)")
    if not os.path.exists(FMNIST):
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    blocks = tour_blocks()
    assert len(blocks) == 4
    scope = {"__name__": "__tour__"}
    for block in blocks:
        exec(compile(block, README, "exec"), scope)
    out = capsys.readouterr().out
    study, run = scope["study"], scope["run"]
    import cellforge
    assert isinstance(run, cellforge.Run)
    first = cellforge.Run(study.out)
    assert len(first.ok()) == 8 and len(run.ok()) == 8
    assert all(t["params"] <= 40000 for t in first.ok())
    assert max(t["val_acc"] for t in first.ok()) > 0.5, out  # it learned
    assert "loss" in out
