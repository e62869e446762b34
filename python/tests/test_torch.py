"""cellforge.torch: the PyTorch twin of every family's network holds the same
parameters and, with a cellforge checkpoint's weights, gives the same logits."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="cellforge.torch needs PyTorch (apt-get install python3-torch)")

import cellforge  # noqa: E402
import cellforge.torch as ct  # noqa: E402
from conftest import SKELETONS, run_cli, set_args  # noqa: E402


@pytest.fixture(scope="module")
def models(cli, tmp_path_factory):
    """One briefly trained model file per family (BN statistics away from 0 and 1)."""
    d = tmp_path_factory.mktemp("models")
    out = {}
    for name, opts in SKELETONS.items():
        arch = run_cli(cli, "space", "sample", name, "--count", 1, "--seed", 2).strip()
        path = d / ("%s.cfm" % name)
        run_cli(cli, "train", "--space", name, *set_args(opts), "--epochs", 1, "--fraction", 0.01, "--threads", 2,
                "--val-fraction", 0.02, "--out", path, arch)
        out[name] = (path, arch)
    return out


@pytest.mark.parametrize("name", sorted(SKELETONS))
def test_logits_equal_cellforge(models, name):
    path, arch = models[name]
    net = ct.load(str(path))
    header, _ = cellforge.model_header(str(path))
    assert net.arch == arch and not net.training
    c, h, w = header["input"]
    x = np.random.RandomState(1).randn(6, c, h, w).astype(np.float32)
    want = cellforge.model_logits(str(path), x)
    with torch.no_grad():
        got = net(torch.from_numpy(x)).numpy()
    assert got.shape == want.shape == (6, header["classes"])
    # the same f32 arithmetic summed in another order: a few units in the last place
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert np.abs(want).max() > 1e-3


@pytest.mark.parametrize("name", sorted(SKELETONS))
def test_build_counts_what_the_cost_model_counts(name):
    opts = SKELETONS[name]
    space = cellforge.Space(name, **opts)
    arch = space.sample(seed=4)
    net = ct.build(name, arch, input=(3, 32, 32), classes=7, **opts)
    assert net.parameter_count() == space.cost(arch, input=(3, 32, 32), classes=7).params
    aux = [l for l in net.spec["layers"] if l["aux"]]
    assert bool(aux) == (name == "darts")
    # it trains as any module does
    net.train()
    net.drop_path_prob = 0.1 if name == "darts" else 0.0
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 7, (8,))
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x), y)
        if net.aux_logits is not None:
            loss = loss + 0.4 * torch.nn.functional.cross_entropy(net.aux_logits, y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_a_checkpoint_of_another_arch_is_refused(models):
    path, _ = models["nb201"]
    space = cellforge.Space("nb201", **SKELETONS["nb201"])
    net = ct.build(space, "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|"
                          "nor_conv_3x3~2|")
    with pytest.raises(ValueError, match=path.name):
        net.load_cfm(str(path))
