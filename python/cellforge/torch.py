"""cellforge networks as PyTorch modules.

``build(space, arch)`` gives an ``nn.Module`` with the layers cellforge trains
for that arch: the engine builds the network (the same description its cost
model counts and its trainer runs) and each layer becomes its PyTorch twin
(``nn.Conv2d``, ``nn.BatchNorm2d``, ``nn.Linear``, pooling, sums, concats).
Parameter names are cellforge's layer names, so ``load(model.cfm)`` or
``module.load_cfm(path)`` puts a cellforge checkpoint's weights and
batch-norm statistics into it, and its logits equal cellforge's.

    import cellforge.torch
    net = cellforge.torch.build("nb201", "|nor_conv_3x3~0|+|...|", C=16, N=5)
    logits = net(x)                      # x: (n, 1, 28, 28), normalized
    net = cellforge.torch.load("runs/x/best.cfm")
"""

import torch
from torch import nn
import torch.nn.functional as F

from .model import read_header
from .space import Space


class _Container(nn.Module):
    """A name prefix shared by several layers ("cells.3")."""


def _layer_module(spec):
    """The PyTorch module holding a layer's weights (None for a layer without any)."""
    op, w = spec["op"], spec["weights"]
    if op == "conv2d":
        oc, cpg, kh, kw = w[0]
        groups = spec["groups"]
        return nn.Conv2d(cpg * groups, oc, (kh, kw), stride=tuple(spec["stride"]), padding=tuple(spec["padding"]),
                         dilation=tuple(spec["dilation"]), groups=groups, bias=len(w) > 1)
    if op == "batchnorm":
        return nn.BatchNorm2d(spec["shape"][0], eps=spec["eps"], momentum=spec["momentum"], affine=len(w) == 2)
    if op == "linear":
        out_f, in_f = w[0][0], w[0][1]
        return nn.Linear(in_f, out_f, bias=len(w) > 1)
    return None


class CellforgeNet(nn.Module):
    """A cellforge network in PyTorch. ``forward(x)`` returns the logits (n,
    classes); while training, a network with an auxiliary head (DARTS
    ``auxiliary=1``) also leaves its logits in ``self.aux_logits``.
    ``drop_path_prob`` is the DARTS drop-path probability while training
    (0 by default, as cellforge's train config)."""

    def __init__(self, net, space_name="", arch=""):
        super().__init__()
        self.spec = net
        self.space_name = space_name
        self.arch = arch
        self.drop_path_prob = 0.0
        self.aux_logits = None
        self.keep_outputs = False  # True: every layer's output of the last forward in self.outputs
        self.outputs = None
        self._layers = net["layers"]
        self._modules_by_layer = [None] * len(self._layers)
        made = {}
        for i, spec in enumerate(self._layers):
            m = _layer_module(spec)
            if m is None:
                m = _Container()
            made[spec["name"]] = m
            self._modules_by_layer[i] = m
        # nest by name: "cells.3.node2.conv" goes under "cells.3.node2"
        for name in sorted(made, key=lambda n: n.count(".")):
            self._parent(name, made).add_module(name.rsplit(".", 1)[-1], made[name])

    def _parent(self, name, made):
        if "." not in name:
            return self
        prefix = name.rsplit(".", 1)[0]
        if prefix not in made:
            made[prefix] = _Container()
            self._parent(prefix, made).add_module(prefix.rsplit(".", 1)[-1], made[prefix])
        return made[prefix]

    def _drop_path(self, y):
        p = self.drop_path_prob
        if not self.training or p <= 0:
            return y
        keep = torch.bernoulli(torch.full((y.shape[0], 1, 1, 1), 1 - p, device=y.device, dtype=y.dtype))
        return y / (1 - p) * keep

    def forward(self, x):
        outs = []
        self.aux_logits = None
        n = x.shape[0]
        for i, spec in enumerate(self._layers):
            if spec["aux"] and not self.training:
                outs.append(None)
                continue
            ins = [x if k < 0 else outs[k] for k in spec["inputs"]]
            op, m = spec["op"], self._modules_by_layer[i]
            if op == "conv2d":
                y = m(ins[0])
            elif op == "batchnorm":
                y = m(ins[0])
                if spec["relu"]:
                    y = F.relu(y)
            elif op == "relu":
                y = F.relu(ins[0])
            elif op == "avgpool2d":
                y = F.avg_pool2d(ins[0], tuple(spec["kernel"]), tuple(spec["stride"]), tuple(spec["padding"]),
                                 count_include_pad=False)
            elif op == "maxpool2d":
                y = F.max_pool2d(ins[0], tuple(spec["kernel"]), tuple(spec["stride"]), tuple(spec["padding"]))
            elif op == "global_avgpool":
                y = ins[0].mean((2, 3), keepdim=True)
            elif op == "linear":
                y = m(ins[0].reshape(n, -1)).reshape(n, -1, 1, 1)
            elif op == "sum":
                y = ins[0]
                for other in ins[1:]:
                    y = y + other
            elif op == "zero":
                c, h, w = spec["shape"]
                y = torch.zeros(n, c, h, w, dtype=ins[0].dtype, device=ins[0].device)
            elif op == "identity":
                y = ins[0]
            elif op == "concat":
                y = torch.cat(ins, 1)
            elif op == "dropout":
                y = F.dropout(ins[0], spec["p"], self.training)
            elif op == "slice":
                c, h, w = spec["shape"]
                y = ins[0][:, spec["c0"]:spec["c0"] + c, spec["top"]:spec["top"] + h, spec["left"]:spec["left"] + w]
            else:
                raise NotImplementedError("cellforge.torch: layer %s: op %s" % (spec["name"], op))
            if spec["drop_path"]:
                y = self._drop_path(y)
            outs.append(y)
        if self.keep_outputs:
            self.outputs = outs
        if self.spec["aux_logits"] >= 0 and self.training:
            self.aux_logits = outs[self.spec["aux_logits"]].reshape(n, -1)
        return outs[self.spec["logits"]].reshape(n, -1)

    def parameter_count(self, aux=False):
        """Parameters of the network (without an auxiliary head unless aux): what
        cellforge's cost model counts as params."""
        return sum(p.numel() for i, spec in enumerate(self._layers) if aux or not spec["aux"]
                   for p in self._modules_by_layer[i].parameters(recurse=False))

    def load_cfm(self, path):
        """Put the weights and batch-norm statistics of a cellforge model file
        (.cfm) or training state (.cfs) into this network; returns its header."""
        header, tensors = read_cfm(path)
        params = dict(self.named_parameters())
        buffers = dict(self.named_buffers())
        missing = set(params) | {k for k in buffers if not k.endswith("num_batches_tracked")}
        with torch.no_grad():
            for name, value in tensors.items():
                if name.endswith(".momentum"):
                    continue
                layer, kind = name.rsplit(".", 1)
                key = layer + "." + {"gamma": "weight", "beta": "bias"}.get(kind, kind)
                target = params.get(key, buffers.get(key))
                if target is None:
                    raise ValueError("%s: tensor %s has no place in this network (another arch or options?)"
                                     % (path, name))
                if target.numel() != value.numel():
                    raise ValueError("%s: tensor %s has %d values, the network's %s has %d"
                                     % (path, name, value.numel(), key, target.numel()))
                target.copy_(value.reshape(target.shape))
                missing.discard(key)
        if missing:
            raise ValueError("%s: no tensor for %s" % (path, ", ".join(sorted(missing)[:5])))
        return header


def read_cfm(path):
    """A cellforge model file or training state: (header dict, {name: tensor})."""
    header, base = read_header(path)
    with open(path, "rb") as f:
        data = f.read()
    tensors = {}
    for t in header["tensors"]:
        count = 1
        for d in t["shape"]:
            count *= d
        start = base + t["offset"]
        if start + 4 * count > len(data) - 4:
            raise ValueError("%s: tensor %s runs past the end of the file" % (path, t["name"]))
        tensors[t["name"]] = torch.frombuffer(bytearray(data[start:start + 4 * count]), dtype=torch.float32)
    return header, tensors


def build(space, arch, input=(1, 28, 28), classes=10, **options):
    """The ``CellforgeNet`` of arch in space (a name, a .json file or a
    :class:`cellforge.Space`; ``options`` set its skeleton, e.g. C=16, N=5)
    for images ``input`` = (c, h, w) and ``classes`` classes. Weights start
    at PyTorch's default initialization."""
    sp = space if isinstance(space, Space) and not options else Space(
        space.source if isinstance(space, Space) else space,
        **(dict(space.options, **options) if isinstance(space, Space) else options))
    return CellforgeNet(sp.net(arch, input, classes), sp.name, sp.parse(arch))


def load(path):
    """The ``CellforgeNet`` of a cellforge model file, with its weights (in eval mode)."""
    header, _ = read_cfm(path)
    sp = header["space"]
    try:
        space = Space(sp["name"], **sp["options"])
    except Exception:  # the name is not in the spaces directory: the file it came from
        space = Space(sp["file"], **sp["options"])
    c, h, w = header["input"]
    net = build(space, header["arch"], (c, h, w), header["classes"])
    net.load_cfm(path)
    net.normalize = header.get("normalize")
    return net.eval()
