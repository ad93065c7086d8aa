"""Plan the cheapest trades that keep the portfolio inside its bands (see planning/cost_kernel.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ballast.enums import PLAN_COST_AWARE
from ballast.planning.base import Planner, PlanOutcome, PlanSpec
from ballast.state import TriggerState
from ballast.triggers.band import Band

if TYPE_CHECKING:
    from ballast.costs.base import CostArrays, CostModel


class CostAware(Planner):
    """Minimise κ·(squared distance to target) + expected cost, every weight inside its band.

    - ``risk_aversion`` κ: what reducing Σ(wᵢ − τᵢ)² by 1 is worth, as a fraction of the portfolio.
      One way to set it: κ ≈ ½·λ·σ²·H (mean-variance risk aversion λ, variance σ² of the drifting
      assets, H years until the next rebalance); the default 0.05 matches λ ≈ 2, σ² ≈ 0.6, H ≈ 1/12.
      With κ = 0 only forced trades (assets outside their band) are made, at the least cost.
    - ``band``: hard limits (default: the strategy's band trigger; none = no limits).
    - ``gate``: skip the whole rebalance when every weight is inside its band and the benefit is
      below the expected cost; the rebalance record then says "skipped: cost X > benefit Y".
    - ``cash``: the quote asset, the other side of every trade (default: the strategy's cash).

    With every cost zero it trades to the target (κ > 0, i.e. `Full`) or, with κ = 0, to
    `BandEdge`'s projection. It never trades an asset past its target, so it never pays more than
    `Full` on the same state.
    """

    def __init__(
        self,
        risk_aversion: float = 0.05,
        band: Band | None = None,
        gate: bool = True,
        cash: str | None = None,
        costs: "CostModel | None" = None,
    ) -> None:
        k = float(risk_aversion)
        if not (np.isfinite(k) and k >= 0):
            raise ValueError(f"CostAware: risk_aversion must be a non-negative number, got {risk_aversion!r}")
        self.risk_aversion = k
        self.band = band
        self.gate = bool(gate)
        self.cash = cash
        self.costs = costs

    def bind(self, band: Band | None, cash: str | None, costs: "CostModel | None") -> "CostAware":
        """Fill what the strategy knows (band trigger, cash asset, cost model) and was not given."""
        return CostAware(
            self.risk_aversion,
            self.band if self.band is not None else band,
            self.gate,
            self.cash if self.cash is not None else cash,
            self.costs if self.costs is not None else costs,
        )

    def encode(self, assets: tuple[str, ...]) -> PlanSpec:
        n = len(assets)
        if self.band is None:
            a, r = np.ones(n), np.zeros(n)
        else:
            a, r = self.band.widths(assets)
        if self.cash is not None and self.cash not in assets:
            raise KeyError(f"CostAware: cash asset {self.cash!r} is not among the assets ({', '.join(assets)})")
        quote = assets.index(self.cash) if self.cash is not None else -1
        return PlanSpec(PLAN_COST_AWARE, a, r, np.array([[self.risk_aversion, float(self.gate), quote, 0.0]]))

    def plan_costed(self, state: TriggerState, value: float, costs: "CostArrays") -> PlanOutcome:
        """The plan for ``state`` at portfolio ``value`` under compiled ``costs`` (one engine step)."""
        from ballast.planning.kernel import plan_weights

        spec = self.encode(state.market.assets)
        out = np.empty(len(state.weights))
        verdict = plan_weights(
            spec,
            np.asarray(state.weights, np.float64),
            np.asarray(state.target, np.float64),
            1.0,
            out,
            np.zeros(len(out), np.bool_),
            costs,
            state.t,
            float(value),
            np.int64(spec.params[0, 2]),
        )
        return PlanOutcome(out, int(verdict.status), float(verdict.est_cost), float(verdict.benefit))

    def plan_at(self, state: TriggerState, value: float) -> PlanOutcome:
        """Like `plan_costed`, compiling this planner's cost model on the state's market."""
        from ballast.costs.base import compile_costs

        return self.plan_costed(state, value, compile_costs(self.costs, state.market))

    def plan(self, state: TriggerState) -> np.ndarray:
        raise ValueError(
            "CostAware needs the portfolio value to price trades: call "
            "plan_at(state, value) or plan_costed(state, value, costs)"
        )

    def describe(self) -> str:
        band = f", {self.band.describe()}" if self.band is not None else ""
        gate = "" if self.gate else ", no gate"
        return f"cost-aware (risk aversion {self.risk_aversion:g}{band}{gate})"
