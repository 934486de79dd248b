#!/usr/bin/python3
"""The PyTorch side of bench/train_vs_pytorch.sh: fmnist-mlp (784 -> 1000 relu
-> 1000 relu -> 10, cross-entropy) on Fashion-MNIST with the same
normalisation, batch size, optimizer (Adam, lr 1e-3), shuffled epochs and
last-partial-batch policy (kept) as `hwadapt train`. Prints one JSON line per
epoch with the same fields. Run with Debian's python3-torch."""
import argparse, gzip, json, os, struct, time
import torch

def idx(path):
    with gzip.open(path, "rb") as f:
        b = f.read()
    nd = b[3]
    dims = struct.unpack(">" + "I" * nd, b[4:4 + 4 * nd])
    return torch.frombuffer(bytearray(b[4 + 4 * nd:]), dtype=torch.uint8).reshape(dims)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--hidden", default="1000,1000")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    def load(stem):
        x = idx(f"{a.data}/{stem}-images-idx3-ubyte.gz").reshape(-1, 784).float() / 255.0
        return (x - 0.2860) / 0.3530, idx(f"{a.data}/{stem}-labels-idx1-ubyte.gz").long()
    xtr, ytr = load("train")
    xte, yte = load("t10k")
    if a.limit:
        xtr, ytr = xtr[:a.limit], ytr[:a.limit]
    dims = [784] + [int(h) for h in a.hidden.split(",")] + [10]
    layers = []
    for i in range(len(dims) - 1):
        layers.append(torch.nn.Linear(dims[i], dims[i + 1]))
        if i + 2 < len(dims):
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = torch.nn.CrossEntropyLoss()
    n = xtr.shape[0]
    for epoch in range(1, a.epochs + 1):
        perm = torch.randperm(n)
        t0 = time.perf_counter()
        total = 0.0
        for s in range(0, n, a.batch):
            idx_ = perm[s:s + a.batch]
            opt.zero_grad(set_to_none=True)
            loss = lossf(model(xtr[idx_]), ytr[idx_])
            loss.backward()
            opt.step()
            total += loss.item() * idx_.shape[0]
        secs = time.perf_counter() - t0
        with torch.no_grad():
            out = model(xte)
            tl = lossf(out, yte).item()
            acc = (out.argmax(1) == yte).float().mean().item()
        print(json.dumps({"epoch": epoch, "train_loss": total / n, "test_loss": tl, "test_accuracy": acc,
                          "seconds": secs, "samples_per_s": n / secs}), flush=True)

if __name__ == "__main__":
    main()
