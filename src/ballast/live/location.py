"""Where the ledger is when no ``--db`` is given: ``$BALLAST_DB``, else ``ballast.db`` here."""

from __future__ import annotations

import os

DB_ENV = "BALLAST_DB"
DEFAULT_LEDGER = "ballast.db"


def ledger_location(db: str | None) -> str:
    """``db`` if given, else ``$BALLAST_DB``, else the default file in the working folder."""
    return db or os.environ.get(DB_ENV) or DEFAULT_LEDGER
