"""This hedge against a fixed-interval hedge and no hedge, on the same prices: the comparison
`ballast backtest` prints for a strategy with a [hedge] (docs/hedging.md)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import pandas as pd

from ballast.engine.backtest import run_prepared
from ballast.engine.hedge_metrics import hedge_metrics
from ballast.engine.metrics import metrics_dict
from ballast.engine.prepared import prepare

if TYPE_CHECKING:
    from ballast.engine.result import RawRun, Result


def compare_hedges(result: "Result") -> pd.DataFrame:
    """The strategy's hedge against a fixed-interval hedge and no hedge, on the same prices."""
    s = result.strategy
    assert s.hedge is not None
    fixed = s.hedge.fixed_interval()
    table = {f"{s.name} ({s.hedge.band.describe()})": hedge_row(result.raw, s.capital)}
    for name, hedge in (
        (f"fixed-interval hedge ({fixed.every.describe() if fixed.every else ''})", fixed),
        ("unhedged", None),
    ):
        run = run_prepared(prepare(replace(s, hedge=hedge), result.market))
        table[name] = hedge_row(run.raw, s.capital)
    return pd.DataFrame(table)


def hedge_row(raw: "RawRun", capital: float) -> dict[str, float]:
    """The hedge metrics and the final wealth of one run."""
    return {**hedge_metrics(raw.equity, raw.hedge, capital), "final_wealth": metrics_dict(raw.metrics)["final_wealth"]}
