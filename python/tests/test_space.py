"""Spaces, archs and exact cost from Python equal the command line's."""

import json

import pytest

import cellforge
from conftest import SKELETONS, run_cli, set_args


@pytest.mark.parametrize("name", sorted(SKELETONS))
def test_cost_and_hash_equal_the_cli(cli, name):
    opts = SKELETONS[name]
    space = cellforge.Space(name, **opts)
    archs = run_cli(cli, "space", "sample", name, "--count", 4, "--seed", 5).strip().split("\n")
    rows = run_cli(cli, "cost", "--space", name, *set_args(opts), "--dataset", "cifar10", "--json", "-",
                   input="\n".join(archs) + "\n").strip().split("\n")
    assert len(rows) == len(archs) == 4
    for arch, row in zip(archs, rows):
        want = json.loads(row)
        got = space.cost(arch, input=(3, 32, 32), classes=10, batch=want["batch"])
        assert (got.params, got.macs, got.activation_bytes) == (want["params"], want["macs"], want["activation_bytes"])
        assert "%016x" % space.hash(arch) == want["hash"]
        assert space.parse(arch) == want["arch"]


@pytest.mark.parametrize("name", sorted(SKELETONS))
def test_sample_mutate_canonical(name):
    space = cellforge.Space(name, **SKELETONS[name])
    assert space.name == name and space.family == name
    assert space.options == {k: float(v) for k, v in {**space.options, **SKELETONS[name]}.items()}
    a = space.sample(seed=11)
    assert a == space.sample(seed=11)
    assert len({space.sample(seed=s) for s in range(20)}) > 10
    b = space.mutate(a, seed=3)
    assert b != a and b == space.mutate(a, seed=3)
    assert space.parse(b) == b
    c = space.canonical(a)
    assert space.canonical(c) == c and space.hash(c) == space.hash(a)
    for kind in ("onehot", "path"):
        v = space.encode(a, kind)
        assert len(v) == space.encoding_sizes[kind] and any(v)
    net = space.net(a)
    assert net["layers"][net["logits"]]["shape"] == [10, 1, 1]


def test_errors_name_what_is_wrong():
    space = cellforge.Space("nb201")
    with pytest.raises(cellforge.Error, match="column 2: unknown op"):
        space.cost("|conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    with pytest.raises(cellforge.Error, match="did you mean"):
        cellforge.Space("nb210")
    with pytest.raises(cellforge.Error, match="C"):
        cellforge.Space("nb201", C=0)
    with pytest.raises(ValueError):
        space.encode(space.sample(), "graph")
    assert set(cellforge.spaces()) >= {"nb201", "darts", "nb101", "mobile"}
