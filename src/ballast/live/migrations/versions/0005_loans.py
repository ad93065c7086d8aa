"""Loans at the paper lending market: terms, events (collateral and scaled debt in and out, the
accrual index, liquidations), the orders that are repays or boosts, and a mark per cycle.

A loan's collateral and debt are never stored as balances: they are sums of `loan_events`, each
keyed for idempotent booking (see ``live/lending.py``).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "loans",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("collateral", sa.JSON(), nullable=False),
        sa.Column("debt_asset", sa.String(length=64), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "loan_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("period", sa.Integer(), nullable=True),
        sa.Column("event_at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("asset", sa.String(length=64), nullable=True),
        sa.Column("collateral_units", sa.Float(), nullable=False),
        sa.Column("debt_units", sa.Float(), nullable=False),
        sa.Column("scaled_debt", sa.Float(), nullable=False),
        sa.Column("accrual_index", sa.Float(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"]),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.id"]),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", name="uq_loan_event_key"),
    )
    op.create_index(op.f("ix_loan_events_loan_id"), "loan_events", ["loan_id"], unique=False)
    op.create_table(
        "loan_orders",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"]),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"]),
        sa.PrimaryKeyConstraint("order_id"),
    )
    op.create_table(
        "loan_marks",
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("health_factor", sa.Float(), nullable=True),
        sa.Column("collateral_value", sa.Float(), nullable=False),
        sa.Column("debt_value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["cycle_id"], ["cycles.id"]),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"]),
        sa.PrimaryKeyConstraint("cycle_id", "loan_id"),
    )


def downgrade() -> None:
    op.drop_table("loan_marks")
    op.drop_table("loan_orders")
    op.drop_index(op.f("ix_loan_events_loan_id"), table_name="loan_events")
    op.drop_table("loan_events")
    op.drop_table("loans")
