"""The paper executor's simulated venue (orders it accepted, by client order id).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paper_venue_orders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=False),
        sa.Column("asset", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("quote_quantity", sa.Float(), nullable=False),
        sa.Column("fee", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("paper_venue_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_paper_venue_orders_client_order_id"), ["client_order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("paper_venue_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_paper_venue_orders_client_order_id"))

    op.drop_table("paper_venue_orders")
