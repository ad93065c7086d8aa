"""Fault injection for a liquidity reset, on SQLite and PostgreSQL: the runner replaying the
position's path SIGKILLs itself at a chosen statement of its first reset that swaps — before the
decision's order is written, before the reset is linked to it, before the paper venue takes the
swap, before the fill is recorded, before the order and the decision are settled, before the
reset's gas legs and new range are booked, before that commit — and is restarted to the end.
The reset is neither lost nor repeated: one order per client id at the venue, one fill, its gas
legs once, one mark per close, and marks, entries, decisions and holdings equal an uninterrupted
run's."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from ballast.live.ledger import Ledger
from ballast.live.service import RunSettings, open_service
from live_support import db_url, expire_lease, killed_run  # noqa: F401  (db_url: fixture)
from test_live_lp import lp_strategy

# Statements counted from the reset decision's INSERT INTO orders (the replay's third: the
# formation writes two): 0 that insert, 2 the link to the mark, 7 the paper venue's order, 11 the
# fill, 16 the order's status, 21 the decision's state, 26 the gas legs, 27 the new range, 28 the
# commit of the settlement, 35 the next close (SQLite's numbering; PostgreSQL's is close to it).
KILL_AT = (0, 2, 7, 11, 16, 21, 26, 27, 28, 35)


def snapshot(url: str) -> dict[str, Any]:
    with Ledger(url, migrate=False) as led, led.engine.connect() as c:
        marks = c.execute(text("SELECT period, reset, value, swap_cost, gas FROM lp_marks ORDER BY period")).all()
        # the reset's legs are keyed by decision id, which PostgreSQL's sequences skip after a
        # rolled-back insert: name them by their decision's period instead
        rows = c.execute(
            text(
                "SELECT e.key, e.units, d.period FROM ledger_entries e LEFT JOIN decisions d "
                "ON e.key LIKE 'lp-reset:' || CAST(d.id AS VARCHAR) || ':%' WHERE e.kind = 'lp'"
            )
        ).all()
        entries = {(k if p is None else f"lp-reset:p{p}:{k.rsplit(':', 1)[1]}"): u for k, u, p in rows}
        assert len(entries) == len(rows)
        per_id = c.execute(text("SELECT client_order_id, COUNT(*) FROM paper_venue_orders GROUP BY 1")).all()
        n_orders = c.execute(text("SELECT COUNT(*) FROM orders")).scalar()
        n_fills = c.execute(text("SELECT COUNT(*) FROM fills")).scalar()
        return {
            "marks": [tuple(m) for m in marks],
            "entries": entries,
            "venue_once": len(per_id) == n_orders == n_fills and all(n == 1 for _, n in per_id),
            "decisions": sorted((d["period"], d["state"], d["reason"]) for d in led.recent_decisions(1000)),
            "holdings": led.holdings(),
            "liquidity": led.status()["liquidity"],
        }


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("reference")
    url = f"sqlite:///{folder / 'reference.db'}"
    svc = open_service(str(lp_strategy(folder)), RunSettings(db=url, speed="max"))
    svc.run(until_end=True)
    svc.ledger.close()
    ref = snapshot(url)
    assert sum("liquidity: reset" in d[2] for d in ref["decisions"]) >= 2
    return ref


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("later", KILL_AT)
def test_sigkill_during_a_reset_neither_loses_nor_repeats_it(
    db_url: str,  # noqa: F811
    tmp_path: Path,
    reference: dict[str, Any],
    later: int,
) -> None:
    strategy = lp_strategy(tmp_path)
    log = tmp_path / "kills.log"
    status = killed_run(strategy, db_url, 3, later, log, ("orders",))
    assert os.WIFSIGNALED(status), "the runner was not killed: the reset was not reached"
    expire_lease(db_url)  # the runner is dead: skip waiting out its lease (tested elsewhere)
    svc = open_service(str(strategy), RunSettings(db=db_url, speed="max"))
    svc.run(until_end=True)
    svc.ledger.close()

    got = snapshot(db_url)
    assert got["venue_once"]
    assert got["decisions"] == reference["decisions"]
    assert [m[:2] for m in got["marks"]] == [m[:2] for m in reference["marks"]]
    for m, r in zip(got["marks"], reference["marks"], strict=True):
        assert m[2:] == pytest.approx(r[2:], rel=1e-9, abs=1e-9), m[0]
    assert got["entries"].keys() == reference["entries"].keys()
    for key, units in got["entries"].items():
        assert units == pytest.approx(reference["entries"][key], rel=1e-9, abs=1e-12), key
    for k in ("fees", "resets", "lower", "upper", "token0", "token1", "value"):
        assert got["liquidity"][k] == pytest.approx(reference["liquidity"][k], rel=1e-9), k
    held, want = got["holdings"], reference["holdings"]
    assert held.keys() == want.keys()
    for a in held:
        assert held[a] == pytest.approx(want[a], rel=1e-9, abs=1e-9), a
