"""`ballast.stress`: a strategy under a scenario, against the same strategy without its depeg
reaction and against buy-and-hold, all on the same shocked history with the same shocked costs.

Each variant also runs on the unshocked history, so the shock's effect is measured apart from
what the market did anyway. Over the window (the close before the first shock to ``after``
closes past the last one) a variant reports its value lost to the shock (unshocked minus shocked
value at the window's end), the worst shortfall (the lowest shocked/unshocked value ratio − 1 in
the window), its own worst drawdown in the window, the runway months lost (unshocked minus shocked
runway, engine/treasury_metrics.py: the cash asset and the pegged stables at min(price, peg) over
the scheduled spend) at the window's end and at worst, and the trades it made with their reasons.
A strategy that spends nothing has an infinite runway: nothing to lose, reported as None.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ballast.engine.backtest import backtest, to_market, universe
from ballast.engine.result import Result
from ballast.scenarios.costs import ShockedCosts
from ballast.scenarios.shocks import Scenario, Shocked
from ballast.strategy import Strategy

VARIANTS = ("strategy", "no reaction", "buy & hold")


@dataclass(frozen=True)
class Outcome:
    """One variant over the window."""

    name: str
    equity: pd.Series  # shocked, over the window
    unshocked: pd.Series  # the same variant without the shocks, over the window
    trades: pd.DataFrame  # time, asset, value, cost, reason (inside the window)
    runway: pd.Series | None = None  # months, shocked, over the window (None: no yields or flows)
    runway_unshocked: pd.Series | None = None

    def _runway_gap(self) -> np.ndarray | None:
        """Unshocked minus shocked runway at each close of the window; None when nothing is spent
        (both infinite at every close, or no runway at all)."""
        if self.runway is None or self.runway_unshocked is None:
            return None
        base, hit = self.runway_unshocked.to_numpy(), self.runway.to_numpy()
        if not (np.isfinite(base).any() or np.isfinite(hit).any()):
            return None
        with np.errstate(invalid="ignore"):
            return np.where(np.isinf(base) & np.isinf(hit), 0.0, base - hit)

    @property
    def runway_lost(self) -> float | None:
        """Months of runway lost at the window's end (None: nothing is spent)."""
        gap = self._runway_gap()
        return None if gap is None else float(gap[-1])

    @property
    def worst_runway_lost(self) -> float | None:
        """The most months of runway lost at any close of the window (None: nothing is spent)."""
        gap = self._runway_gap()
        return None if gap is None else float(np.nanmax(gap))

    @property
    def value_lost(self) -> float:
        return float(self.unshocked.iloc[-1] - self.equity.iloc[-1])

    @property
    def value_lost_pct(self) -> float:
        return self.value_lost / float(self.unshocked.iloc[-1])

    @property
    def worst_shortfall(self) -> float:
        return float((self.equity / self.unshocked).min() - 1.0)

    @property
    def worst_drawdown(self) -> float:
        eq = self.equity.to_numpy()
        return float((eq / np.maximum.accumulate(eq)).min() - 1.0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value_before": float(self.equity.iloc[0]),
            "value_end": float(self.equity.iloc[-1]),
            "value_lost": self.value_lost,
            "value_lost_pct": self.value_lost_pct,
            "worst_shortfall": self.worst_shortfall,
            "worst_drawdown": self.worst_drawdown,
            "runway_months_before": _months(self.runway, 0),
            "runway_months_end": _months(self.runway, -1),
            "runway_lost": _finite(self.runway_lost),
            "worst_runway_lost": _finite(self.worst_runway_lost),
            "trades": [
                {
                    "time": str(r.time.date()),
                    "asset": r.asset,
                    "value": float(r.value),
                    "cost": float(r.cost),
                    "reason": r.reason,
                }
                for r in self.trades.itertuples()
            ],
        }


def _finite(x: float | None) -> float | None:
    """JSON has no infinity: an infinite runway (nothing spent) is null."""
    return x if x is not None and np.isfinite(x) else None


def _months(runway: pd.Series | None, i: int) -> float | None:
    return None if runway is None else _finite(float(runway.iloc[i]))


@dataclass(frozen=True)
class StressReport:
    scenario: Scenario
    start: pd.Timestamp
    end: pd.Timestamp
    outcomes: tuple[Outcome, ...]
    prices: pd.DataFrame  # the shocked prices of the named assets over the window

    def outcome(self, name: str) -> Outcome:
        return next(o for o in self.outcomes if o.name == name)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name,
            "source": self.scenario.source,
            "description": self.scenario.description,
            "start": str(self.start.date()),
            "end": str(self.end.date()),
            "variants": [o.as_dict() for o in self.outcomes],
        }


def window(shocked: Shocked, after: int) -> tuple[int, int]:
    """Rows [first − 1, last + after] around every cell, depth or gas the scenario touched."""
    touched = shocked.changed.any(axis=1) | (shocked.depth_factor != 1.0).any(axis=1) | (shocked.gas != 0)
    rows = np.flatnonzero(touched)
    if len(rows) == 0:
        raise ValueError("the scenario's shocks change nothing in these prices")
    # A shape that never recovers touches every later close: the window then follows its start.
    last = rows[0] if touched[-1] else rows[-1]
    return max(int(rows[0]) - 1, 0), min(int(last) + after, len(touched) - 1)


def _outcome(name: str, shocked: Result, base: Result, a: int, b: int) -> Outcome:
    eq = shocked.equity.iloc[a : b + 1]
    tr = shocked.trades
    inside = tr[(tr.time >= eq.index[0]) & (tr.time <= eq.index[-1])][["time", "asset", "value", "cost", "reason"]]
    hit, calm = shocked.treasury, base.treasury
    return Outcome(
        name,
        eq,
        base.equity.iloc[a : b + 1],
        inside.reset_index(drop=True),
        None if hit is None else hit.runway.iloc[a : b + 1],
        None if calm is None else calm.runway.iloc[a : b + 1],
    )


def stress(
    strategy: Strategy,
    prices: pd.DataFrame | str | Path,
    scenario: Scenario,
    at: str | None = None,
    rename: dict[str, str] | None = None,
    after: int = 30,
    assets: list[str] | None = None,
    start: str | None = None,
    end: str | None = None,
) -> StressReport:
    """Run ``strategy`` under ``scenario`` (moved to start ``at``, assets ``rename``d) with the two
    baselines; see the module docstring."""
    from ballast.stable_reserve import without_reaction

    sc = scenario.renamed(rename) if rename else scenario
    sc = sc.shifted(at) if at else sc
    market = to_market(
        prices,
        strategy.cash,
        start=start,
        end=end,
        assets=universe(strategy, assets),
        ideal=strategy.pegs.ideal_columns() if strategy.pegs else None,
    )
    frame = pd.DataFrame(market.prices, index=market.index, columns=list(market.assets))
    shocked = sc.apply(frame)
    a, b = window(shocked, after)
    costs = ShockedCosts(strategy.costs, shocked.depth_factor, shocked.gas)
    variants = {"strategy": strategy, "no reaction": without_reaction(strategy), "buy & hold": strategy.buy_and_hold()}
    outcomes = tuple(
        _outcome(name, backtest(shocked.prices, replace(s, costs=costs)), backtest(frame, s), a, b)
        for name, s in variants.items()
    )
    named = [c for c in sc.assets() if c in frame.columns]
    return StressReport(sc, frame.index[a], frame.index[b], outcomes, shocked.prices.iloc[a : b + 1][named])


def figure(report: StressReport) -> Any:
    """The three value paths over the window, their runways when something is spent, and the
    shocked prices below them."""
    from plotly.subplots import make_subplots

    spends = [o for o in report.outcomes if o.runway_lost is not None]
    titles = ("portfolio value", *(("runway (months)",) if spends else ()), "shocked prices")
    fig = make_subplots(rows=len(titles), cols=1, shared_xaxes=True, vertical_spacing=0.08, subplot_titles=titles)
    for o in report.outcomes:
        fig.add_scatter(x=o.equity.index, y=o.equity.to_numpy(), name=o.name, row=1, col=1, legendgroup=o.name)
    for o in spends:
        assert o.runway is not None
        fig.add_scatter(
            x=o.runway.index, y=o.runway.to_numpy(), name=f"{o.name} runway", row=2, col=1, legendgroup=o.name
        )
    for c in report.prices.columns:
        fig.add_scatter(
            x=report.prices.index, y=report.prices[c].to_numpy(), name=c, row=len(titles), col=1, line={"dash": "dot"}
        )
    fig.update_layout(title=f"stress: {report.scenario.name}", template="plotly_white", height=350 * len(titles))
    return fig
