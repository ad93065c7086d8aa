"""The ledger's vocabulary shared by the service, the executors and the faces: the states an
order, a decision, a proposal and a cycle can be in, and the plain records passed between the
service and the ledger. The states are `StrEnum`s whose values are exactly the strings stored in
the database (a state compares equal to its string), so no migration is involved."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple, TypedDict

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


DECISION_FINAL = (DecisionState.FILLED, DecisionState.PARTIALLY_FILLED, DecisionState.CANCELLED,
                  DecisionState.FAILED)
ORDER_STATES = tuple(s.value for s in OrderStatus)
ORDER_OPEN = (OrderStatus.PLANNED, OrderStatus.SUBMITTED, OrderStatus.CANCEL_REQUESTED)  # the venue may act
ORDER_FINAL = tuple(s for s in OrderStatus if s not in ORDER_OPEN)
PROPOSAL_STATES = tuple(s.value for s in ProposalState)
PROPOSAL_OPEN = (ProposalState.PENDING, ProposalState.APPROVED, ProposalState.EXPORTED,
                 ProposalState.EXECUTING)  # a new proposal must not overlap these


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
