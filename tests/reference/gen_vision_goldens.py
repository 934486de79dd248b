#!/usr/bin/python3
"""Writes tests/golden/vision_golden.h: inputs and PyTorch outputs for the
vision ops (hwa_pool2d, hwa_global_avg_pool, hwa_batchnorm,
hwa_batchnorm_train), read by tests/test_ops_vision.c.

Run from the repository root with Debian's python3-torch (1.13) and numpy:

    /usr/bin/python3 tests/reference/gen_vision_goldens.py

Inputs are float32 from a fixed seed; PyTorch computes in float64 and the
results are rounded to float32 when printed. Pooling uses F.max_pool2d and
F.avg_pool2d; pads that PyTorch's own padding cannot express (asymmetric)
are applied with F.pad first: -inf for max pooling (padding never wins),
zeros for average pooling that counts the pads. The training batch norm
case also records the running statistics after one update and the
gradients of x, weight and bias for the loss sum(y * R).
"""
import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
RNG = np.random.RandomState(20261206)
OUT = "tests/golden/vision_golden.h"


def rnd(*shape, lo=-2.0, hi=2.0):
    return RNG.uniform(lo, hi, size=shape).astype(np.float32)


def t(a):
    return torch.tensor(a.astype(np.float64))


CASES = []  # dicts: name, kind, p (12 ints), f (2 floats), arrays (name -> (shape, values))


def pool_case(name, kind, shape, k, s, pad, dil=(1, 1), ceil=False, cip=False):
    """pad: top, left, bottom, right."""
    x = rnd(*shape)
    xt = t(x)
    pt, pl, pb, pr = pad
    if pt == pb and pl == pr:
        if kind == 0:
            y = F.max_pool2d(xt, k, s, (pt, pl), dil, ceil_mode=ceil)
        else:
            y = F.avg_pool2d(xt, k, s, (pt, pl), ceil_mode=ceil, count_include_pad=cip)
    else:
        assert not ceil and (kind == 0 or cip)
        xp = F.pad(xt, (pl, pr, pt, pb), value=-float("inf") if kind == 0 else 0.0)
        y = F.max_pool2d(xp, k, s, 0, dil) if kind == 0 else F.avg_pool2d(xp, k, s, 0)
    p = [kind, k[0], k[1], s[0], s[1], pt, pl, pb, pr, dil[0], dil[1], int(ceil) | (int(cip) << 1)]
    CASES.append(dict(name=name, kind="pool", p=p, f=[0.0, 0.0], x=(shape, x), y=(tuple(y.shape), y.numpy())))


def gap_case(name, shape):
    x = rnd(*shape)
    y = F.adaptive_avg_pool2d(t(x), 1)
    CASES.append(dict(name=name, kind="gap", p=[0] * 12, f=[0.0, 0.0], x=(shape, x), y=(tuple(y.shape), y.numpy())))


def bn_case(name, shape, train, eps=1e-5, mom=0.1):
    C = shape[1]
    x = rnd(*shape)
    w = rnd(C, lo=0.5, hi=1.5)
    b = rnd(C)
    mean = rnd(C, lo=-0.5, hi=0.5)
    var = rnd(C, lo=0.5, hi=2.0)
    rm, rv = t(mean), t(var)
    xt = t(x).requires_grad_(True)
    wt = t(w).requires_grad_(True)
    bt = t(b).requires_grad_(True)
    y = F.batch_norm(xt, rm, rv, wt, bt, training=train, momentum=mom, eps=eps)
    c = dict(name=name, kind="bn_train" if train else "bn", p=[0] * 12, f=[eps, mom], x=(shape, x),
             w=((C,), w), b=((C,), b), stats=((2, C), np.stack([mean, var])), y=(tuple(y.shape), y.detach().numpy()))
    if train:
        r = rnd(*shape)
        (y * t(r)).sum().backward()
        c["r"] = (shape, r)
        c["run"] = ((2, C), np.stack([rm.numpy(), rv.numpy()]))
        c["dx"] = (shape, xt.grad.numpy())
        c["dw"] = ((C,), wt.grad.numpy())
        c["db"] = ((C,), bt.grad.numpy())
    CASES.append(c)


pool_case("max 3x3/2 pads 1", 0, (2, 3, 9, 11), (3, 3), (2, 2), (1, 1, 1, 1))
pool_case("max 3x3/2 pads 1 ceil", 0, (1, 2, 8, 10), (3, 3), (2, 2), (1, 1, 1, 1), ceil=True)
pool_case("max 3x2 stride (1,2) pads 1 dilation (2,3)", 0, (1, 2, 12, 13), (3, 2), (1, 2), (1, 1, 1, 1), (2, 3))
pool_case("max 2x2 stride 3 (stride > kernel)", 0, (2, 2, 10, 11), (2, 2), (3, 3), (0, 0, 0, 0))
pool_case("max 3x3/2 asymmetric pads (1,0,2,1)", 0, (1, 2, 8, 7), (3, 3), (2, 2), (1, 0, 2, 1))
pool_case("avg 3x3/2 pads 1 count_include_pad", 1, (2, 3, 9, 10), (3, 3), (2, 2), (1, 1, 1, 1), cip=True)
pool_case("avg 3x3/2 pads 1 exclude pads", 1, (2, 3, 9, 10), (3, 3), (2, 2), (1, 1, 1, 1), cip=False)
pool_case("avg 3x3/2 pads 1 ceil count_include_pad", 1, (1, 2, 8, 10), (3, 3), (2, 2), (1, 1, 1, 1), ceil=True,
          cip=True)
pool_case("avg 3x3/2 pads 1 ceil exclude pads", 1, (1, 2, 8, 10), (3, 3), (2, 2), (1, 1, 1, 1), ceil=True, cip=False)
pool_case("avg 2x3 stride (3,4) pads (0,1) ceil (stride > kernel)", 1, (1, 2, 11, 13), (2, 3), (3, 4),
          (0, 1, 0, 1), ceil=True)
pool_case("avg 2x2/2 asymmetric pads (0,1,1,0) count_include_pad", 1, (1, 2, 7, 8), (2, 2), (2, 2), (0, 1, 1, 0),
          cip=True)
gap_case("global average 2x5x7x9", (2, 5, 7, 9))
bn_case("batchnorm eval [N,C,H,W]", (2, 3, 5, 7), False)
bn_case("batchnorm eval [N,C]", (6, 10), False)
bn_case("batchnorm train [N,C,H,W]", (4, 3, 5, 6), True)
bn_case("batchnorm train [N,C,L]", (3, 4, 9), True)


def arr(name, a):
    v = np.asarray(a, dtype=np.float32).ravel()
    body = ",".join(repr(float(x)) + "f" if np.isfinite(x) else "-INFINITY" for x in v)
    return f"static const float {name}[{len(v)}] = {{{body}}};\n"


KEYS = ["x", "w", "b", "stats", "y", "r", "run", "dx", "dw", "db"]
with open(OUT, "w") as f:
    f.write("/* Generated by tests/reference/gen_vision_goldens.py (PyTorch %s); do not edit. */\n" % torch.__version__)
    f.write("#ifndef HWA_VISION_GOLDEN_H\n#define HWA_VISION_GOLDEN_H\n\n")
    for i, c in enumerate(CASES):
        for k in KEYS:
            if k in c:
                f.write(arr(f"vg{i}_{k}", c[k][1]))
    f.write("\ntypedef struct vg_case {\n    const char *name, *kind;\n    int p[12];\n    float f[2];\n"
            "    int x_ndim;\n    int64_t x_shape[4], y_shape[4];\n")
    for k in KEYS:
        f.write(f"    const float *{k};\n")
    f.write("} vg_case;\n\nstatic const vg_case vg_cases[] = {\n")
    for i, c in enumerate(CASES):
        xs = list(c["x"][0]) + [1] * (4 - len(c["x"][0]))
        ys = list(c["y"][0]) + [1] * (4 - len(c["y"][0]))
        ptrs = ", ".join(f"vg{i}_{k}" if k in c else "NULL" for k in KEYS)
        f.write(f'    {{"{c["name"]}", "{c["kind"]}", {{{", ".join(map(str, c["p"]))}}}, '
                f'{{{repr(c["f"][0])}f, {repr(c["f"][1])}f}}, {len(c["x"][0])}, {{{", ".join(map(str, xs))}}}, '
                f'{{{", ".join(map(str, ys))}}}, {ptrs}}},\n')
    f.write("};\n\n#endif\n")
print("wrote", OUT, len(CASES), "cases")
