"""Trade all the way back to target."""

from __future__ import annotations

import numpy as np

from ballast.enums import PLAN_FULL
from ballast.planning.base import NO_PARAMS, Planner, PlanSpec
from ballast.state import TriggerState


class Full(Planner):
    """Every asset back to its target weight."""

    def plan(self, state: TriggerState) -> np.ndarray:
        return state.target.copy()

    def encode(self, assets: tuple[str, ...]) -> PlanSpec:
        z = np.zeros(len(assets))
        return PlanSpec(PLAN_FULL, z, z, NO_PARAMS)

    def describe(self) -> str:
        return "full"
