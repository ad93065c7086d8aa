"""Planning: which trades. A planner maps pre-trade and target weights to post-trade weights."""

from ballast.planning.band_edge import BandEdge
from ballast.planning.base import Planner, PlanOutcome
from ballast.planning.cost_aware import CostAware
from ballast.planning.full import Full

__all__ = ["BandEdge", "CostAware", "Full", "PlanOutcome", "Planner"]
