"""`ballast ledger backup` / `restore` for SQLite ledgers, through SQLite's online backup API.

A backup is a consistent single-file copy taken while the service may be running (the backup
API copies a snapshot page by page and restarts if the source changes). It is checked
(``PRAGMA integrity_check`` and the ballast schema) before it is kept, written next to its final
name and renamed into place, so a crash never leaves half a backup under that name. Restore
refuses to run while a runner holds the ledger's lease, and never overwrites a ledger without
``force`` — even then the old file is moved aside, not deleted.

PostgreSQL ledgers are backed up with the server's own tools (``pg_dump`` / ``pg_restore``).
"""
from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from ballast.errors import InputError
from ballast.live.database import diagnose_sqlite, normalise_url, safe_url, sqlite_path

PG_HINT = ("PostgreSQL ledgers are backed up with the server's tools: pg_dump --format=custom -f ledger.dump "
           "DBNAME, and restored into an empty database with pg_restore -d DBNAME ledger.dump")


def backup(db: str, out: Path, force: bool = False) -> Path:
    """Copy the ledger ``db`` to the file ``out``; returns ``out``."""
    src = _sqlite_file(db)
    if not src.is_file():
        raise InputError(f"no ledger at {src}")
    out = out.expanduser()
    if out.exists() and not force:
        raise InputError(f"{out} already exists; choose another name or pass --force to replace it")
    if not out.parent.is_dir():
        raise InputError(f"folder {out.parent} does not exist")
    tmp = out.with_name(f".{out.name}.partial")
    try:
        _copy(src, tmp, "ledger")
        check_backup(tmp, what=f"the copy of {src}")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def restore(backup_file: Path, db: str, force: bool = False) -> Path | None:
    """Make ``db`` a copy of ``backup_file``. Returns where an existing ledger was moved, if any."""
    target = _sqlite_file(db)
    backup_file = backup_file.expanduser()
    if not backup_file.is_file():
        raise InputError(f"no backup file at {backup_file}")
    check_backup(backup_file, what=str(backup_file))
    moved = None
    if target.exists():
        if not force:
            raise InputError(f"{target} already exists; pass --force to replace it (the current file is kept "
                             "beside it, renamed)")
        _refuse_if_running(target)
        moved = target.with_name(f"{target.name}.replaced-{datetime.now(UTC):%Y%m%dT%H%M%S}")
        for suffix in ("", "-wal", "-shm"):  # a stale WAL must never be replayed onto the restored file
            part = Path(f"{target}{suffix}")
            if part.exists():
                os.replace(part, Path(f"{moved}{suffix}"))
    if not target.parent.is_dir():
        raise InputError(f"folder {target.parent} does not exist")
    tmp = target.with_name(f".{target.name}.partial")
    try:
        _copy(backup_file, tmp, "backup")
        _free_lease(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return moved


def check_backup(path: Path, what: str) -> None:
    """A usable ballast ledger: SQLite's integrity check passes and the schema version is there."""
    problem = diagnose_sqlite(path)
    if problem is not None:
        raise InputError(f"{what} cannot be used: {problem}")
    try:
        con = sqlite3.connect(path)  # read only by use: a read-only open cannot read a WAL file
        try:
            check = con.execute("PRAGMA integrity_check").fetchone()[0]
            version = con.execute("SELECT version_num FROM alembic_version").fetchone()
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{what} is not a ballast ledger ({exc})") from None
    if check != "ok":
        raise InputError(f"{what} is corrupt (SQLite integrity check: {check})")
    if version is None:
        raise InputError(f"{what} is not a ballast ledger (no schema version)")


def _copy(src: Path, dst: Path, what: str) -> None:
    dst.unlink(missing_ok=True)
    try:
        source = sqlite3.connect(src)  # only read
        target = sqlite3.connect(dst)
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            target.close()
            source.close()
    except sqlite3.DatabaseError as exc:
        raise InputError(f"cannot copy the {what} {src}: {exc}") from None


def _free_lease(path: Path) -> None:
    """A backup taken from a running service still names that runner: nobody runs the restored copy."""
    con = sqlite3.connect(path)
    try:
        if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'runner_lease'").fetchone():
            with con:
                con.execute("UPDATE runner_lease SET holder = NULL, expires_at = heartbeat_at")
    finally:
        con.close()


def _refuse_if_running(target: Path) -> None:
    from ballast.live.ledger import Ledger, LedgerUnavailable

    try:
        with Ledger(str(target), migrate=False) as led:
            state = led.state()
    except (LedgerUnavailable, InputError):
        return  # damaged, or older than the lease: no runner of this version uses it
    if state.get("running"):
        r = state["runner"]
        raise InputError(f"{target} is in use by runner {r['host']} pid {r['pid']} (strategy {r['strategy']!r}); "
                         "stop it before restoring")


def _sqlite_file(db: str) -> Path:
    url = normalise_url(db)
    path = sqlite_path(url)
    if path is None:
        if url.startswith("postgresql"):
            raise InputError(f"{safe_url(url)}: {PG_HINT}")
        raise InputError(f"{safe_url(url)}: only SQLite files can be backed up this way")
    return path
