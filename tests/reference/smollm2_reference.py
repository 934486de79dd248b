#!/usr/bin/python3
"""PyTorch float64 reference for SmolLM2-135M-Instruct (Q4_1 GGUF) in hwadapt.

Reads the GGUF file with the PyPI package gguf (0.19.0), dequantizes every
tensor (Q4_1 matrices, the Q8_0 token embedding, F32 norms) to float64, and
runs the Llama forward pass of tests/reference/llama_reference.py (RMSNorm,
interleaved rotary embedding on the weights as stored, grouped-query causal
attention, SwiGLU, the classifier tied to the embedding). The prompt is
tokenized by the reference tokenizer of gen_bpe_goldens.py (tokenizers).

The rotary style is checked, not assumed: the prompt's and continuation's
negative log-likelihood under the interleaved rotation (pairs 2i, 2i+1) is
compared with the rotate-half rotation (pairs i, i + D/2) on the same
weights; the script stops unless interleaved is clearly the better one.

Writes tests/golden/smollm2_logits.bin (little-endian):
  u32 T (prompt tokens), u32 G (greedy tokens), u32 P (positions kept),
  u32 K (logits kept per position)
  T u32  the prompt's ids;  G u32  the greedy continuation's ids
  G f32  the margin of each greedy pick (top-1 minus top-2 logit)
  P times: u32 position, K u32 ids, K f32 logits (the K/2 largest of the
  position, then ids spread over the vocabulary)

Run from the repository root (Debian's python3 with python3-torch 1.13):
  /usr/bin/python3 tests/reference/smollm2_reference.py [GGUF]
(about a minute on two cores). SMOLLM2_PROMPT replaces the prompt, to look
at others' margins; the committed golden uses the default.
"""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_bpe_goldens as bpe  # noqa: E402  (installs tokenizers and gguf into the cache)
import llama_reference as ref  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from gguf import GGUFReader, quants  # noqa: E402

PROMPT = os.environ.get("SMOLLM2_PROMPT", "The history of the printing press begins")
N_GREEDY = 32
N_KEEP = 64  # logits per kept position: the 32 largest and 32 spread ids


def load(path):
    r = GGUFReader(path)
    f = lambda key: bpe.field(r, key)
    t = {x.name: x for x in r.tensors}

    def f64(name):
        x = t[name]
        return torch.from_numpy(np.asarray(quants.dequantize(x.data, x.tensor_type), dtype=np.float64))

    L, dim, H = f("llama.block_count"), f("llama.embedding_length"), f("llama.attention.head_count")
    assert f("llama.rope.dimension_count") == dim // H and "output.weight" not in t
    p = dict(dim=dim, n_layers=L, n_heads=H, n_kv=f("llama.attention.head_count_kv"),
             eps=f("llama.attention.layer_norm_rms_epsilon"), theta=f("llama.rope.freq_base"))
    p["emb"] = f64("token_embd.weight")
    p["vocab"] = p["emb"].shape[0]
    p["out_norm"] = f64("output_norm.weight")
    p["cls"] = p["emb"]
    names = dict(att_norm="attn_norm", wq="attn_q", wk="attn_k", wv="attn_v", wo="attn_output", ffn_norm="ffn_norm",
                 w1="ffn_gate", w2="ffn_down", w3="ffn_up")
    for key, gname in names.items():
        p[key] = torch.stack([f64("blk.%d.%s.weight" % (l, gname)) for l in range(L)])
    return r, p


def rope_half(x, theta=10000.0):
    # x: [T, H, D]; pairs (i, i + D/2) rotate by t * theta^(-2i/D) (Hugging Face's rotate_half).
    T, _, D = x.shape
    freqs = theta ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)
    ang = torch.outer(torch.arange(T, dtype=torch.float64), freqs)[:, None, :]
    a, b = x[..., : D // 2], x[..., D // 2:]
    return torch.cat([a * ang.cos() - b * ang.sin(), b * ang.cos() + a * ang.sin()], -1)


def nll(logits, ids):
    lp = logits[:-1].log_softmax(-1)
    return -lp[torch.arange(len(ids) - 1), torch.tensor(ids[1:])].mean().item()


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else bpe.DEFAULT_GGUF
    r, p = load(path)
    prompt = bpe.smollm2_tokenizer(r).encode(PROMPT, add_special_tokens=False).ids
    ids, margins = list(prompt), []
    with torch.no_grad():
        for _ in range(N_GREEDY):
            last = ref.forward(p, ids)[-1]
            top = last.topk(2).values
            margins.append((top[0] - top[1]).item())
            ids.append(int(last.argmax()))
        logits = ref.forward(p, ids)
        interleaved = nll(logits, ids)
        saved = ref.rope
        ref.rope = rope_half
        half = nll(ref.forward(p, ids), ids)
        ref.rope = saved
    print(f"prompt {prompt}\ngreedy {ids[len(prompt):]}\nmargins {[round(m, 3) for m in margins]}")
    print(f"mean NLL of the run: interleaved rotation {interleaved:.3f}, rotate-half {half:.3f}")
    assert interleaved < half - 1.0, "the interleaved rotation is not clearly the model's"
    positions = [0, len(prompt) // 2, len(prompt) - 1, len(ids) - 1]
    spread = [(7 + 1531 * j) % p["vocab"] for j in range(N_KEEP // 2)]
    with open("tests/golden/smollm2_logits.bin", "wb") as out:
        out.write(struct.pack("<4I", len(prompt), N_GREEDY, len(positions), N_KEEP))
        out.write(struct.pack(f"<{len(ids)}I", *ids))
        out.write(struct.pack(f"<{N_GREEDY}f", *margins))
        for pos in positions:
            row = logits[pos]
            keep = [int(i) for i in row.topk(N_KEEP // 2).indices] + spread
            out.write(struct.pack(f"<I{N_KEEP}I{N_KEEP}f", pos, *keep, *[row[i].item() for i in keep]))


if __name__ == "__main__":
    main()
