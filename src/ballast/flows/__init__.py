"""Cash flows in and out of a treasury: recurring budgets, dated tables and spending rules,
compiled to a per-close schedule with a routing rule (see docs/treasury.md)."""

from ballast.flows.base import ROUTINGS, Flows, FlowSchedule, no_flows
from ballast.flows.metrics import irr, money_weighted_return, runway_months, time_weighted_return
from ballast.flows.sources import Dated, Flow, Recurring, SpendingRule, parse_spend

__all__ = [
    "ROUTINGS",
    "Dated",
    "Flow",
    "FlowSchedule",
    "Flows",
    "Recurring",
    "SpendingRule",
    "irr",
    "money_weighted_return",
    "no_flows",
    "parse_spend",
    "runway_months",
    "time_weighted_return",
]
