"""Costs: what trading costs. Models combine with ``+`` and compile to `CostArrays`."""
from ballast.costs.base import CostArrays, CostModel, Costs, compile_costs
from ballast.costs.simple import FixedPerTrade, MinTradeSize, Proportional

__all__ = ["CostArrays", "CostModel", "Costs", "FixedPerTrade", "MinTradeSize", "Proportional",
           "compile_costs"]
