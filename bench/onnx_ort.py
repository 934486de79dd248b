#!/usr/bin/python3
"""hwadapt against ONNX Runtime on the same ONNX files, driven by bench/onnx.sh.

usage: onnx_ort.py HWADAPT OUT_DIR THREADS ROUNDS MIN_TIME MIN_QUERIES BATCHES MODEL.onnx...

For each model and batch (BATCHES: comma list):
1. validate: one random input (fixed seed, uniform [0, 1), the symbolic
   batch set), `hwadapt run MODEL --input NAME=x.npy --output-dir D`, and
   ONNX Runtime's outputs on the same input; every output must agree within
   1e-5 + 1e-4 x max |ORT's output|, else the script stops before timing;
2. time, in ROUNDS interleaved rounds (the order alternating, hwadapt first in
   odd rounds): hwadapt is one `hwadapt bench MODEL --batch N --threads T
   --scenario single --reps 1 --min-time S --min-queries Q --json` per round
   (its own warm-up and validation query each time; its p50 latency taken),
   ONNX Runtime is one timing loop of this process over the same session
   (warm-up before the first round; then single queries, each timed with
   perf_counter around session.run, until S seconds and Q queries; their
   p50 taken). ORT runs with intra_op_num_threads T, inter_op_num_threads 1,
   sequential execution, all graph optimizations (its default). When the
   file's base name is one of hwadapt's built-in workloads (fmnist-mlp,
   fmnist-cnn), that built-in graph is timed too, right after the file in
   each round: what importing costs against the graph hwadapt builds itself.
The row gives, per side, the median over rounds of the per-round p50 and the
spread of those (min-max, relative to the median), and hwadapt/ORT as the
median of the per-round ratios (paired: both sides of a round saw the same
machine) with their min-max. Writes OUT_DIR/onnx.md (the table) and
OUT_DIR/onnx.json (every round).
"""
import json
import os
import subprocess
import sys
import time

import numpy as np
import onnxruntime as ort

cli, out_dir, threads, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
min_time, min_queries = float(sys.argv[5]), int(sys.argv[6])
batches = [int(b) for b in sys.argv[7].split(",")]
models = sys.argv[8:]
TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
         "tensor(int32)": np.int32}


def session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, sess_options=so, providers=["CPUExecutionProvider"])


def inputs_for(sess, batch, rng):
    """{name: array} of random inputs, every symbolic dimension set to batch."""
    feed = {}
    for i in sess.get_inputs():
        if i.type not in TYPES:
            sys.exit(f"onnx_ort: input {i.name} of type {i.type}: this bench feeds float and int inputs only")
        shape = [d if isinstance(d, int) and d >= 0 else batch for d in i.shape]
        feed[i.name] = rng.random(shape).astype(TYPES[i.type])
    return feed


def validate(path, sess, feed, tag):
    work = os.path.join(out_dir, "validate", tag)
    os.makedirs(work, exist_ok=True)
    args = [cli, "run", path, "--output-dir", os.path.join(work, "out")]
    for name, x in feed.items():
        np.save(os.path.join(work, name + ".npy"), x)
        args += ["--input", f"{name}={os.path.join(work, name + '.npy')}"]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"onnx_ort: {tag}: hwadapt run failed ({r.returncode}): {r.stderr.strip() or r.stdout.strip()}")
    worst = 0.0
    for o, y in zip(sess.get_outputs(), sess.run(None, feed)):
        h = np.load(os.path.join(work, "out", o.name + ".npy"))
        if h.shape != y.shape:
            sys.exit(f"onnx_ort: {tag}: output {o.name}: hwadapt {h.shape}, ONNX Runtime {y.shape}")
        d = float(np.max(np.abs(h.astype(np.float64) - y.astype(np.float64))))
        tol = 1e-5 + 1e-4 * float(np.max(np.abs(y)))
        if not d <= tol:
            sys.exit(f"onnx_ort: {tag}: output {o.name} differs from ONNX Runtime's by {d:.3e} (> {tol:.1e})")
        worst = max(worst, d)
    return worst


def time_hwadapt(workload, batch, check=True):
    """One `hwadapt bench` visit: its p50 and load; None when it fails and check is false."""
    args = [cli, "bench", workload, "--batch", str(batch), "--threads", str(threads), "--scenario", "single",
            "--reps", "1", "--min-time", str(min_time), "--min-queries", str(min_queries), "--no-calibrate",
            "--json"]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0 and not check:
        return None
    if r.returncode != 0:
        sys.exit(f"onnx_ort: {' '.join(args[1:])} failed ({r.returncode}): {r.stderr.strip()}")
    row = json.loads(r.stdout)["results"][0]
    if row.get("skipped"):
        sys.exit(f"onnx_ort: hwadapt skipped {workload} at batch {batch}: {row.get('note')}")
    return {"p50_ms": row["latency_ms"]["p50"], "queries": row["queries"], "kernel": row.get("kernel"),
            "others_share": (row.get("load") or {}).get("others_share")}


def time_ort(sess, feed, warm):
    if warm:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 0.2:
            sess.run(None, feed)
    lat = []
    start = time.perf_counter()
    while len(lat) < min_queries or time.perf_counter() - start < min_time:
        t = time.perf_counter()
        sess.run(None, feed)
        lat.append(time.perf_counter() - t)
    return {"p50_ms": float(np.percentile(np.array(lat) * 1e3, 50)), "queries": len(lat)}


def summary(values):
    v = np.array(values)
    m = float(np.median(v))
    return m, float(v.min()), float(v.max())


rows, record = [], {"onnxruntime": ort.__version__, "threads": threads, "rounds": rounds, "min_time_s": min_time,
                    "min_queries": min_queries, "rows": []}
rng = np.random.default_rng(22)
for path in models:
    name = os.path.splitext(os.path.basename(path))[0]
    sess = session(path)
    for batch in batches:
        tag = f"{name}-b{batch}"
        feed = inputs_for(sess, batch, rng)
        err = validate(path, sess, feed, tag)
        # a built-in workload of the same name: timed beside the file when hwadapt has it
        builtin = name if time_hwadapt(name, batch, check=False) is not None else None
        h, o, b = [], [], []
        for k in range(rounds):
            if k % 2 == 0:
                h.append(time_hwadapt(path, batch))
                o.append(time_ort(sess, feed, k == 0))
            else:
                o.append(time_ort(sess, feed, False))
                h.append(time_hwadapt(path, batch))
            if builtin:
                b.append(time_hwadapt(builtin, batch))
        hp, op = [r["p50_ms"] for r in h], [r["p50_ms"] for r in o]
        hm, ho = summary(hp), summary(op)
        bm = summary([r["p50_ms"] for r in b]) if b else None
        ratio = summary([a / c for a, c in zip(hp, op)])
        others = [r["others_share"] for r in h if r["others_share"] is not None]
        rows.append((name, batch, hm, ho, ratio, err, bm, float(np.mean(others)) if others else None))
        record["rows"].append({"model": name, "batch": batch, "max_abs_diff": err, "hwadapt": h, "onnxruntime": o,
                               "hwadapt_builtin": b})
        print(f"  {tag}: hwadapt {hm[0]:.3f} ms, ONNX Runtime {ho[0]:.3f} ms, {ratio[0]:.2f}x", file=sys.stderr)


def spread(s):
    m, lo, hi = s
    return f"{(hi - lo) / m * 100:.0f}%" if m > 0 else "-"


lines = [f"hwadapt vs ONNX Runtime {ort.__version__} (CPUExecutionProvider), {threads} thread(s), single stream, "
         f"{rounds} interleaved rounds of >= {min_time:g} s and {min_queries} queries each",
         "",
         "| model | batch | hwadapt p50 ms | spread | ORT p50 ms | spread | hwadapt / ORT [min, max] | "
         "hwadapt samples/s | ORT samples/s | built-in p50 ms | max abs diff | others' CPU share |",
         "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
for name, batch, hm, ho, ratio, err, bm, others in rows:
    lines.append(f"| {name} | {batch} | {hm[0]:.3f} | {spread(hm)} | {ho[0]:.3f} | {spread(ho)} | "
                 f"{ratio[0]:.2f}x [{ratio[1]:.2f}, {ratio[2]:.2f}] | {batch / hm[0] * 1e3:.0f} | "
                 f"{batch / ho[0] * 1e3:.0f} | {'-' if bm is None else f'{bm[0]:.3f}'} | {err:.1e} | {'-' if others is None else f'{others * 100:.0f}%'} |")
lines += ["", "spread: (max - min) / median of the rounds' p50; hwadapt / ORT: the median of the rounds' "
          "ratios (below 1: hwadapt faster); built-in: hwadapt's own graph of the same name, when it has one; "
          "others' CPU share: what other processes took while hwadapt "
          "measured (hwadapt's load record)"]
text = "\n".join(lines) + "\n"
print(text, end="")
with open(os.path.join(out_dir, "onnx.md"), "w") as f:
    f.write(text)
with open(os.path.join(out_dir, "onnx.json"), "w") as f:
    json.dump(record, f, indent=1)
