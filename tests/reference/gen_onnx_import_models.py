#!/usr/bin/python3
"""Writes the small ONNX models tests/test_onnx_import.c reads, exported by
PyTorch (torch.onnx, opset 13) into tests/onnx/import/. The test computes
what each should give from the inputs and the initializers it reads back,
so only the models are committed.
  flat.onnx   x [batch, 3, 4] -> relu(Linear(12, 5)(x.view(x.size(0), -1))):
              PyTorch's dynamic reshape (Shape -> Gather -> Unsqueeze ->
              Concat -> Reshape) before a Gemm; batch is symbolic
  bcast.onnx  a [3, 1], b [2, 3, 4] -> a - b, b / a, a * 2 (the first
              operand must grow)
  types.onnx  ids int64 [4], x float [4, 3] -> emb = E[ids] (float),
              pos = x > 0 (bool), n = shape(x) (int64)
  unsup.onnx  topk twice, a cumsum and an op of another domain
              (mydomain::Fancy): ops the importer lacks
  step.onnx   x[:, ::2] + 1: a Slice with a step of 2, which it refuses
usage: gen_onnx_import_models.py [OUT_DIR]"""
import os, sys
import torch

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "onnx", "import")
torch.manual_seed(0)


def export(m, args, name, inputs, outputs, dyn=None):
    torch.onnx.export(m, args, os.path.join(out, name), input_names=inputs, output_names=outputs,
                      dynamic_axes=dyn or {}, opset_version=13)


class Flat(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(12, 5)

    def forward(self, x):
        return torch.relu(self.fc(x.view(x.size(0), -1)))


class Bcast(torch.nn.Module):
    def forward(self, a, b):
        return a - b, b / a, a * 2


class Types(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(10, 3)

    def forward(self, ids, x):
        return self.emb(ids), x > 0, torch._shape_as_tensor(x)


class Fancy(torch.autograd.Function):
    @staticmethod
    def symbolic(g, x):
        return g.op("mydomain::Fancy", x)

    @staticmethod
    def forward(ctx, x):
        return x * 2


class Unsup(torch.nn.Module):
    def forward(self, x):
        a = torch.topk(x, 2).values
        b = torch.topk(x, 3).values
        return torch.cumsum(a, 1), b, Fancy.apply(x)


class Step(torch.nn.Module):
    def forward(self, x):
        return x[:, ::2] + 1


export(Flat(), (torch.randn(2, 3, 4),), "flat.onnx", ["x"], ["y"], {"x": {0: "batch"}, "y": {0: "batch"}})
export(Bcast(), (torch.rand(3, 1) + 1, torch.randn(2, 3, 4)), "bcast.onnx", ["a", "b"], ["d", "q", "s"])
export(Types(), (torch.tensor([1, 2, 3, 9]), torch.randn(4, 3)), "types.onnx", ["ids", "x"], ["emb", "pos", "n"])
torch.onnx.export(Unsup(), (torch.randn(2, 5),), os.path.join(out, "unsup.onnx"), input_names=["x"],
                  output_names=["c", "t", "f"], opset_version=13, custom_opsets={"mydomain": 1})
export(Step(), (torch.randn(2, 6),), "step.onnx", ["x"], ["y"])
