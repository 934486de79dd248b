#!/usr/bin/python3
"""Exports small PyTorch models to ONNX and writes their inputs and PyTorch's
own outputs as goldens for hwadapt's ONNX importer (tests/cli_onnx.sh).

Three models, each in its folder of tests/golden/onnx/ (or OUT_DIR):
  mlp_opset13  Fashion-MNIST MLP: Linear 784->128 (Gemm), GELU (Erf chain),
               LayerNorm (opset 13 spells it out: ReduceMean, Sub, Pow, Sqrt,
               Div, Mul, Add), a product plus bias written as x @ W + b
               (MatMul, Add), outputs "logits" and their "probs" (Softmax)
  mlp_opset17  the same module at opset 17 (LayerNormalization)
  cnn_opset13  conv 1->8 3x3 + BatchNorm (eval) + ReLU + MaxPool 2, conv
               8->16 3x3 stride 2 + ReLU, AvgPool 2 (7x7 -> 3x3),
               x.view(x.size(0), -1) (Shape -> Gather -> Unsqueeze ->
               Concat -> Reshape), Linear 144->10 (Gemm): output "logits"
Each folder holds model.onnx (batch axis dynamic, named "batch"), input.npy
(batch 3, float32, the input "input") and <output>.npy: PyTorch's float32
outputs, the reference. The float64 forward of the same module is computed
too and its distance to the float32 one printed: the scale of rounding the
importer's 1e-4 tolerance has to cover. Prints each file's op types (read
back from the protobuf bytes by the small reader below, not by the exporter).

With --bench DIR it writes instead the models bench/onnx.sh times, at
Fashion-MNIST sizes, into DIR (no goldens: the bench checks hwadapt against
ONNX Runtime on its own inputs):
  fmnist-mlp.onnx  784->1000 ReLU ->1000 ReLU ->10 (Gemm, Relu), as hwadapt's
                   built-in fmnist-mlp
  fmnist-cnn.onnx  conv 3x3 1->32 pad 1, BatchNorm, ReLU, MaxPool 2, conv 3x3
                   32->64 pad 1, BatchNorm, ReLU, MaxPool 2, view, Linear
                   3136->128, ReLU, (Dropout: gone in eval), Linear 128->10,
                   as the fmnist-cnn the trainer builds in

Seeds are fixed: a rerun writes the same arrays (the .onnx bytes may differ
between torch versions). usage: onnx_export.py [OUT_DIR] | --bench DIR
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = sys.argv[1] if len(sys.argv) == 2 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden",
                                                          "onnx")
BATCH = 3


class Mlp(nn.Module):
    def __init__(self, hidden=128):
        super().__init__()
        self.fc1 = nn.Linear(784, hidden)
        self.norm = nn.LayerNorm(hidden)
        # a plain parameter product, so that the exporter writes MatMul + Add rather than Gemm
        self.w2 = nn.Parameter(torch.randn(hidden, 10) / hidden ** 0.5)
        self.b2 = nn.Parameter(torch.randn(10) * 0.1)
        with torch.no_grad():  # LayerNorm's affine part away from 1 and 0, so that it is tested
            self.norm.weight.copy_(1 + 0.2 * torch.randn(hidden))
            self.norm.bias.copy_(0.2 * torch.randn(hidden))

    def forward(self, x):  # x [N, 784]
        h = self.norm(F.gelu(self.fc1(x)))  # [N, hidden]
        logits = h @ self.w2 + self.b2  # [N, 10]
        return logits, torch.softmax(logits, dim=1)


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.fc = nn.Linear(16 * 3 * 3, 10)
        with torch.no_grad():  # running statistics and affine part of a trained-looking BatchNorm
            self.bn1.running_mean.copy_(0.1 * torch.randn(8))
            self.bn1.running_var.copy_(0.5 + torch.rand(8))
            self.bn1.weight.copy_(1 + 0.2 * torch.randn(8))
            self.bn1.bias.copy_(0.1 * torch.randn(8))
            # PyTorch's initialization leaves the logits near 0.05; larger
            # weights bring them near 1, so that 1e-4 is a relative 1e-4
            self.conv2.weight.mul_(3)
            self.fc.weight.mul_(8)

    def forward(self, x):  # x [N, 1, 28, 28]
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)  # [N, 8, 14, 14]
        x = F.relu(self.conv2(x))  # [N, 16, 7, 7]
        x = F.avg_pool2d(x, 2)  # [N, 16, 3, 3]: the odd last row and column dropped
        return self.fc(x.view(x.size(0), -1))


class BenchMlp(nn.Sequential):
    def __init__(self):
        super().__init__(nn.Linear(784, 1000), nn.ReLU(), nn.Linear(1000, 1000), nn.ReLU(), nn.Linear(1000, 10))


class BenchCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10))

    def forward(self, x):  # x [N, 1, 28, 28]
        x = self.features(x)  # [N, 64, 7, 7]
        return self.head(x.view(x.size(0), -1))


# ---- a minimal protobuf reader: op types and opset of an exported file ----
def _varint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return v, i


def _fields(b):
    """(field number, wire type, value) of each field of message bytes b."""
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        f, w = key >> 3, key & 7
        if w == 0:
            v, i = _varint(b, i)
        elif w == 2:
            n, i = _varint(b, i)
            v, i = b[i:i + n], i + n
        elif w == 1:
            v, i = b[i:i + 8], i + 8
        elif w == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {w}")
        yield f, w, v


def onnx_summary(path):
    """(sorted {op type: count}, default-domain opset) of an ONNX ModelProto file."""
    ops, opset = {}, None
    for f, _, v in _fields(open(path, "rb").read()):
        if f == 8:  # opset_import: OperatorSetIdProto (1 domain, 2 version)
            d = dict((g, x) for g, _, x in _fields(v))
            if d.get(1, b"") in (b"", b"ai.onnx"):
                opset = d.get(2)
        elif f == 7:  # graph: GraphProto, field 1 node: NodeProto, field 4 op_type
            for g, _, node in _fields(v):
                if g == 1:
                    op = next(x for h, _, x in _fields(node) if h == 4).decode()
                    ops[op] = ops.get(op, 0) + 1
    return dict(sorted(ops.items())), opset


def write_onnx(model, x, path, out_names, opset):
    """model (in eval mode) to path: input "input", outputs out_names, the batch axis symbolic."""
    axes = {"input": {0: "batch"}}
    axes.update({o: {0: "batch"} for o in out_names})
    # Training mode PRESERVE exports the eval-mode module as it is, where
    # EVAL (the default) would fold BatchNormalization into the Conv's
    # weights before the importer sees it; constant folding off, as the
    # exporter asks in that mode (the importer folds the constant chains
    # itself). The Shape chain depends on the batch: it stays either way.
    torch.onnx.export(model, (x,), path, input_names=["input"], output_names=out_names, dynamic_axes=axes,
                      opset_version=opset, training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    ops, got = onnx_summary(path)
    assert got == opset, f"{path}: opset {got}, asked for {opset}"
    return ops


def export(name, model, x, out_names, opset):
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "model.onnx")
    model.eval()
    with torch.no_grad():
        ys = model(x)
        ys = ys if isinstance(ys, tuple) else (ys,)
        ys64 = model.double()(x.double())
        ys64 = ys64 if isinstance(ys64, tuple) else (ys64,)
        model.float()
    ops = write_onnx(model, x, path, out_names, opset)
    np.save(os.path.join(folder, "input.npy"), x.numpy())
    for o, y, y64 in zip(out_names, ys, ys64):
        np.save(os.path.join(folder, o + ".npy"), y.numpy())
        d = (y.double() - y64).abs().max().item()
        print(f"{name}: output {o} {list(y.shape)}, max |float32 - float64| = {d:.2e}")
    size = os.path.getsize(path)
    assert size < 1 << 20, f"{path}: {size} bytes, keep goldens under 1 MB"
    print(f"{name}: opset {opset}, {size} bytes, ops: " + ", ".join(f"{k} x{n}" if n > 1 else k for k, n in ops.items()))


def bench_models(folder):
    os.makedirs(folder, exist_ok=True)
    torch.manual_seed(25)
    for name, model, shape in (("fmnist-mlp", BenchMlp(), (1, 784)), ("fmnist-cnn", BenchCnn(), (1, 1, 28, 28))):
        path = os.path.join(folder, name + ".onnx")
        ops = write_onnx(model.eval(), torch.rand(shape), path, ["logits"], 13)
        print(f"{path}: opset 13, ops: " + ", ".join(f"{k} x{n}" if n > 1 else k for k, n in ops.items()))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--bench":
        return bench_models(sys.argv[2])
    torch.manual_seed(22)
    mlp = Mlp()
    torch.manual_seed(23)
    cnn = Cnn()
    g = torch.Generator().manual_seed(24)
    x_mlp = torch.rand(BATCH, 784, generator=g)  # pixel-like values in [0, 1)
    x_cnn = torch.rand(BATCH, 1, 28, 28, generator=g)
    print(f"torch {torch.__version__}, numpy {np.__version__}")
    export("mlp_opset13", mlp, x_mlp, ["logits", "probs"], 13)
    export("mlp_opset17", mlp, x_mlp, ["logits", "probs"], 17)
    export("cnn_opset13", cnn, x_cnn, ["logits"], 13)


if __name__ == "__main__":
    main()
