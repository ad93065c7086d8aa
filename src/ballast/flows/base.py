"""Flows compiled to the schedule the engine applies at each close, and how they are routed.

Routing (which holdings a flow comes from or goes to):
- ``"cash"`` — the flow's own asset only (paid from the cash asset); what it cannot pay is a
  shortfall;
- ``"pro-rata"`` — every holding in proportion, so the weights do not move;
- ``"rebalance"`` — cash-flow rebalancing: a withdrawal sells the most overweight holdings
  first, a deposit buys the most underweight first (often no separate rebalance is needed).
Trades a flow causes pay the strategy's costs; the flow's own asset is their free leg.
"""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

import numpy as np

from ballast.enums import ROUTE_CASH, ROUTE_PRO_RATA, ROUTE_REBALANCE
from ballast.errors import InputError
from ballast.flows.sources import Flow
from ballast.market import Market

ROUTINGS = {"cash": ROUTE_CASH, "pro-rata": ROUTE_PRO_RATA, "rebalance": ROUTE_REBALANCE}


class FlowSchedule(NamedTuple):
    """Signed flows per close and asset. Empty 1-D fields: no flows (nothing compiled)."""

    units: np.ndarray  # float64[T, N]: units of asset i arriving (+) or leaving (−) at close t
    nav: np.ndarray  # float64[T, N]: share of the NAV at close t paid in asset i (signed)
    active: np.ndarray  # int64[T]: k ≥ 1 at the k-th close with a scheduled flow, 0 elsewhere
    routing: int  # ROUTE_*


@cache  # empty arrays, shared: a run without them asks for one at every call
def no_flows() -> FlowSchedule:
    return FlowSchedule(np.empty(0), np.empty(0), np.empty(0, np.int64), ROUTE_CASH)


class Flows:
    """The strategy's scheduled flows and their routing; ``runway_floor`` (months) is the floor
    the runway metrics compare against (None: a `Runway` target's months, else no floor)."""

    def __init__(self, *flows: Flow, routing: str = "cash", runway_floor: float | None = None) -> None:
        for k, f in enumerate(flows):
            if not isinstance(f, Flow):
                raise InputError(
                    f"flow {k + 1}: expected a Flow (Recurring, Dated, SpendingRule), got {type(f).__name__}"
                )
        if routing not in ROUTINGS:
            raise InputError(f"flows: routing must be one of {', '.join(ROUTINGS)}, got {routing!r}")
        if runway_floor is not None and not (np.isfinite(runway_floor) and runway_floor >= 0):
            raise InputError(f"flows: runway_floor must be a number of months >= 0, got {runway_floor!r}")
        self.flows = tuple(flows)
        self.routing = routing
        self.runway_floor = runway_floor

    def __bool__(self) -> bool:
        return bool(self.flows)

    def assets(self) -> tuple[str | None, ...]:
        return tuple(dict.fromkeys(a for f in self.flows for a in f.assets()))

    def monthly_spend(self) -> float:
        """Recurring outflows per month (positive), for a runway in months."""
        return max(-sum(f.monthly() for f in self.flows), 0.0)

    def encode(self, market: Market, cash: str | None) -> FlowSchedule:
        T, N = market.prices.shape
        units = np.zeros((T, N))
        nav = np.zeros((T, N))
        for k, f in enumerate(self.flows):
            for named in f.assets():
                asset = named if named is not None else cash
                if asset is None:
                    raise InputError(
                        f"flow {k + 1} ({f.describe()}): name its asset; the strategy has no cash asset to pay it from"
                    )
                if asset not in market.assets:
                    raise InputError(
                        f"flow {k + 1} ({f.describe()}): asset {asset!r} is not one the strategy "
                        f"holds ({', '.join(market.assets)})"
                    )
                u, share = f.schedule(market, named)
                i = market.asset_index(asset)
                units[:, i] += u
                nav[:, i] += share
        due = (units != 0.0).any(axis=1) | (nav != 0.0).any(axis=1)
        # The flow closes are numbered, so that a run records its flows by close with a flow (few)
        # rather than by close (engine/treasury.py).
        active = np.where(due, np.cumsum(due), 0).astype(np.int64)
        return FlowSchedule(units, nav, active, ROUTINGS[self.routing])

    def describe(self) -> dict[str, object]:
        return {"flows": [f.describe() for f in self.flows], "routing": self.routing}
