#!/usr/bin/python3
"""make_golden.py - PyTorch "golden" fixtures for the CPU reference ops.

Writes the files tests/test_golden.c checks the reference backend against:

    /usr/bin/python3 tools/make_golden.py            # from the repository root
    /usr/bin/python3 tools/make_golden.py OUT_DIR    # elsewhere (default tests/golden)

  tests/golden/ops.bin   one case per op configuration: inputs, weights, the
                         output gradient used, expected output and gradients
  tests/golden/net.bin   a two-cell network end to end: input, labels, weights,
                         loss and the gradient of every weight and of the input

Needs PyTorch (1.13 tested) and numpy; the build and CI never do, since the
fixtures are committed. The output is deterministic (torch.manual_seed), so
running the script again must give byte-identical files.

Numerics. Every input is drawn at random, rounded to float32 and converted to
float64, and torch computes in float64. Stored tensors are float32: the inputs
lose nothing (they are float32 values), the expected results are rounded once,
which bounds their error by 2^-24 relative. Op parameters that are not exact in
float32 (eps, momentum, label smoothing) are rounded to float32 before torch
sees them, so the C side reproduces exactly the computation torch did.

File format (little-endian throughout):

    magic          4 bytes   b"CFG1"
    count          u32       number of records
    count records, each:
      name_len     u16
      name         name_len bytes, UTF-8, "<case>/<role>"
      dtype        u8        0 = f32, 1 = i32
      shape        4 x i64   NCHW; fewer dimensions are padded with 1s at the
                             end: a vector (K) is (K,1,1,1), a matrix (N,K) is
                             (N,K,1,1), a scalar is (1,1,1,1)
      data         N*C*H*W elements of 4 bytes, row-major NCHW

ops.bin. Each case opens with a record "<case>/meta:<op>" whose role names the
op as the registry does (cf_op_lookup) and whose f32 data are its parameters,
shape (P,1,1,1):

    conv2d         stride_h stride_w pad_h pad_w dil_h dil_w groups
    avgpool2d,     kernel_h kernel_w stride_h stride_w pad_h pad_w
    maxpool2d
    batchnorm      eps momentum training(0/1)
    zero           stride
    slice          c0 c top h left w   (x[:, c0:c0+c, top:top+h, left:left+w])
    softmax_xent   label_smoothing
    others         a single 0

followed by the case's tensors, roles:

    x0, x1, ...    inputs (softmax_xent: x0 logits, x1 labels as i32)
    w0, w1         weights: conv/linear weight and bias, batchnorm gamma and
                   beta; absent when the op has none (no bias, non-affine)
    s0, s1         batchnorm running mean and running variance before forward
    y              expected output
    s0_after,      expected running mean / variance after a training forward
    s1_after
    dy             output gradient fed to backward (absent: forward only)
    dx0, ...       expected input gradients
    dw0, dw1       expected weight gradients

Weights follow the C layout: conv weight (OC, C/groups, KH, KW), linear
weight (OUT, IN, 1, 1), biases and per-channel vectors (K, 1, 1, 1).

net.bin. One case "net" (roles below), the network written out in net_forward()
and mirrored layer by layer in build_net() of tests/test_golden.c. The stem is
conv + BN without ReLU, as in DARTS; each cell applies its own ReLUs:

    x (2,1,8,8)
    stem:  s    = BN0(conv3x3(x))                         1->4, pad 1, no bias; BN affine
    cell1 (NAS-Bench-201 style, ReLU-conv-BN edges):
           n1   = BN1(conv3x3(relu(s)))                   4->4, pad 1
           out1 = avgpool3x3_s1_p1(s) + BN2(conv1x1(relu(n1))) + identity(s)
    cell2 (DARTS reduction style):
           a    = maxpool3x3_s2_p1(out1)                  (2,4,4,4)
           b    = BN3(conv1x1(dwconv3x3_s2_p1(relu(out1))))  depthwise groups 4; BN not affine
           out2 = concat(a, b)                            (2,8,4,4)
    head:  logits = linear(global_avgpool(out2))          8->10 with bias
           loss   = softmax_xent(logits, labels, label_smoothing 0.1)

All convolutions are bias-free; every BN is in training mode with eps 1e-5 and
momentum 0.1, running stats starting at mean 0, var 1. Roles: x, labels,
w/<param> for each parameter (names in PARAMS), loss, logits, dx, dw/<param>,
and bn<i>/mean_after, bn<i>/var_after for the running statistics.
"""
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

DT_F32, DT_I32 = 0, 1


def f32(v):
    """A python float rounded to float32 (what the fixture stores)."""
    return float(np.float32(v))


def rnd(*shape, scale=1.0):
    """Random normal, exactly representable in float32, as float64."""
    return (torch.randn(*shape, dtype=torch.float32) * scale).float().double()


def distinct(*shape):
    """Distinct values 0.05 apart in random order, none at zero (max pool, ReLU)."""
    n = math.prod(shape)
    perm = torch.randperm(n).double()
    return ((perm - n / 2 + 0.5) * 0.05).float().double().reshape(shape)


class Writer:
    def __init__(self):
        self.records = []

    def add(self, name, t, dtype=DT_F32):
        if isinstance(t, torch.Tensor):
            t = t.detach().cpu().numpy()
        a = np.asarray(t)
        if a.ndim > 4:
            raise ValueError(f"{name}: {a.ndim} dimensions")
        shape = list(a.shape) + [1] * (4 - a.ndim)
        a = a.astype("<f4" if dtype == DT_F32 else "<i4")
        nb = name.encode("utf-8")
        head = struct.pack("<H", len(nb)) + nb + struct.pack("<B", dtype) + struct.pack("<4q", *shape)
        self.records.append(head + a.tobytes(order="C"))

    def save(self, path):
        with open(path, "wb") as f:
            f.write(b"CFG1" + struct.pack("<I", len(self.records)))
            for r in self.records:
                f.write(r)
        return os.path.getsize(path)


# ---- ops.bin ---------------------------------------------------------------

def grads(y, leaves, dy):
    """d(sum(y * dy)) / d(leaf) for every leaf (zeros where y does not depend on it)."""
    g = torch.autograd.grad(y, leaves, dy, allow_unused=True)
    return [torch.zeros_like(l) if gi is None else gi for l, gi in zip(leaves, g)]


def add_weighted(w, name, op, params, x, wt, b, y, dy, g):
    """Records of a one-input op with a weight and an optional bias (b None);
    g holds the gradients of x, wt and, with a bias, b."""
    w.add(f"{name}/meta:{op}", params)
    w.add(f"{name}/x0", x)
    w.add(f"{name}/w0", wt)
    if b is not None:
        w.add(f"{name}/w1", b)
    w.add(f"{name}/y", y)
    w.add(f"{name}/dy", dy)
    w.add(f"{name}/dx0", g[0])
    w.add(f"{name}/dw0", g[1])
    if b is not None:
        w.add(f"{name}/dw1", g[2])


def conv_case(w, name, x_shape, w_shape, stride, pad, dil, groups, bias):
    x = rnd(*x_shape).requires_grad_()
    wt = rnd(*w_shape, scale=0.5).requires_grad_()
    b = rnd(w_shape[0]).requires_grad_() if bias else None
    y = F.conv2d(x, wt, b, stride=stride, padding=pad, dilation=dil, groups=groups)
    dy = rnd(*y.shape)
    leaves = [x, wt] + ([b] if bias else [])
    g = grads(y, leaves, dy)
    add_weighted(w, name, "conv2d", [stride[0], stride[1], pad[0], pad[1], dil[0], dil[1], groups],
                 x, wt, b, y, dy, g)


def batchnorm_case(w, name, x_shape, affine, training):
    C = x_shape[1]
    eps, momentum = f32(1e-5), f32(0.1)
    x = (rnd(*x_shape) * 1.5 + 0.25).float().double().requires_grad_()
    gamma = rnd(C).requires_grad_() if affine else None
    beta = rnd(C).requires_grad_() if affine else None
    rmean = rnd(C, scale=0.2)
    rvar = (torch.rand(C, dtype=torch.float32) + 0.5).double()
    rmean_in, rvar_in = rmean.clone(), rvar.clone()
    y = F.batch_norm(x, rmean, rvar, gamma, beta, training=training, momentum=momentum, eps=eps)
    w.add(f"{name}/meta:batchnorm", [eps, momentum, 1.0 if training else 0.0])
    w.add(f"{name}/x0", x)
    if affine:
        w.add(f"{name}/w0", gamma)
        w.add(f"{name}/w1", beta)
    w.add(f"{name}/s0", rmean_in)
    w.add(f"{name}/s1", rvar_in)
    w.add(f"{name}/y", y)
    if not training:
        return  # the reference has no backward for inference mode
    w.add(f"{name}/s0_after", rmean)
    w.add(f"{name}/s1_after", rvar)
    dy = rnd(*y.shape)
    leaves = [x] + ([gamma, beta] if affine else [])
    g = grads(y, leaves, dy)
    w.add(f"{name}/dy", dy)
    w.add(f"{name}/dx0", g[0])
    if affine:
        w.add(f"{name}/dw0", g[1])
        w.add(f"{name}/dw1", g[2])


def simple_case(w, name, op, params, xs, fn):
    """A weightless op of inputs xs computed by fn(*xs)."""
    xs = [x.requires_grad_() for x in xs]
    y = fn(*xs)
    dy = rnd(*y.shape)
    g = grads(y, xs, dy)
    w.add(f"{name}/meta:{op}", params if params else [0.0])
    for i, x in enumerate(xs):
        w.add(f"{name}/x{i}", x)
    w.add(f"{name}/y", y)
    w.add(f"{name}/dy", dy)
    for i in range(len(xs)):
        w.add(f"{name}/dx{i}", g[i])


def pool_case(w, name, op, x_shape, k, s, p):
    x = distinct(*x_shape) if op == "maxpool2d" else rnd(*x_shape)
    if op == "maxpool2d":
        fn = lambda t: F.max_pool2d(t, k, s, p)
    else:
        fn = lambda t: F.avg_pool2d(t, k, s, p, count_include_pad=False)
    simple_case(w, name, op, [k[0], k[1], s[0], s[1], p[0], p[1]], [x], fn)


def linear_case(w, name, x_shape, out, bias):
    x = rnd(*x_shape).requires_grad_()
    fan_in = math.prod(x_shape[1:])
    wt = rnd(out, fan_in, scale=0.5).requires_grad_()
    b = rnd(out).requires_grad_() if bias else None
    y = F.linear(torch.flatten(x, 1), wt, b)
    dy = rnd(*y.shape)
    g = grads(y, [x, wt] + ([b] if bias else []), dy)
    add_weighted(w, name, "linear", [0.0], x, wt, b, y, dy, g)


def xent_case(w, name, N, K, smoothing):
    smoothing = f32(smoothing)
    z = (rnd(N, K) * 2.0).float().double().requires_grad_()
    labels = torch.randint(0, K, (N,))
    loss = F.cross_entropy(z, labels, label_smoothing=smoothing)
    dy = torch.tensor(f32(0.75), dtype=torch.float64)  # not 1, so the scaling by dloss is seen
    (g,) = torch.autograd.grad(loss, [z], dy)
    w.add(f"{name}/meta:softmax_xent", [smoothing])
    w.add(f"{name}/x0", z)
    w.add(f"{name}/x1", labels.int(), DT_I32)
    w.add(f"{name}/y", loss.reshape(1))
    w.add(f"{name}/dy", dy.reshape(1))
    w.add(f"{name}/dx0", g)


def zero_fn(s):
    # times zero, so autograd gives the (zero) input gradient
    return lambda t: t[:, :, ::s, ::s] * 0.0


def make_ops():
    torch.manual_seed(20240601)
    w = Writer()
    conv_case(w, "conv3x3_pad1_bias", (2, 3, 5, 5), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1, True)
    conv_case(w, "conv3x3_stride2", (2, 2, 6, 6), (3, 2, 3, 3), (2, 2), (1, 1), (1, 1), 1, False)
    conv_case(w, "conv1x1_nobias", (2, 4, 4, 4), (3, 4, 1, 1), (1, 1), (0, 0), (1, 1), 1, False)
    conv_case(w, "conv5x5_dil2_pad4", (2, 2, 6, 6), (3, 2, 5, 5), (1, 1), (4, 4), (2, 2), 1, False)
    conv_case(w, "conv3x3_groups2", (2, 4, 5, 5), (4, 2, 3, 3), (1, 1), (1, 1), (1, 1), 2, True)
    conv_case(w, "conv3x3_depthwise", (2, 4, 5, 5), (4, 1, 3, 3), (1, 1), (1, 1), (1, 1), 4, False)
    conv_case(w, "conv1x3_stride1x2", (2, 2, 5, 6), (3, 2, 1, 3), (1, 2), (0, 1), (1, 1), 1, True)
    batchnorm_case(w, "batchnorm_train_affine", (2, 3, 4, 4), True, True)
    batchnorm_case(w, "batchnorm_train_plain", (3, 4, 3, 3), False, True)
    batchnorm_case(w, "batchnorm_infer", (2, 3, 4, 4), True, False)
    simple_case(w, "relu", "relu", None, [distinct(2, 3, 4, 4)], F.relu)
    pool_case(w, "avgpool3x3_s1_p1", "avgpool2d", (2, 3, 5, 5), (3, 3), (1, 1), (1, 1))
    pool_case(w, "avgpool3x3_s2_p1", "avgpool2d", (2, 3, 6, 6), (3, 3), (2, 2), (1, 1))
    pool_case(w, "maxpool3x3_s2_p1", "maxpool2d", (2, 3, 6, 6), (3, 3), (2, 2), (1, 1))
    pool_case(w, "maxpool2x2_s2", "maxpool2d", (2, 3, 6, 6), (2, 2), (2, 2), (0, 0))
    simple_case(w, "global_avgpool", "global_avgpool", None, [rnd(2, 4, 5, 6)],
                lambda t: t.mean(dim=(2, 3), keepdim=True))
    linear_case(w, "linear_flatten", (2, 3, 2, 2), 5, False)
    linear_case(w, "linear_bias", (3, 7, 1, 1), 4, True)
    simple_case(w, "sum3", "sum", None, [rnd(2, 3, 4, 4) for _ in range(3)], lambda a, b, c: a + b + c)
    simple_case(w, "zero_s1", "zero", [1], [rnd(2, 3, 4, 4)], zero_fn(1))
    simple_case(w, "zero_s2", "zero", [2], [rnd(2, 3, 5, 5)], zero_fn(2))
    simple_case(w, "identity", "identity", None, [rnd(2, 3, 4, 4)], lambda t: t * 1.0)
    simple_case(w, "concat3", "concat", None, [rnd(2, 1, 3, 3), rnd(2, 3, 3, 3), rnd(2, 2, 3, 3)],
                lambda a, b, c: torch.cat([a, b, c], dim=1))
    simple_case(w, "slice_shift", "slice", [1, 2, 1, 4, 1, 3], [rnd(2, 4, 5, 5)],
                lambda t: t[:, 1:3, 1:5, 1:4] * 1.0)
    simple_case(w, "slice_channels", "slice", [0, 3, 0, 4, 0, 4], [rnd(2, 5, 4, 4)],
                lambda t: t[:, 0:3] * 1.0)
    xent_case(w, "softmax_xent", 4, 6, 0.0)
    xent_case(w, "softmax_xent_smooth", 4, 10, 0.1)
    return w


# ---- net.bin ---------------------------------------------------------------

# name -> shape; the order is the order of the records.
PARAMS = [
    ("stem_conv", (4, 1, 3, 3)),
    ("bn0_gamma", (4,)),
    ("bn0_beta", (4,)),
    ("c1_conv3x3", (4, 4, 3, 3)),
    ("bn1_gamma", (4,)),
    ("bn1_beta", (4,)),
    ("c1_conv1x1", (4, 4, 1, 1)),
    ("bn2_gamma", (4,)),
    ("bn2_beta", (4,)),
    ("c2_dwconv", (4, 1, 3, 3)),
    ("c2_pwconv", (4, 4, 1, 1)),
    ("fc_weight", (10, 8)),
    ("fc_bias", (10,)),
]
N_BN = 4
EPS, MOMENTUM, SMOOTHING = 1e-5, 0.1, 0.1


def net_forward(x, labels, p, stats):
    """The network of the header; stats[i] = [running_mean, running_var] of BN i."""
    def bn(t, i, affine=True):
        g, b = (p[f"bn{i}_gamma"], p[f"bn{i}_beta"]) if affine else (None, None)
        return F.batch_norm(t, stats[i][0], stats[i][1], g, b, training=True, momentum=MOMENTUM, eps=EPS)

    s = bn(F.conv2d(x, p["stem_conv"], padding=1), 0)
    n1 = bn(F.conv2d(F.relu(s), p["c1_conv3x3"], padding=1), 1)
    out1 = F.avg_pool2d(s, 3, 1, 1, count_include_pad=False) + bn(F.conv2d(F.relu(n1), p["c1_conv1x1"]), 2) + s
    a = F.max_pool2d(out1, 3, 2, 1)
    b = bn(F.conv2d(F.conv2d(F.relu(out1), p["c2_dwconv"], stride=2, padding=1, groups=4), p["c2_pwconv"]), 3,
           affine=False)
    out2 = torch.cat([a, b], dim=1)
    logits = F.linear(out2.mean(dim=(2, 3)), p["fc_weight"], p["fc_bias"])
    loss = F.cross_entropy(logits, labels, label_smoothing=SMOOTHING)
    # the inputs of the three ReLUs, to keep clear of the kink
    return loss, logits, [s, n1, out1]


def make_net():
    torch.manual_seed(17)
    x = rnd(2, 1, 8, 8).requires_grad_()
    labels = torch.tensor([3, 8])
    p = {}
    for name, shape in PARAMS:
        if "gamma" in name:
            t = (1.0 + rnd(*shape, scale=0.2)).float().double()
        elif "beta" in name or "bias" in name:
            t = rnd(*shape, scale=0.2)
        else:
            fan_in = math.prod(shape[1:])
            t = rnd(*shape, scale=1.0 / math.sqrt(fan_in))
        p[name] = t.requires_grad_()
    stats = [[torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)] for _ in range(N_BN)]
    loss, logits, kinks = net_forward(x, labels, p, stats)
    # A ReLU input this close to zero could flip sign under float32 rounding in
    # the C test's f32 run; refuse to write a fixture that fragile.
    closest = min(float(k.abs().min()) for k in kinks)
    if closest < 1e-4:
        sys.exit(f"make_golden: an activation is {closest:.2g} from a ReLU kink; change the seed")
    leaves = [x] + [p[n] for n, _ in PARAMS]
    g = torch.autograd.grad(loss, leaves)

    w = Writer()
    w.add("net/x", x)
    w.add("net/labels", labels.int(), DT_I32)
    for name, _ in PARAMS:
        w.add(f"net/w/{name}", p[name])
    w.add("net/loss", loss.reshape(1))
    w.add("net/logits", logits)
    w.add("net/dx", g[0])
    for (name, _), gi in zip(PARAMS, g[1:]):
        w.add(f"net/dw/{name}", gi)
    for i in range(N_BN):
        w.add(f"net/bn{i}/mean_after", stats[i][0])
        w.add(f"net/bn{i}/var_after", stats[i][1])
    return w, float(loss), closest


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "tests", "golden")
    os.makedirs(out, exist_ok=True)
    ops = make_ops()
    n = ops.save(os.path.join(out, "ops.bin"))
    print(f"{out}/ops.bin: {len(ops.records)} records, {n} bytes")
    net, loss, closest = make_net()
    n = net.save(os.path.join(out, "net.bin"))
    print(f"{out}/net.bin: {len(net.records)} records, {n} bytes (loss {loss:.6f}, "
          f"closest ReLU input {closest:.3g})")


if __name__ == "__main__":
    main()
