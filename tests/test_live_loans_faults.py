"""Fault injection for the loans' writes, on SQLite and PostgreSQL: a runner replaying the loan
path (the opening, a boost, repays, an Aave liquidation) SIGKILLs itself just before one of its writes of a
loan event, a mark, a loan order link, a wallet leg, a fill or a paper-venue order — or a few
statements after one, between the steps that follow — and is restarted until the replay ends.
At the end: every loan event booked exactly once (the same keys and amounts as an uninterrupted
run), every client order id at the venue once, no decision lost or doubled, one liquidation
alert, one mark per close, and the loan and the holdings equal the uninterrupted run's."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from sqlalchemy import text

from ballast.live.ledger import Ledger
from ballast.live.service import RunSettings, open_service
from live_loans_support import ETH, NAME, loan_strategy
from live_support import db_url, expire_lease, killed_run  # noqa: F401  (db_url: fixture)

WRITES = ("loan_events", "loan_marks", "loan_orders", "ledger_entries", "fills", "paper_venue_orders")


def snapshot(url: str) -> dict[str, object]:
    with Ledger(url, migrate=False) as led, led.engine.connect() as c:
        rows = c.execute(
            text(
                "SELECT e.key, e.collateral_units, e.debt_units, d.period FROM loan_events e "
                "LEFT JOIN orders o ON o.id = e.order_id LEFT JOIN decisions d ON d.id = o.decision_id"
            )
        ).all()
        # a fill's legs are keyed by order and venue ids, which PostgreSQL's sequences skip after a
        # rolled-back insert: name them by their decision's period and leg instead
        events = {
            (f"fill:p{p}:{k.rsplit(':', 1)[1]}" if k.startswith("fill:") else k): (cu, du) for k, cu, du, p in rows
        }
        assert len(events) == len(rows)
        per_id = c.execute(text("SELECT client_order_id, COUNT(*) FROM paper_venue_orders GROUP BY 1")).all()
        n_orders = c.execute(text("SELECT COUNT(*) FROM orders")).scalar()
        marks = c.execute(text("SELECT COUNT(*) FROM loan_marks")).scalar()
        with led.session() as s:
            from ballast.live import lending

            pos = lending.positions(s, led.holdings(s))[NAME]
        return {
            "events": events,
            "venue_once": len(per_id) == n_orders and all(n == 1 for _, n in per_id),
            "decisions": sorted((d["period"], d["state"]) for d in led.recent_decisions(1000)),
            "holdings": led.holdings(),
            "loan": (pos.collateral["ETH"], pos.debt),
            "liquidation_alerts": sum(a["kind"] == "health_liquidation" for a in led.alerts(limit=1000)),
            "marks": marks,
            "open_orders": led.open_orders(),
        }


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigkill_at_the_loans_writes_books_every_loan_event_once(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    strategy = loan_strategy(tmp_path)
    ref_url = f"sqlite:///{tmp_path / 'reference.db'}"
    svc = open_service(str(strategy), RunSettings(db=ref_url, speed="max"))
    svc.run(until_end=True)
    svc.ledger.close()
    ref = snapshot(ref_url)
    assert ref["liquidation_alerts"] == 1 and len(ref["decisions"]) == 5  # type: ignore[arg-type]

    rng = random.Random(15)
    log = tmp_path / "kills.log"
    kills = 0
    for _ in range(60):
        status = killed_run(strategy, db_url, rng.randint(1, 6), rng.choice([0, 0, rng.randint(1, 40)]), log, WRITES)
        if not os.WIFSIGNALED(status):
            break
        kills += 1
        expire_lease(db_url)  # the runner is dead: skip waiting out its lease (tested elsewhere)
    else:
        pytest.fail("the replay never finished between kills")
    where = log.read_text().splitlines()
    assert kills == len(where) >= 8
    assert any("FILLS" in w.upper() for w in where) and any("LOAN_EVENTS" in w.upper() for w in where)

    got = snapshot(db_url)
    assert got["events"].keys() == ref["events"].keys()  # type: ignore[attr-defined]
    for key, (cu, du) in got["events"].items():  # type: ignore[attr-defined]
        rc, rd = ref["events"][key]  # type: ignore[index]
        assert cu == pytest.approx(rc, rel=1e-9, abs=1e-12) and du == pytest.approx(rd, rel=1e-9, abs=1e-9), key
    assert got["venue_once"] and got["open_orders"] == []
    assert got["decisions"] == ref["decisions"]
    assert got["liquidation_alerts"] == 1 and got["marks"] == len(ETH)
    assert got["loan"] == pytest.approx(ref["loan"], rel=1e-9)
    held, ref_held = got["holdings"], ref["holdings"]
    assert held.keys() == ref_held.keys()  # type: ignore[attr-defined]
    for a in held:  # type: ignore[attr-defined]
        assert held[a] == pytest.approx(ref_held[a], rel=1e-9, abs=1e-6), a  # type: ignore[index]


@pytest.mark.parametrize("where", ["before the cycle", "at the send"])
def test_a_runner_that_lost_its_lease_books_no_loan_event(db_url: str, tmp_path: Path, where: str) -> None:  # noqa: F811
    """Runner A loses its lease on the crash day (day 10: accrual, an Aave liquidation and a repay):
    before its cycle's write, or after writing it while sending the repay. Its writes are refused
    by the fence (`LeaseLost`); the new holder books every loan event once, and the loan ends as
    in an uninterrupted run."""
    from ballast.live.lease import LeaseLost

    strategy = loan_strategy(tmp_path)
    ref_url = f"sqlite:///{tmp_path / 'reference.db'}"
    ref = open_service(str(strategy), RunSettings(db=ref_url, speed="max"))
    ref.run(until_end=True)
    ref.ledger.close()
    a = open_service(str(strategy), RunSettings(db=db_url, speed="max"))
    b = open_service(str(strategy), RunSettings(db=db_url, speed="max"))
    a.run(until_end=False, max_cycles=10)  # days 0-9 (the run releases the lease at its end)
    a.lease.acquire()
    obs = a.source.next(a.ledger.last_observed())
    assert obs is not None and obs.prices["ETH"] == ETH[10]
    before = len(a.ledger.loan_events(10_000))
    if where == "before the cycle":
        expire_lease(db_url)
        b.start()
    else:
        assert a.executor is not None
        send = a.executor.submit

        def taken_over_then_send(*args: object, **kwargs: object) -> object:
            expire_lease(db_url)
            b.start()  # takes the lease and reconciles A's repay: sends it once
            return send(*args, **kwargs)  # type: ignore[arg-type]

        a.executor.submit = taken_over_then_send  # type: ignore[method-assign]
    with pytest.raises(LeaseLost):
        a.cycle(obs)
    events = b.ledger.loan_events(10_000)
    if where == "before the cycle":
        assert len(events) == before  # A booked nothing of day 10
    else:  # A's cycle (accrual, liquidation, repay order) committed; B sent and booked the repay
        assert sum(e["kind"] == "liquidation" for e in events) == 1
    b.run(until_end=True)
    got, want = snapshot(db_url), snapshot(ref_url)
    assert got["venue_once"] and got["liquidation_alerts"] == 1 and got["marks"] == len(ETH)
    assert got["events"].keys() == want["events"].keys()  # type: ignore[attr-defined]
    assert got["loan"] == pytest.approx(want["loan"], rel=1e-9)
    a.ledger.close()
    b.ledger.close()
