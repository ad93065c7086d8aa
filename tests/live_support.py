"""Shared helpers of the live tests: ledger URLs on SQLite and on a real PostgreSQL server.

PostgreSQL comes from ``BALLAST_TEST_PG_URL`` (``.ci/services.sh`` starts one and exports it).
Each test gets its own throwaway database. Without a URL the Postgres cases skip — except in CI,
where a missing server fails the run.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

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
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
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
