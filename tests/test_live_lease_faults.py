"""Two `ballast run` processes on one ledger, on SQLite and PostgreSQL: the second is refused with
a message naming the first (host, pid, strategy, since when); after the first is SIGKILLed it still
shows as running until its lease expires, then as stopped, and the next runner takes over,
reconciles and finishes — every client id sent exactly once, holdings = start + fills = an
uninterrupted run."""
from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from live_support import db_url, fast_tmp, synthetic_prices, write_strategy  # noqa: F401
from sqlalchemy import text
from test_live_faults import SRC, run_args, wait_for

from ballast.live.ledger import Ledger
from ballast.live.service import RunSettings, open_service

ROWS = 200
ROUNDS = 2
EXPIRY = 3.0


def running(url: str) -> bool:
    with Ledger(url, migrate=False) as led:
        return bool(led.state()["running"])


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_runners_at_once(db_url: str, fast_tmp: Path) -> None:  # noqa: F811
    prices = synthetic_prices(fast_tmp / "prices.csv", n=ROWS, seed=11, vol=0.04)
    strategy = write_strategy(fast_tmp, prices, trigger='rebalance = "daily"\ncooldown = 2', plan="full",
                              fee_bps=20, fixed=1, live_extra=f'lease_expiry = "{EXPIRY:g}s"')
    reference = open_service(str(strategy), RunSettings(db=f"sqlite:///{fast_tmp / 'reference.db'}", speed="max"))
    reference.run(until_end=True)
    ref = reference.ledger
    env = {**os.environ, "PYTHONPATH": str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cli = [sys.executable, "-m", "ballast.cli"]
    slow = ["run", str(strategy), "--db", db_url, "--speed", "3", "--until-end", "--log-json", "--quiet"]
    rng = random.Random(2026)
    for _ in range(ROUNDS):
        log = fast_tmp / "first.log"
        with log.open("w") as err:
            first = subprocess.Popen([*cli, *slow], stderr=err, env=env)
        assert wait_for(log, first.pid, rng.randint(1, 3), time.monotonic() + 60), log.read_text()[-3000:]
        second = subprocess.run([*cli, *run_args(strategy, db_url)], capture_output=True, text=True, env=env,
                                timeout=120)
        assert second.returncode == 2, second.stderr[-3000:]
        msg = " ".join(second.stderr.split())
        assert f"in use by runner {socket.gethostname()} pid {first.pid} (strategy 'live test') since" in msg
        assert '"event": "start"' not in second.stderr  # refused before reconciling or sending anything
        time.sleep(rng.uniform(0.0, 0.05))
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=30) == -signal.SIGKILL
        killed = time.monotonic()
        assert running(db_url)  # a dead runner's lease holds until it expires...
        while running(db_url):
            assert time.monotonic() - killed < EXPIRY + 5
            time.sleep(0.1)
        # ...and then it shows as stopped: the next round's runner takes the ledger over
    final = subprocess.run([*cli, *run_args(strategy, db_url)], capture_output=True, text=True, env=env, timeout=120)
    assert final.returncode == 0, final.stderr[-3000:]
    assert not running(db_url)

    led = Ledger(db_url, migrate=False)
    try:
        decisions = sorted(led.recent_decisions(10_000), key=lambda d: d["period"])
        assert [d["period"] for d in decisions] == sorted(d["period"] for d in ref.recent_decisions(10_000))
        assert all(d["state"] == "filled" for d in decisions) and led.open_orders() == []
        with led.engine.connect() as conn:
            per_id = dict(conn.execute(text("SELECT client_order_id, COUNT(*) FROM paper_venue_orders "
                                            "GROUP BY client_order_id")).all())
            n_orders = conn.execute(text("SELECT COUNT(*) FROM orders")).scalar()
            start_rows = conn.execute(text("SELECT asset, units FROM starting_holdings")).all()
            fill_rows = conn.execute(text("SELECT asset, quantity, quote_asset, quote_quantity FROM fills")).all()
        assert len(per_id) == n_orders and set(per_id.values()) == {1}  # every client id sent exactly once
        by_hand: dict[str, float] = dict(start_rows)
        for asset, q, quote, qq in fill_rows:
            by_hand[asset] = by_hand.get(asset, 0.0) + q
            by_hand[quote] = by_hand.get(quote, 0.0) + qq
        held, ref_held = led.holdings(), ref.holdings()
        assert held.keys() == by_hand.keys() == ref_held.keys()
        for a in held:
            assert held[a] == pytest.approx(by_hand[a], rel=1e-12, abs=1e-9)
            assert held[a] == pytest.approx(ref_held[a], rel=1e-9, abs=1e-6), a
    finally:
        led.close()
        ref.close()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_sigterm_is_a_clean_exit_that_frees_the_ledger(fast_tmp: Path) -> None:  # noqa: F811
    prices = synthetic_prices(fast_tmp / "prices.csv", n=100, seed=2)
    strategy = write_strategy(fast_tmp, prices, trigger='rebalance = "daily"', plan="full")
    db = f"sqlite:///{fast_tmp / 'term.db'}"
    env = {**os.environ, "PYTHONPATH": str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    log = fast_tmp / "term.log"
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "ballast.cli", "run", str(strategy), "--db", db,
                                 "--speed", "2", "--until-end", "--log-json", "--quiet"], stderr=err, env=env)
    assert wait_for(log, proc.pid, 1, time.monotonic() + 60), log.read_text()[-3000:]
    assert running(db)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 143, log.read_text()[-3000:]
    assert not running(db)  # released at once, not left to expire
    with Ledger(db, migrate=False) as led:
        assert led.state()["runner"]["released_at"] is not None
