"""What a planner is: given pre-trade and target weights, the weights to trade to.

Costs are applied afterwards by the engine's exact self-financing solve, so a planner only
decides *where* to go; the kernel-side implementations live in planning/kernel.py.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ballast.enums import PLAN_EXECUTED, PLAN_SKIPPED
from ballast.state import TriggerState

if TYPE_CHECKING:
    from ballast.costs.base import CostArrays

NO_FLOOR = np.zeros(0)  # PlanSpec.floor_value when the strategy has no value floor
NO_PARAMS = np.zeros(0)  # PlanSpec.params of a planner without parameters


class PlanVerdict(NamedTuple):
    """What a compiled planner returns besides its weights."""

    status: int  # PLAN_EXECUTED or PLAN_SKIPPED (ballast.enums)
    est_cost: float  # expected cost in currency (the cost-aware planner; else 0)
    benefit: float  # expected benefit in currency (the cost-aware planner; else 0)


class PlanSpec(NamedTuple):
    """A planner as arrays for the kernel (a NamedTuple so numba reads fields by name)."""

    kind: int
    width_abs: np.ndarray  # float64[N]
    width_rel: np.ndarray  # float64[N]
    # float64[1, K] for the cost-aware planner; float64[0] for planners without parameters: a 1-D
    # (empty) array compiles no cost-aware code into the walk (see planning/kernel.py).
    params: np.ndarray
    # Constraints that need the portfolio's value at the decision (planning/constraints_kernel.py),
    # set by the engine's prepare from the target's wrappers (targets/constraints.py).
    floor_value: np.ndarray = NO_FLOOR  # float64[T]: currency the floor asset must hold
    floor_asset: int = -1  # index of the floor asset, −1 = no floor
    max_turnover: float = 0.0  # one-way turnover cap per rebalance, 0 = none


class PlanOutcome(NamedTuple):
    """A plan with what the planner expected: status PLAN_*, cost and benefit in currency."""

    weights: np.ndarray
    status: int
    cost: float
    benefit: float

    def note(self) -> str | None:
        """The rebalance record's text when the gate skipped the trades."""
        if self.status == PLAN_SKIPPED:
            return skip_note(self.cost, self.benefit)
        return None


def skip_note(cost: float, benefit: float) -> str:
    return f"skipped: cost {cost:,.0f} > benefit {benefit:,.0f}"


class Planner(ABC):
    @abstractmethod
    def plan(self, state: TriggerState) -> np.ndarray:
        """Post-trade weights (summing to one) for the pre-trade state."""

    def plan_costed(self, state: TriggerState, value: float, costs: "CostArrays") -> PlanOutcome:
        """One engine step: the plan at portfolio ``value`` under compiled ``costs``. Planners that
        price trades override this; the others ignore value and costs."""
        return PlanOutcome(np.asarray(self.plan(state), dtype=np.float64), PLAN_EXECUTED, 0.0, 0.0)

    def encode(self, assets: tuple[str, ...]) -> PlanSpec | None:
        """Arrays for the compiled kernel, or None if only the pure-Python path can run it."""
        return None

    def describe(self) -> str:
        return type(self).__name__


def plan_step(planner: object, state: TriggerState, value: float, costs: "CostArrays") -> PlanOutcome:
    """One engine step for any planner, including duck-typed ones that only define ``plan``."""
    if isinstance(planner, Planner):
        return planner.plan_costed(state, value, costs)
    return PlanOutcome(np.asarray(planner.plan(state), dtype=np.float64), PLAN_EXECUTED, 0.0, 0.0)  # type: ignore[attr-defined]
