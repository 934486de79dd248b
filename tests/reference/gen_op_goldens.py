#!/usr/bin/python3
"""Writes tests/golden/ops_golden.h: inputs and PyTorch reference outputs for
every op of include/hwadapt/graph.h, used by tests/test_ops_forward.c.

Run from the repository root with Debian's python3-torch (1.13) and numpy:

    /usr/bin/python3 tests/reference/gen_op_goldens.py

Inputs are float32 values drawn from a fixed seed (so the C test reads exactly
the values the reference saw); the reference itself runs in float64 and its
result is rounded to float32 only when printed. Shapes are small and odd
(1, primes) so that edge cases show.
Index inputs (ids, labels, positions) are stored as floats holding integers;
the C side writes them into i32 tensors.

The wide cases (rows of 37, 67 and 1000 elements: past one vector of every
ISA, with a tail) would make the header megabytes if their inputs were
printed, so their large inputs are *generated*: the header stores the
generator's seed, range and offset, and the C test regenerates the same
float32 values bit for bit (gen() below says how). Their outputs are printed
like every other case's. Edge rows (mean square below a norm's eps, all-zero
rows, -inf in softmax rows, +1000 offsets) are printed as they are; -inf is
written as -INFINITY.

Each case carries up to 8 numeric parameters `p` whose meaning is written in
the comment above it (eps, theta, flags, dims...), so the C tests read them
from the case instead of repeating them.
"""
import math
import os
import sys

import numpy as np
import torch

torch.set_default_dtype(torch.float64)
RNG = np.random.RandomState(20240611)

CASES = []  # (name, comment, [(shape, np.float32 array)], out (shape, array), params)


def rnd(*shape, lo=-2.0, hi=2.0):
    return RNG.uniform(lo, hi, size=shape).astype(np.float32)


def away_from_zero(*shape, lo=0.25, hi=2.0):
    """Values with |v| in [lo, hi), random sign: no kinks (relu) or poles (div)."""
    mag = RNG.uniform(lo, hi, size=shape)
    sign = np.where(RNG.uniform(size=shape) < 0.5, -1.0, 1.0)
    return (mag * sign).astype(np.float32)


# Generated inputs: id(array) -> (array, seed, e, offset); the array is kept
# so that its id stays unique.
GEN_SPECS = {}
GEN_SEED = [0x2545F491]


def gen_values(n, seed, e, offset):
    """n float32 values: a 32-bit LCG s <- 1664525 s + 1013904223 (mod 2^32)
    from s = seed, each step giving m = (s >> 8) - 2^23, an integer in
    [-2^23, 2^23); the value is m 2^(e-23) (exact in float32: |m| < 2^24 and
    a power-of-two scale), plus offset in one float32 addition (round to
    nearest even). So values lie in [-2^e, 2^e) + offset. The C test
    (golden_fill in tests/test_ops_forward.c) does the same."""
    out = np.empty(n, dtype=np.float32)
    s = seed
    off = np.float32(offset)
    for i in range(n):
        s = (s * 1664525 + 1013904223) & 0xFFFFFFFF
        m = (s >> 8) - (1 << 23)
        out[i] = np.float32(m * 2.0 ** (e - 23)) + off
    return out


def gen(*shape, e=0, offset=0.0):
    """A generated input of the given shape (see gen_values); each call gets
    the next seed."""
    seed = GEN_SEED[0]
    GEN_SEED[0] = (GEN_SEED[0] * 747796405 + 2891336453) & 0xFFFFFFFF
    assert float(np.float32(offset)) == offset
    a = gen_values(int(np.prod(shape)), seed, e, offset).reshape(shape)
    GEN_SPECS[id(a)] = (a, seed, e, offset)
    return a


def t64(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float64))


def case(name, comment, inputs, out, params=()):
    out = out.detach().numpy() if isinstance(out, torch.Tensor) else np.asarray(out)
    assert len(params) <= 8
    assert len(inputs) <= 4
    CASES.append((name, comment, [np.asarray(a) for a in inputs], out, list(params)))
    assert all(id(a) not in GEN_SPECS or np.asarray(a) is a for a in inputs)


# ---- elementwise binary with broadcasting -----------------------------------
BIN = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div}
for op, fn in BIN.items():
    for tag, bshape in (("same", (3, 5)), ("bn", (5,)), ("b1n", (1, 5)), ("bm1", (3, 1))):
        a = rnd(3, 5)
        b = away_from_zero(*bshape, lo=0.5) if op == "div" else rnd(*bshape)
        case(f"{op}_{tag}", f"{op}: a [3,5], b {list(bshape)}", [a, b], fn(t64(a), t64(b)))
a = rnd(2, 3, 5)
b = rnd(1, 5)
case("add_3d_b1n", "add: a [2,3,5], b [1,5] (missing leading dims of b are 1)", [a, b], t64(a) + t64(b))
a = rnd(2, 3, 5)
b = rnd(2, 1, 5)
case("mul_3d_mid1", "mul: a [2,3,5], b [2,1,5]", [a, b], t64(a) * t64(b))

a = rnd(4, 7)
case("scale", "scale: a [4,7] * p0", [a], t64(a) * -1.75, [-1.75])
a, bias = rnd(2, 3, 5), rnd(5)
case("bias_add", "bias_add: a [2,3,5], bias [5]", [a, bias], t64(a) + t64(bias))

# ---- matmul ------------------------------------------------------------------
def mm_case(name, ashape, bshape, ta, tb, generated=False):
    """Inputs in [-2,2) printed, or generated in [-1,1)."""
    a, b = (gen(*ashape), gen(*bshape)) if generated else (rnd(*ashape), rnd(*bshape))
    A, B = t64(a), t64(b)
    if ta:
        A = A.transpose(-1, -2)
    if tb:
        B = B.transpose(-1, -2)
    how = " (generated, in [-1,1))" if generated else ""
    case(name, f"matmul: a {list(ashape)}, b {list(bshape)}{how}, p = (trans_a, trans_b)",
         [a, b], torch.matmul(A, B), [int(ta), int(tb)])


mm_case("matmul_plain", (3, 4), (4, 5), False, False)
mm_case("matmul_vec", (1, 7), (7, 3), False, False)
mm_case("matmul_trans_a", (4, 3), (4, 5), True, False)
mm_case("matmul_trans_b", (3, 4), (5, 4), False, True)
mm_case("matmul_trans_ab", (4, 3), (5, 4), True, True)
mm_case("matmul_3d", (2, 3, 4), (2, 4, 5), False, False)
mm_case("matmul_4d", (2, 3, 3, 4), (2, 3, 4, 5), False, False)
mm_case("matmul_bcast_b1", (2, 3, 4), (1, 4, 5), False, False)
mm_case("matmul_bcast_b2d", (2, 3, 4), (4, 5), False, False)
mm_case("matmul_bcast_4d", (2, 3, 3, 4), (2, 1, 4, 5), False, False)
mm_case("matmul_bcast_trans_b", (2, 3, 4), (1, 5, 4), False, True)

# ---- activations ---------------------------------------------------------------
x = away_from_zero(5, 7, lo=0.05, hi=3.0)
case("relu", "relu: [5,7], no value near 0", [x], torch.relu(t64(x)))
x = rnd(5, 7, lo=-4, hi=4)
case("gelu", "gelu (exact, erf): [5,7]", [x], torch.nn.functional.gelu(t64(x)))
x = rnd(5, 7, lo=-6, hi=6)
case("silu", "silu: [5,7]", [x], torch.nn.functional.silu(t64(x)))
x = rnd(5, 7, lo=-9, hi=9)
case("sigmoid", "sigmoid: [5,7]", [x], torch.sigmoid(t64(x)))
x = rnd(5, 7, lo=-5, hi=5)
case("tanh", "tanh: [5,7]", [x], torch.tanh(t64(x)))

# ---- softmax ---------------------------------------------------------------------
x = rnd(3, 7, lo=-3, hi=3)
x[1] += 100.0  # exp overflows f32 (e^88.7) without max subtraction...
x[2] -= 110.0  # ... and underflows to 0/0 here without it
case("softmax", "softmax over the last dim: [3,7], rows offset by +100 and -110", [x],
     torch.softmax(t64(x), -1))
case("log_softmax", "log_softmax over the last dim: [3,7], same offsets", [x],
     torch.log_softmax(t64(x), -1))
x = rnd(2, 3, 5, lo=-3, hi=3)
case("softmax_3d", "softmax: [2,3,5]", [x], torch.softmax(t64(x), -1))
x = rnd(4, 1)
case("softmax_n1", "softmax over rows of one element: [4,1] -> all 1", [x], torch.softmax(t64(x), -1))

# ---- normalisation -------------------------------------------------------------------
x, w, b = rnd(3, 7, lo=-3, hi=3), rnd(7), rnd(7)
case("layernorm", "layernorm: x [3,7], w [7], b [7], p0 = eps", [x, w, b],
     torch.nn.functional.layer_norm(t64(x), (7,), t64(w), t64(b), 1e-5), [1e-5])
x = rnd(2, 2, 11, lo=-1, hi=5)
case("layernorm_nowb", "layernorm: x [2,2,11], no w, no b, p0 = eps", [x],
     torch.nn.functional.layer_norm(t64(x), (11,), None, None, 1e-5), [1e-5])


def rmsnorm(x, w, eps):
    y = x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps)
    return y * w if w is not None else y


x, w = rnd(3, 7, lo=-3, hi=3), rnd(7)
case("rmsnorm", "rmsnorm: x [3,7], w [7], p0 = eps", [x, w], rmsnorm(t64(x), t64(w), 1e-6), [1e-6])
x = rnd(2, 13)
case("rmsnorm_now", "rmsnorm: x [2,13], no w, p0 = eps", [x], rmsnorm(t64(x), None, 1e-6), [1e-6])

# ---- embedding ---------------------------------------------------------------------------
table = rnd(5, 3)
ids = np.array([[4, 0, 2], [2, 2, 1]], dtype=np.float32)
case("embedding", "embedding: table [5,3], ids i32 [2,3] (repeats) -> [2,3,3]", [table, ids],
     t64(table)[torch.from_numpy(ids.astype(np.int64))])


# ---- rope -------------------------------------------------------------------------------
def rope_ref(x, pos, theta, mode):
    """x [B,T,H,D] float64, pos [T]."""
    D = x.shape[-1]
    half = D // 2
    i = torch.arange(half, dtype=torch.float64)
    ang = pos.reshape(-1, 1, 1) * theta ** (-2.0 * i / D)  # [T,1,D/2]
    c, s = torch.cos(ang), torch.sin(ang)
    y = x.clone()
    if mode == 0:
        a, b = x[..., 0::2], x[..., 1::2]
        y[..., 0::2] = a * c - b * s
        y[..., 1::2] = a * s + b * c
    else:
        a, b = x[..., :half], x[..., half:]
        y[..., :half] = a * c - b * s
        y[..., half:] = a * s + b * c
    return y


x = rnd(2, 3, 2, 8)
pos = np.array([3, 4, 5], dtype=np.float32)
for mode, tag in ((0, "interleaved"), (1, "halves")):
    case(f"rope_{tag}", f"rope: x [B=2,T=3,H=2,D=8], pos i32 [3] = 3,4,5; p = (theta, mode={mode})",
         [x, pos], rope_ref(t64(x), t64(pos), 10000.0, mode), [10000.0, mode])
x = rnd(1, 3, 1, 6)
pos = np.array([0, 7, 2], dtype=np.float32)
case("rope_theta100", "rope: x [1,3,1,6], pos [0,7,2], theta 100, halves; p = (theta, mode)",
     [x, pos], rope_ref(t64(x), t64(pos), 100.0, 1), [100.0, 1])


# ---- attention ------------------------------------------------------------------------
def attn_ref(q, k, v, causal, scale):
    B, Hq, Tq, D = q.shape
    Hkv, Tk = k.shape[1], k.shape[2]
    rep = Hq // Hkv
    k = k.repeat_interleave(rep, dim=1)
    v = v.repeat_interleave(rep, dim=1)
    if scale <= 0:
        scale = 1.0 / math.sqrt(D)
    s = torch.matmul(q, k.transpose(-1, -2)) * scale
    if causal:
        qpos = torch.arange(Tq).reshape(-1, 1) + (Tk - Tq)
        kpos = torch.arange(Tk).reshape(1, -1)
        s = s.masked_fill(kpos > qpos, float("-inf"))
    return torch.matmul(torch.softmax(s, -1), v)


def attn_case(name, B, Hq, Hkv, Tq, Tk, D, Dv, causal, scale, gen_q_e=None):
    """Inputs in [-2,2) printed, or with gen_q_e set generated: q in
    [-2^gen_q_e, 2^gen_q_e), k and v in [-1,1)."""
    if gen_q_e is None:
        q, k, v = rnd(B, Hq, Tq, D), rnd(B, Hkv, Tk, D), rnd(B, Hkv, Tk, Dv)
        how = ""
    else:
        q, k, v = gen(B, Hq, Tq, D, e=gen_q_e), gen(B, Hkv, Tk, D), gen(B, Hkv, Tk, Dv)
        how = f" (generated: q in [-2^{gen_q_e},2^{gen_q_e}), k and v in [-1,1))"
    case(name, f"attention: q [{B},{Hq},{Tq},{D}], k [{B},{Hkv},{Tk},{D}], v [{B},{Hkv},{Tk},{Dv}]{how}; "
         f"p = (causal, scale) (scale <= 0: 1/sqrt(D))",
         [q, k, v], attn_ref(t64(q), t64(k), t64(v), causal, scale), [int(causal), scale])


attn_case("attention", 2, 2, 2, 3, 3, 4, 5, False, 0.0)
attn_case("attention_causal", 2, 2, 2, 3, 3, 4, 5, True, 0.0)
attn_case("attention_gqa", 1, 4, 2, 3, 5, 4, 3, False, 0.0)
attn_case("attention_gqa_causal_tq_lt_tk", 1, 4, 2, 3, 5, 4, 3, True, 0.0)
attn_case("attention_decode_scale", 2, 4, 1, 1, 6, 3, 2, True, 0.3)

# ---- concat ---------------------------------------------------------------------------------
a, b = rnd(2, 3), rnd(4, 3)
case("concat_dim0", "concat: a [2,3], b [4,3] along p0 = 0", [a, b], torch.cat([t64(a), t64(b)], 0), [0])
a, b = rnd(2, 3, 2), rnd(2, 3, 5)
case("concat_last", "concat: a [2,3,2], b [2,3,5] along p0 = 2", [a, b], torch.cat([t64(a), t64(b)], 2), [2])
a, b = rnd(2, 1, 3), rnd(2, 3, 3)
case("concat_mid", "concat: a [2,1,3], b [2,3,3] along p0 = 1", [a, b], torch.cat([t64(a), t64(b)], 1), [1])

# ---- reductions and losses ----------------------------------------------------------------------
x = rnd(3, 5)
case("sum", "sum: [3,5] -> [1]", [x], t64(x).sum().reshape(1))
case("mean", "mean: [3,5] -> [1]", [x], t64(x).mean().reshape(1))
x = rnd(3, 4, 5)
for d in range(3):
    case(f"sum_dim{d}", f"sum_dim: [3,4,5] over p0 = {d}, kept", [x], t64(x).sum(d, keepdim=True), [d])
    case(f"mean_dim{d}", f"mean_dim: [3,4,5] over p0 = {d}, kept", [x], t64(x).mean(d, keepdim=True), [d])
x = rnd(4, 5, lo=-3, hi=3)
labels = np.array([1, 0, 4, 1], dtype=np.float32)
case("cross_entropy", "cross_entropy: logits [4,5], labels i32 [4] -> [1] (mean)", [x, labels],
     torch.nn.functional.cross_entropy(t64(x), torch.from_numpy(labels.astype(np.int64))).reshape(1))
x = rnd(1, 3, lo=-3, hi=3)
x[0] += 80.0
labels = np.array([2], dtype=np.float32)
case("cross_entropy_big", "cross_entropy: logits [1,3] offset by +80 (needs logsumexp), label 2", [x, labels],
     torch.nn.functional.cross_entropy(t64(x), torch.from_numpy(labels.astype(np.int64))).reshape(1))
a, b = rnd(3, 4), rnd(3, 4)
case("mse", "mse: a [3,4], b [3,4] -> [1]", [a, b], torch.nn.functional.mse_loss(t64(a), t64(b)).reshape(1))

# ---- views followed by cont ---------------------------------------------------------------------
x = rnd(3, 4)
case("reshape_cont", "reshape [3,4] -> p = [2,6], then cont", [x], t64(x).reshape(2, 6), [2, 6])
x = rnd(2, 3, 4)
case("permute_cont", "permute [2,3,4] by p = (2,0,1) -> [4,2,3], then cont", [x],
     t64(x).permute(2, 0, 1), [2, 0, 1])
x = rnd(2, 3, 5, 2)
case("permute4_cont", "permute [2,3,5,2] by p = (1,3,0,2) -> [3,2,2,5], then cont", [x],
     t64(x).permute(1, 3, 0, 2), [1, 3, 0, 2])
x = rnd(3, 5)
case("transpose_cont", "transpose [3,5] -> [5,3], then cont", [x], t64(x).t())
x = rnd(2, 3, 4)
case("transpose3_cont", "transpose [2,3,4] -> [2,4,3], then cont", [x], t64(x).transpose(1, 2))
x = rnd(3, 5, 4)
case("slice_cont", "slice [3,5,4] along p0 = 1 from p1 = 1, length p2 = 3, then cont", [x],
     t64(x)[:, 1:4, :], [1, 1, 3])
x = rnd(3, 7)
case("slice_last_cont", "slice [3,7] along p0 = -1 from p1 = 5, length p2 = 2, then cont", [x],
     t64(x)[:, 5:7], [-1, 5, 2])

# ---- casts ----------------------------------------------------------------------------------------
x = np.concatenate([rnd(10, lo=-3, hi=3),
                    np.array([1000.7, -3.14159265, 1e-3, 6.1e-5, 60000.0, 1.0 + 2 ** -11, -0.0],
                             dtype=np.float32)]).astype(np.float32)
xt = torch.from_numpy(x)  # float32: torch rounds f32 -> f16/bf16 to nearest, ties to even
case("cast_f16", "cast [17] f32 -> f16 -> f32", [x], xt.half().double())
x2 = np.concatenate([x, np.array([3.0e38, 1.0 + 2 ** -8, 1.0 + 3 * 2 ** -8], dtype=np.float32)])
case("cast_bf16", "cast [20] f32 -> bf16 -> f32", [x2], torch.from_numpy(x2).bfloat16().double())

# ---- non-contiguous inputs fed straight to ops ------------------------------------------------------
x, b = rnd(3, 4, 5), rnd(5, 3, 4)
case("noncontig_add", "add(permute(x [3,4,5], (2,0,1)) -> [5,3,4], b [5,3,4]), no cont", [x, b],
     t64(x).permute(2, 0, 1) + t64(b))
a, b = rnd(4, 3), rnd(4, 5)
case("noncontig_matmul", "matmul(transpose(a [4,3]) -> [3,4], b [4,5]) with the view as input", [a, b],
     t64(a).t() @ t64(b))
x = rnd(5, 3, lo=-3, hi=3)
case("noncontig_softmax", "softmax(transpose(x [5,3]) -> [3,5]) with the view as input", [x],
     torch.softmax(t64(x).t(), -1))
x, b = rnd(3, 7), rnd(3, 2)
case("noncontig_slice_mul", "mul(slice(x [3,7], dim 1, start 4, len 2), b [3,2])", [x, b],
     t64(x)[:, 4:6] * t64(b))


# ---- wide rows and edge rows ----------------------------------------------------------------------
# Rows of 37 (AVX-512: 2 vectors + 5), 67 (4 vectors + 3; AVX2: 8 + 3) and
# 1000 (62 vectors + 8) elements, so that every vector kernel runs its loop
# body and its tail against PyTorch; inputs of more than a few hundred
# values are generated (gen).
a, b = rnd(3, 37), rnd(37)
case("add_w37", "add: a [3,37], b [37]", [a, b], t64(a) + t64(b))
a, b = rnd(2, 67), rnd(2, 1)
case("sub_w67_m1", "sub: a [2,67], b [2,1]", [a, b], t64(a) - t64(b))
a, b = gen(2, 1000, e=1), gen(1000, e=1)
case("mul_w1000", "mul: a [2,1000], b [1000] (generated, in [-2,2))", [a, b], t64(a) * t64(b))
a, b = rnd(2, 67), away_from_zero(2, 67, lo=0.5)
case("div_w67", "div: a [2,67], b [2,67], |b| >= 0.5", [a, b], t64(a) / t64(b))
a = rnd(3, 67)
case("scale_w67", "scale: a [3,67] * p0", [a], t64(a) * -0.625, [-0.625])
a, bias = rnd(2, 3, 67), rnd(67)
case("bias_add_w67", "bias_add: a [2,3,67], bias [67]", [a, bias], t64(a) + t64(bias))


def with_extremes(x, vals):
    """x [2,67] with vals written at the start of row 0 (a vector body) and
    at the end of row 1 (the tail)."""
    x = x.copy()
    k = len(vals)
    x[0, :k] = vals
    x[1, -k:] = vals[::-1]
    return x


EXTREMES = np.array([-100.0, -30.0, -9.5, 9.5, 30.0, 100.0], dtype=np.float32)
x = with_extremes(away_from_zero(2, 67, lo=0.05, hi=12.0), EXTREMES)
case("relu_w67", "relu: [2,67], no value near 0, +-100, +-30, +-9.5 at both ends", [x], torch.relu(t64(x)))
for op, fn in (("gelu", torch.nn.functional.gelu), ("silu", torch.nn.functional.silu),
               ("sigmoid", torch.sigmoid), ("tanh", torch.tanh)):
    x = with_extremes(rnd(2, 67, lo=-12, hi=12), EXTREMES)
    case(f"{op}_w67", f"{op}: [2,67] in [-12,12), +-100, +-30, +-9.5 at both ends", [x], fn(t64(x)))
x = gen(1000, e=3)
case("gelu_w1000", "gelu (exact, erf): [1000] (generated, in [-8,8))", [x], torch.nn.functional.gelu(t64(x)))

# softmax: rows with masked (-inf) entries and large offsets
NEG_INF = np.float32(-np.inf)
x = rnd(6, 37, lo=-3, hi=3)
x[1] += 1000.0                    # exp overflows without max subtraction
x[1, ::5] = NEG_INF               # masked entries, in vector bodies and the tail
x[2] -= 1000.0
x[2, -3:] = NEG_INF
x[3, :] = NEG_INF                 # all masked but two: one in the body, one in the tail
x[3, 4], x[3, 35] = 0.5, 1000.0
x[4, -1] = x[4].max() + 40.0      # one entry dominates: the others underflow in f32
x[5] += 100000.0                  # log_softmax = x - max - log(sum) loses digits if max + log(sum) is rounded
case("softmax_w37_masked", "softmax: [6,37]; row 1 +1000 with every 5th -inf, row 2 -1000 with the last "
     "3 -inf, row 3 -inf but two, row 4 one entry 40 above the rest, row 5 +100000", [x],
     torch.softmax(t64(x), -1))
case("log_softmax_w37_masked", "log_softmax: the same [6,37] input (-inf stays -inf)", [x],
     torch.log_softmax(t64(x), -1))
x = rnd(3, 67, lo=-3, hi=3)
x[0, 60:] = NEG_INF
x[2] += 1000.0
case("softmax_w67", "softmax: [3,67]; row 0 ends in 7 -inf, row 2 +1000", [x], torch.softmax(t64(x), -1))
x = gen(2, 1000, e=3, offset=1000.0)
case("softmax_w1000_offset", "softmax: [2,1000] (generated, in [992,1008))", [x], torch.softmax(t64(x), -1))
case("log_softmax_w1000_offset", "log_softmax: the same [2,1000] input", [x], torch.log_softmax(t64(x), -1))


# norms: rows whose mean square (rmsnorm) or variance (layernorm) is near,
# below or far below eps, and all-zero rows; a norm that drops eps fails.
def scaled_to(x, ms):
    """x scaled so that its mean square is about ms."""
    x = x.astype(np.float64)
    return (x * math.sqrt(ms / (x * x).mean())).astype(np.float32)


def rms_rows(n, eps):
    return np.stack([rnd(n, lo=-2, hi=2),
                     scaled_to(rnd(n), eps),            # mean square = eps: eps halves 1/rms^2
                     scaled_to(rnd(n), eps / 100),      # below eps
                     scaled_to(rnd(n), eps * 1e-4),     # far below: y ~ x / sqrt(eps)
                     np.zeros(n, dtype=np.float32)])    # all zero: y = 0


x, w = rms_rows(37, 1e-6), rnd(37)
case("rmsnorm_eps_w37", "rmsnorm: x [5,37] with mean square 1, eps, eps/100, eps/1e4, 0 by row, w [37], "
     "p0 = eps", [x, w], rmsnorm(t64(x), t64(w), 1e-6), [1e-6])
x = rms_rows(67, 1e-5)
case("rmsnorm_eps_w67_now", "rmsnorm: x [5,67] with mean square 1, eps, eps/100, eps/1e4, 0 by row, no w, "
     "p0 = eps", [x], rmsnorm(t64(x), None, 1e-5), [1e-5])
x, w = gen(2, 1000, e=1), gen(1000)
case("rmsnorm_w1000", "rmsnorm: x [2,1000], w [1000] (generated), p0 = eps", [x, w],
     rmsnorm(t64(x), t64(w), 1e-6), [1e-6])


def ln_rows(n, eps):
    """Rows: ordinary; variance = eps around 0; variance eps/100 around 0.5
    on a 2^-12 grid summing exactly to n/2 (so the f32 mean is exact and no
    cancellation hides the eps); all zero; constant -1.5 (variance 0)."""
    m = RNG.randint(-2, 3, size=n)
    m[-1] -= m.sum()
    while abs(m[-1]) > 3:  # keep the last step small
        m = RNG.randint(-2, 3, size=n)
        m[-1] -= m.sum()
    grid = (0.5 + m * 2.0 ** -12).astype(np.float32)
    z = rnd(n)
    z -= z.mean()
    return np.stack([rnd(n, lo=-1, hi=5),
                     scaled_to(z, eps),
                     grid,
                     np.zeros(n, dtype=np.float32),
                     np.full(n, -1.5, dtype=np.float32)])


x, w, b = ln_rows(37, 1e-5), rnd(37), rnd(37)
case("layernorm_eps_w37", "layernorm: x [5,37] with variance ~2.3, eps, ~eps/80 (around 0.5), 0, 0 (constant "
     "-1.5) by row, w [37], b [37], p0 = eps", [x, w, b],
     torch.nn.functional.layer_norm(t64(x), (37,), t64(w), t64(b), 1e-5), [1e-5])
x = ln_rows(67, 1e-5)
case("layernorm_eps_w67_nowb", "layernorm: x [5,67], rows as layernorm_eps_w37's, no w, no b, p0 = eps", [x],
     torch.nn.functional.layer_norm(t64(x), (67,), None, None, 1e-5), [1e-5])
x, w, b = gen(2, 1000, e=1, offset=1.0), gen(1000), gen(1000)
case("layernorm_w1000", "layernorm: x [2,1000] in [-1,3), w [1000], b [1000] (generated), p0 = eps",
     [x, w, b], torch.nn.functional.layer_norm(t64(x), (1000,), t64(w), t64(b), 1e-5), [1e-5])


# matmul: K and N past a vector, K = 1000
mm_case("matmul_k1000", (3, 1000), (1000, 67), False, False, generated=True)
mm_case("matmul_vec_k1000", (1, 1000), (1000, 37), False, False, generated=True)
mm_case("matmul_n1000", (2, 37), (37, 1000), False, False, generated=True)
mm_case("matmul_k67_trans_a", (67, 5), (67, 37), True, False, generated=True)
mm_case("matmul_k67_trans_b", (5, 67), (37, 67), False, True, generated=True)
mm_case("matmul_3d_b2d_k67", (2, 3, 67), (67, 37), False, False, generated=True)

# rope and attention with head dims past a vector
x = gen(1, 5, 2, 74)
pos = np.array([0, 1, 37, 999, 4095], dtype=np.float32)
for mode, tag in ((0, "interleaved"), (1, "halves")):
    case(f"rope_w74_{tag}", f"rope: x [1,5,2,74] (generated), pos i32 [5] = 0,1,37,999,4095; "
         f"p = (theta, mode={mode})", [x, pos], rope_ref(t64(x), t64(pos), 10000.0, mode), [10000.0, mode])


attn_case("attention_w37_gqa_causal", 1, 4, 2, 5, 67, 37, 37, True, 0.0, gen_q_e=0)
attn_case("attention_decode_tk1000", 1, 2, 1, 1, 1000, 16, 16, False, 0.0, gen_q_e=2)

# reductions, losses, copies
x = gen(4, 1000, e=3)
labels = np.array([0, 999, 500, 37], dtype=np.float32)
case("cross_entropy_w1000", "cross_entropy: logits [4,1000] (generated, in [-8,8)), labels i32 [4] -> [1]",
     [x, labels], torch.nn.functional.cross_entropy(t64(x), torch.from_numpy(labels.astype(np.int64))).reshape(1))
a, b = gen(2, 1000), gen(2, 1000)
case("mse_w1000", "mse: a [2,1000], b [2,1000] (generated) -> [1]", [a, b],
     torch.nn.functional.mse_loss(t64(a), t64(b)).reshape(1))
x = gen(37, 67)
case("sum_w37x67", "sum: [37,67] (generated) -> [1]", [x], t64(x).sum().reshape(1))
case("mean_w37x67", "mean: [37,67] (generated) -> [1]", [x], t64(x).mean().reshape(1))
case("mean_dim0_w37x67", "mean_dim: [37,67] (generated) over p0 = 0, kept", [x], t64(x).mean(0, keepdim=True), [0])
x = gen(3, 1000)
case("sum_dim1_w1000", "sum_dim: [3,1000] (generated) over p0 = 1, kept", [x], t64(x).sum(1, keepdim=True), [1])
table = gen(10, 67)
ids = np.array([9, 0, 3, 3, 7], dtype=np.float32)
case("embedding_w67", "embedding: table [10,67] (generated), ids i32 [5] -> [5,67]", [table, ids],
     t64(table)[torch.from_numpy(ids.astype(np.int64))])
a, b = gen(2, 37), gen(2, 67)
case("concat_w37_w67", "concat: a [2,37], b [2,67] (generated) along p0 = 1", [a, b],
     torch.cat([t64(a), t64(b)], 1), [1])
x = gen(37, 67)
case("transpose_w37x67_cont", "transpose [37,67] (generated) -> [67,37], then cont", [x], t64(x).t())


# ---- the KV caches of several sequences at run-time indices (appended last, so that the
# random draws of every case above stay as they were)
def cache_attn_ref(q, k, v, at, scale):
    """Row b: causal attention of q[b] over the first p + n keys of sequence c, (c, p) = at[b]."""
    n = q.shape[2]
    rows = []
    for b in range(q.shape[0]):
        c, p = int(at[b, 0]), int(at[b, 1])
        rows.append(attn_ref(q[b:b + 1], k[c:c + 1, :, :p + n], v[c:c + 1, :, :p + n], True, scale))
    return torch.cat(rows, 0)


q, k, v = rnd(3, 4, 2, 5), rnd(4, 2, 9, 5), rnd(4, 2, 9, 3)
at = np.array([[2, 0], [0, 7], [3, 4]], dtype=np.float32)
case("cache_attention", "cache_attention: q [3,4,2,5], caches k [4,2,9,5] and v [4,2,9,3], at i32 [3,2] = "
     "(2,0), (0,7), (3,4) (sequence, first position); p = (scale) (<= 0: 1/sqrt(D))",
     [q, k, v, at], cache_attn_ref(t64(q), t64(k), t64(v), at, 0.0), [0.0])
cache, vals = rnd(3, 2, 6, 4), rnd(2, 2, 3, 4)
at = np.array([[2, 3], [0, 0]], dtype=np.float32)
want = t64(cache).clone()
for b in range(2):
    want[int(at[b, 0]), :, int(at[b, 1]):int(at[b, 1]) + 3] = t64(vals)[b]
case("cache_write", "cache_write: cache [3,2,6,4], values [2,2,3,4], at i32 [2,2] = (2,3), (0,0) -> the cache",
     [cache, vals, at], want)


# ---- output ---------------------------------------------------------------------------------------
def fmt_floats(a):
    vals = []
    for v in np.asarray(a, dtype=np.float32).reshape(-1):
        assert not np.isnan(v)
        if np.isinf(v):
            vals.append("-INFINITY" if v < 0 else "INFINITY")
            continue
        t = "%.9g" % float(v)
        vals.append((t if ("." in t or "e" in t) else t + ".0") + "f")  # "1f" is not a C literal
    lines, line = [], "    "
    for v in vals:
        piece = v + ", "
        if len(line) + len(piece) > 100:
            lines.append(line.rstrip())
            line = "    "
        line += piece
    lines.append(line.rstrip())
    return "\n".join(lines)


def gt(arr, sym, spec=None):
    shape = list(arr.shape) if arr.ndim else [1]
    dims = ", ".join(str(d) for d in shape)
    g = "{0x%08x, %d, %s}" % (spec[1], spec[2], repr(float(spec[3])) + "f") if spec else "{0}"
    return "{%d, {%s}, %d, %s, %s}" % (len(shape), dims, int(np.prod(shape)), sym, g)


GEN_CHECK_SEED = 0x12345678


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.path.join(root, "tests", "golden", "ops_golden.h")
    out = []
    out.append("/* GENERATED by tests/reference/gen_op_goldens.py -- do not edit.\n"
               " * Regenerate from the repository root with\n"
               " *     /usr/bin/python3 tests/reference/gen_op_goldens.py\n"
               " * (Debian python3-torch %s, numpy %s). Inputs are float32 values from a fixed\n"
               " * seed; expected outputs are PyTorch's float64 results rounded to float32.\n"
               " * Index inputs (ids, labels, positions) are integers stored as floats.\n"
               " * A tensor with v == NULL is generated from gen (see gen_values in the script). */\n"
               % (torch.__version__, np.__version__))
    out.append("#ifndef HWA_TESTS_OPS_GOLDEN_H\n#define HWA_TESTS_OPS_GOLDEN_H\n\n"
               "#include <math.h>\n#include <stdint.h>\n")
    out.append("/* n float32 values: s <- 1664525 s + 1013904223 (mod 2^32) from s = seed,\n"
               " * m = (s >> 8) - 2^23, value = m 2^(e-23) + offset (one float32 addition). */\n"
               "typedef struct golden_gen {\n    uint32_t seed;\n    int e;\n    float offset;\n"
               "} golden_gen;\n")
    out.append("typedef struct golden_tensor {\n    int ndim;\n    int64_t shape[4];\n    int64_t n;\n"
               "    const float *v; /* NULL: generated from gen */\n    golden_gen gen;\n} golden_tensor;\n")
    out.append("typedef struct golden_case {\n    const char *name;\n    int n_in;\n    golden_tensor in[4];\n"
               "    golden_tensor out;\n    double p[8]; /* per-case parameters, see each comment */\n"
               "} golden_case;\n")
    out.append("/* The generator's first values for seed 0x%08x, e = 0, offset 0, which the\n"
               " * C test compares with its own. */\n"
               "static const golden_gen gold_gen_check_spec = {0x%08x, 0, 0.0f};\n"
               "static const float gold_gen_check[8] = {\n%s\n};\n"
               % (GEN_CHECK_SEED, GEN_CHECK_SEED, fmt_floats(gen_values(8, GEN_CHECK_SEED, 0, 0.0))))
    seen = {}
    n_gen = 0
    for name, comment, inputs, res, params in CASES:
        out.append("/* %s */" % comment)
        syms = []
        for i, a in enumerate(inputs):
            spec = GEN_SPECS.get(id(a))
            if spec is not None and spec[0] is a:
                syms.append(gt(a, "NULL", spec))
                n_gen += 1
                continue
            body = fmt_floats(a)
            sym = seen.get(body)  # cases that share an input share its array
            if sym is None:
                sym = seen[body] = "gold_%s_in%d" % (name, i)
                out.append("static const float %s[] = {\n%s\n};" % (sym, body))
            syms.append(gt(a, sym))
        osym = "gold_%s_out" % name
        out.append("static const float %s[] = {\n%s\n};" % (osym, fmt_floats(res)))
        ins = ", ".join(syms)
        ps = ", ".join(repr(float(p)) for p in params) or "0"
        out.append("static const golden_case GOLD_%s = {\"%s\", %d, {%s}, %s, {%s}};\n"
                   % (name, name, len(inputs), ins, gt(res, osym), ps))
    out.append("#endif\n")
    text = "\n".join(out)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    print("wrote %s: %d cases (%d generated inputs), %d bytes" % (path, len(CASES), n_gen, len(text)),
          file=sys.stderr)


if __name__ == "__main__":
    main()
