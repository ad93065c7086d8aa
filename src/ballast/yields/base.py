"""Yields per asset, compiled to the arrays the engine applies at each close.

`Yields({"USDC": ConstantAPY(0.05), "stETH": ConstantAPY(0.03)})` → `YieldArrays`: per period the
growth of a unit held (``growth``) and of a unit owed (``borrow``), and which assets pay their
yield out into the cash asset (``payout``). A strategy without yields gets `no_yields()`, whose
fields are 1-D and empty: the compiled walk then compiles none of the accrual (switched off by
type, like a trigger program's empty ``series``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import NamedTuple

import numpy as np

from ballast.errors import InputError
from ballast.market import Market
from ballast.yields.sources import ConstantAPY, YieldSource


class YieldArrays(NamedTuple):
    """Accrual per period (t−1, t]; row 0 is 1. Empty 1-D fields: no yields at all."""

    growth: np.ndarray  # float64[T, N]: a long unit becomes growth[t, i] units (compounding) / pays g − 1 (payout)
    borrow: np.ndarray  # float64[T, N]: a unit owed becomes borrow[t, i] units owed
    payout: np.ndarray  # int64[N]: 1 = the asset's yield is paid out (cash asset, else the portfolio's cash)
    payers: np.ndarray  # int64[K]: the indices i with payout[i] = 1, ascending
    signed: int = 1  # 0: no holding can be negative (a preparation proves it), so borrow rates never apply


@cache  # empty arrays, shared: a run without them asks for one at every call
def no_yields() -> YieldArrays:
    return YieldArrays(np.empty(0), np.empty(0), np.empty(0, np.int64), np.empty(0, np.int64))


def period_years(market: Market, day_count: float) -> np.ndarray:
    """Length of each period (t−1, t] in years: actual days / ``day_count``; without dates each
    period is 1/periods_per_year. Row 0 is 0."""
    years = np.zeros(market.n_periods)
    if market.has_dates:
        ns = market.index.values.astype("datetime64[ns]").astype(np.int64)
        years[1:] = np.diff(ns) / (86400e9 * day_count)
    else:
        years[1:] = 1.0 / market.periods_per_year
    return years


class Yields:
    """A yield source per asset (a number is a `ConstantAPY`); ``day_count`` days make a year."""

    def __init__(self, sources: Mapping[str, YieldSource | float], day_count: float = 365.0) -> None:
        if not (np.isfinite(day_count) and day_count > 0):
            raise InputError(f"yield: day_count must be a positive number of days, got {day_count!r}")
        self.day_count = float(day_count)
        self.sources: dict[str, YieldSource] = {}
        for asset, src in sources.items():
            if isinstance(src, YieldSource):
                self.sources[str(asset)] = src
            else:
                try:
                    self.sources[str(asset)] = ConstantAPY(src)
                except InputError as e:
                    raise InputError(f"yield of {asset}: {e}") from None

    def __bool__(self) -> bool:
        return bool(self.sources)

    def assets(self) -> tuple[str, ...]:
        return tuple(self.sources)

    def encode(self, market: Market, cash: str | None = None) -> YieldArrays:
        """Growth arrays over ``market``; an asset without a source grows by exactly 1."""
        T, N = market.prices.shape
        growth = np.ones((T, N))
        borrow = np.ones((T, N))
        payout = np.zeros(N, np.int64)
        years = period_years(market, self.day_count)
        for asset, src in self.sources.items():
            if asset not in market.assets:
                raise InputError(
                    f"yield for {asset!r}: the prices have no such asset (they have {', '.join(market.assets)})"
                )
            i = market.asset_index(asset)
            try:
                g, b = src.growth(market, years)
            except InputError as e:
                raise InputError(f"yield of {asset}: {e}") from None
            growth[:, i] = g
            borrow[:, i] = b
            if src.mode == "payout":  # into the cash asset, or the portfolio's cash without one
                payout[i] = 1 if asset != cash else 0  # the cash asset's own payout is compounding
        return YieldArrays(growth, borrow, payout, np.flatnonzero(payout).astype(np.int64))

    def describe(self) -> dict[str, str]:
        return {asset: src.describe() for asset, src in self.sources.items()}
