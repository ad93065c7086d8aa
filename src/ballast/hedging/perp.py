"""The perpetual future of a hedge: its position, mark-to-market, margin, funding and liquidation.

Conventions (ccxt's ``fetchFundingRate``, every major venue): a funding rate is a fraction of the
position's notional per funding interval (8 h unless the venue says otherwise); when it is
positive longs pay shorts, when negative shorts pay longs. So a position of signed size ``s``
(units of the underlying, negative = short) at mark price ``p`` *receives* −s·p·rate per interval.

The margin is isolated: a re-hedge posts |s|·p / leverage, then every period's mark-to-market
and funding settle into it. When it falls below ``maintenance``·|s|·p the position is liquidated
at that close (a simple maintenance-margin rule, as on Binance or dYdX without tiers), paying
``liquidation_fee``·|s|·p out of what margin is left. Pure domain: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ballast.errors import InputError
from ballast.hedging.kernel import entry_after, funding_received
from ballast.market import Market
from ballast.yields.base import period_years

HOURS_PER_YEAR = 365.0 * 24.0


def check_number(owner: str, field: str, value: object, low: float, *, strict: bool, high: float = math.inf) -> float:
    """A finite number above ``low`` (or at least ``low`` unless ``strict``), else an error naming the field."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    v = float(value) if ok else math.nan  # type: ignore[arg-type]
    inside = (v > low if strict else v >= low) and v <= high
    if not (math.isfinite(v) and inside):
        bound = f"above {low:g}" if strict else f"at least {low:g}"
        upper = f" and at most {high:g}" if math.isfinite(high) else ""
        raise InputError(f"{owner}: {field} must be a number {bound}{upper}, got {value!r}")
    return v


funding_payment = funding_received  # the compiled walk's own step (hedging/kernel.py)


@dataclass(frozen=True)
class PerpPosition:
    """A perpetual position: signed size (units), average entry price, and its isolated margin."""

    size: float = 0.0
    entry_price: float = 0.0
    margin: float = 0.0

    def notional(self, price: float) -> float:
        return abs(self.size) * price

    def unrealised_pnl(self, price: float) -> float:
        """PnL since entry at mark ``price`` (before any of it settled into the margin)."""
        return self.size * (price - self.entry_price)

    def trade(self, units: float, price: float) -> tuple["PerpPosition", float]:
        """(position after buying ``units`` (sell if negative) at ``price``, PnL realised).

        Adding keeps a size-weighted entry price; reducing realises PnL on the part closed at the
        old entry; crossing zero closes the old side and opens the rest at ``price``."""
        entry = float(entry_after(self.size, self.entry_price, units, price))
        adding = self.size == 0.0 or self.size * units > 0.0
        closed = 0.0 if adding else min(abs(units), abs(self.size)) * math.copysign(1.0, self.size)
        return replace(self, size=self.size + units, entry_price=entry), closed * (price - self.entry_price)

    def liquidatable(self, price: float, maintenance: float) -> bool:
        """Margin plus unrealised PnL below the maintenance margin at mark ``price``."""
        return self.size != 0.0 and self.margin + self.unrealised_pnl(price) < maintenance * self.notional(price)

    def liquidation_price(self, maintenance: float) -> float:
        """The mark price at which `liquidatable` turns true (nan without a position; inf/0 if never).

        Solves m + s(p − e) = mm·|s|·p: p = (s·e − m) / (s − mm·|s|)."""
        s, e, m = self.size, self.entry_price, self.margin
        if s == 0.0:
            return math.nan
        den = s - maintenance * abs(s)
        p = (s * e - m) / den
        return p if p > 0.0 else (0.0 if s > 0.0 else math.inf)


def funding_intervals(market: Market, interval_hours: float) -> np.ndarray:
    """How many funding intervals each period (t−1, t] spans (0 for row 0), from the dates, or
    from ``periods_per_year`` without dates."""
    years = period_years(market, 365.0)
    return np.asarray(years * HOURS_PER_YEAR / interval_hours, dtype=np.float64)


@dataclass(frozen=True)
class Funding:
    """A perp's funding: a constant ``rate`` per interval, or a dated ``series`` of them.

    ``per_period(market)`` is the summed rate over each period (t−1, t]: a constant rate times the
    intervals in the period; a series' rates summed over the times that fall in the period (so an
    8-hourly series on daily closes sums three rates). Row 0 is 0: nothing is held before it.
    """

    rate: float = 0.0
    series: pd.Series | None = None
    interval_hours: float = 8.0

    def __post_init__(self) -> None:
        check_number("hedge funding", "interval_hours", self.interval_hours, 0.0, strict=True)
        if self.series is None:
            check_number("hedge funding", "rate", self.rate, -1.0, strict=True, high=1.0)
            return
        s = self.series
        if not isinstance(s, pd.Series) or len(s) == 0:
            raise InputError("hedge funding: series must be a non-empty pandas Series of rates indexed by time")
        values = pd.to_numeric(s, errors="coerce").to_numpy(np.float64)
        bad = np.flatnonzero(~np.isfinite(values) | (np.abs(values) >= 1.0))
        if bad.size:
            raise InputError(
                f"hedge funding: series value at {s.index[bad[0]]} must be a rate per interval "
                f"between -1 and 1, got {s.iloc[bad[0]]!r}"
            )

    def per_period(self, market: Market) -> np.ndarray:
        if self.series is None:
            return self.rate * funding_intervals(market, self.interval_hours)
        if not market.has_dates:
            raise InputError("hedge funding: a dated funding series needs dated prices")
        s = self.series.copy()
        s.index = pd.DatetimeIndex(pd.to_datetime(s.index))
        s = s.sort_index().astype(np.float64)
        first, last = s.index[0], s.index[-1]
        idx = pd.DatetimeIndex(market.index)
        if len(idx) > 1 and first > idx[1]:
            raise InputError(
                f"hedge funding: the series starts {first}, after the prices' first period ends ({idx[1]})"
            )
        if last < idx[-1] - pd.Timedelta(hours=self.interval_hours):
            raise InputError(f"hedge funding: the series ends {last}, before the prices do ({idx[-1]})")
        cum = s.cumsum()
        at = cum.reindex(cum.index.union(idx)).ffill().fillna(0.0).loc[idx].to_numpy(np.float64)
        out = np.zeros(len(idx))
        out[1:] = np.diff(at)
        return out

    def describe(self) -> str:
        if self.series is not None:
            return f"funding series ({len(self.series)} rates per {self.interval_hours:g} h)"
        return f"funding {self.rate:g} per {self.interval_hours:g} h"


def accrue_funding(size: float | np.ndarray, prices: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Funding received (+) or paid (−) in each period by a position of ``size`` (a number or one
    per period, held over (t−1, t]) at marks ``prices``, for per-period ``rates``."""
    return -np.asarray(size, np.float64) * np.asarray(prices, np.float64) * np.asarray(rates, np.float64)
