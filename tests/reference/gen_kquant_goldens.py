#!/usr/bin/python3
"""Writes tests/golden/kquant_golden.h: Q4_1 blocks quantized and decoded,
and Q4_K and Q6_K blocks decoded, by gguf-py (the `gguf` package on PyPI,
the GGUF format's own Python implementation, maintained with llama.cpp), for
tests/test_core_kquant.c. An independent implementation: hwadapt's codecs
are C written from the formats' definitions; these are NumPy written by the
format's authors. gguf-py does not encode the K-quants; their encoders are
restated below (see "K-quant encoders") from ggml's reference quantizers and
their blocks decoded by gguf-py.

Run from the repository root with Debian's python3-numpy:

    /usr/bin/python3 tests/reference/gen_kquant_goldens.py

It installs gguf==0.19.0 (pure Python) with pip into
${XDG_CACHE_HOME:-~/.cache}/hwadapt-reference/gguf-0.19.0 when it is not
there yet.

What is compared:
  Q4_1: random float blocks quantized (gguf-py's quantizer is ggml's
        reference one: d = (max - min) / 15, q = trunc((x - min) / d + 0.5)
        capped at 15, d and min stored as f16), the bytes and the decoded
        floats; and random byte blocks decoded.
  Q4_K, Q6_K: random byte blocks (scale fields set to finite f16 values)
        decoded; and float blocks (random, edge cases, and 256-value pieces
        of stories260K's token embeddings when ../shared/data has it)
        encoded by the restatement below, the bytes, and their decoding by
        gguf-py.

K-quant encoders: ggml's reference quantizers (quantize_row_q4_K_ref,
quantize_row_q6_K_ref: what llama.cpp writes without an importance matrix).
The format fixes only the decoding, and ggml's own results depend on its
build (a compiler may fuse a multiply and an add); this restatement rounds
every operation to float32 in the order written, products left to right,
and hwadapt's C does the same, so the two agree bit for bit.
  Q4_K, per 32-value sub-block: weights w = sqrt(mean x^2) + |x|; a fit of
    a scale and a min <= 0 over levels 0..15 (the range's own scale, then 21
    trial scales (nmax - 1 + 0.1 k) / range, each solved by weighted least
    squares, kept when its weighted squared error is lower); the eight
    scales and mins quantized to 6 bits against the largest (d = max/63,
    dmin = maxmin/63, as f16); the values quantized again with the stored
    scales (a sub-block whose stored scale is 0 keeps the fit's levels).
  Q6_K, per 16-value sub-block: a signed scale over levels -32..31 weighted
    by x^2 (the scale -32/max, then 18 trials -(32 + 0.1 k)/max, k = -9..9,
    kept when they raise sum(wxl)^2/sum(wl^2)); the sixteen scales as int8
    against the largest in magnitude (d = -max/128 as f16); the values
    quantized again with the stored scales; an all-zero block (every scale
    below 1e-15) is all zero bytes.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_py  # noqa: E402,F401  (gguf-py on sys.path, installed when absent)

import numpy as np  # noqa: E402
from gguf import quants  # noqa: E402
from gguf.constants import GGMLQuantizationType as T  # noqa: E402

rng = np.random.default_rng(20261205)
F = np.float32


def nearest_int(v):
    t = np.array([F(v) + F(12582912.0)], dtype=np.float32)
    return int(t.view(np.uint32)[0] & 0x007FFFFF) - 0x00400000


def clamp(v, lo, hi):
    return lo if v < lo else hi if v > hi else v


def f16(v):
    """float32 -> f16 (round to nearest even) -> float32, and its 2 bytes."""
    h = np.array([F(v)], dtype=np.float32).astype(np.float16)
    return F(h[0]), h.view(np.uint8).tobytes()


def fit_scale_min(x, w, nmax):
    n = len(x)
    mn, mx = F(x[0]), F(x[0])
    sum_w = F(w[0])
    sum_x = F(sum_w * F(x[0]))
    for i in range(1, n):
        if x[i] < mn:
            mn = F(x[i])
        if x[i] > mx:
            mx = F(x[i])
        sum_w = F(sum_w + w[i])
        sum_x = F(sum_x + F(w[i] * x[i]))
    if mn > 0:
        mn = F(0)
    if mx == mn:
        return F(0), -mn, [0] * n
    rng_ = F(mx - mn)
    iscale = F(F(nmax) / rng_)
    scale = F(F(1) / iscale)
    L = [clamp(nearest_int(F(iscale * F(x[i] - mn))), 0, nmax) for i in range(n)]
    best = F(0)
    for i in range(n):
        diff = F(F(F(scale * F(L[i])) + mn) - x[i])
        best = F(best + F(w[i] * F(diff * diff)))
    for k in range(21):
        iscale = F(F(F(F(-1.0) + F(F(0.1) * F(k))) + F(nmax)) / rng_)
        sum_l = sum_l2 = sum_xl = F(0)
        aux = []
        for i in range(n):
            l_ = clamp(nearest_int(F(iscale * F(x[i] - mn))), 0, nmax)
            aux.append(l_)
            wl = F(w[i] * F(l_))
            sum_l = F(sum_l + wl)
            sum_l2 = F(sum_l2 + F(wl * F(l_)))
            sum_xl = F(sum_xl + F(wl * x[i]))
        D = F(F(sum_w * sum_l2) - F(sum_l * sum_l))
        if D > 0:
            this_scale = F(F(F(sum_w * sum_xl) - F(sum_x * sum_l)) / D)
            this_min = F(F(F(sum_l2 * sum_x) - F(sum_l * sum_xl)) / D)
            if this_min > 0:
                this_min = F(0)
                this_scale = F(sum_xl / sum_l2)
            mad = F(0)
            for i in range(n):
                diff = F(F(F(this_scale * F(aux[i])) + this_min) - x[i])
                mad = F(mad + F(w[i] * F(diff * diff)))
            if mad < best:
                L, best, scale, mn = aux, mad, this_scale, this_min
    return scale, F(-mn), L


def scale_min_k4(j, s):
    if j < 4:
        return s[j] & 63, s[j + 4] & 63
    return (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4)


def encode_q4_k(x):
    x = [F(v) for v in x]
    L = [0] * 256
    scales, mins = [F(0)] * 8, [F(0)] * 8
    max_scale = max_min = F(0)
    for j in range(8):
        xs = x[32 * j:32 * j + 32]
        sum_x2 = F(0)
        for v in xs:
            sum_x2 = F(sum_x2 + F(v * v))
        av_x = F(np.sqrt(F(sum_x2 / F(32))))
        w = [F(av_x + F(abs(v))) for v in xs]
        scales[j], mins[j], L[32 * j:32 * j + 32] = fit_scale_min(xs, w, 15)
        if scales[j] > max_scale:
            max_scale = scales[j]
        if mins[j] > max_min:
            max_min = mins[j]
    inv_scale = F(F(63) / max_scale) if max_scale > 0 else F(0)
    inv_min = F(F(63) / max_min) if max_min > 0 else F(0)
    sc = [0] * 12
    for j in range(8):
        ls = min(63, nearest_int(F(inv_scale * scales[j])) & 0xFF)
        lm = min(63, nearest_int(F(inv_min * mins[j])) & 0xFF)
        if j < 4:
            sc[j], sc[j + 4] = ls, lm
        else:
            sc[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4)
            sc[j - 4] |= (ls >> 4) << 6
            sc[j] |= (lm >> 4) << 6
    d, d_bytes = f16(F(max_scale / F(63)))
    dmin, dmin_bytes = f16(F(max_min / F(63)))
    for j in range(8):
        s6, m6 = scale_min_k4(j, sc)
        dl = F(d * F(s6))
        if dl == 0:
            continue
        ml = F(dmin * F(m6))
        for i in range(32):
            L[32 * j + i] = clamp(nearest_int(F(F(x[32 * j + i] + ml) / dl)), 0, 15)
    q = bytearray(128)
    for c in range(4):
        for l_ in range(32):
            q[32 * c + l_] = L[64 * c + l_] | (L[64 * c + 32 + l_] << 4)
    return d_bytes + dmin_bytes + bytes(sc) + bytes(q)


def fit_scale_signed(x):
    n, nmax = 16, 32
    mx, amax = F(0), F(0)
    for v in x:
        if abs(v) > amax:
            amax, mx = F(abs(v)), F(v)
    if amax < F(1e-15):
        return F(0), [0] * n
    iscale = F(F(-nmax) / mx)
    sumlx = suml2 = F(0)
    L = []
    for v in x:
        l_ = clamp(nearest_int(F(iscale * v)), -nmax, nmax - 1)
        L.append(l_ + nmax)
        w = F(v * v)
        sumlx = F(sumlx + F(F(w * v) * F(l_)))
        suml2 = F(suml2 + F(F(w * F(l_)) * F(l_)))
    scale = F(sumlx / suml2) if suml2 != 0 else F(0)
    best = F(scale * sumlx)
    for k in range(-9, 10):
        if k == 0:
            continue
        iscale = F(F(-F(F(nmax) + F(F(0.1) * F(k)))) / mx)
        sumlx = suml2 = F(0)
        for v in x:
            l_ = clamp(nearest_int(F(iscale * v)), -nmax, nmax - 1)
            w = F(v * v)
            sumlx = F(sumlx + F(F(w * v) * F(l_)))
            suml2 = F(suml2 + F(F(w * F(l_)) * F(l_)))
        if suml2 > 0 and F(sumlx * sumlx) > F(best * suml2):
            L = [nmax + clamp(nearest_int(F(iscale * v)), -nmax, nmax - 1) for v in x]
            scale = F(sumlx / suml2)
            best = F(scale * sumlx)
    return scale, L


def encode_q6_k(x):
    x = [F(v) for v in x]
    L = [0] * 256
    scales = [F(0)] * 16
    max_scale = max_abs = F(0)
    for ib in range(16):
        scales[ib], L[16 * ib:16 * ib + 16] = fit_scale_signed(x[16 * ib:16 * ib + 16])
        if abs(scales[ib]) > max_abs:
            max_abs, max_scale = F(abs(scales[ib])), scales[ib]
    if max_abs < F(1e-15):
        return bytes(210)
    iscale = F(F(-128) / max_scale)
    d, d_bytes = f16(F(F(1) / iscale))
    sc = [min(127, nearest_int(F(iscale * s))) for s in scales]
    for j in range(16):
        dl = F(d * F(sc[j]))
        if dl == 0:
            continue
        for i in range(16):
            L[16 * j + i] = clamp(nearest_int(F(x[16 * j + i] / dl)), -32, 31) + 32
    ql, qh = bytearray(128), bytearray(64)
    for h in range(2):
        Lh = L[128 * h:128 * h + 128]
        for l_ in range(32):
            ql[64 * h + l_] = (Lh[l_] & 0xF) | ((Lh[l_ + 64] & 0xF) << 4)
            ql[64 * h + l_ + 32] = (Lh[l_ + 32] & 0xF) | ((Lh[l_ + 96] & 0xF) << 4)
            qh[32 * h + l_] = (Lh[l_] >> 4) | ((Lh[l_ + 32] >> 4) << 2) | ((Lh[l_ + 64] >> 4) << 4) | ((Lh[l_ + 96] >> 4) << 6)
    return bytes(ql) + bytes(qh) + bytes(np.array(sc, dtype=np.int8).view(np.uint8)) + d_bytes


def f32_blocks(n, size):
    """Varied blocks: normal values at several scales, a constant block, an
    all-negative one, a zero one, tiny values, one large outlier."""
    x = rng.standard_normal((n, size)).astype(np.float32)
    scales = np.float32(10.0) ** rng.uniform(-4, 2, size=(n, 1)).astype(np.float32)
    x = (x * scales).astype(np.float32)
    x[0, :] = np.float32(0.75)
    x[1, :] = -np.abs(x[1, :]) - np.float32(1.0)
    x[2, :] = np.float32(0.0)
    x[3, :] *= np.float32(1e-6)
    x[4, 7] = np.float32(300.0)
    return x


def random_bytes(n, nbytes, f16_fields):
    """Random blocks whose f16 fields (byte offsets) hold finite values."""
    b = rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8)
    for off in f16_fields:
        v = (rng.standard_normal(n) * np.float32(10.0) ** rng.uniform(-5, 1, size=n)).astype(np.float16)
        b[:, off:off + 2] = v.view(np.uint8).reshape(n, 2)
    return b


def c_bytes(name, a):
    a = a.reshape(-1)
    rows = [", ".join(str(int(v)) for v in a[i:i + 24]) for i in range(0, len(a), 24)]
    return f"static const uint8_t {name}[{len(a)}] = {{\n    " + ",\n    ".join(rows) + "\n};\n"


def c_floats(name, a):
    a = a.reshape(-1).astype(np.float32)
    bits = a.view(np.uint32)
    rows = [", ".join(f"0x{int(v):08x}u" for v in bits[i:i + 8]) for i in range(0, len(bits), 8)]
    return f"/* as f32 bit patterns */\nstatic const uint32_t {name}[{len(a)}] = {{\n    " + ",\n    ".join(rows) + "\n};\n"


out = ["/* Generated by tests/reference/gen_kquant_goldens.py with gguf-py " + gguf_py.VERSION + " and NumPy "
       + np.__version__ + "; do not edit. */\n#include <stdint.h>\n"]

nq41 = 24
x41 = f32_blocks(nq41, 32)
q41 = quants.quantize(x41, T.Q4_1)
d41 = quants.dequantize(q41, T.Q4_1)
out.append(f"enum {{ GOLD_Q41_BLOCKS = {nq41} }};\n")
out.append(c_floats("gold_q41_in", x41))
out.append(c_bytes("gold_q41_bytes", q41))
out.append(c_floats("gold_q41_out", d41))
r41 = random_bytes(8, 20, [0, 2])
out.append(c_bytes("gold_q41_rand", r41))
out.append(c_floats("gold_q41_rand_out", quants.dequantize(r41, T.Q4_1)))

nk = 6
r4k = random_bytes(nk, 144, [0, 2])
r6k = random_bytes(nk, 210, [208])
out.append(f"enum {{ GOLD_K_BLOCKS = {nk} }};\n")
out.append(c_bytes("gold_q4k_rand", r4k))
out.append(c_floats("gold_q4k_out", quants.dequantize(r4k, T.Q4_K)))
out.append(c_bytes("gold_q6k_rand", r6k))
out.append(c_floats("gold_q6k_out", quants.dequantize(r6k, T.Q6_K)))

# K-quant encoding: random and edge-case blocks, and stories260K's embeddings
kin = f32_blocks(6, 256)
kin[5, :] = np.float32(0.0)
kin[5, 3] = np.float32(1e-20)  # below Q6_K's 1e-15 threshold: all zero
stories = os.path.join("..", "shared", "data", "stories260K", "stories260K.bin")
if os.path.exists(stories):
    raw = np.fromfile(stories, dtype=np.float32, offset=28, count=4 * 256)
    kin = np.concatenate([kin, raw.reshape(4, 256)])
    out.append("/* blocks 6 to 9: the first 1024 values of stories260K.bin's token embeddings */\n")
else:
    print("note: no stories260K.bin; random blocks only", file=sys.stderr)
nke = kin.shape[0]
e4 = np.frombuffer(b"".join(encode_q4_k(b) for b in kin), dtype=np.uint8).reshape(nke, 144)
e6 = np.frombuffer(b"".join(encode_q6_k(b) for b in kin), dtype=np.uint8).reshape(nke, 210)
out.append(f"enum {{ GOLD_KENC_BLOCKS = {nke} }};\n")
out.append(c_floats("gold_kenc_in", kin))
out.append(c_bytes("gold_q4k_enc", e4))
out.append(c_floats("gold_q4k_enc_out", quants.dequantize(e4, T.Q4_K)))
out.append(c_bytes("gold_q6k_enc", e6))
out.append(c_floats("gold_q6k_enc_out", quants.dequantize(e6, T.Q6_K)))
err4 = np.abs(quants.dequantize(e4, T.Q4_K) - kin).max(axis=1) / (np.abs(kin).max(axis=1) + 1e-30)
err6 = np.abs(quants.dequantize(e6, T.Q6_K) - kin).max(axis=1) / (np.abs(kin).max(axis=1) + 1e-30)
print("error / block max per block: q4_k", np.round(err4, 4), "q6_k", np.round(err6, 4), file=sys.stderr)

path = os.path.join("tests", "golden", "kquant_golden.h")
with open(path, "w") as f:
    f.write("\n".join(out))
print(f"wrote {path}")
