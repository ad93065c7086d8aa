"""The hedge's frontier: hedge error against trading cost over band widths, next to fixed-interval
hedges and no hedge, on one market (`ballast hedge frontier`, docs/hedging.md).

Each point is one backtest of the same strategy with another band (or a calendar-only hedge),
through `engine.backtest.run_prepared`, so every row equals a single backtest. The cost axis is
the hedge's fees plus slippage; funding is reported beside it (it is a carry the band barely
changes, and would hide the trade-off).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import pandas as pd

from ballast.engine.backtest import run_prepared
from ballast.engine.hedge_compare import hedge_row
from ballast.engine.prepared import prepare
from ballast.errors import InputError
from ballast.hedging import AbsoluteBand, DeltaHedge, HedgeBand, RelativeBand, WhalleyWilmott
from ballast.market import Market
from ballast.strategy import Strategy

DEFAULT_INTERVALS = (1, 2, 3, 7, 14, 30)
DEFAULT_WIDTHS = {"relative": (0.01, 0.02, 0.05, 0.1, 0.2, 0.5), "absolute": (1e3, 1e4, 5e4, 1e5, 5e5, 1e6)}


def band_of_width(band: HedgeBand, width: float) -> HedgeBand:
    """The band of the same kind with another width (risk aversion λ for Whalley–Wilmott)."""
    if isinstance(band, RelativeBand):
        return RelativeBand(width)
    if isinstance(band, AbsoluteBand):
        return AbsoluteBand(width)
    if isinstance(band, WhalleyWilmott):
        return WhalleyWilmott(band.cost, width)
    raise InputError(f"hedge frontier: cannot vary the width of {band.describe()}")


def default_widths(band: HedgeBand) -> tuple[float, ...]:
    return DEFAULT_WIDTHS["absolute" if isinstance(band, AbsoluteBand) else "relative"]


def hedge_frontier(
    strategy: Strategy,
    market: Market,
    widths: Sequence[float] | None = None,
    intervals: Sequence[int] = DEFAULT_INTERVALS,
    step: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """One row per band width, per fixed interval (periods) and for no hedge."""
    hedge = strategy.hedge
    if hedge is None:
        raise InputError("hedge frontier: the strategy has no [hedge] section")
    variants: list[tuple[str, float, DeltaHedge | None]] = [
        ("band", float(w), replace(hedge, band=band_of_width(hedge.band, float(w))))
        for w in (default_widths(hedge.band) if widths is None else widths)
    ]
    variants += [("fixed-interval", float(k), hedge.fixed_interval(int(k))) for k in intervals]
    variants.append(("unhedged", 0.0, None))
    rows = []
    for family, parameter, variant in variants:
        if step is not None:
            step(f"{family} {parameter:g}")
        m = hedge_row(run_prepared(prepare(replace(strategy, hedge=variant), market)).raw, float(strategy.capital))
        rows.append(
            {"family": family, "parameter": parameter, **m, "trading_cost": m["hedge_fees"] + m["hedge_slippage"]}
        )
    return pd.DataFrame(rows)
