"""A sweep over a liquidity position's range and reset parameters: one backtest per configuration.

Each configuration replaces the strategy's position (its range policy or reset rule); the row
holds the position's metrics, the portfolio's final wealth, the range's mean width and
``fees_minus_lvr_gas`` = fees − LVR − gas − swap costs, the frontier's height (report/liquidity_figures.py).
The pooled sweep kernel carries no position, so these run as single compiled backtests, each
equal to `ballast backtest` of that configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ballast.market import Market
from ballast.positions.provision import LiquidityProvision
from ballast.strategy import Strategy


def mean_width(lower: np.ndarray, upper: np.ndarray) -> float:
    """Mean of upper/lower − 1 over the closes with a position."""
    on = lower > 0.0
    return float(np.mean(upper[on] / lower[on] - 1.0)) if on.any() else float("nan")


def liquidity_sweep(
    market: Market,
    strategy: Strategy,
    points: Sequence[tuple[dict[str, Any], LiquidityProvision]],
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """One row per (configuration, position) of ``points``, run on ``market``."""
    from ballast.engine.backtest import run_compiled
    from ballast.engine.liquidity_kernel import C_LOWER, C_UPPER
    from ballast.engine.liquidity_metrics import liquidity_metrics
    from ballast.engine.metrics import metrics_dict
    from ballast.engine.prepared import prepare

    rows = []
    for k, (config, lp) in enumerate(points):
        raw = run_compiled(prepare(replace(strategy, liquidity=lp), market))
        assert raw.liquidity is not None
        m = liquidity_metrics(raw.liquidity)
        closes = raw.liquidity.closes
        rows.append(
            {
                "configuration": ", ".join(f"{n}={v}" for n, v in config.items()),
                **config,
                **m,
                "fees_minus_lvr_gas": m["lp_fees"] - m["lp_lvr"] - m["lp_gas"] - m["lp_swap_costs"],
                "mean_width": mean_width(closes[:, C_LOWER], closes[:, C_UPPER]),
                "final_wealth": metrics_dict(raw.metrics)["final_wealth"],
            }
        )
        if progress is not None:
            progress(k + 1, len(points))
    return pd.DataFrame(rows)
