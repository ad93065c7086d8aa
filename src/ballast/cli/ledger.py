"""``ballast ledger backup|restore``: consistent copies of a SQLite ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ballast.cli.errors import user_mistakes
from ballast.cli.ledger_db import DB_HELP
from ballast.cli.output import console
from ballast.live.location import ledger_location

app = typer.Typer(no_args_is_help=True, help="Back up and restore a SQLite ledger.")


@app.command("backup")
@user_mistakes
def ledger_backup(
    out: Annotated[Path, typer.Argument(help="The backup file to write.")],
    db: Annotated[str | None, typer.Option(help=DB_HELP)] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace OUT if it exists.")] = False,
) -> None:
    """A consistent copy of the ledger (safe while the service runs), checked before it is kept."""
    from ballast.live.backup import backup

    path = backup(ledger_location(db), out, force)
    console.print(f"backed up {ledger_location(db)} to {path}")


@app.command("restore")
@user_mistakes
def ledger_restore(
    backup_file: Annotated[Path, typer.Argument(help="A file written by `ballast ledger backup`.")],
    db: Annotated[str | None, typer.Option(help=DB_HELP)] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing ledger (it is kept, renamed).")] = False,
) -> None:
    """Make the ledger a copy of a backup (refused while a runner uses it)."""
    from ballast.live.backup import restore

    moved = restore(backup_file, ledger_location(db), force)
    console.print(
        f"restored {ledger_location(db)} from {backup_file}" + (f"; the previous file is now {moved}" if moved else "")
    )
