#!/usr/bin/python3
"""Independent PyTorch reference for hwadapt's Llama inference and tokenizer.

Reads stories260K (llama2.c checkpoint + tokenizer) and llama-2-tiny-random.gguf
(its weights, parsed here from the GGUF format, and its 32000-token vocabulary)
from ../shared/data, and writes the
golden files the C tests compare against without PyTorch:

  tests/golden/stories260K_logits.f32  logits [64, 512] (little-endian f32) of a
                                        64-position run: the fixed prompt, then
                                        greedy tokens
  tests/golden/llama_golden.h           the prompt, the 65 token ids of that run,
                                        and tokenizer cases (text -> ids) for
                                        both vocabularies
  tests/golden/llama_tiny_golden.h      llama-2-tiny-random.gguf (F16 matrices)
                                        in float64 on an 8-token prompt: logits
                                        at 1000 sampled ids and the 16 largest
                                        of each position, and each row's sum

Run from the repository root with Debian's python3 (python3-torch 1.13, numpy):
  /usr/bin/python3 tests/reference/llama_reference.py [DATA_DIR]

The model is written here from the architecture's definition (RMSNorm,
interleaved rotary embedding, grouped-query causal attention, SwiGLU), not
from hwadapt's code.
"""
import os
import struct
import sys

import numpy as np
import torch

PROMPT = "Once upon a time"
N_POS = 64
TOKENIZER_CASES_512 = [PROMPT, "", "Lily saw a big dog. \"Hello!\" she said."]
TOKENIZER_CASES_32000 = [
    "Hello world",
    "I believe the meaning of life is",
    "The caf\u00e9's cr\u00e8me br\u00fbl\u00e9e costs \u20ac5 \u2014 na\u00efve? Yes!\n"
    "\u65e5\u672c\u8a9e, \u0645\u0631\u062d\u0628\u0627, and \U0001f642 (emoji).",
]
TINY_PROMPT = "I believe the meaning of life is"
TINY_N_POS = 8
TINY_N_SAMPLE = 1000
TINY_N_TOP = 16


# ---- tokenizer: SentencePiece-style BPE, written from its description ----

class Tokenizer:
    def __init__(self, pieces, scores, kinds, bos=1, eos=2, unk=0):
        # pieces: list of bytes; "\u2581" (SentencePiece's space) becomes b" ".
        self.pieces = [p.replace("\u2581".encode(), b" ") for p in pieces]
        self.scores = scores
        self.kinds = kinds  # 1 normal, 2 unknown, 3 control, 6 byte (GGUF's numbering)
        self.bos, self.eos, self.unk = bos, eos, unk
        self.lookup = {}
        for i, p in enumerate(self.pieces):
            if kinds[i] in (1, 4) and p and p not in self.lookup:
                self.lookup[p] = i
        self.byte_ids = {}
        for i, p in enumerate(pieces):
            if kinds[i] == 6 and len(p) == 6 and p.startswith(b"<0x") and p.endswith(b">"):
                self.byte_ids.setdefault(int(p[3:5], 16), i)

    def encode(self, text, bos=True):
        ids = [self.bos] if bos else []
        data = text.encode("utf-8")
        chars = []
        if data:
            chars.append(" ")
        chars.extend(text)
        for ch in chars:
            b = ch.encode("utf-8")
            if b in self.lookup:
                ids.append(self.lookup[b])
            else:
                ids.extend(self.byte_ids.get(x, self.unk) for x in b)
        start = 1 if bos else 0
        mergeable = lambda i: self.kinds[i] in (1, 4)
        while True:
            best, best_at = None, -1
            for i in range(start, len(ids) - 1):
                a, c = ids[i], ids[i + 1]
                if not (mergeable(a) and mergeable(c)):
                    continue
                j = self.lookup.get(self.pieces[a] + self.pieces[c])
                if j is not None and (best is None or self.scores[j] > self.scores[best]):
                    best, best_at = j, i
            if best is None:
                return ids
            ids[best_at:best_at + 2] = [best]


def load_llama2c_tokenizer(path, n):
    with open(path, "rb") as f:
        data = f.read()
    off = 4
    pieces, scores = [], []
    for _ in range(n):
        score, length = struct.unpack_from("<fi", data, off)
        off += 8
        pieces.append(data[off:off + length])
        off += length
        scores.append(score)
    kinds = []
    for i, p in enumerate(pieces):
        if i in (1, 2):
            kinds.append(3)
        elif i == 0:
            kinds.append(2)
        elif len(p) == 6 and p.startswith(b"<0x") and p.endswith(b">"):
            kinds.append(6)
        else:
            kinds.append(1)
    return Tokenizer(pieces, scores, kinds)


GGUF_TYPES = {0: ("<f4", 1), 1: ("<f2", 1)}  # ggml type -> (numpy dtype, values per element); F32, F16


def read_gguf(path):
    """The key-values and the F32/F16 tensors of a GGUF file (v2/v3), from the
    format's definition: header, key-values, tensor infos (dims[0] varies
    fastest), then the data section at the next multiple of general.alignment
    (default 32), with each tensor's offset relative to it."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b"GGUF"
    version, n_tensors, n_kv = struct.unpack_from("<IQQ", data, 4)
    assert version in (2, 3), version
    off = 24
    scalar = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}

    def read_str(o):
        (n,) = struct.unpack_from("<Q", data, o)
        return data[o + 8:o + 8 + n], o + 8 + n

    def read_val(t, o):
        if t in scalar:
            (v,) = struct.unpack_from(scalar[t], data, o)
            return v, o + struct.calcsize(scalar[t])
        if t == 8:
            return read_str(o)
        assert t == 9
        et, n = struct.unpack_from("<IQ", data, o)
        o += 12
        out = []
        for _ in range(n):
            v, o = read_val(et, o)
            out.append(v)
        return out, o

    kv = {}
    for _ in range(n_kv):
        key, off = read_str(off)
        (t,) = struct.unpack_from("<I", data, off)
        kv[key.decode()], off = read_val(t, off + 4)
    infos = []
    for _ in range(n_tensors):
        name, off = read_str(off)
        (nd,) = struct.unpack_from("<I", data, off)
        dims = struct.unpack_from("<%dQ" % nd, data, off + 4)
        ttype, toff = struct.unpack_from("<IQ", data, off + 4 + 8 * nd)
        off += 4 + 8 * nd + 12
        infos.append((name.decode(), dims, ttype, toff))
    align = kv.get("general.alignment", 32)
    base = (off + align - 1) // align * align
    tensors = {}
    for name, dims, ttype, toff in infos:
        if ttype not in GGUF_TYPES:
            continue
        n = int(np.prod(dims))
        a = np.frombuffer(data, dtype=GGUF_TYPES[ttype][0], count=n, offset=base + toff)
        # dims[0] is the fastest-varying: row-major shape is the reverse.
        tensors[name] = a.reshape(tuple(reversed(dims)))
    return kv, tensors


def read_gguf_kv(path):
    """The key-values of a GGUF file (v2/v3), enough for its tokenizer."""
    return read_gguf(path)[0]


def load_gguf_tokenizer(path):
    kv = read_gguf_kv(path)
    return Tokenizer(kv["tokenizer.ggml.tokens"], kv["tokenizer.ggml.scores"], kv["tokenizer.ggml.token_type"],
                     kv.get("tokenizer.ggml.bos_token_id", 1), kv.get("tokenizer.ggml.eos_token_id", 2),
                     kv.get("tokenizer.ggml.unknown_token_id", 0))


# ---- model ----

def load_llama2c(path):
    raw = np.fromfile(path, dtype=np.uint8)
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = struct.unpack_from("<7i", raw.tobytes()[:28])
    shared = vocab > 0
    vocab = abs(vocab)
    w = torch.from_numpy(raw[28:].view(np.float32).copy())
    hs = dim // n_heads
    kv_dim = hs * n_kv
    off = 0

    def take(*shape):
        nonlocal off
        n = int(np.prod(shape))
        t = w[off:off + n].reshape(*shape)
        off += n
        return t

    p = dict(dim=dim, n_layers=n_layers, n_heads=n_heads, n_kv=n_kv, vocab=vocab, seq_len=seq_len)
    p["emb"] = take(vocab, dim)
    p["att_norm"] = take(n_layers, dim)
    p["wq"] = take(n_layers, dim, dim)
    p["wk"] = take(n_layers, kv_dim, dim)
    p["wv"] = take(n_layers, kv_dim, dim)
    p["wo"] = take(n_layers, dim, dim)
    p["ffn_norm"] = take(n_layers, dim)
    p["w1"] = take(n_layers, hidden, dim)
    p["w2"] = take(n_layers, dim, hidden)
    p["w3"] = take(n_layers, hidden, dim)
    p["out_norm"] = take(dim)
    take(seq_len, hs // 2)
    take(seq_len, hs // 2)
    p["cls"] = p["emb"] if shared else take(vocab, dim)
    return p


def load_llama_gguf(path):
    """A Llama GGUF (F32/F16 tensors) as float64 parameters in forward()'s
    layout. A GGUF matrix with dims [in, out] (dims[0] fastest) is the
    row-major [out, in] matrix that multiplies as x @ W.T, as PyTorch's
    Linear. The "llama" architecture of GGUF rotates adjacent pairs (2i, 2i+1)
    of each head (llama.cpp's converter permutes Hugging Face's q/k rows so
    that this holds), which is what rope() does: the matrices are used as
    stored."""
    kv, t = read_gguf(path)
    assert kv["general.architecture"] == b"llama"
    f64 = lambda name: torch.from_numpy(t[name].astype(np.float64))
    L = kv["llama.block_count"]
    dim, H = kv["llama.embedding_length"], kv["llama.attention.head_count"]
    assert kv.get("llama.rope.dimension_count", dim // H) == dim // H
    p = dict(dim=dim, n_layers=L, n_heads=H, n_kv=kv.get("llama.attention.head_count_kv", H),
             eps=kv.get("llama.attention.layer_norm_rms_epsilon", 1e-5), theta=kv.get("llama.rope.freq_base", 10000.0))
    p["emb"] = f64("token_embd.weight")
    p["vocab"] = p["emb"].shape[0]
    p["out_norm"] = f64("output_norm.weight")
    p["cls"] = f64("output.weight") if "output.weight" in t else p["emb"]
    names = dict(att_norm="attn_norm", wq="attn_q", wk="attn_k", wv="attn_v", wo="attn_output", ffn_norm="ffn_norm",
                 w1="ffn_gate", w2="ffn_down", w3="ffn_up")
    for key, gname in names.items():
        p[key] = torch.stack([f64("blk.%d.%s.weight" % (l, gname)) for l in range(L)])
    return p


def rmsnorm(x, w, eps=1e-5):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope(x, theta=10000.0):
    # x: [T, H, D]; pairs (2i, 2i+1) at position t rotate by t * theta^(-2i/D).
    T, _, D = x.shape
    freqs = theta ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)
    ang = torch.outer(torch.arange(T, dtype=torch.float64), freqs)
    ctype = torch.complex128 if x.dtype == torch.float64 else torch.complex64
    rot = torch.polar(torch.ones_like(ang), ang).to(ctype)[:, None, :]
    xc = torch.view_as_complex(x.reshape(T, x.shape[1], D // 2, 2).contiguous())
    return torch.view_as_real(xc * rot).reshape(x.shape)


def forward(p, tokens):
    """Logits [T, vocab] for the whole sequence, causal."""
    T = len(tokens)
    H, KV, dim = p["n_heads"], p["n_kv"], p["dim"]
    hs = dim // H
    eps, theta = p.get("eps", 1e-5), p.get("theta", 10000.0)
    x = p["emb"][torch.tensor(tokens)]
    mask = torch.full((T, T), float("-inf"), dtype=x.dtype).triu(1)
    for l in range(p["n_layers"]):
        h = rmsnorm(x, p["att_norm"][l], eps)
        q = rope((h @ p["wq"][l].T).view(T, H, hs), theta)
        k = rope((h @ p["wk"][l].T).view(T, KV, hs), theta)
        v = (h @ p["wv"][l].T).view(T, KV, hs)
        k = k.repeat_interleave(H // KV, dim=1)
        v = v.repeat_interleave(H // KV, dim=1)
        att = torch.einsum("thd,shd->hts", q, k) / (hs ** 0.5) + mask
        o = torch.einsum("hts,shd->thd", att.softmax(-1), v).reshape(T, dim)
        x = x + o @ p["wo"][l].T
        h = rmsnorm(x, p["ffn_norm"][l], eps)
        x = x + (torch.nn.functional.silu(h @ p["w1"][l].T) * (h @ p["w3"][l].T)) @ p["w2"][l].T
    return rmsnorm(x, p["out_norm"], eps) @ p["cls"].T


def c_string(s):
    out = []
    for b in s.encode("utf-8"):
        if b in (0x22, 0x5C):
            out.append("\\" + chr(b))
        elif 0x20 <= b < 0x7F and b != 0x3F:  # keep '?' escaped: no trigraphs
            out.append(chr(b))
        else:
            out.append("\\%03o" % b)
    return '"' + "".join(out) + '"'


def c_ints(v):
    return "{" + ", ".join(str(i) for i in v) + "}" if v else "{0}"


def write_tiny_golden(path, tok, out_path):
    """llama-2-tiny-random (F16 matrices, F32 norms) on TINY_PROMPT in float64.
    The whole logits ([8, 32000], 1 MB as f32) are too big to keep: per row,
    the values at TINY_N_SAMPLE ids spread evenly over the vocabulary, and at
    the row's TINY_N_TOP largest logits; and the row's sum over the vocabulary
    and its two largest values (the argmax's margin)."""
    p = load_llama_gguf(path)
    ids = tok.encode(TINY_PROMPT)
    assert len(ids) == TINY_N_POS, ids
    with torch.no_grad():
        logits = forward(p, ids).numpy()
    assert logits.dtype == np.float64
    V = logits.shape[1]
    stride = V // TINY_N_SAMPLE
    sample = [i * stride + (i * 7) % stride for i in range(TINY_N_SAMPLE)]
    lines = [
        "/* Generated by tests/reference/llama_reference.py (PyTorch %s, float64); do not edit. */" % torch.__version__,
        "#ifndef HWA_LLAMA_TINY_GOLDEN_H", "#define HWA_LLAMA_TINY_GOLDEN_H", "#include <stdint.h>", "",
        "/* llama-2-tiny-random.gguf on %s: the token ids (BOS first) and," % c_string(TINY_PROMPT).replace("*/", "* /"),
        " * per position, the reference's logits at a sample of ids. */",
        "#define TINY_N_POS %d" % TINY_N_POS,
        "#define TINY_VOCAB %d" % V,
        "#define TINY_N_SAMPLE %d /* ids i * %d + (7 i mod %d), the same for every row */" % (TINY_N_SAMPLE, stride,
                                                                                            stride),
        "#define TINY_N_TOP %d /* the row's largest logits, largest first */" % TINY_N_TOP,
        "static const int32_t tiny_tokens[TINY_N_POS] = %s;" % c_ints(ids),
        "static const int32_t tiny_sample_ids[TINY_N_SAMPLE] = %s;" % c_ints(sample),
        "typedef struct tiny_row {",
        "    double sample[TINY_N_SAMPLE];  /* logits at tiny_sample_ids */",
        "    int32_t top_ids[TINY_N_TOP];",
        "    double top[TINY_N_TOP];",
        "    double sum;                    /* over the whole vocabulary */",
        "} tiny_row;",
        "static const tiny_row tiny_rows[TINY_N_POS] = {",
    ]
    f = lambda v: "{" + ", ".join("%.12g" % x for x in v) + "}"
    for row in logits:
        top = np.argsort(-row, kind="stable")[:TINY_N_TOP]
        lines.append("    {%s,\n     %s,\n     %s,\n     %.12g}," % (f(row[sample]), c_ints(top.tolist()), f(row[top]),
                                                               float(row.sum())))
    lines += ["};", "", "#endif", ""]
    with open(out_path, "w") as fh:
        fh.write("\n".join(lines))


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "..", "shared", "data")
    out_dir = os.path.join(root, "tests", "golden")
    os.makedirs(out_dir, exist_ok=True)

    p = load_llama2c(os.path.join(data, "stories260K", "stories260K.bin"))
    tok512 = load_llama2c_tokenizer(os.path.join(data, "stories260K", "tok512.bin"), p["vocab"])
    tok32k = load_gguf_tokenizer(os.path.join(data, "llama-2-tiny-random", "llama-2-tiny-random.gguf"))

    tokens = tok512.encode(PROMPT)
    n_prompt = len(tokens)
    with torch.no_grad():
        while len(tokens) < N_POS + 1:
            logits = forward(p, tokens)
            tokens.append(int(logits[-1].argmax()))
        logits = forward(p, tokens[:N_POS])
    assert all(t not in (1, 2) for t in tokens[n_prompt:]), "the greedy run stopped early"
    logits.numpy().astype("<f4").tofile(os.path.join(out_dir, "stories260K_logits.f32"))

    lines = [
        "/* Generated by tests/reference/llama_reference.py (PyTorch %s); do not edit. */" % torch.__version__,
        "#ifndef HWA_LLAMA_GOLDEN_H", "#define HWA_LLAMA_GOLDEN_H", "#include <stdint.h>", "",
        "/* stories260K: BOS + the prompt, then greedy tokens; token i is the input at",
        " * position i, logits row i (stories260K_logits.f32) its output. */",
        "#define GOLDEN_PROMPT %s" % c_string(PROMPT),
        "#define GOLDEN_N_PROMPT %d" % n_prompt,
        "#define GOLDEN_N_POS %d" % N_POS,
        "#define GOLDEN_VOCAB %d" % p["vocab"],
        "static const int32_t golden_tokens[%d] = %s;" % (len(tokens), c_ints(tokens)), "",
        "typedef struct golden_encoding { const char *text; int32_t n; int32_t ids[64]; } golden_encoding;",
    ]
    for name, tok, cases in (("golden_enc_512", tok512, TOKENIZER_CASES_512),
                             ("golden_enc_32000", tok32k, TOKENIZER_CASES_32000)):
        lines.append("static const golden_encoding %s[] = {" % name)
        for text in cases:
            ids = tok.encode(text)
            assert len(ids) <= 64
            lines.append("    {%s, %d, %s}," % (c_string(text), len(ids), c_ints(ids)))
        lines.append("};")
    lines += ["", "#endif", ""]
    with open(os.path.join(out_dir, "llama_golden.h"), "w") as f:
        f.write("\n".join(lines))
    write_tiny_golden(os.path.join(data, "llama-2-tiny-random", "llama-2-tiny-random.gguf"), tok32k,
                      os.path.join(out_dir, "llama_tiny_golden.h"))
    print("prompt tokens:", tokens[:n_prompt])
    print("greedy text:", b"".join(tok512.pieces[t] for t in tokens[1:]).decode("utf-8", "replace"))
    for text in TOKENIZER_CASES_32000:
        print(repr(text), "->", tok32k.encode(text))


if __name__ == "__main__":
    main()
