"""The connection to a ledger database: the engine, one transaction per `session()` (database
errors translated into `LedgerUnavailable`/`LedgerCorrupt`), and the schema migrated on open."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Self

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from ballast.live.database import normalise_url, open_engine, safe_url, translate
from ballast.live.models import MIGRATIONS, ServiceState, utcnow

DEFAULT_URL = "sqlite:///ballast.db"


class LedgerConnection:
    """An open ledger: its URL, engine and transactions (the base of the read and write API)."""

    def __init__(
        self, url: str = DEFAULT_URL, *, migrate: bool = True, connect_timeout: int = 5, must_exist: bool = False
    ) -> None:
        self.url = normalise_url(url)
        self.engine: Engine = open_engine(self.url, connect_timeout, must_exist)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if migrate:
            self.migrate()

    @property
    def safe_url(self) -> str:
        return safe_url(self.url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed on success, rolled back on any error (no partial write)."""
        try:
            with self._sessions.begin() as s:
                yield s
        except DBAPIError as exc:
            mapped = translate(exc, self.url)
            if mapped is None:
                raise
            raise mapped from None

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest shipped migration (atomically, see
        ``live/database.py``); the service row is created in the same transaction."""
        from ballast.live.database import migrate

        migrate(self.engine, self.url, MIGRATIONS, _seed)


def _seed(conn: Connection) -> None:
    if conn.scalar(select(ServiceState.id).where(ServiceState.id == 1)) is None:
        conn.execute(
            insert(ServiceState).values(
                id=1, ledger_key=secrets.token_hex(4), paused=False, dry_run=False, updated_at=utcnow()
            )
        )
