"""What a planner is: given pre-trade and target weights, the weights to trade to.

Costs are applied afterwards by the engine's exact self-financing solve, so a planner only
decides *where* to go; the kernel-side implementations live in planning/kernel.py.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import NamedTuple

import numpy as np

from ballast.triggers.base import TriggerState

PLAN_FULL = 0
PLAN_BAND_EDGE = 1
PLAN_COST_AWARE = 2

NO_FLOOR = np.zeros(0)  # PlanSpec.floor_value when the strategy has no value floor


class PlanSpec(NamedTuple):
    """A planner as arrays for the kernel (a NamedTuple so numba reads fields by name)."""

    kind: int
    width_abs: np.ndarray  # float64[N]
    width_rel: np.ndarray  # float64[N]
    params: np.ndarray  # float64[K], planner-specific
    # Constraints that need the portfolio's value at the decision (planning/constraints_kernel.py),
    # set by the engine's prepare from the target's wrappers (targets/constraints.py).
    floor_value: np.ndarray = NO_FLOOR  # float64[T]: currency the floor asset must hold
    floor_asset: int = -1  # index of the floor asset, −1 = no floor
    max_turnover: float = 0.0  # one-way turnover cap per rebalance, 0 = none


class Planner(ABC):
    @abstractmethod
    def plan(self, state: TriggerState) -> np.ndarray:
        """Post-trade weights (summing to one) for the pre-trade state."""

    def encode(self, assets: tuple[str, ...]) -> PlanSpec | None:
        """Arrays for the compiled kernel, or None if only the pure-Python path can run it."""
        return None

    def describe(self) -> str:
        return type(self).__name__
