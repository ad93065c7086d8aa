"""Costs: what trading costs. Models combine with ``+`` and compile to `CostArrays`."""

from ballast.costs.base import CostArrays, CostModel, Costs, compile_costs
from ballast.costs.pools import ConstantProductPool, Gas, Spread, StableSwapPool
from ballast.costs.simple import FixedPerTrade, MinTradeSize, Proportional

__all__ = [
    "ConstantProductPool",
    "CostArrays",
    "CostModel",
    "Costs",
    "FixedPerTrade",
    "Gas",
    "MinTradeSize",
    "Proportional",
    "Spread",
    "StableSwapPool",
    "compile_costs",
]
