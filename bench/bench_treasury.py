"""Issue 13's speed check: a strategy with yields and flows against the same strategy without.

    python bench/bench_treasury.py [--rounds 5]

In one process, interleaved, on the W1/W2 GBM paths of bench/compare.py: the compiled kernel of a
band strategy (a) plain, (b) with a constant APY on every asset (half compounding, half paid out)
and a monthly spend routed by cash-flow rebalancing; and a local sweep of 300 band widths of each.
The target is (b)/(a) ≤ 1.5; that (a) is no slower than before the treasury work is
bench/compare.py's job. Each number is the fastest of many calls (the least disturbed).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def fastest(fn, reps: int) -> float:
    fn()
    best = np.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    rounds = ap.parse_args().rounds

    import ballast
    from ballast.data.synthetic import gbm_prices
    from ballast.engine.backtest import prepare, run_compiled, to_market
    from ballast.strategy import build_strategy

    def treasury_kw(names: list[str]) -> dict[str, object]:
        cash = names[0]
        yields = ",".join(f"{a}={0.02 + 0.001 * k}" for k, a in enumerate(names))
        return {"cash": cash, "yields": yields, "spend": "20000/month", "routing": "rebalance"}

    cases = {}
    for name, n in (("W1", 20), ("W2", 100)):
        df = gbm_prices(n, 2520, 0.6, 42, width=3)
        market = to_market(df)
        names = list(df.columns)
        plain = build_strategy(target="equal", band=0.05, band_kind="absolute", fee_bps=10, cash=names[0])
        rich = build_strategy(target="equal", band=0.05, band_kind="absolute", fee_bps=10, **treasury_kw(names))
        for label, s in (("plain", plain), ("yields+flows", rich)):
            p = prepare(s, market)
            cases[(f"{name} kernel", label)] = lambda p=p: run_compiled(p)
            cases[(f"{name} no record", label)] = lambda p=p: run_compiled(p, record=False)
    df = gbm_prices(20, 2520, 0.6, 42)
    names = list(df.columns)
    bands = np.linspace(0.005, 0.2, 300)
    base = {"target": "equal", "band": bands, "band_kind": "absolute", "fee_bps": 10}
    cases[("sweep 300", "plain")] = lambda: ballast.sweep(df, cash=names[0], **base)
    cases[("sweep 300", "yields+flows")] = lambda: ballast.sweep(df, **base, **treasury_kw(names))

    best: dict[tuple[str, str], float] = {}
    for r in range(rounds):
        keys = list(cases) if r % 2 == 0 else list(reversed(cases))
        for key in keys:
            reps = 5 if key[0].startswith("sweep") else 40
            best[key] = min(best.get(key, np.inf), fastest(cases[key], reps))
    print(f"| measurement (fastest of {rounds} interleaved rounds) | plain | yields+flows | ratio |")
    print("|---|---:|---:|---:|")
    for m in dict.fromkeys(k[0] for k in cases):
        a, b = best[(m, "plain")], best[(m, "yields+flows")]
        unit, scale = ("s", 1.0) if m.startswith("sweep") else ("ms", 1e3)
        print(f"| {m} | {a * scale:.3f} {unit} | {b * scale:.3f} {unit} | {b / a:.2f} |")


if __name__ == "__main__":
    main()
