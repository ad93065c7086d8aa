"""Opening a ledger database: the engine, its SQLite settings, atomic migrations, clear errors.

Migrations run in ONE transaction that also seeds the first rows, so a kill at any statement
leaves either the old schema or the new one, never half of it. SQLite does transactional DDL,
but pysqlite runs DDL outside any transaction unless told otherwise: the migration connection is
switched to driver autocommit and wrapped in an explicit ``BEGIN IMMEDIATE`` (which also makes
concurrent first opens wait for each other). PostgreSQL serialises them with an advisory lock
taken as the transaction's first statement.

A damaged SQLite file (not a database, truncated, malformed) becomes `LedgerCorrupt`, whose
message says what is wrong, that nothing was changed, and how to recover.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.exc import InterfaceError as SAInterfaceError

from ballast.errors import InputError

MIGRATION_LOCK = 7316003  # PostgreSQL advisory lock key held while migrating
SQLITE_MAGIC = b"SQLite format 3\x00"
SQLITE_CORRUPT, SQLITE_NOTADB = 11, 26


class LedgerUnavailable(RuntimeError):
    """The database cannot be reached or used; the message never contains the password."""


class LedgerCorrupt(LedgerUnavailable):
    """The ledger file is damaged or is not a ballast ledger; nothing was written to it."""


def safe_url(url: str) -> str:
    """The URL with any password hidden (for messages and logs)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and plain file paths as well as full SQLAlchemy URLs."""
    if "://" not in url:
        return f"sqlite:///{url}"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for PostgreSQL or an in-memory database)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database).expanduser()


def open_engine(url: str, connect_timeout: int = 5, must_exist: bool = False) -> Engine:
    """A pooled engine for ``url`` (already normalised), with clear errors for bad URLs and files."""
    try:
        u = make_url(url)
    except ArgumentError:
        raise InputError(f"database URL {url!r} is not a valid URL "
                         "(expected e.g. sqlite:///ballast.db or postgresql://user@host/db)") from None
    args: dict[str, Any] = {}
    if u.get_backend_name() == "postgresql":
        args["connect_timeout"] = connect_timeout
    elif u.get_backend_name() == "sqlite":
        args["timeout"] = 30
        path = sqlite_path(url)
        if path is not None:
            parent = path.resolve().parent
            if not parent.is_dir():
                raise InputError(f"database {safe_url(url)}: folder {parent} does not exist")
            if must_exist and not path.exists():
                raise InputError(f"no ledger at {u.database} (start one with `ballast run STRATEGY.toml`, "
                                 "or point --db / $BALLAST_DB at it)")
            check_sqlite_file(path)
    try:
        engine = create_engine(url, connect_args=args, pool_pre_ping=True)
    except (NoSuchModuleError, ImportError) as exc:
        raise InputError(f"database {safe_url(url)}: unsupported driver ({exc}); for PostgreSQL "
                         "install ballast[postgres] and use postgresql+psycopg://") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


# ---------------------------------------------------------------- errors
def translate(exc: DBAPIError, url: str) -> Exception | None:
    """The ledger error for a driver error, or None when it is a genuine bug (left visible)."""
    if isinstance(exc, (OperationalError, SAInterfaceError)) and not is_corruption(exc):
        orig = exc.orig
        return LedgerUnavailable(f"database {safe_url(url)} is unavailable: "
                                 f"{str(orig).strip().splitlines()[0] if orig else exc}")
    if isinstance(exc, DatabaseError) and is_corruption(exc):
        return corrupt(url, str(exc.orig).strip())
    return None


def is_corruption(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (SQLITE_CORRUPT, SQLITE_NOTADB)


def corrupt(url: str, what: str) -> LedgerCorrupt:
    path = sqlite_path(url)
    where = str(path) if path is not None else safe_url(url)
    detail = (diagnose_sqlite(path) if path is not None else None) or f"the file is corrupt (SQLite: {what})"
    return LedgerCorrupt(
        f"ledger {where} cannot be used: {detail}. Nothing was changed. To recover, restore a backup "
        f"(`ballast ledger restore BACKUP --db {where}`), or move the file away and start a new ledger "
        "(its trades are then not known to the new one).")


def diagnose_sqlite(path: Path) -> str | None:
    """What is wrong with a SQLite file, from its header and size alone (None if they look sane:
    the damage is then inside, and SQLite's own message says which)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(100)
    except OSError as exc:
        return f"cannot read it ({exc.strerror or exc})"
    if size == 0:
        return None
    if len(head) < 100 or not head.startswith(SQLITE_MAGIC):
        return f"not a ballast ledger: the file is not a SQLite database ({size} bytes, no SQLite header)"
    page = int.from_bytes(head[16:18], "big")
    page = 65536 if page == 1 else page
    pages = int.from_bytes(head[28:32], "big")
    if pages and size < page * pages:
        return (f"the file is truncated at {size} bytes (its header says {page * pages} bytes: "
                f"{pages} pages of {page})")
    if size % page:
        return f"the file is truncated at {size} bytes (not a whole number of {page}-byte pages)"
    return None


def check_sqlite_file(path: Path) -> None:
    """Refuse, before connecting, a file that is plainly not a SQLite database."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    with path.open("rb") as f:
        head = f.read(len(SQLITE_MAGIC))
    if head != SQLITE_MAGIC:
        raise corrupt(f"sqlite:///{path}", "not a SQLite database")


# ---------------------------------------------------------------- migrations
def migrate(engine: Engine, url: str, script_location: Path, seed: Callable[[Connection], None]) -> None:
    """Upgrade to the newest migration and ``seed`` the first rows, all in one transaction."""
    from alembic import command
    from alembic.config import Config
    from alembic.util import CommandError

    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")  # no DDL auto-commits
                refuse_foreign(conn, url)  # before WAL mode is written into the file's header
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")  # persistent: set once per file
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            elif engine.dialect.name == "postgresql":  # several processes may open at once
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            try:
                refuse_foreign(conn, url)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                seed(conn)
                if engine.dialect.name == "sqlite":
                    conn.exec_driver_sql("COMMIT")
                conn.commit()
            except BaseException:
                if engine.dialect.name == "sqlite" and conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
                    conn.exec_driver_sql("ROLLBACK")
                conn.rollback()
                raise
    except CommandError as exc:
        raise LedgerUnavailable(f"ledger {safe_url(url)} was written by a newer ballast ({exc}); "
                                "upgrade ballast to open it. Nothing was changed.") from None
    except DBAPIError as exc:
        mapped = translate(exc, url)
        if mapped is None:
            raise
        raise mapped from None


def refuse_foreign(conn: Connection, url: str) -> None:
    """A database with tables but no ballast schema version is someone else's: leave it alone."""
    tables = set(inspect(conn).get_table_names())
    if tables and "alembic_version" not in tables:
        shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        where = sqlite_path(url) or safe_url(url)
        raise LedgerCorrupt(f"{where} is not a ballast ledger (it holds other tables: {shown}). Nothing was "
                            "changed. Point --db at a ledger or at a new file.")
