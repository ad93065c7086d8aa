"""Before/after timing of two source trees, interleaved, on a shared machine.

    python bench/compare.py OLD_SRC NEW_SRC [--rounds 5] [--cold]

Each round runs one worker process per tree (the order alternates between rounds), with its own
numba cache. A worker times, after compilation: the kernel of single backtests (`run_compiled` on
a prepared strategy, as bench/run.py does; W1 = 20 assets, W2 = 100 assets × 2,520 closes; case a
= monthly, case b = band 0.05 absolute, 10 bps), the compiled half of a sweep of 100 band widths
on W1 (in one thread) and a whole local sweep of 300. Each number is the fastest of many calls
(the least disturbed by other processes); the table shows, per measurement, the fastest over all
rounds of each tree and their ratio. ``--cold`` also times a backtest from an empty numba cache
(compile time), once per round and tree.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def worker() -> None:
    """Runs inside a child with PYTHONPATH set to one tree; prints one JSON line."""
    import numpy as np

    import ballast
    from ballast.data.synthetic import gbm_prices
    from ballast.engine.backtest import prepare, run_compiled, to_market
    from ballast.strategy import build_strategy

    def fastest(fn, reps: int) -> float:
        fn()
        best = np.inf
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        return best

    out: dict[str, float] = {}
    for name, n in (("W1", 20), ("W2", 100)):
        df = gbm_prices(n, 2520, 0.6, 42, width=3)
        for case, kw in (("a", {"rebalance": "monthly"}), ("b", {"band": 0.05, "band_kind": "absolute"})):
            s = build_strategy(target="equal", fee_bps=10, **kw)
            p = prepare(s, to_market(df))
            out[f"{name}{case} kernel"] = fastest(lambda p=p: run_compiled(p), 40)
            out[f"{name}{case} no record"] = fastest(lambda p=p: run_compiled(p, record=False), 40)
    df = gbm_prices(20, 2520, 0.6, 42)
    bands = np.linspace(0.005, 0.2, 300)
    # The sweep's compiled half alone, in this thread (what a local sweep's worker runs), then the
    # whole call (Python set-up and worker threads included: noisier on a shared machine).
    from ballast.sweep.batch import prepare_configs, use_serial_kernel

    use_serial_kernel()
    base = {"target": "equal", "band_kind": "absolute", "fee_bps": 10}
    kernel = prepare_configs(to_market(df), base, [{"band": float(b)} for b in bands[::3]])
    out["sweep kernel 100"] = fastest(kernel, 10)
    out["sweep 300"] = fastest(
        lambda: ballast.sweep(df, target="equal", band=bands, band_kind="absolute", fee_bps=10), 3
    )
    print(json.dumps(out))


def cold() -> None:
    t0 = time.perf_counter()
    import ballast

    ballast.backtest("crypto", target="BTC=0.4,ETH=0.3,USDT=0.3", band=0.05, fee_bps=10).metrics
    print(json.dumps({"cold backtest": time.perf_counter() - t0}))


def run(src: str, mode: str, cache: str) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=src, NUMBA_CACHE_DIR=cache, NUMBA_NUM_THREADS="1")
    res = subprocess.run([sys.executable, __file__, mode], env=env, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cold", action="store_true")
    a = ap.parse_args()
    trees = {"old": a.old, "new": a.new}
    best: dict[str, dict[str, float]] = {"old": {}, "new": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            for tag in ("old", "new") if r % 2 == 0 else ("new", "old"):
                res = run(trees[tag], "--worker", f"{tmp}/{tag}")
                if a.cold:
                    res |= run(trees[tag], "--cold", f"{tmp}/{tag}-cold-{r}")
                for k, v in res.items():
                    best[tag][k] = min(best[tag].get(k, v), v)
    print(f"| measurement (fastest of {a.rounds} interleaved rounds) | old | new | new / old |")
    print("|---|---:|---:|---:|")
    for k, v in best["old"].items():
        unit, f = ("s", 1.0) if "cold" in k or "sweep" in k else ("ms", 1e3)
        print(f"| {k} | {v * f:.3f} {unit} | {best['new'][k] * f:.3f} {unit} | {best['new'][k] / v:.3f} |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker()
    elif sys.argv[1:2] == ["--cold"]:
        cold()
    else:
        main()
