"""PyTorch side of bench/cpu_matmul.sh: the same cases as cpu_matmul_bench.c,
validated, then timed; the same TSV rows."""
import sys
import time

import torch

threads = int(sys.argv[1])
quick = len(sys.argv) > 2 and sys.argv[2] == "quick"
torch.set_num_threads(threads)
torch.manual_seed(0)


def timed(case, fn, reps, work, unit, err, kernel):
    fn()
    t = []
    start = time.perf_counter()
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t.append((time.perf_counter() - t0) * 1e3)
        if len(t) >= 5 and time.perf_counter() - start > 4:
            break
    t.sort()
    print(f"{case}\tpytorch\t{t[len(t)//2]:.4f}\t{t[0]:.4f}\t{t[-1]:.4f}\t{work:.6g}\t{unit}\t{err:.3g}\t{kernel}", flush=True)


with torch.inference_mode():
    for m in (1, 64, 256):
        lin = torch.nn.Linear(1000, 1000)
        x = torch.rand(m, 1000) * 2 - 1
        y = lin(x)
        want = (x.double() @ lin.weight.double().T + lin.bias.double()).float()
        err = (y - want).abs().max().item()
        assert err < 1e-3, err
        reps = 10 if quick else {1: 400, 64: 200, 256: 60}[m]
        timed(f"linear1000 b{m}", lambda: lin(x), reps, 2 * m * 1e6 * 1e-9, "GFLOP", err, "nn.Linear")
    a = torch.rand(2048, 2048) * 2 - 1
    w = (torch.rand(2048, 2048) * 2 - 1) * 0.02
    y = a @ w.T
    err = (y[::511] - (a[::511].double() @ w.double().T).float()).abs().max().item()
    assert err < 1e-3, err
    timed("gemm2048", lambda: a @ w.T, 3 if quick else 7, 2 * 2048**3 * 1e-9, "GFLOP", err, "matmul")
    for shape, reps in (((64, 1000), 300), ((4096, 4096), 15)):
        a = torch.rand(*shape) * 2 - 1
        b = torch.rand(*shape) * 2 - 1
        n = shape[0] * shape[1]
        name = f"{shape[0]}x{shape[1]}"
        r = 3 if quick else reps
        timed(f"add {name}", lambda: a + b, r, 3 * n * 4e-9, "GB", 0, "torch.add")
        timed(f"relu {name}", lambda: torch.relu(a), r, 2 * n * 4e-9, "GB", 0, "torch.relu")
        sm = torch.softmax(a, -1)
        err = (sm.double() - torch.softmax(a.double(), -1)).abs().max().item()
        timed(f"softmax {name}", lambda: torch.softmax(a, -1), r, 2 * n * 4e-9, "GB", err, "torch.softmax")
