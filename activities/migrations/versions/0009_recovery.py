"""recovery: which activities were loaded into Redis, and what a fail-closed rebuild held back

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activity_epochs",
        sa.Column("activity_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("epoch", sa.String(length=40), nullable=False),
        sa.Column("loaded_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("loads", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("activity_id"),
    )
    # Activities published before this revision were loaded into Redis: a later loss of their
    # state must be seen as a loss, not as a first load.
    op.execute(
        "INSERT INTO activity_epochs (activity_id, epoch, loaded_at_ms, loads) "
        "SELECT id, 'before-0009', updated_at_ms, 1 FROM activities WHERE status <> 'draft'"
    )
    op.create_table(
        "recoveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("gameplay", sa.String(length=20), nullable=False),
        sa.Column("epoch", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("detected_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_event_ms", sa.BigInteger(), nullable=True),
        sa.Column("window_s", sa.Float(), nullable=False),
        sa.Column("max_rate", sa.Integer(), nullable=False),
        sa.Column("held", sa.JSON(), nullable=False),
        sa.Column("kept", sa.JSON(), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("resolved_at_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("recoveries", schema=None) as batch_op:
        batch_op.create_index("ix_recoveries_activity_id", ["activity_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("recoveries", schema=None) as batch_op:
        batch_op.drop_index("ix_recoveries_activity_id")
    op.drop_table("recoveries")
    op.drop_table("activity_epochs")
