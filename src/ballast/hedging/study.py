"""A seeded Monte Carlo of hedging rules on geometric Brownian motion: what a band costs and how
much risk it leaves, before any backtest (docs/hedging.md publishes its frontier).

The exposure (a `PriceExposure`, e.g. a `FullRangeLP`) is held over ``n_steps`` of length ``dt``
(years); the hedge is h units of the underlying, short the exposure's delta. At each step a rule
decides the new h from the current one: a `WhalleyWilmott` band (trade to its edge) or a fixed
interval (trade to −delta every k steps). Proportional cost c·|trade|·S.

``hedge error`` is the standard deviation across paths of the hedged P&L before costs (the
exposure's value change plus the hedge's), ``cost`` the mean cost per path, both in currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ballast.hedging.bands import ww_half_width
from ballast.hedging.exposures import PriceExposure


def gbm_paths(s0: float, sigma: float, dt: float, n_steps: int, n_paths: int, seed: int, mu: float = 0.0) -> np.ndarray:
    """Prices (n_paths, n_steps + 1) of a GBM from ``s0`` (exact log-normal steps)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n_paths, n_steps))
    steps = (mu - 0.5 * sigma * sigma) * dt + sigma * np.sqrt(dt) * z
    out = np.empty((n_paths, n_steps + 1))
    out[:, 0] = s0
    out[:, 1:] = s0 * np.exp(np.cumsum(steps, axis=1))
    return out


class Outcome(NamedTuple):
    """One rule over all paths."""

    error: float  # std of the hedged P&L before costs
    cost: float  # mean cost per path
    trades: float  # mean number of trades per path (the opening excluded)


@dataclass(frozen=True)
class BandRule:
    """Whalley–Wilmott band (``cost`` c, ``risk_aversion`` λ): trade to the edge when outside."""

    cost: float
    risk_aversion: float

    def label(self) -> str:
        return f"Whalley-Wilmott λ={self.risk_aversion:g}"


@dataclass(frozen=True)
class IntervalRule:
    """Re-hedge to −delta every ``every`` steps."""

    every: int

    def label(self) -> str:
        return f"every {self.every} steps"


def run(paths: np.ndarray, exposure: PriceExposure, rule: BandRule | IntervalRule, cost: float) -> Outcome:
    """Hedge ``exposure`` along ``paths`` with ``rule``, paying proportional ``cost``."""
    pnl, paid, trades = hedged_pnl(paths, exposure, rule, cost)
    return Outcome(float(np.std(pnl)), float(np.mean(paid)), float(np.mean(trades)))


def hedged_pnl(
    paths: np.ndarray, exposure: PriceExposure, rule: BandRule | IntervalRule, cost: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per path: (hedged P&L before costs, costs paid, trades after the opening)."""
    n_paths, n = paths.shape
    s = paths[:, 0]
    h = -exposure.delta(s)
    paid = cost * np.abs(h) * s
    pnl = np.zeros(n_paths)
    trades = np.zeros(n_paths)
    for k in range(1, n):
        s_new = paths[:, k]
        pnl += exposure.value(s_new) - exposure.value(s) + h * (s_new - s)
        s = s_new
        if k == n - 1:
            break
        target = -exposure.delta(s)
        if isinstance(rule, BandRule):
            hw = ww_half_width(rule.cost, exposure.gamma(s), s, rule.risk_aversion)
            new = np.clip(h, target - hw, target + hw)
        else:
            new = target if k % rule.every == 0 else h
        moved = new != h
        paid += cost * np.abs(new - h) * s
        trades += moved
        h = new
    return pnl, paid, trades


def frontier(
    paths: np.ndarray,
    exposure: PriceExposure,
    cost: float,
    risk_aversions: np.ndarray,
    intervals: np.ndarray,
) -> list[tuple[str, str, Outcome]]:
    """(family, label, outcome) for every Whalley–Wilmott λ and every fixed interval."""
    rows: list[tuple[str, str, Outcome]] = []
    for lam in risk_aversions:
        rule = BandRule(cost, float(lam))
        rows.append(("whalley-wilmott", rule.label(), run(paths, exposure, rule, cost)))
    for k in intervals:
        interval = IntervalRule(int(k))
        rows.append(("fixed-interval", interval.label(), run(paths, exposure, interval, cost)))
    return rows


def cost_at_error(points: list[Outcome], error: float) -> float:
    """The cost a family's frontier reaches at hedge ``error`` (log-log interpolation; NaN outside)."""
    pts = sorted(points, key=lambda o: o.error)
    e = np.log([p.error for p in pts])
    c = np.log([p.cost for p in pts])
    if not (e[0] <= np.log(error) <= e[-1]):
        return float("nan")
    return float(np.exp(np.interp(np.log(error), e, c)))
