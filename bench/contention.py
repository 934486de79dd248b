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
import os
import signal
import statistics
import subprocess
import sys
import time

HW = os.environ.get("HWA_CLI", "./build/hwadapt")
DATA = os.environ.get("HWA_DATA_DIR", "../shared/data")
REPS = int(os.environ.get("REPS", "7"))
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
    out = run([HW, "bench", "linear1000", "--threads", str(threads), "--min-time", "0.5", "--warmup", "0.1",
               "--no-calibrate", "--json"], env)
    row, share = bench_row(out)
    return row["latency_ms"]["p50"], share


def decode(threads, env):
    out = run([HW, "bench", MODEL, "--threads", str(threads), "--min-queries", "64", "--min-time", "0",
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

    print("checks:")
    ok = True
    for wname, _, unit, higher in WORKLOADS:
        one, two = med[(wname, "contended", "default", 1)], med[(wname, "contended", "default", 2)]
        slower = (two < one) if higher else (two > one)
        ratio = (one / two) if not higher else (two / one)
        print("  %-16s contended, default: 2 threads %s 1 thread (2-thread speed %.2fx of 1-thread)   %s" % (
            wname, "slower than" if slower else "not slower than", ratio, "FAIL" if slower else "PASS"))
        ok &= not slower
    for wname, _, unit, higher in WORKLOADS:
        d = med[(wname, "idle", "default", 2)]
        best = max if higher else min
        b = best(med[(wname, "idle", "omp-active", 2)], med[(wname, "idle", "omp-passive", 2)])
        within = (d >= b * 0.9) if higher else (d <= b * 1.1)
        print("  %-16s idle, 2 threads: default %.4g %s vs best of OpenMP active/passive %.4g (%+.1f%%)   %s" % (
            wname, d, unit, b, 100 * ((d / b - 1) if not higher else (b / d - 1)), "PASS" if within else "FAIL"))
        ok &= within
    flagged = all(res[(w, "contended", p, t)][1] and statistics.median(res[(w, "contended", p, t)][1]) >= 0.2
                  for w, _, _, _ in WORKLOADS for p, t in configs)
    print("  contended rows carry the share others took (>= 20%% in every contended row)   %s" % (
        "PASS" if flagged else "FAIL"))
    ok &= flagged
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
