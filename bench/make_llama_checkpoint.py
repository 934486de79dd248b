#!/usr/bin/python3
"""Writes a llama2.c checkpoint with random weights (numpy), for benchmarks.

usage: make_llama_checkpoint.py OUT [--preset 110m|1b] [--dim 768] [--hidden 2048]
       [--layers 12] [--heads 12] [--kv-heads 12] [--vocab 32000] [--seq-len 1024] [--seed 0]

The defaults are the 110M-parameter Llama of llama2.c's stories110M (--preset
110m); --preset 1b is a 1.04B-parameter Llama shaped like TinyLlama-1.1B but
for its 16 layers (dim 2048, hidden 8192, 32 heads, 8 KV heads, vocab 32000;
about 4.2 GB of f32). Flags given after a preset override it. The classifier
is shared with the token embedding. Weights are N(0, 0.02^2), norms 1.
"""
import argparse
import struct

import numpy as np


PRESETS = {
    "110m": {"dim": 768, "hidden": 2048, "layers": 12, "heads": 12, "kv-heads": 12, "vocab": 32000, "seq-len": 1024},
    "1b": {"dim": 2048, "hidden": 8192, "layers": 16, "heads": 32, "kv-heads": 8, "vocab": 32000, "seq-len": 1024},
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="110m")
    for name in ("dim", "hidden", "layers", "heads", "kv-heads", "vocab", "seq-len", "seed"):
        ap.add_argument("--" + name, type=int, default=None)
    a = ap.parse_args()
    for name, value in dict(PRESETS[a.preset], seed=0).items():
        if getattr(a, name.replace("-", "_")) is None:
            setattr(a, name.replace("-", "_"), value)
    rng = np.random.default_rng(a.seed)
    hs = a.dim // a.heads
    kv = hs * a.kv_heads
    L = a.layers

    def normal(*shape):
        return (rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)).astype("<f4")

    with open(a.out, "wb") as f:
        f.write(struct.pack("<7i", a.dim, a.hidden, L, a.heads, a.kv_heads, a.vocab, a.seq_len))
        f.write(normal(a.vocab, a.dim).tobytes())            # token embedding
        f.write(np.ones((L, a.dim), "<f4").tobytes())        # attention norms
        for rows, cols in ((a.dim, a.dim), (kv, a.dim), (kv, a.dim), (a.dim, a.dim)):  # wq wk wv wo
            for _ in range(L):
                f.write(normal(rows, cols).tobytes())
        f.write(np.ones((L, a.dim), "<f4").tobytes())        # ffn norms
        for rows, cols in ((a.hidden, a.dim), (a.dim, a.hidden), (a.hidden, a.dim)):  # w1 w2 w3
            for _ in range(L):
                f.write(normal(rows, cols).tobytes())
        f.write(np.ones(a.dim, "<f4").tobytes())             # final norm
        f.write(np.zeros((2, a.seq_len, hs // 2), "<f4").tobytes())  # unused freq_cis tables


if __name__ == "__main__":
    main()
