"""Merges the TSV rows of cpu_matmul_bench and cpu_matmul_torch.py into one
table with ratios against the peers, and checks the issue's targets."""
import sys
from collections import OrderedDict

threads, c_tsv, torch_tsv = sys.argv[1], sys.argv[2], sys.argv[3]
rows = OrderedDict()
for path in (c_tsv, torch_tsv):
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        if len(f) < 9:
            continue
        case, impl = f[0], f[1]
        rows.setdefault(case, OrderedDict())[impl] = dict(
            med=float(f[2]), lo=float(f[3]), hi=float(f[4]), work=float(f[5]), unit=f[6], err=float(f[7]), kernel=f[8])

print(f"hwadapt CPU backend vs peers, {threads} thread(s); times in ms (median, min-max); rate = work / median")
print(f"{'case':<20} {'impl':<13} {'median':>9} {'min':>9} {'max':>9} {'rate':>12} {'max|err|':>9} {'vs hwadapt':>10}  kernel")
for case, impls in rows.items():
    base = impls.get("hwadapt")
    for impl, r in impls.items():
        rate = r["work"] / (r["med"] * 1e-3)
        unit = "GFLOP/s" if r["unit"] == "GFLOP" else "GB/s"
        ratio = f"{r['med'] / base['med']:.2f}x" if base and impl != "hwadapt" else ""
        print(f"{case:<20} {impl:<13} {r['med']:9.4f} {r['lo']:9.4f} {r['hi']:9.4f} {rate:8.1f} {unit:<7}"
              f" {r['err']:9.2g} {ratio:>10}  {r['kernel']}")

print("\nacceptance (issue 3):")


def get(case, impl):
    return rows.get(case, {}).get(impl)


def check(label, ok, detail):
    print(f"  [{'PASS' if ok else 'FAIL'}] {label}: {detail}")


h, d, p = get("linear1000 b64", "hwadapt"), get("linear1000 b64", "onednn"), get("linear1000 b64", "pytorch")
if h and d:
    check("Linear b64 f32 <= 1.05x direct oneDNN", h["med"] <= 1.05 * d["med"], f"{h['med'] / d['med']:.3f}x")
if h and p:
    check("Linear b64 f32 >= 3x faster than PyTorch nn.Linear", p["med"] >= 3 * h["med"], f"{p['med'] / h['med']:.2f}x")
hb, hi = get("linear1000 b64", "hwadapt-bf16"), get("linear1000 b64", "hwadapt-int8")
if h and hb:
    check("Linear b64 bf16 >= 8x hwadapt f32", h["med"] >= 8 * hb["med"],
          f"{h['med'] / hb['med']:.2f}x, max abs err vs f32 {hb['err']:.3g} ({hb['kernel']})")
db = get("linear1000 b64", "onednn-bf16")
if db and d:
    print(f"  [info] direct oneDNN bf16 (inputs already bf16): {d['med'] / db['med']:.2f}x direct oneDNN f32"
          + (f"; hwadapt bf16 takes {hb['med'] / db['med']:.2f}x its time" if hb else ""))
if h and hi:
    print(f"  [info] Linear b64 int8: {h['med'] / hi['med']:.2f}x hwadapt f32, max abs err vs f32 {hi['err']:.3g} ({hi['kernel']})")
g, gd = get("gemm2048", "hwadapt"), get("gemm2048", "onednn")
if g and gd:
    check("GEMM 2048^3 >= 95% of oneDNN GFLOP/s", gd["med"] / g["med"] >= 0.95, f"{100 * gd['med'] / g['med']:.1f}%")
cp = get("copy 16M", "memcpy")
for op in ("add", "relu"):
    e = get(f"{op} 16M", "hwadapt")
    if e and cp:
        bw_op = e["work"] / (e["med"] * 1e-3)
        bw_cp = cp["work"] / (cp["med"] * 1e-3)
        check(f"{op} over 16M f32 >= 70% of copy bandwidth", bw_op >= 0.7 * bw_cp,
              f"{bw_op:.1f} GB/s vs {bw_cp:.1f} GB/s = {100 * bw_op / bw_cp:.0f}%")
