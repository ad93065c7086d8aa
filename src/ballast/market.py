"""The market a strategy sees: aligned prices plus their calendar, as plain arrays.

Every domain object (targets, triggers, planners, costs) reads this one immutable value, so
they never touch files or DataFrames and the engine can hand the same arrays to numba.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd


@dataclass(frozen=True, eq=False)
class Market:
    """Prices (T×N, strictly positive, finite) for ``assets`` over ``index``."""

    prices: np.ndarray
    assets: tuple[str, ...]
    index: pd.Index
    periods_per_year: float = field(default=0.0)

    def __post_init__(self) -> None:
        prices = np.ascontiguousarray(self.prices, dtype=np.float64)
        # pandas hands out read-only views; numba would compile a second, read-only variant of
        # every kernel for them, so the market owns a writeable copy instead.
        if not prices.flags.writeable:
            prices = prices.copy()
        object.__setattr__(self, "prices", prices)
        if prices.ndim != 2 or prices.shape != (len(self.index), len(self.assets)):
            raise ValueError(f"prices must be {len(self.index)}×{len(self.assets)}, got shape {prices.shape}")
        if self.periods_per_year <= 0:
            object.__setattr__(self, "periods_per_year", infer_periods_per_year(self.index))

    @property
    def n_periods(self) -> int:
        return self.prices.shape[0]

    @property
    def n_assets(self) -> int:
        return self.prices.shape[1]

    @property
    def has_dates(self) -> bool:
        return isinstance(self.index, pd.DatetimeIndex)

    @cached_property
    def returns(self) -> np.ndarray:
        """Simple returns; row 0 is zero (no return before the first close)."""
        r = np.zeros_like(self.prices)
        r[1:] = self.prices[1:] / self.prices[:-1] - 1.0
        return r

    @cached_property
    def log_returns(self) -> np.ndarray:
        r = np.zeros_like(self.prices)
        r[1:] = np.log(self.prices[1:] / self.prices[:-1])
        return r

    def asset_index(self, name: str) -> int:
        try:
            return self.assets.index(name)
        except ValueError:
            raise KeyError(f"unknown asset {name!r}; the prices have: {', '.join(self.assets)}") from None

    def head(self, t: int) -> "Market":
        """The market as seen at the close of period ``t`` (rows 0..t): the no-look-ahead view."""
        return Market(self.prices[: t + 1], self.assets, self.index[: t + 1], self.periods_per_year)

    @classmethod
    def from_frame(cls, prices: pd.DataFrame, periods_per_year: float = 0.0) -> "Market":
        return cls(
            prices.to_numpy(dtype=np.float64), tuple(map(str, prices.columns.tolist())), prices.index, periods_per_year
        )


def infer_periods_per_year(index: pd.Index) -> float:
    """Periods per year from the calendar: ~365 for crypto days, ~252 for exchange days.

    Without dates (OLPS relatives) the convention of daily exchange data, 252, is used.
    """
    if isinstance(index, pd.DatetimeIndex) and len(index) > 2:
        years = (index[-1] - index[0]).total_seconds() / (365.25 * 86400.0)
        if years > 0:
            return float((len(index) - 1) / years)
    return 252.0
