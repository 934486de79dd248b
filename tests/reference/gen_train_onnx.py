#!/usr/bin/python3
"""Writes the small ONNX models that tests/cli_train_onnx.sh trains on
Fashion-MNIST (tests/onnx/train/): PyTorch 1.13's own exporter, fixed seeds.

  mlp16.onnx    x [N, 784] -> Linear 16, ReLU -> Linear 10 (a symbolic batch)
  conv4.onnx    x [N, 1, 28, 28] -> Conv 4 3x3 stride 2, ReLU -> Flatten -> Linear 10
  wrong.onnx    x [N, 784] -> Linear 3 (three logits: refused for ten classes)
"""
import os
import torch

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "onnx", "train")
os.makedirs(out, exist_ok=True)


def export(model, shape, name):
    torch.manual_seed(0)
    for p in model.parameters():  # deterministic values whatever torch's init order
        torch.nn.init.uniform_(p, -0.1, 0.1)
    torch.onnx.export(model, torch.zeros(shape), os.path.join(out, name), input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13)


export(torch.nn.Sequential(torch.nn.Linear(784, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10)), (2, 784), "mlp16.onnx")
export(torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, stride=2), torch.nn.ReLU(), torch.nn.Flatten(),
                           torch.nn.Linear(4 * 13 * 13, 10)), (2, 1, 28, 28), "conv4.onnx")
export(torch.nn.Sequential(torch.nn.Linear(784, 3)), (2, 784), "wrong.onnx")
