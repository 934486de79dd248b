#!/usr/bin/python3
"""Writes tests/golden/ops_golden.h: inputs and PyTorch reference outputs for
every op of include/hwadapt/graph.h, used by tests/test_ops_forward.c.

Run from the repository root with Debian's python3-torch (1.13) and numpy:

    /usr/bin/python3 tests/reference/gen_op_goldens.py

Inputs are float32 values drawn from a fixed seed (so the C test reads exactly
the values the reference saw); the reference itself runs in float64 and its
result is rounded to float32 only when printed. Shapes are small and odd
(1, primes) so that the header stays well under 300 KB and edge cases show.
Index inputs (ids, labels, positions) are stored as floats holding integers;
the C side writes them into i32 tensors.

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


def t64(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float64))


def case(name, comment, inputs, out, params=()):
    out = out.detach().numpy() if isinstance(out, torch.Tensor) else np.asarray(out)
    assert len(params) <= 8
    assert len(inputs) <= 4
    CASES.append((name, comment, [np.asarray(a) for a in inputs], out, list(params)))


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
def mm_case(name, ashape, bshape, ta, tb):
    a, b = rnd(*ashape), rnd(*bshape)
    A, B = t64(a), t64(b)
    if ta:
        A = A.transpose(-1, -2)
    if tb:
        B = B.transpose(-1, -2)
    case(name, f"matmul: a {list(ashape)}, b {list(bshape)}, p = (trans_a, trans_b)",
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


def attn_case(name, B, Hq, Hkv, Tq, Tk, D, Dv, causal, scale):
    q, k, v = rnd(B, Hq, Tq, D), rnd(B, Hkv, Tk, D), rnd(B, Hkv, Tk, Dv)
    case(name, f"attention: q [{B},{Hq},{Tq},{D}], k [{B},{Hkv},{Tk},{D}], v [{B},{Hkv},{Tk},{Dv}]; "
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


# ---- output ---------------------------------------------------------------------------------------
def fmt_floats(a):
    vals = []
    for v in np.asarray(a, dtype=np.float32).reshape(-1):
        assert np.isfinite(v)
        t = "%.9g" % float(v)
        vals.append(t if ("." in t or "e" in t) else t + ".0")  # "1f" is not a C literal
    lines, line = [], "    "
    for v in vals:
        piece = v + "f, "
        if len(line) + len(piece) > 100:
            lines.append(line.rstrip())
            line = "    "
        line += piece
    lines.append(line.rstrip())
    return "\n".join(lines)


def gt(arr, sym):
    shape = list(arr.shape) if arr.ndim else [1]
    dims = ", ".join(str(d) for d in shape)
    return "{%d, {%s}, %d, %s}" % (len(shape), dims, int(np.prod(shape)), sym)


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.path.join(root, "tests", "golden", "ops_golden.h")
    out = []
    out.append("/* GENERATED by tests/reference/gen_op_goldens.py -- do not edit.\n"
               " * Regenerate from the repository root with\n"
               " *     /usr/bin/python3 tests/reference/gen_op_goldens.py\n"
               " * (Debian python3-torch %s, numpy %s). Inputs are float32 values from a fixed\n"
               " * seed; expected outputs are PyTorch's float64 results rounded to float32.\n"
               " * Index inputs (ids, labels, positions) are integers stored as floats. */\n"
               % (torch.__version__, np.__version__))
    out.append("#ifndef HWA_TESTS_OPS_GOLDEN_H\n#define HWA_TESTS_OPS_GOLDEN_H\n\n#include <stdint.h>\n")
    out.append("typedef struct golden_tensor {\n    int ndim;\n    int64_t shape[4];\n    int64_t n;\n"
               "    const float *v;\n} golden_tensor;\n")
    out.append("typedef struct golden_case {\n    const char *name;\n    int n_in;\n    golden_tensor in[4];\n"
               "    golden_tensor out;\n    double p[8]; /* per-case parameters, see each comment */\n"
               "} golden_case;\n")
    seen = {}
    for name, comment, inputs, res, params in CASES:
        out.append("/* %s */" % comment)
        syms = []
        for i, a in enumerate(inputs):
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
    print("wrote %s: %d cases, %d bytes" % (path, len(CASES), len(text)), file=sys.stderr)


if __name__ == "__main__":
    main()
