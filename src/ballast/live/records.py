"""The ledger's vocabulary shared by the service, the executors and the faces: the states an
order, a decision, a proposal and a cycle can be in, the plain records passed between the
service and the ledger, and how a table row becomes one. The states are `StrEnum`s whose values
are exactly the strings stored in the database (a state compares equal to its string), so no
migration is involved."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple, TypedDict

from ballast.live.models import Alert, Decision, Fill, Order, Proposal

CASH = "_cash"  # unallocated currency (the backtest's cash scalar); priced at 1


class OrderStatus(StrEnum):
    PLANNED = "planned"
    SUBMITTED = "submitted"
    CANCEL_REQUESTED = "cancel_requested"
    FILLED = "filled"
    PARTIALLY_FILLED = "partially_filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    FAILED = "failed"


class DecisionState(StrEnum):
    PLANNED = "planned"
    SUBMITTED = "submitted"
    FILLED = "filled"
    PARTIALLY_FILLED = "partially_filled"
    CANCELLED = "cancelled"
    FAILED = "failed"


class ProposalState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    EXPORTED = "exported"
    EXECUTING = "executing"
    EXECUTED = "executed"
    SETTLED = "settled"
    EXPIRED = "expired"
    REJECTED = "rejected"
    FAILED = "failed"


class CycleStatus(StrEnum):
    HOLD = "hold"
    DECIDED = "decided"
    GUARDED = "guarded"
    PAUSED = "paused"


DECISION_FINAL = (DecisionState.FILLED, DecisionState.PARTIALLY_FILLED, DecisionState.CANCELLED, DecisionState.FAILED)
ORDER_STATES = tuple(s.value for s in OrderStatus)
ORDER_OPEN = (OrderStatus.PLANNED, OrderStatus.SUBMITTED, OrderStatus.CANCEL_REQUESTED)  # the venue may act
ORDER_FINAL = tuple(s for s in OrderStatus if s not in ORDER_OPEN)
PROPOSAL_STATES = tuple(s.value for s in ProposalState)
PROPOSAL_OPEN = (
    ProposalState.PENDING,
    ProposalState.APPROVED,
    ProposalState.EXPORTED,
    ProposalState.EXECUTING,
)  # a new proposal must not overlap these


class OrderRow(TypedDict):
    """An order as the ledger reads it back (the executors' and the status pages' view)."""

    id: int
    decision_id: int
    client_order_id: str
    asset: str
    quote_asset: str
    side: str  # buy | sell
    quantity: float
    ref_price: float
    quote_price: float
    limit_price: float | None
    notional: float
    expected_cost: float
    status: str  # an OrderStatus value
    exchange_order_id: str | None
    filled_quantity: float
    error: str | None
    created_at: str | None
    updated_at: str | None


class ProposalRow(TypedDict):
    """A proposal as read back; ``payload`` is the decision as it was proposed (reason, trades)."""

    id: int
    decision_id: int
    state: str  # a ProposalState value
    payload: dict[str, Any]
    created_at: str | None
    decided_at: str | None
    decided_by: str | None
    note: str | None
    executed_at: str | None


# (holdings, orders, proposal) → (why it must not execute or None, order id → scaled-down units)
FitCheck = Callable[[dict[str, float], list[OrderRow], ProposalRow], tuple[str | None, dict[int, float]]]


@dataclass(frozen=True)
class PlannedOrder:
    asset: str
    quote_asset: str
    side: str
    quantity: float
    ref_price: float
    quote_price: float
    limit_price: float | None
    notional: float
    expected_cost: float


@dataclass(frozen=True)
class PlannedDecision:
    reason: str
    executor: str
    value_before: float
    notional: float
    expected_cost: float
    weights: dict[str, Any]
    orders: list[PlannedOrder]
    note: str | None = None


def add_orders(
    plan: PlannedDecision | str | None,
    orders: list[PlannedOrder],
    reason: str,
    value: float,
    weights: dict[str, Any],
    executor: str,
    first: bool = False,
) -> PlannedDecision:
    """The cycle's decision with ``orders`` added (``first``: before its own, so they fill first),
    ``reason`` appended; a decision of these orders alone when the trigger planned nothing (a
    string ``plan`` is then its note)."""
    notional = sum(o.notional for o in orders)
    cost = sum(o.expected_cost for o in orders)
    if isinstance(plan, PlannedDecision):
        return replace(
            plan,
            reason=f"{plan.reason}; {reason}",
            notional=plan.notional + notional,
            expected_cost=plan.expected_cost + cost,
            orders=[*orders, *plan.orders] if first else [*plan.orders, *orders],
        )
    return PlannedDecision(reason, executor, value, notional, cost, weights, list(orders), plan)


@dataclass(frozen=True)
class CycleRecord:
    cycle_id: int
    decision_id: int | None
    order_ids: list[int]
    proposal_id: int | None


class GuardAlert(NamedTuple):
    """One alert a guard raises for a cycle (written with the cycle, in its transaction)."""

    level: str  # warning | error
    kind: str
    message: str
    asset: str | None = None


@dataclass(frozen=True)
class Outcome:
    """Result of a state change: ``changed`` is False when it had already happened (idempotent)."""

    id: int
    state: str
    changed: bool


# ---- a table row as a plain record (times as ISO text, ``Z``: naive UTC)
def iso_time(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat() + "Z"


def decision_row(d: Decision) -> dict[str, Any]:
    return {
        "id": d.id,
        "cycle_id": d.cycle_id,
        "period": d.period,
        "observed_at": iso_time(d.observed_at),
        "created_at": iso_time(d.created_at),
        "updated_at": iso_time(d.updated_at),
        "reason": d.reason,
        "state": d.state,
        "executor": d.executor,
        "value_before": d.value_before,
        "notional": d.notional,
        "expected_cost": d.expected_cost,
        "weights": d.weights,
        "note": d.note,
    }


def order_row(o: Order) -> OrderRow:
    return {
        "id": o.id,
        "decision_id": o.decision_id,
        "client_order_id": o.client_order_id,
        "asset": o.asset,
        "quote_asset": o.quote_asset,
        "side": o.side,
        "quantity": o.quantity,
        "ref_price": o.ref_price,
        "quote_price": o.quote_price,
        "limit_price": o.limit_price,
        "notional": o.notional,
        "expected_cost": o.expected_cost,
        "status": o.status,
        "exchange_order_id": o.exchange_order_id,
        "filled_quantity": o.filled_quantity,
        "error": o.error,
        "created_at": iso_time(o.created_at),
        "updated_at": iso_time(o.updated_at),
    }


def fill_row(f: Fill) -> dict[str, Any]:
    return {
        "id": f.id,
        "order_id": f.order_id,
        "trade_key": f.trade_key,
        "asset": f.asset,
        "quantity": f.quantity,
        "price": f.price,
        "quote_asset": f.quote_asset,
        "quote_quantity": f.quote_quantity,
        "fee": f.fee,
        "filled_at": iso_time(f.filled_at),
    }


def proposal_row(p: Proposal) -> ProposalRow:
    return {
        "id": p.id,
        "decision_id": p.decision_id,
        "state": p.state,
        "payload": p.payload,
        "created_at": iso_time(p.created_at),
        "decided_at": iso_time(p.decided_at),
        "decided_by": p.decided_by,
        "note": p.note,
        "executed_at": iso_time(p.executed_at),
    }


def alert_row(a: Alert) -> dict[str, Any]:
    return {
        "id": a.id,
        "created_at": iso_time(a.created_at),
        "level": a.level,
        "kind": a.kind,
        "message": a.message,
        "asset": a.asset,
        "cycle_id": a.cycle_id,
        "resolved_at": iso_time(a.resolved_at),
        "open": a.resolved_at is None,
    }
