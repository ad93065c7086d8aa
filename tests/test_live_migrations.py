"""Migrations are atomic, on SQLite and PostgreSQL: a process SIGKILLed at ANY statement of the
first migration or of an upgrade leaves a ledger that opens (and then is complete); six processes
opening a new ledger at once all succeed."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import pytest
from sqlalchemy import event, inspect, text

from ballast.live.ledger import MIGRATIONS, Ledger
from live_support import db_url, race  # noqa: F401  (db_url: fixture)


def statements(prepare: Callable[[], None], url: str) -> int:
    """How many statements opening the ledger sends (on a throwaway copy of the same situation)."""
    prepare()
    led = Ledger(url, migrate=False)
    count = [0]
    event.listen(led.engine, "before_cursor_execute", lambda *a: count.__setitem__(0, count[0] + 1))
    led.migrate()
    led.close()
    return count[0]


def killed_at(url: str, k: int, after: bool) -> int:
    """Open the ledger in a child process that SIGKILLs itself at its k-th statement (just before
    it runs, or just after it ran); returns the child's wait status."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            led = Ledger(url, migrate=False)
            seen = [0]

            def hook(*_: object) -> None:
                seen[0] += 1
                if seen[0] == k:
                    os.kill(os.getpid(), signal.SIGKILL)

            event.listen(led.engine, "after_cursor_execute" if after else "before_cursor_execute", hook)
            led.migrate()
        finally:
            os._exit(0)
    return os.waitpid(pid, 0)[1]


def to_revision(url: str, revision: str) -> None:
    """A ledger as an older ballast left it: migrated up to ``revision`` only."""
    from alembic import command
    from alembic.config import Config

    led = Ledger(url, migrate=False)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with led.engine.begin() as c:
        cfg.attributes["connection"] = c
        command.upgrade(cfg, revision)
    led.close()


def reset(url: str) -> None:
    led = Ledger(url, migrate=False)
    with led.engine.begin() as c:
        if led.dialect == "postgresql":
            c.exec_driver_sql("DROP SCHEMA public CASCADE")
            c.exec_driver_sql("CREATE SCHEMA public")
        else:
            for t in inspect(c).get_table_names():
                c.exec_driver_sql(f'DROP TABLE "{t}"')
    led.close()


def opens_complete(url: str) -> None:
    with Ledger(url) as led:
        assert led.state()["ledger_key"]
        tables = inspect(led.engine).get_table_names()
        assert {"runner_lease", "ledger_entries", "loans", "loan_events", "loan_orders", "loan_marks"} <= set(tables)
        with led.engine.connect() as c:
            assert c.execute(text("SELECT COUNT(*) FROM service_state")).scalar() == 1
            assert c.execute(text("SELECT COUNT(*) FROM runner_lease")).scalar() == 1
        assert led.counts()["cycles"] == 0


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("start", [None, "0001", "0002", "0004"], ids=["first", "from-0001", "from-0002", "from-0004"])
def test_a_kill_at_any_migration_statement_leaves_a_ledger_that_opens(db_url: str, start: str | None) -> None:  # noqa: F811
    def prepare() -> None:
        reset(db_url)
        if start is not None:
            to_revision(db_url, start)

    n = statements(prepare, db_url)
    assert n >= (5 if start else 20)
    kills = 0
    # just before each statement runs, and just after the last one (the COMMIT on SQLite)
    for k, after in [*((k, False) for k in range(1, n + 1)), (n, True)]:
        prepare()
        kills += os.WIFSIGNALED(killed_at(db_url, k, after))
        opens_complete(db_url)
    assert kills == n + 1


def test_six_processes_opening_a_new_ledger_at_once_all_succeed(db_url: str) -> None:  # noqa: F811
    for _ in range(3):
        reset(db_url)
        assert race(6, lambda: Ledger(db_url).close() or 0) == [0] * 6
        opens_complete(db_url)
