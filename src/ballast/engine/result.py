"""What a backtest returns: the paths, the trades, why each rebalance fired, and the metrics.

Arrays come straight from the kernel; the DataFrames are built on first access, so a sweep or a
benchmark that only wants metrics pays nothing for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ballast.engine.loan_view import LOAN_DOCS
from ballast.engine.metrics import METRIC_DOCS, metrics_dict
from ballast.engine.records import RebalanceLog, TradeLog
from ballast.engine.treasury_docs import TREASURY_DOCS
from ballast.enums import PLAN_SKIPPED
from ballast.market import Market
from ballast.planning.base import skip_note
from ballast.state import TriggerState
from ballast.triggers.base import reason_from_bits

if TYPE_CHECKING:
    from ballast.engine.hedge import HedgeBook
    from ballast.engine.liquidity_kernel import LiquidityBook
    from ballast.engine.loan_view import LoanView
    from ballast.engine.loans import LoanBook
    from ballast.engine.treasury import TreasuryBook
    from ballast.engine.treasury_metrics import TreasuryView
    from ballast.strategy import Strategy

CONVENTIONS_TEXT = {
    "exact": (
        "decisions and trades at the close of period t on information up to t, from pre-trade "
        "weights; portfolio starts as cash and is formed at the first close, paying costs; "
        "exact self-financing accounting: V' = V - sum_i c_i(|w'_i V' - x_i|)"
    ),
    "bt": (
        "decisions and trades at the close of period t on information up to t; each trade moves "
        "(w'_i - w_i)·V of cash and carries its own fee (bt's accounting)"
    ),
}


@dataclass(frozen=True)
class RawRun:
    """The kernel's (or the Python engine's) output, untouched."""

    equity: np.ndarray
    weights: np.ndarray
    acc: np.ndarray
    metrics: np.ndarray
    rebalances: RebalanceLog
    trades: TradeLog
    reasons: list[str] | None = None  # set by the Python engine; else rebuilt from leaf bits
    treasury: "TreasuryBook | None" = None  # yields and flows, when the strategy has them
    loans: "LoanBook | None" = None  # health factors, liquidations, repays and boosts, when it has loans
    hedge: "HedgeBook | None" = None  # the delta hedge's perp, when the strategy has one
    liquidity: "LiquidityBook | None" = None  # the concentrated-liquidity position, when there is one
    pre_weights: np.ndarray | None = None  # K × N pre-trade weights, when units move between closes
    pre_rows: np.ndarray | None = None  # int64[T]: close t's row of pre_weights (−1: rebuilt, engine/treasury.py)


@dataclass(frozen=True, eq=False)
class Result:
    """A finished backtest. ``metrics`` is a dict; the tables are pandas objects."""

    strategy: "Strategy"
    market: Market
    targets: np.ndarray
    raw: RawRun
    baseline_runner: Any = field(default=None, repr=False)
    prepared: Any = field(default=None, repr=False)  # the Prepared run (treasury metrics read its schedule)

    @property
    def conventions(self) -> str:
        return CONVENTIONS_TEXT[self.strategy.convention]

    @cached_property
    def metrics(self) -> dict[str, float]:
        """The metrics; with yields or flows also TWR, IRR, yield earned, flows and runway."""
        values = metrics_dict(self.raw.metrics)
        if self.raw.treasury is not None and self.prepared is not None:
            from ballast.engine.treasury_metrics import treasury_metrics

            values.update(
                treasury_metrics(self.prepared, self.raw.equity, self.raw.weights, self.raw.treasury, self._rebuilt[0])
            )
        if self.raw.loans is not None:
            from ballast.engine.loan_view import loan_metrics

            values.update(loan_metrics(self.raw.loans))
        if self.raw.hedge is not None:
            from ballast.engine.hedge_metrics import hedge_metrics

            values.update(hedge_metrics(self.raw.equity, self.raw.hedge, float(self.strategy.capital)))
        if self.raw.liquidity is not None:
            from ballast.engine.liquidity_metrics import liquidity_metrics

            values.update(liquidity_metrics(self.raw.liquidity))
        return values

    @cached_property
    def loans(self) -> "LoanView | None":
        """Health factor per close and the events table (None without loans)."""
        if self.raw.loans is None:
            return None
        from ballast.engine.loan_view import LoanView

        return LoanView.of(self.strategy, self.market, self.raw.loans)

    @cached_property
    def hedge(self) -> pd.DataFrame | None:
        """The delta hedge per close: delta, hedge, target, band, margin, PnL, costs, why (None without one)."""
        from ballast.engine.hedge_metrics import hedge_frame

        return hedge_frame(self) if self.raw.hedge is not None else None

    @cached_property
    def liquidity(self) -> pd.DataFrame | None:
        """The liquidity position per close: value, holding instead, fees, range, resets, LVR (or None)."""
        if self.raw.liquidity is None:
            return None
        from ballast.engine.liquidity_metrics import liquidity_frame

        return liquidity_frame(self.raw.liquidity, self.market)

    @cached_property
    def treasury(self) -> "TreasuryView | None":
        """Yields, flows and runway over time (None without yields and flows)."""
        if self.raw.treasury is None or self.prepared is None:
            return None
        from ballast.engine.treasury_metrics import TreasuryView

        recorded = self.raw.weights.shape[0] == self.market.n_periods
        earned = self._rebuilt[0] if recorded else None
        return TreasuryView.of(self.prepared, self.raw.equity, self.raw.weights, self.raw.treasury, earned)

    @cached_property
    def _rebuilt(self) -> tuple[np.ndarray, np.ndarray]:
        """(yield earned, pre-trade weights) by close, rebuilt from the recorded run
        (engine/treasury.py, `rebuild_closes`)."""
        from ballast.engine.treasury import rebuild_closes
        from ballast.yields import no_yields

        p = self.prepared
        assert p is not None, "a run with yields or flows keeps its preparation"
        earned, pre = rebuild_closes(
            self.raw.weights, self.raw.equity, self.market.prices, p.yields or no_yields(), p.quote
        )
        return earned, pre

    @cached_property
    def equity(self) -> pd.Series:
        return pd.Series(self.raw.equity, index=self.market.index, name=self.strategy.name)

    @cached_property
    def weights(self) -> pd.DataFrame:
        """Post-trade weights at each close (what is held into the next period)."""
        return pd.DataFrame(self.raw.weights, index=self.market.index, columns=list(self.market.assets))

    @cached_property
    def pre_trade_weights(self) -> pd.DataFrame:
        """Weights at each close before any trade: what the triggers saw."""
        w = self.raw.weights
        p = self.market.prices
        if self.raw.pre_weights is not None and self.raw.pre_rows is not None:  # yields, flows, loans, …
            kept = self.raw.pre_rows >= 0
            pre = self._rebuilt[1].copy() if not kept.all() else np.empty_like(w)
            pre[kept] = self.raw.pre_weights[self.raw.pre_rows[kept]]
            return pd.DataFrame(pre, index=self.market.index, columns=list(self.market.assets))
        pre = np.zeros_like(w)
        grown = w[:-1] * (p[1:] / p[:-1])
        tot = grown.sum(axis=1, keepdims=True)
        pre[1:] = np.divide(grown, tot, out=np.zeros_like(grown), where=tot > 0)
        return pd.DataFrame(pre, index=self.market.index, columns=list(self.market.assets))

    @cached_property
    def target_weights(self) -> pd.DataFrame:
        return pd.DataFrame(self.targets, index=self.market.index, columns=list(self.market.assets))

    @cached_property
    def drift(self) -> pd.DataFrame:
        """Pre-trade weight minus target at each close."""
        return self.pre_trade_weights - self.target_weights

    @cached_property
    def reasons(self) -> list[str]:
        if self.raw.reasons is not None:
            return self.raw.reasons
        t_arr, bits, n_tr = self.raw.rebalances.t, self.raw.rebalances.bits, self.raw.rebalances.n_trades
        pre = self.pre_trade_weights.to_numpy()
        out: list[str] = []
        last = 0
        for t, b, n in zip(t_arr, bits, n_tr, strict=True):
            if t == 0:
                out.append("initial: form the portfolio")
                continue
            state = TriggerState(self.market, int(t), pre[t], self.targets[t], last)
            out.append(reason_from_bits(self.strategy.trigger, int(b), state) or "rebalance")
            if n > 0:
                last = int(t)
        return out

    @cached_property
    def rebalances(self) -> pd.DataFrame:
        """Every time the trigger fired: when, why, how many trades, cost, traded value."""
        log = self.raw.rebalances
        t, n = log.t, log.n_trades
        idle = idle_note(self.strategy, self.market)
        why = [
            skip_note(c, b) if s == PLAN_SKIPPED else idle
            for s, c, b in zip(log.status, log.est_cost, log.benefit, strict=True)
        ]
        reasons = [
            r if k > 0 or i == 0 else f"{r} ({w})" for i, (r, k, w) in enumerate(zip(self.reasons, n, why, strict=True))
        ]
        return pd.DataFrame(
            {
                "time": self.market.index[t],
                "reason": reasons,
                "n_trades": n,
                "cost": log.cost,
                "traded_value": log.value,
                "executed": n > 0,
            }
        )

    @cached_property
    def trades(self) -> pd.DataFrame:
        """One row per asset traded: time, asset, quantity (signed), value (signed), cost, reason."""
        log = self.raw.trades
        t, asset = log.t, log.asset
        reason_at = dict(zip(self.raw.rebalances.t.tolist(), self.reasons, strict=True))
        return pd.DataFrame(
            {
                "time": self.market.index[t],
                "asset": np.array(self.market.assets, dtype=object)[asset] if len(asset) else np.array([], object),
                "quantity": log.quantity,
                "value": log.value,
                "cost": log.cost,
                "reason": [reason_at[int(x)] for x in t],
            }
        )

    @cached_property
    def baseline(self) -> "Result | None":
        """Buy and hold of the same starting weights, same costs."""
        return None if self.baseline_runner is None else self.baseline_runner()

    def summary(self) -> pd.DataFrame:
        """Metrics side by side with the baseline."""
        cols = {self.strategy.name: self.metrics}
        if self.baseline is not None:
            cols["buy & hold"] = self.baseline.metrics
        return pd.DataFrame(cols)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: metrics, baseline metrics, strategy and conventions."""
        return {
            "strategy": self.strategy.describe(),
            "metrics": self.metrics,
            "baseline": self.baseline.metrics if self.baseline is not None else None,
            "conventions": self.conventions,
            "start": str(self.market.index[0]),
            "end": str(self.market.index[-1]),
            "periods": self.market.n_periods,
            "periods_per_year": self.market.periods_per_year,
            "assets": list(self.market.assets),
            "metric_definitions": {
                **METRIC_DOCS,
                **(TREASURY_DOCS if self.raw.treasury is not None else {}),
                **(LOAN_DOCS if self.raw.loans is not None else {}),
                **(_hedge_docs() if self.raw.hedge is not None else {}),
                **(_liquidity_docs() if self.raw.liquidity is not None else {}),
            },
        }

    def write_csv(self, directory: str) -> list[str]:
        """equity.csv, weights.csv, trades.csv and rebalances.csv in ``directory`` (and hedge.csv with a hedge)."""
        from pathlib import Path

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        files = {
            "equity.csv": self.equity.to_frame("equity"),
            "weights.csv": self.weights,
            "trades.csv": self.trades,
            "rebalances.csv": self.rebalances,
            **({"hedge.csv": self.hedge} if self.hedge is not None else {}),
        }
        written = []
        for name, frame in files.items():
            frame.to_csv(d / name, index=name in ("equity.csv", "weights.csv", "hedge.csv"))
            written.append(str(d / name))
        return written


def _hedge_docs() -> dict[str, str]:
    from ballast.engine.hedge_metrics import HEDGE_DOCS

    return HEDGE_DOCS


def idle_note(strategy: "Strategy", market: Market) -> str:
    """Why a firing that the planner executed traded nothing: say what actually happened."""
    from ballast.costs.base import compile_costs
    from ballast.planning import BandEdge

    if compile_costs(strategy.costs, market).min_trade > 0:
        return "skipped: every trade below the minimum size"
    if isinstance(strategy.planner, BandEdge):
        return "nothing to trade: every asset already inside its band"
    return "nothing to trade: already at the planned weights"


def _liquidity_docs() -> dict[str, str]:
    from ballast.engine.liquidity_metrics import LIQUIDITY_DOCS

    return LIQUIDITY_DOCS
