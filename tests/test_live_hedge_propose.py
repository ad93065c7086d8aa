"""A delta hedge in propose mode: each re-hedge is a proposal (with its reason) that trades the perp
once approved — re-priced at its underlying's price when it runs, a close or more after it was
planned, with the PnL between the two marks carried so the perp earns exactly what it held;
done by hand instead (a Safe batch cannot carry a perp), its fill is recorded with
``proposals settle`` and moves only its fee and its distance from the mark in cash."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from ballast.live.ledger import Ledger
from ballast.live.models import Cycle, Fill, HedgeMark, LedgerEntry, Order
from ballast.live.proposals import SettleFill, settle_proposal
from ballast.live.safe_export import by_hand
from ballast.live.service import RunSettings, open_service
from ballast.onchain.batch import Trade
from live_hedge_support import example_strategy

SYMBOL = "ETH/USDC:USDC"


def test_rehedges_are_proposals_and_an_approved_one_earns_only_what_it_held(tmp_path: Path) -> None:
    propose = '[live.propose]\nthen = "paper"\nvalid_for = "30d"\nmax_price_move = 0.5'
    path = example_strategy(tmp_path, end="2021-01-31", executor="propose", live_extra=propose)
    approved: list[int] = []

    def approve_some(svc: object) -> None:  # every other cycle: some proposals wait a close or more
        led: Ledger = svc.ledger  # type: ignore[attr-defined]
        if len(svc.history) % 2 == 0:  # type: ignore[attr-defined]
            for p in led.proposals("pending"):
                led.approve_proposal(p["id"], by="test")
                approved.append(p["id"])

    svc = open_service(str(path), RunSettings(db=f"sqlite:///{tmp_path / 'l.db'}", speed="max"))
    svc.run(until_end=True, on_cycle=approve_some)
    led = svc.ledger
    hedged = [pid for pid in approved if "hedge: " in led.proposal(pid)["payload"]["reason"]]  # type: ignore[index]
    assert len(hedged) >= 3
    trades = [t for pid in hedged for t in led.proposal(pid)["payload"]["trades"] if t["asset"] == SYMBOL]  # type: ignore[index]
    assert len(trades) == len(hedged)
    with led.session() as s:
        fills = s.execute(
            select(Fill.quantity, Fill.price, Fill.quote_quantity, Fill.fee, Order.ref_price)
            .join(Order, Order.id == Fill.order_id)
            .where(Fill.asset == SYMBOL)
        ).all()
        marks = s.scalars(select(HedgeMark).order_by(HedgeMark.period)).all()
        settled = sum(s.scalars(select(LedgerEntry.units).where(LedgerEntry.key.like("%:hedge:settle"))).all())
    assert len(fills) >= 3 and any(price != ref for _, price, _, _, ref in fills)  # some ran at a later price
    with led.session() as s:  # a close that waits for a pending proposal says so
        notes = s.scalars(select(Cycle.note).where(Cycle.note.like("%is still pending%"))).all()
    assert notes and all(n.startswith(("trigger fired (", "the hedge is not re-checked; proposal")) for n in notes)
    assert any(n.startswith("the hedge is not re-checked") for n in notes)
    last = marks[-1]
    # the perp's fills are all absorbed by the last close: its size is theirs
    assert led.status()["hedge"]["size"] == pytest.approx(sum(q for q, *_ in fills), rel=1e-12)
    # what the perp moved in cash = each fill held from its price to the last mark + funding − fees
    funding = sum(m.funding for m in marks)
    fees = sum(fee for *_, fee, _ in fills)
    held_pnl = sum(q * (last.price - price) for q, price, *_ in fills)
    moved = settled + sum(cash for _, _, cash, _, _ in fills)
    assert moved == pytest.approx(held_pnl - funding - fees, rel=1e-9)
    led.close()


def test_a_rehedge_done_by_hand_is_settled_with_only_its_fee_in_cash(tmp_path: Path) -> None:
    path = example_strategy(tmp_path, end="2021-01-10", executor="propose", live_extra='[live.propose]\nthen = "none"')
    svc = open_service(str(path), RunSettings(db=f"sqlite:///{tmp_path / 'l.db'}", speed="max"))
    svc.run(until_end=True)
    led = svc.ledger
    (p,) = led.proposals("pending")
    perp = next(t for t in p["payload"]["trades"] if t["asset"] == SYMBOL)
    assert "open the hedge" in p["payload"]["reason"] and perp["side"] == "sell"
    led.approve_proposal(p["id"], by="test")
    before = led.holdings()
    q, price, fee = perp["quantity"], perp["ref_price"] - 2.0, 12.5  # sold 2 below the mark
    spot = [
        SettleFill(t["asset"], t["quantity"], t["ref_price"]) for t in p["payload"]["trades"] if t["asset"] != SYMBOL
    ]
    settle_proposal(led, p["id"], [*spot, SettleFill(SYMBOL, q, price, fee)], by="test")
    after = led.holdings()
    # the formation buys its USDC with unallocated cash; the short sold 2 below its mark loses 2 a unit
    assert after["USDC"] - before.get("USDC", 0.0) == pytest.approx(
        sum(t.quantity for t in spot if t.asset == "USDC") - fee - 2.0 * q, rel=1e-9
    )
    assert SYMBOL not in after
    with led.session() as s:
        (size,) = s.execute(select(Fill.quantity).where(Fill.asset == SYMBOL)).one()
    assert size == pytest.approx(-q)
    led.close()


def test_a_safe_batch_leaves_the_perp_out_and_says_how_to_trade_it() -> None:
    trades = [Trade("ETH", "buy", 1.0, "USDC", 2000.0, 1.0), Trade(SYMBOL, "sell", 0.6, "USDC", 2000.0, 1.0)]
    note = by_hand(trades)
    assert "not in the batch" in note and f"sell 0.6 {SYMBOL}" in note and "proposals settle" in note
    assert by_hand(trades[:1]) == ""
