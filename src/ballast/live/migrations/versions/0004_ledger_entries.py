"""Ledger entries for external flows and yield accruals; the runway inputs of each cycle.

Holdings become starting holdings + fills + entries. ``key`` makes booking idempotent: a
scheduled flow or an accrual is keyed by its period (``p<period>:<kind>:<asset>``), a flow
added by hand by a random token.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=True),
        sa.Column("period", sa.Integer(), nullable=True),
        sa.Column("entry_at", sa.DateTime(), nullable=False),
        sa.Column("asset", sa.String(length=64), nullable=False),
        sa.Column("units", sa.Float(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["cycles.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", name="uq_entry_key"),
    )
    op.create_index(op.f("ix_ledger_entries_entry_at"), "ledger_entries", ["entry_at"], unique=False)
    op.create_table(
        "treasury_marks",
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("reserve_asset", sa.String(length=64), nullable=True),
        sa.Column("spend_month", sa.Float(), nullable=False),
        sa.Column("reserve_yield_month", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["cycles.id"],
        ),
        sa.PrimaryKeyConstraint("cycle_id"),
    )


def downgrade() -> None:
    op.drop_table("treasury_marks")
    op.drop_index(op.f("ix_ledger_entries_entry_at"), table_name="ledger_entries")
    op.drop_table("ledger_entries")
