"""Issue 13's speed check: a strategy with yields and flows against the same strategy without.

    python bench/bench_treasury.py [--rounds 5]

In one process, interleaved, on the W1/W2 GBM paths of bench/compare.py: the compiled kernel of a
band strategy (a) plain, (b) with a compounding APY on every asset (2 % to 2 % + N/10 %) and a
monthly spend of ~6 % a year; and a local sweep of 300 band widths of each.
The target is (b)/(a) ≤ 1.5 with the default routing (flows paid from the cash asset); flows
routed by cash-flow rebalancing (a small fixed-point rebalance at each flow) are one more row.
That (a) is no slower than before the treasury work is
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

    def treasury_kw(names: list[str], routing: str = "cash") -> dict[str, object]:
        # ~6 % of the starting capital a year: 50 units of the cash asset (price ~100) a month.
        # (This bench spent 20,000 units a month until 2026-12: the treasury was bankrupt within
        # months, so its flows cost almost nothing and its "both" row measured an empty walk.)
        yields = ",".join(f"{a}={0.02 + 0.001 * k}" for k, a in enumerate(names))
        return {"cash": names[0], "yields": yields, "spend": "50/month", "routing": routing}

    cases = {}
    for name, n in (("W1", 20), ("W2", 100)):
        df = gbm_prices(n, 2520, 0.6, 42, width=3)
        market = to_market(df)
        names = list(df.columns)
        plain = build_strategy(target="equal", band=0.05, band_kind="absolute", fee_bps=10, cash=names[0])
        rich = build_strategy(target="equal", band=0.05, band_kind="absolute", fee_bps=10, **treasury_kw(names))
        routed = build_strategy(
            target="equal", band=0.05, band_kind="absolute", fee_bps=10, **treasury_kw(names, "rebalance")
        )
        for label, s in (("plain", plain), ("yields+flows", rich)):
            p = prepare(s, market)
            cases[(f"{name} kernel", label)] = lambda p=p: run_compiled(p)
            cases[(f"{name} no record", label)] = lambda p=p: run_compiled(p, record=False)
        p_plain, p_routed = prepare(plain, market), prepare(routed, market)
        cases[(f"{name} kernel, flows routed by rebalancing", "plain")] = lambda p=p_plain: run_compiled(p)
        cases[(f"{name} kernel, flows routed by rebalancing", "yields+flows")] = lambda p=p_routed: run_compiled(p)
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
