"""The ledger: everything the live service saw, decided, sent and got back, in one database.

SQLite (a file, the default ``ballast.db``) or PostgreSQL (``postgresql+psycopg://...``); the
schema is created and upgraded by the Alembic migrations shipped in ``live/migrations`` when the
ledger is opened. Holdings are never stored as a mutable balance: they are always the starting
holdings plus the sum of all recorded fills and entries (external flows, yield accruals: see
``live/treasury.py``), so a crash can never leave them out of step.

Timestamps are naive UTC (SQLite keeps no time zone). Every mutation runs in one transaction;
state changes that several processes may race on (approving a proposal, claiming it for
execution) are conditional UPDATEs, so exactly one caller wins.
"""
from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint, func, insert, select,
    union_all, update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from ballast.errors import InputError
from ballast.live.database import (  # noqa: F401  (LedgerCorrupt, normalise_url: re-exported)
    LedgerCorrupt, LedgerUnavailable, normalise_url, open_engine, safe_url, translate,
)

DEFAULT_URL = "sqlite:///ballast.db"
CASH = "_cash"  # unallocated currency (the backtest's cash scalar); priced at 1

DECISION_FINAL = ("filled", "partially_filled", "cancelled", "failed")
ORDER_STATES = ("planned", "submitted", "cancel_requested", "filled", "partially_filled", "cancelled", "rejected",
                "failed")
ORDER_FINAL = ("filled", "partially_filled", "cancelled", "rejected", "failed")
ORDER_OPEN = ("planned", "submitted", "cancel_requested")  # the venue may still act on these
PROPOSAL_STATES = ("pending", "approved", "exported", "executing", "executed", "settled", "expired", "rejected",
                   "failed")
PROPOSAL_OPEN = ("pending", "approved", "exported", "executing")  # a new proposal must not overlap these


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class ServiceState(Base):
    """One row (id 1): who runs on this ledger, and the pause switch."""

    __tablename__ = "service_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ledger_key: Mapped[str] = mapped_column(String(16))  # prefix of client order ids
    strategy: Mapped[str | None] = mapped_column(String(200))
    executor: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str | None] = mapped_column(String(200))
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    pause_reason: Mapped[str | None] = mapped_column(Text)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RunnerLease(Base):
    """One row (id 1): which runner may trade on this ledger, until when (see ``live/lease.py``).
    ``generation`` grows with every acquisition: a runner's writes are fenced by it."""

    __tablename__ = "runner_lease"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    holder: Mapped[str | None] = mapped_column(String(64))  # random token of the holding runner
    host: Mapped[str | None] = mapped_column(String(200))
    pid: Mapped[int | None] = mapped_column(Integer)
    strategy: Mapped[str | None] = mapped_column(String(200))
    acquired_at: Mapped[datetime | None] = mapped_column(DateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    released_at: Mapped[datetime | None] = mapped_column(DateTime)


class StartingHolding(Base):
    __tablename__ = "starting_holdings"
    asset: Mapped[str] = mapped_column(String(64), primary_key=True)
    units: Mapped[float] = mapped_column(Float)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Cycle(Base):
    """One observation of the market: period ``period`` of the live history."""

    __tablename__ = "cycles"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period: Mapped[int | None] = mapped_column(Integer, unique=True)  # None: guarded, not in history
    observed_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(20))  # hold | decided | guarded | paused
    note: Mapped[str | None] = mapped_column(Text)
    value: Mapped[float | None] = mapped_column(Float)  # pre-trade portfolio value


class PriceSeen(Base):
    __tablename__ = "prices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"), index=True)
    asset: Mapped[str] = mapped_column(String(64))
    price: Mapped[float | None] = mapped_column(Float)  # None: missing or not a number


class HoldingSnapshot(Base):
    __tablename__ = "holding_snapshots"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"), index=True)
    observed_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    total_value: Mapped[float] = mapped_column(Float)
    lines: Mapped[list[Any]] = mapped_column(JSON)  # [{asset, units, price, value, weight, target}]


class Decision(Base):
    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"), index=True)
    period: Mapped[int] = mapped_column(Integer)
    observed_at: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), index=True, default="planned")
    executor: Mapped[str] = mapped_column(String(40))
    value_before: Mapped[float] = mapped_column(Float)
    notional: Mapped[float] = mapped_column(Float)
    expected_cost: Mapped[float] = mapped_column(Float)
    weights: Mapped[dict[str, Any]] = mapped_column(JSON)  # {before, target, planned}: asset → weight
    note: Mapped[str | None] = mapped_column(Text)


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"), index=True)
    client_order_id: Mapped[str] = mapped_column(String(64), unique=True)
    asset: Mapped[str] = mapped_column(String(64))
    quote_asset: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(4))  # buy | sell
    quantity: Mapped[float] = mapped_column(Float)  # units, positive
    ref_price: Mapped[float] = mapped_column(Float)  # the observed price the plan used
    quote_price: Mapped[float] = mapped_column(Float, default=1.0)  # price of the quote asset then
    limit_price: Mapped[float | None] = mapped_column(Float)
    notional: Mapped[float] = mapped_column(Float)
    expected_cost: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20), index=True, default="planned")
    exchange_order_id: Mapped[str | None] = mapped_column(String(128))
    filled_quantity: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Fill(Base):
    """An executed trade: ``quantity`` (signed) of ``asset`` for ``quote_quantity`` (signed, fee
    included) of ``quote_asset``. ``trade_key`` makes recording the same venue fill idempotent."""

    __tablename__ = "fills"
    __table_args__ = (UniqueConstraint("order_id", "trade_key", name="uq_fill_trade"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    trade_key: Mapped[str] = mapped_column(String(128))
    asset: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[float] = mapped_column(Float)
    price: Mapped[float] = mapped_column(Float)
    quote_asset: Mapped[str] = mapped_column(String(64))
    quote_quantity: Mapped[float] = mapped_column(Float)
    fee: Mapped[float] = mapped_column(Float)  # in quote currency (a fee paid in another currency: its value)
    filled_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PaperVenueOrder(Base):
    """The paper executor's simulated venue: what it accepted, by client order id. It is written
    in its own transaction, like a real exchange, so a crash between "sent" and "recorded" is
    possible and must be reconciled. Deliberately not unique: a double send would be visible."""

    __tablename__ = "paper_venue_orders"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_order_id: Mapped[str] = mapped_column(String(64), index=True)
    asset: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[float] = mapped_column(Float)  # signed units
    price: Mapped[float] = mapped_column(Float)
    quote_quantity: Mapped[float] = mapped_column(Float)  # signed quote units, fee included
    fee: Mapped[float] = mapped_column(Float)  # currency
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Proposal(Base):
    __tablename__ = "proposals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"), unique=True)
    state: Mapped[str] = mapped_column(String(20), index=True, default="pending")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # reason, trades, expected costs
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    executed_at: Mapped[datetime | None] = mapped_column(DateTime)


class Alert(Base):
    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    level: Mapped[str] = mapped_column(String(10))  # warning | error
    kind: Mapped[str] = mapped_column(String(40))  # stale_price | price_jump | bad_price | ...
    message: Mapped[str] = mapped_column(Text)
    asset: Mapped[str | None] = mapped_column(String(64))
    cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycles.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)


class LedgerEntry(Base):
    """Units of ``asset`` that arrived (+) or left (−) other than by a trade: a deposit or a
    withdrawal (``source`` schedule | manual) or a yield accrual (``source`` yield). ``key`` makes
    booking idempotent (see ``live/treasury.py``)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (UniqueConstraint("key", name="uq_entry_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(128))
    cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycles.id"))
    period: Mapped[int | None] = mapped_column(Integer)
    entry_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    asset: Mapped[str] = mapped_column(String(64))
    units: Mapped[float] = mapped_column(Float)
    value: Mapped[float | None] = mapped_column(Float)  # in the portfolio's currency at the entry's price
    kind: Mapped[str] = mapped_column(String(20))  # deposit | withdrawal | accrual
    source: Mapped[str] = mapped_column(String(20))  # schedule | manual | yield
    note: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class TreasuryMark(Base):
    """A cycle's runway inputs: the strategy's spend a month and its reserve's yield a month."""

    __tablename__ = "treasury_marks"
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"), primary_key=True)
    reserve_asset: Mapped[str | None] = mapped_column(String(64))
    spend_month: Mapped[float] = mapped_column(Float)
    reserve_yield_month: Mapped[float] = mapped_column(Float)


MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Statements run every cycle, built once (SQLAlchemy then skips rebuilding their cache keys).
_LEGS = union_all(select(StartingHolding.asset.label("asset"), StartingHolding.units.label("units")),
                  select(Fill.asset, Fill.quantity), select(Fill.quote_asset, Fill.quote_quantity),
                  select(LedgerEntry.asset, LedgerEntry.units)).subquery()
_HOLDINGS = select(_LEGS.c.asset, func.sum(_LEGS.c.units)).group_by(_LEGS.c.asset)
_UNFINISHED = (select(Decision.id)
               .where(Decision.state.in_(("planned", "submitted")),
                      Decision.id.not_in(select(Proposal.decision_id)
                                         .where(Proposal.state.in_(("pending", "approved", "exported",
                                                                    "rejected")))))
               .order_by(Decision.id))
_PAUSED = select(ServiceState.paused).where(ServiceState.id == 1)


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


# (holdings, orders, proposal) → (why it must not execute or None, order id → scaled-down units)
FitCheck = Callable[[dict[str, float], list[dict[str, Any]], dict[str, Any]], tuple[str | None, dict[int, float]]]


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


@dataclass(frozen=True)
class Outcome:
    """Result of a state change: ``changed`` is False when it had already happened (idempotent)."""

    id: int
    state: str
    changed: bool


class Ledger:
    """Repository over the ledger database: the queries a status page needs and the mutations."""

    def __init__(self, url: str = DEFAULT_URL, *, migrate: bool = True, connect_timeout: int = 5,
                 must_exist: bool = False) -> None:
        self.url = normalise_url(url)
        self.engine: Engine = open_engine(self.url, connect_timeout, must_exist)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if migrate:
            self.migrate()

    @property
    def safe_url(self) -> str:
        return safe_url(self.url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- plumbing
    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed on success, rolled back on any error (no partial write)."""
        try:
            with self._sessions.begin() as s:
                yield s
        except DBAPIError as exc:
            mapped = translate(exc, self.url)
            if mapped is None:
                raise
            raise mapped from None

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest shipped migration (atomically, see
        ``live/database.py``); the service row is created in the same transaction."""
        from ballast.live.database import migrate

        migrate(self.engine, self.url, MIGRATIONS, _seed)

    # ---------------------------------------------------------------- service state
    def state(self) -> dict[str, Any]:
        """The service row plus the runner lease: ``running`` only while a runner holds an unexpired
        lease, so a killed service shows as stopped; ``heartbeat_at`` is its last sign of life."""
        from ballast.live.lease import lease_info

        with self.session() as s:
            st = s.get(ServiceState, 1)
            assert st is not None
            lease = lease_info(s) or {}
            return {"ledger_key": st.ledger_key, "strategy": st.strategy, "executor": st.executor,
                    "source": st.source, "paused": st.paused, "pause_reason": st.pause_reason,
                    "dry_run": st.dry_run, "started_at": _iso(st.started_at),
                    "heartbeat_at": _iso(lease.get("heartbeat_at") or st.heartbeat_at),
                    "running": bool(lease.get("running")),
                    "runner": None if not lease.get("acquired_at") else {
                        "host": lease["host"], "pid": lease["pid"], "strategy": lease["strategy"],
                        "since": _iso(lease["acquired_at"]), "expires_at": _iso(lease["expires_at"]),
                        "released_at": _iso(lease["released_at"])}}

    def pause(self, reason: str | None = None) -> Outcome:
        """Stop trading at the next cycle (observations and alerts continue). Idempotent."""
        with self.session() as s:
            n = s.execute(update(ServiceState).where(ServiceState.id == 1, ServiceState.paused.is_(False))
                          .values(paused=True, pause_reason=reason, updated_at=utcnow())).rowcount
        return Outcome(1, "paused", n == 1)

    def resume(self) -> Outcome:
        with self.session() as s:
            n = s.execute(update(ServiceState).where(ServiceState.id == 1, ServiceState.paused.is_(True))
                          .values(paused=False, pause_reason=None, updated_at=utcnow())).rowcount
        return Outcome(1, "running", n == 1)

    def is_paused(self) -> bool:
        with self.session() as s:
            return bool(s.scalar(select(ServiceState.paused).where(ServiceState.id == 1)))

    # ---------------------------------------------------------------- holdings
    def starting_holdings(self) -> dict[str, float]:
        with self.session() as s:
            return {a: u for a, u in s.execute(select(StartingHolding.asset, StartingHolding.units))}

    def holdings(self, session: Session | None = None) -> dict[str, float]:
        """Starting holdings + every recorded fill + every entry (flows, accruals): the only
        definition of holdings."""
        if session is None:
            with self.session() as s:
                return self.holdings(s)
        return {a: float(u or 0.0) for a, u in session.execute(_HOLDINGS)}

    def latest_snapshot(self) -> dict[str, Any] | None:
        with self.session() as s:
            snap = s.scalars(select(HoldingSnapshot).order_by(HoldingSnapshot.id.desc()).limit(1)).first()
            if snap is None:
                return None
            return {"observed_at": _iso(snap.observed_at), "total_value": snap.total_value, "lines": snap.lines}

    def holdings_vs_target(self) -> list[dict[str, Any]]:
        """Current ledger holdings valued at the last observed prices, against the last target."""
        snap = self.latest_snapshot()
        units = self.holdings()
        lines = {ln["asset"]: ln for ln in (snap["lines"] if snap else [])}
        assets = list(lines) + [a for a in units if a not in lines]
        values = {}
        for a in assets:
            price = 1.0 if a == CASH else lines.get(a, {}).get("price")
            values[a] = units.get(a, 0.0) * price if price is not None else None
        total = sum(v for v in values.values() if v is not None)
        rows = []
        for a in assets:
            v = values[a]
            w = v / total if v is not None and total > 0 else None
            tgt = lines.get(a, {}).get("target")
            if a == CASH and abs(units.get(a, 0.0)) < 1e-9 * max(total, 1.0):
                continue
            rows.append({"asset": a, "units": units.get(a, 0.0), "price": lines.get(a, {}).get("price"),
                         "value": v, "weight": w, "target": tgt,
                         "drift": (w - tgt) if w is not None and tgt is not None else None})
        return rows

    def equity_history(self, limit: int = 1000) -> list[dict[str, Any]]:
        """Pre-trade portfolio value per observed cycle, oldest first (at most ``limit`` newest)."""
        with self.session() as s:
            rows = s.execute(select(Cycle.observed_at, Cycle.value).where(Cycle.value.is_not(None))
                             .order_by(Cycle.id.desc()).limit(limit)).all()
        return [{"observed_at": _iso(t), "value": v} for t, v in reversed(rows)]

    # ---------------------------------------------------------------- decisions, orders, fills
    def recent_decisions(self, limit: int = 20) -> list[dict[str, Any]]:
        with self.session() as s:
            ds = s.scalars(select(Decision).order_by(Decision.id.desc()).limit(limit)).all()
            return [_decision(d) for d in ds]

    def decision(self, decision_id: int) -> dict[str, Any] | None:
        with self.session() as s:
            d = s.get(Decision, decision_id)
            if d is None:
                return None
            out = _decision(d)
            orders = s.scalars(select(Order).where(Order.decision_id == d.id).order_by(Order.id)).all()
            out["orders"] = [_order(o) for o in orders]
            fills = s.scalars(select(Fill).join(Order).where(Order.decision_id == d.id).order_by(Fill.id)).all()
            out["fills"] = [_fill(f) for f in fills]
            return out

    def open_orders(self) -> list[dict[str, Any]]:
        with self.session() as s:
            os_ = s.scalars(select(Order).where(Order.status.in_(ORDER_OPEN)).order_by(Order.id)).all()
            return [_order(o) for o in os_]

    def orders(self, limit: int = 100) -> list[dict[str, Any]]:
        with self.session() as s:
            return [_order(o) for o in s.scalars(select(Order).order_by(Order.id.desc()).limit(limit))]

    def fills(self, limit: int | None = None) -> list[dict[str, Any]]:
        with self.session() as s:
            q = select(Fill).order_by(Fill.id)
            return [_fill(f) for f in s.scalars(q.limit(limit) if limit else q)]

    # ---------------------------------------------------------------- proposals
    def proposals(self, state: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        if state is not None and state not in PROPOSAL_STATES:
            raise InputError(f"proposal state must be one of {', '.join(PROPOSAL_STATES)}, got {state!r}")
        with self.session() as s:
            q = select(Proposal).order_by(Proposal.id.desc()).limit(limit)
            if state is not None:
                q = q.where(Proposal.state == state)
            return [_proposal(p) for p in s.scalars(q)]

    def proposal(self, proposal_id: int) -> dict[str, Any] | None:
        with self.session() as s:
            p = s.get(Proposal, proposal_id)
            return None if p is None else _proposal(p)

    def _transition(self, proposal_id: int, frm: tuple[str, ...], to: str, done: tuple[str, ...],
                    **values: Any) -> Outcome:
        """Conditional UPDATE: only one concurrent caller moves the proposal out of ``frm``."""
        with self.session() as s:
            n = s.execute(update(Proposal).where(Proposal.id == proposal_id, Proposal.state.in_(frm))
                          .values(state=to, **values)).rowcount
            current = s.scalar(select(Proposal.state).where(Proposal.id == proposal_id))
        if current is None:
            raise InputError(f"no proposal with id {proposal_id}")
        if n == 1:
            return Outcome(proposal_id, to, True)
        if current in done:
            return Outcome(proposal_id, current, False)
        raise InputError(f"proposal {proposal_id} is {current}; it cannot become {to}")

    def approve_proposal(self, proposal_id: int, by: str | None = None, note: str | None = None) -> Outcome:
        """pending → approved. Approving twice (or concurrently) is harmless: one wins, the rest
        get ``changed=False``; the service executes an approved proposal exactly once."""
        return self._transition(proposal_id, ("pending",), "approved",
                                ("approved", "executing", "executed"),
                                decided_at=utcnow(), decided_by=by, note=note)

    def reject_proposal(self, proposal_id: int, by: str | None = None, note: str | None = None) -> Outcome:
        """pending → rejected (its decision becomes cancelled). Idempotent."""
        out = self._transition(proposal_id, ("pending",), "rejected", ("rejected",),
                               decided_at=utcnow(), decided_by=by, note=note)
        if out.changed:
            with self.session() as s:
                did = s.scalar(select(Proposal.decision_id).where(Proposal.id == proposal_id))
                s.execute(update(Decision).where(Decision.id == did, Decision.state == "planned")
                          .values(state="cancelled", note="proposal rejected", updated_at=utcnow()))
                s.execute(update(Order).where(Order.decision_id == did, Order.status == "planned")
                          .values(status="cancelled", error="proposal rejected", updated_at=utcnow()))
        return out

    def claim_approved(self, check: FitCheck | None = None) -> list[int]:
        """approved → executing for every approved proposal; returns the ids this caller won.

        Nothing is claimed while the service is paused. ``check(holdings, orders, proposal)``
        runs in the claiming transaction (holdings read there): a reason it returns expires the
        proposal instead (state ``expired``, decision and orders cancelled, an alert) — so a plan
        that no longer fits the holdings is never sent; buy quantities it scales down are
        written in the same transaction."""
        with self.session() as s:
            if s.scalar(_PAUSED):
                return []
            ids = list(s.scalars(select(Proposal.id).where(Proposal.state == "approved").order_by(Proposal.id)))
        won = []
        for pid in ids:
            with self.session() as s:
                if s.scalar(_PAUSED):
                    break
                n = s.execute(update(Proposal).where(Proposal.id == pid, Proposal.state == "approved")
                              .values(state="executing")).rowcount
                if n != 1:
                    continue
                reason, resize = None, {}
                if check is not None:
                    p = s.get(Proposal, pid)
                    assert p is not None
                    orders = [_order(o) for o in s.scalars(select(Order).where(Order.decision_id == p.decision_id)
                                                           .order_by(Order.id))]
                    reason, resize = check(self.holdings(s), orders, _proposal(p))
                if reason is not None:
                    _expire(s, pid, reason)
                    continue
                for oid, qty in resize.items():  # buys scaled to the paying balance, never up
                    o = s.get(Order, oid)
                    assert o is not None and qty <= o.quantity
                    o.notional, o.expected_cost = o.notional * qty / o.quantity, o.expected_cost * qty / o.quantity
                    o.quantity, o.error = qty, f"scaled to {qty:.8g} units to fit the balance at today's price"
                won.append(pid)
        return won

    def expired_since(self, after_id: int) -> list[dict[str, Any]]:
        """Proposals expired with an id above ``after_id`` (the service re-plans after each)."""
        with self.session() as s:
            return [_proposal(p) for p in s.scalars(select(Proposal).where(
                Proposal.state == "expired", Proposal.id > after_id).order_by(Proposal.id))]

    def export_approved(self, mark: bool = True) -> dict[str, Any]:
        """Approved proposals as one batch (e.g. for a multisig transaction builder). ``mark``:
        they become ``exported`` in the same transaction, so no later export holds them again and
        no runner executes them; ``ballast proposals settle`` records what was done on chain."""
        with self.session() as s:
            rows = list(s.scalars(select(Proposal).where(Proposal.state == "approved").order_by(Proposal.id)))
            items = [_proposal(p) for p in rows]
            if mark and rows:
                s.execute(update(Proposal).where(Proposal.id.in_([p.id for p in rows]),
                                                 Proposal.state == "approved").values(state="exported"))
        st = self.state()
        return {"ledger": st["ledger_key"], "strategy": st["strategy"], "exported_at": _iso(utcnow()),
                "proposals": items, "trades": [t for p in items for t in p["payload"].get("trades", [])]}

    def open_proposals(self) -> list[dict[str, Any]]:
        """Proposals not yet done with (pending, approved, exported, executing), oldest first."""
        with self.session() as s:
            return [_proposal(p) for p in s.scalars(select(Proposal).where(Proposal.state.in_(PROPOSAL_OPEN))
                                                    .order_by(Proposal.id))]

    # ---------------------------------------------------------------- alerts
    def alerts(self, open_only: bool = False, limit: int = 100) -> list[dict[str, Any]]:
        with self.session() as s:
            q = select(Alert).order_by(Alert.id.desc()).limit(limit)
            if open_only:
                q = q.where(Alert.resolved_at.is_(None))
            return [_alert(a) for a in s.scalars(q)]

    def add_alert_once(self, kind: str, message: str, level: str = "warning", asset: str | None = None) -> bool:
        """An alert unless one of this kind and asset is still open (no alert per cycle)."""
        with self.session() as s:
            if s.scalar(select(Alert.id).where(Alert.kind == kind, Alert.resolved_at.is_(None),
                                               Alert.asset.is_(None) if asset is None else Alert.asset == asset)
                        .limit(1)) is not None:
                return False
            s.add(Alert(level=level, kind=kind, message=message, asset=asset))
        return True

    def resolve_alert(self, alert_id: int) -> Outcome:
        with self.session() as s:
            n = s.execute(update(Alert).where(Alert.id == alert_id, Alert.resolved_at.is_(None))
                          .values(resolved_at=utcnow())).rowcount
            exists = s.get(Alert, alert_id) is not None
        if not exists:
            raise InputError(f"no alert with id {alert_id}")
        return Outcome(alert_id, "resolved", n == 1)

    # ---------------------------------------------------------------- service-side writes
    def start_service(self, holdings: dict[str, float], strategy: str, executor: str, source: str,
                      dry_run: bool) -> bool:
        """Record who runs; store the starting holdings once. Returns True on the first start."""
        with self.session() as s:
            first = s.scalar(select(func.count()).select_from(StartingHolding)) == 0
            if first:
                s.add_all(StartingHolding(asset=a, units=float(u)) for a, u in holdings.items())
            s.execute(update(ServiceState).where(ServiceState.id == 1).values(
                strategy=strategy, executor=executor, source=source, dry_run=dry_run,
                started_at=utcnow(), heartbeat_at=utcnow(), updated_at=utcnow()))
        return first

    def cycle_inputs(self) -> tuple[bool, dict[str, float], list[int]]:
        """(paused, holdings, unfinished decisions) read in one transaction at the top of a cycle."""
        with self.session() as s:
            return bool(s.scalar(_PAUSED)), self.holdings(s), self._unfinished(s)

    def record_cycle(self, observed_at: datetime, period: int | None, status: str, note: str | None,
                     prices: dict[str, float | None], value: float | None,
                     lines: list[dict[str, Any]] | None, plan: PlannedDecision | None = None,
                     propose: bool = False, alerts: list[tuple[str, str, str, str | None]] = (),
                     treasury: Any = None) -> CycleRecord:
        """Write one cycle atomically: prices, snapshot, alerts, the close's flows and accruals
        (``treasury``, a `live.treasury.TreasuryCycle`), and the decision with its orders
        (client order ids included) — all before anything is sent to a venue."""
        with self.session() as s:
            cid = s.scalar(insert(Cycle).values(period=period, observed_at=observed_at, started_at=utcnow(),
                                                status=status, note=note, value=_num(value)).returning(Cycle.id))
            if treasury is not None:
                from ballast.live.treasury import book_cycle

                book_cycle(s, cid, period, observed_at, treasury)
            s.execute(insert(PriceSeen), [{"cycle_id": cid, "asset": a, "price": _num(p)} for a, p in prices.items()])
            if lines is not None and value is not None:
                s.execute(insert(HoldingSnapshot).values(cycle_id=cid, observed_at=observed_at, total_value=value,
                                                         lines=lines))
            if alerts:
                s.execute(insert(Alert), [{"level": level, "kind": kind, "message": message, "asset": asset,
                                           "cycle_id": cid, "created_at": utcnow()}
                                          for level, kind, message, asset in alerts])
            if plan is None:
                return CycleRecord(cid, None, [], None)
            key = s.scalar(select(ServiceState.ledger_key).where(ServiceState.id == 1))
            d = Decision(cycle_id=cid, period=period, observed_at=observed_at, reason=plan.reason,
                         state="planned", executor=plan.executor, value_before=plan.value_before,
                         notional=plan.notional, expected_cost=plan.expected_cost, weights=plan.weights,
                         note=plan.note)
            s.add(d)
            s.flush()
            orders = [Order(decision_id=d.id, client_order_id=f"bl-{key}-{d.id}-{k}", asset=o.asset,
                            quote_asset=o.quote_asset, side=o.side, quantity=o.quantity,
                            ref_price=o.ref_price, quote_price=o.quote_price, limit_price=o.limit_price, notional=o.notional,
                            expected_cost=o.expected_cost, status="planned")
                      for k, o in enumerate(plan.orders)]
            s.add_all(orders)
            s.flush()
            pid = None
            if propose:
                p = Proposal(decision_id=d.id, state="pending", payload={
                    "decision_id": d.id, "reason": plan.reason, "observed_at": _iso(observed_at),
                    "value_before": plan.value_before, "expected_cost": plan.expected_cost,
                    "notional": plan.notional, "weights": plan.weights,
                    "trades": [{"client_order_id": o.client_order_id, "asset": o.asset, "side": o.side,
                                "quantity": o.quantity, "quote_asset": o.quote_asset,
                                "ref_price": o.ref_price, "limit_price": o.limit_price,
                                "notional": o.notional, "expected_cost": o.expected_cost} for o in orders]})
                s.add(p)
                s.flush()
                pid = p.id
            if not orders and not propose:
                d.state = "filled"
            return CycleRecord(cid, d.id, [o.id for o in orders], pid)

    def add_alert(self, kind: str, message: str, level: str = "warning", asset: str | None = None,
                  cycle_id: int | None = None) -> int:
        with self.session() as s:
            a = Alert(level=level, kind=kind, message=message, asset=asset, cycle_id=cycle_id)
            s.add(a)
            s.flush()
            return a.id

    def set_order(self, order_id: int, status: str, exchange_order_id: str | None = None,
                  error: str | None = None) -> None:
        if status not in ORDER_STATES:
            raise ValueError(f"unknown order status {status!r}")
        values: dict[str, Any] = {"status": status, "updated_at": utcnow()}
        if exchange_order_id is not None:
            values["exchange_order_id"] = exchange_order_id
        if error is not None:
            values["error"] = error[:2000]
        with self.session() as s:
            s.execute(update(Order).where(Order.id == order_id).values(**values))

    def record_fill(self, order_id: int, trade_key: str, quantity: float, price: float,
                    quote_quantity: float, fee: float, status: str | None = None,
                    gross: float | None = None, fee_leg: tuple[str, float, float] | None = None) -> bool:
        """Record one venue fill (idempotent on ``trade_key``) and optionally the order's new
        status, in one transaction. Returns False if the fill was already recorded.

        ``fee_leg`` = (currency, units, value): a fee the venue took in a third currency (BNB on
        Binance), booked as its own leg so holdings stay = start + fills; ``value`` (in the
        portfolio's currency, 0 when it could not be valued) is the leg's ``fee``."""
        with self.session() as s:
            o = s.get(Order, order_id)
            if o is None:
                raise ValueError(f"no order {order_id}")
            seen = s.scalar(select(Fill.id).where(Fill.order_id == order_id, Fill.trade_key == trade_key))
            if seen is None:
                s.add(Fill(order_id=order_id, trade_key=trade_key, asset=o.asset, quantity=quantity,
                           price=price, quote_asset=o.quote_asset, quote_quantity=quote_quantity, fee=fee))
                if fee_leg is not None:
                    ccy, units, value = fee_leg
                    s.add(Fill(order_id=order_id, trade_key=f"{trade_key}:fee", asset=ccy, quantity=-units,
                               price=value / units if units else 0.0, quote_asset=o.quote_asset,
                               quote_quantity=0.0, fee=value))
                o.filled_quantity = (o.filled_quantity or 0.0) + (abs(quantity) if gross is None else gross)
            if status is not None:
                o.status = status
            o.updated_at = utcnow()
            return seen is None

    def order_rows(self, decision_id: int) -> list[dict[str, Any]]:
        with self.session() as s:
            return [_order(o) for o in s.scalars(select(Order).where(Order.decision_id == decision_id)
                                                 .order_by(Order.id))]

    def settle_decision(self, decision_id: int) -> str:
        """Derive the decision's state from its orders once none is open; returns the state."""
        with self.session() as s:
            d = s.get(Decision, decision_id)
            assert d is not None
            sts = list(s.scalars(select(Order.status).where(Order.decision_id == decision_id)))
            if any(x in ORDER_OPEN for x in sts):
                new = "submitted" if any(x in ("submitted", "cancel_requested") for x in sts) else d.state
            elif not sts or all(x == "filled" for x in sts):
                new = "filled"
            elif any(x in ("filled", "partially_filled") for x in sts):
                new = "partially_filled"
            elif all(x == "cancelled" for x in sts):
                new = "cancelled"
            else:
                new = "failed"
            if new != d.state:
                d.state = new
                d.updated_at = utcnow()
            pid = s.scalar(select(Proposal.id).where(Proposal.decision_id == decision_id,
                                                     Proposal.state == "executing"))
            if pid is not None and new in DECISION_FINAL:
                s.execute(update(Proposal).where(Proposal.id == pid).values(
                    state="executed" if new in ("filled", "partially_filled") else "failed",
                    executed_at=utcnow()))
            return new

    def unfinished_decisions(self) -> list[int]:
        """Decisions whose orders may still be open, oldest first — excluding those waiting for
        (or refused) approval: those are not the executor's business yet."""
        with self.session() as s:
            return self._unfinished(s)

    @staticmethod
    def _unfinished(s: Session) -> list[int]:
        return list(s.scalars(_UNFINISHED))

    def proposal_decision(self, proposal_id: int) -> int:
        with self.session() as s:
            did = s.scalar(select(Proposal.decision_id).where(Proposal.id == proposal_id))
        if did is None:
            raise InputError(f"no proposal with id {proposal_id}")
        return did

    def history(self) -> list[tuple[int, datetime, dict[str, float | None]]]:
        """Every observed period with its prices, oldest first (to rebuild the live market)."""
        with self.session() as s:
            rows = s.execute(select(Cycle.period, Cycle.observed_at, PriceSeen.asset, PriceSeen.price)
                             .join(PriceSeen, PriceSeen.cycle_id == Cycle.id)
                             .where(Cycle.period.is_not(None)).order_by(Cycle.period)).all()
        out: list[tuple[int, datetime, dict[str, float | None]]] = []
        for period, at, asset, price in rows:
            if not out or out[-1][0] != period:
                out.append((period, at, {}))
            out[-1][2][asset] = price
        return out

    def last_observed(self) -> datetime | None:
        """Time of the newest cycle written (guarded ones included): a replay resumes after it."""
        with self.session() as s:
            return s.scalar(select(func.max(Cycle.observed_at)))

    def last_rebalance_period(self) -> int:
        """Period of the last decision that traded after formation (the triggers' cooldown clock)."""
        with self.session() as s:
            traded = select(Order.decision_id).join(Fill, Fill.order_id == Order.id)
            p = s.scalar(select(func.max(Decision.period)).where(Decision.id.in_(traded), Decision.period > 0))
        return int(p or 0)

    def notional_since(self, since: datetime) -> float:
        """Traded value of decisions observed at or after ``since`` (per-day notional cap)."""
        with self.session() as s:
            v = s.scalar(select(func.sum(Decision.notional)).where(
                Decision.observed_at >= since, Decision.state != "cancelled"))
        return float(v or 0.0)

    # ---------------------------------------------------------------- summary
    def counts(self) -> dict[str, Any]:
        with self.session() as s:
            def by(col: Any) -> dict[str, int]:
                return {k: int(v) for k, v in s.execute(select(col, func.count()).group_by(col))}

            dec = by(Decision.state)
            ords = by(Order.status)
            props = by(Proposal.state)
            n_fills = int(s.scalar(select(func.count()).select_from(Fill)) or 0)
            n_cycles = int(s.scalar(select(func.count()).select_from(Cycle)) or 0)
            open_alerts = int(s.scalar(select(func.count()).select_from(Alert).where(Alert.resolved_at.is_(None))) or 0)
        return {"cycles": n_cycles,
                "decisions": sum(dec.values()), "decisions_by_state": dec,
                "orders": sum(ords.values()), "orders_by_state": ords,
                "fills": n_fills,
                "proposals": sum(props.values()), "proposals_by_state": props,
                "open_alerts": open_alerts}

    def status(self) -> dict[str, Any]:
        """Everything ``ballast status --json`` and the API's status page show."""
        rows = self.holdings_vs_target()
        with self.session() as s:
            last = s.scalars(select(Cycle).order_by(Cycle.id.desc()).limit(1)).first()
            last_cycle = None if last is None else {
                "id": last.id, "period": last.period, "observed_at": _iso(last.observed_at),
                "started_at": _iso(last.started_at), "status": last.status, "note": last.note}
        total = float(sum(r["value"] for r in rows if r["value"] is not None))
        drifts = [abs(r["drift"]) for r in rows if r["drift"] is not None]
        return {"service": self.state(), "last_cycle": last_cycle, "value": total,
                "max_drift": max(drifts) if drifts else None,
                "holdings": {r["asset"]: r["units"] for r in rows},
                "targets": {r["asset"]: r["target"] for r in rows if r["target"] is not None},
                "drift": {r["asset"]: r["drift"] for r in rows if r["drift"] is not None},
                "lines": rows, "counts": self.counts(), "runway": self.runway(rows)}

    def runway(self, rows: list[dict[str, Any]] | None = None) -> dict[str, Any] | None:
        """Months of runway from the ledger (see `live.treasury.runway_status`); None without flows."""
        from ballast.live.treasury import runway_status

        with self.session() as s:
            return runway_status(s, rows if rows is not None else self.holdings_vs_target())


def _expire(s: Session, proposal_id: int, reason: str) -> None:
    """The proposal is too old or no longer fits: expired, its decision and orders cancelled."""
    did = s.scalar(select(Proposal.decision_id).where(Proposal.id == proposal_id))
    s.execute(update(Proposal).where(Proposal.id == proposal_id).values(state="expired", note=reason[:2000],
                                                                        executed_at=utcnow()))
    s.execute(update(Decision).where(Decision.id == did).values(state="cancelled", note=f"expired: {reason}"[:2000],
                                                                updated_at=utcnow()))
    s.execute(update(Order).where(Order.decision_id == did, Order.status == "planned")
              .values(status="cancelled", error=f"proposal expired: {reason}"[:2000], updated_at=utcnow()))
    s.add(Alert(level="warning", kind="proposal_expired", message=f"proposal {proposal_id} expired: {reason}"))


def _seed(conn: Connection) -> None:
    if conn.scalar(select(ServiceState.id).where(ServiceState.id == 1)) is None:
        conn.execute(insert(ServiceState).values(id=1, ledger_key=secrets.token_hex(4), paused=False,
                                                 dry_run=False, updated_at=utcnow()))


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat() + "Z"


def _decision(d: Decision) -> dict[str, Any]:
    return {"id": d.id, "cycle_id": d.cycle_id, "period": d.period, "observed_at": _iso(d.observed_at),
            "created_at": _iso(d.created_at), "updated_at": _iso(d.updated_at), "reason": d.reason,
            "state": d.state, "executor": d.executor, "value_before": d.value_before,
            "notional": d.notional, "expected_cost": d.expected_cost, "weights": d.weights, "note": d.note}


def _order(o: Order) -> dict[str, Any]:
    return {"id": o.id, "decision_id": o.decision_id, "client_order_id": o.client_order_id,
            "asset": o.asset, "quote_asset": o.quote_asset, "side": o.side, "quantity": o.quantity,
            "ref_price": o.ref_price, "quote_price": o.quote_price, "limit_price": o.limit_price,
            "notional": o.notional,
            "expected_cost": o.expected_cost, "status": o.status, "exchange_order_id": o.exchange_order_id,
            "filled_quantity": o.filled_quantity, "error": o.error,
            "created_at": _iso(o.created_at), "updated_at": _iso(o.updated_at)}


def _fill(f: Fill) -> dict[str, Any]:
    return {"id": f.id, "order_id": f.order_id, "trade_key": f.trade_key, "asset": f.asset,
            "quantity": f.quantity, "price": f.price, "quote_asset": f.quote_asset,
            "quote_quantity": f.quote_quantity, "fee": f.fee, "filled_at": _iso(f.filled_at)}


def _proposal(p: Proposal) -> dict[str, Any]:
    return {"id": p.id, "decision_id": p.decision_id, "state": p.state, "payload": p.payload,
            "created_at": _iso(p.created_at), "decided_at": _iso(p.decided_at), "decided_by": p.decided_by,
            "note": p.note, "executed_at": _iso(p.executed_at)}


def _alert(a: Alert) -> dict[str, Any]:
    return {"id": a.id, "created_at": _iso(a.created_at), "level": a.level, "kind": a.kind,
            "message": a.message, "asset": a.asset, "cycle_id": a.cycle_id,
            "resolved_at": _iso(a.resolved_at), "open": a.resolved_at is None}
