"""Where a yield comes from: a constant APY, a dated rate series, or a lending market's curve.

Each source gives, for every period (t−1, t], the growth of one unit held (supply) and of one
unit owed (borrow), from the rate known at the close t−1 (no look-ahead) applied over the
actual time between the two closes (``years[t]``, from the day count). Row 0 is 1: nothing
accrues before the first close.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import pandas as pd

from ballast.errors import InputError
from ballast.market import Market

MODES = ("compounding", "payout")
SECONDS_PER_YEAR = 365.0 * 86400.0


def check_mode(owner: str, mode: str) -> str:
    if mode not in MODES:
        raise InputError(f"{owner}: mode must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


def check_rate(owner: str, field: str, value: object, low: float = -1.0) -> float:
    """A finite number above ``low`` (−100 % by default: a rate at or below it destroys more
    than everything)."""
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    v = float(value) if ok else float("nan")  # type: ignore[arg-type]
    if not (np.isfinite(v) and v > low):
        raise InputError(f"{owner}: {field} must be a number above {low:g} ({low:.0%}), got {value!r}")
    return v


class YieldSource(ABC):
    """A per-asset yield: growth factors per period for a long and for a short (borrowed) unit."""

    mode: str = "compounding"

    @abstractmethod
    def growth(self, market: Market, years: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(supply growth[T], borrow growth[T]); ``years[t]`` is the length of (t−1, t]."""

    def describe(self) -> str:
        return type(self).__name__


class ConstantAPY(YieldSource):
    """An effective annual yield: a unit grows by (1 + apy)^years over any stretch of time.

    ``borrow``: the APY a negative holding pays (defaults to ``apy``).
    """

    def __init__(self, apy: float, mode: str = "compounding", borrow: float | None = None) -> None:
        self.apy = check_rate("ConstantAPY", "apy", apy)
        self.borrow = self.apy if borrow is None else check_rate("ConstantAPY", "borrow", borrow)
        self.mode = check_mode("ConstantAPY", mode)

    def growth(self, market: Market, years: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (1.0 + self.apy) ** years, (1.0 + self.borrow) ** years

    def describe(self) -> str:
        return f"{self.apy:.4%} APY ({self.mode})"


def rates_at_closes(series: pd.Series, market: Market, owner: str, max_gap_days: float) -> np.ndarray:
    """The rate in force at each close: the last observation at or before it, at most
    ``max_gap_days`` old. A close without one (before the series starts, or in a gap) and a
    missing value are errors that name the dates."""
    if not isinstance(series, pd.Series):
        raise InputError(f"{owner}: expected a pandas Series of annualised rates indexed by date")
    if not market.has_dates:
        if len(series) != market.n_periods:
            raise InputError(
                f"{owner}: prices without dates need one rate per period ({market.n_periods}), got {len(series)}"
            )
        values: np.ndarray = series.to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise InputError(f"{owner}: rate {int(bad[0])} is missing or not a number")
        return values
    try:
        index = pd.DatetimeIndex(series.index)
    except (TypeError, ValueError):
        raise InputError(f"{owner}: the rate series must be indexed by date") from None
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    missing = np.flatnonzero(~np.isfinite(values))
    if missing.size:
        raise InputError(f"{owner}: no rate (missing or not a number) on {index[missing[0]].date()}")
    order = np.argsort(index.values, kind="stable")
    index, values = index[order], values[order]
    if index.has_duplicates:
        raise InputError(f"{owner}: two rates for {index[index.duplicated()][0].date()}")
    closes = pd.DatetimeIndex(market.index)
    if index.tz is None and closes.tz is not None:
        index = index.tz_localize(closes.tz)
    elif index.tz is not None and closes.tz is None:
        index = index.tz_convert(None)
    pos = index.searchsorted(closes, side="right") - 1
    # Only the rates in force over (0, T−1] are used: the last close starts no period.
    for t in range(len(closes) - 1):
        if pos[t] < 0:
            raise InputError(
                f"{owner}: the rate series starts on {index[0].date()}, after the first "
                f"close {closes[t].date()}; it must cover every close"
            )
        age = (closes[t] - index[pos[t]]).total_seconds() / 86400.0
        if age > max_gap_days:
            raise InputError(
                f"{owner}: the rate series has a gap: no rate between {index[pos[t]].date()} "
                f"and {closes[t].date()} ({age:g} days; at most {max_gap_days:g} allowed, "
                "set max_gap_days to accept more)"
            )
    at_closes: np.ndarray = values[np.maximum(pos, 0)]
    return at_closes


def linear_growth(rate_at_close: np.ndarray, years: np.ndarray) -> np.ndarray:
    """Simple interest over each period at the rate known at its start: 1 + r[t−1]·years[t]."""
    g = np.ones_like(years)
    g[1:] = 1.0 + rate_at_close[:-1] * years[1:]
    return g


class RateSeries(YieldSource):
    """A dated annualised rate (APR), applied linearly over the time between closes — as Aave's
    supply index between updates. ``borrow``: a series for negative holdings (defaults to the
    same). ``max_gap_days``: how stale the last observation may be at a close."""

    def __init__(
        self,
        rates: pd.Series,
        mode: str = "compounding",
        borrow: pd.Series | None = None,
        max_gap_days: float = 7.0,
        name: str = "rate series",
    ) -> None:
        self.rates = rates
        self.borrow = borrow
        self.mode = check_mode(f"RateSeries {name!r}", mode)
        self.max_gap_days = float(max_gap_days)
        self.name = name

    def _checked(self, series: pd.Series, market: Market, field: str) -> np.ndarray:
        owner = f"RateSeries {self.name!r} ({field})"
        r = rates_at_closes(series, market, owner, self.max_gap_days)
        low = np.flatnonzero(r[:-1] <= -1.0)
        if low.size:
            raise InputError(f"{owner}: rate {r[low[0]]:g} at close {low[0]} is at or below -100 %")
        return r

    def growth(self, market: Market, years: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        supply = linear_growth(self._checked(self.rates, market, "rates"), years)
        if self.borrow is None:
            return supply, supply.copy()
        return supply, linear_growth(self._checked(self.borrow, market, "borrow"), years)

    def describe(self) -> str:
        return f"{self.name} ({self.mode})"


class UtilizationCurve(YieldSource):
    """Aave v3's ``DefaultReserveInterestRateStrategy``: a kinked borrow rate in utilization U,

        borrow = base + slope1·U/U*                      (U ≤ U*)
        borrow = base + slope1 + slope2·(U − U*)/(1 − U*) (U > U*)
        supply = borrow·U·(1 − reserve_factor)

    driven by a dated ``utilization`` series, or by ``supplied`` and ``borrowed`` totals (in units)
    — then ``own_deposit`` (units the treasury supplies, held constant) lowers utilization to
    U = B/(S + d): the treasury's own impact on the rate it earns. Supply accrues linearly between
    closes (Aave's liquidity index), debt compounds per second (its variable debt index).
    """

    def __init__(
        self,
        base: float,
        slope1: float,
        slope2: float,
        optimal: float,
        reserve_factor: float = 0.1,
        utilization: pd.Series | None = None,
        supplied: pd.Series | None = None,
        borrowed: pd.Series | None = None,
        own_deposit: float = 0.0,
        mode: str = "compounding",
        max_gap_days: float = 7.0,
        name: str = "utilization curve",
    ) -> None:
        owner = f"UtilizationCurve {name!r}"
        self.base = check_rate(owner, "base", base)
        self.slope1 = check_rate(owner, "slope1", slope1)
        self.slope2 = check_rate(owner, "slope2", slope2)
        self.optimal = float(optimal)
        if not (0.0 < self.optimal < 1.0):
            raise InputError(f"{owner}: optimal (U*) must be strictly between 0 and 1, got {optimal!r}")
        self.reserve_factor = float(reserve_factor)
        if not (0.0 <= self.reserve_factor <= 1.0):
            raise InputError(f"{owner}: reserve_factor must be within [0, 1], got {reserve_factor!r}")
        if (utilization is None) == (supplied is None or borrowed is None):
            raise InputError(f"{owner}: give either utilization, or both supplied and borrowed")
        if own_deposit and utilization is not None:
            raise InputError(f"{owner}: own_deposit needs the supplied and borrowed totals, not utilization")
        if not (np.isfinite(own_deposit) and own_deposit >= 0.0):
            raise InputError(f"{owner}: own_deposit must be a number >= 0, got {own_deposit!r}")
        self.utilization, self.supplied, self.borrowed = utilization, supplied, borrowed
        self.own_deposit = float(own_deposit)
        self.mode = check_mode(owner, mode)
        self.max_gap_days = float(max_gap_days)
        self.name = name

    def borrow_rate(self, u: np.ndarray | float) -> np.ndarray:
        u = np.asarray(u, dtype=np.float64)
        below = self.base + self.slope1 * u / self.optimal
        above = self.base + self.slope1 + self.slope2 * (u - self.optimal) / (1.0 - self.optimal)
        return np.where(u > self.optimal, above, below)

    def supply_rate(self, u: np.ndarray | float) -> np.ndarray:
        u = np.asarray(u, dtype=np.float64)
        rate: np.ndarray = self.borrow_rate(u) * u * (1.0 - self.reserve_factor)
        return rate

    def utilization_at_closes(self, market: Market) -> np.ndarray:
        owner = f"UtilizationCurve {self.name!r}"
        if self.utilization is not None:
            u = rates_at_closes(self.utilization, market, f"{owner} (utilization)", self.max_gap_days)
        else:
            s = rates_at_closes(self.supplied, market, f"{owner} (supplied)", self.max_gap_days)
            b = rates_at_closes(self.borrowed, market, f"{owner} (borrowed)", self.max_gap_days)
            if np.any(s[:-1] + self.own_deposit <= 0.0):
                raise InputError(f"{owner}: supplied must be positive")
            u = b / np.maximum(s + self.own_deposit, np.finfo(float).tiny)
        bad = np.flatnonzero((u[:-1] < 0.0) | (u[:-1] > 1.0))
        if bad.size:
            raise InputError(f"{owner}: utilization must be within [0, 1], got {u[bad[0]]:g} at close {bad[0]}")
        return u

    def growth(self, market: Market, years: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = self.utilization_at_closes(market)
        supply = linear_growth(self.supply_rate(u), years)
        debt = np.ones_like(years)
        seconds = years[1:] * SECONDS_PER_YEAR
        debt[1:] = (1.0 + self.borrow_rate(u)[:-1] / SECONDS_PER_YEAR) ** seconds
        return supply, debt

    def describe(self) -> str:
        return (
            f"{self.name}: base {self.base:g} + {self.slope1:g}/{self.slope2:g} kinked at "
            f"U*={self.optimal:g}, reserve factor {self.reserve_factor:g} ({self.mode})"
        )
