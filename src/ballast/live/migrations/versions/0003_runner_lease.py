"""The runner lease: one runner per ledger, with a heartbeat, an expiry and a fencing generation.

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    lease = op.create_table('runner_lease',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('holder', sa.String(length=64), nullable=True),
    sa.Column('host', sa.String(length=200), nullable=True),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.Column('strategy', sa.String(length=200), nullable=True),
    sa.Column('acquired_at', sa.DateTime(), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(), nullable=True),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('released_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    # the one row exists from the start: taking the lease is then always a conditional UPDATE
    op.bulk_insert(lease, [{'id': 1, 'generation': 0}])


def downgrade() -> None:
    op.drop_table('runner_lease')
