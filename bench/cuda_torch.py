#!/usr/bin/python3
"""The PyTorch side of bench/cuda.sh: the same work as hwadapt's rows, in eager
PyTorch on a CUDA device, printed as one JSON object per line on stdout.

usage: cuda_torch.py linear [--rounds N]
           nn.Linear(1000, 1000), f32, batch 64 (hwadapt's linear1000): the
           median latency of one forward pass, each one waited for
           (torch.cuda.synchronize), after a warm-up. TF32 is off, as hwadapt's
           f32 products are exact f32.
       cuda_torch.py decode CKPT [--dtype bf16] [--steps N]
           a minimal Llama forward (llama2.c's run.c, in torch ops) on the
           weights of the llama2.c checkpoint CKPT: decode steps of one token
           from position 0 on, each waited for; tokens/s from the median step.
       cuda_torch.py greedy CKPT TOKENIZER [--steps N] [--device cuda|cpu] [--dtype f32]
           the greedy text from BOS, as `hwadapt generate CKPT --tokenizer
           TOKENIZER --temperature 0 --steps N` prints it: checks that the
           forward above is right.

Exit status: 0 done; 3 when torch cannot be imported or has no CUDA device
(the message on stderr says which); 1 on any other failure.
"""
import argparse
import json
import math
import struct
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as e:  # the caller skips the PyTorch column with this line
    print("cuda_torch: PyTorch or numpy is not importable here (%s)" % e, file=sys.stderr)
    sys.exit(3)


def need_cuda():
    if not torch.cuda.is_available():
        print("cuda_torch: torch %s has no CUDA device (torch.cuda.is_available() is False; built for CUDA %s)"
              % (torch.__version__, torch.version.cuda), file=sys.stderr)
        sys.exit(3)
    return torch.device("cuda:0")


def emit(obj):
    print(json.dumps(obj), flush=True)


# ---- linear1000 -------------------------------------------------------------------

def bench_linear(rounds):
    dev = need_cuda()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.manual_seed(0)
    lin = torch.nn.Linear(1000, 1000).to(dev)
    x = torch.rand(64, 1000, device=dev) * 2 - 1
    with torch.no_grad():
        # validate against a double product on the host before timing
        y = lin(x)
        ref = x.double().cpu() @ lin.weight.double().cpu().t() + lin.bias.double().cpu()
        err = (y.double().cpu() - ref).abs().max().item()
        if not err < 1e-3:
            raise SystemExit("cuda_torch: nn.Linear on cuda differs from a double product by %g" % err)
        for _ in range(50):
            lin(x)
        torch.cuda.synchronize()
        t = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            lin(x)
            torch.cuda.synchronize()
            t.append(time.perf_counter() - t0)
    t.sort()
    emit({"case": "linear1000", "impl": "pytorch", "device": torch.cuda.get_device_name(0), "torch": torch.__version__,
          "p50_ms": 1e3 * t[len(t) // 2], "min_ms": 1e3 * t[0], "max_abs_err": err, "iterations": rounds})


# ---- a llama2.c checkpoint ------------------------------------------------------------

class Llama:
    """The weights of a llama2.c checkpoint, as torch tensors of dtype on dev."""

    def __init__(self, path, dev, dtype):
        with open(path, "rb") as f:
            hdr = f.read(28)
        if len(hdr) != 28:
            raise SystemExit("cuda_torch: %s is shorter than a llama2.c header" % path)
        dim, hidden, L, H, Hkv, vocab, seq = struct.unpack("<7i", hdr)
        shared = vocab > 0
        vocab = abs(vocab)
        if min(dim, hidden, L, H, Hkv, vocab, seq) <= 0 or dim % H or H % Hkv:
            raise SystemExit("cuda_torch: %s: implausible config %s" % (path, (dim, hidden, L, H, Hkv, vocab, seq)))
        self.dim, self.hidden, self.L, self.H, self.Hkv, self.vocab, self.seq = dim, hidden, L, H, Hkv, vocab, seq
        hs = dim // H
        kv = hs * Hkv
        self.hs, self.kv = hs, kv
        raw = np.memmap(path, dtype="<f4", mode="r", offset=28)
        off = [0]

        def take(*shape):
            n = int(np.prod(shape))
            if off[0] + n > raw.size:
                raise SystemExit("cuda_torch: %s ends inside its weights" % path)
            a = raw[off[0]:off[0] + n].reshape(shape)
            off[0] += n
            return torch.from_numpy(np.array(a)).to(dev, dtype)  # a copy: the map is read-only

        self.emb = take(vocab, dim)
        self.rms_att = take(L, dim)
        self.wq = [take(dim, dim) for _ in range(L)]
        self.wk = [take(kv, dim) for _ in range(L)]
        self.wv = [take(kv, dim) for _ in range(L)]
        self.wo = [take(dim, dim) for _ in range(L)]
        self.rms_ffn = take(L, dim)
        self.w1 = [take(hidden, dim) for _ in range(L)]
        self.w2 = [take(dim, hidden) for _ in range(L)]
        self.w3 = [take(hidden, dim) for _ in range(L)]
        self.rms_final = take(dim)
        off[0] += seq * hs  # the unused freq_cis tables (real and imaginary halves)
        self.wcls = self.emb if shared else take(vocab, dim)
        self.dev, self.dtype = dev, dtype
        # RoPE as run.c: pairs (2i, 2i+1) of each head turned by pos / 10000^(2i / hs)
        freq = 1.0 / (10000.0 ** (torch.arange(0, hs, 2, dtype=torch.float64) / hs))
        ang = torch.arange(seq, dtype=torch.float64)[:, None] * freq[None, :]  # [seq, hs/2]
        self.cos = ang.cos().float().to(dev)
        self.sin = ang.sin().float().to(dev)
        self.reset()

    def reset(self):
        # the KV cache: [layer, position, kv heads * head size]
        self.kc = torch.zeros(self.L, self.seq, self.kv, device=self.dev, dtype=self.dtype)
        self.vc = torch.zeros(self.L, self.seq, self.kv, device=self.dev, dtype=self.dtype)

    def rmsnorm(self, x, w):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean() + 1e-5)).to(self.dtype) * w

    def rope(self, v, pos):
        # v: [n heads, hs]; rotates each (even, odd) pair in f32
        c, s = self.cos[pos], self.sin[pos]
        vf = v.float().view(v.shape[0], -1, 2)
        a, b = vf[..., 0], vf[..., 1]
        return torch.stack((a * c - b * s, a * s + b * c), dim=-1).view(v.shape).to(self.dtype)

    @torch.no_grad()
    def step(self, token, pos):
        """The logits [vocab] (f32) of token at position pos, its k and v cached."""
        H, Hkv, hs = self.H, self.Hkv, self.hs
        x = self.emb[token]
        for l in range(self.L):
            xb = self.rmsnorm(x, self.rms_att[l])
            q = self.rope(F.linear(xb, self.wq[l]).view(H, hs), pos)
            k = self.rope(F.linear(xb, self.wk[l]).view(Hkv, hs), pos)
            self.kc[l, pos] = k.reshape(-1)
            self.vc[l, pos] = F.linear(xb, self.wv[l])
            keys = self.kc[l, :pos + 1].view(pos + 1, Hkv, hs).transpose(0, 1)   # [Hkv, T, hs]
            vals = self.vc[l, :pos + 1].view(pos + 1, Hkv, hs).transpose(0, 1)   # [Hkv, T, hs]
            qg = q.view(Hkv, H // Hkv, hs)                                       # [Hkv, group, hs]
            att = torch.softmax((qg.float() @ keys.float().transpose(1, 2)) / math.sqrt(hs), dim=-1)
            o = (att @ vals.float()).to(self.dtype).reshape(-1)                  # [dim]
            x = x + F.linear(o, self.wo[l])
            xb = self.rmsnorm(x, self.rms_ffn[l])
            x = x + F.linear(F.silu(F.linear(xb, self.w1[l])) * F.linear(xb, self.w3[l]), self.w2[l])
        return F.linear(self.rmsnorm(x, self.rms_final), self.wcls).float()

    def weight_bytes_per_token(self):
        per = self.wq[0].numel() + self.wk[0].numel() + self.wv[0].numel() + self.wo[0].numel() + \
            self.w1[0].numel() + self.w2[0].numel() + self.w3[0].numel()
        return (per * self.L + self.wcls.numel()) * self.wcls.element_size()


DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}


def bench_decode(path, dtype, steps):
    dev = need_cuda()
    t_load = time.perf_counter()
    m = Llama(path, dev, DTYPES[dtype])
    torch.cuda.synchronize()
    t_load = time.perf_counter() - t_load
    steps = min(steps, m.seq)
    logits = m.step(1, 0)
    if not torch.isfinite(logits).all():
        raise SystemExit("cuda_torch: the first decode step gives non-finite logits")
    times, pos, tok = [], 1, 1
    for i in range(steps + 8):
        if pos == m.seq:
            m.reset()
            pos = 0
        t0 = time.perf_counter()
        m.step(tok, pos)
        torch.cuda.synchronize()
        if i >= 8:  # the first steps warm up
            times.append(time.perf_counter() - t0)
        pos += 1
        tok = (tok * 7 + 3) % m.vocab
    times.sort()
    med = times[len(times) // 2]
    emit({"case": "decode", "impl": "pytorch eager", "dtype": dtype, "device": torch.cuda.get_device_name(0),
          "torch": torch.__version__, "step_ms": 1e3 * med, "tokens_per_s": 1.0 / med, "steps": len(times),
          "weight_bytes_per_token": m.weight_bytes_per_token(), "load_s": t_load})


# ---- greedy text ----------------------------------------------------------------------

def read_tokenizer(path, vocab):
    pieces = []
    with open(path, "rb") as f:
        f.read(4)  # max token length
        for _ in range(vocab):
            f.read(4)  # score
            (n,) = struct.unpack("<i", f.read(4))
            pieces.append(f.read(n))
    return pieces


def piece_bytes(pieces, prev, tok):
    p = pieces[tok]
    if prev == 1 and p.startswith(b" "):  # run.c drops the space after BOS
        p = p[1:]
    if len(p) == 6 and p.startswith(b"<0x") and p.endswith(b">"):  # a raw byte token
        try:
            p = bytes([int(p[3:5], 16)])
        except ValueError:
            pass
    return p


def greedy(path, tok_path, steps, device, dtype):
    dev = need_cuda() if device == "cuda" else torch.device("cpu")
    torch.backends.cuda.matmul.allow_tf32 = False  # f32 products as hwadapt's: exact f32
    m = Llama(path, dev, DTYPES[dtype])
    pieces = read_tokenizer(tok_path, m.vocab)
    out, tok = b"", 1
    for pos in range(min(steps, m.seq)):
        nxt = int(torch.argmax(m.step(tok, pos)).item())
        if nxt == 1:  # BOS ends the text, as in run.c
            break
        out += piece_bytes(pieces, tok, nxt)
        tok = nxt
    sys.stdout.write(out.decode("utf-8", errors="replace") + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("linear")
    a.add_argument("--rounds", type=int, default=2000)
    a = sub.add_parser("decode")
    a.add_argument("ckpt")
    a.add_argument("--dtype", choices=sorted(DTYPES), default="bf16")
    a.add_argument("--steps", type=int, default=256)
    a = sub.add_parser("greedy")
    a.add_argument("ckpt")
    a.add_argument("tokenizer")
    a.add_argument("--steps", type=int, default=24)
    a.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    a.add_argument("--dtype", choices=sorted(DTYPES), default="f32")
    args = ap.parse_args()
    if args.cmd == "linear":
        bench_linear(max(args.rounds, 1))
    elif args.cmd == "decode":
        bench_decode(args.ckpt, args.dtype, max(args.steps, 1))
    else:
        greedy(args.ckpt, args.tokenizer, max(args.steps, 1), args.device, args.dtype)


if __name__ == "__main__":
    main()
