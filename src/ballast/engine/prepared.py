"""A strategy prepared for one market: the arrays the kernel reads, built once."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ballast.costs.base import CostArrays, compile_costs
from ballast.market import Market
from ballast.planning.base import PlanSpec
from ballast.strategy import Strategy
from ballast.targets.base import check_weight_path
from ballast.targets.constraints import with_constraints
from ballast.triggers.base import TriggerProgram, compile_trigger


@dataclass(frozen=True)
class Prepared:
    """Everything the kernel needs for one strategy on one market."""

    strategy: Strategy
    market: Market
    targets: np.ndarray
    program: TriggerProgram | None
    plan: PlanSpec | None
    costs: CostArrays
    quote: int

    @property
    def compiled(self) -> bool:
        return self.program is not None and self.plan is not None


def prepare(strategy: Strategy, market: Market) -> Prepared:
    """Check the target path and compile the trigger, plan and costs for ``market``."""
    targets = check_weight_path(strategy.target.path(market), market, f"target {strategy.target.describe()}")
    quote = market.asset_index(strategy.cash) if strategy.cash else -1
    plan = with_constraints(strategy.planner.encode(market.assets), strategy.target, market)
    return Prepared(strategy, market, targets, compile_trigger(strategy.trigger, market),
                    plan, compile_costs(strategy.costs, market), quote)
