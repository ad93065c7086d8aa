"""Metrics of a run with yields and flows: TWR, IRR, yield earned, flows, runway, run-out.

With flows, equity jumps when money moves, so the return metrics (final_wealth, cagr, volatility,
drawdown, …) are computed on the time-weighted path — the value of one unit invested at the
start, which flows do not move (docs/treasury.md). ``end_value`` is what is actually left.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ballast.engine.metrics import compute_metrics
from ballast.engine.treasury import TreasuryBook, settle_flows, twr_path
from ballast.engine.treasury_docs import TREASURY_DOCS  # noqa: F401  (re-exported)
from ballast.flows.metrics import DAYS_PER_MONTH, days_below, money_weighted_return, runway_months
from ballast.market import Market
from ballast.yields import period_years

if TYPE_CHECKING:
    from ballast.engine.prepared import Prepared


def run_metrics(p: "Prepared", equity: np.ndarray, acc: np.ndarray, book: TreasuryBook | None) -> np.ndarray:
    """The metrics vector of a run (both engines): flow costs join the costs, and with flows the
    return metrics are those of the time-weighted path."""
    capital, ppy = float(p.strategy.capital), float(p.market.periods_per_year)
    if book is not None:
        equity = settle_flows(equity, book.closes, capital, acc)
    metrics: np.ndarray = compute_metrics(equity, acc, capital, ppy)
    return metrics


def return_path(equity: np.ndarray, book: TreasuryBook, capital: float) -> np.ndarray:
    """The path the return metrics read: equity, or the time-weighted path once money moved."""
    return twr_path(equity, book.flow, capital) if book.flow.any() else equity


def years_since_start(market: Market) -> np.ndarray:
    return np.cumsum(period_years(market, 365.0))


def spend_per_month(p: "Prepared", equity: np.ndarray) -> np.ndarray:
    """Scheduled net outflow a month at each close: over the coming 365 days (the last 365 days of
    the data once fewer remain), unit flows at that close's prices, NAV shares at its value."""
    m, sched = p.market, p.flows
    T = m.n_periods
    if sched is None:
        return np.zeros(T)
    days = years_since_start(m) * 365.0
    cum_units = np.vstack([np.zeros(m.n_assets), np.cumsum(sched.units, axis=0)])
    cum_nav = np.concatenate([[0.0], np.cumsum(sched.nav.sum(axis=1))])
    out = np.zeros(T)
    for t in range(T):
        start = max(min(days[t], days[-1] - 365.0), 0.0)  # the window (start, start + 365 days]
        span = min(365.0, days[-1] - start)
        if span <= 0.0:
            continue
        lo = int(np.searchsorted(days, start, side="right"))
        # Days are sums of float periods: a flow exactly a year on may sit an ulp past start + 365.
        hi = int(np.searchsorted(days, start + 365.0 + 1e-6, side="right"))
        value = (cum_units[hi] - cum_units[lo]) @ m.prices[t] + (cum_nav[hi] - cum_nav[lo]) * equity[t]
        out[t] = -value / (span / DAYS_PER_MONTH)
    return out


def reserve_value(p: "Prepared", equity: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """T×N value of the runway's reserve by asset: the cash asset and, when the strategy declares
    pegs, every pegged stable counted at min(price, peg) — a stable below its peg pays the bills
    at its price, one above it only at its peg (as a `Runway` floor counts it). Zero elsewhere."""
    values = weights * equity[:, None]
    out: np.ndarray = np.zeros_like(values)
    if p.quote >= 0:
        out[:, p.quote] = values[:, p.quote]
    pegs = p.strategy.pegs
    if pegs is not None:
        cols = pegs.columns(p.market)
        prices = p.market.prices[:, cols]
        out[:, cols] = values[:, cols] * np.minimum(prices, pegs.levels(p.market)) / prices
    return out


def reserve_monthly_yield(p: "Prepared", reserve: np.ndarray) -> np.ndarray:
    """The reserve's yield a month at each close: each asset's growth over the last period, as a
    monthly rate, weighted by its share of the reserve (``reserve``: T×N values)."""
    T = p.market.n_periods
    if p.yields is None or T < 2:
        return np.zeros(T)
    years = period_years(p.market, p.strategy.yields.day_count)  # type: ignore[union-attr]
    rates = np.zeros((T, p.market.n_assets))
    rates[1:] = monthly_yield(p.yields.growth[1:], years[1:, None])
    rates[0] = rates[1]
    total = reserve.sum(axis=1)
    mixed = np.divide((rates * reserve).sum(axis=1), total, out=np.zeros(T), where=total > 0.0)
    out: np.ndarray = np.where(total > 0.0, mixed, rates[:, max(p.quote, 0)])
    return out


def monthly_yield(growth: np.ndarray | float, years: np.ndarray | float) -> np.ndarray:
    """A period's growth factor over ``years`` as a monthly rate (0 over an empty period); the
    live ledger's runway reads its reserve's yield the same way."""
    g, y = np.asarray(growth, np.float64), np.asarray(years, np.float64)
    annual = np.where(y > 0, g ** (1.0 / np.where(y > 0, y, 1.0)) - 1.0, 0.0)
    return np.asarray((1.0 + annual) ** (1.0 / 12.0) - 1.0)


def runway_path(p: "Prepared", equity: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Runway in months at each close (NaN without a cash asset or pegged stables)."""
    if (p.quote < 0 and p.strategy.pegs is None) or weights.shape[0] != equity.shape[0]:
        return np.full(equity.shape[0], np.nan)
    reserve = reserve_value(p, equity, weights)
    return runway_months(reserve.sum(axis=1), spend_per_month(p, equity), reserve_monthly_yield(p, reserve))


def runway_floor(p: "Prepared") -> float:
    """The floor in months: the flows' runway_floor, else a Runway target's months, else NaN."""
    flows = p.strategy.flows
    if flows is not None and flows.runway_floor is not None:
        return float(flows.runway_floor)
    target: Any = p.strategy.target
    while target is not None:
        months = getattr(target, "months", None)
        if months is not None:
            return float(months)
        target = getattr(target, "inner", None)
    return float("nan")


def treasury_metrics(
    p: "Prepared", equity: np.ndarray, weights: np.ndarray, book: TreasuryBook, earned: np.ndarray
) -> dict[str, float]:
    """The treasury's metrics of a recorded run; ``earned``: yield by close and asset (`rebuild_closes`)."""
    capital = float(p.strategy.capital)
    m = p.market
    flow = book.flow
    twr = float(return_path(equity, book, capital)[-1] / capital - 1.0)
    irr = money_weighted_return(equity, flow, capital, years_since_start(m))
    runway = runway_path(p, equity, weights)
    floor = runway_floor(p)
    days = np.append(np.diff(years_since_start(m)) * 365.0, 0.0)
    finite = runway[np.isfinite(runway)] if np.isfinite(runway).any() else runway
    return {
        "twr": twr,
        "irr": float(irr),
        "end_value": float(equity[-1]),
        "yield_earned": float(earned.sum()),
        "paid_out": float(-flow[flow < 0].sum()),
        "received": float(flow[flow > 0].sum()),
        "shortfall": float(book.shortfall.sum()),
        "runway_months": float(runway[-1]),
        "min_runway_months": float(np.min(finite)) if finite.size else float("nan"),
        "days_below_floor": days_below(runway, floor, days) if np.isfinite(floor) else float("nan"),
    }


@dataclass(frozen=True)
class TreasuryView:
    """What yields and flows did over time, as pandas objects (for reports and users)."""

    yield_by_asset: pd.DataFrame  # cumulative yield earned (− borrowing paid) by asset, in currency
    flows_by_asset: pd.DataFrame  # value paid in (+) or out (−) by asset at each close
    runway: pd.Series  # months at each close
    floor: float  # runway floor in months (NaN: none)
    shortfalls: pd.DataFrame  # time, value not paid
    run_out: object  # the first close with a shortfall (a Timestamp or period), None if none

    @classmethod
    def of(
        cls, p: "Prepared", equity: np.ndarray, weights: np.ndarray, book: TreasuryBook, earned: np.ndarray | None
    ) -> "TreasuryView":
        """``earned``: yield by asset and close (`rebuild_closes`), None for an unrecorded run."""
        m = p.market
        cols = list(m.assets)
        short = np.flatnonzero(book.shortfall > 0.0)
        if weights.shape[0] == m.n_periods:  # recorded: by close
            idx = m.index
            assert earned is not None
            earned = np.cumsum(earned, axis=0)
            paid = np.zeros((m.n_periods, m.n_assets))
            if p.flows is not None and np.ndim(p.flows.active) == 1 and p.flows.active.size:
                due = np.flatnonzero(p.flows.active)
                paid[due] = book.paid[: due.size]
        else:  # an unrecorded run: flows in total, no yield by asset
            idx, earned, paid = m.index[-1:], np.full((1, m.n_assets), np.nan), book.paid
        return cls(
            pd.DataFrame(earned, index=idx, columns=cols),
            pd.DataFrame(paid, index=idx, columns=cols),
            pd.Series(runway_path(p, equity, weights), index=m.index, name="runway_months"),
            runway_floor(p),
            pd.DataFrame({"time": m.index[short], "shortfall": book.shortfall[short]}),
            m.index[short[0]] if short.size else None,
        )
