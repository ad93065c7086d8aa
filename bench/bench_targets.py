"""Target-path speed: 100 assets × 2,520 days (10 years of exchange days), budget 0.5 s.

    PYTHONPATH=src python bench/bench_targets.py

Prices come from a one-factor model (correlated, heterogeneous volatility) so the risk targets
are not trivially equal weights. Each target is timed best-of-5 (wall and process CPU time — on a shared
machine the CPU time is the fair number) after a first call that loads (or compiles) the numba
code; the ratio column is CPU time / budget. For reference, the last column
times the textbook way — per-day window covariance in NumPy/scikit-learn — on 100 days and
scales it to the full path.
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np
import pandas as pd

from ballast.market import Market
from ballast.targets.constraints import Bounds
from ballast.targets.risk import InverseVol, MinVariance, RiskParity, VolTarget, erc_weights, min_variance_weights

N, T, BUDGET = 100, 2520, 0.5


def prices(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    beta = rng.uniform(0.5, 1.5, N)
    idio = rng.uniform(0.1, 0.6, N) / np.sqrt(252)
    f = rng.standard_normal(T) * 0.2 / np.sqrt(252)
    r = beta * f[:, None] + idio * rng.standard_normal((T, N))
    r[0] = 0
    idx = pd.bdate_range("2014-01-01", periods=T)
    return pd.DataFrame(100 * np.exp(np.cumsum(r, axis=0)), index=idx, columns=[f"A{i}" for i in range(N)])


def best_of(fn, k: int = 5) -> tuple[float, float]:
    """(best wall time, best CPU time): on a shared machine CPU time is the fairer number."""
    wall, cpu = [], []
    for _ in range(k):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return min(wall), min(cpu)


def reference(market: Market, solver: str) -> float:
    """Per-day NumPy/scikit-learn estimate + solve on 100 days, scaled to T days."""
    from sklearn.covariance import ledoit_wolf

    R = market.returns
    days = range(T - 100, T)
    t0 = time.perf_counter()
    for t in days:
        S = ledoit_wolf(R[t - 59 : t + 1])[0] if solver != "iv" else np.cov(R[t - 59 : t + 1].T)
        if solver == "rp":
            erc_weights(S)
        elif solver == "mv":
            min_variance_weights(S)
        else:
            w = 1 / np.sqrt(np.diag(S))
            w / w.sum()
    return (time.perf_counter() - t0) / len(days) * (T - 60)


def main() -> None:
    df = prices()
    market = Market.from_frame(df)
    cases = {
        "InverseVol(60) rolling": (lambda: InverseVol(60), "iv"),
        "InverseVol(60) ewma": (lambda: InverseVol(60, "ewma"), None),
        "RiskParity(60) ledoit_wolf": (lambda: RiskParity(60), "rp"),
        "RiskParity(60) constant_correlation": (lambda: RiskParity(60, "constant_correlation"), None),
        "RiskParity(250) sample cov": (lambda: RiskParity(250, None), None),
        "MinVariance(60) ledoit_wolf, 0-5 %": (lambda: MinVariance(60, bounds=(0.0, 0.05)), "mv"),
        "VolTarget(RiskParity(60), 10 %)": (
            lambda: VolTarget(RiskParity(60, assets=df.columns[:-1]), 0.1, 60, reserve=df.columns[-1]),
            None,
        ),
        "Bounds(RiskParity(60), max 2 %)": (lambda: Bounds(RiskParity(60), max_weight=0.02), None),
    }
    print(
        f"target path, {N} assets × {T:,} days, budget {BUDGET} s "
        f"({platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
        f"load {os.getloadavg()[0]:.1f})"
    )
    print(f"{'target':40s} {'first call':>10s} {'wall':>8s} {'cpu':>8s} {'cpu/budget':>10s} {'textbook':>10s}")
    for name, (make, ref) in cases.items():
        t0 = time.perf_counter()
        make().path(market)
        first = time.perf_counter() - t0
        wall, cpu = best_of(lambda make=make: make().path(market))
        textbook = f"{reference(market, ref):9.2f}s" if ref else ""
        print(f"{name:40s} {first:9.3f}s {wall:7.3f}s {cpu:7.3f}s {cpu / BUDGET:9.2f}x {textbook:>10s}")


if __name__ == "__main__":
    main()
