"""The ledger's tables as SQLAlchemy ORM models (the schema itself is made by the Alembic
migrations in ``live/migrations``; these models must match their newest revision).

Timestamps are naive UTC (SQLite keeps no time zone). Holdings are never stored as a mutable
balance: they are the starting holdings plus the sum of all fills, so a crash cannot leave
them out of step.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


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
    withdrawal (``source`` schedule | manual), a holding a flow's routing moved (``routing``) or a
    yield accrual (``source`` yield). ``key`` makes
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
    kind: Mapped[str] = mapped_column(String(20))  # deposit | withdrawal | routing | accrual
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


class LoanPosition(Base):
    """A loan at the paper lending market: its assets and terms (what status needs to compute the
    health factor from the ledger alone). Its amounts are never stored: they are the sum of its
    `LoanEvent` rows (see ``live/lending.py``)."""

    __tablename__ = "loans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    collateral: Mapped[list[Any]] = mapped_column(JSON)  # asset names, the loan's order
    debt_asset: Mapped[str] = mapped_column(String(64))
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)  # ltv, liquidation_threshold, bonus, rule, band, warn
    opened_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LoanEvent(Base):
    """One change of a loan: collateral units of ``asset`` in (+) or out (−), debt in scaled units
    (owed units / accrual index at the time: Aave's scaled balance), or a new ``accrual_index``.
    ``key`` makes booking idempotent; ``order_id`` links a repay/boost leg to the fill it came with."""

    __tablename__ = "loan_events"
    __table_args__ = (UniqueConstraint("key", name="uq_loan_event_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(160))
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), index=True)
    cycle_id: Mapped[int | None] = mapped_column(ForeignKey("cycles.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    period: Mapped[int | None] = mapped_column(Integer)
    event_at: Mapped[datetime] = mapped_column(DateTime)
    kind: Mapped[str] = mapped_column(String(20))  # open | supply | withdraw | borrow | repay | accrue | liquidation
    asset: Mapped[str | None] = mapped_column(String(64))  # the collateral asset moved (None: debt only)
    collateral_units: Mapped[float] = mapped_column(Float, default=0.0)
    debt_units: Mapped[float] = mapped_column(Float, default=0.0)  # owed units added (+) or removed (−)
    scaled_debt: Mapped[float] = mapped_column(Float, default=0.0)  # debt_units / index: what sums
    accrual_index: Mapped[float] = mapped_column(Float, default=1.0)  # the index in force after this event
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # a liquidation's amounts, an accrual's growth
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LoanOrder(Base):
    """An order that is a loan's repay (sell collateral, repay with the proceeds) or boost (borrow,
    buy collateral, supply it): its loan legs are booked with each of its fills."""

    __tablename__ = "loan_orders"
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"))
    kind: Mapped[str] = mapped_column(String(10))  # repay | boost


class LoanMark(Base):
    """A loan as a cycle saw it, after accrual and any liquidation, before a repay/boost."""

    __tablename__ = "loan_marks"
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"), primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), primary_key=True)
    health_factor: Mapped[float | None] = mapped_column(Float)  # None: no debt (infinite)
    collateral_value: Mapped[float] = mapped_column(Float)
    debt_value: Mapped[float] = mapped_column(Float)


class LiquidityMark(Base):
    """The liquidity position as a cycle left it: its state (``live/liquidity.py`` `LPState`;
    the next close starts from the newest) and what the close did. The tokens it moved in the
    wallet are `LedgerEntry` rows of kind ``lp`` in the same transaction."""

    __tablename__ = "lp_marks"
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"), primary_key=True)
    period: Mapped[int] = mapped_column(Integer)
    pair: Mapped[list[Any]] = mapped_column(JSON)  # (token0, token1)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    in_range: Mapped[bool] = mapped_column(Boolean)
    value: Mapped[float] = mapped_column(Float)  # the position's tokens at the close's prices
    fees: Mapped[float] = mapped_column(Float)  # earned over the close's bar (currency)
    reset: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(200))  # the reset rule's reasons ("" when none)
    swap_cost: Mapped[float] = mapped_column(Float)
    gas: Mapped[float] = mapped_column(Float)


class HedgeMark(Base):
    """The perp leg of a delta hedge as a close left it (``live/hedge.py``): its state after the
    close's settlement (mark-to-market and funding into the cash asset, a liquidation), and the
    re-hedge the close planned and why. Its size is never stored as a balance: it is the sum of the
    fills and entries of the perp symbol; ``fill_id`` is the newest perp fill this state absorbed."""

    __tablename__ = "hedge_marks"
    __table_args__ = (UniqueConstraint("period", name="uq_hedge_mark_period"),)
    cycle_id: Mapped[int] = mapped_column(ForeignKey("cycles.id"), primary_key=True)
    period: Mapped[int] = mapped_column(Integer)
    instrument: Mapped[str] = mapped_column(String(64))  # the perp symbol, e.g. ETH/USDC:USDC
    leverage: Mapped[float] = mapped_column(Float)  # initial margin = notional / leverage
    price: Mapped[float] = mapped_column(Float)  # the mark: the underlying's observed price
    size: Mapped[float] = mapped_column(Float)  # signed units after the settlement (negative: short)
    entry_price: Mapped[float] = mapped_column(Float)
    margin: Mapped[float] = mapped_column(Float)  # isolated margin after the settlement
    is_open: Mapped[bool] = mapped_column(Boolean)
    realised: Mapped[float] = mapped_column(Float)  # PnL realised by reductions so far (PerpPosition.trade)
    fill_id: Mapped[int] = mapped_column(Integer)  # newest fill of the perp absorbed into this state
    pnl: Mapped[float] = mapped_column(Float)  # mark-to-market over the close's bar, settled into cash
    funding: Mapped[float] = mapped_column(Float)  # paid (+) / received (−) over the close's bar
    liquidation: Mapped[float] = mapped_column(Float)  # liquidation penalty paid at this close
    delta: Mapped[float | None] = mapped_column(Float)  # exposure delta (None: no re-hedge check this close)
    target: Mapped[float | None] = mapped_column(Float)
    band_lo: Mapped[float | None] = mapped_column(Float)
    band_hi: Mapped[float | None] = mapped_column(Float)
    planned: Mapped[float | None] = mapped_column(Float)  # size after the planned re-hedge
    reason: Mapped[str] = mapped_column(String(300))  # why it re-hedged ("" when it did not)
