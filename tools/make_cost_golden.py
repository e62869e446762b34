#!/usr/bin/python3
"""make_cost_golden.py - PyTorch parameter and MAC counts for the four search spaces.

Writes the fixture the cost-model test compares our own counts against:

    /usr/bin/python3 tools/make_cost_golden.py tests/golden/cost_torch.tsv

(from the repository root; with no argument it writes that same file). Needs
PyTorch (1.13 tested); the build and CI never do, since the fixture is
committed. Runs in well under a minute on one core.

Each network is built here in PyTorch, independently of the C code, the way
its reference implementation builds it:

  nb201   NAS-Bench-201's TinyNetwork (D-X-Y/AutoDL-Projects, xautodl/models/
          cell_infers/tiny_network.py, cells.py, cell_operations.py)
  darts   DARTS' NetworkCIFAR (quark0/darts, cnn/model.py, operations.py)
  nb101   NAS-Bench-101's model builder (google-research/nasbench,
          nasbench/lib/model_builder.py, model_spec.py), in PyTorch
  mobile  our own MBConv space (rules in make_div, MBConv and MobileNet below)

Counting conventions:

  params      trainable parameters of the network without the auxiliary
              head: conv weights (and biases, which none of these networks
              have), BN gamma and beta, linear weight and bias. BN running
              statistics are buffers, not counted.
  params_aux  trainable parameters of the DARTS auxiliary head alone; 0 when
              there is none.
  macs        multiply-accumulates of one image's forward pass through the
              main network (no auxiliary head): Conv2d counts
              OC*OH*OW*(IC/groups)*KH*KW, Linear IN*OUT; biases, BN, ReLU,
              pooling, additions and concatenations count nothing. Measured
              with forward hooks on a real forward pass of one random image,
              not computed from formulas.

The random architectures come from one random.Random(2026) drawn in the order
of the rows, so running the script again gives a byte-identical file.

Fixture format: '#' comment lines, then one tab-separated row per network:

    space  options  input  classes  arch  params  params_aux  macs

space is nb201, darts, nb101 or mobile; options a comma list NAME=VALUE of the
space's options; input HxWxC; arch the architecture text as cf_arch_parse
reads it (include/cellforge/space.h).
"""
import ast
import json
import math
import os
import random
import sys

import torch
import torch.nn as nn

SEED = 2026


# ---- counting ----------------------------------------------------------------

def count_params(modules):
    return sum(p.numel() for m in modules for p in m.parameters() if p.requires_grad)


def count_macs(model, modules, x):
    """MACs of model(x) (batch 1), from hooks on the Conv2d and Linear layers in
    `modules`; the forward's first result must be the logits."""
    total = [0]

    def conv_hook(m, inp, out):
        _, oc, oh, ow = out.shape
        kh, kw = m.kernel_size
        total[0] += oc * oh * ow * (m.in_channels // m.groups) * kh * kw

    def linear_hook(m, inp, out):
        total[0] += m.in_features * m.out_features

    handles = []
    for top in modules:
        for m in top.modules():
            if isinstance(m, nn.Conv2d):
                handles.append(m.register_forward_hook(conv_hook))
            elif isinstance(m, nn.Linear):
                handles.append(m.register_forward_hook(linear_hook))
    with torch.no_grad():
        out = model(x)
    for h in handles:
        h.remove()
    return total[0], out


class Zero(nn.Module):
    """The 'none' op: zeros shaped like the (subsampled) input."""

    def __init__(self, stride):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        return x[:, :, ::self.stride, ::self.stride] * 0.0


def relu_conv_bn(c_in, c_out, k, stride=1, pad=0, dil=1):
    return nn.Sequential(nn.ReLU(), nn.Conv2d(c_in, c_out, k, stride, pad, dil, bias=False),
                         nn.BatchNorm2d(c_out))


def conv_bn_relu(c_in, c_out, k, stride=1):
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU())


# ---- nb201 -------------------------------------------------------------------

NB201_OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]


def nb201_op(name, c):
    if name == "none":
        return Zero(1)
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return relu_conv_bn(c, c, 1)
    if name == "nor_conv_3x3":
        return relu_conv_bn(c, c, 3, pad=1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, 1, 1, count_include_pad=False)
    raise ValueError(name)


class NB201Cell(nn.Module):
    """nodes[j-1] = ops of the edges into node j, from nodes 0..j-1."""

    def __init__(self, nodes, c):
        super().__init__()
        self.nodes = nodes
        self.edges = nn.ModuleList(nn.ModuleList(nb201_op(op, c) for op in node) for node in nodes)

    def forward(self, x):
        states = [x]
        for edges in self.edges:
            states.append(sum(op(states[i]) for i, op in enumerate(edges)))
        return states[-1]


class NB201Reduction(nn.Module):
    """ResNet basic block, stride 2, c -> 2c, with an avg-pool + 1x1 conv shortcut."""

    def __init__(self, c_in, c_out):
        super().__init__()
        self.a = relu_conv_bn(c_in, c_out, 3, 2, 1)
        self.b = relu_conv_bn(c_out, c_out, 3, 1, 1)
        self.down = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x):
        return self.down(x) + self.b(self.a(x))


class NB201Net(nn.Module):
    def __init__(self, nodes, C, N, in_ch, classes):
        super().__init__()
        layers = [nn.Conv2d(in_ch, C, 3, padding=1, bias=False), nn.BatchNorm2d(C)]
        c = C
        for stage in range(3):
            if stage > 0:
                layers.append(NB201Reduction(c, 2 * c))
                c *= 2
            layers += [NB201Cell(nodes, c) for _ in range(N)]
        layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.body = nn.Sequential(*layers)
        self.classifier = nn.Linear(c, classes)

    def forward(self, x):
        return self.classifier(self.body(x)), None


def nb201_parse(text):
    nodes = []
    for part in text.split("+"):
        assert part.startswith("|") and part.endswith("|"), part
        node = []
        for i, edge in enumerate(part[1:-1].split("|")):
            op, src = edge.split("~")
            assert int(src) == i and op in NB201_OPS, edge
            node.append(op)
        nodes.append(node)
    return nodes


def nb201_format(nodes):
    return "+".join("|" + "|".join(f"{op}~{i}" for i, op in enumerate(node)) + "|" for node in nodes)


def nb201_sample(rng):
    return [[rng.choice(NB201_OPS) for _ in range(j)] for j in (1, 2, 3)]


def build_nb201(text, opts, in_ch, classes):
    return NB201Net(nb201_parse(text), opts["C"], opts["N"], in_ch, classes)


# ---- darts -------------------------------------------------------------------

DARTS_OPS = ["max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
             "dil_conv_3x3", "dil_conv_5x5"]  # "none" is in the space but never sampled
CONCAT = [2, 3, 4, 5]

# From quark0/darts cnn/genotypes.py (the cells of the DARTS paper).
DARTS_V1 = dict(
    normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 0), ('sep_conv_3x3', 1),
            ('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 2)],
    reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 0),
            ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('avg_pool_3x3', 0)])
DARTS_V2 = dict(
    normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1),
            ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)],
    reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1),
            ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)])


class FactorizedReduce(nn.Module):
    """ReLU, two 1x1 stride-2 convs (the second on the input shifted by one
    pixel) of c_out/2 channels each, concatenated, BN."""

    def __init__(self, c_in, c_out):
        super().__init__()
        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2d(c_in, c_out // 2, 1, 2, bias=False)
        self.conv2 = nn.Conv2d(c_in, c_out // 2, 1, 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x):
        x = self.relu(x)
        return self.bn(torch.cat([self.conv1(x), self.conv2(x[:, :, 1:, 1:])], dim=1))


def dw_pw_bn(c, k, stride, pad, dil):
    """ReLU, depthwise kxk, pointwise 1x1, BN."""
    return [nn.ReLU(), nn.Conv2d(c, c, k, stride, pad, dil, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c)]


def darts_op(name, c, stride):
    if name == "none":
        return Zero(stride)
    if name == "max_pool_3x3":
        return nn.MaxPool2d(3, stride, 1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride, 1, count_include_pad=False)
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c)
    if name.startswith("sep_conv_"):
        k = int(name[-1])
        return nn.Sequential(*dw_pw_bn(c, k, stride, k // 2, 1), *dw_pw_bn(c, k, 1, k // 2, 1))
    if name.startswith("dil_conv_"):
        k = int(name[-1])
        return nn.Sequential(*dw_pw_bn(c, k, stride, k - 1, 2))
    raise ValueError(name)


class DartsCell(nn.Module):
    def __init__(self, pairs, c_pp, c_p, c, reduction, reduction_prev):
        super().__init__()
        self.pre0 = FactorizedReduce(c_pp, c) if reduction_prev else relu_conv_bn(c_pp, c, 1)
        self.pre1 = relu_conv_bn(c_p, c, 1)
        self.inputs = [i for _, i in pairs]
        self.ops = nn.ModuleList(darts_op(name, c, 2 if reduction and i < 2 else 1) for name, i in pairs)

    def forward(self, s0, s1):
        states = [self.pre0(s0), self.pre1(s1)]
        for n in range(len(self.ops) // 2):
            a, b = 2 * n, 2 * n + 1
            states.append(self.ops[a](states[self.inputs[a]]) + self.ops[b](states[self.inputs[b]]))
        return torch.cat([states[i] for i in CONCAT], dim=1)


class DartsAuxHead(nn.Module):
    """AuxiliaryHeadCIFAR. Its 2x2 conv expects the 2x2 map that 5x5/3 pooling
    leaves of 8x8; where the pooled map is 1x1 (7x7 from a 28x28 input) the conv
    is 1x1 instead, so that the classifier still sees 768 features."""

    def __init__(self, c, classes, pooled):
        super().__init__()
        k = 2 if pooled >= 2 else 1
        self.features = nn.Sequential(
            nn.ReLU(), nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
            nn.Conv2d(c, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(),
            nn.Conv2d(128, 768, k, bias=False), nn.BatchNorm2d(768), nn.ReLU(), nn.Flatten())
        self.classifier = nn.Linear(768, classes)

    def forward(self, x):
        return self.classifier(self.features(x))


class DartsNet(nn.Module):
    def __init__(self, geno, C, layers, auxiliary, in_ch, classes, size):
        super().__init__()
        c_cur = 3 * C
        self.stem = nn.Sequential(nn.Conv2d(in_ch, c_cur, 3, padding=1, bias=False), nn.BatchNorm2d(c_cur))
        c_pp, c_p, c = c_cur, c_cur, C
        self.cells = nn.ModuleList()
        self.aux_at = 2 * layers // 3
        reduction_prev = False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                c *= 2
                size //= 2
            pairs = geno["reduce"] if reduction else geno["normal"]
            self.cells.append(DartsCell(pairs, c_pp, c_p, c, reduction, reduction_prev))
            reduction_prev = reduction
            c_pp, c_p = c_p, len(CONCAT) * c
            if i == self.aux_at:
                c_aux, size_aux = c_p, size
        self.aux = DartsAuxHead(c_aux, classes, (size_aux - 5) // 3 + 1) if auxiliary else None
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, classes)

    def main_modules(self):
        return [self.stem, self.cells, self.pool, self.classifier]

    def forward(self, x):
        """Logits, and the auxiliary head's input (the head itself is not run)."""
        s0 = s1 = self.stem(x)
        aux_in = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1)
            if i == self.aux_at:
                aux_in = s1
        return self.classifier(torch.flatten(self.pool(s1), 1)), aux_in


def darts_format(geno):
    return (f"Genotype(normal={geno['normal']!r}, normal_concat={CONCAT!r}, "
            f"reduce={geno['reduce']!r}, reduce_concat={CONCAT!r})")


def darts_parse(text):
    call = ast.parse(text, mode="eval").body
    assert isinstance(call, ast.Call) and call.func.id == "Genotype" and not call.args, text
    g = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    assert g["normal_concat"] == CONCAT and g["reduce_concat"] == CONCAT, text
    return g


def darts_sample(rng):
    geno = {}
    for kind in ("normal", "reduce"):
        pairs = []
        for node in range(4):
            for src in rng.sample(range(node + 2), 2):
                pairs.append((rng.choice(DARTS_OPS), src))
        geno[kind] = pairs
    return geno


def build_darts(text, opts, in_ch, classes, size):
    return DartsNet(darts_parse(text), opts["C"], opts["layers"], opts["auxiliary"], in_ch, classes, size)


# ---- nb101 -------------------------------------------------------------------

NB101_OPS = ["conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"]

# The Inception-like cell of the NAS-Bench-101 README.
INCEPTION = dict(
    matrix=[[0, 1, 1, 1, 0, 1, 0],
            [0, 0, 0, 0, 0, 0, 1],
            [0, 0, 0, 0, 0, 0, 1],
            [0, 0, 0, 0, 1, 0, 0],
            [0, 0, 0, 0, 0, 0, 1],
            [0, 0, 0, 0, 0, 0, 1],
            [0, 0, 0, 0, 0, 0, 0]],
    ops=["input", "conv1x1-bn-relu", "conv3x3-bn-relu", "conv3x3-bn-relu", "conv3x3-bn-relu",
         "maxpool3x3", "output"])
# A cell whose trainable parameter count on CIFAR-10 (default skeleton: stem
# 128, 3 stacks of 3 cells) the NAS-Bench-101 dataset records: its
# fixed_metrics give 'trainable_parameters': 8555530. (This is the cell the
# nasbench example prints from get_metrics_from_hash, not the Inception cell.)
# The script refuses to write the fixture unless the builder reproduces it.
NB101_KNOWN = dict(
    matrix=[[0, 1, 0, 0, 1, 1, 0],
            [0, 0, 1, 0, 0, 0, 0],
            [0, 0, 0, 1, 0, 0, 1],
            [0, 0, 0, 0, 0, 1, 0],
            [0, 0, 0, 0, 0, 1, 0],
            [0, 0, 0, 0, 0, 0, 1],
            [0, 0, 0, 0, 0, 0, 0]],
    ops=["input", "conv3x3-bn-relu", "maxpool3x3", "conv3x3-bn-relu", "conv3x3-bn-relu",
         "conv1x1-bn-relu", "output"])
NB101_KNOWN_PARAMS = 8555530


def nb101_prune(matrix, ops):
    """Drop the vertices not on an input->output path; None if there is no path."""
    n = len(matrix)
    fwd, stack = {0}, [0]
    while stack:
        v = stack.pop()
        for w in range(v + 1, n):
            if matrix[v][w] and w not in fwd:
                fwd.add(w)
                stack.append(w)
    bwd, stack = {n - 1}, [n - 1]
    while stack:
        v = stack.pop()
        for u in range(v):
            if matrix[u][v] and u not in bwd:
                bwd.add(u)
                stack.append(u)
    keep = sorted(fwd & bwd)
    if not keep:
        return None, None
    return [[matrix[a][b] for b in keep] for a in keep], [ops[a] for a in keep]


def nb101_vertex_channels(c_in, c_out, m):
    """The model builder's compute_vertex_channels, for the pruned matrix m."""
    n = len(m)
    ch = [0] * n
    ch[0], ch[n - 1] = c_in, c_out
    if n == 2:
        return ch
    fan_in = sum(m[v][n - 1] for v in range(1, n - 1))  # edges into the output, not from the input
    base, extra = divmod(c_out, fan_in)
    for v in range(1, n - 1):
        if m[v][n - 1]:
            ch[v] = base + (1 if extra else 0)
            extra -= 1 if extra else 0
    for v in range(n - 3, 0, -1):
        if not m[v][n - 1]:
            for w in range(v + 1, n - 1):
                if m[v][w]:
                    ch[v] = max(ch[v], ch[w])
        assert ch[v] > 0
    return ch


class NB101Cell(nn.Module):
    def __init__(self, m, ops, c_in, c_out):
        super().__init__()
        self.m = m
        n = len(m)
        self.ch = nb101_vertex_channels(c_in, c_out, m)
        self.proj = nn.ModuleDict()   # 1x1 conv-BN-ReLU of the cell input, per vertex fed by it
        self.ops = nn.ModuleDict()
        for t in range(1, n):
            if m[0][t]:
                self.proj[str(t)] = conv_bn_relu(c_in, self.ch[t], 1)
        for t in range(1, n - 1):
            if ops[t] == "maxpool3x3":
                self.ops[str(t)] = nn.MaxPool2d(3, 1, 1)
            else:
                k = 3 if ops[t] == "conv3x3-bn-relu" else 1
                self.ops[str(t)] = conv_bn_relu(self.ch[t], self.ch[t], k)

    def forward(self, x):
        m, n = self.m, len(self.m)
        states = [x]
        out_in = []
        for t in range(1, n - 1):
            # interior inputs keep their first ch[t] channels (they have at most one more)
            add = [states[s][:, :self.ch[t]] for s in range(1, t) if m[s][t]]
            if m[0][t]:
                add.append(self.proj[str(t)](x))
            states.append(self.ops[str(t)](sum(add)))
            if m[t][n - 1]:
                out_in.append(states[t])
        if not out_in:
            return self.proj[str(n - 1)](x)
        out = torch.cat(out_in, dim=1)
        if m[0][n - 1]:
            out = out + self.proj[str(n - 1)](x)
        return out


class NB101Net(nn.Module):
    def __init__(self, m, ops, stem, stacks, cells, in_ch, classes):
        super().__init__()
        layers = [conv_bn_relu(in_ch, stem, 3)]
        c = stem
        for s in range(stacks):
            if s > 0:
                layers.append(nn.MaxPool2d(2, 2))
                c_out = 2 * c
            else:
                c_out = c
            for _ in range(cells):
                layers.append(NB101Cell(m, ops, c, c_out))
                c = c_out
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.body = nn.Sequential(*layers)
        self.classifier = nn.Linear(c, classes)

    def forward(self, x):
        return self.classifier(self.body(x)), None


def nb101_format(spec):
    return json.dumps({"matrix": spec["matrix"], "ops": spec["ops"]}, separators=(",", ":"))


def nb101_valid(spec):
    m, _ = nb101_prune(spec["matrix"], spec["ops"])
    return m is not None and sum(map(sum, m)) <= 9


def nb101_sample(rng):
    while True:
        m = [[0] * 7 for _ in range(7)]
        for a in range(7):
            for b in range(a + 1, 7):
                m[a][b] = 1 if rng.random() < 0.5 else 0
        ops = ["input"] + [rng.choice(NB101_OPS) for _ in range(5)] + ["output"]
        spec = dict(matrix=m, ops=ops)
        if nb101_valid(spec):
            return spec


def build_nb101(text, opts, in_ch, classes):
    spec = json.loads(text)
    m, ops = nb101_prune(spec["matrix"], spec["ops"])
    return NB101Net(m, ops, opts["stem_channels"], opts["stacks"], opts["cells_per_stack"], in_ch, classes)


# ---- mobile ------------------------------------------------------------------

MOBILE_STEM = 16
MOBILE_FIRST = 16
# (channels, stride of the first block, min depth, max depth)
MOBILE_STAGES = [(24, 1, 1, 3), (40, 2, 1, 3), (80, 2, 1, 4), (96, 1, 1, 3), (192, 2, 1, 3)]
MOBILE_KERNELS = [3, 5, 7]
MOBILE_EXPANDS = [3, 4, 6]


def make_div(v, w):
    """v*w to a multiple of 8 (nearest, at least 8), and never below 90% of v*w."""
    x = v * w
    r = max(8, int(math.floor((x + 4) / 8)) * 8)
    if r < 0.9 * x:
        r += 8
    return r


class MBConv(nn.Module):
    def __init__(self, c_in, c_out, k, e, stride):
        super().__init__()
        h = c_in * e
        self.body = nn.Sequential(
            nn.Conv2d(c_in, h, 1, bias=False), nn.BatchNorm2d(h), nn.ReLU(),
            nn.Conv2d(h, h, k, stride, k // 2, groups=h, bias=False), nn.BatchNorm2d(h), nn.ReLU(),
            nn.Conv2d(h, c_out, 1, bias=False), nn.BatchNorm2d(c_out))
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


class FirstBlock(nn.Module):
    """Depthwise 3x3 + BN + ReLU, pointwise 1x1 + BN; residual when shapes allow."""

    def __init__(self, c_in, c_out):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_in, 3, 1, 1, groups=c_in, bias=False), nn.BatchNorm2d(c_in), nn.ReLU(),
            nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))
        self.residual = c_in == c_out

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


class MobileNet(nn.Module):
    def __init__(self, stages, w, in_ch, classes):
        super().__init__()
        c = make_div(MOBILE_STEM, w)
        layers = [nn.Conv2d(in_ch, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
        c_first = make_div(MOBILE_FIRST, w)
        layers.append(FirstBlock(c, c_first))
        c = c_first
        for (ch, stride, _, _), blocks in zip(MOBILE_STAGES, stages):
            c_out = make_div(ch, w)
            for b, (k, e) in enumerate(blocks):
                layers.append(MBConv(c, c_out, k, e, stride if b == 0 else 1))
                c = c_out
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.body = nn.Sequential(*layers)
        self.classifier = nn.Linear(c, classes)

    def forward(self, x):
        return self.classifier(self.body(x)), None


def mobile_format(stages):
    return "|".join("-".join(f"k{k}e{e}" for k, e in blocks) for blocks in stages)


def mobile_parse(text):
    stages = []
    for part in text.split("|"):
        blocks = []
        for blk in part.split("-"):
            assert blk[0] == "k" and "e" in blk, blk
            k, e = blk[1:].split("e")
            blocks.append((int(k), int(e)))
        stages.append(blocks)
    assert len(stages) == len(MOBILE_STAGES)
    return stages


def mobile_sample(rng):
    stages = []
    for _, _, lo, hi in MOBILE_STAGES:
        depth = rng.randint(lo, hi)
        stages.append([(rng.choice(MOBILE_KERNELS), rng.choice(MOBILE_EXPANDS)) for _ in range(depth)])
    return stages


def build_mobile(text, opts, in_ch, classes):
    return MobileNet(mobile_parse(text), opts["width"], in_ch, classes)


# ---- rows --------------------------------------------------------------------

def parse_options(options):
    out = {}
    for kv in options.split(","):
        k, v = kv.split("=")
        out[k] = float(v) if "." in v else int(v)
    return out


def measure(space, options, size, in_ch, classes, arch):
    """(params, params_aux, macs) of one network."""
    opts = parse_options(options)
    if space == "nb201":
        net = build_nb201(arch, opts, in_ch, classes)
    elif space == "darts":
        net = build_darts(arch, opts, in_ch, classes, size)
    elif space == "nb101":
        net = build_nb101(arch, opts, in_ch, classes)
    else:
        net = build_mobile(arch, opts, in_ch, classes)
    net.eval()
    aux = getattr(net, "aux", None)
    main = net.main_modules() if hasattr(net, "main_modules") else [net]
    params = count_params(main)
    params_aux = count_params([aux]) if aux is not None else 0
    assert params + params_aux == count_params([net])
    x = torch.randn(1, in_ch, size, size)
    macs, (logits, aux_in) = count_macs(net, main, x)
    assert logits.shape == (1, classes)
    if aux is not None:
        with torch.no_grad():
            assert aux(aux_in).shape == (1, classes)  # the head fits the map it is given
    return params, params_aux, macs


def row_specs():
    """(space, options, (H, W, C), classes, arch text) for every row, in order."""
    rng = random.Random(SEED)
    rows = []

    def add(space, options, inp, classes, archs):
        rows.extend((space, options, inp, classes, a) for a in archs)

    nb201_fixed = [
        nb201_format([["nor_conv_3x3"] * j for j in (1, 2, 3)]),
        nb201_format([["none"] * j for j in (1, 2, 3)]),
        nb201_format([["skip_connect"] * j for j in (1, 2, 3)]),
        nb201_format([["avg_pool_3x3"] * j for j in (1, 2, 3)]),
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    ]
    add("nb201", "C=16,N=5", (32, 32, 3), 10,
        nb201_fixed + [nb201_format(nb201_sample(rng)) for _ in range(150)])
    add("nb201", "C=8,N=1", (28, 28, 1), 10, [nb201_format(nb201_sample(rng)) for _ in range(50)])

    add("darts", "C=36,layers=20,auxiliary=1", (32, 32, 3), 10,
        [darts_format(DARTS_V2), darts_format(DARTS_V1)]
        + [darts_format(darts_sample(rng)) for _ in range(40)])
    add("darts", "C=16,layers=8,auxiliary=1", (32, 32, 3), 10,
        [darts_format(darts_sample(rng)) for _ in range(40)])
    add("darts", "C=16,layers=8,auxiliary=0", (28, 28, 1), 10,
        [darts_format(darts_sample(rng)) for _ in range(20)])

    add("nb101", "stem_channels=128,stacks=3,cells_per_stack=3", (32, 32, 3), 10,
        [nb101_format(INCEPTION)] + [nb101_format(nb101_sample(rng)) for _ in range(60)])
    add("nb101", "stem_channels=16,stacks=3,cells_per_stack=1", (28, 28, 1), 10,
        [nb101_format(nb101_sample(rng)) for _ in range(40)])

    add("mobile", "width=1", (28, 28, 1), 10, [mobile_format(mobile_sample(rng)) for _ in range(100)])
    add("mobile", "width=0.5", (32, 32, 3), 10, [mobile_format(mobile_sample(rng)) for _ in range(50)])
    add("mobile", "width=1.5", (32, 32, 3), 100, [mobile_format(mobile_sample(rng)) for _ in range(30)])
    return rows


HEADER = """\
# cost_torch.tsv - parameter and MAC counts of networks of the four search
# spaces, built independently in PyTorch by tools/make_cost_golden.py (which
# says how each is built and how to regenerate this file).
# Columns (tab-separated):
#   space       nb201 | darts | nb101 | mobile
#   options     the space's options, NAME=VALUE[,NAME=VALUE...]
#   input       HxWxC of one input image
#   classes     outputs of the classifier
#   arch        the architecture text, as cf_arch_parse reads it
#   params      trainable parameters without the auxiliary head: conv weights,
#               BN gamma and beta, linear weight and bias (no conv has a bias;
#               BN running statistics are not parameters)
#   params_aux  trainable parameters of the DARTS auxiliary head (0: none)
#   macs        multiply-accumulates of one image through the main network
#               (no auxiliary head): conv OC*OH*OW*(IC/groups)*KH*KW, linear
#               IN*OUT; bias, BN, pooling, ReLU and additions not counted.
#               Measured with forward hooks on a real forward pass.
# Conventions:
#   nb201   NAS-Bench-201 TinyNetwork; the stem conv takes the input's channels.
#   darts   DARTS NetworkCIFAR with stem multiplier 3; the stem conv takes the
#           input's channels. The auxiliary head (after cell 2*layers//3) is
#           ReLU, avgpool 5/3, conv1x1 ->128, BN, ReLU, conv KxK 128->768, BN,
#           ReLU, linear 768->classes, with K = 2 where the pooled map is at
#           least 2x2 (8x8 maps from 32x32 inputs) and K = 1 where it is 1x1
#           (7x7 maps from 28x28 inputs).
#   nb101   NAS-Bench-101 model builder on the pruned cell; the stem conv takes
#           the input's channels; arch holds the unpruned matrix. The builder
#           reproduces the dataset's 8555530 trainable parameters for the cell
#           NB101_KNOWN of the script (checked each run; not a row here).
#   mobile  our MBConv space; channels make_div(v, width); no head conv.
# Random architectures: random.Random(2026), in row order.
"""


def main():
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "tests", "golden", "cost_torch.tsv")

    lines = [HEADER.rstrip("\n"),
             "space\toptions\tinput\tclasses\tarch\tparams\tparams_aux\tmacs"]
    lines[-1] = "#" + lines[-1]
    record = {}
    counts = {}
    for space, options, (h, w, c), classes, arch in row_specs():
        assert h == w and "\t" not in arch
        p, pa, macs = measure(space, options, h, c, classes, arch)
        lines.append(f"{space}\t{options}\t{h}x{w}x{c}\t{classes}\t{arch}\t{p}\t{pa}\t{macs}")
        key = (space, options, f"{h}x{w}x{c}")
        counts[key] = counts.get(key, 0) + 1
        record.setdefault((space, arch), (p, pa, macs))

    known, _, _ = measure("nb101", "stem_channels=128,stacks=3,cells_per_stack=3", 32, 3, 10,
                          nb101_format(NB101_KNOWN))
    if known != NB101_KNOWN_PARAMS:
        sys.exit(f"make_cost_golden: the NAS-Bench-101 check cell has {known} parameters, "
                 f"the dataset says {NB101_KNOWN_PARAMS}")

    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")

    print(f"{out}: {sum(counts.values())} rows")
    for (space, options, inp), n in counts.items():
        print(f"  {space:6s} {options:45s} {inp:8s} {n:4d}")
    named = [
        ("nb201 all nor_conv_3x3", ("nb201", nb201_format([["nor_conv_3x3"] * j for j in (1, 2, 3)]))),
        ("nb201 mixed", ("nb201", "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
                                  "+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")),
        ("darts DARTS_V2", ("darts", darts_format(DARTS_V2))),
        ("darts DARTS_V1", ("darts", darts_format(DARTS_V1))),
        ("nb101 Inception", ("nb101", nb101_format(INCEPTION))),
    ]
    for label, key in named:
        p, pa, macs = record[key]
        print(f"  {label:24s} params {p:9d}  params_aux {pa:7d}  macs {macs:11d}")
    print(f"  {'nb101 dataset check cell':24s} params {known:9d}  (NAS-Bench-101: {NB101_KNOWN_PARAMS})")


if __name__ == "__main__":
    main()
