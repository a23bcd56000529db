#!/usr/bin/env python3
"""The PyTorch side of bench/gpu: the same retrieval math as hopc's bench/gpu/bench.ts, timed in
PyTorch on CUDA (the lent H200), on the same data, with every cell checked against float64.

  python3 bench/gpu/torch_bench.py [--tiny] [--out FILE.json] [--max-seconds S] [--min-time S]
                                   [--maps a,b] [--backend auto|torch|numpy] [--device cuda|cpu]

Per step, with theta = beta * X q (rows of the batch at once; fp32, TF32 disabled):
  softmax       eager: p = softmax(theta); q = X^T p.   sdpa: F.scaled_dot_product_attention
                with K = V = X and scale = beta (the library's fused attention).
  1.5-entmax    the exact sort-based formula (MATH.md 3.3; the entmax package's entmax15).
  sparsemax     the exact sort-based formula (MATH.md 3.2).
  2-normmax     2-normmax(z) = L1-normalize(sqrt(entmax15(2 z))) (MATH.md 3.6): the 1.5-entmax
                threshold of z - max z, weights (z - max z - tau)_+ / sum.
  topk-softmax  torch.topk(theta, 32), softmax over the kept scores, readout from the 32 rows.
Timing: one warm-up call, then calls until >= 3 were timed and --min-time seconds (default 0.5)
passed; the median.
On CUDA a call is timed with CUDA events around it (inputs and outputs stay on the GPU); the wall
time with a synchronize is kept too. GFLOP/s = 4 M D B steps / time; GB/s = 4 M D steps / time
(X in float32 read once per step), the formulas of bench.ts.

Check: the first queries (--check-queries, default 4) of every cell against a float64 computation
made independently of the timed code: the thresholds by bisection (then exact on the support), not
by sorting; top-k by a partition, ties kept by the lowest index. Error = max |a - ref| / max |ref|
over their final states; above --tol (1e-3) a method is FAILED and its figures are not reported.
The float64 products run in torch on the GPU where torch runs (numpy otherwise).

Without torch (or without CUDA, unless --backend torch --device cpu) the eager formulas run in
numpy on the CPU, labelled device "numpy-cpu": a rehearsal of the script, not a figure.

Data: bit-identical to bench/gpu/data.ts (counter-based mulberry32), so states can be compared
with hopc's directly (report.ts does).
"""

import argparse
import json
import math
import os
import platform
import sys
import time

FULL_SHAPES = [
    (1024, 64, 64, [1, 8]),
    (4096, 256, 64, [1, 8]),
    (16384, 256, 256, [1, 8]),
    (65536, 256, 1, [1, 8]),
    (2**20, 256, 8, [8]),
    (2**18, 256, 1024, [8]),
]
TINY_SHAPES = [
    (256, 32, 4, [1, 2]),
    (512, 64, 8, [1, 2]),
    (512, 64, 1, [1, 2]),
]
MAPS = ["softmax", "1.5-entmax", "sparsemax", "2-normmax", "topk-softmax"]
TOPK = 32
FLOP_FORMULA = "4*M*D*B*steps (scores and readout, 2 flop per multiply-add)"
BYTES_FORMULA = "4*M*D*steps: X in float32 read once per step"

np = None
torch = None


def log(msg):
    print(msg, flush=True)


# ------------------------------------------------------------------------------------------------
# Data (bench/gpu/data.ts, bit for bit)

M32 = 0xFFFFFFFF


def _imul(a, b):
    """Low 32 bits of a * b for a, b in [0, 2^32), without leaving int64 (works for numpy uint64
    and torch int64 alike)."""
    lo = a * (b & 0xFFFF)
    hi = ((a * (b >> 16)) & 0xFFFF) << 16
    return (lo + hi) & M32


def hash_uniform(seed, n):
    """Value n (an integer array) of mulberry32 stream `seed`, in [0, 1) (see data.ts)."""
    t = (seed + _imul(n + 1, 0x6D2B79F5)) & M32
    t = _imul(t ^ (t >> 15), t | 1)
    t = t ^ ((t + _imul(t ^ (t >> 7), t | 61)) & M32)
    return t ^ (t >> 14)


def seeds(M, D):
    seed_x = (1000003 * M + 7919 * D) % 2**32
    return seed_x, seed_x ^ 0x5BD1E995


def make_data(M, D, B, dev):
    """float64 X (M x D, unit rows) and Q (B x D); torch tensors on `dev`, or numpy arrays."""
    seed_x, seed_q = seeds(M, D)
    rows_per_chunk = max(1, (1 << 24) // D)
    if dev is not None:
        X = torch.empty((M, D), dtype=torch.float64, device=dev)

        def ar(a, b):
            return torch.arange(a, b, dtype=torch.int64, device=dev)

        def to_f64(t):
            return t.to(torch.float64)
    else:
        X = np.empty((M, D), dtype=np.float64)

        def ar(a, b):
            return np.arange(a, b, dtype=np.uint64)

        def to_f64(t):
            return t.astype(np.float64)

    for r0 in range(0, M, rows_per_chunk):
        r1 = min(M, r0 + rows_per_chunk)
        u = to_f64(hash_uniform(seed_x, ar(r0 * D, r1 * D))) / 4294967296.0
        x = (2 * u - 1).reshape(r1 - r0, D)
        if dev is None:
            inv = 1 / np.sqrt((x * x).sum(1, keepdims=True))
        else:
            inv = 1 / (x * x).sum(1, keepdim=True).sqrt()
        X[r0:r1] = x * inv
    sigma = 0.3 * math.sqrt(3 / D)
    idx = [(7 * b) % M for b in range(B)]
    noise = to_f64(hash_uniform(seed_q, ar(0, B * D))) / 4294967296.0
    Q = X[idx] + sigma * (2 * noise.reshape(B, D) - 1)
    return X, Q


# ------------------------------------------------------------------------------------------------
# float64 reference: thresholds by bisection, then exact on the support (independent of the sort
# formulas that are timed). theta: nq x M float64 numpy.


def _threshold_rows(theta, kind, iters=100):
    out = np.zeros_like(theta)
    M = theta.shape[1]
    for r in range(theta.shape[0]):
        z = theta[r]
        if kind == "1.5-entmax":
            z = z / 2  # (alpha - 1) z
        m = z.max()
        cand = np.flatnonzero(z > m - 1)  # tau >= m - 1: nothing below can be in the support
        c = z[cand]
        if kind == "sparsemax":
            def f(tau):
                return np.maximum(c - tau, 0).sum() - 1
            hi = m - 1.0 / M
        else:  # sum (c - tau)_+^2 = 1 (1.5-entmax on z/2; 2-normmax on z)
            def f(tau):
                return (np.maximum(c - tau, 0) ** 2).sum() - 1
            hi = m - (1.0 / M) ** (0.5 if kind == "1.5-entmax" else 1.0)
        lo = m - 1.0
        for _ in range(iters):
            mid = (lo + hi) / 2
            if f(mid) >= 0:
                lo = mid
            else:
                hi = mid
        tau = lo
        for _ in range(3):  # exact on the support the bisection found
            s = c[c > tau]
            k = len(s)
            if kind == "sparsemax":
                tau = (s.sum() - 1) / k
            else:
                a, b2 = s.sum(), (s * s).sum()
                tau = (a - math.sqrt(max(a * a - k * (b2 - 1), 0.0))) / k
        w = np.maximum(z - tau, 0)
        if kind == "1.5-entmax":
            w = w * w
        out[r] = w / w.sum()
    return out


def ref_normalize(kind, theta):
    if kind == "softmax":
        e = np.exp(theta - theta.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)
    if kind == "topk-softmax":
        out = np.zeros_like(theta)
        M = theta.shape[1]
        for r in range(theta.shape[0]):
            z = theta[r]
            if M <= TOPK:
                keep = np.arange(M)
            else:  # the K-th largest value; ties at it kept by the lowest index (as hopc)
                v = np.partition(z, M - TOPK)[M - TOPK]
                above = np.flatnonzero(z > v)
                keep = np.concatenate([above, np.flatnonzero(z == v)[: TOPK - len(above)]])
            e = np.exp(z[keep] - z[keep].max())
            out[r, keep] = e / e.sum()
        return out
    return _threshold_rows(theta, kind)


def reference(kind, scores, readout, Q0, beta, steps_wanted):
    """States after each step count in steps_wanted (one trajectory to the largest)."""
    q = Q0
    got = {}
    for t in range(1, max(steps_wanted) + 1):
        q = readout(ref_normalize(kind, beta * scores(q)))
        if t in steps_wanted:
            got[t] = q.copy()
    return got


# ------------------------------------------------------------------------------------------------
# The timed maps, torch


def t_sort_entmax_tau(x):
    """1.5-entmax threshold of rows x (already max-shifted, x <= 0) by the exact sort formula."""
    xs, _ = torch.sort(x, dim=-1, descending=True)
    rho = torch.arange(1, x.shape[-1] + 1, device=x.device, dtype=x.dtype)
    mean = xs.cumsum(-1) / rho
    mean_sq = (xs * xs).cumsum(-1) / rho
    ss = rho * (mean_sq - mean * mean)
    delta = ((1 - ss) / rho).clamp_min(0)
    tau = mean - delta.sqrt()
    support = (tau <= xs).sum(-1, keepdim=True)
    return tau.gather(-1, support - 1)


def t_normalize(kind, s):
    if kind == "softmax":
        return torch.softmax(s, dim=-1)
    z = s - s.amax(-1, keepdim=True)
    if kind == "sparsemax":
        zs, _ = torch.sort(z, dim=-1, descending=True)
        cs = zs.cumsum(-1) - 1
        k = torch.arange(1, z.shape[-1] + 1, device=z.device, dtype=z.dtype)
        support = (k * zs > cs).sum(-1, keepdim=True)
        tau = cs.gather(-1, support - 1) / support.to(z.dtype)
        return (z - tau).clamp_min(0)
    if kind == "1.5-entmax":
        x = z / 2
        return (x - t_sort_entmax_tau(x)).clamp_min(0) ** 2
    if kind == "2-normmax":
        u = (z - t_sort_entmax_tau(z)).clamp_min(0)
        return u / u.sum(-1, keepdim=True)
    raise ValueError(kind)


def t_eager(kind, X, Q, beta, steps):
    q = Q
    for _ in range(steps):
        s = torch.mm(q * beta, X.t())
        if kind == "topk-softmax":
            vals, idx = torch.topk(s, TOPK, dim=-1)
            p = torch.softmax(vals, dim=-1)
            q = torch.bmm(p.unsqueeze(1), X[idx]).squeeze(1)
        else:
            q = torch.mm(t_normalize(kind, s), X)
    return q


def t_sdpa(X, Q, beta, steps):
    F = torch.nn.functional
    B, D = Q.shape
    k = X.view(1, 1, X.shape[0], D)
    q = Q.view(1, 1, B, D)
    for _ in range(steps):
        q = F.scaled_dot_product_attention(q, k, k, scale=beta)
    return q.view(B, D)


# ------------------------------------------------------------------------------------------------
# The timed maps, numpy (the CPU rehearsal)


def n_entmax_tau(x):
    xs = -np.sort(-x, axis=-1)
    rho = np.arange(1, x.shape[-1] + 1, dtype=x.dtype)
    mean = np.cumsum(xs, -1) / rho
    mean_sq = np.cumsum(xs * xs, -1) / rho
    ss = rho * (mean_sq - mean * mean)
    delta = np.maximum((1 - ss) / rho, 0)
    tau = mean - np.sqrt(delta)
    support = (tau <= xs).sum(-1, keepdims=True)
    return np.take_along_axis(tau, support - 1, -1)


def n_normalize(kind, s):
    z = s - s.max(-1, keepdims=True)
    if kind == "softmax":
        e = np.exp(z)
        return e / e.sum(-1, keepdims=True)
    if kind == "sparsemax":
        zs = -np.sort(-z, axis=-1)
        cs = np.cumsum(zs, -1) - 1
        k = np.arange(1, z.shape[-1] + 1, dtype=z.dtype)
        support = (k * zs > cs).sum(-1, keepdims=True)
        tau = np.take_along_axis(cs, support - 1, -1) / support
        return np.maximum(z - tau, 0)
    if kind == "1.5-entmax":
        x = z / 2
        return np.maximum(x - n_entmax_tau(x), 0) ** 2
    if kind == "2-normmax":
        u = np.maximum(z - n_entmax_tau(z), 0)
        return u / u.sum(-1, keepdims=True)
    raise ValueError(kind)


def n_eager(kind, X, Q, beta, steps):
    q = Q
    for _ in range(steps):
        s = (q * np.float32(beta)) @ X.T
        if kind == "topk-softmax":
            idx = np.argpartition(-s, TOPK - 1, axis=-1)[:, :TOPK]
            vals = np.take_along_axis(s, idx, -1)
            e = np.exp(vals - vals.max(-1, keepdims=True))
            p = e / e.sum(-1, keepdims=True)
            q = np.einsum("bk,bkd->bd", p, X[idx])
        else:
            q = n_normalize(kind, s) @ X
    return q


# ------------------------------------------------------------------------------------------------


def median(xs):
    s = sorted(xs)
    h = len(s) // 2
    return s[h] if len(s) % 2 else (s[h - 1] + s[h]) / 2


def rel_err(a, ref):
    a = np.asarray(a, dtype=np.float64)
    err = float(np.max(np.abs(a - ref)))
    scale = float(np.max(np.abs(ref)))
    if not math.isfinite(err):
        return math.inf
    return err / scale if scale > 0 else err


def main():
    global np, torch
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--out", default="torch-gpu.json")
    ap.add_argument("--max-seconds", type=float, default=150)
    ap.add_argument("--min-time", type=float, default=None)
    ap.add_argument("--maps", default=",".join(MAPS))
    ap.add_argument("--shapes", default=None,
                    help="MxDxB[:s1/s2] items, comma-separated (default: the full set or --tiny's)")
    ap.add_argument("--beta", type=float, default=8)
    ap.add_argument("--check-queries", type=int, default=4)
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("--backend", choices=["auto", "torch", "numpy"], default="auto")
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda",
                    help="torch device (with --backend torch; auto uses torch only on cuda)")
    args = ap.parse_args()
    maps = [m for m in args.maps.split(",") if m]
    for m in maps:
        if m not in MAPS:
            ap.error(f"unknown map {m}")
    min_time = args.min_time if args.min_time is not None else (0.05 if args.tiny else 0.5)
    shapes = TINY_SHAPES if args.tiny else FULL_SHAPES
    if args.shapes:
        shapes = []
        for item in args.shapes.split(","):
            dims, _, st = item.strip().partition(":")
            M, D, B = (int(v) for v in dims.split("x"))
            shapes.append((M, D, B, [int(v) for v in (st or "1/8").split("/")]))
    t0 = time.perf_counter()

    import numpy as _np
    np = _np
    notes = []
    backend, dev, device_name = "numpy", None, "numpy-cpu"
    torch_version = None
    if args.backend in ("auto", "torch"):
        try:
            import torch as _torch
            torch = _torch
            torch_version = torch.__version__
        except Exception as e:  # noqa: BLE001
            if args.backend == "torch":
                sys.exit(f"torch_bench: --backend torch but torch does not import: {e}")
            notes.append(f"torch does not import ({e}): numpy on the CPU instead")
        if torch is not None:
            if torch.cuda.is_available() and args.device == "cuda":
                backend, dev = "torch", torch.device("cuda")
                device_name = "cuda: " + torch.cuda.get_device_name(0)
            elif args.backend == "torch":
                backend, dev = "torch", torch.device(args.device)
                device_name = f"torch-{args.device}"
                if args.device == "cuda":
                    sys.exit("torch_bench: --device cuda but CUDA is not available")
            else:
                notes.append("torch imports but sees no CUDA device: numpy on the CPU instead")
    if backend == "torch":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")
        torch.set_grad_enabled(False)
    cuda = backend == "torch" and dev.type == "cuda"
    log(f"torch_bench: device {device_name}; backend {backend}"
        f"{f' (torch {torch_version})' if torch_version else ''}; numpy {np.__version__}; "
        f"TF32 {'disabled' if backend == 'torch' else 'n/a'}; budget {args.max_seconds} s")
    for n in notes:
        log(f"torch_bench: note: {n}")

    def sync():
        if cuda:
            torch.cuda.synchronize()

    def time_calls(fn):
        """(first result, timing) or (first result, None, note) when the budget forbids."""
        sync()
        w = time.perf_counter()
        first = fn()
        sync()
        warm = (time.perf_counter() - w) * 1000
        if time.perf_counter() - t0 + 3 * warm / 1000 > args.max_seconds:
            return first, None, f"warm-up took {warm / 1000:.1f} s: 3 calls would pass the budget"
        times, walls = [], []
        start = time.perf_counter()
        while len(times) < 3 or (time.perf_counter() - start < min_time and len(times) < 200
                                 and time.perf_counter() - t0 < args.max_seconds):
            if cuda:
                e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                w = time.perf_counter()
                e0.record()
                fn()
                e1.record()
                e1.synchronize()
                walls.append((time.perf_counter() - w) * 1000)
                times.append(e0.elapsed_time(e1))
            else:
                w = time.perf_counter()
                fn()
                times.append((time.perf_counter() - w) * 1000)
                walls.append(times[-1])
        return first, {"ms": median(times), "min": min(times), "max": max(times), "n": len(times),
                       "warmupMs": warm, "wallMs": median(walls),
                       "timer": "cuda events" if cuda else "perf_counter"}, None

    cells = []
    out = {
        "tool": "hopc bench/gpu/torch_bench.py",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "tiny": args.tiny,
        "device": device_name,
        "backend": backend,
        "torch": torch_version,
        "cuda": (torch.version.cuda if torch is not None else None),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "tf32": False if backend == "torch" else None,
        "dtype": "float32",
        "beta": args.beta,
        "flopFormula": FLOP_FORMULA,
        "bytesFormula": BYTES_FORMULA,
        "errorFormula": "max |a - ref| / max |ref| over the checked queries' final states",
        "reference": "float64: thresholds by bisection then exact on the support; top-k by a "
                     "partition (ties: lowest index); products in torch float64 where torch "
                     "runs, else numpy",
        "tolerance": args.tol,
        "notes": notes,
        "cells": cells,
        "finished": False,
    }

    def save():
        out["totalSeconds"] = time.perf_counter() - t0
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")
        os.replace(tmp, args.out)

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    save()
    if cuda:
        torch.cuda.init()
        log(f"torch_bench: {torch.cuda.get_device_properties(0)}")
    log("| map          |        M |    D |     B | steps | method |         ms |      GB/s |"
        "   GFLOP/s |   rel err |     status |")
    budget_noted = False
    for (M, D, B, steps_list) in shapes:
        if time.perf_counter() - t0 > args.max_seconds:
            for steps in steps_list:
                for m in maps:
                    cells.append({"map": m, "M": M, "D": D, "B": B, "steps": steps,
                                  "status": "skipped", "note": "the time budget was spent",
                                  "methods": {}})
            if not budget_noted:
                notes.append(f"--max-seconds {args.max_seconds} reached: later cells skipped")
                budget_noted = True
            save()
            continue
        td = time.perf_counter()
        X64, Q64 = make_data(M, D, B, dev)
        if backend == "torch":
            X, Q = X64.to(torch.float32), Q64.to(torch.float32)
        else:
            X, Q = X64.astype(np.float32), Q64.astype(np.float32)
        nq = max(1, min(B, args.check_queries))
        if backend == "torch":
            def scores(q):
                return (torch.from_numpy(q).to(dev) @ X64.t()).cpu().numpy()

            def readout(p):
                return (torch.from_numpy(p).to(dev) @ X64).cpu().numpy()
            Q0 = Q64[:nq].cpu().numpy()
        else:
            def scores(q):
                return q @ X64.T

            def readout(p):
                return p @ X64
            Q0 = Q64[:nq]
        sync()
        log(f"torch_bench: data ({M}, {D}, {B}) made in {time.perf_counter() - td:.1f} s")
        refs = {}
        for m in maps:
            tr = time.perf_counter()
            refs[m] = reference(m, scores, readout, Q0, args.beta, steps_list)
            refs[m + ":ms"] = (time.perf_counter() - tr) * 1000
        for steps in steps_list:
            for m in maps:
                flop = 4 * M * D * B * steps
                cell = {"map": m, "M": M, "D": D, "B": B, "steps": steps, "flop": flop,
                        "xBytesPerStep": 4 * M * D, "checkQueries": nq,
                        "refMs": refs[m + ":ms"],
                        "refStates": [[float(f"{v:.7g}") for v in refs[m][steps][b]]
                                      for b in range(min(2, nq))],
                        "methods": {}}
                methods = ["eager"] + (["sdpa"] if m == "softmax" and backend == "torch" else [])
                for meth in methods:
                    r = {"status": "error"}
                    if time.perf_counter() - t0 > args.max_seconds:
                        r = {"status": "skipped", "note": "the time budget was spent"}
                        if not budget_noted:
                            notes.append(f"--max-seconds {args.max_seconds}: cells skipped")
                            budget_noted = True
                    else:
                        try:
                            if backend == "torch":
                                if meth == "sdpa":
                                    if not hasattr(torch.nn.functional,
                                                   "scaled_dot_product_attention"):
                                        raise RuntimeError(
                                            f"torch {torch_version} has no "
                                            "scaled_dot_product_attention")

                                    def fn():
                                        return t_sdpa(X, Q, args.beta, steps)
                                else:
                                    def fn():
                                        return t_eager(m, X, Q, args.beta, steps)
                            else:
                                def fn():
                                    return n_eager(m, X, Q, args.beta, steps)
                            first, timing, note = time_calls(fn)
                            states = (first[:nq].double().cpu().numpy() if backend == "torch"
                                      else first[:nq].astype(np.float64))
                            err = rel_err(states, refs[m][steps])
                            r = {"check": {"relErr": err, "queries": nq, "tol": args.tol},
                                 "states": [[float(f"{v:.7g}") for v in states[b]]
                                            for b in range(min(2, nq))]}
                            if timing is None:
                                r["status"] = "skipped"
                                r["note"] = note
                            elif err <= args.tol:
                                r.update(status="ok", timing=timing,
                                         gflops=flop / (timing["ms"] * 1e6),
                                         gbps=4 * M * D * steps / (timing["ms"] * 1e6))
                            else:
                                r.update(status="FAILED", rejectedTiming=timing)
                            del first
                        except Exception as e:  # noqa: BLE001
                            r = {"status": "error", "error": f"{type(e).__name__}: {e}"}
                            if cuda:
                                torch.cuda.empty_cache()
                    cell["methods"][meth] = r
                    t = r.get("timing") or r.get("rejectedTiming")
                    shown = r["status"] == "ok"

                    def f3(x):
                        return "-" if x is None else (f"{x:.0f}" if x >= 1000 else f"{x:.3g}")
                    ms = "-" if t is None else (f3(t["ms"]) if shown else f"({f3(t['ms'])})")
                    e = r.get("check", {}).get("relErr")
                    log(f"| {m:<12} | {M:>8} | {D:>4} | {B:>5} | {steps:>5} | {meth:<6} | "
                        f"{ms:>10} | {f3(r.get('gbps')) if shown else '-':>9} | "
                        f"{f3(r.get('gflops')) if shown else '-':>9} | "
                        f"{'-' if e is None else f'{e:.1e}':>9} | {r['status']:>10} |"
                        + (f"  {r['error']}" if "error" in r else "")
                        + (f"  note: {r['note']}" if "note" in r else ""))
                cell["status"] = cell["methods"]["eager"]["status"]
                cells.append(cell)
                save()
        del X, Q, X64, Q64
        if cuda:
            torch.cuda.empty_cache()

    out["finished"] = True
    save()
    counts = {}
    for c in cells:
        for r in (c["methods"].values() if c["methods"] else [{"status": c["status"]}]):
            counts[r["status"]] = counts.get(r["status"], 0) + 1
    log(f"torch_bench: {len(cells)} cells; methods: "
        + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        + f"; {time.perf_counter() - t0:.0f} s; wrote {args.out}")


if __name__ == "__main__":
    main()
