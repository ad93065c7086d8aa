"""Alembic environment for the ledger: runs on the connection `Ledger.migrate` hands over."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from ballast.live.ledger import Base
from ballast.live.location import DEFAULT_LEDGER

config = context.config
target_metadata = Base.metadata


def run() -> None:
    conn = config.attributes.get("connection")
    if conn is None:  # invoked by the alembic CLI: use the configured URL
        engine = create_engine(config.get_main_option("sqlalchemy.url") or f"sqlite:///{DEFAULT_LEDGER}")
        with engine.begin() as c:
            context.configure(connection=c, target_metadata=target_metadata, render_as_batch=True)
            context.run_migrations()
        return
    context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
    context.run_migrations()


run()
