"""Fault injection: ``ballast run`` (paper executor, replayed file) is SIGKILLed at random points
at least 20 times and restarted each time, on SQLite and on a real PostgreSQL server. At the end:
no decision lost or doubled, no order sent twice, holdings = start + fills, and the final
holdings equal those of an uninterrupted run."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from live_support import db_url, fast_tmp, synthetic_prices, write_strategy  # noqa: F401
from sqlalchemy import text

from ballast.live.ledger import Ledger
from ballast.live.service import RunSettings, open_service

SRC = Path(__file__).resolve().parents[1] / "src"
KILLS = 22
ROWS = 150


def start(strategy: Path, db: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-m", "ballast.cli", "run", str(strategy), "--db", db,
                             "--speed", "max", "--until-end", "--log-json", "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)


def wait_started(proc: subprocess.Popen, log: list[str]) -> bool:
    """Read the JSON log until the service reports it started (reconciled); False if it exited."""
    assert proc.stderr is not None
    for line in proc.stderr:
        log.append(line)
        try:
            if json.loads(line).get("event") == "start":
                return True
        except ValueError:
            continue
    return False


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_sigkill_restart_loses_and_repeats_nothing(db_url: str, fast_tmp: Path) -> None:  # noqa: F811
    prices = synthetic_prices(fast_tmp / "prices.csv", n=ROWS, seed=7, vol=0.04)
    strategy = write_strategy(fast_tmp, prices, trigger='rebalance = "daily"', plan="full", fee_bps=20, fixed=1)

    reference = open_service(str(strategy), RunSettings(db=f"sqlite:///{fast_tmp / 'reference.db'}", speed="max"))
    reference.run(until_end=True)
    ref = reference.ledger
    ref_holdings = ref.holdings()
    ref_periods = sorted(d["period"] for d in ref.recent_decisions(10_000))
    assert len(ref_periods) == ROWS  # a decision every day: every kill lands among them

    rng = random.Random(20261124)
    kills = 0
    runs = 0
    log: list[str] = []
    while True:
        runs += 1
        assert runs < 200, "the service never finished"
        proc = start(strategy, db_url)
        if kills < KILLS:
            if wait_started(proc, log):
                time.sleep(rng.uniform(0.0, 0.12))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
                assert proc.stderr is not None
                proc.stderr.close()
                continue
        _, err = proc.communicate(timeout=120)
        log.append(err)
        if proc.returncode == 0 and kills >= KILLS:
            break
        assert proc.returncode in (0, -signal.SIGKILL), "".join(log[-20:])

    assert kills >= KILLS
    led = Ledger(db_url, migrate=False)
    try:
        decisions = sorted(led.recent_decisions(10_000), key=lambda d: d["period"])
        # no decision lost, none doubled
        assert [d["period"] for d in decisions] == ref_periods
        assert all(d["state"] == "filled" for d in decisions)
        assert led.open_orders() == []
        c = led.counts()
        assert c["cycles"] == ROWS and c["orders"] == ref.counts()["orders"] == c["fills"]
        with led.engine.connect() as conn:
            per_id = conn.execute(text("SELECT client_order_id, COUNT(*) FROM paper_venue_orders "
                                       "GROUP BY client_order_id")).all()
            n_orders = conn.execute(text("SELECT COUNT(*) FROM orders")).scalar()
            fills_per_order = conn.execute(text("SELECT order_id, COUNT(*) FROM fills GROUP BY order_id")).all()
            # ledger holdings recomputed by hand: starting holdings plus every fill, both legs
            start_rows = conn.execute(text("SELECT asset, units FROM starting_holdings")).all()
            fill_rows = conn.execute(text("SELECT asset, quantity, quote_asset, quote_quantity FROM fills")).all()
            venue_rows = conn.execute(text("SELECT asset, quantity, quote_quantity FROM paper_venue_orders")).all()
        # no order sent twice: the venue saw every client order id exactly once
        assert len(per_id) == n_orders and all(n == 1 for _, n in per_id)
        assert all(n == 1 for _, n in fills_per_order)
        by_hand: dict[str, float] = {a: u for a, u in start_rows}
        for asset, q, quote, qq in fill_rows:
            by_hand[asset] = by_hand.get(asset, 0.0) + q
            by_hand[quote] = by_hand.get(quote, 0.0) + qq
        held = led.holdings()
        assert held.keys() == by_hand.keys()
        for a in held:
            assert held[a] == pytest.approx(by_hand[a], rel=1e-12, abs=1e-9)
        # what the venue executed is what the ledger recorded
        venue_units = sum(q for a, q, _ in venue_rows if a == "BTC")
        assert venue_units == pytest.approx(sum(q for a, q, _, _ in fill_rows if a == "BTC"), rel=1e-12)
        # and the end state is the uninterrupted run's
        assert held.keys() == ref_holdings.keys()
        for a in held:
            assert held[a] == pytest.approx(ref_holdings[a], rel=1e-9, abs=1e-6), a
    finally:
        led.close()
        ref.close()
