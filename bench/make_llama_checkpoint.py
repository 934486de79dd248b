#!/usr/bin/python3
"""Writes a llama2.c checkpoint with random weights (numpy), for benchmarks.

usage: make_llama_checkpoint.py OUT [--dim 768] [--hidden 2048] [--layers 12]
       [--heads 12] [--kv-heads 12] [--vocab 32000] [--seq-len 1024] [--seed 0]

The defaults are the 110M-parameter Llama of llama2.c's stories110M; the
classifier is shared with the token embedding. Weights are N(0, 0.02^2), norms 1.
"""
import argparse
import struct

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    for name, default in (("dim", 768), ("hidden", 2048), ("layers", 12), ("heads", 12), ("kv-heads", 12),
                          ("vocab", 32000), ("seq-len", 1024), ("seed", 0)):
        ap.add_argument("--" + name, type=int, default=default)
    a = ap.parse_args()
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
