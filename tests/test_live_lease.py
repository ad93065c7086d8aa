"""One runner per ledger, on SQLite and PostgreSQL: a second runner is refused naming the holder;
the lease is taken over only after it expires; a runner that lost it (paused past its expiry)
stops before sending or recording anything, and the new holder sends every order exactly once;
the heartbeat advances during a replay; a stopped or killed runner shows as stopped."""
from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from live_support import db_url, expire_lease, fast_tmp, race, synthetic_prices, write_strategy  # noqa: F401
from sqlalchemy import text
from typer.testing import CliRunner

from ballast.cli import app
from ballast.live.lease import Lease, LeaseHeld, LeaseLost
from ballast.live.ledger import Ledger
from ballast.live.service import LiveService, RunSettings, open_service


def service(folder: Path, db: str, rows: int = 40) -> LiveService:
    prices = folder / "prices.csv"
    if not prices.exists():
        synthetic_prices(prices, n=rows, seed=3)
    strategy = write_strategy(folder, prices, trigger='rebalance = "daily"', plan="full")
    return open_service(str(strategy), RunSettings(db=db, speed="max"))


def venue_counts(url: str) -> tuple[dict[str, int], int]:
    with Ledger(url, migrate=False) as led, led.engine.connect() as c:
        sent = dict(c.execute(text("SELECT client_order_id, COUNT(*) FROM paper_venue_orders "
                                   "GROUP BY client_order_id")).all())
        n_orders = c.execute(text("SELECT COUNT(*) FROM orders")).scalar()
    return sent, int(n_orders or 0)


def test_a_second_runner_is_refused_naming_the_holder(db_url: str, fast_tmp: Path) -> None:  # noqa: F811
    first = service(fast_tmp, db_url)
    first.start()
    try:
        second = service(fast_tmp, db_url)
        with pytest.raises(LeaseHeld) as info:
            second.run(until_end=True)
        msg = str(info.value)
        assert f"runner {socket.gethostname()} pid {os.getpid()} (strategy 'live test') since " in msg
        assert "expires at" in msg
        assert second.ledger.counts()["cycles"] == 0  # the refused runner wrote nothing
        state = second.ledger.state()
        assert state["running"] and state["runner"]["pid"] == os.getpid()
        second.ledger.close()
    finally:
        first.run(until_end=True)  # the holder goes on undisturbed, then releases at exit
    state = first.ledger.state()
    assert not state["running"] and state["runner"]["released_at"] is not None
    assert first.ledger.counts()["cycles"] == 40
    first.ledger.close()


def test_the_lease_is_taken_over_only_after_it_expires(db_url: str) -> None:  # noqa: F811
    a_led, b_led = Ledger(db_url), Ledger(db_url)
    try:
        a, b = Lease(a_led, "s", expiry=60), Lease(b_led, "s", expiry=60)
        a.acquire()
        with pytest.raises(LeaseHeld):
            b.acquire()
        a.renew()
        with pytest.raises(LeaseHeld):  # renewing keeps it
            b.acquire()
        expire_lease(db_url)
        b.acquire()  # taken over
        assert b.generation == a.generation + 1
        with pytest.raises(LeaseLost, match="now held by runner"):
            a.renew()
        assert not a.held
        b.release()
        a.acquire()  # released: free at once
    finally:
        a_led.close()
        b_led.close()


def test_a_fenced_runner_records_nothing(db_url: str) -> None:  # noqa: F811
    from datetime import datetime

    a_led, b_led = Ledger(db_url), Ledger(db_url)
    try:
        a = Lease(a_led, "s", expiry=60)
        a.acquire()
        a_led.add_alert("test", "written while holding the lease")
        expire_lease(db_url)
        Lease(b_led, "s", expiry=60).acquire()
        with pytest.raises(LeaseLost):  # the write transaction re-reads the lease and rolls back
            a_led.record_cycle(datetime(2024, 1, 1), 0, "hold", None, {"BTC": 1.0}, None, None)
        with pytest.raises(LeaseLost):
            a_led.add_alert("test", "after losing the lease")
        assert b_led.counts()["cycles"] == 0 and len(b_led.alerts()) == 1
        assert a_led.proposals() == []  # reads still work
    finally:
        a_led.close()
        b_led.close()


@pytest.mark.parametrize("where", ["before the send", "inside the venue write"])
def test_a_runner_paused_past_its_expiry_sends_nothing(db_url: str, fast_tmp: Path, where: str) -> None:  # noqa: F811
    """Runner A writes a decision, then "pauses" (GC, suspended VM) until its lease expires and B
    takes over and reconciles. When A wakes it must not send: every client id reaches the venue
    once, and holdings are start + fills."""
    reference = service(fast_tmp, f"sqlite:///{fast_tmp / 'reference.db'}")
    reference.run(until_end=True)
    a = service(fast_tmp, db_url)
    b = service(fast_tmp, db_url)
    a.start()
    obs = a.source.next(None)
    assert obs is not None
    assert a.executor is not None
    taken: list[bool] = []

    def pause_then(original: Callable[..., object]) -> Callable[..., object]:
        def wrapped(*args: object, **kwargs: object) -> object:
            if not taken:  # A sleeps past its expiry; B starts meanwhile
                taken.append(True)
                expire_lease(db_url)
                b.start()  # takes the lease and reconciles A's planned orders
            return original(*args, **kwargs)
        return wrapped

    if where == "before the send":
        a.lease.ensure = pause_then(a.lease.ensure)  # type: ignore[method-assign]
    else:
        a.executor.submit = pause_then(a.executor.submit)  # type: ignore[method-assign]
    with pytest.raises(LeaseLost):
        a.cycle(obs)
    sent, n_orders = venue_counts(db_url)
    assert n_orders > 0 and len(sent) == n_orders and set(sent.values()) == {1}
    b.run(until_end=True)
    sent, n_orders = venue_counts(db_url)
    assert len(sent) == n_orders and set(sent.values()) == {1}  # every client id sent exactly once
    held, ref = b.ledger.holdings(), reference.ledger.holdings()
    assert held.keys() == ref.keys()
    for asset in held:
        assert held[asset] == pytest.approx(ref[asset], rel=1e-9, abs=1e-6)
    for svc in (a, b, reference):
        svc.ledger.close()


def test_the_heartbeat_advances_during_a_replay(fast_tmp: Path) -> None:  # noqa: F811
    db = f"sqlite:///{fast_tmp / 'beat.db'}"
    svc = service(fast_tmp, db, rows=40)
    svc.speed = 30.0  # ~1.3 s of replay
    seen: list[tuple[str, bool]] = []
    with Ledger(db) as watcher:
        svc.run(until_end=True, on_cycle=lambda s: seen.append(
            (watcher.state()["heartbeat_at"], watcher.state()["running"])))
        beats = [b for b, _ in seen]
        assert all(running for _, running in seen)
        assert len(set(beats)) >= 2 and beats == sorted(beats)
        assert not watcher.state()["running"]  # released at the clean exit
    svc.ledger.close()


def test_status_shows_a_dead_runner_as_stopped(fast_tmp: Path) -> None:  # noqa: F811
    db = str(fast_tmp / "dead.db")
    led = Ledger(db)
    Lease(led, "treasury", expiry=60).acquire()  # then the process "dies": never released
    runner = CliRunner()
    out = json.loads(runner.invoke(app, ["status", "--db", db, "--json"]).stdout)
    assert out["service"]["running"] is True and out["service"]["runner"]["strategy"] == "treasury"
    expire_lease(f"sqlite:///{db}")
    out = json.loads(runner.invoke(app, ["status", "--db", db, "--json"]).stdout)
    assert out["service"]["running"] is False
    view = runner.invoke(app, ["status", "--db", db]).stdout
    assert "stopped (last seen" in view
    led.close()


def test_concurrent_starts_one_wins(db_url: str) -> None:  # noqa: F811
    """Six processes try to take the lease at the same moment: exactly one gets it."""
    Ledger(db_url).close()

    def take() -> int:
        led = Ledger(db_url, migrate=False)
        try:
            Lease(led, "s", expiry=60).acquire()
            return 0
        except LeaseHeld:
            return 1

    assert sorted(race(6, take)) == [0, 1, 1, 1, 1, 1]
