"""The paper lending market in the ledger: loans as derived state, booked with the ledger's
crash-safety rules.

A loan's collateral and debt are never stored as balances. They are sums of `LoanEvent` rows:
collateral units per asset, and debt in *scaled* units (owed units / accrual index when booked,
Aave's scaled balance), so one accrual row per close (the new index) grows every debt at once:
owed = Σ scaled × the index in force (the newest event's). Every event has a unique ``key``:

- ``p<period>:<loan>:accrue`` / ``:liq<n>:<asset>``: a close's accrual and liquidations, written in
  the cycle's transaction (`book_cycle`), so a crash books the whole close or nothing of it;
- ``fill:<order>:<trade key>:<leg>``: the loan legs of a repay or boost order (`LoanOrder`),
  written in the transaction that records the fill (`book_fill`), so they exist exactly when the
  fill does: a repay withdraws the units sold and repays with the proceeds, a boost borrows what
  the purchase cost and supplies what it bought; both leave the wallet's units unchanged;
- ``open:<loan>``: the position at the lending market when the ledger first sees the loan;
- ``manual:<token>``: a supply, withdrawal, borrow or repayment by hand (`PaperLendingMarket`).

What a loan move takes from or gives to the wallet is a `LedgerEntry` (source ``loan``) in the
same transaction, so holdings stay starting holdings + fills + entries.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ballast.errors import InputError
from ballast.live.models import (
    Alert,
    Cycle,
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
    """A loan as the ledger derives it: collateral units per asset, scaled debt and the index."""

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

    def state(self, assets: Sequence[str]) -> LoanState:
        return LoanState(tuple(max(self.collateral.get(a, 0.0), 0.0) for a in assets), self.debt)


@dataclass(frozen=True)
class Wallet:
    """A wallet leg of a loan move: units of ``asset`` into (+) or out of (−) the holdings."""

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
    liquidations: list[tuple[Liquidation, tuple[str, ...]]]
    health_factor: float
    collateral_value: float
    debt_value: float
    warn_at: float
    alerts: list[AlertRow] = field(default_factory=list)


def positions(s: Session) -> dict[str, Position]:
    """Every loan's derived position, by name."""
    loans = list(s.scalars(select(LoanPosition).order_by(LoanPosition.id)))
    if not loans:
        return {}
    coll: dict[int, dict[str, float]] = {}
    for lid, asset, units in s.execute(
        select(LoanEvent.loan_id, LoanEvent.asset, func.sum(LoanEvent.collateral_units))
        .where(LoanEvent.asset.is_not(None))
        .group_by(LoanEvent.loan_id, LoanEvent.asset)
    ):
        coll.setdefault(lid, {})[str(asset)] = float(units or 0.0)
    scaled = {
        lid: v
        for lid, v in s.execute(select(LoanEvent.loan_id, func.sum(LoanEvent.scaled_debt)).group_by(LoanEvent.loan_id))
    }
    newest = select(func.max(LoanEvent.id)).group_by(LoanEvent.loan_id).scalar_subquery()
    index = {
        lid: v
        for lid, v in s.execute(select(LoanEvent.loan_id, LoanEvent.accrual_index).where(LoanEvent.id.in_(newest)))
    }
    return {
        ln.name: Position(
            ln.id,
            ln.name,
            {a: coll.get(ln.id, {}).get(a, 0.0) for a in ln.collateral},
            ln.debt_asset,
            float(scaled.get(ln.id) or 0.0),
            float(index.get(ln.id) or 1.0),
            ln.terms,
        )
        for ln in loans
    }


def book(
    s: Session,
    pos: Position,
    key: str,
    kind: str,
    at: datetime,
    *,
    asset: str | None = None,
    collateral: float = 0.0,
    debt: float = 0.0,
    index: float | None = None,
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
            collateral_units=float(collateral),
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


def open_loans(s: Session, loans: Sequence[tuple[str, Loan, dict[str, Any], LoanState | None]], at: datetime) -> None:
    """Create each loan the first time the ledger sees it, with its opening position (no wallet
    leg: it already exists at the lending market); refresh its terms afterwards. A ledger whose
    loan of that name has other assets is refused."""
    for name, loan, terms, opening in loans:
        row = s.scalars(select(LoanPosition).where(LoanPosition.name == name)).first()
        if row is None:
            row = LoanPosition(
                name=name, collateral=list(loan.collateral), debt_asset=loan.debt, terms=terms, opened_at=at
            )
            s.add(row)
            s.flush()
        elif list(row.collateral) != list(loan.collateral) or row.debt_asset != loan.debt:
            raise InputError(
                f"loan {name!r}: the ledger holds it with collateral {', '.join(row.collateral)} and debt "
                f"{row.debt_asset}, not {', '.join(loan.collateral)} and {loan.debt}; give the loan another name"
            )
        elif row.terms != terms:
            row.terms = terms
        if opening is None or s.scalar(select(LoanEvent.id).where(LoanEvent.key == f"open:{name}")) is not None:
            continue
        pos = Position(row.id, name, {}, loan.debt, 0.0, 1.0, terms)
        for a, units in zip(loan.collateral, opening.collateral, strict=True):
            book(
                s,
                pos,
                f"open:{name}" if a == loan.collateral[0] else f"open:{name}:{a}",
                "open",
                at,
                asset=a,
                collateral=units,
                debt=opening.debt if a == loan.collateral[0] else 0.0,
            )


def book_cycle(s: Session, cycle_id: int, period: int | None, at: datetime, closes: Sequence[LoanClose]) -> None:
    """A close's accruals, liquidations, marks and health alerts, in the cycle's transaction."""
    held = positions(s)
    for c in closes:
        pos = held[c.name]
        stem = f"p{period}:{c.name}"
        if c.growth != 1.0:
            book(
                s,
                pos,
                f"{stem}:accrue",
                "accrue",
                at,
                debt=c.debt_before * (c.growth - 1.0),
                index=c.index,
                cycle_id=cycle_id,
                period=period,
                detail={"growth": c.growth},
            )
        pos = Position(pos.loan_id, pos.name, pos.collateral, pos.debt_asset, pos.scaled_debt, c.index, pos.terms)
        for n, (ev, assets) in enumerate(c.liquidations):
            debt_out = ev.repaid + ev.written_off
            detail = {
                "repaid": ev.repaid,
                "seized": dict(zip(assets, ev.seized, strict=True)),
                "penalty": ev.penalty,
                "written_off": ev.written_off,
                "hf_before": _finite(ev.hf_before),
                "hf_after": _finite(ev.hf_after),
                "rule": pos.terms.get("rule"),
            }
            moved = [(a, u) for a, u in zip(assets, ev.seized, strict=True) if u > 0.0] or [(assets[0], 0.0)]
            for j, (a, units) in enumerate(moved):
                book(
                    s,
                    pos,
                    f"{stem}:liq{n}:{a}",
                    "liquidation",
                    at,
                    asset=a,
                    collateral=-units,
                    debt=-debt_out if j == 0 else 0.0,
                    cycle_id=cycle_id,
                    period=period,
                    detail=detail if j == 0 else None,
                )
        s.add(
            LoanMark(
                cycle_id=cycle_id,
                loan_id=pos.loan_id,
                health_factor=_finite(c.health_factor),
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
            s.add(
                Alert(
                    level="warning",
                    kind="health_warn",
                    message=f"loan {c.name}: health factor {c.health_factor:.4f} is below {c.warn_at:.4g} "
                    f"(liquidation at 1)",
                    asset=c.name,
                    cycle_id=cycle_id,
                    created_at=utcnow(),
                )
            )
    else:
        s.execute(update(Alert).where(*open_warn).values(resolved_at=utcnow()))


def link_orders(s: Session, links: Sequence[tuple[int, str, str]]) -> None:
    """Mark orders as a loan's repay or boost: (order id, loan name, kind), in the decision's transaction."""
    ids = {ln.name: ln.id for ln in s.scalars(select(LoanPosition))}
    for order_id, name, kind in links:
        s.add(LoanOrder(order_id=order_id, loan_id=ids[name], kind=kind))


def book_fill(s: Session, o: Order, trade_key: str, quantity: float, price: float, quote_quantity: float) -> None:
    """A repay or boost order's loan legs for one of its fills, in the fill's transaction: a repay
    withdraws the units sold and repays (at most the debt) with the proceeds; a boost borrows what
    the purchase cost and supplies the units bought. Other orders have no loan legs."""
    link = s.get(LoanOrder, o.id)
    if link is None:
        return
    pos = next(p for p in positions(s).values() if p.loan_id == link.loan_id)
    at, key = utcnow(), f"fill:{o.id}:{trade_key}"
    q_price = o.quote_price or 1.0
    units = abs(quantity)
    if link.kind == "repay":
        repaid = min(max(quote_quantity, 0.0), pos.debt)
        book(
            s,
            pos,
            f"{key}:withdraw",
            "withdraw",
            at,
            asset=o.asset,
            collateral=-units,
            order_id=o.id,
            wallet=[Wallet(o.asset, units, price)],
        )
        book(
            s,
            pos,
            f"{key}:repay",
            "repay",
            at,
            debt=-repaid,
            order_id=o.id,
            wallet=[Wallet(o.quote_asset, -repaid, q_price)],
        )
    else:
        spent = max(-quote_quantity, 0.0)
        book(
            s,
            pos,
            f"{key}:borrow",
            "borrow",
            at,
            debt=spent,
            order_id=o.id,
            wallet=[Wallet(o.quote_asset, spent, q_price)],
        )
        book(
            s,
            pos,
            f"{key}:supply",
            "supply",
            at,
            asset=o.asset,
            collateral=units,
            order_id=o.id,
            wallet=[Wallet(o.asset, -units, price)],
        )


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


def approved_moves_check(ledger: LedgerQueries) -> Callable[[list[OrderRow]], tuple[list[OrderRow], str | None]]:
    """For re-pricing approved proposals: splits a proposal's orders into the wallet's (checked
    against the holdings as usual) and loan moves, and refuses a repay that sells more collateral
    than the loan holds now (read when the proposals are about to be claimed)."""
    with ledger.session() as s:
        links = {oid: lid for oid, lid in s.execute(select(LoanOrder.order_id, LoanOrder.loan_id))}
        held = {p.loan_id: p for p in positions(s).values()} if links else {}

    def split(orders: list[OrderRow]) -> tuple[list[OrderRow], str | None]:
        for o in orders:
            pos = held.get(links[o["id"]]) if o["id"] in links else None
            if pos is not None and o["side"] == "sell" and o["quantity"] > pos.collateral[o["asset"]] * (1 + 1e-12):
                return [], (
                    f"the repay of loan {pos.name} sells {o['quantity']:.8g} {o['asset']}; the loan holds "
                    f"{pos.collateral[o['asset']]:.8g} as collateral now"
                )
        return [o for o in orders if o["id"] not in links], None

    return split


def health_factor(pos: Position, prices: Mapping[str, float | None]) -> tuple[float | None, float, float]:
    """(HF, collateral value, debt value) from the stored terms at ``prices``; HF None (infinite)
    without debt; NaN values when a price is missing."""
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


def last_prices(s: Session) -> dict[str, float | None]:
    """The prices of the newest holding snapshot (the last accepted close)."""
    snap = s.scalars(select(HoldingSnapshot).order_by(HoldingSnapshot.id.desc()).limit(1)).first()
    return {ln["asset"]: ln.get("price") for ln in (snap.lines if snap else [])}


def loan_status(s: Session, prices: Mapping[str, float | None]) -> list[dict[str, Any]]:
    """Every loan now: collateral and debt (derived), valued at ``prices`` (the last close's),
    its health factor, net value, band, the liquidation price of a single collateral asset, and
    how many repays, boosts and liquidations it had."""
    counts: dict[tuple[int, str], int] = {}
    for lid, kind, n in s.execute(
        select(LoanEvent.loan_id, LoanEvent.kind, func.count(func.distinct(LoanEvent.order_id)))
        .where(LoanEvent.kind.in_(("repay", "borrow")), LoanEvent.order_id.is_not(None))
        .group_by(LoanEvent.loan_id, LoanEvent.kind)
    ):
        counts[(lid, "repays" if kind == "repay" else "boosts")] = int(n)
    for lid, n in s.execute(
        select(LoanEvent.loan_id, func.count())
        .where(LoanEvent.kind == "liquidation", LoanEvent.detail.is_not(None))
        .group_by(LoanEvent.loan_id)
    ):
        counts[(lid, "liquidations")] = int(n)
    out = []
    for pos in positions(s).values():
        hf, cv, dv = health_factor(pos, prices)
        lt = pos.terms["liquidation_threshold"]
        (single,) = pos.collateral if len(pos.collateral) == 1 else (None,)
        dp = prices.get(pos.debt_asset)
        liq_price = (
            pos.debt * dp / (pos.collateral[single] * lt[single])
            if single is not None and dp is not None and pos.collateral[single] > 0 and pos.debt > 0
            else None
        )
        out.append(
            {
                "name": pos.name,
                "collateral": {
                    a: {"units": u, "price": prices.get(a), "value": None if prices.get(a) is None else u * prices[a]}  # type: ignore[operator]
                    for a, u in pos.collateral.items()
                },
                "collateral_value": _finite(cv),
                "debt_asset": pos.debt_asset,
                "debt": pos.debt,
                "debt_value": _finite(dv),
                "accrual_index": pos.index,
                "health_factor": None if hf is None else _finite(hf),
                "net_value": _finite(cv - dv),
                "liquidation_price": liq_price,
                "rule": pos.terms.get("rule"),
                "band": pos.terms.get("band"),
                "warn_at": pos.terms.get("warn_at"),
                "repays": counts.get((pos.loan_id, "repays"), 0),
                "boosts": counts.get((pos.loan_id, "boosts"), 0),
                "liquidations": counts.get((pos.loan_id, "liquidations"), 0),
            }
        )
    return out


def health_history(s: Session, limit: int) -> list[dict[str, Any]]:
    """Each cycle's mark of each loan (HF, collateral and debt value), oldest first."""
    rows = s.execute(
        select(Cycle.observed_at, LoanPosition.name, LoanMark)
        .join(Cycle, Cycle.id == LoanMark.cycle_id)
        .join(LoanPosition, LoanPosition.id == LoanMark.loan_id)
        .order_by(LoanMark.cycle_id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "observed_at": at.isoformat() + "Z",
            "loan": name,
            "health_factor": m.health_factor,
            "collateral_value": m.collateral_value,
            "debt_value": m.debt_value,
        }
        for at, name, m in reversed(rows)
    ]


def loan_events(s: Session, limit: int) -> list[dict[str, Any]]:
    """The newest loan events (liquidations with their amounts), newest first."""
    rows = s.execute(
        select(LoanEvent, LoanPosition.name)
        .join(LoanPosition, LoanPosition.id == LoanEvent.loan_id)
        .order_by(LoanEvent.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "id": e.id,
            "loan": name,
            "key": e.key,
            "kind": e.kind,
            "period": e.period,
            "event_at": e.event_at.isoformat() + "Z",
            "asset": e.asset,
            "collateral_units": e.collateral_units,
            "debt_units": e.debt_units,
            "accrual_index": e.accrual_index,
            "order_id": e.order_id,
            "detail": e.detail,
        }
        for e, name in rows
    ]


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


class PaperLendingMarket:
    """Supply, withdraw, borrow and repay by hand at the paper lending market (each one fenced
    transaction, with its wallet leg). Like Aave, a withdrawal or a borrow that would leave the
    health factor below 1 at the last observed prices is refused; so is a withdrawal or repayment
    larger than the position, or a move the wallet cannot pay."""

    def __init__(self, ledger: LedgerQueries) -> None:
        self.ledger = ledger

    def supply(self, name: str, asset: str, units: float) -> dict[str, Any]:
        return self._move(name, "supply", units, asset)

    def withdraw(self, name: str, asset: str, units: float) -> dict[str, Any]:
        return self._move(name, "withdraw", units, asset)

    def borrow(self, name: str, units: float) -> dict[str, Any]:
        return self._move(name, "borrow", units)

    def repay(self, name: str, units: float) -> dict[str, Any]:
        return self._move(name, "repay", units)

    def _move(self, name: str, kind: str, units: float, asset: str | None = None) -> dict[str, Any]:
        if not (isinstance(units, (int, float)) and math.isfinite(units) and units > 0.0):
            raise InputError(f"loan {kind}: the amount must be a positive number of units, got {units!r}")
        with self.ledger.session() as s:
            held = positions(s)
            if name not in held:
                raise InputError(f"loan {name!r} is not in this ledger ({', '.join(held) or 'no loans'})")
            pos = held[name]
            if asset is not None and asset not in pos.collateral:
                raise InputError(f"loan {name}: {asset!r} is not collateral ({', '.join(pos.collateral)})")
            leg = pos.debt_asset if asset is None else asset
            supplied = pos.collateral.get(leg, 0.0)
            if kind == "withdraw" and units > supplied * (1 + 1e-12):
                raise InputError(f"loan {name}: cannot withdraw {units:g} {leg}: {supplied:g} is supplied")
            if kind == "repay" and units > pos.debt * (1 + 1e-12):
                raise InputError(f"loan {name}: cannot repay {units:g} {leg}: {pos.debt:g} is owed")
            units = min(units, supplied) if kind == "withdraw" else min(units, pos.debt) if kind == "repay" else units
            coll = {"supply": units, "withdraw": -units}.get(kind, 0.0)
            debt = {"borrow": units, "repay": -units}.get(kind, 0.0)
            out = units if kind in ("withdraw", "borrow") else -units  # into (+) or out of (−) the wallet
            have = self.ledger.holdings(s).get(leg, 0.0)
            if out < 0 and -out > have * (1 + 1e-12):
                raise InputError(f"loan {name}: cannot {kind} {units:g} {leg}: the wallet holds {have:g}")
            after_coll = {a: u + (coll if a == leg else 0.0) for a, u in pos.collateral.items()}
            after = replace(pos, collateral=after_coll, scaled_debt=pos.scaled_debt + debt / pos.index)
            prices = last_prices(s)
            hf, cv, dv = health_factor(after, prices)
            if kind in ("withdraw", "borrow") and hf is not None and not hf >= 1.0:
                raise InputError(
                    f"loan {name}: this {kind} would leave a health factor of {hf:.4f} (below 1) at the "
                    "last observed prices. Nothing was written."
                )
            book(
                s,
                pos,
                f"manual:{secrets.token_hex(8)}",
                kind,
                utcnow(),
                asset=asset,
                collateral=coll,
                debt=debt,
                wallet=[Wallet(leg, out, prices.get(leg))],
            )
            return {
                "loan": name,
                "kind": kind,
                "units": units,
                "asset": leg,
                "health_factor": hf,
                "collateral_value": cv,
                "debt_value": dv,
            }
