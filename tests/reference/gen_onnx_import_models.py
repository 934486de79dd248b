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
  cnn.onnx    conv, batch norm (eval), relu, max pool (ceil_mode), grouped
              strided conv, avg pool, global average, Linear, log_softmax;
              with cnn_x.npy and PyTorch's output cnn_y.npy
  attn.onnx   an embedding, multi-head self-attention with an int64 padding
              mask (masked_fill), LayerNorm, a GELU feed-forward; batch and
              sequence symbolic; with attn_ids.npy, attn_mask.npy, attn_y.npy
usage: gen_onnx_import_models.py [OUT_DIR]"""
import math, os, sys
import numpy as np
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


class CNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.b1 = torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8)
        self.c2, self.b2 = torch.nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=2), torch.nn.BatchNorm2d(8)
        self.fc = torch.nn.Linear(8, 5)

    def forward(self, x):
        x = torch.nn.functional.max_pool2d(torch.relu(self.b1(self.c1(x))), 2, ceil_mode=True)
        x = torch.nn.functional.avg_pool2d(torch.relu(self.b2(self.c2(x))), 2, count_include_pad=False)
        x = torch.nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)
        return torch.log_softmax(self.fc(x), -1)


class Attn(torch.nn.Module):
    def __init__(self, d=16, h=2, v=20):
        super().__init__()
        self.h, self.emb = h, torch.nn.Embedding(v, d)
        self.qkv, self.o, self.ln = torch.nn.Linear(d, 3 * d), torch.nn.Linear(d, d), torch.nn.LayerNorm(d)
        self.ff = torch.nn.Sequential(torch.nn.Linear(d, 32), torch.nn.GELU(), torch.nn.Linear(32, d))

    def forward(self, ids, mask):
        x = self.emb(ids)
        B, T, D = x.shape
        q, k, v = (t.view(B, T, self.h, D // self.h).transpose(1, 2) for t in self.qkv(x).split(D, dim=-1))
        a = (q @ k.transpose(-1, -2) / math.sqrt(D // self.h)).masked_fill(mask[:, None, None, :] == 0, -1e9)
        y = (torch.softmax(a, -1) @ v).transpose(1, 2).reshape(B, T, D)
        x = self.ln(x + self.o(y))
        return x + self.ff(x)


export(Flat(), (torch.randn(2, 3, 4),), "flat.onnx", ["x"], ["y"], {"x": {0: "batch"}, "y": {0: "batch"}})
export(Bcast(), (torch.rand(3, 1) + 1, torch.randn(2, 3, 4)), "bcast.onnx", ["a", "b"], ["d", "q", "s"])
export(Types(), (torch.tensor([1, 2, 3, 9]), torch.randn(4, 3)), "types.onnx", ["ids", "x"], ["emb", "pos", "n"])
torch.onnx.export(Unsup(), (torch.randn(2, 5),), os.path.join(out, "unsup.onnx"), input_names=["x"],
                  output_names=["c", "t", "f"], opset_version=13, custom_opsets={"mydomain": 1})
export(Step(), (torch.randn(2, 6),), "step.onnx", ["x"], ["y"])

torch.manual_seed(1)
cnn = CNN().eval()
for bn in (cnn.b1, cnn.b2):
    bn.running_mean.uniform_(-0.5, 0.5)
    bn.running_var.uniform_(0.5, 2)
x = torch.randn(2, 3, 12, 12)
export(cnn, (x,), "cnn.onnx", ["x"], ["y"], {"x": {0: "batch"}, "y": {0: "batch"}})
np.save(os.path.join(out, "cnn_x.npy"), x.numpy())
np.save(os.path.join(out, "cnn_y.npy"), cnn(x).detach().numpy())
attn = Attn().eval()
ids = torch.randint(0, 20, (2, 7))
mask = torch.ones(2, 7, dtype=torch.int64)
mask[1, 5:] = 0
export(attn, (ids, mask), "attn.onnx", ["ids", "mask"], ["y"],
       {"ids": {0: "b", 1: "t"}, "mask": {0: "b", 1: "t"}, "y": {0: "b", 1: "t"}})
np.save(os.path.join(out, "attn_ids.npy"), ids.numpy())
np.save(os.path.join(out, "attn_mask.npy"), mask.numpy())
np.save(os.path.join(out, "attn_y.npy"), attn(ids, mask).detach().numpy())
