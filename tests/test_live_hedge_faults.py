"""Fault injection for the hedge's writes, on SQLite and PostgreSQL: a runner replaying the hedged
path (the opening, band re-hedges on both sides, a liquidation and the reopening) SIGKILLs itself
just before one of its writes of a hedge mark, a ledger entry, an order, a fill or a paper-venue
order — or a few statements after one — and is restarted until the replay ends. At the end:
every re-hedge sent to the venue exactly once (none lost, none repeated), one mark per close
equal to an uninterrupted run's, the same settlements, one liquidation, and the same perp and
holdings. A crash inside a close's transaction, after its mark is written, keeps nothing of it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from ballast.live.ledger import Ledger
from ballast.live.models import HedgeMark
from ballast.live.service import RunSettings, open_service
from live_hedge_support import LIQUIDATED, PATH, hedge_strategy
from live_support import Crash, db_url, expire_lease, killed_run, killed_until_done, lose_lease  # noqa: F401  (db_url: fixture)

WRITES = ("hedge_marks", "ledger_entries", "orders", "fills", "paper_venue_orders")
SYMBOL = "ETH/USDT:USDT"


def snapshot(url: str) -> dict[str, object]:
    with Ledger(url, migrate=False) as led, led.engine.connect() as c:
        marks = c.execute(
            text(
                "SELECT period, size, entry_price, margin, planned, funding, pnl, liquidation, reason "
                "FROM hedge_marks ORDER BY period"
            )
        ).all()
        entries = dict(c.execute(text("SELECT key, units FROM ledger_entries WHERE source = 'hedge'")).all())
        sent = c.execute(
            text(
                "SELECT d.period, o.side, o.quantity, COUNT(v.id) FROM orders o "
                "JOIN decisions d ON d.id = o.decision_id "
                "LEFT JOIN paper_venue_orders v ON v.client_order_id = o.client_order_id "
                f"WHERE o.asset = '{SYMBOL}' GROUP BY d.period, o.side, o.quantity ORDER BY d.period"
            )
        ).all()
        per_id = c.execute(text("SELECT client_order_id, COUNT(*) FROM paper_venue_orders GROUP BY 1")).all()
        n_orders = c.execute(text("SELECT COUNT(*) FROM orders")).scalar()
        st = led.status()["hedge"]
        return {
            "marks": [tuple(m) for m in marks],
            "entries": entries,
            "rehedges": [(p, side, q) for p, side, q, _ in sent],
            "each_sent_once": all(n == 1 for *_, n in sent),
            "venue_once": len(per_id) == n_orders and all(n == 1 for _, n in per_id),
            "decisions": sorted((d["period"], d["state"]) for d in led.recent_decisions(1000)),
            "holdings": led.holdings(),
            "perp": (st["size"], st["entry_price"], st["margin"], st["funding_paid"], st["fees"]),
            "liquidations": sum(a["kind"] == "hedge_liquidated" for a in led.alerts(limit=1000)),
            "open_orders": led.open_orders(),
        }


def uninterrupted(strategy: Path, folder: Path) -> dict[str, object]:
    """The snapshot of a run without faults (on SQLite)."""
    url = f"sqlite:///{folder / 'reference.db'}"
    svc = open_service(str(strategy), RunSettings(db=url, speed="max"))
    svc.run(until_end=True)
    svc.ledger.close()
    return snapshot(url)


def assert_same(got: dict[str, object], ref: dict[str, object]) -> None:
    assert got["venue_once"] and got["each_sent_once"] and got["open_orders"] == []
    assert got["decisions"] == ref["decisions"]
    assert got["liquidations"] == 1
    rg, rr = got["rehedges"], ref["rehedges"]
    assert [(p, s) for p, s, _ in rg] == [(p, s) for p, s, _ in rr]  # type: ignore[union-attr]
    assert [q for *_, q in rg] == pytest.approx([q for *_, q in rr], rel=1e-9)  # type: ignore[union-attr]
    gm, rm = got["marks"], ref["marks"]
    assert len(gm) == len(rm) == len(PATH)  # type: ignore[arg-type]
    for g, r in zip(gm, rm, strict=True):  # type: ignore[call-overload]
        assert g[0] == r[0] and g[-1] == r[-1]
        assert g[1:-1] == pytest.approx(r[1:-1], rel=1e-9, abs=1e-9), g[0]
    ge, re_ = got["entries"], ref["entries"]
    assert ge.keys() == re_.keys()  # type: ignore[attr-defined]
    for k in ge:  # type: ignore[attr-defined]
        assert ge[k] == pytest.approx(re_[k], rel=1e-9), k  # type: ignore[index]
    assert got["perp"] == pytest.approx(ref["perp"], rel=1e-9)
    held, ref_held = got["holdings"], ref["holdings"]
    assert held.keys() == ref_held.keys()  # type: ignore[attr-defined]
    for a in held:  # type: ignore[attr-defined]
        assert held[a] == pytest.approx(ref_held[a], rel=1e-9, abs=1e-6), a  # type: ignore[index]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigkill_at_the_hedges_writes_neither_loses_nor_repeats_a_rehedge(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    strategy = hedge_strategy(tmp_path)
    ref = uninterrupted(strategy, tmp_path)
    assert len(ref["rehedges"]) >= 6  # type: ignore[arg-type]

    # first just before a write of each kind (the random kills below land by statement count, which
    # the lease's heartbeats shift with the machine's load), then at random until the replay ends
    aimed = tmp_path / "aimed.log"
    for table, nth in (("fills", 2), ("hedge_marks", 3), ("paper_venue_orders", 3), ("ledger_entries", 2)):
        assert os.WIFSIGNALED(killed_run(strategy, db_url, nth, 0, aimed, (table,)))
        expire_lease(db_url)
    assert [w.split()[3].upper() for w in aimed.read_text().splitlines()] == [
        "FILLS", "HEDGE_MARKS", "PAPER_VENUE_ORDERS", "LEDGER_ENTRIES",
    ]  # fmt: skip
    where = killed_until_done(strategy, db_url, WRITES, tmp_path / "kills.log", seed=17, tries=80, nth=7, later=30)
    assert len(where) >= 4  # with the aimed four: at least 8 kills
    assert_same(snapshot(db_url), ref)


def test_a_crash_while_booking_a_close_books_it_once_on_restart(
    db_url: str,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A crash inside the cycle's transaction after the liquidation close's mark and entries are
    written, before the commit: nothing of that close is kept (no settlement, no liquidation, no
    re-opening order); the restarted service books it once, and ends as an uninterrupted run."""
    from ballast.live import hedge_ledger

    strategy = hedge_strategy(tmp_path)
    want = uninterrupted(strategy, tmp_path)

    real, calls = hedge_ledger.book_cycle, []

    def crash_at_the_liquidation(*a: object, **k: object) -> None:
        calls.append(1)
        real(*a, **k)  # type: ignore[arg-type]
        if a[-1].liquidated:  # type: ignore[attr-defined]  # written, then killed before the commit
            raise Crash()

    monkeypatch.setattr(hedge_ledger, "book_cycle", crash_at_the_liquidation)
    svc = open_service(str(strategy), RunSettings(db=db_url, speed="max"))
    with pytest.raises(Crash):
        svc.run(until_end=True)
    with svc.ledger.session() as s:
        assert s.scalar(select(func.count()).select_from(HedgeMark)) == len(calls) - 1
    svc.ledger.close()
    monkeypatch.undo()
    expire_lease(db_url)
    again = open_service(str(strategy), RunSettings(db=db_url, speed="max"))
    again.run(until_end=True)
    again.ledger.close()
    assert_same(snapshot(db_url), want)


@pytest.mark.parametrize("where", ["before the cycle", "at the send"])
def test_a_runner_that_lost_its_lease_books_no_hedge_close(db_url: str, tmp_path: Path, where: str) -> None:  # noqa: F811
    """Runner A loses its lease on the liquidation close (settlement, liquidation and reopening):
    before its cycle's write, or after writing it while sending the reopening. Its writes are
    refused by the fence (`LeaseLost`); the new holder books the close once and sends the order
    once, and the run ends as an uninterrupted one."""
    from ballast.live.lease import LeaseLost

    strategy = hedge_strategy(tmp_path)
    want = uninterrupted(strategy, tmp_path)
    a = open_service(str(strategy), RunSettings(db=db_url, speed="max"))
    b = open_service(str(strategy), RunSettings(db=db_url, speed="max"))
    obs = lose_lease(a, b, db_url, where, LIQUIDATED)  # after closes 0 .. LIQUIDATED-1
    assert obs.prices["ETH"] == PATH[LIQUIDATED]
    with pytest.raises(LeaseLost):
        a.cycle(obs)
    with b.ledger.session() as s:
        marks = s.scalar(select(func.count()).select_from(HedgeMark))
    assert marks == (LIQUIDATED if where == "before the cycle" else LIQUIDATED + 1)
    b.run(until_end=True)
    a.ledger.close()
    b.ledger.close()
    assert_same(snapshot(db_url), want)
