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
from live_support import expire_lease, synthetic_prices, write_strategy
from sqlalchemy import text

from ballast.live.ledger import Ledger
from ballast.live.service import RunSettings, open_service

SRC = Path(__file__).resolve().parents[1] / "src"
KILLS = 22
ROWS = 300

# Restarting a Python interpreter with numba, pandas and SQLAlchemy costs ~1.5 s of CPU; 22 of them
# per database would dominate the suite. A warm parent (imports done, no database open) forks each
# `ballast run` instead: the child is a fresh process running the real CLI entry point, and it is
# the child that gets SIGKILLed. The final, uninterrupted pass runs the CLI in a new interpreter.
FORKER = r"""
import json, os, sys
import ballast.cli, ballast.live.service, ballast.engine.kernel, ballast.costs.kernel
import numpy as np
import pandas as pd
from ballast.costs.base import zero_costs
from ballast.market import Market
n = 3  # load the compiled accounting from numba's cache once, here, not in every child
costs = zero_costs(Market(np.ones((1, n)), ("A", "B", "C"), pd.date_range("2024-01-01", periods=1)))
ballast.engine.kernel.value_and_weights(np.ones(n), 0.0, np.ones((1, n)), 0, np.empty(n))
ballast.engine.kernel.execute(np.ones(n), 0.0, np.ones(n), np.full(n, 1 / 3), np.full(n, 1 / 3),
                              np.zeros(n, np.bool_), costs, 0, 2, 0, np.zeros(n), np.zeros(n))
for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        fd = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 2)
        sys.argv = ["ballast", *job["args"]]
        code = 0
        try:
            ballast.cli.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            code = 1
        os._exit(code)
    print(pid, flush=True)
    _, status = os.waitpid(pid, 0)
    print(status, flush=True)
"""


def run_args(strategy: Path, db: str) -> list[str]:
    return ["run", str(strategy), "--db", db, "--speed", "max", "--until-end", "--log-json", "--quiet"]


def wait_for(log: Path, pid: int, decisions: int, deadline: float) -> bool:
    """Wait until the child's JSON log shows it started (history loaded, reconciled) and then made
    ``decisions`` more decisions; False if it exited first."""
    while time.monotonic() < deadline:
        try:
            text_ = log.read_text()
        except FileNotFoundError:
            text_ = ""
        if '"event": "start"' in text_ and text_.count('"event": "decision"') >= decisions:
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.002)
    return False


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_sigkill_restart_loses_and_repeats_nothing(db_url: str, fast_tmp: Path) -> None:  # noqa: F811
    prices = synthetic_prices(fast_tmp / "prices.csv", n=ROWS, seed=7, vol=0.04)
    # a decision every other day: the cooldown clock must survive the kills too
    strategy = write_strategy(fast_tmp, prices, trigger='rebalance = "daily"\ncooldown = 2', plan="full",
                              fee_bps=20, fixed=1)

    reference = open_service(str(strategy), RunSettings(db=f"sqlite:///{fast_tmp / 'reference.db'}", speed="max"))
    reference.run(until_end=True)
    ref = reference.ledger
    ref_holdings = ref.holdings()
    ref_periods = sorted(d["period"] for d in ref.recent_decisions(10_000))
    assert ref_periods == list(range(0, ROWS, 2))

    rng = random.Random(20261124)
    env = {**os.environ, "PYTHONPATH": str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    forker = subprocess.Popen([sys.executable, "-c", FORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env=env)
    assert forker.stdin is not None and forker.stdout is not None
    kills = 0
    reconciled = 0  # restarts that found a decision cut short by the kill
    log = fast_tmp / "child.log"
    try:
        while kills < KILLS:
            forker.stdin.write(json.dumps({"args": run_args(strategy, db_url), "log": str(log)}) + "\n")
            forker.stdin.flush()
            pid = int(forker.stdout.readline())
            # kill after 0-5 decisions of this run, at a random point inside the next cycle
            if wait_for(log, pid, rng.randint(0, 5), time.monotonic() + 60):
                time.sleep(rng.uniform(0.0, 0.006))
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            status = int(forker.stdout.readline())
            reconciled += log.read_text().count('"event": "reconcile"')
            if os.WIFSIGNALED(status):
                kills += 1
                expire_lease(db_url)  # the runner is dead: skip waiting out its lease (tested elsewhere)
            else:
                assert os.WEXITSTATUS(status) == 0, log.read_text()[-3000:]
                break  # the replay finished before the kill: nothing left to interrupt
    finally:
        forker.stdin.close()
        forker.wait(timeout=30)
    final = subprocess.run([sys.executable, "-m", "ballast.cli", *run_args(strategy, db_url)],
                           capture_output=True, text=True, env=env, timeout=120)
    assert final.returncode == 0, final.stderr[-3000:]

    assert kills >= KILLS
    assert reconciled >= 3, f"{reconciled} too few kills landed between writing a decision and recording its fills"
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
