"""Side by side, in one run: hwadapt's thread and wait-policy settings on an
idle machine and with one competing busy process, on three workloads
(linear1000 queries, a 64-token stories260K decode, one fmnist-mlp epoch).

Every configuration is run once per repetition, interleaved (A B C ... A B C
...), idle and contended blocks alternating, and the table gives medians over
the repetitions. The competing process is a busy loop this script starts
before each contended block and stops after it. The share of the CPUs that
other processes took during each hwadapt run is the one hwadapt itself
measured and reported (bench JSON rows, train's epoch JSON).

Run by bench/contention.sh; prints the table and the acceptance checks."""
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import time

HW = os.environ.get("HWA_CLI", "./build/hwadapt")
DATA = os.environ.get("HWA_DATA_DIR", "../shared/data")
REPS = int(os.environ.get("REPS", "5"))
MODEL = os.path.join(DATA, "stories260K", "stories260K.bin")

# name -> environment: "default" is what a user gets (the command sets a
# short libgomp spin itself); active/passive are OpenMP's two policies.
POLICIES = {
    "default": {},
    "omp-active": {"OMP_WAIT_POLICY": "active"},
    "omp-passive": {"OMP_WAIT_POLICY": "passive"},
}
THREADS = [1, 2]


def run(cmd, env_extra):
    env = dict(os.environ)
    for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "HWA_OMP_REEXEC", "HWA_NUM_THREADS"):
        env.pop(k, None)
    env.update(env_extra)
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), p.stderr[-2000:]))
    return p.stdout


def bench_row(out):
    row = json.loads(out)["results"][0]
    load = row.get("load") or {}
    return row, load.get("others_share")


def linear1000(threads, env):
    out = run([HW, "bench", "linear1000", "--threads", str(threads), "--min-time", "0.5", "--warmup", "0.1", "-r", "1",
               "--no-calibrate", "--json"], env)
    row, share = bench_row(out)
    return row["latency_ms"]["p50"], share


def decode(threads, env):
    # at least 64 tokens and 0.3 s of decoding (64 tokens alone take ~15 ms,
    # less than one scheduler time slice: too short to say anything)
    out = run([HW, "bench", MODEL, "--threads", str(threads), "--min-queries", "64", "--min-time", "0.3", "-r", "1",
               "--warmup", "0.02", "--no-calibrate", "--json"], env)
    row, share = bench_row(out)
    return row["samples_per_s"], share


def epoch(threads, env):
    out = run([HW, "train", "--epochs", "1", "--threads", str(threads), "--json", "--quiet"], env)
    ep = json.loads(out.strip().splitlines()[-1])
    load = ep.get("load") or {}
    return ep["seconds"], load.get("others_share")


# name, function, unit, whether higher is better
WORKLOADS = [
    ("linear1000 p50", linear1000, "ms", False),
    ("decode 64 tok", decode, "tok/s", True),
    ("fmnist epoch", epoch, "s", False),
]


# Student's t, 0.975 quantile, for df = 1..30 (the interval of a paired ratio)
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def speed_ratio(a, b, higher):
    """Speed of a over b, paired by repetition: the geometric mean of the
    per-repetition ratios and its 95 % t-interval on the log-ratios (the
    method of docs/bench.md)."""
    logs = [math.log((x / y) if higher else (y / x)) for x, y in zip(a, b)]
    n = len(logs)
    m = sum(logs) / n
    if n < 2:
        return math.exp(m), float("nan"), float("nan")
    sd = statistics.stdev(logs)
    h = T975[min(n - 1, 30) - 1] * sd / math.sqrt(n)
    return math.exp(m), math.exp(m - h), math.exp(m + h)


def busy_start():
    return subprocess.Popen(["bash", "-c", "while :; do :; done"], start_new_session=True)


def busy_stop(p):
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()


def main():
    configs = [(pol, t) for pol in POLICIES for t in THREADS]
    res = {}  # (workload, cond, pol, t) -> [values], shares
    for rep in range(REPS):
        for cond in ("idle", "contended"):
            busy = busy_start() if cond == "contended" else None
            if busy:
                time.sleep(0.3)
            try:
                for wname, fn, _, _ in WORKLOADS:
                    order = configs if rep % 2 == 0 else configs[::-1]
                    for pol, t in order:
                        v, share = fn(t, POLICIES[pol])
                        e = res.setdefault((wname, cond, pol, t), ([], []))
                        e[0].append(v)
                        if share is not None:
                            e[1].append(share)
            finally:
                if busy:
                    busy_stop(busy)
        print("repetition %d/%d done" % (rep + 1, REPS), file=sys.stderr)

    print("\n%d repetitions, interleaved; medians (min-max); 'others' = median share of the CPUs other processes "
          "took during the run, as hwadapt measured it\n" % REPS)
    print("%-16s %-10s %-12s %3s %12s %20s %8s" % ("workload", "machine", "policy", "thr", "median", "min-max", "others"))
    med = {}
    for wname, _, unit, _ in WORKLOADS:
        for cond in ("idle", "contended"):
            for pol, t in configs:
                vals, shares = res[(wname, cond, pol, t)]
                m = statistics.median(vals)
                med[(wname, cond, pol, t)] = m
                sh = "%5.0f%%" % (100 * statistics.median(shares)) if shares else "n/a"
                print("%-16s %-10s %-12s %3d %9.4g %-2s %9.4g-%-9.4g %8s" % (wname, cond, pol, t, m, unit, min(vals),
                                                                         max(vals), sh))
        print()

    print("checks (speed ratios paired by repetition, with 95 % intervals; 'slower' means the whole interval is "
          "below 1):")
    ok = True
    for wname, _, unit, higher in WORKLOADS:
        r, lo, hi = speed_ratio(res[(wname, "contended", "default", 2)][0], res[(wname, "contended", "default", 1)][0],
                                higher)
        slower = hi < 1
        print("  %-16s contended, default: 2 threads at %.2fx [%.2f, %.2f] the speed of 1 thread   %s" % (
            wname, r, lo, hi, "FAIL (slower)" if slower else "PASS (not slower)"))
        ok &= not slower
    for wname, _, unit, higher in WORKLOADS:
        best_pol = max(("omp-active", "omp-passive"),
                       key=lambda p: speed_ratio(res[(wname, "idle", p, 2)][0], res[(wname, "idle", "default", 2)][0],
                                                 higher)[0])
        r, lo, hi = speed_ratio(res[(wname, "idle", "default", 2)][0], res[(wname, "idle", best_pol, 2)][0], higher)
        within = r >= 0.9
        print("  %-16s idle, 2 threads: default at %.2fx [%.2f, %.2f] the speed of the better OpenMP policy (%s)   %s" % (
            wname, r, lo, hi, best_pol, "PASS (within 10%)" if within else "FAIL"))
        ok &= within
    flagged = all(res[(w, "contended", p, t)][1] and statistics.median(res[(w, "contended", p, t)][1]) >= 0.2
                  for w, _, _, _ in WORKLOADS for p, t in configs)
    print("  contended rows carry the share others took (>= 20%% in every contended row)   %s" % (
        "PASS" if flagged else "FAIL"))
    ok &= flagged
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
