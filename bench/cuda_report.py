#!/usr/bin/python3
"""The Markdown table of bench/cuda.sh, from the raw rows it wrote into OUT:
gemm.tsv (bench/cuda_bench.c's rows), linear.jsonl and decode.jsonl (hwadapt
bench reports and bench/cuda_torch.py lines, one per process, tagged by
"side"), props.tsv (cuda_bench props: the GPU's memory clock and bus width).

usage: cuda_report.py --out OUT --gpu NAME [--quick] [--torch PYTHON]

Medians over the rounds; every ratio is between figures taken the same way
(wall time against wall time). Only the Python standard library is used.
"""
import argparse
import json
import os
import statistics
import struct
import sys


def verdict(ok, quick):
    return "" if quick or ok is None else ("ok" if ok else "MISS")


def read_jsonl(path):
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        rows.append(json.loads(line))
                    except ValueError:
                        rows.append({"side": "?", "error": "unreadable line: " + line[:120]})
    return rows


def hw_rows(rows):
    """hwadapt's first result of each round (a report with "results"), and the errors."""
    res = [r["results"][0] for r in rows if r.get("side") == "hwadapt" and r.get("results")]
    errs = list(dict.fromkeys(r["error"] for r in rows if r.get("side") in ("hwadapt", "setup") and r.get("error")))
    return res, errs


def torch_rows(rows, case):
    ok = [r for r in rows if r.get("impl", "").startswith("pytorch") and r.get("case") == case]
    errs = [r for r in rows if r.get("side") == "pytorch"]
    return ok, errs


def med(values):
    values = [v for v in values if isinstance(v, (int, float))]
    return statistics.median(values) if values else None


def fmt(v, spec="%.3g"):
    return "n/a" if v is None else spec % v


def hbm_bandwidth(decode_reports, props_path, gpu, device):
    """(GB/s, where it came from): hwadapt's calibration of cuda:0, else the
    driver's memory clock and bus width, else a table of the data sheets."""
    for rep in decode_reports:
        for d in (rep.get("passport") or {}).get("devices", []):
            if d.get("id") == device and d.get("bandwidth_gbs"):
                return d["bandwidth_gbs"], "hwadapt's calibration of %s (measured)" % device
    try:
        with open(props_path) as f:
            name, clock_khz, bus_bits, gbs = f.readline().rstrip("\n").split("\t")
        if float(gbs) > 0:
            return float(gbs), "the driver's peak memory clock (%d MHz) x bus width (%s bits), two transfers a clock" % (
                int(clock_khz) // 1000, bus_bits)
    except (OSError, ValueError):
        pass
    n = gpu.upper()
    table = (("H200", 4800, "H200 data sheet, 4.8 TB/s"), ("H100 PCIE", 2000, "H100 PCIe data sheet, 2.0 TB/s"),
             ("H100 NVL", 3900, "H100 NVL data sheet, 3.9 TB/s"), ("H100", 3350, "H100 SXM data sheet, 3.35 TB/s"))
    for key, gbs, src in table:
        if all(part in n for part in key.split()):
            return gbs, src + " (by the GPU's name)"
    return None, "unknown (no calibration, no driver figures, a GPU name not in the table)"


def weight_bytes_per_token(ckpt, torch_lines):
    """Bytes of bf16 matrices one decode step reads: the seven matrices of
    each layer and the classifier (the checkpoint's header gives the shapes)."""
    try:
        with open(ckpt, "rb") as f:
            dim, hidden, L, H, Hkv, vocab, _ = struct.unpack("<7i", f.read(28))
        kv = dim // H * Hkv
        return (L * (2 * dim * dim + 2 * dim * kv + 3 * dim * hidden) + abs(vocab) * dim) * 2
    except (OSError, struct.error, ZeroDivisionError):
        b = [t.get("weight_bytes_per_token") for t in torch_lines]
        return med(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--gpu", default="")
    ap.add_argument("--device", default="cuda:0")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--torch", default="")
    ap.add_argument("--ckpt", default="")
    a = ap.parse_args()
    q = a.quick
    lines = []
    notes = []
    P = lambda *c: lines.append("| " + " | ".join(str(x) for x in c) + " |")

    # ---- GEMM
    gemm = {}
    gemm_err = None
    try:
        with open(os.path.join(a.out, "gemm.tsv")) as f:
            for row in f:
                c = row.rstrip("\n").split("\t")
                if len(c) >= 9:
                    gemm[c[1]] = {"case": c[0], "ms": float(c[2]), "min": float(c[3]), "max": float(c[4]),
                                  "work": float(c[5]), "err": c[7], "kernel": c[8]}
                elif len(c) >= 3:
                    gemm_err = "%s: %s" % (c[1], c[2])
    except (OSError, ValueError) as e:
        gemm_err = "no GEMM rows (%s)" % e
    lines.append("| comparison | hwadapt | peer | hwadapt / peer | target | verdict |")
    lines.append("|---|---|---|---|---|---|")
    hw, lw, le = gemm.get("hwadapt cuda:0"), gemm.get("cublaslt-direct wall"), gemm.get("cublaslt-direct events")
    if hw and lw:
        t_hw, t_lw = hw["work"] / (hw["ms"] / 1e3), lw["work"] / (lw["ms"] / 1e3)
        t_le = le["work"] / (le["ms"] / 1e3) if le else None
        r = t_hw / t_lw
        P(hw["case"] + ", TFLOP/s (median of interleaved rounds)", "%.1f (`%s`)" % (t_hw, hw["kernel"]),
          "cuBLASLt %.1f (cudaEvent time: %s)" % (t_lw, fmt(t_le, "%.1f")), "%.1f %%" % (100 * r), ">= 95 %",
          verdict(r >= 0.95, q))
    else:
        P("GEMM bf16, TFLOP/s", "FAILED" if gemm_err and "n/a" not in gemm_err else "n/a", "", "", ">= 95 %",
          gemm_err or "no rows")

    # ---- linear1000
    lin_rows = read_jsonl(os.path.join(a.out, "linear.jsonl"))
    lh, lerr = hw_rows(lin_rows)
    lt, lterr = torch_rows(lin_rows, "linear1000")
    p_hw = med([r["latency_ms"]["p50"] for r in lh if r.get("latency_ms")])
    p_t = med([t["p50_ms"] for t in lt])
    kern = lh[0].get("kernel", "n/a") if lh else "n/a"
    if p_hw is not None:
        peer = "PyTorch %s ms" % fmt(p_t, "%.4f") if p_t is not None else \
            "PyTorch n/a (%s)" % (lterr[-1].get("error") if lterr else "not run: no python3 with torch")
        ratio = p_hw / p_t if p_t else None
        P("linear1000 batch 64 f32, p50 latency ms (%d rounds)" % len(lh), "%.4f (`%s`)" % (p_hw, kern), peer,
          fmt(ratio, "%.2f x"), "<= 1 x", verdict(None if ratio is None else ratio <= 1.0, q))
    else:
        P("linear1000 batch 64 f32, p50 latency ms", "FAILED", "", "", "<= 1 x", "; ".join(lerr) or "no rows")

    # ---- decode
    dec_rows = read_jsonl(os.path.join(a.out, "decode.jsonl"))
    reports = [r for r in dec_rows if r.get("side") == "hwadapt" and r.get("results")]
    dh, derr = hw_rows(dec_rows)
    dt, dterr = torch_rows(dec_rows, "decode")
    tok_hw = med([r.get("samples_per_s") for r in dh])
    tok_t = med([t["tokens_per_s"] for t in dt])
    ckpt = a.ckpt
    if not ckpt:
        for name in ("llama-1b.bin", "llama-1b-2layers.bin"):
            p = os.path.join(a.out, "models", name)
            if os.path.exists(p) and (("2layers" in name) == q):
                ckpt = p
    wbytes = weight_bytes_per_token(ckpt, dt)
    bw, bw_src = hbm_bandwidth(reports, os.path.join(a.out, "props.tsv"), a.gpu, a.device)
    bound = bw * 1e9 / wbytes if bw and wbytes else None
    model = "1.04B Llama" if not q else "1B-shaped Llama, 2 layers"
    if tok_hw is not None:
        peer = "PyTorch eager %s" % fmt(tok_t, "%.1f") if tok_t is not None else \
            "PyTorch n/a (%s)" % (dterr[-1].get("error") if dterr else "not run: no python3 with torch")
        P("%s decode bf16, tokens/s (%d rounds)" % (model, len(dh)), "%.1f (`%s`)" % (tok_hw, dh[0].get("kernel", "n/a")),
          peer, fmt(tok_hw / tok_t if tok_t else None, "%.2f x"), "", "")
        share = tok_hw / bound if bound else None
        P("decode: share of the HBM bound", "%s of %s tokens/s" % (fmt(share and 100 * share, "%.1f %%"), fmt(bound, "%.0f")),
          "PyTorch %s" % fmt(tok_t / bound * 100 if (tok_t and bound) else None, "%.1f %%"), "", ">= 75 %",
          verdict(None if share is None else share >= 0.75, q))
    else:
        P("%s decode bf16, tokens/s" % model, "FAILED", "", "", "", "; ".join(derr) or "no rows")

    # ---- energy
    for label, rows, unit in (("linear1000", lh, "sample"), ("decode", dh, "token")):
        if not rows:
            continue
        e = med([r.get("energy_j_per_sample") for r in rows])
        idle = med([r.get("idle_power_w") for r in rows])
        pw = med([r.get("power_w") for r in rows])
        why = ""
        if e is None:
            why = next((n.split("energy n/a: ", 1)[1].split(";")[0] for n in (r.get("note") or "" for r in rows)
                        if "energy n/a: " in n), "no power meter reported")
        P("energy, %s (NVML)" % label, "%s J/%s, %s W above an idle %s W" % (fmt(e, "%.3g"), unit, fmt(pw, "%.0f"),
                                                                          fmt(idle, "%.0f")) if e is not None
          else "n/a: " + why, "", "", "", "")

    notes.append("HBM bound: %s weight bytes a token (bf16 matrices and the classifier) / %s GB/s; bandwidth from %s."
                 % (fmt(wbytes, "%.4g"), fmt(bw, "%.0f"), bw_src))
    if lt:
        notes.append("PyTorch %s; each forward or decode step waited for (torch.cuda.synchronize), TF32 off." %
                     lt[0].get("torch", "?"))
    elif dt:
        notes.append("PyTorch %s (eager; each step waited for)." % dt[0].get("torch", "?"))
    for e in lterr + dterr:
        if e.get("skip"):
            notes.append("PyTorch skipped: %s" % e.get("error"))
            break
    try:
        with open(os.path.join(a.out, "torch_check.txt")) as f:
            check = f.read().strip()
    except OSError:
        check = ""
    if check == "same":
        notes.append("PyTorch's Llama forward (bench/cuda_torch.py) gives hwadapt's greedy text on stories260K.")
    elif check:
        notes.append("PyTorch's Llama forward: its greedy text on stories260K %s hwadapt's: its decode figures are "
                     "not validated." % ("differs from" if check == "differs" else "could not be compared with (%s)" % check))
    print("%s = %s%s" % (a.device, a.gpu, " (BENCH_QUICK: small sizes, targets not judged)" if q else ""))
    print()
    print("\n".join(lines))
    print()
    for n in notes:
        print("- " + n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
