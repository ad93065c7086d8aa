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


class PlanSpec(NamedTuple):
    """A planner as arrays for the kernel (a NamedTuple so numba reads fields by name)."""

    kind: int
    width_abs: np.ndarray  # float64[N]
    width_rel: np.ndarray  # float64[N]
    params: np.ndarray  # float64[K], planner-specific


class Planner(ABC):
    @abstractmethod
    def plan(self, state: TriggerState) -> np.ndarray:
        """Post-trade weights (summing to one) for the pre-trade state."""

    def encode(self, assets: tuple[str, ...]) -> PlanSpec | None:
        """Arrays for the compiled kernel, or None if only the pure-Python path can run it."""
        return None

    def describe(self) -> str:
        return type(self).__name__
