"""`cellforge score`: the zero-cost proxies equal the same scores computed by
PyTorch on the twin network (cellforge.torch) with the same initial weights and
the same minibatch."""

import copy
import json
import types

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the reference scores are computed with PyTorch")

import cellforge  # noqa: E402
import cellforge.torch as ct  # noqa: E402
from conftest import SKELETONS, run_cli, set_args  # noqa: E402

F = torch.nn.functional


def weights(net):
    """(weight parameter) of every conv and linear layer outside the auxiliary head."""
    return [net._modules_by_layer[i].weight for i, l in enumerate(net._layers)
            if not l["aux"] and l["op"] in ("conv2d", "linear")]


def fisher(net, x, y):
    """Per conv and linear output channel, 0.5 x the batch mean of (sum over h, w of
    a x dL/da)^2, times the channel's weights (zero-cost-nas's broadcast), summed."""
    acts = []

    def keep(module, inputs, output):
        output.retain_grad()
        acts.append((module, output))

    hooks = [net._modules_by_layer[i].register_forward_hook(keep) for i, l in enumerate(net._layers)
             if not l["aux"] and l["op"] in ("conv2d", "linear")]
    net.train()
    net.zero_grad()
    F.cross_entropy(net(x), y).backward()
    for h in hooks:
        h.remove()
    total = 0.0
    for module, a in acts:
        ag = a.detach().double() * a.grad.double()
        per_image = ag.sum(tuple(range(2, ag.dim()))) if ag.dim() > 2 else ag
        total += (0.5 * per_image.pow(2).mean(0)).sum().item() * module.weight[0].numel()
    return total


def jacob_cov(net, x):
    """-sum(log(v + 1e-5) + 1/(v + 1e-5)), v the eigenvalues of the correlations of
    the images' d(sum of logits)/d(input)."""
    net.train()
    xg = x.clone().requires_grad_(True)
    logits = net(xg)
    logits.backward(torch.ones_like(logits))
    v = np.linalg.eigvalsh(np.corrcoef(xg.grad.reshape(len(x), -1).double().numpy()))
    return -float(np.sum(np.log(v + 1e-5) + 1.0 / (v + 1e-5)))


def reference_scores(net, x, y):
    out = {}
    net.train()
    net.zero_grad()
    F.cross_entropy(net(x), y).backward()
    ws = weights(net)
    out["grad_norm"] = sum(w.grad.norm().item() for w in ws)
    out["snip"] = sum((w.grad * w).abs().sum().item() for w in ws)
    # naswot: agreement of the ReLU patterns (relu layers and batch norms with a fused relu)
    net.keep_outputs = True
    with torch.no_grad():
        net(x)
    codes = [net.outputs[i].reshape(len(x), -1) > 0 for i, l in enumerate(net._layers)
             if not l["aux"] and (l["op"] == "relu" or (l["op"] == "batchnorm" and l["relu"]))]
    c = torch.cat(codes, 1).double()
    k = c @ c.t() + (1 - c) @ (1 - c).t()
    out["naswot"] = torch.linalg.slogdet(k)[1].item()
    net.keep_outputs = False
    # fisher and jacob_cov in f64: PyTorch's f32 rounding moves the early
    # layers' activation gradients of a deep network (mobile) by 1e-3, where
    # cellforge's f32 agrees with the f64 to 1e-5
    net64 = copy.deepcopy(net).double()
    out["fisher"] = fisher(net64, x.double(), y)
    out["jacob_cov"] = jacob_cov(net64, x.double())
    out["jacob_cov_f32"] = jacob_cov(net, x)
    # synflow: |parameters|, no batch norm, ones, d(sum of logits)/dW, in f64
    net = net.double()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.forward = types.MethodType(lambda self, v: v, m)
    net.zero_grad()
    net(torch.ones((1,) + tuple(x.shape[1:]), dtype=torch.float64)).sum().backward()
    out["synflow"] = sum((w.grad * w).abs().sum().item() for w in weights(net))
    return out


@pytest.mark.parametrize("name", sorted(SKELETONS))
def test_proxies_equal_pytorch(cli, tmp_path, name):
    rng = np.random.RandomState(3)
    n = 24
    x8 = rng.randint(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.randint(0, 10, size=n).astype(np.int64)
    np.savez(tmp_path / "batch.npz", x=x8, y=labels)
    opts = SKELETONS[name]
    arch = cellforge.Space(name, **opts).sample(seed=6)
    model = tmp_path / "init.cfm"
    line = run_cli(cli, "score", "--space", name, *set_args(opts), "--dataset", "npz:%s" % (tmp_path / "batch.npz"),
                   "--batch", n, "--seed", 4, "--threads", 1, "--save-init", model, "--json", arch)
    got = json.loads(line)
    v = x8.astype(np.float64) / 255
    xs = torch.tensor(((v - v.mean()) / v.std()).astype(np.float32)).reshape(n, 1, 28, 28)
    header, _ = cellforge.model_header(str(model))
    net = ct.build(cellforge.Space(name, **header["space"]["options"]), arch)
    net.load_cfm(str(model))
    want = reference_scores(net, xs, torch.tensor(labels))
    space = cellforge.Space(name, **opts)
    assert got["params"] == space.cost(arch).params and got["macs"] == space.cost(arch).macs
    # grad_norm, snip and fisher: f32 gradients summed in another order; synflow: f64
    for key in ("grad_norm", "snip", "fisher"):
        assert got[key] == pytest.approx(want[key], rel=1e-4), key
    # jacob_cov is dominated by 1 / (v + 1e-5) of the correlation matrix's
    # smallest eigenvalues, which f32 rounding of the Jacobian moves: where
    # PyTorch's own f32 score is off its f64 one by more than 1e-4 (mobile,
    # 2e-3), cellforge's f32 may be off by as much (a factor 2 for the sum
    # order), else by 1e-4
    spread = max(1e-4 * abs(want["jacob_cov"]), 2 * abs(want["jacob_cov_f32"] - want["jacob_cov"]))
    assert abs(got["jacob_cov"] - want["jacob_cov"]) <= spread, (got["jacob_cov"], want["jacob_cov"], spread)
    assert got["synflow"] == pytest.approx(want["synflow"], rel=1e-9)
    # naswot: the kernel counts agreements exactly, but a unit whose input is
    # within f32 rounding of 0 may be on in one and off in the other (one
    # count of thousands moves the log-determinant by about 1e-8)
    assert got["naswot"] == pytest.approx(want["naswot"], rel=1e-6)


def test_table_correlations(cli, tmp_path):
    """A table whose accuracy is the parameter count: params correlates perfectly."""
    space = cellforge.Space("nb201", C=4, N=1)
    rows = ["arch\tepochs\tval_acc\ttrain_seconds"]
    seen = set()
    for s in range(40):
        a = space.canonical(space.sample(seed=s))
        if space.hash(a) in seen:
            continue
        seen.add(space.hash(a))
        rows.append("%s\t1\t%.6f\t1" % (a, space.cost(a).params / 1e6))
    (tmp_path / "t.tsv").write_text("# cellforge-table 1\n" + "\n".join(rows) + "\n")
    out = run_cli(cli, "score", "--space", "nb201", "--set", "C=4", "--set", "N=1", "--batch", 8, "--threads", 1,
                  "--table", tmp_path / "t.tsv", "--json")
    summary = json.loads(out.strip().split("\n")[-1])
    assert summary["archs"] == len(seen)
    corr = summary["correlations"]
    assert corr["params"]["spearman"] == pytest.approx(1.0) and corr["params"]["kendall"] == pytest.approx(1.0)
    assert set(corr) == {"params", "macs", "grad_norm", "snip", "synflow", "naswot", "fisher", "jacob_cov", "vote"}


def test_space_score_equals_the_command(cli, tmp_path):
    """Space.score goes through the same code as `cellforge score`: the same numbers."""
    rng = np.random.RandomState(5)
    x8 = rng.randint(0, 256, size=(20, 28, 28), dtype=np.uint8)
    np.savez(tmp_path / "b.npz", x=x8, y=rng.randint(0, 10, size=20))
    space = cellforge.Space("nb201", C=4, N=1)
    dataset = "npz:%s" % (tmp_path / "b.npz")
    for seed in (0, 3):
        arch = space.sample(seed=seed)
        got = space.score(arch, dataset=dataset, batch=16, seed=seed, threads=1)
        line = run_cli(cli, "score", "--space", "nb201", "--set", "C=4", "--set", "N=1", "--dataset", dataset,
                       "--batch", 16, "--seed", seed, "--threads", 1, "--json", arch)
        want = json.loads(line)
        assert got == {k: want[k] for k in got}
    with pytest.raises(cellforge.Error, match="minibatch of 64 of 20"):
        space.score(arch, dataset=dataset)
