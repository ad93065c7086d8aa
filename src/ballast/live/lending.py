"""The paper lending market in the ledger: what each loan owes, derived from keyed events, with
the ledger's crash-safety rules.

As in the backtest (positions/encode.py), every unit held of a loan's collateral assets is pledged
— the collateral *is* the wallet's holding — and the debt is owed in units of the debt asset. What
is owed is never stored as a balance: it is the sum of `LoanEvent` rows in *scaled* units (units /
accrual index when booked, Aave's scaled balance), so one accrual row per close (the new index)
grows the debt: owed = Σ scaled × the index in force (the newest event's). Every event has a
unique ``key``:

- ``p<period>:<loan>:accrue`` / ``:liq<n>:<asset>``: a close's accrual and liquidations, written in
  the cycle's transaction (`book_cycle`), so a crash books the whole close or nothing of it;
- ``fill:<order>:<trade key>:<leg>``: the loan leg of a repay or boost order (`LoanOrder`), written
  in the transaction that records the fill (`book_fill`), so it exists exactly when the fill does:
  a repay repays with the sale's proceeds, a boost borrows what the purchase cost;
- ``open:<loan>`` (a debt the loan already had when the ledger first saw it) and
  ``manual:<token>`` (a borrow or repayment by hand, `PaperLendingMarket`).

Money that moves between the loan and the wallet (borrowed, repaid, collateral seized) is a
`LedgerEntry` (source ``loan``) in the same transaction, so holdings stay starting holdings + fills
+ entries. Status, API and dashboard reads are in ``live/loan_reads.py``.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ballast.errors import InputError
from ballast.live.models import (
    Alert,
    HoldingSnapshot,
    LedgerEntry,
    LoanEvent,
    LoanMark,
    LoanOrder,
    LoanPosition,
    Order,
    utcnow,
)
from ballast.positions import Liquidation, Loan, LoanState

if TYPE_CHECKING:
    from ballast.live.queries import LedgerQueries
    from ballast.live.records import OrderRow

AlertRow = tuple[str, str, str, str | None]


@dataclass(frozen=True)
class Position:
    """A loan as the ledger derives it: the wallet's units of its collateral assets (all pledged),
    its scaled debt and the accrual index."""

    loan_id: int
    name: str
    collateral: dict[str, float]
    debt_asset: str
    scaled_debt: float
    index: float
    terms: dict[str, Any]

    @property
    def debt(self) -> float:
        return max(self.scaled_debt * self.index, 0.0)

    def state(self) -> LoanState:
        return LoanState(tuple(max(u, 0.0) for u in self.collateral.values()), self.debt)


@dataclass(frozen=True)
class Wallet:
    """A wallet leg of a loan event: units of ``asset`` into (+) or out of (−) the holdings."""

    asset: str
    units: float
    price: float | None


@dataclass(frozen=True)
class LoanClose:
    """What one close books for one loan: the accrual, its liquidations, the mark and alerts."""

    name: str
    growth: float
    index: float
    debt_before: float
    liquidations: list[tuple[Liquidation, tuple[str, ...], dict[str, float]]]  # event, assets, prices
    health_factor: float
    collateral_value: float
    debt_value: float
    warn_at: float
    alerts: list[AlertRow] = field(default_factory=list)


def positions(s: Session, wallet: Mapping[str, float] | None = None) -> dict[str, Position]:
    """Every loan's derived position, by name (collateral: ``wallet``'s units, 0 without it)."""
    loans = list(s.scalars(select(LoanPosition).order_by(LoanPosition.id)))
    if not loans:
        return {}
    scaled = {
        lid: v
        for lid, v in s.execute(select(LoanEvent.loan_id, func.sum(LoanEvent.scaled_debt)).group_by(LoanEvent.loan_id))
    }
    newest = select(func.max(LoanEvent.id)).group_by(LoanEvent.loan_id).scalar_subquery()
    index = {
        lid: v
        for lid, v in s.execute(select(LoanEvent.loan_id, LoanEvent.accrual_index).where(LoanEvent.id.in_(newest)))
    }
    held = wallet or {}
    return {
        ln.name: Position(
            ln.id,
            ln.name,
            {a: float(held.get(a, 0.0)) for a in ln.collateral},
            ln.debt_asset,
            float(scaled.get(ln.id) or 0.0),
            float(index.get(ln.id) or 1.0),
            ln.terms,
        )
        for ln in loans
    }


def owed(s: Session) -> dict[str, float]:
    """Units owed by debt asset, over every loan."""
    out: dict[str, float] = {}
    for pos in positions(s).values():
        out[pos.debt_asset] = out.get(pos.debt_asset, 0.0) + pos.debt
    return out


def book(
    s: Session,
    pos: Position,
    key: str,
    kind: str,
    at: datetime,
    *,
    debt: float = 0.0,
    index: float | None = None,
    asset: str | None = None,
    seized: float = 0.0,
    wallet: Sequence[Wallet] = (),
    cycle_id: int | None = None,
    order_id: int | None = None,
    period: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """One loan event and its wallet legs, in the caller's transaction (the key is unique: booking
    the same event twice fails the transaction instead of counting it twice)."""
    idx = pos.index if index is None else index
    s.add(
        LoanEvent(
            key=key,
            loan_id=pos.loan_id,
            cycle_id=cycle_id,
            order_id=order_id,
            period=period,
            event_at=at,
            kind=kind,
            asset=asset,
            collateral_units=float(seized),
            debt_units=float(debt),
            scaled_debt=0.0 if kind == "accrue" else float(debt) / idx,  # an accrual grows the index only
            accrual_index=idx,
            detail=detail,
            recorded_at=utcnow(),
        )
    )
    for w in wallet:
        s.add(
            LedgerEntry(
                key=f"{key}:wallet:{w.asset}",
                cycle_id=cycle_id,
                period=period,
                entry_at=at,
                asset=w.asset,
                units=float(w.units),
                value=None if w.price is None else float(w.units) * w.price,
                kind=kind,
                source="loan",
                note=f"loan {pos.name}: {kind}",
                recorded_at=utcnow(),
            )
        )


def open_loans(s: Session, loans: Sequence[tuple[str, Loan, dict[str, Any], float]], at: datetime) -> None:
    """Create each loan the first time the ledger sees it, with the debt it already has (no wallet
    leg: it was borrowed before); refresh its terms afterwards. A loan of that name with other
    assets is refused."""
    for name, loan, terms, opening_debt in loans:
        row = s.scalars(select(LoanPosition).where(LoanPosition.name == name)).first()
        if row is None:
            row = LoanPosition(
                name=name, collateral=list(loan.collateral), debt_asset=loan.debt, terms=terms, opened_at=at
            )
            s.add(row)
            s.flush()
            pos = Position(row.id, name, {}, loan.debt, 0.0, 1.0, terms)
            book(s, pos, f"open:{name}", "open", at, debt=opening_debt)
        elif list(row.collateral) != list(loan.collateral) or row.debt_asset != loan.debt:
            raise InputError(
                f"loan {name!r}: the ledger holds it with collateral {', '.join(row.collateral)} and debt "
                f"{row.debt_asset}, not {', '.join(loan.collateral)} and {loan.debt}; give the loan another name"
            )
        elif row.terms != terms:
            row.terms = terms


def book_cycle(s: Session, cycle_id: int, period: int | None, at: datetime, closes: Sequence[LoanClose]) -> None:
    """A close's accruals, liquidations (the seized collateral leaves the wallet), marks and health
    alerts, in the cycle's transaction."""
    held = positions(s)
    for c in closes:
        pos = held[c.name]
        stem = f"p{period}:{c.name}"
        if c.growth != 1.0 and c.debt_before > 0.0:
            book(s, pos, f"{stem}:accrue", "accrue", at, debt=c.debt_before * (c.growth - 1.0), index=c.index,
                 cycle_id=cycle_id, period=period, detail={"growth": c.growth})  # fmt: skip
        pos = Position(pos.loan_id, pos.name, pos.collateral, pos.debt_asset, pos.scaled_debt, c.index, pos.terms)
        for n, (ev, assets, prices) in enumerate(c.liquidations):
            detail = {
                "repaid": ev.repaid,
                "seized": dict(zip(assets, ev.seized, strict=True)),
                "penalty": ev.penalty,
                "written_off": ev.written_off,
                "hf_before": finite(ev.hf_before),
                "hf_after": finite(ev.hf_after),
                "rule": pos.terms.get("rule"),
            }
            moved = [(a, u) for a, u in zip(assets, ev.seized, strict=True) if u > 0.0] or [(assets[0], 0.0)]
            for j, (a, units) in enumerate(moved):
                book(s, pos, f"{stem}:liq{n}:{a}", "liquidation", at, asset=a, seized=-units,
                     debt=-(ev.repaid + ev.written_off) if j == 0 else 0.0, cycle_id=cycle_id, period=period,
                     detail=detail if j == 0 else None, wallet=[Wallet(a, -units, prices.get(a))])  # fmt: skip
        s.add(
            LoanMark(
                cycle_id=cycle_id,
                loan_id=pos.loan_id,
                health_factor=finite(c.health_factor),
                collateral_value=c.collateral_value,
                debt_value=c.debt_value,
            )
        )
        _health_alerts(s, c, cycle_id)


def _health_alerts(s: Session, c: LoanClose, cycle_id: int) -> None:
    """Liquidation alerts always; one ``health_warn`` per loan while HF stays below the warn line
    (resolved once it is back above, so the next approach warns again)."""
    for level, kind, message, asset in c.alerts:
        s.add(Alert(level=level, kind=kind, message=message, asset=asset, cycle_id=cycle_id, created_at=utcnow()))
    open_warn = (Alert.kind == "health_warn", Alert.asset == c.name, Alert.resolved_at.is_(None))
    if c.health_factor < c.warn_at:
        if s.scalar(select(Alert.id).where(*open_warn).limit(1)) is None:
            message = f"loan {c.name}: health factor {c.health_factor:.4f} is below {c.warn_at:.4g} (liquidation at 1)"
            s.add(Alert(level="warning", kind="health_warn", message=message, asset=c.name, cycle_id=cycle_id))
    else:
        s.execute(update(Alert).where(*open_warn).values(resolved_at=utcnow()))


def link_orders(s: Session, links: Sequence[tuple[int, str, str]]) -> None:
    """Mark orders as a loan's repay or boost: (order id, loan name, kind), in the decision's transaction."""
    ids = {ln.name: ln.id for ln in s.scalars(select(LoanPosition))}
    for order_id, name, kind in links:
        s.add(LoanOrder(order_id=order_id, loan_id=ids[name], kind=kind))


def book_fill(s: Session, o: Order, trade_key: str, quote_quantity: float) -> None:
    """A repay or boost order's loan leg for one of its fills, in the fill's transaction: a repay
    repays (at most what is owed) with the sale's proceeds, a boost borrows what the purchase cost.
    Other orders have no loan leg."""
    link = s.get(LoanOrder, o.id)
    if link is None:
        return
    pos = next(p for p in positions(s).values() if p.loan_id == link.loan_id)
    key = f"fill:{o.id}:{trade_key}"
    if link.kind == "repay":
        units = -min(max(quote_quantity, 0.0), pos.debt)
    else:
        units = max(-quote_quantity, 0.0)
    kind = "repay" if link.kind == "repay" else "borrow"
    book(s, pos, f"{key}:{kind}", kind, utcnow(), debt=units, order_id=o.id,
         wallet=[Wallet(o.quote_asset, units, o.quote_price)])  # fmt: skip


def loan_orders(s: Session, order_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """order id → (loan name, repay | boost) for those of ``order_ids`` that are loan moves."""
    if not order_ids:
        return {}
    rows = s.execute(
        select(LoanOrder.order_id, LoanPosition.name, LoanOrder.kind)
        .join(LoanPosition, LoanPosition.id == LoanOrder.loan_id)
        .where(LoanOrder.order_id.in_(list(order_ids)))
    )
    return {oid: (name, kind) for oid, name, kind in rows}


def approved_moves(ledger: LedgerQueries) -> Callable[[list[OrderRow]], list[OrderRow]]:
    """For re-pricing approved proposals: the orders to fit to the wallet (a boost buys with what it
    borrows, so it is not fitted; a repay sells pledged collateral from the wallet and is)."""
    with ledger.session() as s:
        boosts = set(s.scalars(select(LoanOrder.order_id).where(LoanOrder.kind == "boost")))
    return lambda orders: [o for o in orders if o["id"] not in boosts]


def last_prices(s: Session) -> dict[str, float | None]:
    """The prices of the newest holding snapshot (the last accepted close)."""
    snap = s.scalars(select(HoldingSnapshot).order_by(HoldingSnapshot.id.desc()).limit(1)).first()
    return {ln["asset"]: ln.get("price") for ln in (snap.lines if snap else [])}


def health_factor(pos: Position, prices: Mapping[str, float | None]) -> tuple[float | None, float, float]:
    """(HF, collateral value, debt value) from the stored terms at ``prices``; HF None (infinite)
    without debt; NaN when a price is missing."""
    lt = pos.terms["liquidation_threshold"]
    cv = weighted = 0.0
    for a, units in pos.collateral.items():
        p = prices.get(a)
        if p is None:
            return math.nan, math.nan, math.nan
        cv += units * p
        weighted += units * p * lt[a]
    dp = prices.get(pos.debt_asset)
    if dp is None:
        return math.nan, cv, math.nan
    dv = pos.debt * dp
    return (None if dv <= 0.0 else weighted / dv), cv, dv


def finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


class PaperLendingMarket:
    """Borrow and repay by hand at the paper lending market (each one fenced transaction with its
    wallet leg; the collateral is whatever the wallet holds of the collateral assets, so supplying
    and withdrawing is buying and selling them). Like Aave, a borrow that would leave the health
    factor below 1 at the last observed prices is refused; so is repaying more than is owed or than
    the wallet holds."""

    def __init__(self, ledger: LedgerQueries) -> None:
        self.ledger = ledger

    def borrow(self, name: str, units: float) -> dict[str, Any]:
        return self._move(name, "borrow", units)

    def repay(self, name: str, units: float) -> dict[str, Any]:
        return self._move(name, "repay", units)

    def _move(self, name: str, kind: str, units: float) -> dict[str, Any]:
        if not (isinstance(units, (int, float)) and math.isfinite(units) and units > 0.0):
            raise InputError(f"loan {kind}: the amount must be a positive number of units, got {units!r}")
        with self.ledger.session() as s:
            wallet = self.ledger.holdings(s)
            held = positions(s, wallet)
            if name not in held:
                raise InputError(f"loan {name!r} is not in this ledger ({', '.join(held) or 'no loans'})")
            pos = held[name]
            leg = pos.debt_asset
            if kind == "repay":
                if units > pos.debt * (1 + 1e-12):
                    raise InputError(f"loan {name}: cannot repay {units:g} {leg}: {pos.debt:g} is owed")
                if units > wallet.get(leg, 0.0) * (1 + 1e-12):
                    raise InputError(
                        f"loan {name}: cannot repay {units:g} {leg}: the wallet holds {wallet.get(leg, 0.0):g}"
                    )
                units = min(units, pos.debt)
            debt = units if kind == "borrow" else -units
            prices = last_prices(s)
            after = Position(
                pos.loan_id, name, pos.collateral, leg, pos.scaled_debt + debt / pos.index, pos.index, pos.terms
            )
            hf, cv, dv = health_factor(after, prices)
            if kind == "borrow" and hf is not None and not hf >= 1.0:
                raise InputError(
                    f"loan {name}: this borrow would leave a health factor of {hf:.4f} (below 1) at the "
                    "last observed prices. Nothing was written."
                )
            book(s, pos, f"manual:{secrets.token_hex(8)}", kind, utcnow(), debt=debt,
                 wallet=[Wallet(leg, debt, prices.get(leg))])  # fmt: skip
            return {"loan": name, "kind": kind, "units": units, "asset": leg, "health_factor": hf,
                    "collateral_value": cv, "debt_value": dv}  # fmt: skip
