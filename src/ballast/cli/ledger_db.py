"""The ``--db`` option every ledger command takes, and opening the ledger it names."""

from __future__ import annotations

from typing import Any

from ballast.live.location import DB_ENV, DEFAULT_LEDGER

DB_HELP = f"Ledger database: a SQLite file or postgresql://... (default: ${DB_ENV} or {DEFAULT_LEDGER})."


def open_ledger(db: str | None) -> Any:
    """The existing ledger at ``db`` (or the default location); a missing one is an error, not created."""
    from ballast.live.ledger import Ledger
    from ballast.live.location import ledger_location

    return Ledger(ledger_location(db), must_exist=True)
