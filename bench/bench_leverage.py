"""Health-band sweep speed: 1,000 repay/boost bands of examples/leveraged-treasury.toml over the
bundled daily history (target: seconds), and one backtest with the loan against the same without.

    PYTHONPATH=src python bench/bench_leverage.py
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from ballast.config import load_strategy_file
from ballast.engine.backtest import run_compiled, strategy_market
from ballast.engine.prepared import prepare
from ballast.leverage import band_grid, thresholds

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "leveraged-treasury.toml"


def fastest(fn, reps: int) -> float:
    fn()
    best = np.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    s = load_strategy_file(EXAMPLE).to_strategy()
    market = strategy_market("crypto", s)  # the whole bundled history, 2017-11 to 2024-03
    grid = band_grid()
    sweep = fastest(lambda: thresholds(s, market, grid, n_paths=0), 3)
    p = prepare(s, market)
    plain = replace(p, loans=None)
    with_loan = fastest(lambda: run_compiled(p, record=False), 200)
    without = fastest(lambda: run_compiled(plain, record=False), 200)
    per_band = sweep / grid.shape[0] * 1e3
    print(f"{grid.shape[0]:,} bands × {market.n_periods:,} daily closes: {sweep:.2f} s ({per_band:.2f} ms a band)")
    print(f"one run with the loan: {with_loan * 1e3:.3f} ms; the same strategy without it: {without * 1e3:.3f} ms")
    bootstrap = fastest(lambda: thresholds(s, market, grid, n_paths=1), 1) - sweep
    print(f"each bootstrap path adds {bootstrap:.2f} s")


if __name__ == "__main__":
    main()
