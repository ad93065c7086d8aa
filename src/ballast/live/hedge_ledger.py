"""The perp leg of a delta hedge in the ledger, with the ledger's crash-safety rules.

The perp's size is never stored as a balance: it is the sum of the fills of its symbol (its
re-hedge orders, sent and recorded like every order: client ids written before sending, fills
idempotent per venue trade key) and of its liquidation entries. Those rows are kept out of the
wallet's holdings (`queries.holdings`): a perp is a contract, not a token.

Crash-safety order within a close (all of it in the cycle's ONE transaction, `book_cycle`):
1. `perp_state` reads the newest `HedgeMark` and absorbs the perp fills recorded after it (entry
   price, margin and realised PnL by `PerpPosition.trade`), and the carry of a fill made at another
   mark than the one the settlement starts from;
2. the close's mark (state after the settlement, the re-hedge check and why), the settlement's
   cash entry (``p<period>:hedge:settle``: mark-to-market + funding − a liquidation's penalty) and
   a liquidation's entry on the perp (``p<period>:hedge:liquidation``) are written with the cycle;
3. the re-hedge order (if any) is written with the decision, then sent (`live/venue.py`).
A kill before 2 commits leaves nothing of the close (it is replayed); after it, the order is
finished by reconciliation like any other — so a re-hedge is neither lost nor repeated. Keys
and the mark's unique period make booking a close twice fail instead of counting it twice.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from ballast.errors import InputError
from ballast.hedging import PerpPosition
from ballast.live.hedge import HedgeClose, PerpState
from ballast.live.models import Alert, Fill, HedgeMark, LedgerEntry, Order, utcnow


def perp_state(s: Session, symbol: str, leverage: float) -> tuple[PerpState, float, float]:
    """(the perp's state now, the mark its next settlement starts from (nan before the first),
    the carry in currency of fills made at another mark). Checked against the size its fills
    and entries sum to."""
    mark = s.scalars(select(HedgeMark).order_by(HedgeMark.cycle_id.desc()).limit(1)).first()
    if mark is None:
        state, last = PerpState(), float("nan")
    else:
        if mark.instrument != symbol:
            raise InputError(
                f"[hedge] instrument: this ledger hedges with {mark.instrument}, not {symbol}; give this "
                "strategy its own --db"
            )
        state = PerpState(mark.size, mark.entry_price, mark.margin, mark.is_open, mark.realised, mark.fill_id)
        last = mark.price
    carry = 0.0
    fills = s.execute(
        select(Fill.id, Fill.quantity, Fill.price, Order.ref_price)
        .join(Order, Order.id == Fill.order_id)
        .where(Fill.asset == symbol, Fill.id > state.fill_id)
        .order_by(Fill.id)
    ).all()
    for fid, units, price, ref in fills:
        state = state.filled(units, price, leverage, fid)
        if math.isfinite(last):  # a fill planned at a mark older than the last settlement's
            carry += units * (last - ref)
    size = perp_size(s, symbol)
    if abs(size - state.size) > 1e-9 * max(abs(size), 1.0):
        raise AssertionError(f"hedge: the perp's fills sum to {size!r} units but its state holds {state.size!r}")
    return state, last, carry


def perp_size(s: Session, symbol: str) -> float:
    """The perp's signed size: its fills plus its liquidation entries."""
    legs = union_all(
        select(Fill.quantity.label("u")).where(Fill.asset == symbol),
        select(LedgerEntry.units).where(LedgerEntry.asset == symbol),
    ).subquery()
    return float(s.scalar(select(func.sum(legs.c.u))) or 0.0)


def book_cycle(s: Session, cycle_id: int, period: int, at: datetime, close: HedgeClose) -> None:
    """The close's mark, its settlement in the cash asset (with the fills' carry), and a
    liquidation's entry on the perp with its alert, in the cycle's transaction."""
    st = close.state
    lo = None if close.target is None or close.half_width is None else close.target - close.half_width
    hi = None if close.target is None or close.half_width is None else close.target + close.half_width
    s.add(
        HedgeMark(
            cycle_id=cycle_id, period=period, instrument=close.symbol, leverage=close.leverage, price=close.price,
            size=st.size,
            entry_price=st.entry, margin=st.margin, is_open=st.is_open, realised=st.realised, fill_id=st.fill_id,
            pnl=close.pnl, funding=close.funding, liquidation=close.penalty, delta=close.delta,
            target=close.target, band_lo=lo, band_hi=hi, planned=close.planned, reason=close.reason[:300],
        )
    )  # fmt: skip
    pq = close.quote_price
    moved, carry = close.cash, close.carry
    if moved != 0.0:
        note = f"perp {close.symbol}: PnL {close.pnl:.6g}, funding {-close.funding:+.6g} received"
        note += f", liquidation penalty {close.penalty:.6g}" if close.penalty else ""
        note += f", carry {carry:+.6g}" if carry else ""
        s.add(_entry(f"p{period}:hedge:settle", cycle_id, period, at, close.quote, moved, moved * pq, "settle", note))
    if close.liquidated:
        s.add(_entry(f"p{period}:hedge:liquidation", cycle_id, period, at, close.symbol, -close.liquidated, None,
                     "liquidation", f"perp {close.symbol} liquidated below maintenance margin"))  # fmt: skip
        s.add(
            Alert(
                level="error",
                kind="hedge_liquidated",
                message=f"hedge {close.symbol}: {close.liquidated:+.8g} liquidated at {close.price:,.8g} "
                f"(margin below maintenance), penalty {close.penalty:,.2f}",
                asset=close.symbol,
                cycle_id=cycle_id,
                created_at=utcnow(),
            )
        )


def _entry(
    key: str, cycle_id: int, period: int, at: datetime, asset: str, units: float, value: float | None, kind: str,
    note: str,
) -> LedgerEntry:  # fmt: skip
    return LedgerEntry(key=key, cycle_id=cycle_id, period=period, entry_at=at, asset=asset, units=units, value=value,
                       kind=kind, source="hedge", note=note, recorded_at=utcnow())  # fmt: skip


def hedge_status(s: Session) -> dict[str, Any] | None:
    """The hedge now (None: no hedge): delta, band and the perp (size from its fills, entry,
    unrealised PnL and margin at the last mark, funding and fees to date, the last re-hedge and why)."""
    mark = s.scalars(select(HedgeMark).order_by(HedgeMark.cycle_id.desc()).limit(1)).first()
    if mark is None:
        return None
    symbol = mark.instrument
    state, _, _ = perp_state(s, symbol, mark.leverage)  # with the fills of the last re-hedge
    fees = s.scalar(select(func.sum(Fill.fee)).where(Fill.asset == symbol)) or 0.0
    totals = s.execute(
        select(func.sum(HedgeMark.funding), func.sum(HedgeMark.pnl), func.sum(HedgeMark.liquidation))
    ).one()
    planned = select(HedgeMark).where(HedgeMark.reason != "")
    last = s.scalars(planned.order_by(HedgeMark.cycle_id.desc()).limit(1)).first()
    return {
        "instrument": symbol,
        "period": mark.period,
        "price": mark.price,
        "delta": mark.delta,
        "target": mark.target,
        "band": None if mark.band_lo is None else [mark.band_lo, mark.band_hi],
        "size": state.size,
        "planned": mark.planned,
        "entry_price": state.entry if state.size else None,
        "unrealised_pnl": PerpPosition(state.size, state.entry).unrealised_pnl(mark.price),
        "margin": state.margin,
        "leverage": mark.leverage,
        "funding_paid": float(totals[0] or 0.0),
        "pnl_settled": float(totals[1] or 0.0),
        "liquidation_penalties": float(totals[2] or 0.0),
        "realised_pnl": state.realised,
        "fees": float(fees),
        "rehedges": s.scalar(select(func.count(func.distinct(Fill.order_id))).where(Fill.asset == symbol)) or 0,
        "last_rehedge": None if last is None else {"period": last.period, "reason": last.reason},
    }
