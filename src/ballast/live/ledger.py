"""The ledger: everything the live service saw, decided, sent and got back, in one database.

SQLite (a file, the default ``ballast.db``) or PostgreSQL (``postgresql+psycopg://...``); the
schema is created and upgraded by the Alembic migrations shipped in ``live/migrations`` when the
ledger is opened. This module is the public face documented in docs/live.md; the pieces live in
`models` (tables), `records` (states and rows), `queries` (reads) and `repository` (writes).
"""

from __future__ import annotations

from ballast.live.connection import DEFAULT_URL, LedgerConnection
from ballast.live.database import LedgerCorrupt, LedgerUnavailable, normalise_url
from ballast.live.models import (
    MIGRATIONS,
    Alert,
    Base,
    Cycle,
    Decision,
    Fill,
    HoldingSnapshot,
    Order,
    PaperVenueOrder,
    PriceSeen,
    Proposal,
    RunnerLease,
    ServiceState,
    StartingHolding,
    utcnow,
)
from ballast.live.queries import LedgerQueries
from ballast.live.records import (
    CASH,
    DECISION_FINAL,
    ORDER_FINAL,
    ORDER_OPEN,
    ORDER_STATES,
    PROPOSAL_OPEN,
    PROPOSAL_STATES,
    CycleRecord,
    CycleStatus,
    DecisionState,
    FitCheck,
    GuardAlert,
    OrderRow,
    OrderStatus,
    Outcome,
    PlannedDecision,
    PlannedOrder,
    ProposalRow,
    ProposalState,
)
from ballast.live.repository import Ledger

__all__ = [
    "CASH",
    "DECISION_FINAL",
    "DEFAULT_URL",
    "MIGRATIONS",
    "ORDER_FINAL",
    "ORDER_OPEN",
    "ORDER_STATES",
    "PROPOSAL_OPEN",
    "PROPOSAL_STATES",
    "Alert",
    "Base",
    "Cycle",
    "CycleRecord",
    "CycleStatus",
    "Decision",
    "DecisionState",
    "Fill",
    "FitCheck",
    "GuardAlert",
    "HoldingSnapshot",
    "Ledger",
    "LedgerCorrupt",
    "LedgerConnection",
    "LedgerQueries",
    "LedgerUnavailable",
    "Order",
    "OrderRow",
    "OrderStatus",
    "Outcome",
    "PaperVenueOrder",
    "PlannedDecision",
    "PlannedOrder",
    "PriceSeen",
    "Proposal",
    "ProposalRow",
    "ProposalState",
    "RunnerLease",
    "ServiceState",
    "StartingHolding",
    "normalise_url",
    "utcnow",
]
