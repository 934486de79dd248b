#!/usr/bin/python3
"""Writes tests/golden/quant_golden.h: Q8_0 and Q4_0 blocks quantized and
dequantized by an implementation written from the formats' definitions, for
tests/test_core_quant.c.

Run from the repository root with Debian's python3-numpy:

    /usr/bin/python3 tests/reference/gen_quant_goldens.py

The block formats (DESIGN.md, "Formats"; GGUF's types 8 and 2):

  Q8_0: 32 values as {f16 d; int8 q[32]}, value = q * d.
  Q4_0: 32 values as {f16 d; u8 q[16]}; byte j holds element j in its low
        nibble and element j + 16 in its high nibble; value = (q - 8) * d.

How a block is quantized is not part of the file format; the definition here
is the one ggml documents as its reference quantizer ("for deterministic
creation of model files"), so that a file we write holds the bytes llama.cpp
would write for the same floats. Every step is in float32 arithmetic, as
there, and only the stored scale is rounded to f16 (round to nearest even):

  Q8_0: amax = max |x|;  d = amax / 127;  id = 1 / d (0 when d is 0);
        q = round(x * id), halves away from zero.
  Q4_0: m = the first element of largest magnitude, sign kept;  d = m / -8,
        so that m itself maps to q = 0 (value -8 d = m);  id = 1 / d (0 when
        d is 0);  q = min(15, floor(x * id + 8.5)), the sum rounded to
        float32 before the floor (so values within float32 rounding below a
        half round up, as the reference's do).

Dequantization multiplies the integer by the f16 scale widened to f32; the
product is exact in f32 (at most 8 + 11 significant bits).

The header also holds quantized matrix products: weights quantized as above,
f32 activations, and the float64 result of x @ dequant(W)^T, rounded to f32
when printed. (The embedding test looks rows up in the blocks above.)
"""
import os
import sys

import numpy as np

F32 = np.float32
RNG = np.random.RandomState(20240624)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "quant_golden.h")


# ---- the two block types, from their definitions ----------------------------

def f16_bits(d):
    return int(np.array([d], dtype=F32).astype(np.float16).view(np.uint16)[0])


def f16_value(bits):
    return F32(np.array([bits], dtype=np.uint16).view(np.float16)[0])


def quantize_q8_0(x):
    x = np.asarray(x, dtype=F32)
    assert x.shape == (32,)
    amax = F32(np.max(np.abs(x)))
    d = F32(amax / F32(127))
    inv = F32(F32(1) / d) if d != 0 else F32(0)
    v = (x * inv).astype(F32)  # float32 products
    # halves away from zero, exactly: |v| + 0.5 in float64 has no rounding
    q = (np.sign(v.astype(np.float64)) * np.floor(np.abs(v.astype(np.float64)) + 0.5)).astype(np.int64)
    assert np.all((q >= -127) & (q <= 127))
    h = f16_bits(d)
    return bytes([h & 0xFF, h >> 8]) + bytes(int(c) & 0xFF for c in q)


def quantize_q4_0(x):
    x = np.asarray(x, dtype=F32)
    assert x.shape == (32,)
    m = F32(0)
    for v in x:  # the first of the largest magnitude wins
        if abs(v) > abs(m):
            m = v
    d = F32(m / F32(-8))
    inv = F32(F32(1) / d) if d != 0 else F32(0)
    v = (x * inv).astype(F32)
    s = (v + F32(8.5)).astype(F32)  # rounded to float32 before the floor
    q = np.minimum(15, np.floor(s.astype(np.float64))).astype(np.int64)
    assert np.all(q >= 0)
    h = f16_bits(d)
    return bytes([h & 0xFF, h >> 8]) + bytes(int(q[j]) | (int(q[j + 16]) << 4) for j in range(16))


def dequantize(kind, blk):
    d = f16_value(blk[0] | (blk[1] << 8))
    if kind == "q8_0":
        q = np.array([c - 256 if c >= 128 else c for c in blk[2:34]], dtype=np.int64)
    else:
        q = np.array([blk[2 + j] & 0x0F for j in range(16)] + [blk[2 + j] >> 4 for j in range(16)], dtype=np.int64)
        q = q - 8
    return (q.astype(F32) * d).astype(F32)


QUANTIZE = {"q8_0": quantize_q8_0, "q4_0": quantize_q4_0}
BLOCK_BYTES = {"q8_0": 34, "q4_0": 18}


def quantize_rows(kind, w):
    return b"".join(QUANTIZE[kind](w[r, c:c + 32]) for r in range(w.shape[0]) for c in range(0, w.shape[1], 32))


def dequantize_rows(kind, data, rows, cols):
    bb = BLOCK_BYTES[kind]
    out = np.zeros((rows, cols), dtype=F32)
    for r in range(rows):
        for b in range(cols // 32):
            at = (r * cols // 32 + b) * bb
            out[r, b * 32:(b + 1) * 32] = dequantize(kind, data[at:at + bb])
    return out


# ---- the blocks ------------------------------------------------------------

def uni(lo, hi, n=32):
    return RNG.uniform(lo, hi, size=n).astype(F32)


BLOCKS = []  # (name, comment, 32 float32)


def block(name, comment, x):
    x = np.asarray(x, dtype=F32)
    assert x.shape == (32,), name
    BLOCKS.append((name, comment, x))


block("zeros", "all zero: scale 0, Q8_0 q = 0, Q4_0 q = 8", np.zeros(32))
block("uniform", "uniform in [-1, 1)", uni(-1, 1))
x = uni(-0.5, 0.5); x[5] = 1000.0
block("one_huge", "one value (+1000, element 5) dwarfs the rest: Q4_0's scale is negative", x)
x = uni(-1, 1); x[20] = -3.0
block("neg_max", "the largest magnitude is negative (-3, element 20, a high nibble)", x)
x = uni(-1, 1); x[3] = 2.5; x[27] = -2.5
block("pos_then_neg", "+2.5 (element 3) before -2.5 (element 27): Q4_0 takes +2.5, -2.5 maps to 16, clamped to 15", x)
x = uni(-1, 1); x[3] = -2.5; x[27] = 2.5
block("neg_then_pos", "-2.5 (element 3) before +2.5 (element 27): Q4_0 takes -2.5, +2.5 maps to 16, "
      "clamped to 15", x)
x = np.array([127.0] + [s * (k + 0.5) for k in (0, 1, 2, 3, 62, 125, 126) for s in (1, -1)] +
             [s * k for k in (0, 1, 2, 64, 127) for s in (1, -1)] +
             [-0.5 + 2 ** -24, 0.5 - 2 ** -25, 3.25, -100.75, 42.0, 1.25, -1.75], dtype=F32)
block("q8_ties", "Q8_0 scale exactly 1 (amax 127): halves k + 0.5 round away from zero", x)
x = np.array([-8.0] + [k + 0.5 for k in range(-8, 8)] +
             [0.5 - 2 ** -21, 0.5 - 2 ** -20, -0.5 - 2 ** -21, 7.0, 8.0, -7.0,
              0.0, 1.0, -1.0, 6.25, -6.25, 2.75, 3.0, 0.25, -0.25], dtype=F32)
block("q4_ties", "Q4_0 scale exactly 1 (first max -8): halves k + 0.5 round up; 0.5 - 2^-21 rounds up in the "
      "float32 sum, 0.5 - 2^-20 does not; +8 clamps to 15", x)
x = np.array([-(k + 0.5) for k in range(-8, 8)] + [-0.5 + 2 ** -21, -0.5 + 2 ** -20, 0.0, 1.0, -1.0, 2.25, -3.75, 5.0,
             -6.5, 0.125, 4.5, -4.5, 7.25, -7.75, 8.0, -8.0], dtype=F32)
block("q4_ties_neg_scale", "Q4_0 scale exactly -1 (the first max is +8, element 30, a high nibble; -8 follows): "
      "x * id negates", x)
x = uni(-1, 1) * F32(127.0); x[7] = 127.0 * (1 + 2 ** -11)
block("q8_f16_tie_down", "Q8_0 scale 1 + 2^-11 exactly, halfway between two f16: rounds to even, 1", x)
x = uni(-1, 1) * F32(127.0); x[30] = -127.0 * (1 + 3 * 2 ** -11)
block("q8_f16_tie_up", "Q8_0 scale 1 + 3 * 2^-11, halfway: rounds to even, 1 + 2^-9", x)
x = uni(-1, 1) * F32(8.0); x[0] = -8.0 * (1 + 2 ** -11)
block("q4_f16_tie_down", "Q4_0 scale 1 + 2^-11, halfway between two f16: rounds to even, 1", x)
x = uni(-1, 1) * F32(8.0); x[17] = -8.0 * (1 + 3 * 2 ** -11)
block("q4_f16_tie_up", "Q4_0 scale 1 + 3 * 2^-11, halfway: rounds to even, 1 + 2^-9", x)
block("subnormal_scale", "scales in f16's subnormal range (Q8_0 ~3e-6, Q4_0 ~4.8e-5): the stored scale is coarse",
      uni(-1, 1) * F32(3.81e-4))
block("underflow_scale", "scales below half of f16's smallest subnormal: stored as 0, so every value is 0, "
      "while the integers still carry the signs", uni(-1, 1) * F32(1e-9))
block("large", "magnitudes up to 4e5: f16 scales near the top of the range (Q4_0 ~5e4)", uni(-4e5, 4e5))
block("all_equal", "every value 0.3: Q8_0 q = 127; Q4_0 q = 0 (value 0.3 itself)", np.full(32, 0.3))
block("ramp", "-15.5, -14.5, ..., 15.5", np.arange(32) - 15.5)
block("normal_small", "normal, sigma 0.02 (typical weights)", (RNG.standard_normal(32) * 0.02).astype(F32))
block("normal_wide", "normal, sigma 3", (RNG.standard_normal(32) * 3.0).astype(F32))

# ---- products and lookups ---------------------------------------------------

N_OUT = 37  # output features: odd
M_ROWS = 5  # activation rows; the M = 1 case is the first row
K_MAX = 96  # the K = 64 weights are the first two blocks of each row of these
MM = []     # (kind, K, x [M, K], y [M, N], absdot [M, N])
W_BYTES = {}


def weights(k):
    w = RNG.uniform(-1, 1, size=(N_OUT, k)) * RNG.choice([0.01, 0.3, 2.0, 50.0], size=(N_OUT, 1))
    w[0, :] = 0.0           # a zero row: every block's scale 0
    w[N_OUT - 1, 7] = -90.0  # one large negative value
    return w.astype(F32)


XS = {k: RNG.uniform(-1, 1, size=(M_ROWS, k)).astype(F32) for k in (64, K_MAX)}
for kind in ("q8_0", "q4_0"):
    w = weights(K_MAX)
    W_BYTES[kind] = quantize_rows(kind, w)
    # blocks are independent: the first 64 columns quantize to the first two blocks of each row
    assert quantize_rows(kind, np.ascontiguousarray(w[:, :64])) == b"".join(
        W_BYTES[kind][r * 3 * BLOCK_BYTES[kind]:(r * 3 + 2) * BLOCK_BYTES[kind]] for r in range(N_OUT))
    wd_all = dequantize_rows(kind, W_BYTES[kind], N_OUT, K_MAX).astype(np.float64)
    for k in (64, K_MAX):
        wd = wd_all[:, :k]
        x = XS[k].astype(np.float64)
        MM.append((kind, k, XS[k], x @ wd.T, np.abs(x) @ np.abs(wd).T))


# ---- the header -------------------------------------------------------------

def ffmt(v):
    v = float(v)
    if v == 0.0:
        return "-0.0f" if np.signbit(v) else "0.0f"
    s = "%.9g" % v
    if "e" not in s and "." not in s:
        s += ".0"
    return s + "f"


def floats(vals, per=8):
    vals = [ffmt(v) for v in np.asarray(vals, dtype=F32).ravel()]
    return ",\n".join("    " + ", ".join(vals[i:i + per]) for i in range(0, len(vals), per))


def u8s(data, per=16):
    vals = ["0x%02x" % b for b in data]
    return ",\n".join("    " + ", ".join(vals[i:i + per]) for i in range(0, len(vals), per))


def main():
    L = []
    L.append("/* GENERATED by tests/reference/gen_quant_goldens.py -- do not edit.")
    L.append(" * Regenerate from the repository root with")
    L.append(" *     /usr/bin/python3 tests/reference/gen_quant_goldens.py")
    L.append(" * (Debian python3-numpy %s). Q8_0 and Q4_0 blocks quantized and dequantized" % np.__version__)
    L.append(" * from the formats' definitions (see the script), and quantized matrix")
    L.append(" * products with their float64 results rounded to float32. */")
    L.append("")
    L.append("#ifndef HWA_TESTS_QUANT_GOLDEN_H")
    L.append("#define HWA_TESTS_QUANT_GOLDEN_H")
    L.append("")
    L.append("#include <stdint.h>")
    L.append("")
    L.append("#define QG_NBLOCKS %d" % len(BLOCKS))
    L.append("")
    L.append("/* The name and what each block of 32 inputs exercises. */")
    L.append("static const char *const qg_block_name[QG_NBLOCKS] = {")
    for name, comment, _ in BLOCKS:
        L.append('    "%s", /* %s */' % (name, comment))
    L.append("};")
    L.append("")
    L.append("static const float qg_in[QG_NBLOCKS * 32] = {")
    L.append(floats(np.concatenate([b[2] for b in BLOCKS])) + ",")
    L.append("};")
    for kind in ("q8_0", "q4_0"):
        data = b"".join(QUANTIZE[kind](b[2]) for b in BLOCKS)
        deq = np.concatenate([dequantize(kind, data[i * BLOCK_BYTES[kind]:(i + 1) * BLOCK_BYTES[kind]])
                              for i in range(len(BLOCKS))])
        L.append("")
        L.append("/* qg_in quantized to %s: %d bytes a block (f16 scale little-endian, then the integers) */"
                 % (kind.upper(), BLOCK_BYTES[kind]))
        L.append("static const uint8_t qg_%s_bytes[QG_NBLOCKS * %d] = {" % (kind, BLOCK_BYTES[kind]))
        L.append(u8s(data) + ",")
        L.append("};")
        L.append("/* those bytes dequantized */")
        L.append("static const float qg_%s_deq[QG_NBLOCKS * 32] = {" % kind)
        L.append(floats(deq) + ",")
        L.append("};")
    L.append("")
    L.append("/* Matrix products y[M, N] = x[M, K] @ W[N, K]^T with W quantized row by row")
    L.append(" * (N = %d, M = %d; the M = 1 case is the first row of x and y). absdot[m, n]" % (N_OUT, M_ROWS))
    L.append(" * is sum_k |x[m, k]| |W[n, k]|, the scale of the rounding error of any")
    L.append(" * summation order. */")
    L.append("#define QG_MM_N %d" % N_OUT)
    L.append("#define QG_MM_M %d" % M_ROWS)
    for k, x in XS.items():
        L.append("static const float qg_mm_x%d[QG_MM_M * %d] = {" % (k, k))
        L.append(floats(x) + ",")
        L.append("};")
    for kind in ("q8_0", "q4_0"):
        L.append("/* W [QG_MM_N, %d] quantized to %s */" % (K_MAX, kind.upper()))
        L.append("static const uint8_t qg_mm_%s_w[%d] = {" % (kind, len(W_BYTES[kind])))
        L.append(u8s(W_BYTES[kind]) + ",")
        L.append("};")
    for kind, k, _, y, absdot in MM:
        L.append("static const float qg_mm_%s_k%d_y[QG_MM_M * QG_MM_N] = {" % (kind, k))
        L.append(floats(y) + ",")
        L.append("};")
        L.append("static const float qg_mm_%s_k%d_absdot[QG_MM_M * QG_MM_N] = {" % (kind, k))
        L.append(floats(absdot) + ",")
        L.append("};")
    L.append("")
    L.append("typedef struct qg_mm_case {")
    L.append("    const char *name;")
    L.append("    int dtype; /* 0: Q8_0, 1: Q4_0 */")
    L.append("    int64_t K; /* W is the first K columns of qg_mm_<type>_w: K / 32 blocks of each row */")
    L.append("    const float *x;   /* [QG_MM_M, K] */")
    L.append("    const uint8_t *w; /* [QG_MM_N, %d] quantized */" % K_MAX)
    L.append("    const float *y;   /* [QG_MM_M, QG_MM_N] */")
    L.append("    const float *absdot; /* [QG_MM_M, QG_MM_N] */")
    L.append("} qg_mm_case;")
    L.append("")
    L.append("#define QG_MM_KMAX %d" % K_MAX)
    L.append("static const qg_mm_case qg_mm_cases[] = {")
    for kind, k, _, _, _ in MM:
        L.append('    {"%s_k%d", %d, %d, qg_mm_x%d, qg_mm_%s_w, qg_mm_%s_k%d_y, qg_mm_%s_k%d_absdot},'
                 % (kind, k, 0 if kind == "q8_0" else 1, k, k, kind, kind, k, kind, k))
    L.append("};")
    L.append("")
    L.append("#endif")
    with open(OUT, "w") as f:
        f.write("\n".join(L) + "\n")
    print("wrote %s (%d bytes)" % (os.path.relpath(OUT), os.path.getsize(OUT)), file=sys.stderr)


if __name__ == "__main__":
    main()
