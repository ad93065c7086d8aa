"""From a fired trigger to orders: the backtest's own plan-and-execute run on a copy of the
ledger's holdings, its trades turned into `PlannedOrder`s in the asset they settle in (so the
live service trades what the backtest would have traded). A mixin of `LiveService`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ballast.costs.base import compile_costs
from ballast.enums import CONV_EXACT
from ballast.live.executors import Executor
from ballast.live.guards import venue_sized
from ballast.live.records import CASH, PlannedDecision, PlannedOrder
from ballast.live.repository import Ledger
from ballast.market import Market
from ballast.planning.base import PlanSpec
from ballast.strategy import Strategy
from ballast.triggers.base import TriggerState

if TYPE_CHECKING:
    from ballast.config.live import LiveSection


class OrderPlanning:
    """The planning half of a cycle (mixed into `LiveService`)."""

    strategy: Strategy
    cfg: LiveSection
    ledger: Ledger
    executor: Executor | None
    assets: tuple[str, ...]
    n: int
    quote: int
    convention: int
    mode: str
    dry_run: bool
    limits: bool

    def plan_spec(self, market: Market) -> PlanSpec:
        """The planner's encoding with the target's constraints on the prices seen so far (for a
        user-defined planner, a carrier of the constraints only), as the backtest builds it."""
        from ballast.planning.full import Full
        from ballast.targets.constraints import with_constraints

        spec = self.strategy.planner.encode(self.assets)
        constrained: PlanSpec = with_constraints(
            spec if spec is not None else Full().encode(self.assets), self.strategy.target, market
        )
        return constrained

    def plan_orders(
        self,
        state: TriggerState,
        recent: Market,
        k: int,
        spec: PlanSpec,
        units: np.ndarray,
        cash: float,
        p: np.ndarray,
        V: float,
        reason: str,
    ) -> PlannedDecision | str | None:
        """Run the backtest's own plan-and-execute on a copy of the holdings: the trades and costs
        the backtest would make here become orders (``recent``/``k``: see `History.recent`).
        A string is the note of a rebalance the cost gate skipped; None means nothing to trade."""
        from ballast.engine.python_path import plan_and_execute

        costs = compile_costs(self.strategy.costs, recent)
        dv = np.zeros(self.n)
        cost = np.zeros(self.n)
        w_pre, target = state.weights, state.target
        builtin = self.strategy.planner.encode(self.assets) is not None
        *_, outcome = plan_and_execute(
            self.strategy.planner,
            spec,
            builtin,
            state,
            units.copy(),
            cash,
            p,
            costs,
            k,
            self.quote,
            self.convention,
            dv,
            cost,
        )
        if outcome.note() is not None:
            return f"trigger fired ({reason}) but {outcome.note()}"
        w_new = outcome.weights
        settle = self.settlement(cash, V)
        q_price = 1.0 if settle == CASH else float(p[self.quote])
        orders = []
        for i, a in enumerate(self.assets):
            if dv[i] == 0.0 or a == settle:
                continue
            side = "buy" if dv[i] > 0 else "sell"
            slip = self.cfg.ccxt.slippage
            limit = p[i] * (1 + slip if side == "buy" else 1 - slip) if self.limits else None
            orders.append(
                PlannedOrder(
                    a, settle, side, abs(dv[i] / p[i]), float(p[i]), q_price, limit, abs(float(dv[i])), float(cost[i])
                )
            )
        if not orders:
            return None
        planned, (orders, small) = orders, venue_sized(self.executor, self.ledger, orders)
        dropped = sum(o.expected_cost for o in planned if o not in orders)
        if not orders:
            return f"trigger fired ({reason}) but every trade is below the venue's minimum: {small}"
        notes = [
            n
            for n in (
                "dry run: not sent" if self.dry_run else None,
                f"skipped below the venue's minimum: {small}" if small else None,
            )
            if n
        ]
        weights = {
            "before": dict(zip(self.assets, map(float, w_pre), strict=True)),
            "target": dict(zip(self.assets, map(float, target), strict=True)),
            "planned": dict(zip(self.assets, map(float, w_new), strict=True)),
        }
        return PlannedDecision(
            reason,
            "dry-run" if self.dry_run else self.mode,
            float(V),
            float(sum(o.notional for o in orders)),
            float(cost.sum()) - dropped,
            weights,
            orders,
            "; ".join(notes) or None,
        )

    def settlement(self, cash: float, value: float) -> str:
        """The asset trades settle in. Under exact accounting with a quote asset, the backtest's
        cash is zero after formation and the quote asset absorbs every trade; before that (and
        under bt accounting) trades move the unallocated cash, including buys of the quote asset."""
        if self.quote >= 0 and self.convention == CONV_EXACT and abs(cash) <= 1e-9 * max(abs(value), 1.0):
            return self.assets[self.quote]
        return CASH
