#!/usr/bin/python3
"""Reads an `hwadapt train --export` file the way the safetensors format
specifies it (u64 header length, JSON header, data offsets covering the data
section exactly), independently of libhwadapt, loads the weights into
PyTorch nn.Linear layers and prints the test accuracy on the first N
Fashion-MNIST test images: the layout is right if it matches hwadapt's.
usage: check_export.py FILE N"""
import gzip, json, struct, sys
import torch

path, n = sys.argv[1], int(sys.argv[2])
b = open(path, "rb").read()
hl = struct.unpack("<Q", b[:8])[0]
hdr = json.loads(b[8:8 + hl])
data = b[8 + hl:]
meta = hdr.pop("__metadata__", {})
assert meta.get("format") == "hwadapt-mlp", meta
spans = sorted(tuple(v["data_offsets"]) for v in hdr.values())
assert spans[0][0] == 0 and spans[-1][1] == len(data), "tensors must cover the data section"
assert all(a[1] == c[0] for a, c in zip(spans, spans[1:])), "gaps or overlaps"
t = {}
for name, v in hdr.items():
    assert v["dtype"] == "F32"
    lo, hi = v["data_offsets"]
    t[name] = torch.frombuffer(bytearray(data[lo:hi]), dtype=torch.float32).reshape(v["shape"])
dims = [int(x) for x in meta["layers"].split(",")]
layers = []
for i in range(len(dims) - 1):
    lin = torch.nn.Linear(dims[i], dims[i + 1])
    with torch.no_grad():
        lin.weight.copy_(t[f"fc{i + 1}.weight"])  # [out, in]
        lin.bias.copy_(t[f"fc{i + 1}.bias"])
    layers.append(lin)
    if i + 2 < len(dims):
        layers.append({"relu": torch.nn.ReLU(), "gelu": torch.nn.GELU(), "tanh": torch.nn.Tanh(),
                       "sigmoid": torch.nn.Sigmoid(), "silu": torch.nn.SiLU()}[meta["activation"]])
model = torch.nn.Sequential(*layers)
def idx(p):
    raw = gzip.open(p).read()
    nd = raw[3]
    dd = struct.unpack(">" + "I" * nd, raw[4:4 + 4 * nd])
    return torch.frombuffer(bytearray(raw[4 + 4 * nd:]), dtype=torch.uint8).reshape(dd)
D = "/usr/share/datasets/fashion-mnist"
x = (idx(f"{D}/t10k-images-idx3-ubyte.gz").reshape(-1, 784)[:n].float() / 255.0 - 0.2860) / 0.3530
y = idx(f"{D}/t10k-labels-idx1-ubyte.gz")[:n].long()
with torch.no_grad():
    print("%.4f" % (model(x).argmax(1) == y).float().mean().item())
