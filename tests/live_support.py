"""Shared helpers of the live tests: ledger URLs on SQLite and on a real PostgreSQL server.

PostgreSQL comes from ``BALLAST_TEST_PG_URL`` (``.ci/services.sh`` starts one and exports it).
Each test gets its own throwaway database. Without a URL the Postgres cases skip — except in CI,
where a missing server fails the run.
"""

from __future__ import annotations

import os
import signal
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

PG_ENV = "BALLAST_TEST_PG_URL"


def pg_base_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_ENV} is not set in CI: PostgreSQL tests must run (see .ci/services.sh)")
        pytest.skip(f"no PostgreSQL configured ({PG_ENV} unset)")
    return url


def make_pg_database() -> tuple[str, object]:
    """Create a fresh database next to the configured one; returns (url, dropper)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(pg_base_url())
    name = f"ballast_t6_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # the server is configured but unusable: that is a failure
        pytest.fail(f"cannot create a test database on {base.render_as_string(hide_password=True)}: {exc}")
    url = base.set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        # FORCE ends our own leftover sessions; it cannot end a server process of another role (an
        # autovacuum worker that just started on the new database), so that case waits and retries.
        from sqlalchemy.exc import ProgrammingError

        for attempt in range(20):
            try:
                with admin.connect() as c:
                    c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                break
            except ProgrammingError:
                if attempt == 19:
                    raise
                time.sleep(0.25)
        admin.dispose()

    return url, drop


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    url, drop = make_pg_database()
    try:
        yield url
    finally:
        drop()  # type: ignore[operator]


STRATEGY = """
name = "live test"
[data]
prices = "{prices}"
{data_extra}
[target]
kind = "fixed"
weights = {weights}
[trigger]
{trigger}
[plan]
kind = "{plan}"
[costs]
fee_bps = {fee_bps}
fixed = {fixed}
[portfolio]
cash = "USDT"
capital = 100000
convention = "{convention}"
[live]
interval = "1d"
executor = "{executor}"
{live_extra}
"""


def write_strategy(
    folder: Path,
    prices: str | Path = "crypto",
    *,
    weights: str = "{ BTC = 0.4, ETH = 0.3, USDT = 0.3 }",
    trigger: str = "band = 0.05",
    plan: str = "band-edge",
    fee_bps: float = 10,
    fixed: float = 5,
    convention: str = "exact",
    executor: str = "paper",
    data_extra: str = "",
    live_extra: str = "",
    name: str = "strategy.toml",
) -> Path:
    path = folder / name
    path.write_text(
        STRATEGY.format(
            prices=prices,
            weights=weights,
            trigger=trigger,
            plan=plan,
            fee_bps=fee_bps,
            fixed=fixed,
            convention=convention,
            executor=executor,
            data_extra=data_extra,
            live_extra=live_extra,
        ),
        encoding="utf-8",
    )
    return path


def synthetic_prices(path: Path, n: int = 200, seed: int = 1, vol: float = 0.05) -> Path:
    """Daily BTC/ETH/USDT closes (random walks, USDT near 1) written as CSV."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    btc = 30000 * np.exp(np.cumsum(rng.normal(0, vol, n)))
    eth = 2000 * np.exp(np.cumsum(rng.normal(0, vol * 1.2, n)))
    usdt = 1 + rng.normal(0, 0.0005, n)
    idx = pd.date_range("2023-01-01", periods=n, freq="D")
    pd.DataFrame({"date": idx.strftime("%Y-%m-%d"), "BTC": btc, "ETH": eth, "USDT": usdt}).to_csv(path, index=False)
    return path


@pytest.fixture
def fast_tmp(tmp_path: Path) -> Iterator[Path]:
    """A folder on tmpfs when there is one: the ledger fsyncs every commit (as it must), and
    on a disk that dominates test time without testing anything more."""
    import shutil
    import tempfile

    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    d = Path(tempfile.mkdtemp(prefix="ballast-t6-", dir=shm))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


class Crash(BaseException):
    """A kill at a chosen point (BaseException: no ``except Exception`` in the service catches it)."""


def crash_at(monkeypatch: pytest.MonkeyPatch, obj: object, name: str) -> None:
    """Make ``obj.name`` kill the caller with `Crash` (``monkeypatch.undo()`` heals it)."""

    def crash(*a: object, **k: object) -> None:
        raise Crash()

    monkeypatch.setattr(obj, name, crash)


def race(n: int, child: Callable[[], int]) -> list[int]:
    """Fork ``n`` processes that run ``child`` at the same moment (released together through a
    pipe); returns their exit codes (``child``'s return value; 70 if it raised)."""
    read_fd, write_fd = os.pipe()
    pids = []
    for _ in range(n):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            code = 70
            try:
                os.close(write_fd)
                os.read(read_fd, 1)
                code = child()
            except BaseException:
                traceback.print_exc()  # why the child failed, in the test's captured output
            finally:
                os._exit(code)
        pids.append(pid)
    os.close(read_fd)
    os.write(write_fd, b"x" * n)
    os.close(write_fd)
    return [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids]


def expire_lease(url: str, at: str = "2000-01-01 00:00:00.000000") -> None:
    """Move the runner lease's expiry (default: long past — what waiting out `lease_expiry` after
    its holder died would do)."""
    from sqlalchemy import text

    from ballast.live.ledger import Ledger

    with Ledger(url, migrate=False) as led, led.engine.begin() as c:
        c.execute(text("UPDATE runner_lease SET expires_at = :t"), {"t": at})


def assert_same_trades_and_holdings(led: Any, r: Any, cash: str | None) -> dict[tuple[int, str], tuple[float, float]]:
    """The replay's fills are the backtest ``r``'s trades — quantities and costs to 1e-9, per
    (period, asset), the ``cash`` asset's legs after formation aside (under exact accounting they
    are the fills' quote legs) — and the ledger ends with the backtest's units. Returns the fills
    by (period, asset)."""
    assets = r.market.assets
    t, a, q, _, c = r.raw.trades
    bt = {(int(t[k]), assets[a[k]]): (q[k], c[k]) for k in range(len(t)) if not (assets[a[k]] == cash and t[k] > 0)}
    live = {}
    for d in led.recent_decisions(10_000):
        for f in led.decision(d["id"])["fills"]:
            live[(d["period"], f["asset"])] = (f["quantity"], f["fee"])
    assert live.keys() == bt.keys() and len(bt) > 5
    for key, (qty, fee) in bt.items():
        assert live[key][0] == pytest.approx(qty, rel=1e-9, abs=1e-12), key
        assert live[key][1] == pytest.approx(fee, rel=1e-9, abs=1e-9), key
    held = led.holdings()
    final_units = r.raw.weights[-1] * r.raw.equity[-1] / r.market.prices[-1]
    for i, name in enumerate(assets):
        assert held.get(name, 0.0) == pytest.approx(final_units[i], rel=1e-9), name
    return live


def killed_run(strategy: Path, db: str, nth: int, later: int, log: Path, writes: tuple[str, ...]) -> int:
    """Replay in a child process that SIGKILLs itself at its ``nth`` insert into one of the tables
    ``writes`` (``later`` = 0: just before it; otherwise that many statements after it); returns
    the child's wait status (the place of the kill is appended to ``log``)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            from sqlalchemy import event

            from ballast.live.service import RunSettings, open_service

            svc = open_service(str(strategy), RunSettings(db=db, speed="max"))
            seen, countdown = [0], [-1]

            def hook(_c: object, _cur: object, statement: str, *_: object) -> None:
                if countdown[0] > 0:
                    countdown[0] -= 1
                    if countdown[0] == 0:
                        die(f"after+{later} {statement[:40]!r}")
                    return
                head = statement.lstrip()[:60].upper()
                if head.startswith("INSERT") and any(f" {t.upper()}" in head for t in writes):
                    seen[0] += 1
                    if seen[0] == nth:
                        if later == 0:
                            die(f"before {statement[:40]!r}")
                        countdown[0] = later

            def die(where: str) -> None:
                with log.open("a") as f:
                    f.write(where + "\n")
                os.kill(os.getpid(), signal.SIGKILL)

            event.listen(svc.ledger.engine, "before_cursor_execute", hook)
            svc.run(until_end=True)
        finally:
            os._exit(0)
    return os.waitpid(pid, 0)[1]


def killed_until_done(
    strategy: Path, db: str, writes: tuple[str, ...], log: Path, *, seed: int, tries: int, nth: int, later: int
) -> list[str]:
    """Restart `killed_run` (a random insert of the first ``nth``, just before it or up to ``later``
    statements after it) until the replay ends; returns where each kill struck (one per kill)."""
    import random

    rng = random.Random(seed)
    kills = 0
    for _ in range(tries):
        status = killed_run(strategy, db, rng.randint(1, nth), rng.choice([0, 0, rng.randint(1, later)]), log, writes)
        if not os.WIFSIGNALED(status):
            break
        kills += 1
        expire_lease(db)  # the runner is dead: skip waiting out its lease (tested elsewhere)
    else:
        pytest.fail("the replay never finished between kills")
    where = log.read_text().splitlines() if log.exists() else []
    assert kills == len(where)
    return where


def lose_lease(a: Any, b: Any, db: str, where: str, cycles: int) -> Any:
    """Runner ``a`` runs ``cycles`` closes, then loses its lease to runner ``b`` on the next one:
    ``where`` = "before the cycle" (``b`` starts first) or "at the send" (``b`` starts, and
    reconciles ``a``'s order, just as ``a`` sends it). Returns that close's observation; the
    caller runs ``a.cycle`` on it, which the fence must refuse."""
    a.run(until_end=False, max_cycles=cycles)  # the run releases the lease at its end
    a.lease.acquire()
    obs = a.source.next(a.ledger.last_observed())
    assert obs is not None
    if where == "before the cycle":
        expire_lease(db)
        b.start()
        return obs
    send = a.executor.submit

    def taken_over_then_send(*args: object, **kwargs: object) -> object:
        expire_lease(db)
        b.start()  # takes the lease and reconciles A's order: sends it once
        return send(*args, **kwargs)

    a.executor.submit = taken_over_then_send
    return obs
